/* The LL-HLS segmenter: where segments and parts are cut, what their samples are (fragment
 * headers as the frames' CMAF views, the samples slices of the frames), time, init segments,
 * breaks and the window. The playlist, the queries and the names are in test_hls_playlist.c. */
#include "ezr_test.h"

#include "ezr_alloc.h"
#include "ezr_buf.h"
#include "ezr_error.h"
#include "ezr_limits.h"
#include "hls_fixture.h"

static struct ezr_hls *av_stream(struct hls_events *ev, uint32_t segment_ms)
{
    struct ezr_hls *h = hls_new(0, segment_ms, 0, ev);
    hls_push(h, hls_header(true));
    hls_push(h, hls_header(false));
    return h;
}

/* Segments 0..n-1 of 25 fps video with a keyframe every gop_ms: complete, one a GOP, of 200 ms
 * parts of 5 frames, only the first independent. */
static bool gop_segments_are_exact(const struct ezr_hls *h, uint64_t n, uint64_t gop_ms)
{
    for (uint64_t msn = 0; msn < n; msn++) {
        const struct ezr_hls_segment *s = ezr_hls_segment(h, msn);
        if (!s || !s->complete || s->start_ms != msn * gop_ms || s->duration_ms != gop_ms ||
            s->nparts != gop_ms / 200 || s->init_id != 0 || s->wall_ms != HLS_WALL0 + msn * gop_ms)
            return false;
        for (size_t i = 0; i < s->nparts; i++) {
            const struct ezr_hls_part *p = &s->parts[i];
            if (p->duration_ms != 200 || p->nsamples != 5 || p->independent != (i == 0) ||
                p->start_ms != s->start_ms + i * 200 || p->msn != msn || p->index != i)
                return false;
        }
    }
    return true;
}

EZR_TEST(test_segments_cut_on_keyframes_of_a_1s_gop)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    hls_push_video(h, 25, 25, 0, 76); /* 0..3000 ms: the keyframe at 3000 closes segment 2 */
    EZR_CHECK(gop_segments_are_exact(h, 3, 1000));
    const struct ezr_hls_segment *s = ezr_hls_segment(h, 3);
    EZR_CHECK(s && !s->complete && s->nparts == 1 && s->parts[0].nsamples == 0);
    uint64_t msn;
    uint32_t index;
    EZR_CHECK(ezr_hls_hinted_part(h, &msn, &index));
    EZR_CHECK_EQ(msn, 3);
    EZR_CHECK_EQ(index, 0);
    /* 75 frames went in (the 76th waits for its duration); a change per part. */
    EZR_CHECK_EQ(ev.samples_added, 75);
    EZR_CHECK_EQ(ev.changed, 15);
    EZR_CHECK_EQ(ezr_hls_parts_made(h), 15);
    EZR_CHECK_EQ(ezr_hls_segments_made(h), 3);
    EZR_CHECK_EQ(ezr_hls_target_duration(h), 1);
    ezr_hls_free(h);
}

EZR_TEST(test_segments_cut_on_keyframes_of_a_4s_gop)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    hls_push_video(h, 25, 100, 0, 201);
    EZR_CHECK(gop_segments_are_exact(h, 2, 4000));
    EZR_CHECK(!ezr_hls_segment(h, 2)->complete);
    EZR_CHECK_EQ(ezr_hls_target_duration(h), 4);
    ezr_hls_free(h);
}

EZR_TEST(test_a_jittering_1s_gop_is_still_a_segment_per_gop)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    /* Keyframes at 40, 1011 and 1995 ms, as a live encoder stamps them. */
    static const uint32_t ts[] = {40, 73, 500, 1011, 1044, 1500, 1995, 2028};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        hls_push(h, hls_video(ts[i], ts[i] == 40 || ts[i] == 1011 || ts[i] == 1995, 0, 16));
    EZR_CHECK_EQ(ezr_hls_segment(h, 0)->duration_ms, 971);
    EZR_CHECK_EQ(ezr_hls_segment(h, 1)->duration_ms, 984);
    EZR_CHECK_EQ(ezr_hls_target_duration(h), 1);
    ezr_hls_free(h);
}

EZR_TEST(test_keyframes_every_few_frames_are_joined_into_segments)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    hls_push_video(h, 25, 5, 0, 51); /* a keyframe every 200 ms, as scene cuts on noise */
    const struct ezr_hls_segment *s = ezr_hls_segment(h, 0);
    EZR_CHECK(s && s->complete && s->duration_ms == 800); /* the first keyframe past 750 ms */
    EZR_CHECK_EQ(s->nparts, 4);
    for (size_t i = 0; i < s->nparts; i++)
        EZR_CHECK(s->parts[i].independent);
    ezr_hls_free(h);
}

EZR_TEST(test_segment_target_keeps_keyframes_inside_as_independent_parts)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 2000);
    hls_push_video(h, 25, 25, 0, 51);
    const struct ezr_hls_segment *s = ezr_hls_segment(h, 0);
    EZR_CHECK(s && s->complete);
    EZR_CHECK_EQ(s->duration_ms, 2000);
    EZR_CHECK_EQ(s->nparts, 10);
    for (size_t i = 0; i < 10; i++)
        EZR_CHECK_EQ(s->parts[i].independent, i == 0 || i == 5); /* the keyframe at 1000 ms */
    ezr_hls_free(h);
}

EZR_TEST(test_parts_end_on_the_first_frame_boundary_past_the_target)
{
    /* 24 fps: frames every 41-42 ms, so 200 ms falls between frames 4 (166) and 5 (208). */
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    hls_push_video(h, 24, 48, 0, 12);
    const struct ezr_hls_segment *s = ezr_hls_segment(h, 0);
    EZR_CHECK(s && s->nparts == 3);
    EZR_CHECK_EQ(s->parts[0].start_ms, 0);
    EZR_CHECK_EQ(s->parts[0].duration_ms, 208);
    EZR_CHECK_EQ(s->parts[0].nsamples, 5);
    EZR_CHECK_EQ(s->parts[1].start_ms, 208);
    EZR_CHECK_EQ(s->parts[1].duration_ms, 208);
    EZR_CHECK_EQ(s->parts[1].nsamples, 5);
    EZR_CHECK(s->parts[0].independent && !s->parts[1].independent);
    EZR_CHECK(!s->parts[2].complete);
    ezr_hls_free(h);
}

EZR_TEST(test_a_sample_is_its_frames_cmaf_view_and_a_slice_of_its_payload)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    struct ezr_frame *k = hls_video(0, true, 0, 100);
    ezr_frame_ref(k);
    hls_push(h, k);
    hls_push(h, hls_audio(10));
    hls_push(h, hls_video(40, false, 0, 16));
    const struct ezr_hls_part *p = ezr_hls_part(h, 0, 0);
    EZR_CHECK(p && p->nsamples == 2);
    /* The video frame went in when the next one came, and the audio held behind it after it: a
     * part starts with video. */
    EZR_CHECK(p->samples[0].frame == k);
    EZR_CHECK(p->samples[1].frame->kind == EZR_FRAME_AUDIO);
    EZR_CHECK_EQ(p->samples[0].body_offset, 5);
    EZR_CHECK_EQ(p->samples[0].body_len, 104);
    EZR_CHECK_EQ(p->samples[1].body_offset, 2);
    EZR_CHECK_EQ(p->samples[1].body_len, 32);
    const struct ezr_frame_view *v = &k->views[EZR_VIEW_CMAF];
    EZR_CHECK(v->bytes != NULL);
    EZR_CHECK_EQ(v->len, 112);
    EZR_CHECK_EQ(p->bytes, 112 + 104 + 112 + 32);
    EZR_CHECK_EQ(hls_trun(&p->samples[0], 0), 40 * 90); /* duration: to the next video frame */
    EZR_CHECK_EQ(hls_trun(&p->samples[0], 1), 104);
    EZR_CHECK_EQ(hls_trun(&p->samples[1], 0), 1024);
    EZR_CHECK_EQ(hls_tfdt(&p->samples[1]), 441); /* 10 ms at 44.1 kHz */
    EZR_CHECK_EQ(hls_be32(hls_box(v->bytes, v->len, "mfhd") + 12), 1); /* the first fragment */
    EZR_CHECK_EQ(ev.samples_added, 2);
    ezr_frame_unref(k);
    ezr_hls_free(h);
}

EZR_TEST(test_audio_only_cuts_two_second_segments_of_independent_parts)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = hls_new(0, 0, 0, &ev);
    hls_push(h, hls_header(false));
    /* AAC at 44.1 kHz: a frame every 23.2 ms, as FLV's ms round it. */
    for (unsigned i = 0; i < 200; i++)
        hls_push(h, hls_audio((uint32_t)((uint64_t)i * 1024000u / 44100u)));
    const struct ezr_hls_segment *s = ezr_hls_segment(h, 0);
    EZR_CHECK(s && s->complete);
    EZR_CHECK_EQ(s->duration_ms, 2020); /* the first frame at or past 2 s: frame 87 */
    EZR_CHECK_EQ(s->parts[0].duration_ms, 208);
    EZR_CHECK_EQ(s->parts[0].nsamples, 9);
    for (size_t i = 0; i < s->nparts; i++)
        EZR_CHECK(s->parts[i].independent);
    const struct ezr_hls_part *p = ezr_hls_part(h, 1, 0);
    EZR_CHECK(p && p->nsamples > 0);
    /* Frame 87: decode times count AAC frames of 1024 samples (2020 ms would be 89082). */
    EZR_CHECK_EQ(hls_tfdt(&p->samples[0]), 87ull * 1024);
    EZR_CHECK(ezr_hls_segment(h, 1)->complete);
    EZR_CHECK_EQ(ezr_hls_target_duration(h), 2); /* 2.020 s rounds to 2 (4.4.3.1) */
    struct ezr_frame *init = ezr_hls_init(h, 0);
    EZR_CHECK(init && init->kind == EZR_FRAME_BYTES);
    EZR_CHECK(hls_box(init->data, init->payload_len, "mp4a") != NULL);
    EZR_CHECK(hls_box(init->data, init->payload_len, "avc1") == NULL);
    ezr_hls_free(h);
}

EZR_TEST(test_video_only_has_one_track_and_waits_for_a_keyframe)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = hls_new(0, 0, 0, &ev);
    hls_push(h, hls_header(true));
    hls_push(h, hls_video(0, false, 0, 16)); /* before any keyframe: undecodable, dropped */
    hls_push(h, hls_audio(0));               /* no audio track */
    EZR_CHECK(ezr_hls_segment(h, 0) == NULL);
    hls_push_video(h, 25, 25, 1, 51); /* the first keyframe at 1000 ms */
    const struct ezr_hls_segment *s = ezr_hls_segment(h, 0);
    EZR_CHECK(s && s->complete && s->start_ms == 1000 && s->duration_ms == 1000);
    struct ezr_frame *init = ezr_hls_init(h, 0);
    EZR_CHECK(init && hls_box(init->data, init->payload_len, "avc1") != NULL);
    EZR_CHECK(hls_box(init->data, init->payload_len, "mp4a") == NULL);
    ezr_hls_free(h);
}

EZR_TEST(test_b_frames_give_trun_composition_offsets_from_the_cts)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    hls_push(h, hls_video(0, true, 80, 16));
    hls_push(h, hls_video(40, false, -40, 16));
    hls_push(h, hls_video(80, false, 0, 16));
    hls_push(h, hls_video(120, false, 0, 16));
    const struct ezr_hls_part *p = ezr_hls_part(h, 0, 0);
    EZR_CHECK(p && p->nsamples == 3);
    EZR_CHECK_EQ(hls_trun(&p->samples[0], 3), 80 * 90);
    EZR_CHECK_EQ((int32_t)hls_trun(&p->samples[1], 3), -40 * 90);
    EZR_CHECK_EQ(hls_trun(&p->samples[2], 3), 0);
    EZR_CHECK_EQ(hls_tfdt(&p->samples[1]), 40 * 90);
    ezr_hls_free(h);
}

/* flvmux starts a B-frame stream with frames of one decode time (and their cts apart): each
 * repeat moves one tick on, its composition offset back as much, so decode times rise and every
 * frame is shown when it was. */
EZR_TEST(test_repeated_decode_times_rise_by_a_tick_and_keep_their_presentation)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    hls_push(h, hls_video(0, true, 67, 16));
    hls_push(h, hls_video(0, false, 133, 16));
    hls_push(h, hls_video(0, false, 33, 16));
    hls_push(h, hls_video(33, false, 67, 16));
    hls_push(h, hls_video(67, false, 67, 16));
    const struct ezr_hls_part *p = ezr_hls_part(h, 0, 0);
    EZR_CHECK(p && p->nsamples == 4);
    static const uint64_t pts[4] = {67 * 90, 133 * 90, 33 * 90, 100 * 90};
    for (size_t i = 0; i < 4; i++) {
        if (i)
            EZR_CHECK(hls_tfdt(&p->samples[i]) > hls_tfdt(&p->samples[i - 1]));
        EZR_CHECK(hls_trun(&p->samples[i], 0) > 0); /* no sample of no duration */
        EZR_CHECK_EQ(hls_tfdt(&p->samples[i]) + (int32_t)hls_trun(&p->samples[i], 3), pts[i]);
    }
    EZR_CHECK_EQ(hls_tfdt(&p->samples[1]), 1);
    EZR_CHECK_EQ(hls_tfdt(&p->samples[2]), 2);
    ezr_hls_free(h);
}

/* A stall makes a 4 s segment: the target duration is 4 for good, and the window, 3 segments of
 * 1 s otherwise, keeps three target durations (12 s) listed, as a live playlist must. */
EZR_TEST(test_window_keeps_three_target_durations_after_a_long_segment)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = hls_new(0, 0, EZR_HLS_MIN_WINDOW, &ev);
    hls_push(h, hls_header(true));
    /* Keyframes every second but at 3, 4 and 5 s: segment 2 lasts 4 s (2 to 6 s), the others
     * 1 s, up to segment 22 (26 s). */
    for (unsigned i = 0; i < 651; i++) {
        bool key = i % 25 == 0 && (i < 75 || i >= 150);
        hls_push(h, hls_video(i * 40u, key, 0, 16));
    }
    EZR_CHECK_EQ(ezr_hls_target_duration(h), 4);
    uint64_t listed = 0, first = UINT64_MAX;
    for (uint64_t msn = 0; msn < 30; msn++) {
        const struct ezr_hls_segment *seg = ezr_hls_segment(h, msn);
        if (seg && seg->complete) {
            listed += seg->duration_ms;
            first = first < msn ? first : msn;
        }
    }
    EZR_CHECK_EQ(listed, 12000);
    EZR_CHECK_EQ(first, 11); /* segments 11 to 22 */
    ezr_hls_free(h);
}

/* Frames that enter the sink up to 300 ms early or late (a loaded machine) still give segments
 * whose program date-times differ by their durations; a pipeline 2 s behind the clock is dated
 * anew. */
EZR_TEST(test_program_dates_follow_stream_time_through_arrival_jitter)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = hls_new(0, 0, 20, &ev);
    hls_push(h, hls_header(true));
    for (unsigned i = 0; i < 126; i++) {
        struct ezr_frame *f = hls_video(i * 40u, i % 25 == 0, 0, 16);
        int64_t jitter = (int64_t)(i % 7) * 100 - 300; /* -300..+300 ms */
        uint64_t late = i >= 100 ? 2000 : 0;  /* from 4 s on, the pipeline is 2 s late */
        ezr_hls_push(h, f, HLS_WALL0 + i * 40u + (uint64_t)jitter + late);
        ezr_frame_unref(f);
    }
    const struct ezr_hls_segment *s0 = ezr_hls_segment(h, 0);
    EZR_CHECK(s0 != NULL);
    for (uint64_t msn = 1; msn < 4; msn++) {
        const struct ezr_hls_segment *seg = ezr_hls_segment(h, msn);
        EZR_CHECK(seg != NULL);
        EZR_CHECK_EQ(seg->wall_ms - s0->wall_ms, seg->start_ms - s0->start_ms);
    }
    /* Segment 4 (4 s, frame 100) came 2 s late: dated by the clock again (frame 100's jitter is
     * +0: 100 % 7 = 2, 2 * 100 - 300 = -100). */
    const struct ezr_hls_segment *s4 = ezr_hls_segment(h, 4);
    EZR_CHECK(s4 != NULL);
    EZR_CHECK_EQ(s4->wall_ms, HLS_WALL0 + 4000 - 100 + 2000);
    ezr_hls_free(h);
}

/* Interleaved audio and video, as flvmux sends them: every part starts with its video (shaka
 * places a fragment by its first tfdt in the first track's timescale), and audio decode times
 * step by exactly one AAC frame though FLV's ms times jitter by one. */
EZR_TEST(test_parts_start_with_video_and_audio_steps_by_whole_frames)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    for (unsigned v = 0, a = 0; v < 75;) {
        uint32_t vt = v * 40u, at = (uint32_t)((uint64_t)a * 1024000u / 44100u);
        if (vt <= at)
            hls_push(h, hls_video(vt, v++ % 25 == 0, 0, 16));
        else
            hls_push(h, hls_audio(at)), a++;
    }
    unsigned parts = 0;
    uint64_t last_audio = UINT64_MAX;
    for (uint64_t msn = 0; msn < 2; msn++) {
        const struct ezr_hls_segment *seg = ezr_hls_segment(h, msn);
        EZR_CHECK(seg && seg->complete);
        for (size_t i = 0; i < seg->nparts; i++) {
            const struct ezr_hls_part *p = &seg->parts[i];
            EZR_CHECK(p->nsamples > 0 && p->samples[0].frame->kind == EZR_FRAME_VIDEO);
            parts++;
            for (size_t k = 0; k < p->nsamples; k++) {
                if (p->samples[k].frame->kind != EZR_FRAME_AUDIO)
                    continue;
                uint64_t t = hls_tfdt(&p->samples[k]);
                if (last_audio != UINT64_MAX)
                    EZR_CHECK_EQ(t - last_audio, 1024);
                last_audio = t;
            }
        }
    }
    EZR_CHECK_EQ(parts, 10);
    ezr_hls_free(h);
}

EZR_TEST(test_timestamps_crossing_2_32_ms_give_continuous_decode_times)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    uint32_t start = UINT32_MAX - 99; /* 100 ms before the wrap */
    for (uint32_t i = 0; i < 10; i++)
        hls_push(h, hls_video(start + i * 40, i == 0, 0, 16));
    const struct ezr_hls_part *p = ezr_hls_part(h, 0, 0);
    EZR_CHECK(p && p->nsamples == 5);
    for (uint32_t i = 0; i < 5; i++) {
        EZR_CHECK_EQ(hls_tfdt(&p->samples[i]), ((uint64_t)start + i * 40) * 90);
        EZR_CHECK_EQ(hls_trun(&p->samples[i], 0), 40 * 90);
    }
    EZR_CHECK_EQ(p->start_ms, start);
    EZR_CHECK_EQ(p->duration_ms, 200);
    EZR_CHECK_EQ(ezr_hls_part(h, 0, 1)->start_ms, (uint64_t)start + 200);
    ezr_hls_free(h);
}

EZR_TEST(test_changed_sequence_header_starts_a_segment_with_a_new_init)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    hls_push_video(h, 25, 25, 0, 10);
    hls_push(h, hls_header(true)); /* the same bytes again: nothing changes */
    EZR_CHECK(!ezr_hls_segment(h, 0)->complete);
    uint8_t avc[sizeof hls_avc_header];
    memcpy(avc, hls_avc_header, sizeof avc);
    avc[sizeof avc - 1] ^= 1; /* another PPS */
    hls_push(h, ezr_frame_new(EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 400, avc, sizeof avc, 4096));
    const struct ezr_hls_segment *s = ezr_hls_segment(h, 0);
    EZR_CHECK(s->complete);
    EZR_CHECK_EQ(s->duration_ms, 400); /* the waiting frame took the duration before it */
    hls_push_video(h, 25, 25, 10, 11); /* not a keyframe: waits */
    EZR_CHECK(ezr_hls_segment(h, 1) == NULL);
    hls_push(h, hls_video(440, true, 0, 16));
    s = ezr_hls_segment(h, 1);
    EZR_CHECK(s && s->discontinuity && s->init_id == 1 && s->start_ms == 440);
    EZR_CHECK(ezr_hls_init(h, 0) != NULL && ezr_hls_init(h, 1) != NULL);
    ezr_hls_free(h);
}

EZR_TEST(test_break_completes_the_segment_and_the_next_is_discontinuous)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    hls_push_video(h, 25, 25, 0, 7);
    int changed = ev.changed;
    ezr_hls_break(h);
    EZR_CHECK_EQ(ev.changed, changed + 1);
    const struct ezr_hls_segment *s = ezr_hls_segment(h, 0);
    EZR_CHECK(s->complete && s->duration_ms == 280 && s->nparts == 2);
    EZR_CHECK_EQ(s->parts[1].duration_ms, 80);
    uint64_t msn;
    uint32_t index;
    EZR_CHECK(ezr_hls_hinted_part(h, &msn, &index) && msn == 1 && index == 0);
    hls_push(h, hls_video(0, true, 0, 16)); /* the pipeline restarted at 0 */
    hls_push(h, hls_video(40, false, 0, 16));
    s = ezr_hls_segment(h, 1);
    EZR_CHECK(s && s->discontinuity && s->start_ms == 0 && s->init_id == 0);
    EZR_CHECK_EQ(hls_tfdt(&s->parts[0].samples[0]), 0);
    ezr_hls_free(h);
}

EZR_TEST(test_time_going_back_is_a_new_timeline_after_a_discontinuity)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    hls_push_video(h, 25, 25, 100, 110); /* 4000..4360 ms */
    hls_push(h, hls_audio(4300));
    hls_push(h, hls_audio(3500)); /* 800 ms back: jitter, no break */
    EZR_CHECK(!ezr_hls_segment(h, 0)->complete);
    hls_push(h, hls_video(3000, false, 0, 16)); /* 1360 ms back: an encoder restarted */
    const struct ezr_hls_segment *s = ezr_hls_segment(h, 0);
    EZR_CHECK(s->complete && s->duration_ms == 400);
    EZR_CHECK(ezr_hls_segment(h, 1) == NULL); /* waits for a keyframe */
    hls_push(h, hls_video(3040, true, 0, 16));
    hls_push(h, hls_video(3080, false, 0, 16));
    s = ezr_hls_segment(h, 1);
    EZR_CHECK(s && s->discontinuity && s->start_ms == 3040);
    EZR_CHECK_EQ(hls_tfdt(&s->parts[0].samples[0]), 3040 * 90);
    ezr_hls_free(h);
}

EZR_TEST(test_end_completes_and_ends_until_the_next_push)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    hls_push_video(h, 25, 25, 0, 3);
    ezr_hls_end(h);
    EZR_CHECK(ezr_hls_ended(h));
    EZR_CHECK(ezr_hls_segment(h, 0)->complete);
    EZR_CHECK_EQ(ezr_hls_segment(h, 0)->duration_ms, 120);
    uint64_t msn;
    uint32_t index;
    EZR_CHECK(!ezr_hls_hinted_part(h, &msn, &index));
    hls_push(h, hls_video(5000, true, 0, 16));
    EZR_CHECK(!ezr_hls_ended(h));
    EZR_CHECK(ezr_hls_segment(h, 1)->discontinuity);
    ezr_hls_free(h);
}

EZR_TEST(test_window_drops_old_segments_with_their_frames_and_inits)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = hls_new(0, 0, 3, &ev);
    hls_push(h, hls_header(true));
    struct ezr_frame *first = hls_video(0, true, 0, 16);
    ezr_frame_ref(first);
    hls_push(h, first);
    EZR_CHECK_EQ(atomic_load(&first->refs), 2); /* waiting */
    hls_push_video(h, 25, 25, 1, 10);
    EZR_CHECK_EQ(atomic_load(&first->refs), 2); /* in part 0 */
    ezr_hls_break(h);                           /* segment 1 is discontinuous */
    hls_push_video(h, 25, 25, 0, 101);          /* segments 1..4 complete */
    EZR_CHECK(ezr_hls_segment(h, 0) == NULL);
    EZR_CHECK(ezr_hls_segment(h, 1) == NULL);
    EZR_CHECK(ezr_hls_segment(h, 2)->complete);
    EZR_CHECK(!ezr_hls_segment(h, 5)->complete);
    EZR_CHECK_EQ(atomic_load(&first->refs), 1);
    ezr_frame_unref(first);
    ezr_hls_free(h);
}

EZR_TEST(test_window_drops_inits_no_segment_needs)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = hls_new(0, 0, 2, &ev);
    hls_push(h, hls_header(true));
    hls_push_video(h, 25, 25, 0, 10);
    uint8_t avc[sizeof hls_avc_header];
    memcpy(avc, hls_avc_header, sizeof avc);
    avc[sizeof avc - 1] ^= 1;
    hls_push(h, ezr_frame_new(EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 400, avc, sizeof avc, 4096));
    EZR_CHECK(ezr_hls_init(h, 0) != NULL);
    hls_push_video(h, 25, 25, 25, 101); /* segments 1..3 complete: 0 is gone, and its init */
    EZR_CHECK(ezr_hls_segment(h, 0) == NULL);
    EZR_CHECK(ezr_hls_init(h, 0) == NULL);
    EZR_CHECK(ezr_hls_init(h, 1) != NULL);
    ezr_hls_free(h);
}

EZR_TEST(test_a_stream_without_keyframes_is_cut_at_max_parts)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = av_stream(&ev, 0);
    hls_push_video(h, 25, 1000000, 0, EZR_HLS_MAX_PARTS * 5 + 2);
    const struct ezr_hls_segment *s = ezr_hls_segment(h, 0);
    EZR_CHECK(s && s->complete);
    EZR_CHECK_EQ(s->nparts, EZR_HLS_MAX_PARTS);
    s = ezr_hls_segment(h, 1);
    EZR_CHECK(s && !s->complete && !s->parts[0].independent);
    ezr_hls_free(h);
}

EZR_TEST(test_other_codecs_and_metadata_are_skipped)
{
    struct hls_events ev = {0};
    struct ezr_hls *h = hls_new(0, 0, 0, &ev);
    uint8_t hevc_header[] = {0x1c, 0x00, 0, 0, 0, 1, 2, 3};
    uint8_t mp3[] = {0x2f, 0xff, 0xfb, 0x90};
    uint8_t meta[] = {0x02, 0x00, 0x0a, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a'};
    hls_push(h, ezr_frame_new(EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 0, hevc_header,
                              sizeof hevc_header, 4096));
    hls_push(h, ezr_frame_new(EZR_FRAME_SCRIPT, 0, 0, meta, sizeof meta, 4096));
    hls_push(h, hls_header(false));
    hls_push(h, ezr_frame_new(EZR_FRAME_AUDIO, 0, 0, mp3, sizeof mp3, 4096));
    hls_push(h, hls_video(0, true, 0, 16));
    EZR_CHECK(ezr_hls_segment(h, 0) == NULL);
    hls_push(h, hls_audio(0)); /* audio only: the AAC track */
    EZR_CHECK(ezr_hls_segment(h, 0) != NULL);
    EZR_CHECK_EQ(ezr_hls_part(h, 0, 0)->nsamples, 1);
    ezr_hls_free(h);
}

EZR_TEST(test_bad_configs_are_refused)
{
    struct ezr_hls *h = (struct ezr_hls *)1;
    struct ezr_hls_config bad_tag = {0, 0, 0, "a/b"};
    EZR_CHECK_EQ(ezr_hls_new(&bad_tag, NULL, NULL, &h), EZR_EINVAL);
    EZR_CHECK(h == NULL);
    struct ezr_hls_config long_tag = {0};
    memset(long_tag.tag, 'a', sizeof long_tag.tag);
    EZR_CHECK_EQ(ezr_hls_new(&long_tag, NULL, NULL, &h), EZR_EINVAL);
    struct ezr_hls_config big_window = {0, 0, EZR_HLS_MAX_WINDOW + 1, "x"};
    EZR_CHECK_EQ(ezr_hls_new(&big_window, NULL, NULL, &h), EZR_EINVAL);
    struct ezr_hls_config part_over_segment = {1500, 1000, 0, "x"};
    EZR_CHECK_EQ(ezr_hls_new(&part_over_segment, NULL, NULL, &h), EZR_EINVAL);
    struct ezr_hls_config ok = {0, 0, EZR_HLS_MAX_WINDOW, "Ab9"};
    EZR_CHECK_EQ(ezr_hls_new(&ok, NULL, NULL, &h), 0);
    ezr_hls_free(h);
}

/* Every allocation of a stream's life fails in turn (a -Dfailmalloc=true build; skipped
 * otherwise): each call answers 0 or EZR_ENOMEM (render also EZR_EAGAIN), what is listed stays
 * consistent, and under ASan nothing leaks. The frames are made before the injector is armed. */
EZR_TEST(test_every_allocation_failure_leaves_a_consistent_muxer)
{
#ifndef EZR_FAILMALLOC
    EZR_SKIP("needs a -Dfailmalloc=true build");
#else
    enum { NFRAMES = 64 };
    struct ezr_frame *frames[NFRAMES + 4];
    uint8_t avc[sizeof hls_avc_header];
    memcpy(avc, hls_avc_header, sizeof avc);
    avc[sizeof avc - 1] ^= 1;
    for (uint64_t n = 1;; n++) {
        size_t k = 0;
        frames[k++] = hls_header(true);
        frames[k++] = hls_header(false);
        for (unsigned i = 0; i < NFRAMES; i++)
            frames[k++] = i % 2 ? hls_audio(i * 20) : hls_video(i * 20, i % 50 == 0, 0, 16);
        frames[k++] = ezr_frame_new(EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 1300, avc, sizeof avc, 4096);
        frames[k++] = hls_video(1320, true, 0, 16);
        struct hls_events ev = {0};
        struct ezr_hls_config cfg = {0, 0, 2, "t1"};
        struct ezr_hls *h = NULL;
        ezr_failmalloc_arm(EZR_FAILMALLOC_NTH, n, 0);
        int rc = ezr_hls_new(&cfg, &hls_ops, &ev, &h);
        bool ok = rc == 0 || rc == EZR_ENOMEM;
        for (size_t i = 0; h && i < k; i++) {
            rc = ezr_hls_push(h, frames[i], HLS_WALL0 + frames[i]->timestamp);
            ok = ok && (rc == 0 || rc == EZR_ENOMEM);
            if (i == k / 2)
                ezr_hls_break(h);
        }
        struct ezr_buf b;
        ezr_buf_init(&b);
        if (h) {
            rc = ezr_hls_render_playlist(h, true, &b);
            ok = ok && (rc == 0 || rc == EZR_ENOMEM || rc == EZR_EAGAIN);
            ezr_hls_end(h);
        }
        uint64_t failed = ezr_failmalloc_failures();
        ezr_failmalloc_disarm();
        for (uint64_t msn = 0; h && msn < 8; msn++) {
            const struct ezr_hls_segment *s = ezr_hls_segment(h, msn);
            ok = ok && (!s || (s->complete && s->nparts > 0 && s->parts[s->nparts - 1].complete));
        }
        ezr_buf_free(&b);
        ezr_hls_free(h);
        for (size_t i = 0; i < k; i++)
            ezr_frame_unref(frames[i]);
        if (!ok) {
            ezr_test_fail_("# allocation %" PRIu64 " failing broke the muxer\n", n);
            return;
        }
        if (!failed)
            break; /* the whole life ran with fewer than n allocations: about 80 */
    }
#endif
}

EZR_TEST_MAIN(EZR_CASE(test_segments_cut_on_keyframes_of_a_1s_gop),
              EZR_CASE(test_segments_cut_on_keyframes_of_a_4s_gop),
              EZR_CASE(test_a_jittering_1s_gop_is_still_a_segment_per_gop),
              EZR_CASE(test_keyframes_every_few_frames_are_joined_into_segments),
              EZR_CASE(test_segment_target_keeps_keyframes_inside_as_independent_parts),
              EZR_CASE(test_parts_end_on_the_first_frame_boundary_past_the_target),
              EZR_CASE(test_a_sample_is_its_frames_cmaf_view_and_a_slice_of_its_payload),
              EZR_CASE(test_audio_only_cuts_two_second_segments_of_independent_parts),
              EZR_CASE(test_video_only_has_one_track_and_waits_for_a_keyframe),
              EZR_CASE(test_b_frames_give_trun_composition_offsets_from_the_cts),
              EZR_CASE(test_repeated_decode_times_rise_by_a_tick_and_keep_their_presentation),
              EZR_CASE(test_window_keeps_three_target_durations_after_a_long_segment),
              EZR_CASE(test_program_dates_follow_stream_time_through_arrival_jitter),
              EZR_CASE(test_parts_start_with_video_and_audio_steps_by_whole_frames),
              EZR_CASE(test_timestamps_crossing_2_32_ms_give_continuous_decode_times),
              EZR_CASE(test_changed_sequence_header_starts_a_segment_with_a_new_init),
              EZR_CASE(test_break_completes_the_segment_and_the_next_is_discontinuous),
              EZR_CASE(test_time_going_back_is_a_new_timeline_after_a_discontinuity),
              EZR_CASE(test_end_completes_and_ends_until_the_next_push),
              EZR_CASE(test_window_drops_old_segments_with_their_frames_and_inits),
              EZR_CASE(test_window_drops_inits_no_segment_needs),
              EZR_CASE(test_a_stream_without_keyframes_is_cut_at_max_parts),
              EZR_CASE(test_other_codecs_and_metadata_are_skipped),
              EZR_CASE(test_bad_configs_are_refused),
              EZR_CASE(test_every_allocation_failure_leaves_a_consistent_muxer))
