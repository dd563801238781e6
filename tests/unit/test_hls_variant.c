/* What the multivariant playlist says of one rendition, from the muxer's window (ezr_hls_variant):
 * the peak and average segment bit rates counted exactly, codecs of only the tracks there are, the
 * picture size from the SPS, the frame rate counted; and the last part a rendition report gives. */
#include "ezr_test.h"

#include "ezr_error.h"
#include "hls_fixture.h"

/* A fragment header (moof + mdat header) per sample, then the sample: the 4-byte NAL length and
 * the NAL unit (hls_video). */
#define FRAGMENT 112u
#define VIDEO_SAMPLE(nal) (FRAGMENT + 4u + (nal))

/* 30 fps video, a keyframe a second: second k's frames carry NAL units of nal[k] bytes. Frame
 * 30 * n + 1 ends second n - 1's segment (its keyframe cuts, the next frame completes it). */
static struct ezr_hls *video_seconds(const size_t *nal, unsigned seconds, bool audio_header)
{
    struct ezr_hls *h = hls_new(0, 0, 0, NULL);
    hls_push(h, hls_header(true));
    if (audio_header)
        hls_push(h, hls_header(false));
    for (unsigned i = 0; i <= 30u * seconds; i++)
        hls_push(h,
                 hls_video(i * 1000u / 30u, i % 30 == 0, 0, i < 30u * seconds ? nal[i / 30] : 16));
    return h;
}

EZR_TEST(test_variant_of_video_counts_bandwidth_size_and_frame_rate)
{
    const size_t nal[] = {16, 100};
    struct ezr_hls *h = video_seconds(nal, 2, false);
    struct ezr_hls_variant v;
    int rc = ezr_hls_variant(h, &v);
    ezr_hls_free(h);
    EZR_CHECK_EQ(rc, 0);
    /* Segments of 1 s: each one alone is a run of 0.5-1.5 target durations, both together are
     * not; the peak is the larger, the average both over 2 s. */
    EZR_CHECK_EQ(v.bandwidth, 30u * VIDEO_SAMPLE(100) * 8u);
    EZR_CHECK_EQ(v.average_bandwidth, 30u * (VIDEO_SAMPLE(16) + VIDEO_SAMPLE(100)) * 8u / 2u);
    EZR_CHECK(strcmp(v.codecs, "avc1.42c00d") == 0); /* video only: no mp4a */
    EZR_CHECK_EQ(v.width, 320);
    EZR_CHECK_EQ(v.height, 240);
    EZR_CHECK_EQ(v.frame_rate_milli, 30000);
}

EZR_TEST(test_variant_peak_joins_short_segments_to_half_a_target)
{
    /* hls-segment-target 2000 with 1 s GOPs: 2 s segments, target 2; a run must last 1-3 s, so
     * each segment alone counts and the two together do not. */
    struct ezr_hls *h = hls_new(0, 2000, 0, NULL);
    hls_push(h, hls_header(true));
    for (unsigned i = 0; i <= 120; i++)
        hls_push(h, hls_video(i * 1000u / 30u, i % 30 == 0, 0, i < 60 ? 16 : 50));
    struct ezr_hls_variant v;
    int rc = ezr_hls_variant(h, &v);
    ezr_hls_free(h);
    EZR_CHECK_EQ(rc, 0);
    EZR_CHECK_EQ(v.bandwidth, 60u * VIDEO_SAMPLE(50) * 8u / 2u);
    EZR_CHECK_EQ(v.average_bandwidth, 60u * (VIDEO_SAMPLE(16) + VIDEO_SAMPLE(50)) * 8u / 4u);
}

EZR_TEST(test_frame_rate_near_a_common_rate_is_that_rate)
{
    /* 30 fps with a keyframe every 38 frames: the segment lasts 1266 ms in FLV's milliseconds,
     * 38 frames count 30.016; 12 fps is no common rate and stays as counted. */
    struct ezr_hls *h = hls_new(0, 0, 0, NULL), *g = hls_new(0, 0, 0, NULL);
    hls_push(h, hls_header(true));
    hls_push_video(h, 30, 38, 0, 40);
    hls_push(g, hls_header(true));
    hls_push_video(g, 12, 12, 0, 14);
    struct ezr_hls_variant v, w;
    int rc = ezr_hls_variant(h, &v), rg = ezr_hls_variant(g, &w);
    ezr_hls_free(h);
    ezr_hls_free(g);
    EZR_CHECK_EQ(rc, 0);
    EZR_CHECK_EQ(rg, 0);
    EZR_CHECK_EQ(v.frame_rate_milli, 30000);
    EZR_CHECK_EQ(w.frame_rate_milli, 12000);
}

EZR_TEST(test_variant_names_both_codecs_when_both_tracks_are_there)
{
    const size_t nal[] = {16};
    struct ezr_hls *h = video_seconds(nal, 1, true);
    struct ezr_hls_variant v;
    int rc = ezr_hls_variant(h, &v);
    ezr_hls_free(h);
    EZR_CHECK_EQ(rc, 0);
    EZR_CHECK(strcmp(v.codecs, "avc1.42c00d,mp4a.40.2") == 0);
}

EZR_TEST(test_variant_of_audio_only_has_no_picture)
{
    struct ezr_hls *h = hls_new(0, 0, 0, NULL);
    hls_push(h, hls_header(false));
    for (unsigned i = 0; i < 200; i++) /* 4.6 s of 23 ms frames: two 2 s segments */
        hls_push(h, hls_audio(i * 23u));
    struct ezr_hls_variant v;
    int rc = ezr_hls_variant(h, &v);
    ezr_hls_free(h);
    EZR_CHECK_EQ(rc, 0);
    EZR_CHECK(strcmp(v.codecs, "mp4a.40.2") == 0);
    EZR_CHECK_EQ(v.width, 0);
    EZR_CHECK_EQ(v.height, 0);
    EZR_CHECK_EQ(v.frame_rate_milli, 0);
    EZR_CHECK(v.bandwidth > 0 && v.average_bandwidth > 0 && v.average_bandwidth <= v.bandwidth);
}

EZR_TEST(test_no_variant_before_the_first_segment)
{
    struct ezr_hls *h = hls_new(0, 0, 0, NULL);
    hls_push(h, hls_header(true));
    struct ezr_hls_variant v;
    uint64_t msn;
    uint32_t part;
    bool reported = ezr_hls_report(h, &msn, &part);
    hls_push_video(h, 30, 30, 0, 20); /* parts, no complete segment */
    int rc = ezr_hls_variant(h, &v);
    bool reported_later = ezr_hls_report(h, &msn, &part);
    ezr_hls_free(h);
    EZR_CHECK(!reported);
    EZR_CHECK_EQ(rc, EZR_EAGAIN);
    EZR_CHECK(reported_later);
    EZR_CHECK_EQ(msn, 0);
}

EZR_TEST(test_report_names_the_last_complete_part)
{
    struct ezr_hls *h = hls_new(0, 0, 0, NULL);
    hls_push(h, hls_header(true));
    /* 25 fps, a keyframe a second, 200 ms parts of 5 frames: with frames [0, 37) segment 1 (from
     * frame 25) has completed parts 0 and 1, and part 2 is in progress. */
    hls_push_video(h, 25, 25, 0, 37);
    uint64_t msn;
    uint32_t part;
    bool ok = ezr_hls_report(h, &msn, &part);
    const struct ezr_hls_part *next = ezr_hls_part(h, msn, part + 1);
    const struct ezr_hls_part *last = ezr_hls_part(h, msn, part);
    bool last_complete = last && last->complete;
    bool next_incomplete = !next || !next->complete;
    ezr_hls_free(h);
    EZR_CHECK(ok);
    EZR_CHECK_EQ(msn, 1);
    EZR_CHECK_EQ(part, 1);
    EZR_CHECK(last_complete);
    EZR_CHECK(next_incomplete);
}

EZR_TEST_MAIN(EZR_CASE(test_variant_of_video_counts_bandwidth_size_and_frame_rate),
              EZR_CASE(test_variant_peak_joins_short_segments_to_half_a_target),
              EZR_CASE(test_frame_rate_near_a_common_rate_is_that_rate),
              EZR_CASE(test_variant_names_both_codecs_when_both_tracks_are_there),
              EZR_CASE(test_variant_of_audio_only_has_no_picture),
              EZR_CASE(test_no_variant_before_the_first_segment),
              EZR_CASE(test_report_names_the_last_complete_part))
