/* The live-edge replay (sans-I/O): exact timestamps, composition offsets and extended-timestamp
 * bytes of the retimed frames; and what the GOP cache gives a joiner under each sync-method. */
#include "ezr_test.h"

#include <stdbool.h>

#include "ezr_error.h"

#include "ezr_frame.h"
#include "ezr_gop.h"
#include "ezr_join.h"
#include "ezr_replay.h"

#define CHUNK 4096u

/* An AVC NAL-unit frame of len bytes (len >= 6): composition offset cts, payload[5] = tag. */
static struct ezr_frame *avc(bool key, uint32_t ts, int32_t cts, uint8_t tag, size_t len)
{
    static uint8_t body[20000];
    memset(body, 0x5A, len);
    uint32_t c = (uint32_t)cts & 0xFFFFFFu;
    body[0] = key ? 0x17 : 0x27;
    body[1] = 1;
    body[2] = (uint8_t)(c >> 16);
    body[3] = (uint8_t)(c >> 8);
    body[4] = (uint8_t)c;
    body[5] = tag;
    return ezr_frame_new(EZR_FRAME_VIDEO, key ? EZR_FRAME_KEY : 0, ts, body, len, CHUNK);
}

static int32_t cts_of(const struct ezr_frame *f)
{
    const uint8_t *b = f->data;
    uint32_t v = (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
    return v & 0x800000u ? (int32_t)v - 0x1000000 : (int32_t)v;
}

/* 30 fps in whole milliseconds, as flvmux writes them. */
static uint32_t at30(uint32_t base, uint32_t frame)
{
    return base + (frame * 1000u + 15u) / 30u;
}

static void unref_all(struct ezr_frame **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ezr_frame_unref(v[i]);
}

EZR_TEST(test_gop_of_4s_is_squeezed_into_120ms_ending_at_its_newest_frame)
{
    struct ezr_frame *v[120];
    for (uint32_t i = 0; i < 120; i++)
        v[i] = avc(i == 0, at30(50000, i), 0, (uint8_t)i, 64);
    uint8_t hb[8] = {0x17, 0, 0, 0, 0, 1, 2, 3};
    struct ezr_frame *vh = ezr_frame_new(EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 0, hb, 8, CHUNK);
    struct ezr_replay r;
    EZR_CHECK_EQ(ezr_replay_build(&r, v, 120, vh, NULL, 1, CHUNK), 0);
    uint32_t end = at30(50000, 119);
    EZR_CHECK_EQ(r.count, 120);
    EZR_CHECK_EQ(r.end_ts, end);
    EZR_CHECK_EQ(r.start_ts, end - 119);
    EZR_CHECK(!r.as_cached);
    for (uint32_t i = 0; i < 120; i++) {
        EZR_CHECK_EQ(r.frames[i]->timestamp, end - 119 + i);
        EZR_CHECK_EQ(r.frames[i]->flags, v[i]->flags);
        EZR_CHECK_EQ(r.frames[i]->payload_len, 64);
        EZR_CHECK_MEM(r.frames[i]->data, v[i]->data, 64); /* no composition offset: unchanged */
    }
    EZR_CHECK(r.video_header && r.video_header->timestamp == end - 119);
    EZR_CHECK(r.audio_header == NULL);
    ezr_replay_clear(&r);
    ezr_frame_unref(vh);
    unref_all(v, 120);
}

/* x264 bframes=2 in decoding order: I P B B P B B ..., presented as 0 3 1 2 6 4 5 ...; every
 * presentation time one frame after its decoding slot at the earliest, as flvmux stamps it. */
static uint32_t shown_as(uint32_t k)
{
    if (k == 0)
        return 0;
    uint32_t group = (k - 1) / 3, pos = (k - 1) % 3;
    return 3 * group + (pos == 0 ? 3 : pos);
}

EZR_TEST(test_bframe_composition_offsets_are_squeezed_alike_and_keep_presentation_order)
{
    enum { N = 121 };
    struct ezr_frame *v[N];
    for (uint32_t k = 0; k < N; k++) {
        uint32_t dts = at30(90000, k), pts = at30(90000, shown_as(k) + 1);
        v[k] = avc(k == 0, dts, (int32_t)(pts - dts), (uint8_t)k, 64);
    }
    struct ezr_replay r;
    EZR_CHECK_EQ(ezr_replay_build(&r, v, N, NULL, NULL, 1, CHUNK), 0);
    /* Decoding slot k is now 1 ms after k-1, so the frame shown p-th is shown at slot p + 1:
     * its offset is exactly (p + 1 - k) ms. A frame shown after the newest frame's time keeps
     * its own presentation time: the live frames that follow (B-frames shown before it) keep
     * theirs. */
    uint32_t end = at30(90000, N - 1);
    for (uint32_t k = 0; k < N; k++) {
        uint32_t p = shown_as(k) + 1, dts = end - (N - 1 - k);
        int32_t want = p <= N - 1 ? (int32_t)p - (int32_t)k : (int32_t)(at30(90000, p) - dts);
        EZR_CHECK_EQ(cts_of(r.frames[k]), want);
    }
    EZR_CHECK(cts_of(r.frames[N - 3]) > 33); /* the last P-frame, shown after live B-frames */
    /* Presented in the original order: the same frame is p-th both ways. */
    for (uint32_t k = 0; k < N; k++)
        for (uint32_t j = 0; j < N; j++)
            if (shown_as(j) < shown_as(k))
                EZR_CHECK(r.frames[j]->timestamp + (uint32_t)cts_of(r.frames[j]) <
                          r.frames[k]->timestamp + (uint32_t)cts_of(r.frames[k]));
    ezr_replay_clear(&r);
    unref_all(v, N);
}

/* Walks the RTMP chunks of a video frame (chunk stream 6): every chunk's header must carry the
 * timestamp as the spec says, the extended one included. Returns the chunks seen, or -1. */
static int check_chunks(struct ezr_frame *f)
{
    const struct ezr_frame_view *v;
    if (ezr_frame_view(f, EZR_VIEW_RTMP, ezr_frame_make_rtmp, NULL, &v) < 0)
        return -1;
    const uint8_t *p = v->bytes, *e = v->bytes + v->len;
    bool ext = f->timestamp >= 0xFFFFFFu;
    size_t left = f->payload_len;
    int chunks = 0;
    while (p < e) {
        if (p[0] != (chunks == 0 ? 0x06 : 0xC6))
            return -1;
        p++;
        if (chunks == 0) {
            uint32_t ts3 = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
            if (ts3 != (ext ? 0xFFFFFFu : f->timestamp))
                return -1;
            p += 11;
        }
        if (ext) {
            uint32_t ts = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
            if (ts != f->timestamp)
                return -1;
            p += 4;
        }
        size_t n = left < CHUNK ? left : CHUNK;
        p += n;
        left -= n;
        chunks++;
    }
    return p == e && left == 0 ? chunks : -1;
}

EZR_TEST(test_retimed_frames_past_0xffffff_carry_the_extended_timestamp_in_every_chunk)
{
    /* Ten frames of three chunks each, the last at 0x1000003: squeezed to 1 ms apart they lie
     * at 0xFFFFFA..0x1000003, four below the extended range and six in it (0xFFFFFF itself
     * included); the originals start 297 ms before. */
    struct ezr_frame *v[10];
    for (uint32_t i = 0; i < 10; i++)
        v[i] = avc(i == 0, 0x1000003u - 33u * (9 - i), 0, (uint8_t)i, 10000);
    struct ezr_replay r;
    EZR_CHECK_EQ(ezr_replay_build(&r, v, 10, NULL, NULL, 1, CHUNK), 0);
    for (uint32_t i = 0; i < 10; i++) {
        struct ezr_frame *f = r.frames[i];
        EZR_CHECK_EQ(f->timestamp, 0xFFFFFAu + i);
        EZR_CHECK_EQ(check_chunks(f), 3);
        EZR_CHECK_EQ(f->views[EZR_VIEW_RTMP].len,
                     10000 + 12 + 2 + (f->timestamp >= 0xFFFFFFu ? 3 * 4 : 0));
        /* The FLV tag's timestamp: low 24 bits, then the high 8. */
        const struct ezr_frame_view *flv;
        EZR_CHECK(ezr_frame_view(f, EZR_VIEW_FLV, ezr_frame_make_flv, NULL, &flv) == 1);
        const uint8_t *t = flv->bytes;
        EZR_CHECK_EQ((uint32_t)t[7] << 24 | (uint32_t)t[4] << 16 | (uint32_t)t[5] << 8 | t[6],
                     f->timestamp);
    }
    ezr_replay_clear(&r);
    unref_all(v, 10);
}

EZR_TEST(test_frames_already_dense_are_replayed_as_cached)
{
    /* A single keyframe (a stream of keyframes only), and frames 1 ms apart already. */
    struct ezr_frame *v[3] = {avc(true, 700, 0, 0, 64), avc(false, 701, 0, 1, 64),
                              avc(false, 702, 0, 2, 64)};
    struct ezr_replay r;
    EZR_CHECK_EQ(ezr_replay_build(&r, v, 1, NULL, NULL, 1, CHUNK), 0);
    EZR_CHECK(r.as_cached && r.count == 1 && r.frames[0] == v[0]);
    ezr_replay_clear(&r);
    EZR_CHECK_EQ(ezr_replay_build(&r, v, 3, NULL, NULL, 1, CHUNK), 0);
    EZR_CHECK(r.as_cached && r.frames[2] == v[2] && r.start_ts == 700);
    ezr_replay_clear(&r);
    unref_all(v, 3);
}

EZR_TEST(test_composition_offset_found_in_legacy_and_enhanced_avc_and_hevc_only)
{
    const uint8_t avc_nalu[5] = {0x27, 1, 0, 0, 33}, avc_hdr[5] = {0x17, 0, 0, 0, 0};
    const uint8_t hevc_nalu[5] = {0x2C, 1, 0, 0, 33}, vp6[5] = {0x24, 1, 2, 3, 4};
    const uint8_t ex_avc[8] = {0x91, 'a', 'v', 'c', '1', 0, 0, 33};
    const uint8_t ex_hevc_x[8] = {0x93, 'h', 'v', 'c', '1', 0, 0, 0}; /* CodedFramesX */
    const uint8_t ex_av1[8] = {0x91, 'a', 'v', '0', '1', 0, 0, 0};
    EZR_CHECK_EQ(ezr_replay_cts_offset(avc_nalu, 5), 2);
    EZR_CHECK_EQ(ezr_replay_cts_offset(hevc_nalu, 5), 2);
    EZR_CHECK_EQ(ezr_replay_cts_offset(avc_hdr, 5), 0);
    EZR_CHECK_EQ(ezr_replay_cts_offset(vp6, 5), 0);
    EZR_CHECK_EQ(ezr_replay_cts_offset(avc_nalu, 4), 0);
    EZR_CHECK_EQ(ezr_replay_cts_offset(ex_avc, 8), 5);
    EZR_CHECK_EQ(ezr_replay_cts_offset(ex_avc, 7), 0);
    EZR_CHECK_EQ(ezr_replay_cts_offset(ex_hevc_x, 8), 0);
    EZR_CHECK_EQ(ezr_replay_cts_offset(ex_av1, 8), 0);
}

/* ---- the GOP cache under each sync-method ------------------------------------------------ */

static void add(struct ezr_gop *g, enum ezr_frame_kind kind, uint32_t flags, uint32_t ts)
{
    struct ezr_frame *f = kind == EZR_FRAME_VIDEO && !(flags & EZR_FRAME_HEADER)
                              ? avc(flags & EZR_FRAME_KEY, ts, 0, (uint8_t)ts, 16)
                              : ezr_frame_new((uint8_t)kind, flags, ts, (const uint8_t *)"\xaf\0hdr",
                                              5, CHUNK);
    ezr_gop_add(g, f);
    ezr_frame_unref(f);
}

struct seen {
    struct ezr_frame *f[256];
    int n;
};

static int collect(void *ctx, struct ezr_frame *f)
{
    struct seen *s = ctx;
    s->f[s->n++] = f;
    return 0;
}

/* Metadata, both headers, a GOP at 1000 of video every 33 ms and audio every 23 ms to 2000. */
static void fill(struct ezr_gop *g, uint32_t max_gops)
{
    ezr_gop_init(g, max_gops, CHUNK);
    add(g, EZR_FRAME_SCRIPT, 0, 0);
    add(g, EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 0);
    add(g, EZR_FRAME_AUDIO, EZR_FRAME_HEADER, 0);
    for (uint32_t t = 1000, a = 1000; t <= 2000; t += 33) {
        add(g, EZR_FRAME_VIDEO, t == 1000 ? EZR_FRAME_KEY : 0, t);
        for (; a < t + 33 && a <= 2000; a += 23)
            add(g, EZR_FRAME_AUDIO, 0, a);
    }
}

EZR_TEST(test_live_edge_joiners_of_one_moment_share_one_replay_of_video_only)
{
    struct ezr_gop g;
    fill(&g, 1);
    struct seen a = {0}, b = {0}, c = {0};
    EZR_CHECK_EQ(ezr_gop_join(&g, EZR_SYNC_LIVE_EDGE, collect, &a), 0);
    /* metadata, two headers at the window's start, 31 video frames (1000..1990) 1 ms apart. */
    EZR_CHECK_EQ(a.n, 3 + 31);
    EZR_CHECK_EQ(a.f[0]->kind, EZR_FRAME_SCRIPT);
    EZR_CHECK_EQ(a.f[1]->timestamp, 1990 - 30);
    EZR_CHECK_EQ(a.f[2]->timestamp, 1990 - 30);
    EZR_CHECK(a.f[2]->kind == EZR_FRAME_AUDIO && (a.f[2]->flags & EZR_FRAME_HEADER));
    for (int i = 0; i < 31; i++) {
        EZR_CHECK_EQ(a.f[3 + i]->kind, EZR_FRAME_VIDEO);
        EZR_CHECK_EQ(a.f[3 + i]->timestamp, 1960 + (uint32_t)i);
    }
    EZR_CHECK_EQ(g.replays_built, 1);
    add(&g, EZR_FRAME_AUDIO, 0, 2001); /* audio is not replayed: the moment stays */
    EZR_CHECK_EQ(ezr_gop_join(&g, EZR_SYNC_LIVE_EDGE, collect, &b), 0);
    EZR_CHECK_EQ(g.replays_built, 1);
    EZR_CHECK_EQ(b.n, a.n);
    EZR_CHECK_MEM(b.f, a.f, sizeof a.f[0] * (size_t)a.n); /* the same frames, not copies */
    add(&g, EZR_FRAME_VIDEO, 0, 2023); /* a new moment */
    EZR_CHECK_EQ(ezr_gop_join(&g, EZR_SYNC_LIVE_EDGE, collect, &c), 0);
    EZR_CHECK_EQ(g.replays_built, 2);
    EZR_CHECK_EQ(c.n, 3 + 32);
    EZR_CHECK_EQ(c.f[3 + 31]->timestamp, 2023);
    EZR_CHECK_EQ(c.f[3]->timestamp, 2023 - 31);
    ezr_gop_clear(&g);
    EZR_CHECK_EQ(g.replays_built, 2); /* a count since init, not of what is cached */
}

EZR_TEST(test_latest_keyframe_replays_the_cache_and_next_keyframe_only_headers)
{
    struct ezr_gop g;
    fill(&g, 1);
    struct seen a = {0}, b = {0};
    EZR_CHECK_EQ(ezr_gop_join(&g, EZR_SYNC_LATEST_KEYFRAME, collect, &a), 0);
    EZR_CHECK_EQ(a.n, 3 + (int)g.count);
    EZR_CHECK_EQ(a.f[3]->timestamp, 1000);
    EZR_CHECK(a.f[3 + g.count - 1] == g.frames[g.count - 1]);
    EZR_CHECK_EQ(ezr_gop_join(&g, EZR_SYNC_NEXT_KEYFRAME, collect, &b), 0);
    EZR_CHECK_EQ(b.n, 3);
    EZR_CHECK_EQ(b.f[0]->kind, EZR_FRAME_SCRIPT);
    EZR_CHECK(b.f[1]->flags & EZR_FRAME_HEADER);
    EZR_CHECK(b.f[2]->flags & EZR_FRAME_HEADER);
    EZR_CHECK_EQ(g.replays_built, 0);
    ezr_gop_clear(&g);
}

EZR_TEST(test_live_edge_with_three_gops_cached_replays_the_newest_only)
{
    struct ezr_gop g;
    ezr_gop_init(&g, 3, CHUNK);
    add(&g, EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 0);
    for (uint32_t i = 0; i < 30; i++)
        add(&g, EZR_FRAME_VIDEO, i % 10 == 0 ? EZR_FRAME_KEY : 0, 100 * i);
    EZR_CHECK_EQ(g.ngops, 3);
    struct seen a = {0};
    EZR_CHECK_EQ(ezr_gop_join(&g, EZR_SYNC_LIVE_EDGE, collect, &a), 0);
    EZR_CHECK_EQ(a.n, 1 + 10); /* the header, then frames 20..29 */
    EZR_CHECK(a.f[1]->flags & EZR_FRAME_KEY);
    EZR_CHECK_EQ(a.f[1]->timestamp, 2900 - 9);
    EZR_CHECK_EQ(a.f[10]->timestamp, 2900);
    ezr_gop_clear(&g);
}

EZR_TEST(test_live_edge_of_keyframes_only_gives_the_newest_keyframe_as_it_is)
{
    struct ezr_gop g;
    ezr_gop_init(&g, 1, CHUNK);
    for (uint32_t i = 0; i < 5; i++)
        add(&g, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 500 * i);
    struct seen a = {0};
    EZR_CHECK_EQ(ezr_gop_join(&g, EZR_SYNC_LIVE_EDGE, collect, &a), 0);
    EZR_CHECK_EQ(a.n, 1);
    EZR_CHECK(a.f[0] == g.frames[0] && a.f[0]->timestamp == 2000);
    ezr_gop_clear(&g);
}

EZR_TEST(test_live_edge_of_audio_only_gives_metadata_and_header_then_live_audio)
{
    struct ezr_gop g;
    ezr_gop_init(&g, 1, CHUNK);
    add(&g, EZR_FRAME_SCRIPT, 0, 0);
    add(&g, EZR_FRAME_AUDIO, EZR_FRAME_HEADER, 0);
    for (uint32_t t = 0; t < 1000; t += 23)
        add(&g, EZR_FRAME_AUDIO, 0, t);
    struct seen a = {0};
    EZR_CHECK_EQ(ezr_gop_join(&g, EZR_SYNC_LIVE_EDGE, collect, &a), 0);
    EZR_CHECK_EQ(a.n, 2);
    EZR_CHECK_EQ(a.f[0]->kind, EZR_FRAME_SCRIPT);
    EZR_CHECK(a.f[1]->kind == EZR_FRAME_AUDIO && (a.f[1]->flags & EZR_FRAME_HEADER));
    EZR_CHECK_EQ(g.replays_built, 0);
    ezr_gop_clear(&g);
}

EZR_TEST(test_sync_method_from_the_play_query)
{
    enum ezr_sync_method m;
    EZR_CHECK_EQ(ezr_join_method_from_query("stream", EZR_SYNC_NEXT_KEYFRAME, &m), 0);
    EZR_CHECK_EQ(m, EZR_SYNC_NEXT_KEYFRAME);
    EZR_CHECK_EQ(ezr_join_method_from_query("stream?token=a&sync-method=latest-keyframe",
                                            EZR_SYNC_LIVE_EDGE, &m),
                 0);
    EZR_CHECK_EQ(m, EZR_SYNC_LATEST_KEYFRAME);
    EZR_CHECK_EQ(ezr_join_method_from_query("stream?sync-method=next-keyframe&token=a",
                                            EZR_SYNC_LIVE_EDGE, &m),
                 0);
    EZR_CHECK_EQ(m, EZR_SYNC_NEXT_KEYFRAME);
    EZR_CHECK_EQ(ezr_join_method_from_query("s?sync-method=live-edge", EZR_SYNC_NEXT_KEYFRAME, &m),
                 0);
    EZR_CHECK_EQ(m, EZR_SYNC_LIVE_EDGE);
    EZR_CHECK_EQ(ezr_join_method_from_query("s?sync-method=latest", EZR_SYNC_LIVE_EDGE, &m),
                 EZR_EINVAL);
    EZR_CHECK_EQ(ezr_join_method_from_query("s?sync-method=", EZR_SYNC_LIVE_EDGE, &m), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_join_method_from_query(
                     "s?sync-method=live-edge-live-edge-live-edge-live-edge", EZR_SYNC_LIVE_EDGE,
                     &m),
                 EZR_EINVAL);
    EZR_CHECK_EQ(ezr_join_method_parse("Live-Edge"), -1);
    EZR_CHECK(strcmp(ezr_join_method_name(EZR_SYNC_LATEST_KEYFRAME), "latest-keyframe") == 0);
}

EZR_TEST_MAIN(EZR_CASE(test_gop_of_4s_is_squeezed_into_120ms_ending_at_its_newest_frame),
              EZR_CASE(test_bframe_composition_offsets_are_squeezed_alike_and_keep_presentation_order),
              EZR_CASE(test_retimed_frames_past_0xffffff_carry_the_extended_timestamp_in_every_chunk),
              EZR_CASE(test_frames_already_dense_are_replayed_as_cached),
              EZR_CASE(test_composition_offset_found_in_legacy_and_enhanced_avc_and_hevc_only),
              EZR_CASE(test_live_edge_joiners_of_one_moment_share_one_replay_of_video_only),
              EZR_CASE(test_latest_keyframe_replays_the_cache_and_next_keyframe_only_headers),
              EZR_CASE(test_live_edge_with_three_gops_cached_replays_the_newest_only),
              EZR_CASE(test_live_edge_of_keyframes_only_gives_the_newest_keyframe_as_it_is),
              EZR_CASE(test_live_edge_of_audio_only_gives_metadata_and_header_then_live_audio),
              EZR_CASE(test_sync_method_from_the_play_query))
