/* The LL-HLS segmenter (ezr_hls.h): frames in, and when a part or segment ends. The window it
 * fills (parts, segments, inits, the lookups) is ezr_hls_window.c. A cut is decided when a frame
 * arrives: on a video frame for a stream with video (the frame before it is complete then, its
 * duration known), on any frame for audio only; the arriving frame is the first of what the cut
 * opens. */
#include "ezr_hls_priv.h"

#include <stdio.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_error.h"
#include "ezr_limits.h"

#define TICKS_PER_MS (EZR_FMP4_VIDEO_TIMESCALE / 1000u)
static void changed(struct ezr_hls *h)
{
    h->version++;
    if (h->ops.playlist_changed)
        h->ops.playlist_changed(h->ctx);
}

static bool tag_ok(const char *tag)
{
    size_t n = strnlen(tag, sizeof((struct ezr_hls_config *)0)->tag);
    if (n == sizeof((struct ezr_hls_config *)0)->tag)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = tag[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return false;
    }
    return true;
}

int ezr_hls_new(const struct ezr_hls_config *cfg, const struct ezr_hls_ops *ops, void *ctx,
                struct ezr_hls **out)
{
    *out = NULL;
    if (!cfg || !tag_ok(cfg->tag) || cfg->window > EZR_HLS_MAX_WINDOW ||
        cfg->part_target_ms > EZR_HLS_MAX_TARGET_MS ||
        cfg->segment_target_ms > EZR_HLS_MAX_TARGET_MS)
        return EZR_EINVAL;
    uint32_t part_ms = cfg->part_target_ms ? cfg->part_target_ms : EZR_HLS_DEFAULT_PART_MS;
    if (cfg->segment_target_ms && part_ms > cfg->segment_target_ms)
        return EZR_EINVAL; /* a part is a piece of a segment */
    struct ezr_hls *h = ezr_calloc(1, sizeof *h);
    if (!h)
        return EZR_ENOMEM;
    h->part_ms = part_ms;
    h->segment_ms = cfg->segment_target_ms;
    h->window = cfg->window ? cfg->window : EZR_HLS_DEFAULT_WINDOW;
    memcpy(h->tag, cfg->tag, sizeof h->tag);
    if (ops)
        h->ops = *ops;
    h->ctx = ctx;
    h->target_s = 1;
    h->part_target_ms = part_ms;
    *out = h;
    return 0;
}

void ezr_hls_free(struct ezr_hls *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nsegs; i++)
        ezr_hls_segment_free(&h->segs[i]);
    free(h->segs);
    for (size_t i = 0; i < h->ninits; i++)
        ezr_frame_unref(h->inits[i].frame);
    free(h->inits);
    ezr_frame_unref(h->pending.frame);
    for (size_t i = 0; i < h->nheld; i++)
        ezr_frame_unref(h->held[i].frame);
    ezr_frame_unref(h->video_header);
    ezr_frame_unref(h->audio_header);
    free(h);
}

/* FLV's 32-bit ms as 64-bit stream time: a step of less than 2^31 either way is a step, so a step
 * back of more than 2^31 is a wrap forward. Time before the first timestamp is clamped to 0. */
static uint64_t extend_time(struct ezr_hls *h, uint32_t ts)
{
    if (!h->have_time) {
        h->have_time = true;
        h->last_ms = ts;
        return ts;
    }
    int32_t step = (int32_t)(ts - (uint32_t)h->last_ms);
    uint64_t t;
    if (step < 0 && (uint64_t) - (int64_t)step > h->last_ms)
        t = 0;
    else
        t = h->last_ms + (uint64_t)(int64_t)step;
    h->last_ms = t;
    return t;
}

static uint32_t audio_frame_ms(const struct ezr_hls *h)
{
    return h->sample_rate
               ? (EZR_FMP4_AAC_FRAME_SAMPLES * 1000u + h->sample_rate / 2) / h->sample_rate
               : 0;
}

/* ---- inits --------------------------------------------------------------------------- */

static uint32_t segment_target_ms(const struct ezr_hls *h, bool video)
{
    if (h->segment_ms)
        return h->segment_ms;
    /* One segment per GOP, but none shorter than EZR_HLS_MIN_AUTO_SEGMENT_MS: an encoder that
     * inserts keyframes at scene cuts (x264 on noise: every few frames) would otherwise make
     * segments of a few frames, and a window of them too short for a live playlist. */
    return video ? EZR_HLS_MIN_AUTO_SEGMENT_MS : EZR_HLS_AUDIO_SEGMENT_MS;
}

/* The first segment after none in progress (the start, a break, the end, new headers). */
static int begin_segment(struct ezr_hls *h, uint64_t start_ms, uint64_t wall_ms)
{
    if (!h->have_init || h->headers_changed) {
        int r = ezr_hls_make_init(h);
        if (r < 0)
            return r;
    }
    int r = ezr_hls_open_segment(h, start_ms, wall_ms, true);
    if (r < 0)
        return r;
    if (h->segment_ms || !h->init_has_video)
        ezr_hls_raise_target(h, segment_target_ms(h, h->init_has_video));
    return 0;
}

/* Ends the part in progress at t and opens the next. On failure nothing is cut: the part goes on.
 */
static int cut_part(struct ezr_hls *h, uint64_t t, bool independent)
{
    struct ezr_hls_segment *s = ezr_hls_current(h);
    if (ezr_hls_grow((void **)&s->parts, &s->cap, s->nparts, sizeof *s->parts) < 0)
        return EZR_ENOMEM;
    ezr_hls_complete_part(h, t);
    ezr_hls_open_part(s, t, independent);
    changed(h);
    return 0;
}

static int cut_segment(struct ezr_hls *h, uint64_t t, uint64_t wall_ms, bool independent)
{
    /* Room first, so that the segment in progress is not completed when the next cannot open. */
    if (ezr_hls_grow((void **)&h->segs, &h->segs_cap, h->nsegs, sizeof *h->segs) < 0)
        return EZR_ENOMEM;
    ezr_hls_complete_part(h, t);
    ezr_hls_complete_segment(h, t);
    int r = ezr_hls_open_segment(h, t, wall_ms, independent);
    ezr_hls_trim_window(h);
    changed(h);
    if (r < 0)
        h->discontinuity_next = true; /* the next frame starts a segment of its own */
    return r;
}

/* Decides, at a frame of stream time t, whether the part (or the segment) in progress ends. */
static int maybe_cut(struct ezr_hls *h, uint64_t t, uint64_t wall_ms, bool key, bool video)
{
    struct ezr_hls_segment *s = ezr_hls_current(h);
    struct ezr_hls_part *p = ezr_hls_current_part(h);
    uint64_t seg_len = t > s->start_ms ? t - s->start_ms : 0;
    uint64_t part_len = t > p->start_ms ? t - p->start_ms : 0;
    if (key && seg_len >= segment_target_ms(h, video))
        return cut_segment(h, t, wall_ms, true);
    if (part_len < h->part_ms && p->nsamples < EZR_HLS_MAX_PART_SAMPLES)
        return 0;
    if (s->nparts >= EZR_HLS_MAX_PARTS)
        return cut_segment(h, t, wall_ms, key); /* no keyframe for too long: memory is bounded */
    return cut_part(h, t, key);
}

/* Muxes the waiting video frame with its duration (90 kHz) into the part in progress. */
static int flush_pending(struct ezr_hls *h, uint32_t duration)
{
    struct ezr_hls_pending *pv = &h->pending;
    uint64_t dts = pv->dts_ms * TICKS_PER_MS;
    int32_t cts = pv->cts_ms * (int32_t)TICKS_PER_MS;
    /* Decode time goes forward in a track. flvmux gives the first frames of a B-frame stream one
     * decode time, and an MP4 reader drops a sample whose decode time is not after the one before
     * (ffmpeg decoded 58 of 60): a repeat (or a step back) moves on to one tick after the last,
     * and its composition offset back by as much, so that it is shown when it was. */
    if (h->have_video_dts && dts <= h->last_video_dts) {
        uint64_t shift = h->last_video_dts + 1 - dts;
        dts += shift;
        cts -= shift > (uint64_t)INT32_MAX ? INT32_MAX : (int32_t)shift;
    }
    h->last_video_dts = dts;
    h->have_video_dts = true;
    if (duration == 0)
        duration = 1; /* a sample lasts; the next one's decode time is after it */
    struct ezr_fmp4_sample s = {
        .track_id = EZR_FMP4_VIDEO_TRACK,
        .decode_time = dts,
        .duration = duration,
        .composition_offset = cts,
        .size = (uint32_t)(pv->frame->payload_len - pv->body_offset),
        .sync = pv->key,
    };
    h->last_video_duration = duration;
    h->have_video_duration = true;
    int r = ezr_hls_add_sample(h, pv->frame, pv->body_offset, &s);
    ezr_frame_unref(pv->frame);
    pv->frame = NULL;
    return r;
}

static void set_pending(struct ezr_hls *h, struct ezr_frame *f, uint64_t t, uint32_t offset,
                        int32_t cts)
{
    h->pending = (struct ezr_hls_pending){
        .frame = ezr_frame_ref(f),
        .dts_ms = t,
        .cts_ms = cts,
        .body_offset = offset,
        .key = (f->flags & EZR_FRAME_KEY) != 0,
    };
}

/* Muxes an audio frame at stream time t into the part in progress. Decode times count AAC frames
 * of 1024 samples, as the trun durations do, and follow the FLV time (ms, so off by up to a
 * millisecond's samples each) only when it is more than a frame away. */
static int write_audio(struct ezr_hls *h, struct ezr_frame *f, uint64_t t, uint32_t offset)
{
    uint64_t decode = t * h->sample_rate / 1000u;
    if (h->have_audio_decode) {
        uint64_t next = h->last_audio_decode + EZR_FMP4_AAC_FRAME_SAMPLES;
        uint64_t off = decode > next ? decode - next : next - decode;
        if (off < EZR_FMP4_AAC_FRAME_SAMPLES || decode < h->last_audio_decode)
            decode = next;
    }
    h->last_audio_decode = decode;
    h->have_audio_decode = true;
    struct ezr_fmp4_sample s = {
        .track_id = EZR_FMP4_AUDIO_TRACK,
        .decode_time = decode,
        .duration = EZR_FMP4_AAC_FRAME_SAMPLES,
        .size = (uint32_t)(f->payload_len - offset),
        .sync = true,
    };
    h->last_audio_ms = t;
    h->have_audio_ms = true;
    h->audio_end_ms = t + audio_frame_ms(h);
    return ezr_hls_add_sample(h, f, offset, &s);
}

/* Muxes the audio held behind the video frame just muxed. */
static int write_held_audio(struct ezr_hls *h)
{
    int r = 0;
    for (size_t i = 0; i < h->nheld; i++) {
        struct ezr_hls_held_audio *a = &h->held[i];
        int w = h->in_progress ? write_audio(h, a->frame, a->ms, a->body_offset) : 0;
        r = r < 0 ? r : w;
        ezr_frame_unref(a->frame);
    }
    h->nheld = 0;
    return r;
}

static int push_video(struct ezr_hls *h, struct ezr_frame *f, uint64_t t, uint32_t offset,
                      int32_t cts, uint64_t wall_ms)
{
    bool key = (f->flags & EZR_FRAME_KEY) != 0;
    if (!h->in_progress) {
        if (!key)
            return 0; /* a segment starts on a keyframe: nothing before one can be decoded */
        int r = begin_segment(h, t, wall_ms);
        if (r < 0)
            return r;
        set_pending(h, f, t, offset, cts);
        return 0;
    }
    if (!h->pending.frame) { /* not after a keyframe: cannot be, but stay consistent */
        set_pending(h, f, t, offset, cts);
        return 0;
    }
    uint64_t prev = h->pending.dts_ms;
    uint64_t ms = t > prev ? t - prev : 0;
    uint64_t duration = ms * TICKS_PER_MS;
    int r = flush_pending(h, duration > UINT32_MAX ? UINT32_MAX : (uint32_t)duration);
    int ra = write_held_audio(h);
    r = r < 0 ? r : ra;
    int c = maybe_cut(h, t, wall_ms, key, true);
    if (h->in_progress)
        set_pending(h, f, t, offset, cts);
    return r < 0 ? r : c;
}

static int push_audio(struct ezr_hls *h, struct ezr_frame *f, uint64_t t, uint32_t offset,
                      uint64_t wall_ms)
{
    bool video = h->in_progress ? h->init_has_video : h->video_header != NULL;
    if (!h->in_progress) {
        if (video)
            return 0; /* the segment starts with the video keyframe */
        int r = begin_segment(h, t, wall_ms);
        if (r < 0)
            return r;
    } else if (!video) {
        int r = maybe_cut(h, t, wall_ms, true, false);
        if (r < 0 && !h->in_progress)
            return r;
    }
    if (h->pending.frame && h->nheld < EZR_HLS_MAX_HELD_AUDIO) {
        h->held[h->nheld++] =
            (struct ezr_hls_held_audio){.frame = ezr_frame_ref(f), .ms = t, .body_offset = offset};
        return 0;
    }
    return write_audio(h, f, t, offset);
}

/* Completes the part and segment in progress: the waiting video frame goes in with the duration
 * of the one before it. Returns whether there was one. */
static bool complete_in_progress(struct ezr_hls *h)
{
    if (!h->in_progress)
        return false;
    uint64_t end = ezr_hls_current_part(h)->start_ms;
    if (h->pending.frame) {
        uint32_t duration =
            h->have_video_duration ? h->last_video_duration : EZR_HLS_LONE_FRAME_MS * TICKS_PER_MS;
        uint64_t dts = h->pending.dts_ms;
        (void)flush_pending(h, duration); /* on failure the frame is lost, the segment still ends */
        (void)write_held_audio(h);
        if (dts + duration / TICKS_PER_MS > end)
            end = dts + duration / TICKS_PER_MS;
    }
    if (!h->init_has_video && h->audio_end_ms > end)
        end = h->audio_end_ms;
    ezr_hls_complete_part(h, end);
    ezr_hls_complete_segment(h, end);
    ezr_hls_trim_window(h);
    return true;
}

/* After a break, time starts afresh: the next segment is after a discontinuity, so its decode
 * times need not follow these. */
static void restart_time(struct ezr_hls *h)
{
    h->have_time = false;
    h->have_date_anchor = false;
    h->have_video_dts = false;
    h->have_audio_decode = false;
    h->last_audio_decode = 0;
    h->have_audio_ms = false;
}

static void stream_break(struct ezr_hls *h)
{
    bool was = complete_in_progress(h);
    if (h->next_msn > 0)
        h->discontinuity_next = true;
    restart_time(h);
    if (was)
        changed(h);
}

void ezr_hls_break(struct ezr_hls *h)
{
    stream_break(h);
}

void ezr_hls_end(struct ezr_hls *h)
{
    complete_in_progress(h);
    if (h->next_msn > 0)
        h->discontinuity_next = true;
    restart_time(h);
    h->ended = true;
    changed(h);
}

/* ---- sequence headers ---------------------------------------------------------------- */

static bool same_payload(const struct ezr_frame *a, const struct ezr_frame *b)
{
    return a && b && a->payload_len == b->payload_len &&
           memcmp(a->data, b->data, a->payload_len) == 0;
}

/* A header replaces the track's settings; a track HLS cannot carry (another codec) or a malformed
 * header has none. A change after media is a break: the next segment has a new init segment. */
static void push_header(struct ezr_hls *h, struct ezr_frame *f)
{
    bool video = f->kind == EZR_FRAME_VIDEO;
    struct ezr_frame **slot = video ? &h->video_header : &h->audio_header;
    if (same_payload(*slot, f))
        return;
    struct ezr_fmp4_video v;
    struct ezr_fmp4_audio a;
    int r = video ? ezr_fmp4_parse_avc_header(f->data, f->payload_len, &v)
                  : ezr_fmp4_parse_aac_header(f->data, f->payload_len, &a);
    if (r < 0 && !*slot)
        return;
    ezr_frame_unref(*slot);
    *slot = NULL;
    if (r == 0) {
        *slot = ezr_frame_ref(f);
        if (video)
            h->video = v;
        else
            h->audio = a;
    }
    h->headers_changed = true;
    if (h->in_progress)
        stream_break(h);
}

/* ---- push ---------------------------------------------------------------------------- */

/* The track's time went back further than jitter: a new timeline. */
static bool steps_back(const struct ezr_hls *h, bool video, uint64_t t)
{
    if (!h->in_progress)
        return false;
    if (video)
        return h->pending.frame && t + EZR_HLS_MAX_STEP_BACK_MS < h->pending.dts_ms;
    return h->have_audio_ms && t + EZR_HLS_MAX_STEP_BACK_MS < h->last_audio_ms;
}

int ezr_hls_push(struct ezr_hls *h, struct ezr_frame *f, uint64_t wall_ms)
{
    if (h->ended) {
        h->ended = false; /* a new run after the end: the playlist goes on after a discontinuity */
        changed(h);
    }
    if (f->kind != EZR_FRAME_VIDEO && f->kind != EZR_FRAME_AUDIO)
        return 0; /* metadata: HLS has no place for it */
    if (f->flags & EZR_FRAME_HEADER) {
        push_header(h, f);
        return 0;
    }
    bool video = f->kind == EZR_FRAME_VIDEO;
    if (!(video ? h->video_header : h->audio_header))
        return 0; /* no track: a codec HLS cannot carry, or no header yet */
    if (h->in_progress && !(video ? h->init_has_video : h->init_has_audio))
        return 0;
    size_t offset;
    int32_t cts;
    if (ezr_fmp4_sample_of(f->kind, f->data, f->payload_len, &offset, &cts) < 0)
        return 0; /* a header we did not take, an end of sequence, another codec */
    uint64_t t = extend_time(h, f->timestamp);
    if (steps_back(h, video, t)) {
        stream_break(h);
        t = extend_time(h, f->timestamp);
    }
    return video ? push_video(h, f, t, (uint32_t)offset, cts, wall_ms)
                 : push_audio(h, f, t, (uint32_t)offset, wall_ms);
}

/* ---- lookups ------------------------------------------------------------------------- */
