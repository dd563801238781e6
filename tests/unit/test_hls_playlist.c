/* The LL-HLS muxer's playlist (whole texts compared), delta updates, blocking reload checks, and
 * the parsers of queries and names. */
#include "ezr_test.h"

#include "ezr_buf.h"
#include "ezr_error.h"
#include "hls_fixture.h"

/* The playlist as a NUL-terminated string in b (freed by the caller), or NULL. */
static const char *render(const struct ezr_hls *h, bool skip, struct ezr_buf *b)
{
    ezr_buf_init(b);
    if (ezr_hls_render_playlist(h, skip, b) != 0)
        return NULL;
    ezr_buf_append(b, "", 1);
    return (const char *)b->data;
}

#define CHECK_TEXT(got, want)                                                              \
    do {                                                                                   \
        const char *g_ = (got), *w_ = (want);                                              \
        if (!g_ || strcmp(g_, w_) != 0) {                                                  \
            ezr_test_fail_("# %s:%d: playlist differs; got:\n%s\n# expected:\n%s\n", __FILE__, \
                           __LINE__, g_ ? g_ : "(none)", w_);                              \
            return;                                                                        \
        }                                                                                  \
    } while (0)

/* 25 fps video with a keyframe a second, frames [0, n). */
static struct ezr_hls *video_stream(unsigned n, uint32_t window)
{
    struct ezr_hls *h = hls_new(0, 0, window, NULL);
    hls_push(h, hls_header(true));
    hls_push(h, hls_header(false));
    hls_push_video(h, 25, 25, 0, n);
    return h;
}

#define HEAD(version, mseq, dseq)                                                          \
    "#EXTM3U\n#EXT-X-VERSION:" version "\n#EXT-X-TARGETDURATION:1\n"                       \
    "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600,CAN-SKIP-UNTIL=6.000\n" \
    "#EXT-X-PART-INF:PART-TARGET=0.200\n#EXT-X-MEDIA-SEQUENCE:" mseq                       \
    "\n#EXT-X-DISCONTINUITY-SEQUENCE:" dseq "\n"

#define PART(msn, i, extra) "#EXT-X-PART:DURATION=0.200,URI=\"part-t1-" msn "." i ".m4s\"" extra "\n"
#define PARTS(msn)                                                                         \
    PART(msn, "0", ",INDEPENDENT=YES") PART(msn, "1", "") PART(msn, "2", "") PART(msn, "3", "") \
        PART(msn, "4", "")
#define SEG(msn) "#EXTINF:1.000,\nseg-t1-" msn ".m4s\n"
#define DATE(s) "#EXT-X-PROGRAM-DATE-TIME:2025-12-06T05:46:" s ".000Z\n"

EZR_TEST(test_playlist_of_a_small_stream)
{
    struct ezr_hls *h = video_stream(62, 0); /* to 2440 ms */
    struct ezr_buf b;
    CHECK_TEXT(render(h, false, &b),
               HEAD("6", "0", "0") "#EXT-X-MAP:URI=\"init-t1-0.mp4\"\n" DATE("40") PARTS("0")
                   SEG("0") DATE("41") PARTS("1") SEG("1") DATE("42") PART("2", "0", ",INDEPENDENT=YES")
                       PART("2", "1", "") "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-t1-2.2.m4s\"\n");
    ezr_buf_free(&b);
    /* A delta update with nothing old enough to skip is the whole playlist. */
    struct ezr_buf full, delta;
    render(h, false, &full);
    CHECK_TEXT(render(h, true, &delta), (const char *)full.data);
    ezr_buf_free(&full);
    ezr_buf_free(&delta);
    ezr_hls_end(h);
    CHECK_TEXT(render(h, false, &b),
               HEAD("6", "0", "0") "#EXT-X-MAP:URI=\"init-t1-0.mp4\"\n" DATE("40") PARTS("0")
                   SEG("0") DATE("41") PARTS("1") SEG("1") DATE("42") PART("2", "0", ",INDEPENDENT=YES")
                       PART("2", "1", "") "#EXT-X-PART:DURATION=0.080,URI=\"part-t1-2.2.m4s\"\n"
                   "#EXTINF:0.480,\nseg-t1-2.m4s\n#EXT-X-ENDLIST\n");
    ezr_buf_free(&b);
    ezr_hls_free(h);
}

EZR_TEST(test_nothing_to_list_before_the_first_part)
{
    struct ezr_hls *h = video_stream(5, 0);
    struct ezr_buf b;
    ezr_buf_init(&b);
    EZR_CHECK_EQ(ezr_hls_render_playlist(h, false, &b), EZR_EAGAIN);
    EZR_CHECK_EQ(b.len, 0);
    struct ezr_hls_query q = {0};
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_WAIT);
    hls_push_video(h, 25, 25, 5, 6);
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_READY);
    ezr_buf_free(&b);
    ezr_hls_free(h);
}

EZR_TEST(test_delta_update_skips_segments_older_than_the_skip_boundary)
{
    struct ezr_hls *h = video_stream(237, 0); /* to 9440 ms: 0..8 complete, 2..8 kept */
    struct ezr_buf b;
    CHECK_TEXT(render(h, true, &b),
               "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n"
               "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600,CAN-SKIP-UNTIL=6.000\n"
               "#EXT-X-PART-INF:PART-TARGET=0.200\n#EXT-X-MEDIA-SEQUENCE:2\n"
               "#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n"
               "#EXT-X-MAP:URI=\"init-t1-0.mp4\"\n" DATE("43") SEG("3") DATE("44") SEG("4")
                   DATE("45") SEG("5") DATE("46") PARTS("6") SEG("6") DATE("47") PARTS("7") SEG("7")
                       DATE("48") PARTS("8") SEG("8") DATE("49") PART("9", "0", ",INDEPENDENT=YES")
                           PART("9", "1", "") "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-t1-9.2.m4s\"\n");
    ezr_buf_free(&b);
    CHECK_TEXT(render(h, false, &b),
               HEAD("6", "2", "0") "#EXT-X-MAP:URI=\"init-t1-0.mp4\"\n" DATE("42") SEG("2") DATE("43")
                   SEG("3") DATE("44") SEG("4") DATE("45") SEG("5") DATE("46") PARTS("6") SEG("6")
                       DATE("47") PARTS("7") SEG("7") DATE("48") PARTS("8") SEG("8") DATE("49")
                           PART("9", "0", ",INDEPENDENT=YES") PART("9", "1", "")
                               "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-t1-9.2.m4s\"\n");
    ezr_buf_free(&b);
    ezr_hls_end(h);
    const char *ended = render(h, true, &b); /* no delta update of an ended list */
    EZR_CHECK(ended && strstr(ended, "#EXT-X-SKIP") == NULL && strstr(ended, "seg-t1-3.m4s"));
    ezr_buf_free(&b);
    ezr_hls_free(h);
}

EZR_TEST(test_discontinuities_and_maps_stay_right_when_old_segments_go)
{
    struct ezr_hls *h = video_stream(26, 0); /* segment 0 complete */
    uint8_t avc[sizeof hls_avc_header];
    memcpy(avc, hls_avc_header, sizeof avc);
    avc[sizeof avc - 1] ^= 1;
    hls_push(h, ezr_frame_new(EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 1040, avc, sizeof avc, 4096));
    ezr_hls_break(h); /* nothing in progress: no second discontinuity */
    hls_push_video(h, 25, 25, 50, 262); /* segments 2 (after a discontinuity, init 1) .. 9 */
    struct ezr_buf b;
    const char *full = render(h, false, &b);
    /* Segment 2 with its discontinuity is gone: the sequence counts it; init 0 went with it. */
    EZR_CHECK(full && strstr(full, "#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n"
                                   "#EXT-X-MAP:URI=\"init-t1-1.mp4\"\n"));
    EZR_CHECK(strstr(full, "DISCONTINUITY\n") == NULL);
    EZR_CHECK(ezr_hls_init(h, 0) == NULL);
    ezr_buf_free(&b);
    const char *delta = render(h, true, &b);
    EZR_CHECK(delta && strstr(delta, "#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n"
                                     "#EXT-X-MAP:URI=\"init-t1-1.mp4\"\n"));
    ezr_buf_free(&b);
    ezr_hls_free(h);
}

EZR_TEST(test_break_puts_a_discontinuity_before_the_next_segment)
{
    struct ezr_hls *h = video_stream(25, 0);
    ezr_hls_break(h);
    struct ezr_buf b;
    const char *text = render(h, false, &b);
    EZR_CHECK(text && strstr(text, SEG("0") "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-t1-1.0.m4s\"\n"));
    ezr_buf_free(&b);
    hls_push_video(h, 25, 25, 0, 6);
    text = render(h, false, &b);
    EZR_CHECK(text && strstr(text, SEG("0") "#EXT-X-DISCONTINUITY\n" DATE("40")
                                   PART("1", "0", ",INDEPENDENT=YES")));
    ezr_buf_free(&b);
    ezr_hls_free(h);
}

EZR_TEST(test_part_target_covers_a_long_part_while_the_window_holds_it)
{
    /* A window of 2 has nothing to skip: no CAN-SKIP-UNTIL. */
    struct ezr_hls *h = hls_new(0, 0, 2, NULL);
    hls_push(h, hls_header(true));
    hls_push_video(h, 25, 25, 0, 30); /* to 1160 ms */
    hls_push_video(h, 25, 25, 45, 46); /* a stall: part 1.0 is 1000..1800 */
    struct ezr_buf b;
    const char *text = render(h, false, &b);
    EZR_CHECK(text && strstr(text, "PART-HOLD-BACK=2.400\n") &&
              strstr(text, "#EXT-X-PART-INF:PART-TARGET=0.800\n") &&
              strstr(text, "#EXT-X-PART:DURATION=0.800,URI=\"part-t1-1.0.m4s\",INDEPENDENT=YES\n"));
    ezr_buf_free(&b);
    /* Segments 2 to 4 complete: 0 and 1 leave (a window of 2 still spans three target
     * durations: 3 s). */
    hls_push_video(h, 25, 25, 46, 126);
    text = render(h, false, &b);
    EZR_CHECK(text && strstr(text, "#EXT-X-MEDIA-SEQUENCE:2\n") &&
              strstr(text, "PART-HOLD-BACK=0.600\n") &&
              strstr(text, "#EXT-X-PART-INF:PART-TARGET=0.200\n"));
    ezr_buf_free(&b);
    ezr_hls_free(h);
}

EZR_TEST(test_blocking_reload_waits_answers_or_refuses)
{
    struct ezr_hls *h = video_stream(62, 0); /* 0, 1 complete; 2.0 and 2.1 complete */
    struct ezr_hls_query q = {0};
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_READY);
    q = (struct ezr_hls_query){.has_msn = true, .msn = 1};
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_READY);
    q.msn = 2;
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_WAIT); /* segment 2 is not complete */
    q.msn = 3;
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_WAIT);
    q.msn = 4; /* the last segment is 1: 1 + 2 at the most */
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_TOO_FAR);
    q = (struct ezr_hls_query){.has_msn = true, .msn = 2, .has_part = true, .part = 1};
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_READY);
    q.part = 2;
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_WAIT);
    q.part = 16; /* 15 parts ahead of 2.1: three seconds of 200 ms parts */
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_WAIT);
    q.part = 17;
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_TOO_FAR);
    q = (struct ezr_hls_query){.has_msn = true, .msn = 3, .has_part = true, .part = 14};
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_WAIT);
    q.part = 15;
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_TOO_FAR);
    q = (struct ezr_hls_query){.has_msn = true, .msn = 0, .has_part = true, .part = 99};
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_READY); /* long gone: the whole list at once */
    /* A part past a segment's last is part 0 of the next (6.2.5.2). */
    hls_push_video(h, 25, 25, 62, 76);
    q = (struct ezr_hls_query){.has_msn = true, .msn = 2, .has_part = true, .part = 5};
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_WAIT);
    hls_push_video(h, 25, 25, 76, 81);
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_READY);
    ezr_hls_end(h);
    q = (struct ezr_hls_query){.has_msn = true, .msn = 1000, .has_part = true, .part = 1000};
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_READY); /* ended: the directives are ignored */
    ezr_hls_free(h);
}

EZR_TEST(test_blocking_reload_before_anything)
{
    struct ezr_hls *h = hls_new(0, 0, 0, NULL);
    struct ezr_hls_query q = {.has_msn = true, .msn = 1};
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_WAIT);
    q.msn = 2;
    EZR_CHECK_EQ(ezr_hls_check(h, &q), EZR_HLS_TOO_FAR);
    ezr_hls_free(h);
}

EZR_TEST(test_query_parses_delivery_directives)
{
    struct ezr_hls_query q;
    EZR_CHECK_EQ(ezr_hls_parse_query("", &q), 0);
    EZR_CHECK(!q.has_msn && !q.has_part && !q.skip);
    EZR_CHECK_EQ(ezr_hls_parse_query(NULL, &q), 0);
    EZR_CHECK_EQ(ezr_hls_parse_query("_HLS_msn=12&_HLS_part=3", &q), 0);
    EZR_CHECK(q.has_msn && q.msn == 12 && q.has_part && q.part == 3 && !q.skip);
    EZR_CHECK_EQ(ezr_hls_parse_query("token=a%26b&_HLS_msn=5&_HLS_skip=YES&x", &q), 0);
    EZR_CHECK(q.has_msn && q.msn == 5 && !q.has_part && q.skip);
    EZR_CHECK_EQ(ezr_hls_parse_query("_HLS_skip=v2", &q), 0);
    EZR_CHECK(q.skip && !q.has_msn);
    EZR_CHECK_EQ(ezr_hls_parse_query("_HLS_skip=NO", &q), 0);
    EZR_CHECK(!q.skip);
    EZR_CHECK_EQ(ezr_hls_parse_query("_HLS_msn=18446744073709551615&_HLS_part=4294967295", &q), 0);
    EZR_CHECK(q.msn == UINT64_MAX && q.part == UINT32_MAX);
    EZR_CHECK_EQ(ezr_hls_parse_query("_HLS_msn=007", &q), 0);
    EZR_CHECK_EQ(q.msn, 7);
}

EZR_TEST(test_query_refuses_bad_numbers_and_a_part_without_msn)
{
    static const char *const bad[] = {
        "_HLS_msn=-1",
        "_HLS_msn=abc",
        "_HLS_msn=12abc",
        "_HLS_msn=",
        "_HLS_msn",
        "_HLS_msn=+1",
        "_HLS_msn=%31",
        "_HLS_msn=1 ",
        "_HLS_msn=123456789012345678901234567890", /* 30 digits */
        "_HLS_msn=18446744073709551616",
        "_HLS_part=2",
        "x=1&_HLS_part=0",
        "_HLS_msn=1&_HLS_part=4294967296",
        "_HLS_msn=1&_HLS_part=-1",
        "_HLS_msn=1&_HLS_msn=2",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ezr_hls_query q;
        if (ezr_hls_parse_query(bad[i], &q) != EZR_EPROTO) {
            ezr_test_fail_("# accepted: %s\n", bad[i]);
            return;
        }
    }
}

EZR_TEST(test_names_are_ours_exactly_or_none)
{
    struct ezr_hls *h = hls_new(0, 0, 0, NULL);
    struct ezr_hls_name n = ezr_hls_parse_name(h, "index.m3u8");
    EZR_CHECK_EQ(n.kind, EZR_HLS_NAME_PLAYLIST);
    n = ezr_hls_parse_name(h, "init-t1-0.mp4");
    EZR_CHECK(n.kind == EZR_HLS_NAME_INIT && n.index == 0);
    n = ezr_hls_parse_name(h, "seg-t1-12.m4s");
    EZR_CHECK(n.kind == EZR_HLS_NAME_SEGMENT && n.msn == 12);
    n = ezr_hls_parse_name(h, "part-t1-12.3.m4s");
    EZR_CHECK(n.kind == EZR_HLS_NAME_PART && n.msn == 12 && n.index == 3);
    n = ezr_hls_parse_name(h, "part-t1-18446744073709551615.4294967295.m4s");
    EZR_CHECK(n.kind == EZR_HLS_NAME_PART && n.msn == UINT64_MAX && n.index == UINT32_MAX);
    static const char *const none[] = {
        "", "../index.m3u8", "..", "index.m3u8/..", "INDEX.m3u8", "index.m3u8?x",
        "seg-t1-..m4s", "seg-t1-../index.m3u8", "seg-t2-1.m4s", "seg-T1-1.m4s", "seg-t1-01.m4s",
        "seg-t1-1.m4s/", "seg-t1-%31.m4s", "seg-t1-18446744073709551616.m4s", "seg-t1-1.mp4",
        "seg-t1-1.m4s.bak", "seg-t1-.m4s", "seg-t1--1.m4s", "seg-t1-1", "seg-t1", "seg-",
        "part-t1-1.m4s", "part-t1-1..m4s", "part-t1-1.4294967296.m4s", "part-t1-1.01.m4s",
        "part-t1-1.2.3.m4s", "init-t1-4294967296.mp4", "init-t1-0.m4s", "init-t1-0.mp4\\",
        "init-t1-+1.mp4", "seg-t1-1.m4s%00",
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        if (ezr_hls_parse_name(h, none[i]).kind != EZR_HLS_NAME_NONE) {
            ezr_test_fail_("# taken: %s\n", none[i]);
            ezr_hls_free(h);
            return;
        }
    }
    ezr_hls_free(h);
}

EZR_TEST_MAIN(EZR_CASE(test_playlist_of_a_small_stream),
              EZR_CASE(test_nothing_to_list_before_the_first_part),
              EZR_CASE(test_delta_update_skips_segments_older_than_the_skip_boundary),
              EZR_CASE(test_discontinuities_and_maps_stay_right_when_old_segments_go),
              EZR_CASE(test_break_puts_a_discontinuity_before_the_next_segment),
              EZR_CASE(test_part_target_covers_a_long_part_while_the_window_holds_it),
              EZR_CASE(test_blocking_reload_waits_answers_or_refuses),
              EZR_CASE(test_blocking_reload_before_anything),
              EZR_CASE(test_query_parses_delivery_directives),
              EZR_CASE(test_query_refuses_bad_numbers_and_a_part_without_msn),
              EZR_CASE(test_names_are_ours_exactly_or_none))
