/**
 * SECTION:element-ezrtmpserversrc
 * @title: ezrtmpserversrc
 *
 * Takes one RTMP publisher (OBS, ffmpeg, a phone app, rtmp2sink) on an embedded server and
 * outputs what it publishes as an FLV stream (video/x-flv: the FLV header, then its tags, the
 * metadata and sequence headers first): a drop-in for rtmp2src where the pipeline is the server.
 * The publisher publishes to rtmp://HOST:PORT/APP/STREAM-KEY (#GstEzrtmpServerSrc:location
 * sets or reads that URL whole). A source and sinks of one process with the same host and port
 * share one server: one port for both directions.
 *
 * It is a live source. Each buffer is one FLV tag, retimed so that its time is the running time
 * at which the publication's first frame came plus the publisher's own timeline: downstream
 * sinks with sync=true play at the publisher's pace, and a publisher that disconnects and comes
 * back continues the same stream with timestamps still rising (its new sequence headers pass
 * through). A second publisher of a key being published is refused with
 * NetStream.Publish.BadName. When the publisher stops, the element waits for the next one, or
 * with #GstEzrtmpServerSrc:eos-on-unpublish sends EOS. No publisher within
 * #GstEzrtmpServerSrc:publish-timeout posts a warning; one that sends nothing for
 * #GstEzrtmpServerSrc:timeout is closed.
 *
 * Between the server thread and the streaming thread is a queue of at most
 * #GstEzrtmpServerSrc:max-bytes: when the pipeline does not keep up the server stops reading the
 * publisher's socket, so TCP holds the publisher back; nothing is dropped and memory stays
 * bounded.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 ezrtmpserversrc stream-key=obs ! ezrtmpserversink stream-key=live http=true
 * ffmpeg -re -i in.mp4 -c copy -f flv rtmp://localhost:1935/live/obs
 * ffplay rtmp://localhost:1935/live/live
 * ]| A restreamer: OBS (Server rtmp://HOST:1935/live, Stream key obs) in, RTMP and HTTP-FLV out.
 * |[
 * gst-launch-1.0 ezrtmpserversrc stream-key=obs ! flvdemux name=d \
 *     d.video ! queue ! decodebin ! autovideosink d.audio ! queue ! decodebin ! autoaudiosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "ezr_error.h"
#include "ezrelementserver.h"
#include "gstezrtmpserversrcpriv.h"

#define GST_CAT_DEFAULT ezrtmp_debug

/* How long create() waits for the publisher at a time, between looks at publish-timeout and at
 * a failed server. */
#define WAIT_SLICE_MS 250

guint ezr_src_signals[EZR_SRC_LAST_SIGNAL];

static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-flv"));

#define gst_ezrtmp_server_src_parent_class parent_class
G_DEFINE_TYPE(GstEzrtmpServerSrc, gst_ezrtmp_server_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE(ezrtmpserversrc, "ezrtmpserversrc", GST_RANK_NONE,
                            GST_TYPE_EZRTMP_SERVER_SRC);

static GstStateChangeReturn change_state(GstElement *element, GstStateChange transition)
{
    GstEzrtmpServerSrc *self = GST_EZRTMP_SERVER_SRC(element);
    if (transition == GST_STATE_CHANGE_NULL_TO_READY && !ezr_src_open_server(self))
        return GST_STATE_CHANGE_FAILURE;
    GstStateChangeReturn ret = GST_ELEMENT_CLASS(parent_class)->change_state(element, transition);
    if (transition == GST_STATE_CHANGE_READY_TO_NULL ||
        (transition == GST_STATE_CHANGE_NULL_TO_READY && ret == GST_STATE_CHANGE_FAILURE))
        ezr_src_close_server(self);
    return ret;
}

static gboolean start(GstBaseSrc *src)
{
    GstEzrtmpServerSrc *self = GST_EZRTMP_SERVER_SRC(src);
    ezr_src_flv_reset(&self->flv);
    GST_OBJECT_LOCK(self);
    self->publish_timeout_s = self->settings.publish_timeout;
    self->eos_on_unpublish = self->settings.eos_on_unpublish;
    GST_OBJECT_UNLOCK(self);
    self->started_us = g_get_monotonic_time();
    self->published = FALSE;
    self->warned = FALSE;
    return TRUE;
}

static gboolean stop(GstBaseSrc *src)
{
    ezr_src_flv_reset(&GST_EZRTMP_SERVER_SRC(src)->flv);
    return TRUE;
}

static void set_flushing(GstEzrtmpServerSrc *self, gboolean flushing)
{
    struct ezr_server *server;
    struct ezr_ingest *ing = ezr_element_server_acquire(&self->serving, &server);
    if (ing) {
        ezr_ingest_set_flushing(ing, flushing);
        ezr_element_server_release(&self->serving);
    }
}

static gboolean unlock(GstBaseSrc *src)
{
    set_flushing(GST_EZRTMP_SERVER_SRC(src), TRUE);
    return TRUE;
}

static gboolean unlock_stop(GstBaseSrc *src)
{
    set_flushing(GST_EZRTMP_SERVER_SRC(src), FALSE);
    return TRUE;
}

/* The running time now in ms, or 0 without a clock (a harness): a live source's buffers carry
 * when they came. */
static gint64 running_ms(GstEzrtmpServerSrc *self)
{
    GstClock *clock = gst_element_get_clock(GST_ELEMENT(self));
    if (!clock)
        return 0;
    GstClockTime now = gst_clock_get_time(clock), base = gst_element_get_base_time(GST_ELEMENT(self));
    gst_object_unref(clock);
    return now > base ? (gint64)((now - base) / GST_MSECOND) : 0;
}

/* Nothing came this slice: no publisher yet for publish-timeout is worth a warning, once. */
static void check_publish_timeout(GstEzrtmpServerSrc *self)
{
    if (self->published || self->warned || !self->publish_timeout_s ||
        g_get_monotonic_time() - self->started_us < (gint64)self->publish_timeout_s * G_USEC_PER_SEC)
        return;
    self->warned = TRUE;
    gchar *url = NULL;
    g_object_get(self, "location", &url, NULL);
    GST_ELEMENT_WARNING(self, RESOURCE, READ,
                        ("No publisher within %u s: nothing has been published to %s yet",
                         self->publish_timeout_s, url),
                        ("publish-timeout; the element keeps waiting"));
    g_free(url);
}

/* Live, with no latency of its own (a tag goes out as it comes), and able to hold as much as
 * max-bytes: no bound in time to give. */
static gboolean query(GstBaseSrc *src, GstQuery *q)
{
    if (GST_QUERY_TYPE(q) != GST_QUERY_LATENCY)
        return GST_BASE_SRC_CLASS(parent_class)->query(src, q);
    gst_query_set_latency(q, TRUE, 0, GST_CLOCK_TIME_NONE);
    return TRUE;
}

static GstFlowReturn create(GstPushSrc *psrc, GstBuffer **out)
{
    GstEzrtmpServerSrc *self = GST_EZRTMP_SERVER_SRC(psrc);
    struct ezr_ingest *ing = self->serving.point; /* without the lock: see serving */
    if (!ing)
        return GST_FLOW_FLUSHING;
    for (;;) {
        GstBuffer *buf = ezr_src_flv_next_held(&self->flv, running_ms(self));
        if (buf) {
            *out = buf;
            return GST_FLOW_OK;
        }
        struct ezr_ingest_item *it;
        int rc = ezr_ingest_pop(ing, WAIT_SLICE_MS, &it);
        if (rc == EZR_ECLOSED)
            return GST_FLOW_FLUSHING;
        if (rc == EZR_EAGAIN) {
            if (ezr_server_failed(self->serving.server)) {
                GST_ELEMENT_ERROR(self, RESOURCE, FAILED,
                                  ("The RTMP server on port %u stopped and takes no publisher any "
                                   "more. Restart the pipeline to take publishers again.",
                                   ezr_element_server_bound_port(&self->serving)),
                                  (NULL));
                return GST_FLOW_ERROR;
            }
            check_publish_timeout(self);
            continue;
        }
        if (it->event == EZR_INGEST_STARTED) {
            self->published = TRUE;
            ezr_src_flv_publisher_started(&self->flv);
            ezr_ingest_item_free(it);
        } else if (it->event == EZR_INGEST_ENDED) {
            ezr_ingest_item_free(it);
            if (self->eos_on_unpublish) {
                GST_INFO_OBJECT(self, "the publisher stopped: EOS (eos-on-unpublish)");
                return GST_FLOW_EOS;
            }
        } else if ((buf = ezr_src_flv_take(&self->flv, it, running_ms(self)))) {
            *out = buf;
            return GST_FLOW_OK;
        }
    }
}

static void finalize(GObject *object)
{
    GstEzrtmpServerSrc *self = GST_EZRTMP_SERVER_SRC(object);
    ezr_src_close_server(self);
    ezr_src_flv_reset(&self->flv);
    ezr_sink_settings_clear(&self->settings);
    ezr_element_server_clear(&self->serving);
    G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_ezrtmp_server_src_class_init(GstEzrtmpServerSrcClass *klass)
{
    GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
    GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
    GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS(klass);
    GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS(klass);

    gobject_class->finalize = finalize;
    ezr_props_install(gobject_class, EZR_PROPS_SRC);

    /**
     * GstEzrtmpServerSrc::client-added:
     * @src: the source
     * @client_id: the publisher's id (unique per server)
     * @address: its address, "a.b.c.d:port" or "[v6]:port"
     *
     * A publisher started publishing. Emitted from the server thread; an
     * ezrtmp-client-added element message is posted too. Keep the handler short and do not
     * change the element's state from it.
     */
    ezr_src_signals[EZR_SRC_SIGNAL_CLIENT_ADDED] =
        g_signal_new("client-added", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_STRING);
    /**
     * GstEzrtmpServerSrc::client-removed:
     * @src: the source
     * @client_id: the publisher's id
     * @reason: why: it stopped publishing, disconnected, timed out, ...
     *
     * The publisher stopped. Emitted from the server thread, as client-added.
     */
    ezr_src_signals[EZR_SRC_SIGNAL_CLIENT_REMOVED] =
        g_signal_new("client-removed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_STRING);

    gst_element_class_set_static_metadata(
        element_class, "RTMP server source", "Source/Network",
        "Takes an RTMP publisher (OBS, ffmpeg) on an embedded server and outputs its FLV; shares "
        "the port with ezrtmpserversink",
        "ezrtmp developers");
    gst_element_class_add_static_pad_template(element_class, &src_template);
    element_class->change_state = change_state;

    basesrc_class->start = start;
    basesrc_class->stop = stop;
    basesrc_class->unlock = unlock;
    basesrc_class->unlock_stop = unlock_stop;
    basesrc_class->query = query;
    pushsrc_class->create = create;
}

static void gst_ezrtmp_server_src_init(GstEzrtmpServerSrc *self)
{
    ezr_sink_settings_init(&self->settings);
    ezr_element_server_init(&self->serving);
    ezr_src_flv_init(&self->flv);
    gst_base_src_set_live(GST_BASE_SRC(self), TRUE);
    gst_base_src_set_format(GST_BASE_SRC(self), GST_FORMAT_TIME);
}
