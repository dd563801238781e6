/* The per-client write queue: tiered backpressure, the P-frame rule, and partial writes. */
#include "ezr_test.h"

#include "ezr_frame.h"
#include "ezr_queue.h"
#include "ezr_server.h"

/* The frame's RTMP chunks, with no age limit in play. */
static const struct ezr_frame_view *rtmp_of(struct ezr_frame *f)
{
    const struct ezr_frame_view *v;
    return ezr_frame_view(f, EZR_VIEW_RTMP, ezr_frame_make_rtmp, NULL, &v) < 0 ? NULL : v;
}

static enum ezr_queue_verdict offer_frame(struct ezr_queue *q, struct ezr_frame *f,
                                          const struct ezr_queue_limits *l)
{
    const struct ezr_frame_view *v = rtmp_of(f);
    return ezr_queue_offer(q, f, v->bytes, v->len, l, 0, 0, NULL);
}

/* Small tiers so a few frames cross them: 1000 / 2000 / 4000 bytes. */
static const struct ezr_queue_limits lim = {1000, 2000, 4000, 0};

static struct ezr_frame *mk(enum ezr_frame_kind kind, uint32_t flags, size_t payload)
{
    static uint8_t body[8192];
    return ezr_frame_new((uint8_t)kind, flags, 0, body, payload, 4096);
}

/* Queues frames until the queue holds at least `bytes`, using keyframes (never dropped). */
static void fill_to(struct ezr_queue *q, size_t bytes)
{
    while (q->bytes < bytes) {
        struct ezr_frame *f = mk(EZR_FRAME_VIDEO, EZR_FRAME_KEY, 100);
        offer_frame(q, f, &lim);
        ezr_frame_unref(f);
    }
}

static enum ezr_queue_verdict offer_new(struct ezr_queue *q, enum ezr_frame_kind kind,
                                        uint32_t flags, size_t payload)
{
    struct ezr_frame *f = mk(kind, flags, payload);
    enum ezr_queue_verdict v = offer_frame(q, f, &lim);
    ezr_frame_unref(f);
    return v;
}

EZR_TEST(test_first_video_frame_must_be_keyframe)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 10), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, 0, 10), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 10), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 10), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(q.count, 4);
    ezr_queue_clear(&q);
}

EZR_TEST(test_normal_level_queues_every_frame)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 100), EZR_QUEUE_QUEUED);
    for (int i = 0; i < 5; i++) {
        EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 50), EZR_QUEUE_QUEUED);
        EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, 0, 20), EZR_QUEUE_QUEUED);
    }
    EZR_CHECK_EQ(q.count, 11);
    EZR_CHECK(q.bytes < lim.warning_bytes);
    ezr_queue_clear(&q);
}

EZR_TEST(test_warning_level_drops_inter_video_keeps_audio_and_keys)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    fill_to(&q, 1000);
    EZR_CHECK_EQ(ezr_queue_level(&q, &lim), EZR_QUEUE_WARNING);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 10), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(q.dropped[EZR_QUEUE_WARNING], 1);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, 0, 10), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_SCRIPT, 0, 10), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, EZR_FRAME_HEADER, 10), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10), EZR_QUEUE_QUEUED);
    ezr_queue_clear(&q);
}

EZR_TEST(test_high_level_keeps_only_keyframes_and_headers)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    fill_to(&q, 2000);
    EZR_CHECK_EQ(ezr_queue_level(&q, &lim), EZR_QUEUE_HIGH);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, 0, 10), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 10), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(q.dropped[EZR_QUEUE_HIGH], 2);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 10), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_SCRIPT, 0, 10), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10), EZR_QUEUE_QUEUED);
    ezr_queue_clear(&q);
}

EZR_TEST(test_critical_level_overflows)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    fill_to(&q, 3900);
    /* The frame that crosses the maximum is reported, and nothing is accepted after. */
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 200), EZR_QUEUE_OVERFLOW);
    EZR_CHECK_EQ(ezr_queue_level(&q, &lim), EZR_QUEUE_CRITICAL);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 10), EZR_QUEUE_OVERFLOW);
    ezr_queue_clear(&q);
}

EZR_TEST(test_dropped_video_skips_until_next_keyframe)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    fill_to(&q, 1000);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 10), EZR_QUEUE_DROPPED);
    /* The player catches up completely... */
    ezr_queue_advance(&q, q.bytes);
    EZR_CHECK_EQ(q.count, 0);
    EZR_CHECK_EQ(ezr_queue_level(&q, &lim), EZR_QUEUE_NORMAL);
    /* ...but inter frames still wait for a keyframe: their reference was dropped. */
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 10), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, 0, 10), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 10), EZR_QUEUE_QUEUED);
    ezr_queue_clear(&q);
}

EZR_TEST(test_partial_write_moves_offset_only)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    struct ezr_frame *f = mk(EZR_FRAME_VIDEO, EZR_FRAME_KEY, 100);
    offer_frame(&q, f, &lim);
    const uint8_t ctl[3] = {1, 2, 3};
    EZR_CHECK_EQ(ezr_queue_push_bytes(&q, ctl, sizeof ctl, 0), 0);
    struct iovec iov[8];
    EZR_CHECK_EQ(ezr_queue_iov(&q, iov, 8), 2);
    const struct ezr_frame_view *v = rtmp_of(f);
    EZR_CHECK(iov[0].iov_base == v->bytes);
    EZR_CHECK_EQ(iov[0].iov_len, v->len);
    EZR_CHECK_EQ(iov[1].iov_len, 3);
    ezr_queue_advance(&q, 10);
    EZR_CHECK_EQ(ezr_queue_iov(&q, iov, 8), 2);
    EZR_CHECK(iov[0].iov_base == v->bytes + 10);
    EZR_CHECK_EQ(iov[0].iov_len, v->len - 10);
    EZR_CHECK_EQ(q.bytes, v->len - 10 + 3);
    ezr_queue_advance(&q, v->len - 10 + 1);
    EZR_CHECK_EQ(q.count, 1);
    EZR_CHECK_EQ(ezr_queue_iov(&q, iov, 8), 1);
    EZR_CHECK_EQ(((uint8_t *)iov[0].iov_base)[0], 2);
    ezr_queue_advance(&q, 2);
    EZR_CHECK(ezr_queue_empty(&q));
    /* The frame is shared, not copied: the queue held a reference and released it. */
    EZR_CHECK_EQ(atomic_load(&f->refs), 1);
    ezr_frame_unref(f);
    ezr_queue_clear(&q);
}

EZR_TEST(test_iov_gathers_many_frames_in_order)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    struct ezr_frame *fs[40];
    for (int i = 0; i < 40; i++) {
        fs[i] = mk(EZR_FRAME_VIDEO, i == 0 ? EZR_FRAME_KEY : 0, 10);
        EZR_CHECK_EQ(offer_frame(&q, fs[i], &lim), EZR_QUEUE_QUEUED);
    }
    struct iovec iov[64];
    EZR_CHECK_EQ(ezr_queue_iov(&q, iov, 64), 40);
    for (int i = 0; i < 40; i++)
        EZR_CHECK(iov[i].iov_base == fs[i]->views[EZR_VIEW_RTMP].bytes);
    EZR_CHECK_EQ(ezr_queue_iov(&q, iov, 16), 16);
    ezr_queue_clear(&q);
    for (int i = 0; i < 40; i++) {
        EZR_CHECK_EQ(atomic_load(&fs[i]->refs), 1);
        ezr_frame_unref(fs[i]);
    }
}

EZR_TEST(test_receive_video_false_drops_video)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    q.want_video = false;
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, 0, 10), EZR_QUEUE_QUEUED);
    ezr_queue_clear(&q);
}

/* A next-keyframe join: audio waits with video for the keyframe, once; with receiveVideo false
 * (no keyframe would come) it does not wait. */
EZR_TEST(test_audio_waiting_for_the_keyframe_goes_with_it)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    q.audio_waits_key = true;
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, EZR_FRAME_HEADER, 10), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, 0, 10), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 10), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, 0, 10), EZR_QUEUE_QUEUED);
    /* A later drop makes video wait for a keyframe again, never audio. */
    q.need_keyframe = true;
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, 0, 10), EZR_QUEUE_QUEUED);
    ezr_queue_clear(&q);
    ezr_queue_init(&q);
    q.audio_waits_key = true;
    q.want_video = false;
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, 0, 10), EZR_QUEUE_QUEUED);
    ezr_queue_clear(&q);
}

/* Offers a new frame at time now with flags (EZR_OFFER_BURST). */
static enum ezr_queue_verdict offer_at(struct ezr_queue *q, const struct ezr_queue_limits *l,
                                       enum ezr_frame_kind kind, uint32_t fflags, size_t payload,
                                       uint64_t now, uint32_t oflags)
{
    struct ezr_frame *f = mk(kind, fflags, payload);
    const struct ezr_frame_view *view = rtmp_of(f);
    enum ezr_queue_verdict v = ezr_queue_offer(q, f, view->bytes, view->len, l, now, oflags, NULL);
    ezr_frame_unref(f);
    return v;
}

EZR_TEST(test_join_burst_is_queued_whole_and_is_not_lag)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    /* A cached GOP of 10 KB, far past every tier. */
    EZR_CHECK_EQ(offer_at(&q, &lim, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 400, 0, EZR_OFFER_BURST),
                 EZR_QUEUE_QUEUED);
    for (int i = 0; i < 24; i++)
        EZR_CHECK_EQ(offer_at(&q, &lim, EZR_FRAME_VIDEO, 0, 400, 0, EZR_OFFER_BURST),
                     EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(q.count, 25);
    EZR_CHECK(q.bytes > 10000);
    EZR_CHECK_EQ(ezr_queue_level(&q, &lim), EZR_QUEUE_NORMAL);
    /* Live frames after it are judged on their own bytes: all queued. */
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 400), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, 0, 100), EZR_QUEUE_QUEUED);
    /* A player that never takes the burst still falls behind on live bytes and is cut. */
    enum ezr_queue_verdict v = EZR_QUEUE_QUEUED;
    for (int i = 0; i < 50 && v != EZR_QUEUE_OVERFLOW; i++)
        v = offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 400);
    EZR_CHECK_EQ(v, EZR_QUEUE_OVERFLOW);
    ezr_queue_clear(&q);
}

EZR_TEST(test_frame_larger_than_max_reaches_a_reading_player)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 5000), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(ezr_queue_level(&q, &lim), EZR_QUEUE_NORMAL);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 100), EZR_QUEUE_QUEUED);
    /* Half of it written: the rest is still not lag. */
    ezr_queue_advance(&q, 2500);
    EZR_CHECK_EQ(ezr_queue_level(&q, &lim), EZR_QUEUE_NORMAL);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 100), EZR_QUEUE_QUEUED);
    ezr_queue_advance(&q, q.bytes);
    EZR_CHECK_EQ(q.uncounted_bytes, 0);
    EZR_CHECK_EQ(q.bytes, 0);
    ezr_queue_clear(&q);
}

EZR_TEST(test_oldest_item_over_max_age_keeps_only_keyframes_and_headers)
{
    const struct ezr_queue_limits aged = {1000, 2000, 4000, 1000};
    struct ezr_queue q;
    ezr_queue_init(&q);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_AUDIO, 0, 10, 100, 0), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_AUDIO, 0, 10, 1099, 0), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(ezr_queue_level_at(&q, &aged, 1100), EZR_QUEUE_HIGH);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_AUDIO, 0, 10, 1100, 0), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_SCRIPT, 0, 10, 1100, 0), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10, 1100, 0),
                 EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(q.dropped[EZR_QUEUE_HIGH], 1);
    /* Caught up: the age is that of what waits now. */
    ezr_queue_advance(&q, q.bytes);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_AUDIO, 0, 10, 5000, 0), EZR_QUEUE_QUEUED);
    ezr_queue_clear(&q);
}

/* Frames already queued when the oldest has waited the age limit: live audio and inter video go,
 * keyframes, headers, metadata and replies stay, and the head item stays if it is partly
 * written; video then resumes only at a keyframe. */
EZR_TEST(test_shed_drops_aged_audio_and_inter_video_then_waits_for_keyframe)
{
    const struct ezr_queue_limits aged = {1000, 2000, 4000, 1000};
    static const uint8_t reply[20];
    struct ezr_queue q;
    ezr_queue_init(&q);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_AUDIO, 0, 10, 0, 0), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 10, 0, 0),
                 EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_SCRIPT, 0, 10, 0, 0), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10, 0, 0), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_VIDEO, 0, 10, 0, 0), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_AUDIO, 0, 10, 0, 0), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(ezr_queue_push_bytes(&q, reply, sizeof reply, 0), 0);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_VIDEO, 0, 10, 0, 0), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_AUDIO, 0, 10, 0, 0), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(q.count, 9);
    size_t frame_len = q.items[0].len;               /* every frame here has the same length */
    ezr_queue_advance(&q, 3);                        /* the head audio frame is being written */
    EZR_CHECK_EQ(ezr_queue_shed(&q, &aged, 999), 0); /* not yet */
    EZR_CHECK_EQ(q.count, 9);
    EZR_CHECK_EQ(ezr_queue_shed(&q, &aged, 1000), 4);
    /* Kept, in order: the partly written audio, header, metadata, keyframe, reply. */
    EZR_CHECK_EQ(q.count, 5);
    EZR_CHECK_EQ(q.items[0].frame->kind, EZR_FRAME_AUDIO);
    EZR_CHECK(q.items[1].frame->flags & EZR_FRAME_HEADER);
    EZR_CHECK_EQ(q.items[2].frame->kind, EZR_FRAME_SCRIPT);
    EZR_CHECK(q.items[3].frame->flags & EZR_FRAME_KEY);
    EZR_CHECK(q.items[4].frame == NULL);
    EZR_CHECK_EQ(q.bytes, 4 * frame_len - 3 + sizeof reply);
    EZR_CHECK_EQ(q.owned_bytes, sizeof reply);
    EZR_CHECK_EQ(q.dropped[EZR_QUEUE_HIGH], 4);
    EZR_CHECK(q.need_keyframe);
    /* Caught up: inter video still waits for a keyframe, audio goes at once. */
    ezr_queue_advance(&q, q.bytes);
    EZR_CHECK(ezr_queue_empty(&q));
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_VIDEO, 0, 10, 1001, 0), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_AUDIO, 0, 10, 1001, 0), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10, 1001, 0),
                 EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_VIDEO, 0, 10, 1001, 0), EZR_QUEUE_QUEUED);
    ezr_queue_clear(&q);
}

/* A joiner that takes longer than the age limit to read the cached replay loses none of it: the
 * burst is never shed, and the age limit is measured on the live items behind it. */
EZR_TEST(test_shed_keeps_join_burst_and_measures_age_on_live_items)
{
    const struct ezr_queue_limits aged = {1000, 2000, 4000, 1000};
    struct ezr_queue q;
    ezr_queue_init(&q);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10, 0, EZR_OFFER_BURST),
                 EZR_QUEUE_QUEUED);
    for (int i = 0; i < 3; i++) {
        EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_VIDEO, 0, 10, 0, EZR_OFFER_BURST),
                     EZR_QUEUE_QUEUED);
        EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_AUDIO, 0, 10, 0, EZR_OFFER_BURST),
                     EZR_QUEUE_QUEUED);
    }
    /* Long past the limit with only the burst queued: no lag, nothing goes. */
    EZR_CHECK_EQ(ezr_queue_live_age(&q, 5000), 0);
    EZR_CHECK_EQ(ezr_queue_level_at(&q, &aged, 5000), EZR_QUEUE_NORMAL);
    EZR_CHECK_EQ(ezr_queue_shed(&q, &aged, 5000), 0);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_VIDEO, 0, 10, 5000, 0), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_AUDIO, 0, 10, 5000, 0), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(q.count, 9);
    /* The live items behind it age from when they were queued. */
    EZR_CHECK_EQ(ezr_queue_live_age(&q, 5999), 999);
    EZR_CHECK_EQ(ezr_queue_shed(&q, &aged, 5999), 0);
    EZR_CHECK_EQ(ezr_queue_level_at(&q, &aged, 6000), EZR_QUEUE_HIGH);
    EZR_CHECK_EQ(ezr_queue_shed(&q, &aged, 6000), 2);
    EZR_CHECK_EQ(q.count, 7); /* the whole burst */
    for (size_t i = 0; i < q.count; i++)
        EZR_CHECK(q.items[i].burst);
    /* A replay after a restart queues a second burst behind a live frame: once that frame is
     * written, the second burst leads and no live item waits. */
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10, 6000, 0),
                 EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_at(&q, &aged, EZR_FRAME_AUDIO, 0, 10, 6000, EZR_OFFER_BURST),
                 EZR_QUEUE_QUEUED);
    size_t second = q.items[8].len;
    EZR_CHECK_EQ(ezr_queue_live_age(&q, 6500), 500);
    ezr_queue_advance(&q, q.bytes - second);
    EZR_CHECK_EQ(q.count, 1);
    EZR_CHECK_EQ(ezr_queue_live_age(&q, 9000), 0);
    EZR_CHECK_EQ(ezr_queue_shed(&q, &aged, 9000), 0);
    ezr_queue_clear(&q);
}

/* One frame over every tier reaches a player that reads, each time; a player that reads nothing
 * of a stream of such frames is cut at the second, its queue never holding more than two. */
EZR_TEST(test_one_oversized_frame_at_a_time_is_not_lag)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    for (int i = 0; i < 3; i++) { /* the reader: each written before the next comes */
        EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 5000), EZR_QUEUE_QUEUED);
        EZR_CHECK_EQ(ezr_queue_level(&q, &lim), EZR_QUEUE_NORMAL);
        ezr_queue_advance(&q, q.bytes);
        EZR_CHECK(!q.oversized);
    }
    /* A mid-size frame while one oversized waits counts: the warning tier. */
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 5000), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 1200), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(ezr_queue_level(&q, &lim), EZR_QUEUE_WARNING);
    ezr_queue_advance(&q, q.bytes);
    /* The non-reader: the second oversized frame counts, crosses the maximum, and is the last. */
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 5000), EZR_QUEUE_QUEUED);
    size_t one = q.bytes;
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 5000), EZR_QUEUE_OVERFLOW);
    EZR_CHECK_EQ(ezr_queue_level(&q, &lim), EZR_QUEUE_CRITICAL);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 5000), EZR_QUEUE_OVERFLOW);
    EZR_CHECK_EQ(q.bytes, 2 * one);
    /* Once the first is written the next oversized frame is the uncounted one again. */
    ezr_queue_advance(&q, one);
    EZR_CHECK(!q.oversized);
    EZR_CHECK_EQ(q.uncounted_bytes, 0);
    ezr_queue_clear(&q);
}

EZR_TEST(test_paused_queue_takes_headers_only_and_resumes_at_keyframe)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10), EZR_QUEUE_QUEUED);
    q.paused = true;
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 10), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, 0, 10), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 10), EZR_QUEUE_QUEUED);
    q.paused = false;
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 10), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10), EZR_QUEUE_QUEUED);
    EZR_CHECK_EQ(q.count, 3);
    ezr_queue_clear(&q);
}

EZR_TEST(test_receive_video_back_on_resumes_at_keyframe)
{
    struct ezr_queue q;
    ezr_queue_init(&q);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10), EZR_QUEUE_QUEUED);
    q.want_video = false;
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 10), EZR_QUEUE_DROPPED);
    q.want_video = true;
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, 0, 10), EZR_QUEUE_DROPPED);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 10), EZR_QUEUE_QUEUED);
    ezr_queue_clear(&q);
}

EZR_TEST(test_replies_count_as_live_bytes)
{
    static const uint8_t reply[1000];
    struct ezr_queue q;
    ezr_queue_init(&q);
    for (int i = 0; i < 4; i++)
        EZR_CHECK_EQ(ezr_queue_push_bytes(&q, reply, sizeof reply, 0), 0);
    EZR_CHECK_EQ(q.owned_bytes, 4000);
    EZR_CHECK_EQ(ezr_queue_level(&q, &lim), EZR_QUEUE_CRITICAL);
    EZR_CHECK_EQ(offer_new(&q, EZR_FRAME_AUDIO, 0, 10), EZR_QUEUE_OVERFLOW);
    ezr_queue_advance(&q, 1500);
    EZR_CHECK_EQ(q.owned_bytes, 2500);
    ezr_queue_clear(&q);
}

EZR_TEST_MAIN(EZR_CASE(test_first_video_frame_must_be_keyframe),
              EZR_CASE(test_normal_level_queues_every_frame),
              EZR_CASE(test_warning_level_drops_inter_video_keeps_audio_and_keys),
              EZR_CASE(test_high_level_keeps_only_keyframes_and_headers),
              EZR_CASE(test_critical_level_overflows),
              EZR_CASE(test_dropped_video_skips_until_next_keyframe),
              EZR_CASE(test_partial_write_moves_offset_only),
              EZR_CASE(test_iov_gathers_many_frames_in_order),
              EZR_CASE(test_receive_video_false_drops_video),
              EZR_CASE(test_audio_waiting_for_the_keyframe_goes_with_it),
              EZR_CASE(test_join_burst_is_queued_whole_and_is_not_lag),
              EZR_CASE(test_frame_larger_than_max_reaches_a_reading_player),
              EZR_CASE(test_oldest_item_over_max_age_keeps_only_keyframes_and_headers),
              EZR_CASE(test_shed_drops_aged_audio_and_inter_video_then_waits_for_keyframe),
              EZR_CASE(test_shed_keeps_join_burst_and_measures_age_on_live_items),
              EZR_CASE(test_one_oversized_frame_at_a_time_is_not_lag),
              EZR_CASE(test_paused_queue_takes_headers_only_and_resumes_at_keyframe),
              EZR_CASE(test_receive_video_back_on_resumes_at_keyframe),
              EZR_CASE(test_replies_count_as_live_bytes))
