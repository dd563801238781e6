/**
 * SECTION:element-ezrtmpserversink
 * @title: ezrtmpserversink
 *
 * Serves the FLV stream it receives (from flvmux) to players directly: the element is the
 * server (RTMP, and when enabled HTTP-FLV, WebSocket-FLV and TLS on the same port), no separate
 * media server is needed. RTMP players connect to rtmp://HOST:PORT/APP/STREAM-KEY (the
 * #GstEzrtmpServerSink:location property sets or reads that URL whole). Each new
 * player is sent the metadata, the audio and video sequence headers and the cached video from
 * the newest keyframe at once, retimed so that it plays at the live edge at once, then the live
 * frames (#GstEzrtmpServerSink:sync-method chooses another way to join; a player may ask for one
 * with STREAM-KEY?sync-method=latest-keyframe). Frames are serialised once and shared by every
 * player. Network I/O runs on the server's own thread, so a slow player never blocks the
 * pipeline.
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

#include "gstezrtmpserversinkpriv.h"

#define GST_CAT_DEFAULT ezrtmp_debug

guint ezr_sink_signals[EZR_SINK_LAST_SIGNAL];

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-flv"));

#define gst_ezrtmp_server_sink_parent_class parent_class
G_DEFINE_TYPE(GstEzrtmpServerSink, gst_ezrtmp_server_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE(ezrtmpserversink, "ezrtmpserversink", GST_RANK_NONE,
                            GST_TYPE_EZRTMP_SERVER_SINK);

static GstStateChangeReturn change_state(GstElement *element, GstStateChange transition)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(element);
    if (transition == GST_STATE_CHANGE_NULL_TO_READY && !ezr_sink_open_server(self))
        return GST_STATE_CHANGE_FAILURE;
    GstStateChangeReturn ret = GST_ELEMENT_CLASS(parent_class)->change_state(element, transition);
    if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
        /* The pipeline stopped: its stream ended for the players (StreamEOF, UnpublishNotify,
         * the cached frames gone), who stay connected; the next PLAYING starts a fresh stream
         * that they get from its headers and first keyframe. The headers stay cached, and so
         * does the caps' streamheader here: flvmux does not always send them again after
         * READY. Without waiting for a drain. */
        struct ezr_server *server;
        struct ezr_stream *st = ezr_element_server_acquire(&self->serving, &server);
        if (st) {
            if (!ezr_server_failed(server))
                ezr_stream_stop(st);
            ezr_element_server_release(&self->serving);
        }
    }
    if (transition == GST_STATE_CHANGE_READY_TO_NULL) {
        ezr_sink_close_server(self);
        /* A new server starts with no cache: header buffers must reach it again. */
        ezr_sink_clear_streamheader(self);
    }
    return ret;
}

static gboolean event(GstBaseSink *sink, GstEvent *ev)
{
    ezr_sink_ingest_event(GST_EZRTMP_SERVER_SINK(sink), ev);
    return GST_BASE_SINK_CLASS(parent_class)->event(sink, ev);
}

/* A state change or a flush is coming: the EOS drain in event() returns at once. */
static gboolean unlock(GstBaseSink *sink)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(sink);
    struct ezr_server *server;
    struct ezr_stream *st = ezr_element_server_acquire(&self->serving, &server);
    if (st) {
        ezr_stream_set_flushing(st, TRUE);
        ezr_element_server_release(&self->serving);
    }
    return TRUE;
}

static gboolean unlock_stop(GstBaseSink *sink)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(sink);
    struct ezr_server *server;
    struct ezr_stream *st = ezr_element_server_acquire(&self->serving, &server);
    if (st) {
        ezr_stream_set_flushing(st, FALSE);
        ezr_element_server_release(&self->serving);
    }
    return TRUE;
}

/* Action signal remove-client: disconnect one player. */
static void remove_client(GstEzrtmpServerSink *self, guint64 id)
{
    struct ezr_server *server;
    struct ezr_stream *st = ezr_element_server_acquire(&self->serving, &server);
    if (st) {
        ezr_stream_remove_client(st, id);
        ezr_element_server_release(&self->serving);
    }
}

static void finalize(GObject *object)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(object);
    ezr_sink_close_server(self);
    ezr_sink_clear_streamheader(self);
    ezr_flv_parser_clear(&self->parser);
    ezr_sink_settings_clear(&self->settings);
    ezr_element_server_clear(&self->serving);
    G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_ezrtmp_server_sink_class_init(GstEzrtmpServerSinkClass *klass)
{
    GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS(klass);

    gobject_class->finalize = finalize;
    ezr_props_install(gobject_class, EZR_PROPS_SINK);

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
    ezr_sink_signals[EZR_SINK_SIGNAL_CLIENT_ADDED] =
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
    ezr_sink_signals[EZR_SINK_SIGNAL_CLIENT_REMOVED] =
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
    ezr_sink_signals[EZR_SINK_SIGNAL_GET_STATS] = g_signal_new_class_handler(
        "get-stats", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
        G_CALLBACK(ezr_sink_get_client_stats), NULL, NULL, NULL, GST_TYPE_STRUCTURE, 1,
        G_TYPE_UINT64);
    /**
     * GstEzrtmpServerSink::remove-client:
     * @sink: the sink
     * @client_id: the player's id
     *
     * Action signal: disconnect that player.
     */
    ezr_sink_signals[EZR_SINK_SIGNAL_REMOVE_CLIENT] = g_signal_new_class_handler(
        "remove-client", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
        G_CALLBACK(remove_client), NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);

    gst_element_class_set_static_metadata(
        element_class, "RTMP server sink", "Sink/Network",
        "Serves the FLV stream from flvmux to players from an embedded server: RTMP, and when "
        "enabled HTTP-FLV, WebSocket-FLV and TLS (rtmps, https, wss) on the same port",
        "ezrtmp developers");
    gst_element_class_add_static_pad_template(element_class, &sink_template);
    element_class->change_state = change_state;

    basesink_class->render = ezr_sink_render;
    basesink_class->set_caps = ezr_sink_set_caps;
    basesink_class->event = event;
    basesink_class->start = ezr_sink_start;
    basesink_class->unlock = unlock;
    basesink_class->unlock_stop = unlock_stop;
    basesink_class->stop = ezr_sink_stop;
}

static void gst_ezrtmp_server_sink_init(GstEzrtmpServerSink *self)
{
    ezr_sink_settings_init(&self->settings);
    ezr_element_server_init(&self->serving);
    ezr_flv_parser_init(&self->parser);
    gst_base_sink_set_sync(GST_BASE_SINK(self), TRUE);
    /* render() hands a buffer to the server and returns (the reactor thread writes it): it
     * needs none of the 20 ms GstBaseSink reserves by default for a live pipeline's processing,
     * which would hold every frame that long (e.g. the restreamer line's, whose source stamps
     * tags with the time they came). */
    gst_base_sink_set_processing_deadline(GST_BASE_SINK(self), 0);
}
