/**
 * SECTION:element-ezrtmpserversink
 * @title: ezrtmpserversink
 *
 * Serves the FLV stream it receives (from flvmux) to players directly: the element is the
 * server (RTMP, and when enabled HTTP-FLV, WebSocket-FLV and TLS on the same port), no separate
 * media server is needed. RTMP players connect to rtmp://HOST:PORT/APP/STREAM-KEY. Each new
 * player is sent the metadata, the audio and video sequence headers and the cached GOP from its
 * keyframe at once, then the live frames; frames are serialised once and shared by every
 * player. Network I/O runs on the server's own thread, so a
 * slow player never blocks the pipeline.
 *
 * The listening socket opens when the element goes to READY (a busy port fails the state change
 * with a resource error) and closes in NULL. With `port=0` any free port is used; read it back
 * from #GstEzrtmpServerSink:bound-port. At end of stream players are told the stream ended
 * (StreamEOF and NetStream.Play.UnpublishNotify) before the sink posts EOS. Should the server
 * thread fail, a resource error naming the port and the cause reaches the bus at once, whether
 * buffers flow or not; the next buffer fails too. It is posted from the server thread: a
 * synchronous bus handler must not change the element's state there.
 *
 * `host=::` listens on every IPv4 and IPv6 address (dual stack), `host=::1` on IPv6 loopback;
 * players then open rtmp://[::1]:PORT/APP/STREAM-KEY. Player addresses (signals, bus messages,
 * stats) are written "a.b.c.d:port" or "[v6]:port", an IPv4 player of a dual-stack socket as
 * plain IPv4.
 *
 * With #GstEzrtmpServerSink:http, browsers play the same port: http://HOST:PORT/APP/STREAM-KEY.flv
 * (HTTP-FLV) and ws://HOST:PORT/APP/STREAM-KEY.flv (WebSocket-FLV, e.g. with flv.js or
 * mpegts.js); the first byte of a connection tells RTMP from HTTP.
 *
 * With #GstEzrtmpServerSink:tls-certificate (a PEM chain) and #GstEzrtmpServerSink:tls-key, the
 * same port also speaks TLS, told by a connection's first byte too: rtmps://HOST:PORT/APP/
 * STREAM-KEY, and with #GstEzrtmpServerSink:http https:// and wss://. Plain connections are still
 * served unless #GstEzrtmpServerSink:tls-only is set. A certificate or key that does not load
 * fails the change to READY with a resource error naming the file. The stats' client-list tells
 * which players use TLS (`tls`) and whether the kernel sends their records (`ktls`).
 *
 * #GstEzrtmpServerSink:play-token is write-only and never appears in the element's log lines,
 * bus messages or stats.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! x264enc tune=zerolatency key-int-max=30 ! \
 *     flvmux streamable=true ! ezrtmpserversink port=1935
 * ffplay rtmp://localhost:1935/live/stream
 * ]|
 * |[
 * openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 30 \
 *     -keyout key.pem -out cert.pem
 * gst-launch-1.0 videotestsrc is-live=true ! x264enc tune=zerolatency key-int-max=30 ! \
 *     flvmux streamable=true ! \
 *     ezrtmpserversink port=1935 tls-certificate=cert.pem tls-key=key.pem
 * ffplay rtmps://localhost:1935/live/stream
 * ]|
 * |[
 * gst-launch-1.0 filesrc location=test.mp4 ! decodebin name=d ! queue ! videoconvert ! \
 *     x264enc ! flvmux name=m streamable=true ! ezrtmpserversink \
 *     d. ! queue ! audioconvert ! avenc_aac ! m.
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstezrtmpserversink.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_net.h"
#include "ezr_server.h"
#include "ezrserverpool.h"

GST_DEBUG_CATEGORY_STATIC(ezrtmp_debug);
#define GST_CAT_DEFAULT ezrtmp_debug

enum {
    PROP_0,
    PROP_HOST,
    PROP_PORT,
    PROP_BOUND_PORT,
    PROP_APP,
    PROP_STREAM_KEY,
    PROP_CHUNK_SIZE,
    PROP_MAX_GOPS,
    PROP_MAX_CONNECTIONS,
    PROP_QUEUE_WARNING_BYTES,
    PROP_QUEUE_HIGH_BYTES,
    PROP_QUEUE_MAX_BYTES,
    PROP_QUEUE_MAX_AGE,
    PROP_HANDSHAKE_TIMEOUT,
    PROP_CLIENT_TIMEOUT,
    PROP_SEND_BUFFER_SIZE,
    PROP_FLUSH_INTERVAL,
    PROP_ALLOWED_CLIENTS,
    PROP_PLAY_TOKEN,
    PROP_HTTP,
    PROP_HTTP_CORS_ORIGIN,
    PROP_METRICS,
    PROP_TLS_CERTIFICATE,
    PROP_TLS_KEY,
    PROP_TLS_ONLY,
    PROP_STATS,
};

enum {
    SIGNAL_CLIENT_ADDED,
    SIGNAL_CLIENT_REMOVED,
    SIGNAL_GET_STATS,
    SIGNAL_REMOVE_CLIENT,
    LAST_SIGNAL,
};
static guint signals[LAST_SIGNAL];

#define DEFAULT_HOST "localhost"
#define DEFAULT_PORT 1935
#define DEFAULT_APP "live"
#define DEFAULT_STREAM_KEY "stream"
#define DEFAULT_CHUNK_SIZE EZR_DEFAULT_CHUNK_SIZE
#define DEFAULT_MAX_GOPS EZR_DEFAULT_MAX_GOPS
#define DEFAULT_MAX_CONNECTIONS EZR_DEFAULT_MAX_CONNECTIONS
#define DEFAULT_QUEUE_WARNING_BYTES EZR_DEFAULT_QUEUE_WARNING_BYTES
#define DEFAULT_QUEUE_HIGH_BYTES EZR_DEFAULT_QUEUE_HIGH_BYTES
#define DEFAULT_QUEUE_MAX_BYTES EZR_DEFAULT_QUEUE_MAX_BYTES
#define DEFAULT_QUEUE_MAX_AGE 0 /* by stream kind: 10 s, 5 s audio-only */
#define DEFAULT_HANDSHAKE_TIMEOUT EZR_DEFAULT_HANDSHAKE_TIMEOUT_S
#define DEFAULT_CLIENT_TIMEOUT EZR_DEFAULT_CLIENT_TIMEOUT_S
#define DEFAULT_SEND_BUFFER_SIZE 0
#define DEFAULT_FLUSH_INTERVAL EZR_DEFAULT_FLUSH_INTERVAL_MS
#define DEFAULT_ALLOWED_CLIENTS "" /* anyone */
#define DEFAULT_PLAY_TOKEN ""      /* none needed */
/* Off: with HTTP on, any web page open in a browser that can reach the port may read the stream
 * (CORS), which an RTMP-only port never allowed; turn it on to serve browsers. */
#define DEFAULT_HTTP FALSE
#define DEFAULT_HTTP_CORS_ORIGIN "*"
#define DEFAULT_METRICS FALSE
#define DEFAULT_TLS_ONLY FALSE
/* How long EOS waits for players to be sent what is queued for them. */
#define EOS_DRAIN_TIMEOUT_MS 2000
/* How long a stats query waits for the server thread. */
#define STATS_TIMEOUT_MS 1000

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-flv"));

#define gst_ezrtmp_server_sink_parent_class parent_class
G_DEFINE_TYPE(GstEzrtmpServerSink, gst_ezrtmp_server_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE(ezrtmpserversink, "ezrtmpserversink", GST_RANK_NONE,
                            GST_TYPE_EZRTMP_SERVER_SINK);

/* The library's log lines, on our debug category. Called from the server thread. A server may
 * be shared by several elements, so its lines name no element. */
static void server_log(void *ctx, enum ezr_log_level level, const char *msg)
{
    GstDebugLevel l = level == EZR_LOG_ERROR     ? GST_LEVEL_ERROR
                      : level == EZR_LOG_WARNING ? GST_LEVEL_WARNING
                      : level == EZR_LOG_INFO    ? GST_LEVEL_INFO
                                                 : GST_LEVEL_DEBUG;
    GST_CAT_LEVEL_LOG(ezrtmp_debug, l, ctx, "%s", msg);
}

/* A player started or stopped playing our stream (server thread): signal and bus message. */
static void on_client(void *ctx, enum ezr_client_event ev, const struct ezr_client_info *info)
{
    GstEzrtmpServerSink *self = ctx;
    GstStructure *s;
    if (ev == EZR_CLIENT_ADDED) {
        GST_INFO_OBJECT(self, "client %" G_GUINT64_FORMAT " (%s) added", info->id, info->addr);
        g_signal_emit(self, signals[SIGNAL_CLIENT_ADDED], 0, (guint64)info->id, info->addr);
        s = gst_structure_new("ezrtmp-client-added", "client-id", G_TYPE_UINT64, (guint64)info->id,
                              "address", G_TYPE_STRING, info->addr, "protocol", G_TYPE_STRING,
                              info->protocol, NULL);
    } else {
        GST_INFO_OBJECT(self, "client %" G_GUINT64_FORMAT " (%s) removed: %s", info->id, info->addr,
                        info->reason);
        g_signal_emit(self, signals[SIGNAL_CLIENT_REMOVED], 0, (guint64)info->id, info->reason);
        s = gst_structure_new("ezrtmp-client-removed", "client-id", G_TYPE_UINT64,
                              (guint64)info->id, "address", G_TYPE_STRING, info->addr, "reason",
                              G_TYPE_STRING, info->reason, "protocol", G_TYPE_STRING,
                              info->protocol, NULL);
    }
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
}

/* The reactor thread stopped on an error: say why and what to do, once per server opened,
 * from whichever thread learns it first (the reactor's on_failed, or render()). */
static void post_server_failure(GstEzrtmpServerSink *self, guint port, const gchar *why)
{
    if (!g_atomic_int_compare_and_exchange(&self->failure_posted, FALSE, TRUE))
        return;
    GST_ELEMENT_ERROR(self, RESOURCE, FAILED,
                      ("The RTMP server on port %u stopped and serves no player any more. "
                       "Restart the pipeline (set it to NULL, then to PLAYING) to serve again.",
                       port),
                      ("%s", why ? why : "the reactor thread stopped on an error"));
}

/* The server thread, when it fails: the bus hears of it at once, even if no buffer comes. */
static void on_failed(void *ctx, uint16_t port, const char *why)
{
    post_server_failure(ctx, port, why);
}

static gboolean open_server(GstEzrtmpServerSink *self)
{
    struct ezr_server_config cfg;
    ezr_server_config_init(&cfg);
    GST_OBJECT_LOCK(self);
    gchar *host = g_strdup(self->host);
    gchar *app = g_strdup(self->app);
    gchar *key = g_strdup(self->stream_key);
    gchar *allowed = g_strdup(self->allowed_clients);
    gchar *token = g_strdup(self->play_token);
    gchar *cors = g_strdup(self->http_cors_origin);
    gchar *tls_cert = g_strdup(self->tls_certificate);
    gchar *tls_key = g_strdup(self->tls_key);
    cfg.tls_only = self->tls_only;
    cfg.http = self->http;
    cfg.metrics = self->metrics;
    cfg.port = (uint16_t)self->port;
    cfg.chunk_size = self->chunk_size;
    cfg.max_connections = self->max_connections;
    cfg.queue_warning_bytes = self->queue_warning_bytes;
    cfg.queue_high_bytes = self->queue_high_bytes;
    cfg.queue_max_bytes = self->queue_max_bytes;
    cfg.queue_max_age_ms = self->queue_max_age;
    cfg.handshake_timeout_ms = self->handshake_timeout * 1000u;
    cfg.client_timeout_ms = self->client_timeout * 1000u;
    cfg.send_buffer_bytes = self->send_buffer_size;
    cfg.flush_interval_ms = self->flush_interval;
    guint max_gops = self->max_gops;
    GST_OBJECT_UNLOCK(self);
    cfg.host = host;
    cfg.http_cors_origin = cors;
    cfg.tls_certificate = tls_cert;
    cfg.tls_key = tls_key;
    char tls_error[512] = "";
    cfg.error_msg = tls_error;
    cfg.error_msg_size = sizeof tls_error;
    cfg.log = server_log;
    cfg.log_ctx = NULL;
    /* host:port as in a URL, "[::]:1935" for IPv6, for messages: a DNS name is at most 253
     * bytes, plus brackets, a colon and 5 digits. */
    char where[264];
    ezr_net_format_host_port(host ? host : "", cfg.port, where, sizeof where);

    struct ezr_stream *stream = NULL;
    int rc = 0;
    struct ezr_server *server = NULL;
    if (!(cfg.queue_warning_bytes < cfg.queue_high_bytes &&
          cfg.queue_high_bytes < cfg.queue_max_bytes)) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                          ("queue-warning-bytes (%u) < queue-high-bytes (%u) < queue-max-bytes "
                           "(%u) must hold",
                           cfg.queue_warning_bytes, cfg.queue_high_bytes, cfg.queue_max_bytes),
                          (NULL));
        goto out;
    }
    if (cfg.tls_only && !(tls_cert && *tls_cert)) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("tls-only needs a tls-certificate"), (NULL));
        goto out;
    }
    server = ezr_server_pool_acquire(&cfg, &rc);
    g_atomic_int_set(&self->failure_posted, FALSE); /* a new server, or a stream new to it */
    if (!server && rc == EZR_ETLS) {
        GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ,
                          ("Could not load the TLS certificate or key: %s", tls_error),
                          ("ezr_server_new() failed with %d", rc));
        goto out;
    }
    if (!server) {
        GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ_WRITE,
                          ("Could not listen on %s: %s", where, ezr_strerror(rc)),
                          ("ezr_server_new() failed with %d", rc));
        goto out;
    }
    struct ezr_stream_config sc = {.app = app,
                                   .key = key,
                                   .max_gops = max_gops,
                                   .on_client = on_client,
                                   .client_ctx = self,
                                   .on_failed = on_failed,
                                   .failed_ctx = self,
                                   .allowed_clients = allowed,
                                   .play_token = token};
    rc = ezr_server_add_stream(server, &sc, &stream);
    if (rc < 0) {
        if (rc == EZR_EINVAL && allowed && *allowed)
            GST_ELEMENT_ERROR(
                self, RESOURCE, SETTINGS,
                ("allowed-clients \"%s\" is not a list of addresses or CIDR ranges", allowed),
                ("e.g. \"127.0.0.1/32, 10.0.0.0/8, ::1\""));
        else if (rc == EZR_EEXIST)
            GST_ELEMENT_ERROR(
                self, RESOURCE, BUSY,
                ("rtmp://%s/%s/%s is already served by another element", where, app, key),
                ("give each element on one port its own app or stream-key"));
        else
            GST_ELEMENT_ERROR(
                self, RESOURCE, SETTINGS,
                ("Cannot serve rtmp://%s/%s/%s: %s", where, app, key, ezr_strerror(rc)), (NULL));
        ezr_server_pool_release(server);
        server = NULL;
        goto out;
    }
    ezr_net_format_host_port(host ? host : "", ezr_server_port(server), where, sizeof where);
    GST_INFO_OBJECT(self, "serving rtmp://%s/%s/%s", where, app, key);
    g_mutex_lock(&self->lock);
    self->server = server;
    self->stream = stream;
    self->bound_port = ezr_server_port(server);
    g_mutex_unlock(&self->lock);
out:
    g_free(host);
    g_free(app);
    g_free(key);
    g_free(allowed);
    g_free(token);
    g_free(cors);
    g_free(tls_cert);
    g_free(tls_key);
    return server != NULL;
}

/* The stream (and its server) for a call made outside the lock, or NULL when not serving; a
 * non-NULL result makes the caller a user until stream_release(). Any thread, the server thread
 * included: users never wait for close_server(), close_server() waits for them. */
static struct ezr_stream *stream_acquire(GstEzrtmpServerSink *self, struct ezr_server **server)
{
    g_mutex_lock(&self->lock);
    struct ezr_stream *st = self->stream;
    *server = self->server;
    if (st)
        self->users++;
    g_mutex_unlock(&self->lock);
    return st;
}

static void stream_release(GstEzrtmpServerSink *self)
{
    g_mutex_lock(&self->lock);
    if (--self->users == 0)
        g_cond_broadcast(&self->idle);
    g_mutex_unlock(&self->lock);
}

/* Called from the state-change thread (or finalize), never from a client callback: it waits
 * for the server thread. */
static void close_server(GstEzrtmpServerSink *self)
{
    g_mutex_lock(&self->lock);
    struct ezr_server *server = self->server;
    struct ezr_stream *stream = self->stream;
    self->server = NULL;
    self->stream = NULL;
    self->bound_port = 0;
    /* Users finish quickly: a stats query waits at most STATS_TIMEOUT_MS for the server thread,
     * and on that thread (a client handler) it answers at once. A handler run by the removal
     * below finds no stream, so it never waits here. */
    while (self->users > 0)
        g_cond_wait(&self->idle, &self->lock);
    g_mutex_unlock(&self->lock);
    if (!server)
        return;
    if (ezr_server_failed(server)) {
        /* Removing a stream waits for the reactor thread, which has stopped: the stream is
         * freed with the server instead. */
        ezr_server_pool_release_failed(server, G_OBJECT(self));
        return;
    }
    ezr_server_remove_stream(server, stream);
    ezr_server_pool_release(server);
}

static void clear_streamheader(GstEzrtmpServerSink *self)
{
    g_list_free_full(self->streamheader, (GDestroyNotify)gst_buffer_unref);
    self->streamheader = NULL;
}

static GstStateChangeReturn change_state(GstElement *element, GstStateChange transition)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(element);
    if (transition == GST_STATE_CHANGE_NULL_TO_READY && !open_server(self))
        return GST_STATE_CHANGE_FAILURE;
    GstStateChangeReturn ret = GST_ELEMENT_CLASS(parent_class)->change_state(element, transition);
    if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
        /* The pipeline stopped: its stream ended for the players (StreamEOF, UnpublishNotify,
         * the cached frames gone), who stay connected; the next PLAYING starts a fresh stream
         * that they get from its headers and first keyframe. The headers stay cached, and so
         * does the caps' streamheader here: flvmux does not always send them again after
         * READY. Without waiting for a drain. */
        struct ezr_server *server;
        struct ezr_stream *st = stream_acquire(self, &server);
        if (st) {
            if (!ezr_server_failed(server))
                ezr_stream_stop(st);
            stream_release(self);
        }
    }
    if (transition == GST_STATE_CHANGE_READY_TO_NULL) {
        close_server(self);
        /* A new server starts with no cache: header buffers must reach it again. */
        clear_streamheader(self);
    }
    return ret;
}

/* A refused tag is dropped with a warning, once per stream for each reason and kind. */
static void warn_refused(GstEzrtmpServerSink *self, const struct ezr_flv_tag *tag)
{
    gboolean audio = tag->type == EZR_FLV_AUDIO;
    guint bit = 1u << (tag->refusal * 2 + (audio ? 1 : 0));
    if (self->refusals_warned & bit)
        return;
    self->refusals_warned |= bit;
    GST_ELEMENT_WARNING(self, STREAM, NOT_IMPLEMENTED,
                        ("Not supported: %s %s; these tags are dropped",
                         ezr_flv_refusal_str(tag->refusal), audio ? "audio" : "video"),
                        ("first one at %u ms; players get the rest of the stream", tag->timestamp));
}

/* One parsed tag to the server (streaming thread). */
static int on_tag(void *ctx, const struct ezr_flv_tag *tag)
{
    GstEzrtmpServerSink *self = ctx;
    enum ezr_frame_kind kind;
    uint32_t flags = 0;
    GST_OBJECT_LOCK(self);
    self->tags++;
    self->bytes_in += tag->len;
    if (tag->flags & EZR_FLV_REFUSED)
        self->tags_refused++;
    else if (tag->flags & EZR_FLV_SEQ_HEADER)
        self->sequence_headers++;
    else if (tag->type == EZR_FLV_VIDEO && !(tag->flags & EZR_FLV_NOT_MEDIA))
        self->video_frames++;
    else if (tag->type == EZR_FLV_AUDIO)
        self->audio_frames++;
    else if (tag->type == EZR_FLV_SCRIPT)
        self->script_tags++;
    if (tag->flags & EZR_FLV_KEYFRAME)
        self->keyframes++;
    GST_OBJECT_UNLOCK(self);

    if (tag->flags & EZR_FLV_REFUSED) {
        warn_refused(self, tag);
        return 0;
    }
    if (tag->flags & EZR_FLV_NOT_MEDIA) {
        GST_LOG_OBJECT(self, "skipping non-media tag of type %u", tag->type);
        return 0;
    }
    switch (tag->type) {
    case EZR_FLV_AUDIO:
        kind = EZR_FRAME_AUDIO;
        break;
    case EZR_FLV_VIDEO:
        kind = EZR_FRAME_VIDEO;
        break;
    default:
        kind = EZR_FRAME_SCRIPT;
        break;
    }
    if (tag->flags & EZR_FLV_KEYFRAME)
        flags |= EZR_FRAME_KEY;
    if (tag->flags & EZR_FLV_SEQ_HEADER)
        flags |= EZR_FRAME_HEADER;
    if (tag->flags & EZR_FLV_LIVE_DATA)
        flags |= EZR_FRAME_LIVE;
    int rc = self->stream
                 ? ezr_stream_push(self->stream, kind, flags, tag->timestamp, tag->body, tag->len)
                 : 0;
    if (rc < 0)
        GST_WARNING_OBJECT(self, "dropping a tag of type %u, %u bytes at %u ms: %s", tag->type,
                           (guint)tag->len, tag->timestamp, ezr_strerror(rc));
    return 0;
}

static GstFlowReturn feed(GstEzrtmpServerSink *self, GstBuffer *buf)
{
    GstMapInfo map;
    if (!gst_buffer_map(buf, &map, GST_MAP_READ)) {
        GST_ELEMENT_ERROR(self, RESOURCE, READ, ("Could not map a buffer"), (NULL));
        return GST_FLOW_ERROR;
    }
    int rc = ezr_flv_parser_feed(&self->parser, map.data, map.size, on_tag, self);
    gst_buffer_unmap(buf, &map);
    if (rc < 0) {
        GST_ELEMENT_ERROR(self, STREAM, DECODE, ("Invalid FLV input: %s", ezr_flv_strerror(rc)),
                          ("Is the sink fed by flvmux?"));
        return GST_FLOW_ERROR;
    }
    return GST_FLOW_OK;
}

static gboolean is_known_header(GstEzrtmpServerSink *self, GstBuffer *buf)
{
    gsize size = gst_buffer_get_size(buf);
    for (GList *l = self->streamheader; l; l = l->next) {
        GstBuffer *h = l->data;
        if (gst_buffer_get_size(h) != size)
            continue;
        GstMapInfo map;
        if (!gst_buffer_map(h, &map, GST_MAP_READ))
            continue;
        gboolean same = gst_buffer_memcmp(buf, 0, map.data, size) == 0;
        gst_buffer_unmap(h, &map);
        if (same)
            return TRUE;
    }
    return FALSE;
}

static guint64 now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (guint64)ts.tv_sec * 1000000000u + (guint64)ts.tv_nsec;
}

static GstFlowReturn render(GstBaseSink *sink, GstBuffer *buf)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(sink);
    if (G_UNLIKELY(self->server && ezr_server_failed(self->server))) {
        gchar *why = ezr_server_pool_last_error(self->server);
        post_server_failure(self, ezr_server_port(self->server), why);
        g_free(why);
        return GST_FLOW_ERROR;
    }
    /* flvmux sends its header buffers both in the caps and as the first buffers. */
    if (GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_HEADER) && is_known_header(self, buf)) {
        GST_DEBUG_OBJECT(self, "header buffer already taken from the caps");
        return GST_FLOW_OK;
    }
    /* Timed so that operators (and bench/) can see that players never slow the pipeline. */
    guint64 t0 = now_ns();
    GstFlowReturn ret = feed(self, buf);
    guint64 took = now_ns() - t0;
    GST_OBJECT_LOCK(self);
    self->renders++;
    self->render_ns += took;
    if (took > self->render_max_ns)
        self->render_max_ns = took;
    GST_OBJECT_UNLOCK(self);
    return ret;
}

static gboolean set_caps(GstBaseSink *sink, GstCaps *caps)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(sink);
    const GstStructure *s = gst_caps_get_structure(caps, 0);
    const GValue *sh = gst_structure_get_value(s, "streamheader");
    if (!sh || !GST_VALUE_HOLDS_ARRAY(sh))
        return TRUE;
    guint n = gst_value_array_get_size(sh);
    /* The same headers again (flvmux re-sends caps) change nothing. */
    if (g_list_length(self->streamheader) == n) {
        gboolean same = TRUE;
        GList *l = self->streamheader;
        for (guint i = 0; i < n && same; i++, l = l->next) {
            GstBuffer *b = gst_value_get_buffer(gst_value_array_get_value(sh, i));
            same = b && gst_buffer_get_size(b) == gst_buffer_get_size(l->data) &&
                   is_known_header(self, b);
        }
        if (same)
            return TRUE;
    }
    GST_DEBUG_OBJECT(self, "new streamheader with %u buffers", n);
    clear_streamheader(self);
    ezr_flv_parser_reset(&self->parser);
    for (guint i = 0; i < n; i++) {
        const GValue *v = gst_value_array_get_value(sh, i);
        if (!GST_VALUE_HOLDS_BUFFER(v))
            continue;
        GstBuffer *b = gst_value_get_buffer(v);
        self->streamheader = g_list_append(self->streamheader, gst_buffer_ref(b));
        if (feed(self, b) != GST_FLOW_OK)
            return FALSE;
    }
    return TRUE;
}

static gboolean event(GstBaseSink *sink, GstEvent *ev)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(sink);
    switch (GST_EVENT_TYPE(ev)) {
    case GST_EVENT_EOS:
        /* unlock() cuts the drain short, so that it never holds a state change or a flush;
         * a stopped reactor would never drain. */
        if (self->stream && !ezr_server_failed(self->server) &&
            ezr_stream_eos(self->stream, EOS_DRAIN_TIMEOUT_MS) < 0)
            GST_INFO_OBJECT(self, "players were not all drained (%d ms at most, or interrupted)",
                            EOS_DRAIN_TIMEOUT_MS);
        ezr_flv_parser_reset(&self->parser);
        clear_streamheader(self);
        break;
    case GST_EVENT_FLUSH_STOP:
        ezr_flv_parser_reset(&self->parser);
        if (self->stream)
            ezr_stream_reset(self->stream);
        break;
    default:
        break;
    }
    return GST_BASE_SINK_CLASS(parent_class)->event(sink, ev);
}

/* A state change or a flush is coming: the EOS drain in event() returns at once. */
static gboolean unlock(GstBaseSink *sink)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(sink);
    struct ezr_server *server;
    struct ezr_stream *st = stream_acquire(self, &server);
    if (st) {
        ezr_stream_set_flushing(st, TRUE);
        stream_release(self);
    }
    return TRUE;
}

static gboolean unlock_stop(GstBaseSink *sink)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(sink);
    struct ezr_server *server;
    struct ezr_stream *st = stream_acquire(self, &server);
    if (st) {
        ezr_stream_set_flushing(st, FALSE);
        stream_release(self);
    }
    return TRUE;
}

static gboolean start(GstBaseSink *sink)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(sink);
    ezr_flv_parser_reset(&self->parser);
    GST_OBJECT_LOCK(self);
    self->tags = self->video_frames = self->audio_frames = self->keyframes = 0;
    self->script_tags = self->tags_refused = self->sequence_headers = self->bytes_in = 0;
    self->refusals_warned = 0;
    self->renders = self->render_ns = self->render_max_ns = 0;
    GST_OBJECT_UNLOCK(self);
    return TRUE;
}

static gboolean stop(GstBaseSink *sink)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(sink);
    /* The streamheader is kept: after READY flvmux may send the same header buffers again
     * (skipped as known) or nothing at all (the server keeps the headers). */
    ezr_flv_parser_reset(&self->parser);
    return TRUE;
}

static GstStructure *client_structure(const struct ezr_client_stats *c)
{
    return gst_structure_new(
        "ezrtmp-client", "client-id", G_TYPE_UINT64, (guint64)c->id, "address", G_TYPE_STRING,
        c->addr, "bytes-sent", G_TYPE_UINT64, (guint64)c->bytes_sent, "bytes-queued", G_TYPE_UINT64,
        (guint64)c->bytes_queued, "frames-dropped", G_TYPE_UINT64, (guint64)c->frames_dropped,
        "connected-ms", G_TYPE_UINT64, (guint64)c->connected_ms, "lag-ms", G_TYPE_UINT64,
        (guint64)c->lag_ms, "protocol", G_TYPE_STRING, c->protocol, "tls", G_TYPE_BOOLEAN,
        (gboolean)c->tls, "ktls", G_TYPE_BOOLEAN, (gboolean)c->ktls, NULL);
}

/* The stream's counters from the server thread; FALSE when not serving (or while the stream is
 * being removed: a client-removed handler then gets no server counters). */
static gboolean query_stream(GstEzrtmpServerSink *self, struct ezr_stream_stats *out,
                             struct ezr_client_stats **clients, size_t *n)
{
    gboolean ok = FALSE;
    struct ezr_server *server;
    struct ezr_stream *st = stream_acquire(self, &server);
    if (!st)
        return FALSE;
    /* A stopped reactor would make us wait the whole timeout for nothing. */
    if (!ezr_server_failed(server))
        ok = ezr_stream_get_stats(st, out, clients, n, STATS_TIMEOUT_MS) == 0;
    stream_release(self);
    return ok;
}

static GstStructure *make_stats(GstEzrtmpServerSink *self)
{
    GST_OBJECT_LOCK(self);
    GstStructure *s = gst_structure_new(
        "ezrtmpserversink-stats", "tags-parsed", G_TYPE_UINT64, self->tags, "video-frames",
        G_TYPE_UINT64, self->video_frames, "audio-frames", G_TYPE_UINT64, self->audio_frames,
        "keyframes", G_TYPE_UINT64, self->keyframes, "script-tags", G_TYPE_UINT64,
        self->script_tags, "tags-refused", G_TYPE_UINT64, self->tags_refused, "sequence-headers",
        G_TYPE_UINT64, self->sequence_headers, "bytes-in", G_TYPE_UINT64, self->bytes_in, "renders",
        G_TYPE_UINT64, self->renders, "render-time-ns", G_TYPE_UINT64, self->render_ns,
        "render-time-max-ns", G_TYPE_UINT64, self->render_max_ns, NULL);
    GST_OBJECT_UNLOCK(self);

    struct ezr_stream_stats st = {0};
    struct ezr_client_stats *clients = NULL;
    size_t n = 0;
    query_stream(self, &st, &clients, &n);
    gst_structure_set(
        s, "clients", G_TYPE_UINT, st.clients, "clients-peak", G_TYPE_UINT, st.clients_peak,
        "clients-total", G_TYPE_UINT64, (guint64)st.clients_total, "connections", G_TYPE_UINT,
        st.connections, "connections-accepted", G_TYPE_UINT64, (guint64)st.connections_accepted,
        "connections-refused", G_TYPE_UINT64, (guint64)st.connections_refused, "bytes-sent",
        G_TYPE_UINT64, (guint64)st.bytes_sent, "frames-dropped-normal", G_TYPE_UINT64,
        (guint64)st.frames_dropped[0], "frames-dropped-warning", G_TYPE_UINT64,
        (guint64)st.frames_dropped[1], "frames-dropped-high", G_TYPE_UINT64,
        (guint64)st.frames_dropped[2], "disconnects-player", G_TYPE_UINT64,
        (guint64)st.disconnects[EZR_CLOSE_PLAYER], "disconnects-slow", G_TYPE_UINT64,
        (guint64)st.disconnects[EZR_CLOSE_SLOW], "disconnects-timeout", G_TYPE_UINT64,
        (guint64)st.disconnects[EZR_CLOSE_TIMEOUT], "disconnects-protocol", G_TYPE_UINT64,
        (guint64)st.disconnects[EZR_CLOSE_PROTOCOL], "disconnects-removed", G_TYPE_UINT64,
        (guint64)st.disconnects[EZR_CLOSE_REMOVED], "gop-cache-frames", G_TYPE_UINT64,
        (guint64)st.gop_frames, "gop-cache-bytes", G_TYPE_UINT64, (guint64)st.gop_bytes,
        "reactor-busy", G_TYPE_DOUBLE, st.reactor_busy, "send-latency-p50-us", G_TYPE_UINT64,
        (guint64)st.send_latency_p50_us, "send-latency-p99-us", G_TYPE_UINT64,
        (guint64)st.send_latency_p99_us, NULL);
    gst_structure_set(s, "queue-max-age-ms", G_TYPE_UINT, st.queue_max_age_ms,
                      "connections-bytes-queued", G_TYPE_UINT64,
                      (guint64)st.connections_bytes_queued, NULL);
    GValue list = G_VALUE_INIT;
    g_value_init(&list, GST_TYPE_ARRAY);
    for (size_t i = 0; i < n; i++) {
        GValue v = G_VALUE_INIT;
        g_value_init(&v, GST_TYPE_STRUCTURE);
        g_value_take_boxed(&v, client_structure(&clients[i]));
        gst_value_array_append_and_take_value(&list, &v);
    }
    gst_structure_take_value(s, "client-list", &list);
    free(clients);
    return s;
}

/* Action signal get-stats: one player's counters, or NULL if it is not playing here. */
static GstStructure *get_client_stats(GstEzrtmpServerSink *self, guint64 id)
{
    struct ezr_stream_stats st;
    struct ezr_client_stats *clients = NULL;
    size_t n = 0;
    GstStructure *s = NULL;
    if (query_stream(self, &st, &clients, &n))
        for (size_t i = 0; i < n && !s; i++)
            if (clients[i].id == id)
                s = client_structure(&clients[i]);
    free(clients);
    return s;
}

/* Action signal remove-client: disconnect one player. */
static void remove_client(GstEzrtmpServerSink *self, guint64 id)
{
    struct ezr_server *server;
    struct ezr_stream *st = stream_acquire(self, &server);
    if (st) {
        ezr_stream_remove_client(st, id);
        stream_release(self);
    }
}

static void set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(object);
    GST_OBJECT_LOCK(self);
    switch (id) {
    case PROP_HOST:
        g_free(self->host);
        self->host = g_value_dup_string(value);
        if (!self->host)
            self->host = g_strdup(DEFAULT_HOST);
        break;
    case PROP_PORT:
        self->port = g_value_get_int(value);
        break;
    case PROP_APP:
        g_free(self->app);
        self->app = g_value_dup_string(value);
        if (!self->app)
            self->app = g_strdup(DEFAULT_APP);
        break;
    case PROP_STREAM_KEY:
        g_free(self->stream_key);
        self->stream_key = g_value_dup_string(value);
        if (!self->stream_key)
            self->stream_key = g_strdup(DEFAULT_STREAM_KEY);
        break;
    case PROP_CHUNK_SIZE:
        self->chunk_size = g_value_get_uint(value);
        break;
    case PROP_MAX_GOPS:
        self->max_gops = g_value_get_uint(value);
        break;
    case PROP_MAX_CONNECTIONS:
        self->max_connections = g_value_get_uint(value);
        break;
    case PROP_QUEUE_WARNING_BYTES:
        self->queue_warning_bytes = g_value_get_uint(value);
        break;
    case PROP_QUEUE_HIGH_BYTES:
        self->queue_high_bytes = g_value_get_uint(value);
        break;
    case PROP_QUEUE_MAX_BYTES:
        self->queue_max_bytes = g_value_get_uint(value);
        break;
    case PROP_QUEUE_MAX_AGE:
        self->queue_max_age = g_value_get_uint(value);
        break;
    case PROP_HANDSHAKE_TIMEOUT:
        self->handshake_timeout = g_value_get_uint(value);
        break;
    case PROP_CLIENT_TIMEOUT:
        self->client_timeout = g_value_get_uint(value);
        break;
    case PROP_SEND_BUFFER_SIZE:
        self->send_buffer_size = g_value_get_uint(value);
        break;
    case PROP_FLUSH_INTERVAL:
        self->flush_interval = g_value_get_uint(value);
        break;
    case PROP_ALLOWED_CLIENTS:
        g_free(self->allowed_clients);
        self->allowed_clients = g_value_dup_string(value);
        if (!self->allowed_clients)
            self->allowed_clients = g_strdup(DEFAULT_ALLOWED_CLIENTS);
        break;
    case PROP_PLAY_TOKEN:
        g_free(self->play_token);
        self->play_token = g_value_dup_string(value);
        if (!self->play_token)
            self->play_token = g_strdup(DEFAULT_PLAY_TOKEN);
        break;
    case PROP_HTTP:
        self->http = g_value_get_boolean(value);
        break;
    case PROP_HTTP_CORS_ORIGIN:
        g_free(self->http_cors_origin);
        self->http_cors_origin = g_value_dup_string(value);
        if (!self->http_cors_origin)
            self->http_cors_origin = g_strdup(DEFAULT_HTTP_CORS_ORIGIN);
        break;
    case PROP_TLS_CERTIFICATE:
        g_free(self->tls_certificate);
        self->tls_certificate = g_value_dup_string(value);
        break;
    case PROP_TLS_KEY:
        g_free(self->tls_key);
        self->tls_key = g_value_dup_string(value);
        break;
    case PROP_TLS_ONLY:
        self->tls_only = g_value_get_boolean(value);
        break;
    case PROP_METRICS:
        self->metrics = g_value_get_boolean(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(object);
    if (id == PROP_STATS) {
        g_value_take_boxed(value, make_stats(self));
        return;
    }
    GST_OBJECT_LOCK(self);
    switch (id) {
    case PROP_HOST:
        g_value_set_string(value, self->host);
        break;
    case PROP_PORT:
        g_value_set_int(value, self->port);
        break;
    case PROP_BOUND_PORT:
        g_mutex_lock(&self->lock);
        g_value_set_int(value, (gint)self->bound_port);
        g_mutex_unlock(&self->lock);
        break;
    case PROP_APP:
        g_value_set_string(value, self->app);
        break;
    case PROP_STREAM_KEY:
        g_value_set_string(value, self->stream_key);
        break;
    case PROP_CHUNK_SIZE:
        g_value_set_uint(value, self->chunk_size);
        break;
    case PROP_MAX_GOPS:
        g_value_set_uint(value, self->max_gops);
        break;
    case PROP_MAX_CONNECTIONS:
        g_value_set_uint(value, self->max_connections);
        break;
    case PROP_QUEUE_WARNING_BYTES:
        g_value_set_uint(value, self->queue_warning_bytes);
        break;
    case PROP_QUEUE_HIGH_BYTES:
        g_value_set_uint(value, self->queue_high_bytes);
        break;
    case PROP_QUEUE_MAX_BYTES:
        g_value_set_uint(value, self->queue_max_bytes);
        break;
    case PROP_QUEUE_MAX_AGE:
        g_value_set_uint(value, self->queue_max_age);
        break;
    case PROP_HANDSHAKE_TIMEOUT:
        g_value_set_uint(value, self->handshake_timeout);
        break;
    case PROP_CLIENT_TIMEOUT:
        g_value_set_uint(value, self->client_timeout);
        break;
    case PROP_SEND_BUFFER_SIZE:
        g_value_set_uint(value, self->send_buffer_size);
        break;
    case PROP_FLUSH_INTERVAL:
        g_value_set_uint(value, self->flush_interval);
        break;
    case PROP_ALLOWED_CLIENTS:
        g_value_set_string(value, self->allowed_clients);
        break;
    case PROP_HTTP:
        g_value_set_boolean(value, self->http);
        break;
    case PROP_HTTP_CORS_ORIGIN:
        g_value_set_string(value, self->http_cors_origin);
        break;
    case PROP_TLS_CERTIFICATE:
        g_value_set_string(value, self->tls_certificate);
        break;
    case PROP_TLS_KEY:
        g_value_set_string(value, self->tls_key);
        break;
    case PROP_TLS_ONLY:
        g_value_set_boolean(value, self->tls_only);
        break;
    case PROP_METRICS:
        g_value_set_boolean(value, self->metrics);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void finalize(GObject *object)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(object);
    close_server(self);
    clear_streamheader(self);
    ezr_flv_parser_clear(&self->parser);
    g_free(self->host);
    g_free(self->app);
    g_free(self->stream_key);
    g_free(self->allowed_clients);
    g_free(self->play_token);
    g_cond_clear(&self->idle);
    g_mutex_clear(&self->lock);
    g_free(self->http_cors_origin);
    g_free(self->tls_certificate);
    g_free(self->tls_key);
    G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_ezrtmp_server_sink_class_init(GstEzrtmpServerSinkClass *klass)
{
    GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS(klass);
    const GParamFlags rw_ready =
        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;

    gobject_class->set_property = set_property;
    gobject_class->get_property = get_property;
    gobject_class->finalize = finalize;

    g_object_class_install_property(
        gobject_class, PROP_HOST,
        g_param_spec_string("host", "Host",
                            "Address or host name to listen on (\"0.0.0.0\" for every IPv4 "
                            "interface, \"::\" for every IPv4 and IPv6 one, \"::1\" for IPv6 "
                            "loopback); applied when the element goes to READY",
                            DEFAULT_HOST, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_PORT,
        g_param_spec_int("port", "Port",
                         "TCP port to listen on; 0 picks a free port (see bound-port)", 0, 65535,
                         DEFAULT_PORT, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_BOUND_PORT,
        g_param_spec_int("bound-port", "Bound port",
                         "The TCP port actually listened on from READY on; 0 when not listening", 0,
                         65535, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
    g_object_class_install_property(gobject_class, PROP_APP,
                                    g_param_spec_string("app", "Application",
                                                        "RTMP application name players connect to "
                                                        "(rtmp://host:port/APP/stream-key)",
                                                        DEFAULT_APP, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_STREAM_KEY,
        g_param_spec_string("stream-key", "Stream key",
                            "Stream name players play (rtmp://host:port/app/STREAM-KEY)",
                            DEFAULT_STREAM_KEY, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_CHUNK_SIZE,
        g_param_spec_uint("chunk-size", "Chunk size", "RTMP chunk size sent to players, in bytes",
                          EZR_PROTO_CHUNK_SIZE, EZR_MAX_CHUNK_SIZE, DEFAULT_CHUNK_SIZE, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_MAX_GOPS,
        g_param_spec_uint("max-gops", "Max GOPs",
                          "Groups of pictures kept for players that join late (each starts "
                          "at a keyframe)",
                          1, 100, DEFAULT_MAX_GOPS, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_MAX_CONNECTIONS,
        g_param_spec_uint("max-connections", "Max connections",
                          "Most simultaneous connections (RTMP, HTTP and WebSocket, TLS or not); "
                          "further ones are closed at once. "
                          "Capped at 80% of the process's file descriptor limit",
                          1, 1000000, DEFAULT_MAX_CONNECTIONS, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_QUEUE_WARNING_BYTES,
        g_param_spec_uint("queue-warning-bytes", "Queue warning level",
                          "Bytes queued for a player from which its non-key video frames are "
                          "dropped (audio, keyframes and headers still go)",
                          1, G_MAXUINT32 - 2, DEFAULT_QUEUE_WARNING_BYTES, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_QUEUE_HIGH_BYTES,
        g_param_spec_uint("queue-high-bytes", "Queue high level",
                          "Bytes queued for a player from which only keyframes and headers are "
                          "sent; must be above queue-warning-bytes",
                          2, G_MAXUINT32 - 1, DEFAULT_QUEUE_HIGH_BYTES, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_QUEUE_MAX_BYTES,
        g_param_spec_uint("queue-max-bytes", "Queue maximum",
                          "Bytes queued for a player at which it is disconnected; must be above "
                          "queue-high-bytes",
                          3, G_MAXUINT32, DEFAULT_QUEUE_MAX_BYTES, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_QUEUE_MAX_AGE,
        g_param_spec_uint("queue-max-age", "Queue maximum age",
                          "Milliseconds a player's oldest queued live data may wait before it "
                          "gets only keyframes, headers and metadata until it catches up (its lag "
                          "bounded in time, not only in bytes); 0 = 10000, or 5000 on an "
                          "audio-only stream",
                          0, 600000, DEFAULT_QUEUE_MAX_AGE, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_HANDSHAKE_TIMEOUT,
        g_param_spec_uint("handshake-timeout", "Handshake timeout",
                          "Seconds a connection may take to finish the handshake and start "
                          "playing before it is closed (0 = no limit)",
                          0, 3600, DEFAULT_HANDSHAKE_TIMEOUT, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_CLIENT_TIMEOUT,
        g_param_spec_uint("client-timeout", "Client timeout",
                          "Seconds a player may read nothing while data waits for it before it "
                          "is closed (0 = no limit)",
                          0, 3600, DEFAULT_CLIENT_TIMEOUT, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_SEND_BUFFER_SIZE,
        g_param_spec_uint("send-buffer-size", "Send buffer size",
                          "Kernel send buffer of each player socket in bytes (SO_SNDBUF); 0 keeps "
                          "the kernel's autotuning. A small value makes the queue levels react "
                          "sooner to a slow player",
                          0, G_MAXINT32, DEFAULT_SEND_BUFFER_SIZE, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_FLUSH_INTERVAL,
        g_param_spec_uint("flush-interval", "Flush interval",
                          "The most milliseconds a player's media may wait so that several "
                          "frames go out in one write (far less CPU than a write per frame): "
                          "video is written at once, audio and data wait for the next video "
                          "frame, at most this; protocol replies and a new player's first frames "
                          "are written at once. 0 = write every frame at once",
                          0, 1000, DEFAULT_FLUSH_INTERVAL, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_ALLOWED_CLIENTS,
        g_param_spec_string("allowed-clients", "Allowed clients",
                            "Addresses or CIDR ranges that may play, separated by commas "
                            "(\"127.0.0.1, 10.0.0.0/8, ::1, fd00::/8\"); an IPv4 player on a "
                            "dual-stack host=:: matches IPv4 ranges. Empty: anyone. "
                            "Others get NetStream.Play.Failed and are closed",
                            DEFAULT_ALLOWED_CLIENTS, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_PLAY_TOKEN,
        g_param_spec_string("play-token", "Play token",
                            "If not empty, players must play STREAM-KEY?token=THIS; others get "
                            "NetStream.Play.Failed and are closed. Empty: no token needed. "
                            "Write-only, so that property notifications (gst-launch-1.0 -v) and "
                            "pipeline dumps never show it",
                            DEFAULT_PLAY_TOKEN,
                            G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
    g_object_class_install_property(
        gobject_class, PROP_HTTP,
        g_param_spec_boolean("http", "HTTP-FLV and WebSocket-FLV",
                             "Also serve browsers on the same port: http://HOST:PORT/APP/"
                             "STREAM-KEY.flv (HTTP-FLV) and ws://HOST:PORT/APP/STREAM-KEY.flv "
                             "(WebSocket-FLV), with the same allowed-clients and play-token "
                             "(?token=). Off by default because it lets a web page in any "
                             "browser that reaches the port read the stream (see "
                             "http-cors-origin), which an RTMP-only port never allowed",
                             DEFAULT_HTTP, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_HTTP_CORS_ORIGIN,
        g_param_spec_string("http-cors-origin", "HTTP CORS origin",
                            "Access-Control-Allow-Origin of HTTP answers: \"*\" lets any web "
                            "page play; an origin (\"https://example.com\") lets only that one "
                            "play, and WebSockets from another Origin are refused (403)",
                            DEFAULT_HTTP_CORS_ORIGIN, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_METRICS,
        g_param_spec_boolean("metrics", "Prometheus metrics",
                             "Serve GET /metrics on the port: the server's and its streams' "
                             "counters (ezrtmp_*) in Prometheus text format",
                             DEFAULT_METRICS, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_TLS_CERTIFICATE,
        g_param_spec_string("tls-certificate", "TLS certificate",
                            "PEM file with the server's certificate, then any intermediate "
                            "certificates (a chain). Set, the port also speaks TLS: "
                            "rtmps://HOST:PORT/APP/STREAM-KEY, and with http https:// and wss://; "
                            "a file that does not load fails the change to READY. Unset: no TLS",
                            NULL, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_TLS_KEY,
        g_param_spec_string("tls-key", "TLS private key",
                            "PEM file with the private key of tls-certificate (empty: the key is "
                            "in the certificate file)",
                            NULL, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_TLS_ONLY,
        g_param_spec_boolean("tls-only", "TLS only",
                             "With tls-certificate, close connections that do not start a TLS "
                             "handshake (plain rtmp://, http://, ws://)",
                             DEFAULT_TLS_ONLY, rw_ready));
    g_object_class_install_property(
        gobject_class, PROP_STATS,
        g_param_spec_boxed("stats", "Statistics",
                           "Input counters (tags-parsed, video-frames, audio-frames, keyframes, "
                           "script-tags, tags-refused, sequence-headers, bytes-in), render() "
                           "calls and time (renders, render-time-ns, render-time-max-ns), "
                           "server counters (clients, "
                           "clients-peak, clients-total, connections, connections-accepted, "
                           "connections-refused, bytes-sent, frames-dropped-normal/warning/high, "
                           "disconnects-player/slow/timeout/protocol/removed, gop-cache-frames, "
                           "gop-cache-bytes), over the last seconds the server thread's busy "
                           "fraction (reactor-busy, 0..1) and the time frames take from render() "
                           "to the socket (send-latency-p50-us, send-latency-p99-us), and "
                           "client-list, an array of per-player structures (client-id, address, "
                           "protocol: rtmp, http-flv or ws-flv, bytes-sent, bytes-queued, "
                           "frames-dropped, connected-ms, lag-ms, tls: over TLS, ktls: its TLS "
                           "records sent by the kernel)",
                           GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

    /**
     * GstEzrtmpServerSink::client-added:
     * @sink: the sink
     * @client_id: the player's id (unique in the process's server for this port)
     * @address: the player's "a.b.c.d:port" or "[v6]:port"
     *
     * A player started playing this element's stream. Emitted from the server thread, which
     * waits for the handler: keep it short. It may read #GstEzrtmpServerSink:stats and emit
     * #GstEzrtmpServerSink::get-stats and #GstEzrtmpServerSink::remove-client (answered at
     * once on that thread); it must not change the element's state.
     */
    signals[SIGNAL_CLIENT_ADDED] =
        g_signal_new("client-added", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_STRING);
    /**
     * GstEzrtmpServerSink::client-removed:
     * @sink: the sink
     * @client_id: the player's id
     * @reason: why: the player closed, was too slow, broke the protocol, was removed, ...
     *
     * A player stopped playing or was disconnected. Emitted from the server thread, with the
     * same rules as #GstEzrtmpServerSink::client-added. When the element goes to NULL it is
     * emitted for every player still connected; the stream is gone by then, so stats holds the
     * element's own counters and zero server counters, and get-stats returns %NULL.
     */
    signals[SIGNAL_CLIENT_REMOVED] =
        g_signal_new("client-removed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_STRING);
    /**
     * GstEzrtmpServerSink::get-stats:
     * @sink: the sink
     * @client_id: the player's id
     *
     * Action signal: the player's structure of the stats' client-list (client-id, address,
     * protocol, bytes-sent, bytes-queued, frames-dropped, connected-ms, lag-ms, tls, ktls), or
     * %NULL if no such player plays this stream. Any thread, any time, client-added/-removed
     * handlers and pad probes included.
     */
    signals[SIGNAL_GET_STATS] = g_signal_new_class_handler(
        "get-stats", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
        G_CALLBACK(get_client_stats), NULL, NULL, NULL, GST_TYPE_STRUCTURE, 1, G_TYPE_UINT64);
    /**
     * GstEzrtmpServerSink::remove-client:
     * @sink: the sink
     * @client_id: the player's id
     *
     * Action signal: disconnect that player.
     */
    signals[SIGNAL_REMOVE_CLIENT] = g_signal_new_class_handler(
        "remove-client", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
        G_CALLBACK(remove_client), NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);

    gst_element_class_set_static_metadata(
        element_class, "RTMP server sink", "Sink/Network",
        "Serves the FLV stream from flvmux to players from an embedded server: RTMP, and when "
        "enabled HTTP-FLV, WebSocket-FLV and TLS (rtmps, https, wss) on the same port",
        "ezrtmp developers");
    gst_element_class_add_static_pad_template(element_class, &sink_template);
    element_class->change_state = change_state;

    basesink_class->render = render;
    basesink_class->set_caps = set_caps;
    basesink_class->event = event;
    basesink_class->start = start;
    basesink_class->unlock = unlock;
    basesink_class->unlock_stop = unlock_stop;
    basesink_class->stop = stop;

    GST_DEBUG_CATEGORY_INIT(ezrtmp_debug, "ezrtmpserversink", 0, "ezrtmp RTMP server sink");
}

static void gst_ezrtmp_server_sink_init(GstEzrtmpServerSink *self)
{
    self->host = g_strdup(DEFAULT_HOST);
    self->port = DEFAULT_PORT;
    self->app = g_strdup(DEFAULT_APP);
    self->stream_key = g_strdup(DEFAULT_STREAM_KEY);
    self->chunk_size = DEFAULT_CHUNK_SIZE;
    self->max_gops = DEFAULT_MAX_GOPS;
    self->max_connections = DEFAULT_MAX_CONNECTIONS;
    self->queue_warning_bytes = DEFAULT_QUEUE_WARNING_BYTES;
    self->queue_high_bytes = DEFAULT_QUEUE_HIGH_BYTES;
    self->queue_max_bytes = DEFAULT_QUEUE_MAX_BYTES;
    self->queue_max_age = DEFAULT_QUEUE_MAX_AGE;
    self->handshake_timeout = DEFAULT_HANDSHAKE_TIMEOUT;
    self->client_timeout = DEFAULT_CLIENT_TIMEOUT;
    self->send_buffer_size = DEFAULT_SEND_BUFFER_SIZE;
    self->flush_interval = DEFAULT_FLUSH_INTERVAL;
    self->allowed_clients = g_strdup(DEFAULT_ALLOWED_CLIENTS);
    self->play_token = g_strdup(DEFAULT_PLAY_TOKEN);
    g_mutex_init(&self->lock);
    g_cond_init(&self->idle);
    self->http = DEFAULT_HTTP;
    self->http_cors_origin = g_strdup(DEFAULT_HTTP_CORS_ORIGIN);
    self->metrics = DEFAULT_METRICS;
    self->tls_only = DEFAULT_TLS_ONLY;
    ezr_flv_parser_init(&self->parser);
    gst_base_sink_set_sync(GST_BASE_SINK(self), TRUE);
}
