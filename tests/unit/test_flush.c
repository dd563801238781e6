/* The write scheduler's rules (ezr_flush.h), on entries of no client: the flusher writes through
 * a hook that records who was written when, every time and queue size is passed in. */
#include "ezr_test.h"

#include "ezr_flush.h"
#include "ezr_limits.h"
#include "ezr_queue.h"

#define INTERVAL EZR_FLUSH_AUTO_WAIT_MS /* what auto holds audio for, at most */
#define HOLD 350u                       /* an interval in ms: every media frame waits */
#define T0 1000000u                     /* any ezr_now_ms() value */
/* How much before its end a hold is written after a sweep that took no time in whole ms (the
 * hook's writes take none): 1 ms for what the truncated times may hide of it, 1 ms for a round
 * that runs late in the ms it reads. */
#define LEAD_MIN 2u
#define NCLIENTS 600u

static struct ezr_flush_entry clients[NCLIENTS];
static uint64_t queued[NCLIENTS];    /* the bytes each one's queue holds */
static unsigned writes[NCLIENTS];    /* per client */
static unsigned nwritten;            /* in the last ezr_flush_run() */
static unsigned nth_write[NCLIENTS]; /* when each was last written, counting writes from 1 */
static unsigned all_writes;

static void record_write(struct ezr_flush_entry *e)
{
    writes[e - clients]++;
    nwritten++;
    nth_write[e - clients] = ++all_writes;
}

/* Media for client i, its queue as it is. */
static void media(struct ezr_flusher *fl, unsigned i, bool may_wait, uint64_t now_ms)
{
    ezr_flush_media(fl, &clients[i], may_wait, queued[i], now_ms, now_ms);
}

static void setup(struct ezr_flusher *fl, int32_t interval_ms)
{
    memset(clients, 0, sizeof clients);
    memset(queued, 0, sizeof queued);
    memset(writes, 0, sizeof writes);
    ezr_flush_init(fl, interval_ms, record_write);
}

static unsigned run(struct ezr_flusher *fl, uint64_t now_ms)
{
    nwritten = 0;
    ezr_flush_run(fl, false, now_ms);
    ezr_flush_done(fl, now_ms); /* the hook's writes take no time */
    return nwritten;
}

EZR_TEST(test_reply_is_written_in_the_round_it_is_queued)
{
    struct ezr_flusher fl;
    setup(&fl, EZR_FLUSH_AUTO);
    ezr_flush_now(&fl, &clients[0]);
    ezr_flush_now(&fl, &clients[0]); /* once per round, however many replies */
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0), 0);
    EZR_CHECK_EQ(run(&fl, T0), 1);
    EZR_CHECK_EQ(writes[0], 1);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0), 250);
}

EZR_TEST(test_video_on_an_idle_reactor_is_written_at_once)
{
    struct ezr_flusher fl;
    setup(&fl, EZR_FLUSH_AUTO);
    media(&fl, 0, false, T0);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0), 0);
    EZR_CHECK_EQ(run(&fl, T0), 1);
    EZR_CHECK_EQ(run(&fl, T0), 0);
}

EZR_TEST(test_audio_waits_for_the_next_video_frame_and_goes_with_it)
{
    struct ezr_flusher fl;
    setup(&fl, EZR_FLUSH_AUTO);
    media(&fl, 0, true, T0);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0), INTERVAL);
    EZR_CHECK_EQ(run(&fl, T0), 0);
    media(&fl, 0, true, T0 + 23); /* more audio: still waiting */
    EZR_CHECK_EQ(run(&fl, T0 + 23), 0);
    media(&fl, 0, false, T0 + 40); /* the video frame */
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0 + 40), 0);
    EZR_CHECK_EQ(run(&fl, T0 + 40), 1);
    EZR_CHECK_EQ(writes[0], 1);
    /* Nothing is left waiting: the hold ended with the write. */
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0 + 40), 250);
    EZR_CHECK_EQ(run(&fl, T0 + INTERVAL), 0);
}

EZR_TEST(test_held_media_never_waits_longer_than_the_interval)
{
    struct ezr_flusher fl;
    setup(&fl, EZR_FLUSH_AUTO);
    media(&fl, 0, true, T0);
    media(&fl, 0, true, T0 + 60); /* a later frame does not extend it */
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0 + 60), INTERVAL - 60);
    EZR_CHECK_EQ(run(&fl, T0 + INTERVAL - 1), 0);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0 + INTERVAL - 1), 1);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0 + INTERVAL), 0);
    EZR_CHECK_EQ(run(&fl, T0 + INTERVAL), 1);
    EZR_CHECK_EQ(writes[0], 1);
}

EZR_TEST(test_holds_end_in_the_order_they_began)
{
    struct ezr_flusher fl;
    setup(&fl, EZR_FLUSH_AUTO);
    media(&fl, 0, true, T0);
    media(&fl, 1, true, T0 + 50);
    EZR_CHECK_EQ(run(&fl, T0 + INTERVAL), 1);
    EZR_CHECK_EQ(writes[0], 1);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0 + INTERVAL), 50);
    EZR_CHECK_EQ(run(&fl, T0 + INTERVAL + 50), 1);
    EZR_CHECK_EQ(writes[1], 1);
}

EZR_TEST(test_zero_interval_writes_every_frame_in_its_round)
{
    struct ezr_flusher fl;
    setup(&fl, 0);
    media(&fl, 0, true, T0);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0), 0);
    EZR_CHECK_EQ(run(&fl, T0), 1);
}

EZR_TEST(test_large_backlog_is_written_in_its_round)
{
    struct ezr_flusher fl;
    setup(&fl, EZR_FLUSH_AUTO);
    queued[0] = EZR_FLUSH_BYTES;
    media(&fl, 0, true, T0);
    EZR_CHECK_EQ(run(&fl, T0), 1);
}

EZR_TEST(test_sweep_writes_a_batch_of_players_per_round_replies_first)
{
    struct ezr_flusher fl;
    setup(&fl, EZR_FLUSH_AUTO);
    for (unsigned i = 0; i < NCLIENTS; i++)
        media(&fl, i, false, T0);
    EZR_CHECK_EQ(run(&fl, T0), EZR_FLUSH_BATCH);
    EZR_CHECK_EQ(writes[EZR_FLUSH_BATCH - 1], 1);
    EZR_CHECK_EQ(writes[EZR_FLUSH_BATCH], 0);
    /* A reply queued meanwhile goes in the next round whatever the sweep has left. */
    ezr_flush_now(&fl, &clients[NCLIENTS - 1]);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0), 0);
    EZR_CHECK_EQ(run(&fl, T0), 1 + EZR_FLUSH_BATCH);
    EZR_CHECK_EQ(writes[NCLIENTS - 1], 1);
    EZR_CHECK_EQ(run(&fl, T0), NCLIENTS - 2 * EZR_FLUSH_BATCH);
    EZR_CHECK_EQ(run(&fl, T0), 0);
    for (unsigned i = 0; i < NCLIENTS - 1; i++)
        EZR_CHECK_EQ(writes[i], 1);
    EZR_CHECK_EQ(writes[NCLIENTS - 1], 2);
}

EZR_TEST(test_frames_arriving_during_a_sweep_go_in_the_same_write)
{
    struct ezr_flusher fl;
    setup(&fl, EZR_FLUSH_AUTO);
    for (unsigned i = 0; i < NCLIENTS; i++)
        media(&fl, i, false, T0);
    EZR_CHECK_EQ(run(&fl, T0), EZR_FLUSH_BATCH);
    /* The next video frame comes while the sweep is under way. */
    for (unsigned i = 0; i < NCLIENTS; i++)
        media(&fl, i, false, T0 + 40);
    while (run(&fl, T0 + 40))
        ;
    /* Written before it came: once more for it; not yet reached: one write carried both. */
    for (unsigned i = 0; i < NCLIENTS; i++)
        EZR_CHECK_EQ(writes[i], i < EZR_FLUSH_BATCH ? 2 : 1);
}

EZR_TEST(test_busy_reactor_spaces_its_sweeps)
{
    struct ezr_flusher fl;
    setup(&fl, EZR_FLUSH_AUTO);
    ezr_flush_set_busy(&fl, 1.0); /* always busy: a sweep per interval */
    media(&fl, 0, false, T0);
    EZR_CHECK_EQ(run(&fl, T0), 1);
    media(&fl, 0, false, T0 + 10);
    ezr_flush_now(&fl, &clients[1]);                  /* replies are never spaced */
    media(&fl, 2, true, T0 + 10); /* held until T0 + 10 + INTERVAL */
    EZR_CHECK_EQ(run(&fl, T0 + 10), 1);
    EZR_CHECK_EQ(writes[1], 1);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0 + 10), INTERVAL - 10);
    EZR_CHECK_EQ(run(&fl, T0 + INTERVAL - 1), 0);
    EZR_CHECK_EQ(run(&fl, T0 + INTERVAL), 1);
    EZR_CHECK_EQ(writes[0], 2);
    /* A hold that is up is not spaced: it never waits longer than the interval. */
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0 + INTERVAL), 10);
    EZR_CHECK_EQ(run(&fl, T0 + 10 + INTERVAL), 1);
    EZR_CHECK_EQ(writes[2], 1);
    /* Half way between EZR_FLUSH_BUSY_FROM and always busy: half the interval. */
    ezr_flush_set_busy(&fl, (EZR_FLUSH_BUSY_FROM + 1.0) / 2);
    media(&fl, 0, false, T0 + INTERVAL + 11);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0 + INTERVAL + 11), INTERVAL / 2 - 11);
    /* Idle enough: no gap. */
    ezr_flush_set_busy(&fl, EZR_FLUSH_BUSY_FROM);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0 + INTERVAL + 11), 0);
    EZR_CHECK_EQ(run(&fl, T0 + INTERVAL + 11), 1);
}

EZR_TEST(test_closing_client_leaves_every_list)
{
    struct ezr_flusher fl;
    setup(&fl, EZR_FLUSH_AUTO);
    media(&fl, 0, true, T0);
    media(&fl, 1, false, T0);
    ezr_flush_now(&fl, &clients[1]);
    ezr_flush_forget(&clients[0]);
    ezr_flush_forget(&clients[1]);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 250, T0), 250);
    EZR_CHECK_EQ(run(&fl, T0 + INTERVAL), 0);
}

EZR_TEST(test_audio_and_live_data_may_wait_for_video_that_is_coming)
{
    struct ezr_frame audio = {.kind = EZR_FRAME_AUDIO};
    struct ezr_frame aac_header = {.kind = EZR_FRAME_AUDIO, .flags = EZR_FRAME_HEADER};
    struct ezr_frame cue = {.kind = EZR_FRAME_SCRIPT, .flags = EZR_FRAME_LIVE};
    struct ezr_frame metadata = {.kind = EZR_FRAME_SCRIPT};
    struct ezr_frame video = {.kind = EZR_FRAME_VIDEO, .flags = EZR_FRAME_KEY};
    struct ezr_flusher fl;
    setup(&fl, EZR_FLUSH_AUTO);
    struct ezr_queue q;
    ezr_queue_init(&q);
    q.need_keyframe = false; /* playing video */
    EZR_CHECK(ezr_flush_may_wait(&fl, &audio, true, &q, false));
    EZR_CHECK(ezr_flush_may_wait(&fl, &cue, true, &q, false));
    EZR_CHECK(!ezr_flush_may_wait(&fl, &video, true, &q, false));
    EZR_CHECK(!ezr_flush_may_wait(&fl, &aac_header, true, &q, false));
    EZR_CHECK(!ezr_flush_may_wait(&fl, &metadata, true, &q, false));
    /* No video coming for this player: nothing to wait for. */
    EZR_CHECK(!ezr_flush_may_wait(&fl, &audio, false, &q, false)); /* audio-only stream */
    q.need_keyframe = true;
    EZR_CHECK(!ezr_flush_may_wait(&fl, &audio, true, &q, true));
    q.need_keyframe = false;
    q.want_video = false;
    EZR_CHECK(!ezr_flush_may_wait(&fl, &audio, true, &q, false));
    q.want_video = true;
    q.paused = true;
    EZR_CHECK(!ezr_flush_may_wait(&fl, &cue, true, &q, false));
}

/* flush-interval in ms: every media frame may wait, video too, and for audio-only streams and
 * players that take no video as well; headers and metadata never; nor, for a stream with video,
 * anything offered while the player awaited a keyframe (its start), that keyframe included. */
EZR_TEST(test_an_interval_in_ms_lets_every_media_frame_wait_but_a_start)
{
    struct ezr_frame audio = {.kind = EZR_FRAME_AUDIO};
    struct ezr_frame aac_header = {.kind = EZR_FRAME_AUDIO, .flags = EZR_FRAME_HEADER};
    struct ezr_frame cue = {.kind = EZR_FRAME_SCRIPT, .flags = EZR_FRAME_LIVE};
    struct ezr_frame metadata = {.kind = EZR_FRAME_SCRIPT};
    struct ezr_frame key = {.kind = EZR_FRAME_VIDEO, .flags = EZR_FRAME_KEY};
    struct ezr_frame inter = {.kind = EZR_FRAME_VIDEO};
    struct ezr_frame avc_header = {.kind = EZR_FRAME_VIDEO, .flags = EZR_FRAME_HEADER};
    struct ezr_flusher fl;
    setup(&fl, HOLD);
    struct ezr_queue q;
    ezr_queue_init(&q);
    q.need_keyframe = false;
    EZR_CHECK(ezr_flush_may_wait(&fl, &key, true, &q, false));
    EZR_CHECK(ezr_flush_may_wait(&fl, &inter, true, &q, false));
    EZR_CHECK(ezr_flush_may_wait(&fl, &audio, true, &q, false));
    EZR_CHECK(ezr_flush_may_wait(&fl, &cue, true, &q, false));
    EZR_CHECK(ezr_flush_may_wait(&fl, &audio, false, &q, true)); /* audio-only: no keyframe */
    q.want_video = false;
    EZR_CHECK(ezr_flush_may_wait(&fl, &audio, true, &q, false));
    q.want_video = true;
    EZR_CHECK(!ezr_flush_may_wait(&fl, &aac_header, true, &q, false));
    EZR_CHECK(!ezr_flush_may_wait(&fl, &avc_header, true, &q, false));
    EZR_CHECK(!ezr_flush_may_wait(&fl, &metadata, true, &q, false));
    EZR_CHECK(!ezr_flush_may_wait(&fl, &key, true, &q, true));   /* the keyframe it awaited */
    EZR_CHECK(!ezr_flush_may_wait(&fl, &audio, true, &q, true)); /* before it */
}

/* At an interval in ms video waits too, from the first frame held: a later frame neither ends
 * nor extends the hold, and the one write at its end carries them all. */
EZR_TEST(test_an_interval_in_ms_holds_video_and_writes_it_all_at_once)
{
    struct ezr_flusher fl;
    setup(&fl, HOLD);
    media(&fl, 0, false, T0); /* its first live frame goes with the next sweep */
    EZR_CHECK_EQ(run(&fl, T0), 1);
    media(&fl, 0, true, T0 + 40); /* a video frame */
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 1000, T0 + 40), HOLD - LEAD_MIN);
    for (uint64_t t = T0 + 63; t < T0 + 40 + HOLD - LEAD_MIN; t += 23) { /* audio and video */
        media(&fl, 0, true, t);
        EZR_CHECK_EQ(run(&fl, t), 0);
    }
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 1000, T0 + 40 + HOLD - LEAD_MIN - 1), 1);
    EZR_CHECK_EQ(run(&fl, T0 + 40 + HOLD - LEAD_MIN - 1), 0);
    EZR_CHECK_EQ(run(&fl, T0 + 40 + HOLD - LEAD_MIN), 1);
    EZR_CHECK_EQ(writes[0], 2);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 1000, T0 + 40 + HOLD), 1000);
}

/* Held media is written earlier only for what may not wait: a reply (written alone, the hold
 * goes on), a header (ends the hold), or a backlog of EZR_FLUSH_BYTES. */
EZR_TEST(test_an_interval_in_ms_ends_early_only_for_a_header_or_a_backlog)
{
    struct ezr_flusher fl;
    setup(&fl, HOLD);
    for (unsigned i = 0; i < 3; i++) {
        media(&fl, i, false, T0); /* their first live frames */
        media(&fl, i, true, T0 + 1);
    }
    while (run(&fl, T0 + 1))
        ;
    media(&fl, 0, true, T0 + 40);
    media(&fl, 1, true, T0 + 40);
    ezr_flush_now(&fl, &clients[0]); /* a reply: this round, and the hold stays */
    EZR_CHECK_EQ(run(&fl, T0 + 41), 1);
    media(&fl, 1, false, T0 + 50); /* a header */
    EZR_CHECK_EQ(run(&fl, T0 + 50), 1);
    queued[2] = EZR_FLUSH_BYTES;
    media(&fl, 2, true, T0 + 60); /* a backlog, held or not */
    EZR_CHECK_EQ(run(&fl, T0 + 60), 1);
    EZR_CHECK_EQ(writes[0], 2);
    EZR_CHECK_EQ(writes[1], 2);
    EZR_CHECK_EQ(writes[2], 2);
    /* Client 0's hold still ends when it began plus the interval. */
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 1000, T0 + 60), HOLD - 20 - LEAD_MIN);
    EZR_CHECK_EQ(run(&fl, T0 + 40 + HOLD - LEAD_MIN), 1);
    EZR_CHECK_EQ(writes[0], 3);
}

/* At an interval in ms, the holds of many players that began together end early by the time
 * their last sweep took, so that the last one written has not waited longer either; auto holds
 * are not moved. */
EZR_TEST(test_an_interval_in_ms_ends_holds_early_by_the_time_a_sweep_takes)
{
    struct ezr_flusher fl;
    setup(&fl, HOLD);
    for (unsigned i = 0; i < NCLIENTS; i++) {
        media(&fl, i, false, T0); /* their first live frames */
        media(&fl, i, true, T0 + 1);
    }
    /* The first frames' sweep: three rounds, the last one's writes ending at T0 + 24. */
    EZR_CHECK_EQ(run(&fl, T0), EZR_FLUSH_BATCH);
    EZR_CHECK_EQ(run(&fl, T0 + 10), EZR_FLUSH_BATCH);
    nwritten = 0;
    ezr_flush_run(&fl, false, T0 + 20);
    EZR_CHECK_EQ(nwritten, NCLIENTS - 2 * EZR_FLUSH_BATCH);
    ezr_flush_done(&fl, T0 + 24);
    for (unsigned i = 0; i < NCLIENTS; i++)
        media(&fl, i, true, T0 + 40);
    /* Held from T0 + 40 (the frames at T0 + 1 went with the first sweep): written from 24 ms
     * before the end, and 2 more for the whole-ms times. */
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 1000, T0 + 40), HOLD - 24 - LEAD_MIN);
    EZR_CHECK_EQ(run(&fl, T0 + 40 + HOLD - 24 - LEAD_MIN - 1), 0);
    EZR_CHECK_EQ(run(&fl, T0 + 40 + HOLD - 24 - LEAD_MIN), EZR_FLUSH_BATCH);
    /* Auto: audio alone waits its whole time, whatever the sweeps took. */
    setup(&fl, EZR_FLUSH_AUTO);
    for (unsigned i = 0; i < NCLIENTS; i++)
        media(&fl, i, false, T0);
    EZR_CHECK_EQ(run(&fl, T0), EZR_FLUSH_BATCH);
    EZR_CHECK_EQ(run(&fl, T0 + 10), EZR_FLUSH_BATCH);
    EZR_CHECK_EQ(run(&fl, T0 + 20), NCLIENTS - 2 * EZR_FLUSH_BATCH);
    media(&fl, 0, true, T0 + 30);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 1000, T0 + 30), INTERVAL);
}

/* At an interval in ms the wait counts from the push: a frame that waited in the mailbox while the
 * reactor wrote is held that much less. Auto's wait counts from its fan-out, as it always has. */
EZR_TEST(test_an_interval_in_ms_counts_from_the_push)
{
    struct ezr_flusher fl;
    setup(&fl, HOLD);
    media(&fl, 0, false, T0); /* its first live frame */
    EZR_CHECK_EQ(run(&fl, T0), 1);
    ezr_flush_media(&fl, &clients[0], true, 0, T0 + 40, T0 + 44); /* pushed 4 ms before */
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 1000, T0 + 44), HOLD - 4 - LEAD_MIN);
    EZR_CHECK_EQ(run(&fl, T0 + 40 + HOLD - LEAD_MIN - 1), 0);
    EZR_CHECK_EQ(run(&fl, T0 + 40 + HOLD - LEAD_MIN), 1);
    setup(&fl, EZR_FLUSH_AUTO);
    ezr_flush_media(&fl, &clients[0], true, 0, T0 + 40, T0 + 44);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 1000, T0 + 44), INTERVAL);
}

/* Frames of two streams can reach the reactor in another order than they were pushed: the holds
 * still end in the order of their ends. */
EZR_TEST(test_an_interval_in_ms_ends_holds_by_their_push_whatever_order_they_came_in)
{
    struct ezr_flusher fl;
    setup(&fl, HOLD);
    for (unsigned i = 0; i < 3; i++)
        media(&fl, i, false, T0); /* their first live frames */
    EZR_CHECK_EQ(run(&fl, T0), 3);
    ezr_flush_media(&fl, &clients[0], true, 0, T0 + 42, T0 + 42);
    ezr_flush_media(&fl, &clients[1], true, 0, T0 + 40, T0 + 43); /* pushed first, came later */
    ezr_flush_media(&fl, &clients[2], true, 0, T0 + 41, T0 + 43);
    EZR_CHECK_EQ(ezr_flush_timeout(&fl, 1000, T0 + 43), HOLD - 3 - LEAD_MIN);
    EZR_CHECK_EQ(run(&fl, T0 + 40 + HOLD - LEAD_MIN), 1);
    EZR_CHECK_EQ(writes[1], 2);
    EZR_CHECK_EQ(run(&fl, T0 + 41 + HOLD - LEAD_MIN), 1);
    EZR_CHECK_EQ(writes[2], 2);
    EZR_CHECK_EQ(run(&fl, T0 + 42 + HOLD - LEAD_MIN), 1);
    EZR_CHECK_EQ(writes[0], 2);
}

/* A busy reactor spaces its sweeps up to the interval in ms as it does up to auto's wait. */
EZR_TEST(test_an_interval_in_ms_is_the_most_a_busy_reactor_spaces_sweeps)
{
    struct ezr_flusher fl;
    setup(&fl, HOLD);
    ezr_flush_set_busy(&fl, 1.0);
    EZR_CHECK_EQ(fl.gap_ms, HOLD);
    setup(&fl, EZR_FLUSH_AUTO);
    ezr_flush_set_busy(&fl, 1.0);
    EZR_CHECK_EQ(fl.gap_ms, EZR_FLUSH_AUTO_WAIT_MS);
}

/* At an interval in ms, a joiner's first frame (it may not wait) joins a sweep of held players
 * under way: holds that come up meanwhile keep the sweep going, and the joiner is written before
 * them, not after the sweep has ended. */
EZR_TEST(test_a_start_joins_the_sweep_under_way_before_holds_that_come_up_later)
{
    struct ezr_flusher fl;
    setup(&fl, HOLD);
    const unsigned a = 2 * EZR_FLUSH_BATCH, joiner = NCLIENTS - 1; /* B: from a to the joiner */
    for (unsigned i = 0; i < joiner; i++)
        media(&fl, i, false, T0); /* their first live frames */
    while (run(&fl, T0))
        ;
    for (unsigned i = 0; i < joiner; i++)
        media(&fl, i, true, i < a ? T0 + 10 : T0 + 11); /* A held from T0 + 10, B from + 11 */
    memset(writes, 0, sizeof writes);
    /* (Holds end LEAD_MIN early: the sweeps so far took no time.) */
    EZR_CHECK_EQ(run(&fl, T0 + 10 + HOLD - LEAD_MIN), EZR_FLUSH_BATCH); /* A's sweep begins */
    media(&fl, joiner, false, T0 + 10 + HOLD - LEAD_MIN);
    for (uint64_t t = T0 + 11 + HOLD - LEAD_MIN; run(&fl, t); t++) /* B's holds come up */
        ;
    EZR_CHECK_EQ(writes[joiner], 1);
    for (unsigned i = a; i < joiner; i++)
        EZR_CHECK(nth_write[i] > nth_write[joiner]);
    for (unsigned i = 0; i < a; i++)
        EZR_CHECK_EQ(writes[i], 1);
}

EZR_TEST_MAIN(EZR_CASE(test_reply_is_written_in_the_round_it_is_queued),
              EZR_CASE(test_video_on_an_idle_reactor_is_written_at_once),
              EZR_CASE(test_audio_waits_for_the_next_video_frame_and_goes_with_it),
              EZR_CASE(test_held_media_never_waits_longer_than_the_interval),
              EZR_CASE(test_holds_end_in_the_order_they_began),
              EZR_CASE(test_zero_interval_writes_every_frame_in_its_round),
              EZR_CASE(test_large_backlog_is_written_in_its_round),
              EZR_CASE(test_sweep_writes_a_batch_of_players_per_round_replies_first),
              EZR_CASE(test_frames_arriving_during_a_sweep_go_in_the_same_write),
              EZR_CASE(test_busy_reactor_spaces_its_sweeps),
              EZR_CASE(test_closing_client_leaves_every_list),
              EZR_CASE(test_audio_and_live_data_may_wait_for_video_that_is_coming),
              EZR_CASE(test_an_interval_in_ms_lets_every_media_frame_wait_but_a_start),
              EZR_CASE(test_an_interval_in_ms_holds_video_and_writes_it_all_at_once),
              EZR_CASE(test_an_interval_in_ms_ends_early_only_for_a_header_or_a_backlog),
              EZR_CASE(test_an_interval_in_ms_ends_holds_early_by_the_time_a_sweep_takes),
              EZR_CASE(test_an_interval_in_ms_counts_from_the_push),
              EZR_CASE(test_an_interval_in_ms_ends_holds_by_their_push_whatever_order_they_came_in),
              EZR_CASE(test_an_interval_in_ms_is_the_most_a_busy_reactor_spaces_sweeps),
              EZR_CASE(test_a_start_joins_the_sweep_under_way_before_holds_that_come_up_later))
