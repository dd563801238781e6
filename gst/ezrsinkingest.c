/* FLV ingest: the buffers and caps flvmux sends, through the FLV parser, to the stream as
 * frames (streaming thread), with the input counters of the stats; and the events that end or
 * flush the stream. */
#include <string.h>
#include <time.h>

#include "ezr_error.h"
#include "ezrserverpool.h"
#include "gstezrtmpserversinkpriv.h"

#define GST_CAT_DEFAULT ezrtmp_debug

/* How long EOS waits for players to be sent what is queued for them. */
#define EOS_DRAIN_TIMEOUT_MS 2000

void ezr_sink_clear_streamheader(GstEzrtmpServerSink *self)
{
    g_list_free_full(self->streamheader, (GDestroyNotify)gst_buffer_unref);
    self->streamheader = NULL;
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
    self->ingest.tags++;
    self->ingest.bytes_in += tag->len;
    if (tag->flags & EZR_FLV_REFUSED)
        self->ingest.tags_refused++;
    else if (tag->flags & EZR_FLV_SEQ_HEADER)
        self->ingest.sequence_headers++;
    else if (tag->type == EZR_FLV_VIDEO && !(tag->flags & EZR_FLV_NOT_MEDIA))
        self->ingest.video_frames++;
    else if (tag->type == EZR_FLV_AUDIO)
        self->ingest.audio_frames++;
    else if (tag->type == EZR_FLV_SCRIPT)
        self->ingest.script_tags++;
    if (tag->flags & EZR_FLV_KEYFRAME)
        self->ingest.keyframes++;
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
    struct ezr_stream *st = ezr_sink_stream(self);
    int rc = st ? ezr_stream_push(st, kind, flags, tag->timestamp, tag->body, tag->len) : 0;
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

GstFlowReturn ezr_sink_render(GstBaseSink *sink, GstBuffer *buf)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(sink);
    struct ezr_server *server = self->serving.server; /* without the lock: see serving */
    if (G_UNLIKELY(server && ezr_server_failed(server))) {
        gchar *why = ezr_server_pool_last_error(server);
        ezr_sink_post_server_failure(self, ezr_server_port(server), why);
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
    self->ingest.renders++;
    self->ingest.render_ns += took;
    if (took > self->ingest.render_max_ns)
        self->ingest.render_max_ns = took;
    struct ezr_ingest_stats counted = self->ingest;
    GST_OBJECT_UNLOCK(self);
    /* For /metrics, which the server thread writes from the library's copy. */
    struct ezr_stream *st = ezr_sink_stream(self);
    if (st)
        ezr_stream_report_ingest(st, &counted);
    return ret;
}

gboolean ezr_sink_set_caps(GstBaseSink *sink, GstCaps *caps)
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
    ezr_sink_clear_streamheader(self);
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

void ezr_sink_ingest_event(GstEzrtmpServerSink *self, GstEvent *ev)
{
    struct ezr_stream *st = ezr_sink_stream(self);
    switch (GST_EVENT_TYPE(ev)) {
    case GST_EVENT_EOS:
        /* unlock() cuts the drain short, so that it never holds a state change or a flush;
         * a stopped reactor would never drain. */
        if (st && !ezr_server_failed(self->serving.server) &&
            ezr_stream_eos(st, EOS_DRAIN_TIMEOUT_MS) < 0)
            GST_INFO_OBJECT(self, "players were not all drained (%d ms at most, or interrupted)",
                            EOS_DRAIN_TIMEOUT_MS);
        ezr_flv_parser_reset(&self->parser);
        ezr_sink_clear_streamheader(self);
        break;
    case GST_EVENT_FLUSH_STOP:
        ezr_flv_parser_reset(&self->parser);
        if (st)
            ezr_stream_reset(st);
        break;
    default:
        break;
    }
}

gboolean ezr_sink_start(GstBaseSink *sink)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(sink);
    ezr_flv_parser_reset(&self->parser);
    GST_OBJECT_LOCK(self);
    memset(&self->ingest, 0, sizeof self->ingest);
    self->refusals_warned = 0;
    GST_OBJECT_UNLOCK(self);
    static const struct ezr_ingest_stats zero;
    struct ezr_stream *st = ezr_sink_stream(self);
    if (st)
        ezr_stream_report_ingest(st, &zero);
    return TRUE;
}

gboolean ezr_sink_stop(GstBaseSink *sink)
{
    GstEzrtmpServerSink *self = GST_EZRTMP_SERVER_SINK(sink);
    /* The streamheader is kept: after READY flvmux may send the same header buffers again
     * (skipped as known) or nothing at all (the server keeps the headers). */
    ezr_flv_parser_reset(&self->parser);
    return TRUE;
}
