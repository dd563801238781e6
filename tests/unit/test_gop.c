/* The GOP cache: what a late joiner is sent, and what is kept. */
#include "ezr_test.h"

#include "ezr_frame.h"
#include "ezr_gop.h"
#include "ezr_server.h"

static struct ezr_frame *mk(enum ezr_frame_kind kind, uint32_t flags, uint32_t ts)
{
    uint8_t body[16] = {(uint8_t)ts, (uint8_t)(ts >> 8), (uint8_t)kind, (uint8_t)flags};
    return ezr_frame_new((uint8_t)kind, flags, ts, body, sizeof body, 4096);
}

static void add(struct ezr_gop *g, enum ezr_frame_kind kind, uint32_t flags, uint32_t ts)
{
    struct ezr_frame *f = mk(kind, flags, ts);
    ezr_gop_add(g, f);
    ezr_frame_unref(f);
}

struct seen {
    struct ezr_frame *f[64];
    int n;
};

static int collect(void *ctx, struct ezr_frame *f)
{
    struct seen *s = ctx;
    s->f[s->n++] = f;
    return 0;
}

EZR_TEST(test_late_joiner_starts_on_keyframe_after_headers)
{
    struct ezr_gop g;
    ezr_gop_init(&g, 1, 4096);
    add(&g, EZR_FRAME_SCRIPT, 0, 0);
    add(&g, EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 0);
    add(&g, EZR_FRAME_AUDIO, EZR_FRAME_HEADER, 0);
    add(&g, EZR_FRAME_VIDEO, 0, 10); /* before any keyframe: useless to a joiner */
    add(&g, EZR_FRAME_AUDIO, 0, 15);
    add(&g, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 40);
    add(&g, EZR_FRAME_AUDIO, 0, 45);
    add(&g, EZR_FRAME_VIDEO, 0, 73);
    struct seen s = {0};
    EZR_CHECK_EQ(ezr_gop_replay(&g, collect, &s), 0);
    EZR_CHECK_EQ(s.n, 6);
    EZR_CHECK_EQ(s.f[0]->kind, EZR_FRAME_SCRIPT);
    EZR_CHECK(s.f[1]->kind == EZR_FRAME_VIDEO && (s.f[1]->flags & EZR_FRAME_HEADER));
    EZR_CHECK(s.f[2]->kind == EZR_FRAME_AUDIO && (s.f[2]->flags & EZR_FRAME_HEADER));
    EZR_CHECK(s.f[3]->kind == EZR_FRAME_VIDEO && (s.f[3]->flags & EZR_FRAME_KEY));
    EZR_CHECK_EQ(s.f[3]->timestamp, 40);
    EZR_CHECK_EQ(s.f[4]->timestamp, 45);
    EZR_CHECK_EQ(s.f[5]->timestamp, 73);
    ezr_gop_clear(&g);
}

EZR_TEST(test_headers_are_restamped_to_gop_start_once)
{
    struct ezr_gop g;
    ezr_gop_init(&g, 1, 4096);
    add(&g, EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 0);
    add(&g, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 5000);
    struct seen a = {0}, b = {0};
    ezr_gop_replay(&g, collect, &a);
    ezr_gop_replay(&g, collect, &b);
    EZR_CHECK_EQ(a.n, 2);
    EZR_CHECK_EQ(a.f[0]->timestamp, 5000);
    /* The same restamped header object is shared by both joiners. */
    EZR_CHECK(a.f[0] == b.f[0]);
    EZR_CHECK_EQ(a.f[0]->payload_len, 16);
    EZR_CHECK_MEM(a.f[0]->data, g.video_header->data, 16);
    ezr_gop_clear(&g);
}

EZR_TEST(test_one_gop_kept_by_default)
{
    struct ezr_gop g;
    ezr_gop_init(&g, 1, 4096);
    add(&g, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 0);
    add(&g, EZR_FRAME_VIDEO, 0, 33);
    add(&g, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 66);
    add(&g, EZR_FRAME_VIDEO, 0, 99);
    EZR_CHECK_EQ(g.count, 2);
    EZR_CHECK_EQ(g.ngops, 1);
    EZR_CHECK_EQ(g.frames[0]->timestamp, 66);
    ezr_gop_clear(&g);
}

EZR_TEST(test_max_gops_two_keeps_two)
{
    struct ezr_gop g;
    ezr_gop_init(&g, 2, 4096);
    for (uint32_t k = 0; k < 4; k++) {
        add(&g, EZR_FRAME_VIDEO, EZR_FRAME_KEY, k * 100);
        add(&g, EZR_FRAME_VIDEO, 0, k * 100 + 33);
    }
    EZR_CHECK_EQ(g.count, 4);
    EZR_CHECK_EQ(g.ngops, 2);
    EZR_CHECK_EQ(g.frames[0]->timestamp, 200);
    ezr_gop_clear(&g);
}

EZR_TEST(test_new_sequence_header_replaces_old)
{
    struct ezr_gop g;
    ezr_gop_init(&g, 1, 4096);
    add(&g, EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 0);
    add(&g, EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 7);
    EZR_CHECK_EQ(g.video_header->timestamp, 7);
    EZR_CHECK(g.audio_header == NULL);
    ezr_gop_clear(&g);
    EZR_CHECK(g.video_header == NULL);
    EZR_CHECK_EQ(g.count, 0);
}

EZR_TEST(test_cache_holds_references_not_copies)
{
    struct ezr_gop g;
    ezr_gop_init(&g, 1, 4096);
    struct ezr_frame *k = mk(EZR_FRAME_VIDEO, EZR_FRAME_KEY, 0);
    ezr_gop_add(&g, k);
    EZR_CHECK(g.frames[0] == k);
    EZR_CHECK_EQ(atomic_load(&k->refs), 2);
    ezr_gop_clear(&g);
    EZR_CHECK_EQ(atomic_load(&k->refs), 1);
    ezr_frame_unref(k);
}

EZR_TEST(test_live_script_frame_is_not_cached_and_keeps_the_metadata)
{
    struct ezr_gop g;
    ezr_gop_init(&g, 1, 4096);
    struct ezr_frame *meta = mk(EZR_FRAME_SCRIPT, 0, 0);
    ezr_gop_add(&g, meta);
    add(&g, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 40);
    struct ezr_frame *cue = mk(EZR_FRAME_SCRIPT, EZR_FRAME_LIVE, 50);
    EZR_CHECK_EQ(ezr_gop_add(&g, cue), 0);
    EZR_CHECK(g.metadata == meta);
    EZR_CHECK_EQ(g.count, 1);
    EZR_CHECK_EQ(atomic_load(&cue->refs), 1); /* the cache took no reference */
    struct seen s = {0};
    EZR_CHECK_EQ(ezr_gop_replay(&g, collect, &s), 0);
    EZR_CHECK_EQ(s.n, 2);
    EZR_CHECK(s.f[0] == meta);
    EZR_CHECK_EQ(s.f[1]->timestamp, 40);
    ezr_gop_clear(&g);
    ezr_frame_unref(cue);
    ezr_frame_unref(meta);
}

EZR_TEST(test_video_metadata_packet_does_not_replace_the_video_header)
{
    struct ezr_gop g;
    ezr_gop_init(&g, 1, 4096);
    struct ezr_frame *hdr = mk(EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 0);
    ezr_gop_add(&g, hdr);
    /* Enhanced RTMP VideoPacketType.Metadata reaches the cache as plain video: no flags. */
    add(&g, EZR_FRAME_VIDEO, 0, 0);
    add(&g, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 40);
    add(&g, EZR_FRAME_VIDEO, 0, 40);
    EZR_CHECK(g.video_header == hdr);
    struct seen s = {0};
    EZR_CHECK_EQ(ezr_gop_replay(&g, collect, &s), 0);
    EZR_CHECK_EQ(s.n, 3);
    EZR_CHECK(s.f[0]->flags & EZR_FRAME_HEADER);
    EZR_CHECK_EQ(s.f[0]->payload_len, 16);
    EZR_CHECK_MEM(s.f[0]->data, hdr->data, 16);
    EZR_CHECK_EQ(s.f[1]->flags, EZR_FRAME_KEY);
    EZR_CHECK_EQ(s.f[2]->flags, 0);
    ezr_gop_clear(&g);
    ezr_frame_unref(hdr);
}

EZR_TEST_MAIN(EZR_CASE(test_late_joiner_starts_on_keyframe_after_headers),
              EZR_CASE(test_headers_are_restamped_to_gop_start_once),
              EZR_CASE(test_one_gop_kept_by_default), EZR_CASE(test_max_gops_two_keeps_two),
              EZR_CASE(test_new_sequence_header_replaces_old),
              EZR_CASE(test_cache_holds_references_not_copies),
              EZR_CASE(test_live_script_frame_is_not_cached_and_keeps_the_metadata),
              EZR_CASE(test_video_metadata_packet_does_not_replace_the_video_header))
