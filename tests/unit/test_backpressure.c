/* Tiered backpressure over real sockets: a player with a tiny receive buffer stops reading, the
 * server's kernel buffers fill, and from then on every byte the stream offers it stays in our
 * write queue. Before each frame the test reads that queue's size from the stats, works out what
 * the rule of ezr_queue.h says must happen to the frame, and at the end checks that the player
 * received exactly those frames, in order. The rule itself is unit-tested in test_queue.c; this
 * checks that the server applies it to what a real player gets. */
#include "ezr_test.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <unistd.h>

#include "ezr_limits.h"
#include "ezr_proto.h"
#include "ezr_server.h"
#include "server_fixture.h"

/* Small tiers so that a test moves through them with a few hundred KiB. */
#define WARNING (64u * 1024)
#define HIGH (128u * 1024)
#define MAX (256u * 1024)
#define FRAME 8192 /* video frame size */
#define AUDIO 1024 /* audio frame size */
#define TINY 4096  /* SO_SNDBUF of the server's player sockets, SO_RCVBUF of the stalled player */
#define MAX_FRAMES 512

struct log_capture {
    int slow_warnings; /* "too slow" disconnects logged at warning level */
};

static void on_log(void *ctx, enum ezr_log_level level, const char *msg)
{
    struct log_capture *lc = ctx;
    if (level == EZR_LOG_WARNING && strstr(msg, "too slow"))
        __atomic_add_fetch(&lc->slow_warnings, 1, __ATOMIC_SEQ_CST);
}

/* client_timeout_ms 0 keeps the default. */
static struct ezr_server *start(struct ezr_stream **st, struct log_capture *lc,
                                uint32_t client_timeout_ms)
{
    struct ezr_server_config cfg;
    test_tiered_config(&cfg, WARNING, HIGH, MAX, TINY, client_timeout_ms);
    cfg.log = on_log;
    cfg.log_ctx = lc;
    return start_live_stream(&cfg, st);
}

enum kind { KEY, INTER, SOUND };

/* One frame; its timestamp (unique) is how the player tells it apart. */
static void push(struct ezr_stream *st, enum kind k, uint32_t ts)
{
    static uint8_t body[FRAME];
    if (k == SOUND) {
        body[0] = 0xAF; /* AAC, 44 kHz, 16 bit, stereo */
        body[1] = 1;    /* raw */
        ezr_stream_push(st, EZR_FRAME_AUDIO, 0, ts, body, AUDIO);
        return;
    }
    body[0] = k == KEY ? 0x17 : 0x27;
    body[1] = 1; /* AVC NALU */
    ezr_stream_push(st, EZR_FRAME_VIDEO, k == KEY ? EZR_FRAME_KEY : 0, ts, body, FRAME);
}

/* A player with a tiny receive buffer, to be stalled, and one that reads; both have received
 * their first media message. Returns 1 if so. */
static int open_slow_and_good(uint16_t port, struct player *slow, struct player *good)
{
    uint64_t dl = mono_ms() + DEADLINE_MS;
    return player_open(slow, port, "live", "stream", TINY) == 0 &&
           player_open(good, port, "live", "stream", 0) == 0 && next_media(slow, dl) == 0 &&
           next_media(good, dl) == 0;
}

struct expect {
    uint32_t ts[MAX_FRAMES];
    uint8_t type[MAX_FRAMES];
    size_t n;
    bool need_key;     /* mirrors the queue: video skipped until a keyframe */
    int offered_at[3]; /* frames offered at normal, warning, high */
};

/* The rule of ezr_queue.h for one frame offered while q bytes are queued. */
static void offer(struct expect *e, enum kind k, uint32_t ts, long q)
{
    int level = q >= (long)HIGH ? 2 : q >= (long)WARNING ? 1 : 0;
    e->offered_at[level]++;
    bool keep;
    if (k == SOUND)
        keep = level < 2;
    else if (k == KEY)
        keep = true;
    else
        keep = level == 0 && !e->need_key;
    if (k != SOUND)
        e->need_key = k == KEY ? !keep : (e->need_key || !keep);
    if (keep && e->n < MAX_FRAMES) {
        e->ts[e->n] = ts;
        e->type[e->n++] = k == SOUND ? EZR_MSG_AUDIO : EZR_MSG_VIDEO;
    }
}

/* Reads media until the frame with timestamp last; every audio/video message must be the next
 * expected one. Returns how many matched, or -1 at the first mismatch or timeout. */
static long receive_expected(struct player *p, const struct expect *e, size_t *i, uint32_t last)
{
    uint64_t dl = mono_ms() + DEADLINE_MS;
    while (next_media(p, dl) == 0) {
        if (p->type == EZR_MSG_DATA_AMF0)
            continue;
        if (*i >= e->n || p->ts != e->ts[*i] || p->type != e->type[*i]) {
            printf("# frame %zu: got type %u ts %u\n", *i, p->type, p->ts);
            return -1;
        }
        (*i)++;
        if (p->ts == last)
            return (long)*i;
    }
    return -1;
}

EZR_TEST(test_warning_and_high_levels_then_keyframe_rule)
{
    struct log_capture lc = {0};
    struct ezr_stream *st;
    struct ezr_server *s = start(&st, &lc, 0);
    EZR_CHECK(s != NULL);
    struct player p;
    int ok = player_open(&p, ezr_server_port(s), "live", "stream", TINY) == 0 &&
             next_media(&p, mono_ms() + DEADLINE_MS) == 0; /* |RtmpSampleAccess: playing */
    static struct expect e;
    memset(&e, 0, sizeof e);
    e.need_key = true;
    uint32_t ts = 0;
    /* The player reads nothing from here. Offer frames until the kernel's buffers on both ends
     * are full and our queue holds bytes that no longer move: from then on it changes only by
     * what we offer. The kernel gives no event for "full", so the queue is sampled until it
     * holds still across several reads. All of this stays far below the warning level. */
    long q = 0, last = -1;
    int still = 0;
    uint64_t fill_end = mono_ms() + DEADLINE_MS;
    while (ok && still < 5 && q >= 0 && q < (long)WARNING / 2 && mono_ms() < fill_end) {
        if (q == 0) {
            enum kind k = e.n == 0 ? KEY : INTER;
            offer(&e, k, ts, q);
            push(st, k, ts++);
        } else {
            poll(NULL, 0, 20);
        }
        q = largest_queue(st, NULL, 1);
        still = q > 0 && q == last ? still + 1 : 0;
        last = q;
    }
    int filled = still == 5 && q > 0 && q < (long)WARNING / 2;
    /* Climb through warning into high with a pattern of every kind. */
    static const enum kind pattern[] = {INTER, SOUND, INTER, KEY, SOUND, INTER};
    for (size_t i = 0; filled && q >= 0 && q + FRAME + 64 < (long)MAX - FRAME; i++) {
        if (q >= (long)HIGH && e.offered_at[2] >= 12)
            break;
        enum kind k = pattern[i % 6];
        offer(&e, k, ts, q);
        push(st, k, ts++);
        q = largest_queue(st, NULL, 1);
    }
    int climbed = filled && e.offered_at[0] > 0 && e.offered_at[1] >= 6 && e.offered_at[2] >= 12;
    if (climbed) { /* end on a dropped inter frame, for the keyframe rule below */
        offer(&e, INTER, ts, q);
        push(st, INTER, ts++);
    }
    /* The player catches up: everything expected arrives in order, and the queue empties. */
    size_t got = 0;
    int drained = climbed && e.n > 0 && receive_expected(&p, &e, &got, e.ts[e.n - 1]) > 0 &&
                  got == e.n && largest_queue(st, NULL, 1) == 0;
    /* The last video frame was dropped at high: back at normal, inter frames are still
     * skipped until a keyframe (a player never gets a frame whose reference it did not get). */
    int rule = drained && e.need_key;
    size_t before = e.n;
    static const enum kind after[] = {INTER, SOUND, INTER, KEY, INTER, SOUND};
    for (size_t i = 0; rule && i < 6; i++) {
        offer(&e, after[i], ts, 0);
        push(st, after[i], ts++);
    }
    rule = rule && e.n == before + 4 && receive_expected(&p, &e, &got, ts - 1) > 0 && got == e.n;
    struct ezr_stream_stats stats;
    long q_end = largest_queue(st, &stats, 1);
    player_close(&p);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK(filled);
    EZR_CHECK(climbed);
    EZR_CHECK(drained);
    EZR_CHECK(rule);
    EZR_CHECK_EQ(q_end, 0);
    EZR_CHECK(stats.frames_dropped[0] >= 2); /* the two inter frames after draining */
    EZR_CHECK(stats.frames_dropped[1] > 0);
    EZR_CHECK(stats.frames_dropped[2] > 0);
    EZR_CHECK_EQ(stats.disconnects[EZR_CLOSE_SLOW], 0);
}

EZR_TEST(test_critical_level_disconnects_while_another_player_gets_every_frame)
{
    struct log_capture lc = {0};
    struct ezr_stream *st;
    struct ezr_server *s = start(&st, &lc, 0);
    EZR_CHECK(s != NULL);
    struct player slow, good;
    int ok = open_slow_and_good(ezr_server_port(s), &slow, &good);
    struct ezr_stream_stats stats = {0};
    static const enum kind pattern[] = {KEY, INTER, SOUND, INTER, INTER, SOUND};
    uint32_t ts = 0;
    int every = ok, cut = 0;
    /* The good player reads each frame as it comes; the slow one reads nothing. */
    for (int i = 0; every && !cut && i < 400; i++) {
        enum kind k = pattern[i % 6];
        push(st, k, ts);
        every = next_media(&good, mono_ms() + DEADLINE_MS) == 0 && good.ts == ts &&
                good.type == (k == SOUND ? EZR_MSG_AUDIO : EZR_MSG_VIDEO);
        ts++;
        every = every && ezr_stream_get_stats(st, &stats, NULL, NULL, DEADLINE_MS) == 0;
        cut = stats.disconnects[EZR_CLOSE_SLOW] == 1;
    }
    /* The slow player finds the end of its connection after what the kernel held. */
    int eof = 0;
    uint64_t end = mono_ms() + DEADLINE_MS;
    while (cut && !eof && mono_ms() < end) {
        uint8_t buf[16384];
        struct pollfd pfd = {slow.fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)(end - mono_ms())) <= 0)
            break;
        ssize_t r = read(slow.fd, buf, sizeof buf);
        eof = r == 0 || (r < 0 && errno == ECONNRESET);
        if (r < 0 && !eof)
            break;
    }
    /* The good player plays on. */
    push(st, KEY, ts);
    int still = every && next_media(&good, mono_ms() + DEADLINE_MS) == 0 && good.ts == ts;
    int stats_ok = ezr_stream_get_stats(st, &stats, NULL, NULL, DEADLINE_MS) == 0;
    player_close(&slow);
    player_close(&good);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK(every);
    EZR_CHECK(cut);
    EZR_CHECK(eof);
    EZR_CHECK(still);
    EZR_CHECK(stats_ok);
    EZR_CHECK_EQ(stats.clients, 1);
    EZR_CHECK_EQ(stats.disconnects[EZR_CLOSE_SLOW], 1);
    EZR_CHECK_EQ(__atomic_load_n(&lc.slow_warnings, __ATOMIC_SEQ_CST), 1);
}

/* A player whose socket takes nothing for client-timeout is closed even below every tier, and
 * counted as a timeout; a player that reads keeps playing. */
EZR_TEST(test_player_reading_nothing_is_closed_after_client_timeout)
{
    struct log_capture lc = {0};
    struct ezr_stream *st;
    struct ezr_server *s = start(&st, &lc, 600);
    EZR_CHECK(s != NULL);
    struct player slow, good;
    int ok = open_slow_and_good(ezr_server_port(s), &slow, &good);
    /* Fill the stalled player's kernel buffers until more than they can hold waits in our
     * queue, then push nothing: the queue (below the warning tier) stays as it is and only the
     * timeout can act. */
    uint32_t ts = 0;
    long q = 0;
    struct ezr_stream_stats stats = {0};
    while (ok && q < (long)WARNING / 2 && ts < 200) {
        push(st, ts % 5 ? INTER : KEY, ts);
        ok = next_media(&good, mono_ms() + DEADLINE_MS) == 0 && good.ts == ts;
        ts++;
        q = ok ? largest_queue(st, NULL, 2) : -1;
        ok = q >= 0;
    }
    uint64_t stalled_at = mono_ms();
    bool closed = ok && wait_disconnect(st, EZR_CLOSE_TIMEOUT, stalled_at + DEADLINE_MS, &stats);
    uint64_t waited = mono_ms() - stalled_at;
    push(st, KEY, ts);
    int still = ok && next_media(&good, mono_ms() + DEADLINE_MS) == 0 && good.ts == ts;
    player_close(&slow);
    player_close(&good);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK(q >= (long)WARNING / 2 && q < (long)WARNING);
    EZR_CHECK(closed);
    EZR_CHECK(waited >= 500); /* not before its time (progress may predate the stall by a write) */
    EZR_CHECK(still);
    EZR_CHECK_EQ(stats.clients, 1);
    EZR_CHECK_EQ(stats.disconnects[EZR_CLOSE_SLOW], 0);
}

/* Keyframes larger than queue-max-bytes, with no client timeout: the player that reads gets every
 * one whole; the one that reads nothing is cut at the critical tier at the second that waits
 * (one oversized frame at a time is not lag), so its queue never holds more than two. */
#define HUGE_FRAME (320u * 1024)
EZR_TEST(test_frames_over_max_reach_a_reader_and_a_non_reader_is_cut)
{
    struct log_capture lc = {0};
    struct ezr_server_config cfg;
    test_server_config(&cfg);
    cfg.queue_warning_bytes = WARNING;
    cfg.queue_high_bytes = HIGH;
    cfg.queue_max_bytes = MAX;
    cfg.send_buffer_bytes = TINY;
    cfg.flush_interval_ms = 0;
    cfg.client_timeout_ms = 0;
    cfg.log = on_log;
    cfg.log_ctx = &lc;
    struct ezr_stream *st;
    struct ezr_server *s = start_live_stream(&cfg, &st);
    EZR_CHECK(s != NULL);
    struct player slow, good;
    int ok = open_slow_and_good(ezr_server_port(s), &slow, &good);
    static uint8_t body[HUGE_FRAME];
    body[0] = 0x17;
    body[1] = 1;
    struct ezr_stream_stats stats = {0};
    long largest = 0;
    int every = ok, cut = 0;
    for (uint32_t ts = 0; every && ts < 8; ts++) {
        ezr_stream_push(st, EZR_FRAME_VIDEO, EZR_FRAME_KEY, ts * 40, body, sizeof body);
        uint64_t dl = mono_ms() + DEADLINE_MS;
        /* A message is delivered once whole (its payload here is cut at 64 KiB). */
        every = next_media(&good, dl) == 0 && good.ts == ts * 40 && good.type == EZR_MSG_VIDEO;
        every = every && ezr_stream_get_stats(st, &stats, NULL, NULL, DEADLINE_MS) == 0;
        if ((long)stats.connections_bytes_queued > largest)
            largest = (long)stats.connections_bytes_queued;
        cut = cut || stats.disconnects[EZR_CLOSE_SLOW] == 1;
    }
    player_close(&slow);
    player_close(&good);
    ezr_server_free(s);
    printf("# largest queued %ld bytes\n", largest);
    EZR_CHECK(ok);
    EZR_CHECK(every); /* the reader got all eight, whole */
    EZR_CHECK(cut);
    EZR_CHECK_EQ(stats.disconnects[EZR_CLOSE_SLOW], 1);
    EZR_CHECK_EQ(stats.clients, 1);
    EZR_CHECK(largest <= (long)(2 * HUGE_FRAME + 4096));
    EZR_CHECK_EQ(__atomic_load_n(&lc.slow_warnings, __ATOMIC_SEQ_CST), 1);
}

/* A player that reads a quarter of a paced stream of audio (~44 KB/s) while it takes ~11 KB/s:
 * far below every byte tier, so only the age limit bounds its lag. Once its oldest queued live
 * frame has waited that long, new audio is dropped until it catches up, so its backlog stays
 * near the limit instead of growing by ~33 KB/s. With video, a keyframe is played first (the
 * stream then has video, which decides the default limit). Plays for run_ms; returns the
 * largest lag the stats reported, *stats and *players as at the last sample. */
static uint64_t slow_reader_max_lag(uint32_t max_age_ms, bool video, uint64_t run_ms,
                                    struct ezr_stream_stats *stats, size_t *players)
{
    struct ezr_server_config cfg;
    test_server_config(&cfg);
    cfg.send_buffer_bytes = TINY;
    cfg.flush_interval_ms = 0;
    cfg.queue_max_age_ms = max_age_ms;
    struct ezr_stream *st;
    struct ezr_server *s = start_live_stream(&cfg, &st);
    memset(stats, 0, sizeof *stats);
    *players = 0;
    if (!s)
        return 0;
    struct player p;
    uint32_t ts = 0;
    if (!video)
        push(st, SOUND, ts);
    uint64_t dl = mono_ms() + DEADLINE_MS;
    int ok =
        player_open(&p, ezr_server_port(s), "live", "stream", TINY) == 0 && next_media(&p, dl) == 0;
    if (ok && video) { /* the keyframe, read whole: nothing of it is left queued */
        push(st, KEY, ts);
        while ((ok = next_media(&p, dl) == 0) && p.type != EZR_MSG_VIDEO)
            ;
    }
    /* The stream at its own pace: a frame every 23 ms, 256 bytes read after each. */
    uint8_t sink[256];
    uint64_t start = mono_ms(), max_lag = 0;
    for (uint64_t tick = start + 23, k = 0; ok && tick < start + run_ms; tick += 23, k++) {
        ts += 23;
        push(st, SOUND, ts);
        struct pollfd pfd = {p.fd, POLLIN, 0};
        if (poll(&pfd, 1, 0) == 1 && read(p.fd, sink, sizeof sink) <= 0)
            break;
        if (k % 20 == 0) { /* its lag as the reactor sees it, about twice a second */
            struct ezr_client_stats *list = NULL;
            *players = 0;
            if (ezr_stream_get_stats(st, stats, &list, players, DEADLINE_MS) < 0)
                break;
            if (*players == 1 && list[0].lag_ms > max_lag)
                max_lag = list[0].lag_ms;
            free(list);
        }
        uint64_t now = mono_ms();
        if (now < tick)
            poll(NULL, 0, (int)(tick - now));
    }
    player_close(&p);
    ezr_server_free(s);
    return max_lag;
}

/* The default on an audio-only stream: 5 s. Without it the oldest frame would have waited
 * ~6.7 s by the end of 9 s; with it, never much more than the limit, which it does reach. */
EZR_TEST(test_audio_only_slow_reader_lag_bounded_by_age)
{
    struct ezr_stream_stats stats;
    size_t players;
    uint64_t max_lag = slow_reader_max_lag(0, false, 9000, &stats, &players);
    printf("# largest lag %llu ms, %llu frames dropped by age\n", (unsigned long long)max_lag,
           (unsigned long long)stats.frames_dropped[2]);
    EZR_CHECK_EQ(players, 1); /* still playing: never cut */
    EZR_CHECK_EQ(stats.queue_max_age_ms, EZR_DEFAULT_QUEUE_MAX_AGE_AUDIO_ONLY_MS);
    EZR_CHECK(max_lag >= EZR_DEFAULT_QUEUE_MAX_AGE_AUDIO_ONLY_MS - 1000);
    EZR_CHECK(max_lag <= EZR_DEFAULT_QUEUE_MAX_AGE_AUDIO_ONLY_MS + 500);
    EZR_CHECK(stats.frames_dropped[2] > 0);   /* by age: treated as the high tier */
    EZR_CHECK_EQ(stats.frames_dropped[1], 0); /* never near a byte tier */
    EZR_CHECK_EQ(stats.disconnects[EZR_CLOSE_SLOW], 0);
}

/* queue_max_age_ms takes effect, over the default by stream kind (10 s with video): at 400 ms a
 * slow player of a stream with video sheds within a second and its lag stays near 400 ms. */
#define SHORT_AGE_MS 400u
EZR_TEST(test_configured_age_limit_makes_slow_reader_shed)
{
    struct ezr_stream_stats stats;
    size_t players;
    uint64_t max_lag = slow_reader_max_lag(SHORT_AGE_MS, true, 2500, &stats, &players);
    printf("# largest lag %llu ms, %llu frames dropped by age\n", (unsigned long long)max_lag,
           (unsigned long long)stats.frames_dropped[2]);
    EZR_CHECK_EQ(players, 1);
    EZR_CHECK_EQ(stats.queue_max_age_ms, SHORT_AGE_MS);
    EZR_CHECK(max_lag >= SHORT_AGE_MS - 200);
    EZR_CHECK(max_lag <= SHORT_AGE_MS + 500);
    EZR_CHECK(stats.frames_dropped[2] > 0);
    EZR_CHECK_EQ(stats.frames_dropped[1], 0);
    EZR_CHECK_EQ(stats.disconnects[EZR_CLOSE_SLOW], 0);
}

/* The stream's age limit after what has been pushed so far, from the stats (which the reactor
 * answers after the frames posted before them), or 0. */
static uint32_t age_limit(struct ezr_stream *st)
{
    struct ezr_stream_stats stats;
    return ezr_stream_get_stats(st, &stats, NULL, NULL, DEADLINE_MS) == 0 ? stats.queue_max_age_ms
                                                                          : 0;
}

/* The default decided by stream kind: 10 s before anything is known, 5 s once audio comes
 * without video, 10 s as soon as video appears, and decided afresh after an end of stream. A
 * configured limit holds whatever the stream carries. */
EZR_TEST(test_default_age_limit_follows_stream_kind)
{
    struct ezr_server_config cfg;
    test_server_config(&cfg);
    struct ezr_stream *st;
    struct ezr_server *s = start_live_stream(&cfg, &st);
    EZR_CHECK(s != NULL);
    uint32_t unknown = age_limit(st);
    push(st, SOUND, 0);
    push(st, SOUND, 23);
    uint32_t audio_only = age_limit(st);
    push(st, KEY, 40);
    uint32_t with_video = age_limit(st);
    push(st, SOUND, 46);
    uint32_t still_video = age_limit(st);
    int eos = ezr_stream_eos(st, 0);
    uint32_t after_eos = age_limit(st);
    push(st, SOUND, 0);
    uint32_t audio_again = age_limit(st);
    ezr_server_free(s);
    EZR_CHECK_EQ(unknown, EZR_DEFAULT_QUEUE_MAX_AGE_MS);
    EZR_CHECK_EQ(audio_only, EZR_DEFAULT_QUEUE_MAX_AGE_AUDIO_ONLY_MS);
    EZR_CHECK_EQ(with_video, EZR_DEFAULT_QUEUE_MAX_AGE_MS);
    EZR_CHECK_EQ(still_video, EZR_DEFAULT_QUEUE_MAX_AGE_MS);
    EZR_CHECK_EQ(eos, 0);
    EZR_CHECK_EQ(after_eos, EZR_DEFAULT_QUEUE_MAX_AGE_MS);
    EZR_CHECK_EQ(audio_again, EZR_DEFAULT_QUEUE_MAX_AGE_AUDIO_ONLY_MS);

    cfg.queue_max_age_ms = 1234;
    s = start_live_stream(&cfg, &st);
    EZR_CHECK(s != NULL);
    uint32_t set_unknown = age_limit(st);
    push(st, SOUND, 0);
    uint32_t set_audio = age_limit(st);
    push(st, KEY, 40);
    uint32_t set_video = age_limit(st);
    ezr_server_free(s);
    EZR_CHECK_EQ(set_unknown, 1234);
    EZR_CHECK_EQ(set_audio, 1234);
    EZR_CHECK_EQ(set_video, 1234);
}

EZR_TEST_MAIN(EZR_CASE(test_warning_and_high_levels_then_keyframe_rule),
              EZR_CASE(test_critical_level_disconnects_while_another_player_gets_every_frame),
              EZR_CASE(test_player_reading_nothing_is_closed_after_client_timeout),
              EZR_CASE(test_frames_over_max_reach_a_reader_and_a_non_reader_is_cut),
              EZR_CASE(test_audio_only_slow_reader_lag_bounded_by_age),
              EZR_CASE(test_configured_age_limit_makes_slow_reader_shed),
              EZR_CASE(test_default_age_limit_follows_stream_kind))
