/* The ezrtmpserversink instance and what its files tell each other. The element is split by
 * concern: gstezrtmpserversink.c (the type, state changes, signals), ezrsinkprops.c (the property
 * table), ezrsinklocation.c (the location URL), ezrsinkserver.c (the server and stream it
 * serves), ezrsinkingest.c (buffers and caps to FLV tags to the stream), ezrsinkstats.c (stats
 * into GstStructures). */
#ifndef GST_EZRTMP_SERVER_SINK_PRIV_H
#define GST_EZRTMP_SERVER_SINK_PRIV_H

#include "ezr_flv_parser.h"
#include "ezr_server.h"
#include "ezrelementserver.h"
#include "ezrsinkprops.h"
#include "gstezrtmpserversink.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN(ezrtmp_debug);

enum {
    EZR_SINK_SIGNAL_CLIENT_ADDED,
    EZR_SINK_SIGNAL_CLIENT_REMOVED,
    EZR_SINK_SIGNAL_GET_STATS,
    EZR_SINK_SIGNAL_REMOVE_CLIENT,
    EZR_SINK_LAST_SIGNAL,
};
extern guint ezr_sink_signals[EZR_SINK_LAST_SIGNAL];

struct _GstEzrtmpServerSink {
    GstBaseSink parent;

    /* The properties (ezrsinkprops.h); the object lock guards them. */
    struct ezr_sink_settings settings;

    /* The server and our stream in it (the point), open from READY to NULL: the lock, users
     * and lock order are ezrelementserver.h's. */
    struct ezr_element_server serving;
    gint failure_posted; /* atomic: the server's failure is on the bus */

    /* Streaming thread only. */
    struct ezr_flv_parser parser;
    GList *streamheader;   /* GstBuffer refs from the caps, to skip when flvmux repeats them */
    guint refusals_warned; /* a bit per refusal and tag type already warned of since start() */

    /* Counters for the stats property and /metrics, under the object lock. */
    struct ezr_ingest_stats ingest;
};

/* ezrsinkserver.c */
/* NULL -> READY: opens (or joins) the server and adds our stream; FALSE with an error posted. */
gboolean ezr_sink_open_server(GstEzrtmpServerSink *self);
/* READY -> NULL and finalize: removes the stream and drops the server. Waits for the server
 * thread: never from a client callback. */
void ezr_sink_close_server(GstEzrtmpServerSink *self);
/* The stream, for the streaming thread (see serving); other threads use
 * ezr_element_server_acquire(). */
static inline struct ezr_stream *ezr_sink_stream(GstEzrtmpServerSink *self)
{
    return self->serving.point;
}
/* The reactor thread stopped: one bus error per server opened, from whichever thread knows. */
void ezr_sink_post_server_failure(GstEzrtmpServerSink *self, guint port, const gchar *why);

/* ezrsinkingest.c: the GstBaseSink vfuncs that take data. */
GstFlowReturn ezr_sink_render(GstBaseSink *sink, GstBuffer *buf);
gboolean ezr_sink_set_caps(GstBaseSink *sink, GstCaps *caps);
/* EOS (drain the players, forget the headers) and FLUSH_STOP (reset the stream); before the
 * event goes on to GstBaseSink. */
void ezr_sink_ingest_event(GstEzrtmpServerSink *self, GstEvent *ev);
gboolean ezr_sink_start(GstBaseSink *sink);
gboolean ezr_sink_stop(GstBaseSink *sink);
void ezr_sink_clear_streamheader(GstEzrtmpServerSink *self);

/* ezrsinkstats.c */
/* The stats property's structure. */
GstStructure *ezr_sink_make_stats(GstEzrtmpServerSink *self);
/* The get-stats action signal: one player's structure, or NULL. */
GstStructure *ezr_sink_get_client_stats(GstEzrtmpServerSink *self, guint64 id);
/* The stats property's blurb, from the schema: every field with what it means. */
gchar *ezr_sink_stats_blurb(void);

G_END_DECLS

#endif
