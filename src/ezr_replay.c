/* Live-edge replays; see ezr_replay.h. */
#include "ezr_replay.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_error.h"

/* Enhanced RTMP (the ExVideoTagHeader): IsExHeader in the top bit, the packet type in the low
 * four; CodedFrames (1) of AVC and HEVC carry the offset after the FourCC, CodedFramesX (3)
 * none. */
#define EX_HEADER 0x80u
#define EX_CODED_FRAMES 1u
#define LEGACY_AVC 7u
#define LEGACY_HEVC 12u
#define AVC_NALU 1u

size_t ezr_replay_cts_offset(const uint8_t *b, size_t len)
{
    if (len < 5 || ((b[0] & EX_HEADER) && len < 8))
        return 0;
    if (b[0] & EX_HEADER) {
        bool avc_or_hevc = memcmp(b + 1, "avc1", 4) == 0 || memcmp(b + 1, "hvc1", 4) == 0;
        return (b[0] & 0x0Fu) == EX_CODED_FRAMES && avc_or_hevc ? 5 : 0;
    }
    unsigned codec = b[0] & 0x0Fu;
    return (codec == LEGACY_AVC || codec == LEGACY_HEVC) && b[1] == AVC_NALU ? 2 : 0;
}

static int32_t get_si24(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    return v & 0x800000u ? (int32_t)v - 0x1000000 : (int32_t)v;
}

static void put_si24(uint8_t *p, int64_t v)
{
    if (v > 0x7FFFFF)
        v = 0x7FFFFF;
    if (v < -0x800000)
        v = -0x800000;
    uint32_t u = (uint32_t)v & 0xFFFFFFu;
    p[0] = (uint8_t)(u >> 16);
    p[1] = (uint8_t)(u >> 8);
    p[2] = (uint8_t)u;
}

/* The squeeze as a function of time: the original decoding times d[0..n) go to
 * start + i * step, times between two of them in proportion, times before the GOP at the GOP's
 * average rate, and times past its newest frame stay as they are: the live frames that follow
 * keep theirs, and a replayed frame shown after some of them (a P-frame's, past the B-frames
 * that come live) must still be. It never decreases, so presentation order is kept. */
struct squeeze {
    struct ezr_frame *const *v;
    size_t n;
    uint32_t start, step;
    int64_t window, span; /* outside the GOP: window new ms per span original ms */
};

/* num / den rounded to the nearest, for den > 0 and num of either sign. */
static int64_t div_round(int64_t num, int64_t den)
{
    return num >= 0 ? (2 * num + den) / (2 * den) : -((-2 * num + den) / (2 * den));
}

static int64_t squeeze_at(const struct squeeze *sq, int64_t t, size_t hint)
{
    int64_t d0 = sq->v[0]->timestamp, dl = sq->v[sq->n - 1]->timestamp;
    if (t <= d0)
        return sq->start + div_round((t - d0) * sq->window, sq->span);
    if (t >= dl)
        return t; /* the newest frame keeps its time: the squeeze ends there */
    /* d[j] <= t < d[j+1]; a composition offset is a few frames, so walk from the frame's own. */
    size_t j = hint;
    while (j > 0 && (int64_t)sq->v[j]->timestamp > t)
        j--;
    while (j + 1 < sq->n && (int64_t)sq->v[j + 1]->timestamp <= t)
        j++;
    int64_t dj = sq->v[j]->timestamp, span = (int64_t)sq->v[j + 1]->timestamp - dj;
    return (int64_t)sq->start + (int64_t)j * sq->step + div_round((t - dj) * sq->step, span);
}

/* The payload of f with its composition offset (if any) mapped, in a new frame at ts; buf is
 * scratch room of at least f->payload_len bytes. */
static struct ezr_frame *retimed(const struct ezr_frame *f, uint32_t ts, const struct squeeze *sq,
                                 size_t i, uint8_t *buf, uint32_t chunk_size)
{
    memcpy(buf, f->data, f->payload_len);
    size_t at = sq ? ezr_replay_cts_offset(buf, f->payload_len) : 0;
    if (at) {
        int32_t cts = get_si24(buf + at);
        if (cts)
            put_si24(buf + at, squeeze_at(sq, (int64_t)f->timestamp + cts, i) - (int64_t)ts);
    }
    return ezr_frame_new(f->kind, f->flags, ts, buf, f->payload_len, chunk_size);
}

/* A header at ts: the cached one when it is stamped so already. */
static int stamp_header(struct ezr_frame **slot, struct ezr_frame *h, uint32_t ts, uint8_t **buf,
                        size_t *cap, uint32_t chunk_size)
{
    if (!h)
        return 0;
    if (h->timestamp == ts) {
        *slot = ezr_frame_ref(h);
        return 0;
    }
    if (h->payload_len > *cap) {
        uint8_t *p = ezr_realloc(*buf, h->payload_len);
        if (!p)
            return EZR_ENOMEM;
        *buf = p;
        *cap = h->payload_len;
    }
    *slot = retimed(h, ts, NULL, 0, *buf, chunk_size);
    return *slot ? 0 : EZR_ENOMEM;
}

int ezr_replay_build(struct ezr_replay *r, struct ezr_frame *const *video, size_t n,
                     struct ezr_frame *video_header, struct ezr_frame *audio_header,
                     uint32_t step_ms, uint32_t chunk_size)
{
    memset(r, 0, sizeof *r);
    if (n == 0)
        return EZR_EINVAL;
    uint32_t d0 = video[0]->timestamp, end = video[n - 1]->timestamp;
    uint64_t window = (uint64_t)(n - 1) * step_ms;
    /* Already as dense as the window (a stream of keyframes only, a GOP of one frame), or
     * running backwards (the 32-bit wrap after 49 days): nothing to squeeze. */
    r->as_cached = end < d0 || (uint64_t)(end - d0) <= window;
    r->start_ts = r->as_cached ? d0 : end - (uint32_t)window;
    r->end_ts = end;
    r->frames = ezr_malloc(n * sizeof *r->frames);
    size_t cap = 0;
    for (size_t i = 0; i < n; i++)
        if (!r->as_cached && video[i]->payload_len > cap)
            cap = video[i]->payload_len;
    uint8_t *buf = ezr_malloc(cap ? cap : 1);
    if (!r->frames || !buf)
        goto fail;
    struct squeeze sq = {video, n, r->start_ts, step_ms, (int64_t)window,
                         end > d0 ? (int64_t)(end - d0) : 1};
    for (size_t i = 0; i < n; i++) {
        if (r->as_cached)
            r->frames[i] = ezr_frame_ref(video[i]);
        else
            r->frames[i] = retimed(video[i], sq.start + (uint32_t)(i * step_ms), &sq, i, buf,
                                   chunk_size);
        if (!r->frames[i])
            goto fail;
        r->count++;
    }
    if (stamp_header(&r->video_header, video_header, r->start_ts, &buf, &cap, chunk_size) < 0 ||
        stamp_header(&r->audio_header, audio_header, r->start_ts, &buf, &cap, chunk_size) < 0)
        goto fail;
    free(buf);
    return 0;
fail:
    free(buf);
    ezr_replay_clear(r);
    return EZR_ENOMEM;
}

void ezr_replay_clear(struct ezr_replay *r)
{
    for (size_t i = 0; i < r->count; i++)
        ezr_frame_unref(r->frames[i]);
    free(r->frames);
    ezr_frame_unref(r->video_header);
    ezr_frame_unref(r->audio_header);
    memset(r, 0, sizeof *r);
}
