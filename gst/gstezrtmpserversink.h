/* ezrtmpserversink: serves the FLV it receives to RTMP players from an embedded server. */
#ifndef GST_EZRTMP_SERVER_SINK_H
#define GST_EZRTMP_SERVER_SINK_H

#include <gst/base/gstbasesink.h>
#include <gst/gst.h>

#include "ezrflvparser.h"

G_BEGIN_DECLS

#define GST_TYPE_EZRTMP_SERVER_SINK (gst_ezrtmp_server_sink_get_type())
G_DECLARE_FINAL_TYPE(GstEzrtmpServerSink, gst_ezrtmp_server_sink, GST, EZRTMP_SERVER_SINK,
                     GstBaseSink)
GST_ELEMENT_REGISTER_DECLARE(ezrtmpserversink);

struct ezr_server;
struct ezr_stream;

struct _GstEzrtmpServerSink {
    GstBaseSink parent;

    /* Properties; the object lock guards them. */
    gchar *host;
    gint port;
    gchar *app;
    gchar *stream_key;
    guint chunk_size;
    guint max_gops;
    guint max_connections;
    guint queue_warning_bytes;
    guint queue_high_bytes;
    guint queue_max_bytes;
    guint queue_max_age; /* ms, 0 = by stream kind */
    guint handshake_timeout;
    guint client_timeout;
    guint send_buffer_size;
    guint flush_interval; /* ms */
    gchar *allowed_clients;
    gchar *play_token;
    gboolean http; /* HTTP-FLV and WebSocket-FLV on the port */
    gchar *http_cors_origin;
    gboolean metrics;       /* GET /metrics */
    gchar *tls_certificate; /* PEM chain file; NULL: no TLS */
    gchar *tls_key;         /* PEM key file; NULL: in the certificate file */
    gboolean tls_only;

    /* Open from READY to NULL. lock guards these (not the state lock: client-added/-removed
     * handlers, which run on the server thread, read stats while set_state(NULL) holds the
     * state lock and waits for that thread). Threads other than the streaming thread use the
     * stream outside the lock as one of its users; close_server() clears the pointers, then
     * waits for users to drop to 0 before removing the stream. The streaming thread reads the
     * pointers without the lock: they change only in NULL<->READY, when no data flows. */
    GMutex lock;
    GCond idle; /* users dropped to 0 */
    guint users;
    struct ezr_server *server;
    struct ezr_stream *stream;
    guint bound_port;
    gint failure_posted; /* atomic: the server's failure is on the bus */

    /* Streaming thread only. */
    struct ezr_flv_parser parser;
    GList *streamheader;   /* GstBuffer refs from the caps, to skip when flvmux repeats them */
    guint refusals_warned; /* a bit per refusal and tag type already warned of since start() */

    /* Counters for the stats property, under the object lock. */
    guint64 tags;
    guint64 video_frames;
    guint64 audio_frames;
    guint64 keyframes;
    guint64 script_tags;
    guint64 tags_refused; /* enhanced RTMP tags that cannot be relayed (multitrack, ...) */
    guint64 sequence_headers;
    guint64 bytes_in;
    guint64 renders;       /* render() calls that fed the parser */
    guint64 render_ns;     /* their total time */
    guint64 render_max_ns; /* the longest */
};

G_END_DECLS

#endif
