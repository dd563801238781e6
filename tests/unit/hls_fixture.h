/* Frames for the LL-HLS muxer's tests, with the real FLV body layout: an AVC sequence header and an
 * AAC AudioSpecificConfig taken from an ffmpeg-made FLV (libx264 baseline 320x240, AAC-LC 44.1
 * kHz), AVC NALU packets with their composition time, AAC raw frames; and a reader of the boxes
 * in a sample's fragment header. */
#ifndef HLS_FIXTURE_H
#define HLS_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ezr_frame.h"
#include "ezr_hls.h"
#include "flv_fixture.h"

#define hls_avc_header flv_avc_hdr_320x240
static const uint8_t hls_aac_header[] = {0xaf, 0x00, 0x12, 0x08, 0x56, 0xe5, 0x00};

#define HLS_WALL0 1765000000000ull /* 2025-12-06T05:46:40.000Z */

struct hls_events {
    int samples_added;
    int changed;
};

static void hls_on_sample(void *ctx, const struct ezr_hls_part *p)
{
    (void)p;
    ((struct hls_events *)ctx)->samples_added++;
}

static void hls_on_changed(void *ctx)
{
    ((struct hls_events *)ctx)->changed++;
}

static const struct ezr_hls_ops hls_ops = {hls_on_sample, hls_on_changed};

static inline struct ezr_hls *hls_new(uint32_t part_ms, uint32_t segment_ms, uint32_t window,
                                      struct hls_events *ev)
{
    struct ezr_hls_config cfg = {part_ms, segment_ms, window, "t1"};
    struct ezr_hls *h = NULL;
    ezr_hls_new(&cfg, ev ? &hls_ops : NULL, ev, &h);
    return h;
}

/* An AVC NALU packet: 5-byte header with cts, then one length-prefixed NAL unit of n bytes. */
static inline struct ezr_frame *hls_video(uint32_t ts, bool key, int32_t cts, size_t n)
{
    uint8_t body[5 + 4 + 256];
    if (n > 256)
        n = 256;
    body[0] = key ? 0x17 : 0x27;
    body[1] = 0x01;
    body[2] = (uint8_t)((uint32_t)cts >> 16);
    body[3] = (uint8_t)((uint32_t)cts >> 8);
    body[4] = (uint8_t)cts;
    body[5] = 0;
    body[6] = 0;
    body[7] = (uint8_t)(n >> 8);
    body[8] = (uint8_t)n;
    for (size_t i = 0; i < n; i++)
        body[9 + i] = (uint8_t)(key ? 0x65 : 0x41) + (uint8_t)i;
    return ezr_frame_new(EZR_FRAME_VIDEO, key ? EZR_FRAME_KEY : 0, ts, body, 9 + n, 4096);
}

static inline struct ezr_frame *hls_audio(uint32_t ts)
{
    uint8_t body[2 + 32] = {0xaf, 0x01};
    for (size_t i = 2; i < sizeof body; i++)
        body[i] = (uint8_t)(ts + i);
    return ezr_frame_new(EZR_FRAME_AUDIO, 0, ts, body, sizeof body, 4096);
}

static inline struct ezr_frame *hls_header(bool video)
{
    return video ? ezr_frame_new(EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 0, hls_avc_header,
                                 sizeof hls_avc_header, 4096)
                 : ezr_frame_new(EZR_FRAME_AUDIO, EZR_FRAME_HEADER, 0, hls_aac_header,
                                 sizeof hls_aac_header, 4096);
}

/* Pushes f (dropping the test's reference) as if it entered the sink at HLS_WALL0 + its time. */
static inline int hls_push(struct ezr_hls *h, struct ezr_frame *f)
{
    int r = ezr_hls_push(h, f, HLS_WALL0 + f->timestamp);
    ezr_frame_unref(f);
    return r;
}

/* Video at fps from frame `from` to frame `to` (excluded), a keyframe every gop frames. */
static inline void hls_push_video(struct ezr_hls *h, unsigned fps, unsigned gop, unsigned from,
                                  unsigned to)
{
    for (unsigned i = from; i < to; i++)
        hls_push(h, hls_video((uint32_t)((uint64_t)i * 1000u / fps), i % gop == 0, 0, 16));
}

/* The box named type inside bytes (searched, not walked: the names do not occur in our
 * headers' numbers), or NULL. Points at its size field. */
static inline const uint8_t *hls_box(const uint8_t *b, size_t len, const char *type)
{
    for (size_t i = 4; i + 4 <= len; i++)
        if (memcmp(b + i, type, 4) == 0)
            return b + i - 4;
    return NULL;
}

static inline uint32_t hls_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t hls_be64(const uint8_t *p)
{
    return (uint64_t)hls_be32(p) << 32 | hls_be32(p + 4);
}

/* tfdt's 64-bit decode time of a sample's fragment header. */
static inline uint64_t hls_tfdt(const struct ezr_hls_sample *s)
{
    const struct ezr_frame_view *v = &s->frame->views[EZR_VIEW_CMAF];
    const uint8_t *b = hls_box(v->bytes, v->len, "tfdt");
    return b ? hls_be64(b + 12) : UINT64_MAX;
}

/* The one trun entry's fields: duration (0), size (1), flags (2), composition offset (3). */
static inline uint32_t hls_trun(const struct ezr_hls_sample *s, int field)
{
    const struct ezr_frame_view *v = &s->frame->views[EZR_VIEW_CMAF];
    const uint8_t *b = hls_box(v->bytes, v->len, "trun");
    return b ? hls_be32(b + 20 + 4 * field) : UINT32_MAX;
}

#endif
