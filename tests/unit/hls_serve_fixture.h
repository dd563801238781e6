/* What the tests of LL-HLS served over sockets share (unit/hls_serve, unit/hls_group): media
 * pushed as the element pushes it, a stats field awaited, a GET answered. */
#ifndef HLS_SERVE_FIXTURE_H
#define HLS_SERVE_FIXTURE_H

#include <poll.h>
#include <stddef.h>

#include "ezr_server.h"
#include "hls_fixture.h"
#include "http_test_client.h"
#include "server_fixture.h"

/* The sequence headers of hls_fixture.h. */
static inline void push_headers(struct ezr_stream *st)
{
    ezr_stream_push(st, EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 0, hls_avc_header,
                    sizeof hls_avc_header);
    ezr_stream_push(st, EZR_FRAME_AUDIO, EZR_FRAME_HEADER, 0, hls_aac_header,
                    sizeof hls_aac_header);
}

/* Video at 30 fps with a keyframe every second, and AAC frames (23 ms), in time order, for
 * [from, to) ms. */
static inline void push_media_gop(struct ezr_stream *st, uint32_t from, uint32_t to,
                                  uint32_t gop_frames)
{
    uint32_t v = (from * 30u + 999u) / 1000u, a = (from * 1000u + 22u) / 23u;
    for (;;) {
        uint32_t vt = v * 1000u / 30u, at = a * 23u;
        if (vt >= to && at >= to)
            break;
        struct ezr_frame *f =
            vt <= at ? hls_video(vt, v % gop_frames == 0, 0, 200) : hls_audio(at);
        ezr_stream_push(st, (enum ezr_frame_kind)f->kind, f->flags, f->timestamp, f->data,
                        f->payload_len);
        ezr_frame_unref(f);
        if (vt <= at)
            v++;
        else
            a++;
    }
}

static inline void push_media(struct ezr_stream *st, uint32_t from, uint32_t to)
{
    push_media_gop(st, from, to, 30u);
}

/* Polls the stream's stats until field >= want (or == want with exact), or the deadline. */
static inline bool wait_stat(struct ezr_stream *st, size_t offset, uint64_t want, bool exact)
{
    for (uint64_t dl = mono_ms() + DEADLINE_MS;;) {
        struct ezr_stream_stats s;
        if (ezr_stream_get_stats(st, &s, NULL, NULL, DEADLINE_MS) < 0)
            return false;
        uint64_t v = *(const uint64_t *)((const char *)&s + offset);
        if (exact ? v == want : v >= want)
            return true;
        if (mono_ms() >= dl)
            return false;
        poll(NULL, 0, 10);
    }
}
#define WAIT_STAT(st, field, want, exact)                                                          \
    wait_stat(st, offsetof(struct ezr_stream_stats, field), want, exact)

static inline int get(struct http_client *h, const char *path, struct http_answer *a)
{
    if (!http_client_get(h, path))
        return -1;
    return http_client_answer(h, a, mono_ms() + DEADLINE_MS);
}

#endif
