/* The LL-HLS muxer's window (ezr_hls.h): its segments and their parts, the samples in them (each
 * a frame's CMAF view and a slice of its payload), its init segments, the window's trimming, and
 * the lookups the HTTP side and the playlist make. The segmenter (ezr_hls.c) decides when to open
 * and complete them. */
#include "ezr_hls_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_error.h"
#include "ezr_limits.h"

static void part_free(struct ezr_hls_part *p)
{
    for (size_t i = 0; i < p->nsamples; i++)
        ezr_frame_unref(p->samples[i].frame);
    free(p->samples);
}

void ezr_hls_segment_free(struct ezr_hls_segment *s)
{
    for (size_t i = 0; i < s->nparts; i++)
        part_free(&s->parts[i]);
    free(s->parts);
}

/* Room for one more element of an array of size bytes each. */
int ezr_hls_grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = ezr_realloc(*arr, ncap * size);
    if (!p)
        return EZR_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

struct ezr_hls_segment *ezr_hls_current(struct ezr_hls *h)
{
    return &h->segs[h->nsegs - 1];
}

struct ezr_hls_part *ezr_hls_current_part(struct ezr_hls *h)
{
    struct ezr_hls_segment *s = ezr_hls_current(h);
    return &s->parts[s->nparts - 1];
}

/* ---- time ---------------------------------------------------------------------------- */

int ezr_hls_make_init(struct ezr_hls *h)
{
    bool v = h->video_header != NULL, a = h->audio_header != NULL;
    struct ezr_buf b;
    ezr_buf_init(&b);
    int r = ezr_fmp4_write_init(&b, v ? &h->video : NULL, a ? &h->audio : NULL);
    if (r < 0 || ezr_buf_failed(&b)) {
        ezr_buf_free(&b);
        return r < 0 ? r : EZR_ENOMEM;
    }
    if (ezr_hls_grow((void **)&h->inits, &h->inits_cap, h->ninits, sizeof *h->inits) < 0) {
        ezr_buf_free(&b);
        return EZR_ENOMEM;
    }
    size_t len;
    uint8_t *bytes = ezr_buf_steal(&b, &len);
    struct ezr_frame *f = ezr_frame_new_bytes(bytes, len);
    if (!f)
        return EZR_ENOMEM;
    h->inits[h->ninits++] = (struct ezr_hls_init_seg){.id = h->next_init_id, .frame = f};
    h->init_id = h->next_init_id++;
    h->have_init = true;
    h->init_has_video = v;
    h->init_has_audio = a;
    h->sample_rate = a ? h->audio.sample_rate : 0;
    h->headers_changed = false;
    return 0;
}

/* Drops the inits no segment of the window needs (the one in use stays). */
static void drop_inits(struct ezr_hls *h)
{
    size_t kept = 0;
    for (size_t i = 0; i < h->ninits; i++) {
        struct ezr_hls_init_seg in = h->inits[i];
        bool needed = in.id == h->init_id;
        for (size_t s = 0; s < h->nsegs && !needed; s++)
            needed = h->segs[s].init_id == in.id;
        if (needed)
            h->inits[kept++] = in;
        else
            ezr_frame_unref(in.frame);
    }
    h->ninits = kept;
}

/* ---- parts and segments -------------------------------------------------------------- */

static int make_cmaf_view(const struct ezr_frame *f, void *arg, struct ezr_frame_view *out)
{
    (void)f;
    uint8_t *b = ezr_malloc(EZR_FMP4_FRAGMENT_MAX + EZR_HLS_CHUNK_HEAD + EZR_HLS_CHUNK_TAIL + 1);
    if (!b)
        return EZR_ENOMEM;
    size_t n = ezr_fmp4_write_fragment(b, arg);
    if (!n) {
        free(b);
        return EZR_EINVAL;
    }
    /* The chunk framing, after the view's len (ezr_hls.h): written once, sent by reference to
     * every viewer of a part in progress. */
    const struct ezr_fmp4_sample *s = arg;
    snprintf((char *)b + n, EZR_HLS_CHUNK_HEAD + EZR_HLS_CHUNK_TAIL + 1, "%08zx\r\n\r\n",
             n + (size_t)s->size);
    out->bytes = b;
    out->len = n;
    return 0;
}

/* Puts a sample of f into the part in progress: its fragment header is made as f's CMAF view,
 * its bytes stay where they are in f. */
int ezr_hls_add_sample(struct ezr_hls *h, struct ezr_frame *f, uint32_t offset,
                       struct ezr_fmp4_sample *s)
{
    struct ezr_hls_part *p = ezr_hls_current_part(h);
    if (ezr_hls_grow((void **)&p->samples, &p->cap, p->nsamples, sizeof *p->samples) < 0)
        return EZR_ENOMEM;
    s->sequence = h->fragment_seq + 1;
    const struct ezr_frame_view *v;
    int r = ezr_frame_view(f, EZR_VIEW_CMAF, make_cmaf_view, s, &v);
    if (r < 0)
        return r;
    if (r == 1)
        h->fragment_seq++;
    p->samples[p->nsamples++] = (struct ezr_hls_sample){
        .frame = ezr_frame_ref(f), .body_offset = offset, .body_len = s->size};
    p->bytes += v->len + s->size;
    ezr_hls_current(h)->bytes += v->len + s->size;
    if (h->ops.sample_added)
        h->ops.sample_added(h->ctx, p);
    return 0;
}

/* Opens a part at stream time start_ms in the segment in progress, which has room for it. */
void ezr_hls_open_part(struct ezr_hls_segment *s, uint64_t start_ms, bool independent)
{
    struct ezr_hls_part *p = &s->parts[s->nparts];
    memset(p, 0, sizeof *p);
    p->msn = s->msn;
    p->index = (uint32_t)s->nparts;
    p->independent = independent;
    p->start_ms = start_ms;
    s->nparts++;
}

/* EXT-X-TARGETDURATION for a segment of len ms: rounded to the nearest second, as the spec
 * bounds EXTINF (4.4.3.1; version 6 and later), not up: a 1.001 s GOP (29.97 fps) or a 2.02 s
 * audio segment would double or half again the target, and with it the skip boundary, past what
 * the window holds. */
void ezr_hls_raise_target(struct ezr_hls *h, uint64_t len)
{
    uint64_t secs = (len + 500u) / 1000u;
    if (secs > h->target_s)
        h->target_s = secs > UINT32_MAX ? UINT32_MAX : (uint32_t)secs;
}

void ezr_hls_complete_part(struct ezr_hls *h, uint64_t end_ms)
{
    struct ezr_hls_segment *s = ezr_hls_current(h);
    struct ezr_hls_part *p = ezr_hls_current_part(h);
    p->complete = true;
    h->parts_made++;
    p->duration_ms = end_ms > p->start_ms ? (uint32_t)(end_ms - p->start_ms) : 0;
    if (p->duration_ms > h->part_target_ms)
        h->part_target_ms = p->duration_ms;
    /* The target duration covers the segment in progress too, so that it has grown before the
     * segment is listed, and never goes down. */
    ezr_hls_raise_target(h, end_ms > s->start_ms ? end_ms - s->start_ms : 0);
}

void ezr_hls_complete_segment(struct ezr_hls *h, uint64_t end_ms)
{
    struct ezr_hls_segment *s = ezr_hls_current(h);
    s->complete = true;
    s->duration_ms = end_ms > s->start_ms ? end_ms - s->start_ms : 0;
    h->in_progress = false;
    h->segments_made++;
}

/* Keeps config.window complete segments; an older one goes with its frames, and with its
 * EXT-X-DISCONTINUITY, which the discontinuity sequence then counts. */
void ezr_hls_trim_window(struct ezr_hls *h)
{
    size_t complete = ezr_hls_complete_segments(h);
    if (complete <= h->window)
        return;
    /* The window is hls-window segments, and never less than three target durations (6.2.2): a
     * stall that made a long segment raised the target duration for good, and a player reloads
     * once a target duration. Up to EZR_HLS_MAX_WINDOW segments. */
    uint64_t keep_ms = 3u * 1000u * (uint64_t)h->target_s, listed = 0;
    size_t keep = 0;
    while (keep < complete && (keep < h->window || listed < keep_ms) && keep < EZR_HLS_MAX_WINDOW)
        listed += h->segs[complete - 1 - keep++].duration_ms;
    size_t drop = complete - keep;
    if (!drop)
        return;
    for (size_t i = 0; i < drop; i++) {
        if (h->segs[i].discontinuity)
            h->discontinuity_seq++;
        ezr_hls_segment_free(&h->segs[i]);
    }
    memmove(h->segs, h->segs + drop, (h->nsegs - drop) * sizeof *h->segs);
    h->nsegs -= drop;
    drop_inits(h);
    /* A long part (a stall in the video) no longer listed stops raising the part target. */
    h->part_target_ms = h->part_ms;
    for (size_t i = 0; i < h->nsegs; i++)
        for (size_t p = 0; p < h->segs[i].nparts; p++)
            if (h->segs[i].parts[p].complete && h->segs[i].parts[p].duration_ms > h->part_target_ms)
                h->part_target_ms = h->segs[i].parts[p].duration_ms;
}

/* EXT-X-PROGRAM-DATE-TIME of a segment at stream time start_ms whose first frame entered the sink
 * at wall_ms: the first segment of a timeline (after a start, a break or new headers) takes its own
 * wall time as the anchor, and the next ones the anchor plus their stream time since, so that a
 * segment's date and the one after differ by its EXTINF, as players that place media by date
 * (shaka-player) need, whatever the arrival jitter of a loaded machine. When the pipeline falls
 * further than EZR_HLS_MAX_DATE_DRIFT_MS behind (or ahead of) the wall clock, it is anchored
 * again: the date says when the frame entered the sink. */
static uint64_t program_date(struct ezr_hls *h, uint64_t start_ms, uint64_t wall_ms)
{
    if (h->have_date_anchor && !h->discontinuity_next && start_ms >= h->anchor_ms) {
        uint64_t date = h->anchor_wall_ms + (start_ms - h->anchor_ms);
        uint64_t drift = date > wall_ms ? date - wall_ms : wall_ms - date;
        if (drift <= EZR_HLS_MAX_DATE_DRIFT_MS)
            return date;
    }
    h->have_date_anchor = true;
    h->anchor_ms = start_ms;
    h->anchor_wall_ms = wall_ms;
    return wall_ms;
}

/* Opens segment next_msn at start_ms with its first part. Everything it needs is allocated
 * before anything changes, so a failure leaves the muxer as it was. */
int ezr_hls_open_segment(struct ezr_hls *h, uint64_t start_ms, uint64_t wall_ms, bool independent)
{
    if (ezr_hls_grow((void **)&h->segs, &h->segs_cap, h->nsegs, sizeof *h->segs) < 0)
        return EZR_ENOMEM;
    struct ezr_hls_part *parts = ezr_malloc(8 * sizeof *parts);
    if (!parts)
        return EZR_ENOMEM;
    struct ezr_hls_segment *s = &h->segs[h->nsegs];
    memset(s, 0, sizeof *s);
    s->msn = h->next_msn++;
    s->init_id = h->init_id;
    s->discontinuity = h->discontinuity_next;
    s->start_ms = start_ms;
    s->wall_ms = program_date(h, start_ms, wall_ms);
    s->parts = parts;
    s->cap = 8;
    ezr_hls_open_part(s, start_ms, independent);
    h->nsegs++;
    h->in_progress = true;
    h->discontinuity_next = false;
    return 0;
}

const struct ezr_hls_segment *ezr_hls_segment(const struct ezr_hls *h, uint64_t msn)
{
    if (!h->nsegs || msn < h->segs[0].msn || msn - h->segs[0].msn >= h->nsegs)
        return NULL;
    return &h->segs[msn - h->segs[0].msn];
}

const struct ezr_hls_part *ezr_hls_part(const struct ezr_hls *h, uint64_t msn, uint32_t index)
{
    const struct ezr_hls_segment *s = ezr_hls_segment(h, msn);
    return s && index < s->nparts ? &s->parts[index] : NULL;
}

struct ezr_frame *ezr_hls_init(const struct ezr_hls *h, uint32_t id)
{
    for (size_t i = 0; i < h->ninits; i++)
        if (h->inits[i].id == id)
            return h->inits[i].frame;
    return NULL;
}

bool ezr_hls_hinted_part(const struct ezr_hls *h, uint64_t *msn, uint32_t *index)
{
    if (h->ended || (!h->in_progress && h->next_msn == 0))
        return false;
    if (h->in_progress) {
        const struct ezr_hls_segment *s = &h->segs[h->nsegs - 1];
        *msn = s->msn;
        *index = (uint32_t)(s->nparts - 1);
    } else {
        *msn = h->next_msn;
        *index = 0;
    }
    return true;
}

bool ezr_hls_ended(const struct ezr_hls *h)
{
    return h->ended;
}

uint64_t ezr_hls_version(const struct ezr_hls *h)
{
    return h->version;
}

uint32_t ezr_hls_target_duration(const struct ezr_hls *h)
{
    return h->target_s;
}

uint64_t ezr_hls_parts_made(const struct ezr_hls *h)
{
    return h->parts_made;
}

uint64_t ezr_hls_segments_made(const struct ezr_hls *h)
{
    return h->segments_made;
}

bool ezr_hls_last_part(const struct ezr_hls *h, uint64_t *msn, uint32_t *index)
{
    for (size_t i = h->nsegs; i-- > 0;) {
        const struct ezr_hls_segment *s = &h->segs[i];
        size_t done = s->complete ? s->nparts : s->nparts - 1;
        if (done) {
            *msn = s->msn;
            *index = (uint32_t)(done - 1);
            return true;
        }
    }
    return false;
}

uint64_t ezr_hls_end_ms(const struct ezr_hls *h)
{
    uint64_t msn;
    uint32_t index;
    if (!ezr_hls_last_part(h, &msn, &index))
        return 0;
    const struct ezr_hls_part *p = ezr_hls_part(h, msn, index);
    return p->start_ms + p->duration_ms;
}
