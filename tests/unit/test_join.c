/* A late joiner over a real socket under each sync-method, with the players of test_player.h:
 * what it receives, in order, with which timestamps; a method asked for in the play name; an
 * unknown one refused saying why; one replay per join moment in the stats. */
#include "ezr_test.h"

#include <string.h> /* memmem: meson builds with _GNU_SOURCE */

#include "ezr_error.h"
#include "ezr_proto.h"
#include "ezr_server.h"
#include "server_fixture.h"

/* A server with the stream live/stream at the defaults (live-edge). */
static struct ezr_server *start(struct ezr_stream **st)
{
    struct ezr_server_config cfg;
    test_server_config(&cfg);
    return start_live_stream(&cfg, st);
}

static void push_audio_header(struct ezr_stream *st)
{
    const uint8_t asc[4] = {0xAF, 0, 0x12, 0x10};
    ezr_stream_push(st, EZR_FRAME_AUDIO, EZR_FRAME_HEADER, 0, asc, sizeof asc);
}

/* Headers, then a GOP from a keyframe at 1000: video every 33 ms (tag = index), audio every
 * 23 ms, up to 1000 + 33 * last. */
static void push_gop(struct ezr_stream *st, uint32_t last)
{
    push_video(st, EZR_FRAME_HEADER, 0, 0xAA);
    push_audio_header(st);
    uint32_t a = 1000;
    for (uint32_t i = 0; i <= last; i++) {
        uint32_t t = 1000 + 33 * i;
        push_video(st, i == 0 ? EZR_FRAME_KEY : 0, t, (uint8_t)i);
        for (; a < t + 33; a += 23)
            push_audio(st, a, 0);
    }
}

static bool is_video_header(const struct player *p)
{
    return p->type == EZR_MSG_VIDEO && p->payload[0] == 0x17 && p->payload[1] == 0;
}

static bool is_audio_header(const struct player *p)
{
    return p->type == EZR_MSG_AUDIO && p->payload[1] == 0;
}

EZR_TEST(test_live_edge_joiner_gets_the_gop_retimed_to_end_at_live_then_live_frames)
{
    struct ezr_stream *st;
    struct ezr_server *s = start(&st);
    EZR_CHECK(s != NULL);
    push_gop(st, 105); /* 3.5 s into a GOP: 106 frames, the newest at 4465 */
    struct player p;
    int ok = player_open(&p, ezr_server_port(s), "live", "stream", 0) == 0; /* the default */
    uint64_t dl = mono_ms() + DEADLINE_MS;
    ok = ok && next_media(&p, dl) == 0 && p.type == EZR_MSG_DATA_AMF0; /* |RtmpSampleAccess */
    uint32_t start = 4465 - 105;
    ok = ok && next_media(&p, dl) == 0 && is_video_header(&p) && p.ts == start;
    ok = ok && next_media(&p, dl) == 0 && is_audio_header(&p) && p.ts == start;
    /* Video only, 1 ms apart, the keyframe first and the newest at its own time. */
    for (uint32_t i = 0; ok && i <= 105; i++)
        ok = next_media(&p, dl) == 0 && p.type == EZR_MSG_VIDEO && p.payload[5] == (uint8_t)i &&
             p.ts == start + i && (i > 0 || p.payload[0] == 0x17);
    /* Then live audio and video at their own times. */
    push_audio(st, 4480, 7);
    push_video(st, 0, 4498, 106);
    ok = ok && next_media(&p, dl) == 0 && p.type == EZR_MSG_AUDIO && p.ts == 4480 &&
         p.payload[2] == 7;
    ok = ok && next_media(&p, dl) == 0 && p.type == EZR_MSG_VIDEO && p.ts == 4498 &&
         p.payload[5] == 106;
    player_close(&p);
    ezr_server_free(s);
    EZR_CHECK(ok);
}

EZR_TEST(test_next_keyframe_joiner_gets_headers_then_audio_and_video_from_the_next_keyframe)
{
    struct ezr_stream *st;
    struct ezr_server *s = start(&st);
    EZR_CHECK(s != NULL);
    push_gop(st, 20);
    struct player p;
    int ok = player_open(&p, ezr_server_port(s), "live", "stream?sync-method=next-keyframe", 0) ==
             0;
    uint64_t dl = mono_ms() + DEADLINE_MS;
    ok = ok && next_media(&p, dl) == 0 && p.type == EZR_MSG_DATA_AMF0;
    ok = ok && next_media(&p, dl) == 0 && is_video_header(&p) && p.ts == 1000;
    ok = ok && next_media(&p, dl) == 0 && is_audio_header(&p);
    /* Joined: what comes before the next keyframe is not sent, audio included. */
    push_audio(st, 1700, 1);
    push_video(st, 0, 1700, 21);
    push_audio(st, 1720, 2);
    push_video(st, EZR_FRAME_KEY, 1733, 22);
    push_audio(st, 1740, 3);
    ok = ok && next_media(&p, dl) == 0 && p.type == EZR_MSG_VIDEO && p.payload[0] == 0x17 &&
         p.payload[5] == 22 && p.ts == 1733;
    ok = ok && next_media(&p, dl) == 0 && p.type == EZR_MSG_AUDIO && p.payload[2] == 3;
    struct ezr_stream_stats stats;
    ok = ok && ezr_stream_get_stats(st, &stats, NULL, NULL, DEADLINE_MS) == 0;
    player_close(&p);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK_EQ(stats.frames_dropped[0], 3); /* normal level: waiting for the keyframe */
    EZR_CHECK_EQ(stats.replays_built, 0);
}

EZR_TEST(test_next_keyframe_on_audio_only_stream_starts_at_live_audio)
{
    struct ezr_stream *st;
    struct ezr_server *s = start(&st);
    EZR_CHECK(s != NULL);
    push_audio_header(st);
    push_audio(st, 0, 0);
    struct player p;
    int ok = player_open(&p, ezr_server_port(s), "live", "stream?sync-method=next-keyframe", 0) ==
             0;
    uint64_t dl = mono_ms() + DEADLINE_MS;
    ok = ok && next_media(&p, dl) == 0 && p.type == EZR_MSG_DATA_AMF0;
    ok = ok && next_media(&p, dl) == 0 && is_audio_header(&p);
    push_audio(st, 23, 9);
    ok = ok && next_media(&p, dl) == 0 && p.type == EZR_MSG_AUDIO && p.payload[2] == 9;
    player_close(&p);
    ezr_server_free(s);
    EZR_CHECK(ok);
}

EZR_TEST(test_unknown_sync_method_refused_with_play_failed_saying_why)
{
    struct ezr_stream *st;
    struct ezr_server *s = start(&st);
    EZR_CHECK(s != NULL);
    struct player p;
    int ok = player_open(&p, ezr_server_port(s), "live", "stream?sync-method=fastest", 0) == 0;
    uint64_t dl = mono_ms() + DEADLINE_MS;
    bool failed = false;
    while (ok && !failed && next_msg(&p, dl) == 0)
        failed = p.type == EZR_MSG_COMMAND_AMF0 &&
                 memmem(p.payload, p.len, "NetStream.Play.Failed", 21) &&
                 memmem(p.payload, p.len, "Unknown sync-method", 19);
    bool closed = failed && next_msg(&p, dl) < 0;
    player_close(&p);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK(failed);
    EZR_CHECK(closed);
}

EZR_TEST(test_joiners_of_one_moment_share_one_replay_and_latest_keyframe_builds_none)
{
    struct ezr_stream *st;
    struct ezr_server *s = start(&st);
    EZR_CHECK(s != NULL);
    push_gop(st, 30);
    struct player p[4];
    const char *names[4] = {"stream", "stream?sync-method=live-edge",
                            "stream?sync-method=latest-keyframe", "stream"};
    /* The keyframe's time: 30 frames squeezed to end at 1990, the cache as it is, then 31. */
    const uint32_t key_ts[4] = {1990 - 30, 1990 - 30, 1000, 2023 - 31};
    bool ok = true;
    uint64_t dl = mono_ms() + DEADLINE_MS;
    for (int i = 0; i < 4; i++) {
        ok = player_open(&p[i], ezr_server_port(s), "live", names[i], 0) == 0 && ok;
        /* Joined once its keyframe is in: the sample access, two headers, the keyframe. */
        for (int m = 0; ok && m < 4; m++)
            ok = next_media(&p[i], dl) == 0;
        ok = ok && p[i].type == EZR_MSG_VIDEO && p[i].payload[0] == 0x17 &&
             p[i].ts == key_ts[i];
        if (i == 2)
            push_video(st, 0, 2023, 31); /* a new moment for the last joiner */
    }
    struct ezr_stream_stats stats;
    ok = ok && ezr_stream_get_stats(st, &stats, NULL, NULL, DEADLINE_MS) == 0;
    for (int i = 0; i < 4; i++)
        player_close(&p[i]);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK_EQ(stats.replays_built, 2);
}

EZR_TEST_MAIN(
    EZR_CASE(test_live_edge_joiner_gets_the_gop_retimed_to_end_at_live_then_live_frames),
    EZR_CASE(test_next_keyframe_joiner_gets_headers_then_audio_and_video_from_the_next_keyframe),
    EZR_CASE(test_next_keyframe_on_audio_only_stream_starts_at_live_audio),
    EZR_CASE(test_unknown_sync_method_refused_with_play_failed_saying_why),
    EZR_CASE(test_joiners_of_one_moment_share_one_replay_and_latest_keyframe_builds_none))
