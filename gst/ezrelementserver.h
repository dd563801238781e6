/* What both elements (the sink and the source) do alike with the server they share through the
 * pool (ezrserverpool.h): open it from their settings with the errors a person can act on, its
 * log lines on the debug category, a client's arrival and departure as signals and bus
 * messages, and the handle they hold it by from READY to NULL (struct ezr_element_server).
 * Implemented in ezrelementserver.c. */
#ifndef EZR_ELEMENT_SERVER_H
#define EZR_ELEMENT_SERVER_H

#include <gst/gst.h>

#include "ezr_server.h"
#include "ezrsinkprops.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN(ezrtmp_debug);

/* The server an element serves from, open from READY to NULL, and the one thing the element
 * registered in it (the point: the sink's struct ezr_stream, the source's struct ezr_ingest).
 * lock guards these (not the state lock: client-added/-removed handlers, which run on the
 * server thread, read stats while set_state(NULL) holds the state lock and waits for that
 * thread). Threads other than the streaming thread use the point outside the lock as one of
 * its users (ezr_element_server_acquire); ezr_element_server_close() clears the pointers, then
 * waits for users to drop to 0 before removing the point. The streaming thread reads server
 * and point without the lock: they change only in NULL<->READY, when no data flows. Lock order:
 * the object lock may be held when taking lock (get_property("bound-port")), never the other
 * way round; and neither is held while waiting for the server thread, whose client callbacks
 * take both. */
struct ezr_element_server {
    GMutex lock;
    GCond idle; /* users dropped to 0 */
    guint users;
    struct ezr_server *server; /* one pool reference (ezrserverpool.h) */
    void *point;
    guint bound_port;
};

void ezr_element_server_init(struct ezr_element_server *es);
/* At finalize, after ezr_element_server_close(). */
void ezr_element_server_clear(struct ezr_element_server *es);
/* NULL -> READY, once the point is registered: takes the server reference. */
void ezr_element_server_set(struct ezr_element_server *es, struct ezr_server *server, void *point);
/* The point (and its server) for a call made outside the lock, or NULL when not serving; a
 * non-NULL result makes the caller a user until ezr_element_server_release(). Any thread, the
 * server thread included: users never wait for close, close waits for them. */
void *ezr_element_server_acquire(struct ezr_element_server *es, struct ezr_server **server);
void ezr_element_server_release(struct ezr_element_server *es);
/* The port the server listens on, 0 when not serving. */
guint ezr_element_server_bound_port(struct ezr_element_server *es);
/* READY -> NULL and finalize: waits for the users, then removes the point with remove (the
 * element's ezr_server_remove_stream or _ingest) and drops the server reference. On a server
 * whose reactor failed the point is left to be freed with the server, which keeps owner alive
 * meanwhile (ezr_server_pool_release_failed). Waits for the server thread: never from a
 * client callback. Does nothing when not serving. */
void ezr_element_server_close(struct ezr_element_server *es, GObject *owner,
                              void (*remove)(struct ezr_server *server, void *point));

/* The server for cfg (made from set with ezr_sink_settings_to_config), from the pool: NULL with
 * an element error posted (a bad location, tls-only without a certificate, a certificate that
 * does not load, a port that cannot be listened on). Sets cfg's log and error message. */
struct ezr_server *ezr_element_open_server(GstElement *self, const struct ezr_sink_settings *set,
                                           struct ezr_server_config *cfg, char *tls_error,
                                           size_t tls_error_size);
/* The library's log lines (server thread), on the debug category. */
void ezr_element_server_log(void *ctx, enum ezr_log_level level, const char *msg);
/* Whether the debug category's threshold lets a line of level through (so GST_DEBUG=ezrtmp:5
 * shows every line, and the default threshold costs no formatting of INFO lines). */
bool ezr_element_server_log_wants(void *ctx, enum ezr_log_level level);
/* A client came or went (server thread): the element's client-added or client-removed signal
 * (ids added and removed) and an ezrtmp-client-added/-removed element message. */
void ezr_element_client_event(GstElement *self, guint added, guint removed,
                              enum ezr_client_event ev, const struct ezr_client_info *info);

G_END_DECLS

#endif
