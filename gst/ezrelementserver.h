/* What both elements (the sink and the source) do alike with the server they share through the
 * pool (ezrserverpool.h): open it from their settings with the errors a person can act on, its
 * log lines on the debug category, and a client's arrival and departure as signals and bus
 * messages. Implemented in ezrsinkserver.c. */
#ifndef EZR_ELEMENT_SERVER_H
#define EZR_ELEMENT_SERVER_H

#include <gst/gst.h>

#include "ezr_server.h"
#include "ezrsinkprops.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN(ezrtmp_debug);

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
