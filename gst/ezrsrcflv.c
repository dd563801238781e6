/* The publisher's tags into FLV buffers (see gstezrtmpserversrcpriv.h): the FLV header before the
 * first tag, its flags from what the publisher sends, and each tag retimed so that the stream the
 * pipeline sees never goes back in time, whichever publisher sent it.
 *
 * Timestamps: a live source's buffers carry the running time at which they came. The first
 * audio or video tag of each publication fixes its offset: the running time then (or, with no
 * clock, 0), and never less than just past the last tag sent, so a publisher that reconnects with
 * its clock at 0 continues the same stream. The tag's own header is rewritten, since flvdemux and
 * the sink read times from there; the buffer's DTS says the same (PTS is left unset, as rtmp2src
 * does: a video tag's composition time is in its body). */
#include <string.h>

#include "gstezrtmpserversrcpriv.h"

/* Tags held for the header's flags at the most: a publisher sends metadata and both sequence
 * headers first, then media; past this many, the header goes with what was seen. */
#define HOLD_MAX_TAGS 16u

static const guint8 flv_header[13] = {'F', 'L', 'V', 1, 0, 0, 0, 0, 9, 0, 0, 0, 0};

void ezr_src_flv_init(struct ezr_src_flv *f)
{
    memset(f, 0, sizeof *f);
    g_queue_init(&f->held);
    f->need_offset = TRUE;
}

void ezr_src_flv_reset(struct ezr_src_flv *f)
{
    struct ezr_ingest_item *it;
    while ((it = g_queue_pop_head(&f->held)))
        ezr_ingest_item_free(it);
    ezr_src_flv_init(f);
}

void ezr_src_flv_publisher_started(struct ezr_src_flv *f)
{
    f->need_offset = TRUE;
    if (f->any_out)
        f->next_min_ms = f->max_out_ms + 1;
}

static gboolean has_key(const guint8 *p, gsize len, const char *key)
{
    gsize n = strlen(key);
    for (gsize i = 0; i + 2 + n <= len; i++)
        if (p[i] == 0 && p[i + 1] == n && memcmp(p + i + 2, key, n) == 0)
            return TRUE;
    return FALSE;
}

/* A sequence header (AVC/HEVC/AAC config, Enhanced RTMP's sequence start): not yet media. */
static gboolean is_header(const struct ezr_ingest_item *it)
{
    const guint8 *b = it->tag + 11;
    if (it->body_len < 2)
        return FALSE;
    if (it->type == 9)
        return (b[0] & 0x80) ? (b[0] & 0x0f) == 0 : ((b[0] & 0x0f) == 7 && b[1] == 0);
    if (it->type == 8)
        return (b[0] >> 4) == 10 && b[1] == 0;
    return FALSE;
}

/* Notes what it says of the header's flags; TRUE when they are known now. */
static gboolean note_flags(struct ezr_src_flv *f, const struct ezr_ingest_item *it)
{
    if (it->type == 18 && !f->flags_known && !f->flags) {
        const guint8 *b = it->tag + 11;
        gboolean a = has_key(b, it->body_len, "audiocodecid");
        gboolean v = has_key(b, it->body_len, "videocodecid");
        if (a || v) {
            f->flags = (a ? 4 : 0) | (v ? 1 : 0);
            f->flags_known = TRUE;
        }
    } else if (it->type == 8 && !f->flags_known) {
        f->flags |= 4;
    } else if (it->type == 9 && !f->flags_known) {
        f->flags |= 1;
    }
    return f->flags_known || f->flags == 5 || ((it->type == 8 || it->type == 9) && !is_header(it)) ||
           g_queue_get_length(&f->held) >= HOLD_MAX_TAGS;
}

static gint64 retime(struct ezr_src_flv *f, const struct ezr_ingest_item *it, gint64 now_ms)
{
    gint64 base = MAX(now_ms, f->next_min_ms);
    if (f->need_offset) {
        if (it->type != 8 && it->type != 9)
            return base; /* metadata before the media: at the start */
        f->offset_ms = base - (gint64)it->timestamp;
        f->need_offset = FALSE;
    }
    gint64 out = (gint64)it->timestamp + f->offset_ms;
    return out < 0 ? 0 : MIN(out, (gint64)G_MAXUINT32);
}

static GstBuffer *make_buffer(struct ezr_src_flv *f, struct ezr_ingest_item *it, gint64 now_ms,
                              gboolean with_header)
{
    gint64 out = retime(f, it, now_ms);
    it->tag[4] = (guint8)(out >> 16);
    it->tag[5] = (guint8)(out >> 8);
    it->tag[6] = (guint8)out;
    it->tag[7] = (guint8)(out >> 24);
    f->max_out_ms = f->any_out ? MAX(f->max_out_ms, out) : out;
    f->any_out = TRUE;
    GstBuffer *buf = gst_buffer_new_wrapped_full(0, it->tag, it->tag_len, 0, it->tag_len, it,
                                                 (GDestroyNotify)ezr_ingest_item_free);
    if (with_header) {
        guint8 *h = g_memdup2(flv_header, sizeof flv_header);
        h[4] = f->flags;
        gst_buffer_prepend_memory(buf, gst_memory_new_wrapped(0, h, sizeof flv_header, 0,
                                                              sizeof flv_header, h, g_free));
        GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_DISCONT);
    }
    GST_BUFFER_DTS(buf) = (GstClockTime)out * GST_MSECOND;
    return buf;
}

GstBuffer *ezr_src_flv_take(struct ezr_src_flv *f, struct ezr_ingest_item *it, gint64 now_ms)
{
    if (f->header_sent)
        return make_buffer(f, it, now_ms, FALSE);
    g_queue_push_tail(&f->held, it);
    if (!note_flags(f, it))
        return NULL;
    f->header_sent = TRUE;
    return make_buffer(f, g_queue_pop_head(&f->held), now_ms, TRUE);
}

GstBuffer *ezr_src_flv_next_held(struct ezr_src_flv *f, gint64 now_ms)
{
    if (!f->header_sent || g_queue_is_empty(&f->held))
        return NULL;
    return make_buffer(f, g_queue_pop_head(&f->held), now_ms, FALSE);
}
