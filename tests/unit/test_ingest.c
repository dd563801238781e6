/* Publish points over real loopback sockets (ezr_ingest_api.h), with the tests' publisher
 * (rtmp_test_publisher.h): every tag out whole and in order; a full queue holds the publisher's
 * input (its sends block, the stats count the hold) until pops make room, while a player of
 * another stream on the server keeps receiving; a publisher reset or shut down while held; one
 * publisher per key; the timeout; each way a publication ends; the token and allowed-clients
 * refusals; a stream and a point of one name. */
#include "ezr_test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ezr_amf0.h"
#include "ezr_bytes.h"
#include "ezr_error.h"
#include "ezr_proto.h"
#include "ezr_server.h"
#include "flv_fixture.h"
#include "rtmp_test_publisher.h"
#include "server_fixture.h"

/* ---- the publisher's arrivals and departures, as the application hears them -------------- */

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned ev_added, ev_removed;
static char ev_reason[128];

static void on_client(void *ctx, enum ezr_client_event ev, const struct ezr_client_info *info)
{
    (void)ctx;
    pthread_mutex_lock(&ev_lock);
    if (ev == EZR_CLIENT_ADDED) {
        ev_added++;
    } else {
        ev_removed++;
        snprintf(ev_reason, sizeof ev_reason, "%s", info->reason ? info->reason : "");
    }
    pthread_mutex_unlock(&ev_lock);
}

static void reset_events(void)
{
    pthread_mutex_lock(&ev_lock);
    ev_added = ev_removed = 0;
    ev_reason[0] = '\0';
    pthread_mutex_unlock(&ev_lock);
}

/* Until client-removed was told n times, or false by deadline. */
static bool wait_removed(unsigned n, uint64_t deadline)
{
    for (;;) {
        pthread_mutex_lock(&ev_lock);
        unsigned got = ev_removed;
        pthread_mutex_unlock(&ev_lock);
        if (got >= n)
            return true;
        if (mono_ms() >= deadline)
            return false;
        poll(NULL, 0, 5);
    }
}

/* A server (with the stream live/stream for players) and the point live/obs. */
static struct ezr_server *start(struct ezr_ingest_config *ic, struct ezr_stream **st,
                                struct ezr_ingest **ing)
{
    struct ezr_server_config cfg;
    test_server_config(&cfg);
    cfg.flush_interval_ms = 0;
    reset_events();
    struct ezr_server *s = start_live_stream(&cfg, st);
    if (!s)
        return NULL;
    ic->app = "live";
    if (!ic->key)
        ic->key = "obs";
    ic->on_client = on_client;
    if (ezr_server_add_ingest(s, ic, ing) < 0) {
        ezr_server_free(s);
        return NULL;
    }
    return s;
}

/* The next item within ms, or NULL. */
static struct ezr_ingest_item *pop(struct ezr_ingest *ing, int ms)
{
    struct ezr_ingest_item *it = NULL;
    return ezr_ingest_pop(ing, ms, &it) == 0 ? it : NULL;
}

/* The next item is the event ev (its tag, if any, freed); false if not within ms. */
static bool pop_event(struct ezr_ingest *ing, enum ezr_ingest_event ev, int ms)
{
    struct ezr_ingest_item *it = pop(ing, ms);
    bool ok = it && it->event == ev;
    ezr_ingest_item_free(it);
    return ok;
}

/* The onStatus code the server sends next (skipping other messages), or "". */
static const char *next_status(struct player *p, char *code, size_t cap, uint64_t deadline)
{
    code[0] = '\0';
    while (next_msg(p, deadline) == 0)
        if (p->type == EZR_MSG_COMMAND_AMF0 && p->len > 3 &&
            memcmp(p->payload + 3, "onStatus", 8) == 0)
            return rtmp_status_code(p->payload, p->len, code, cap);
    return code;
}

/* The player's next video message (what else a player gets first, |RtmpSampleAccess, skipped). */
static int next_video(struct player *p, uint64_t deadline)
{
    while (next_media(p, deadline) == 0)
        if (p->type == EZR_MSG_VIDEO)
            return 0;
    return -1;
}

/* Until the point has no publisher (one that left is seen to), or false by deadline. */
static bool wait_unpublished(struct ezr_ingest *ing, uint64_t deadline)
{
    struct ezr_publisher_stats ps;
    for (ezr_ingest_get_stats(ing, &ps); ps.publishing; ezr_ingest_get_stats(ing, &ps)) {
        if (mono_ms() >= deadline)
            return false;
        poll(NULL, 0, 5);
    }
    return true;
}

/* Until the point has held its publisher's input, or false by deadline. */
static bool wait_held(struct ezr_ingest *ing, uint64_t deadline)
{
    struct ezr_publisher_stats ps;
    for (ezr_ingest_get_stats(ing, &ps); !ps.held; ezr_ingest_get_stats(ing, &ps)) {
        if (mono_ms() >= deadline)
            return false;
        poll(NULL, 0, 5);
    }
    return ps.held == 1;
}

/* ---- every tag, whole and in order -------------------------------------------------------- */

/* What the point must hand out for a message: the FLV tag around its body. */
static bool is_tag(const struct ezr_ingest_item *it, uint8_t type, uint32_t ts, const uint8_t *body,
                   size_t len)
{
    if (!it || it->event != EZR_INGEST_TAG || it->type != type || it->timestamp != ts ||
        it->body_len != len || it->tag_len != 11 + len + 4)
        return false;
    const uint8_t *t = it->tag;
    return t[0] == type && ezr_rd_be24(t + 1) == len && ezr_rd_be24(t + 4) == (ts & 0xFFFFFF) &&
           t[7] == (ts >> 24) && ezr_rd_be24(t + 8) == 0 && memcmp(t + 11, body, len) == 0 &&
           ezr_rd_be32(t + 11 + len) == 11 + len;
}

EZR_TEST(test_published_tags_come_out_whole_and_in_order)
{
    struct ezr_stream *st;
    struct ezr_ingest *ing;
    struct ezr_ingest_config ic = {0};
    struct ezr_server *s = start(&ic, &st, &ing);
    EZR_CHECK(s != NULL);
    static struct player p;
    EZR_CHECK_EQ(publisher_open(&p, ezr_server_port(s), "live", "obs", NULL, 0), 0);
    EZR_CHECK(pop_event(ing, EZR_INGEST_STARTED, DEADLINE_MS));
    EZR_CHECK_EQ(publisher_send_metadata(&p), 0);
    EZR_CHECK_EQ(publisher_send(&p, 9, 0, flv_avc_hdr, sizeof flv_avc_hdr), 0);
    EZR_CHECK_EQ(publisher_send(&p, 8, 0, flv_aac_hdr, sizeof flv_aac_hdr), 0);
    /* A second of media, then a 300 KiB keyframe (many chunks) and a time past 24 bits. */
    static uint8_t big[300 * 1024];
    memcpy(big, flv_avc_key, sizeof flv_avc_key);
    for (size_t i = sizeof flv_avc_key; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    for (uint32_t i = 0; i < 30; i++) {
        EZR_CHECK_EQ(publisher_send(&p, 9, i * 33, i ? flv_avc_inter : flv_avc_key,
                                    i ? sizeof flv_avc_inter : sizeof flv_avc_key),
                     0);
        EZR_CHECK_EQ(publisher_send(&p, 8, i * 33 + 10, flv_aac_raw, sizeof flv_aac_raw), 0);
    }
    EZR_CHECK_EQ(publisher_send(&p, 9, 0x01000010, big, sizeof big), 0);

    struct ezr_ingest_item *it = pop(ing, DEADLINE_MS);
    /* onMetaData without "@setDataFrame" before it. */
    EZR_CHECK(it && it->event == EZR_INGEST_TAG && it->type == 18);
    EZR_CHECK(it->body_len > 13 && memcmp(it->tag + 11, "\x02\x00\x0aonMetaData", 13) == 0);
    ezr_ingest_item_free(it);
    it = pop(ing, DEADLINE_MS);
    EZR_CHECK(is_tag(it, 9, 0, flv_avc_hdr, sizeof flv_avc_hdr));
    ezr_ingest_item_free(it);
    it = pop(ing, DEADLINE_MS);
    EZR_CHECK(is_tag(it, 8, 0, flv_aac_hdr, sizeof flv_aac_hdr));
    ezr_ingest_item_free(it);
    for (uint32_t i = 0; i < 30; i++) {
        it = pop(ing, DEADLINE_MS);
        bool v = is_tag(it, 9, i * 33, i ? flv_avc_inter : flv_avc_key,
                        i ? sizeof flv_avc_inter : sizeof flv_avc_key);
        ezr_ingest_item_free(it);
        EZR_CHECK(v);
        it = pop(ing, DEADLINE_MS);
        bool a = is_tag(it, 8, i * 33 + 10, flv_aac_raw, sizeof flv_aac_raw);
        ezr_ingest_item_free(it);
        EZR_CHECK(a);
    }
    it = pop(ing, DEADLINE_MS);
    bool whole = is_tag(it, 9, 0x01000010, big, sizeof big);
    ezr_ingest_item_free(it);
    EZR_CHECK(whole);
    EZR_CHECK(pop(ing, 0) == NULL); /* nothing more */

    struct ezr_publisher_stats ps;
    ezr_ingest_get_stats(ing, &ps);
    EZR_CHECK(ps.publishing);
    EZR_CHECK_EQ(ps.tags, 64);
    EZR_CHECK_EQ(ps.video_frames, 31);
    EZR_CHECK_EQ(ps.audio_frames, 30);
    EZR_CHECK_EQ(ps.keyframes, 3); /* the sequence header counts as a key tag */
    EZR_CHECK_EQ(ps.queued_bytes, 0);
    EZR_CHECK(strncmp(ps.addr, "127.0.0.1:", 10) == 0);
    player_close(&p);
    EZR_CHECK(pop_event(ing, EZR_INGEST_ENDED, DEADLINE_MS));
    ezr_server_free(s);
}

/* ---- the queue holds the publisher ------------------------------------------------------- */

#define HOLD_MAX_BYTES (256u * 1024u)
#define HOLD_MSG 16384u

/* The publisher's socket, not blocking: a message goes out whole or waits, so that a send that
 * cannot finish shows the server no longer reads. */
struct nb_pub {
    struct player *p;
    struct ezr_buf out; /* chunks not yet written */
    size_t off;
};

/* Writes what is pending until the deadline; true when all of it went. */
static bool nb_flush(struct nb_pub *n, uint64_t deadline)
{
    while (n->off < n->out.len) {
        ssize_t w = write(n->p->fd, n->out.data + n->off, n->out.len - n->off);
        if (w > 0) {
            n->off += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN)
            return false;
        uint64_t now = mono_ms();
        struct pollfd pfd = {n->p->fd, POLLOUT, 0};
        if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
            return false;
    }
    ezr_buf_free(&n->out);
    n->off = 0;
    return true;
}

/* Message seq: a 16 KiB video frame carrying its number, the first a keyframe. Without it the
 * server closes the publisher after EZR_MAX_FRAMES_BEFORE_KEYFRAME (300) inter frames, and how
 * many go before the full queue holds it is up to the kernel's buffers: over 300 once TCP's
 * autotuning has grown them (a run that lost its last tag, 300 of 301, was that). */
static void nb_queue(struct nb_pub *n, uint32_t seq)
{
    static uint8_t body[HOLD_MSG];
    memset(body, (int)seq, sizeof body);
    memcpy(body, seq == 0 ? flv_avc_key : flv_avc_inter, 5);
    ezr_wr_be32(body + 5, seq);
    ezr_chunk_writer_write(&n->p->w, &n->out, 6, seq * 10, 9, 1, body, sizeof body);
}

/* Pops tags while the queue is over `to` bytes (or until none comes within ms), checking each
 * is the next in order; returns false on a tag out of order. */
static bool drain_to(struct ezr_ingest *ing, size_t to, uint32_t *next, int ms)
{
    struct ezr_publisher_stats ps;
    for (ezr_ingest_get_stats(ing, &ps); ps.queued_bytes > to; ezr_ingest_get_stats(ing, &ps)) {
        struct ezr_ingest_item *it = pop(ing, ms);
        if (!it)
            return true;
        bool in_order = it->event == EZR_INGEST_TAG && it->body_len == HOLD_MSG &&
                        ezr_rd_be32(it->tag + 11 + 5) == *next && it->timestamp == *next * 10;
        ezr_ingest_item_free(it);
        if (!in_order)
            return false;
        ++*next;
    }
    return true;
}

EZR_TEST(test_full_queue_holds_the_publisher_and_pops_resume_it)
{
    struct ezr_stream *st;
    struct ezr_ingest *ing;
    struct ezr_ingest_config ic = {.max_bytes = HOLD_MAX_BYTES};
    struct ezr_server *s = start(&ic, &st, &ing);
    EZR_CHECK(s != NULL);
    uint16_t port = ezr_server_port(s);
    static struct player p, viewer;
    EZR_CHECK_EQ(publisher_open(&p, port, "live", "obs", NULL, 0), 0);
    EZR_CHECK(pop_event(ing, EZR_INGEST_STARTED, DEADLINE_MS));
    EZR_CHECK_EQ(player_open(&viewer, port, "live", "stream", 0), 0);
    int sndbuf = 16384;
    setsockopt(p.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    fcntl(p.fd, F_SETFL, fcntl(p.fd, F_GETFL) | O_NONBLOCK);
    struct nb_pub n = {.p = &p};
    ezr_buf_init(&n.out);

    /* Nothing is popped: messages go until one cannot, held by the full queue and then the
     * kernel's buffers (bounded: 64 MiB would mean the server never stopped reading). */
    uint32_t sent = 0;
    bool blocked = false;
    while (!blocked && sent < 4096) {
        nb_queue(&n, sent);
        blocked = !nb_flush(&n, mono_ms() + 300);
        sent += !blocked;
    }
    EZR_CHECK(blocked);
    EZR_CHECK(wait_held(ing, mono_ms() + DEADLINE_MS));
    struct ezr_publisher_stats ps;
    /* Still held, while a player of another stream of the server gets each frame pushed. */
    for (uint8_t i = 1; i <= 5; i++) {
        push_video(st, i == 1 ? EZR_FRAME_KEY : 0, i * 40u, i);
        EZR_CHECK_EQ(next_video(&viewer, mono_ms() + DEADLINE_MS), 0);
        EZR_CHECK_EQ(viewer.payload[5], i);
    }
    /* The server reads nothing more: what the publisher still sends fills the kernel's buffers
     * only (a few MiB at most), and the queue does not move. The stream's stats are an op on
     * the reactor: once they are back, the reactor has done what it was doing. */
    struct ezr_stream_stats ss;
    EZR_CHECK_EQ(ezr_stream_get_stats(st, &ss, NULL, NULL, DEADLINE_MS), 0);
    ezr_ingest_get_stats(ing, &ps);
    uint64_t queued = ps.queued_bytes, tags = ps.tags;
    /* Past the bound by at most what one read of the socket holds and a message. */
    EZR_CHECK(queued >= HOLD_MAX_BYTES);
    EZR_CHECK(queued <= HOLD_MAX_BYTES + 65536 + HOLD_MSG + 64);
    uint32_t more = 0;
    while (more < 1024 && nb_flush(&n, mono_ms() + 100)) {
        nb_queue(&n, ++sent);
        more++;
    }
    EZR_CHECK(more < 1024);
    EZR_CHECK_EQ(ezr_stream_get_stats(st, &ss, NULL, NULL, DEADLINE_MS), 0);
    ezr_ingest_get_stats(ing, &ps);
    EZR_CHECK_EQ(ps.queued_bytes, queued);
    EZR_CHECK_EQ(ps.tags, tags);
    EZR_CHECK_EQ(ps.held, 1);
    EZR_CHECK(ps.publishing);
    printf("# held at %llu bytes queued (max-bytes %u), %u messages of 16 KiB sent before the "
           "send blocked, %u more into the kernel's buffers\n",
           (unsigned long long)queued, HOLD_MAX_BYTES, sent - more, more);

    /* Popped down: the server reads again, and every message arrives, in order. */
    uint32_t next = 0, total = sent + 1 + 64;
    EZR_CHECK(drain_to(ing, HOLD_MAX_BYTES / 2 - 1, &next, DEADLINE_MS));
    /* The server reads what the kernel kept for it: the tag count moves. */
    uint64_t deadline = mono_ms() + DEADLINE_MS;
    for (ezr_ingest_get_stats(ing, &ps); ps.tags == tags; ezr_ingest_get_stats(ing, &ps)) {
        EZR_CHECK(mono_ms() < deadline);
        poll(NULL, 0, 5);
    }
    /* The rest goes as the queue is popped. Generous: after a long zero window TCP's persist
     * timer may have backed off to seconds before the sender learns the window opened. */
    deadline = mono_ms() + 30000;
    for (uint32_t seq = sent + 1; seq <= total; seq++) {
        while (!nb_flush(&n, mono_ms() + 20)) {
            EZR_CHECK(mono_ms() < deadline);
            EZR_CHECK(drain_to(ing, 0, &next, 20));
        }
        if (seq < total)
            nb_queue(&n, seq);
    }
    while (next < total) {
        uint32_t was = next;
        EZR_CHECK(drain_to(ing, 0, &next, DEADLINE_MS));
        if (next == was) { /* queued_bytes read 0 before the rest came: wait for one */
            struct ezr_ingest_item *it = pop(ing, DEADLINE_MS);
            EZR_CHECK(it != NULL);
            bool ok = it->event == EZR_INGEST_TAG && ezr_rd_be32(it->tag + 16) == next;
            ezr_ingest_item_free(it);
            EZR_CHECK(ok);
            next++;
        }
    }
    ezr_ingest_get_stats(ing, &ps);
    EZR_CHECK_EQ(ps.tags, total);
    EZR_CHECK(ps.held >= 1);
    push_video(st, EZR_FRAME_KEY, 400, 9);
    EZR_CHECK_EQ(next_video(&viewer, mono_ms() + DEADLINE_MS), 0);
    EZR_CHECK_EQ(viewer.payload[5], 9);
    player_close(&viewer);
    player_close(&p);
    EZR_CHECK(pop_event(ing, EZR_INGEST_ENDED, DEADLINE_MS));
    ezr_server_free(s);
}

/* A publisher that sent until its sends block: the queue held it and the kernel's buffers are
 * full. *sent: the messages it sent whole (a part of the next may be in the kernel too). */
static bool publish_until_held(struct player *p, struct ezr_ingest *ing, uint16_t port,
                               uint32_t *sent)
{
    if (publisher_open(p, port, "live", "obs", NULL, 0) < 0)
        return false;
    fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
    struct nb_pub n = {.p = p};
    ezr_buf_init(&n.out);
    bool blocked = false;
    for (*sent = 0; *sent < 4096 && !blocked; *sent += !blocked) {
        nb_queue(&n, *sent);
        blocked = !nb_flush(&n, mono_ms() + 300);
    }
    ezr_buf_free(&n.out);
    return blocked && wait_held(ing, mono_ms() + DEADLINE_MS);
}

/* Pops the first publication: STARTED, its tags in order (*got), ENDED. */
static bool pop_publication(struct ezr_ingest *ing, uint32_t *got)
{
    if (!pop_event(ing, EZR_INGEST_STARTED, DEADLINE_MS))
        return false;
    struct ezr_ingest_item *it;
    for (*got = 0; (it = pop(ing, DEADLINE_MS)) && it->event == EZR_INGEST_TAG; ++*got) {
        bool in_order = ezr_rd_be32(it->tag + 16) == *got;
        ezr_ingest_item_free(it);
        if (!in_order)
            return false;
    }
    bool ended = it && it->event == EZR_INGEST_ENDED;
    ezr_ingest_item_free(it);
    return ended;
}

/* A reset while the full queue holds the publisher: its point is free at once (it can come
 * back before the application pops anything); what the server had read of it comes out, then
 * ENDED, then the next publisher's. */
EZR_TEST(test_publisher_reset_while_held_frees_its_key_at_once)
{
    struct ezr_stream *st;
    struct ezr_ingest *ing;
    struct ezr_ingest_config ic = {.max_bytes = HOLD_MAX_BYTES};
    struct ezr_server *s = start(&ic, &st, &ing);
    EZR_CHECK(s != NULL);
    uint16_t port = ezr_server_port(s);
    static struct player p;
    uint32_t sent = 0, got = 0;
    EZR_CHECK(publish_until_held(&p, ing, port, &sent));
    struct linger reset = {1, 0};
    setsockopt(p.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    player_close(&p);
    EZR_CHECK(wait_unpublished(ing, mono_ms() + DEADLINE_MS));
    EZR_CHECK_EQ(publisher_open(&p, port, "live", "obs", NULL, 0), 0);
    EZR_CHECK_EQ(publisher_send(&p, 9, 0, flv_avc_key, sizeof flv_avc_key), 0);
    EZR_CHECK(pop_publication(ing, &got));
    EZR_CHECK(got * (HOLD_MSG + 15) >= HOLD_MAX_BYTES); /* at least the queue's bound */
    EZR_CHECK(pop_event(ing, EZR_INGEST_STARTED, DEADLINE_MS));
    struct ezr_ingest_item *it = pop(ing, DEADLINE_MS);
    bool key = is_tag(it, 9, 0, flv_avc_key, sizeof flv_avc_key);
    ezr_ingest_item_free(it);
    EZR_CHECK(key);
    EZR_CHECK(wait_removed(1, mono_ms() + DEADLINE_MS));
    pthread_mutex_lock(&ev_lock);
    bool why = strstr(ev_reason, "reset while its input waited") != NULL;
    unsigned added = ev_added;
    pthread_mutex_unlock(&ev_lock);
    EZR_CHECK(why);
    EZR_CHECK_EQ(added, 2);
    player_close(&p);
    ezr_server_free(s);
}

/* A publisher that shuts its connection down in order while held is read to its end once the
 * queue is popped: every message it sent comes out, then ENDED. Until then it still publishes
 * (a second publisher is refused). */
EZR_TEST(test_publisher_shut_down_while_held_is_read_to_its_end)
{
    struct ezr_stream *st;
    struct ezr_ingest *ing;
    struct ezr_ingest_config ic = {.max_bytes = HOLD_MAX_BYTES};
    struct ezr_server *s = start(&ic, &st, &ing);
    EZR_CHECK(s != NULL);
    uint16_t port = ezr_server_port(s);
    static struct player p, p2;
    uint32_t sent = 0, got = 0;
    EZR_CHECK(publish_until_held(&p, ing, port, &sent));
    shutdown(p.fd, SHUT_WR);
    char code[64];
    EZR_CHECK(publisher_open(&p2, port, "live", "obs", code, sizeof code) < 0);
    EZR_CHECK(strcmp(code, "NetStream.Publish.BadName") == 0);
    player_close(&p2);
    EZR_CHECK(pop_publication(ing, &got));
    EZR_CHECK_EQ(got, sent);
    EZR_CHECK(closed_by_server(p.fd, mono_ms() + DEADLINE_MS));
    p.fd = -1;
    player_close(&p);
    EZR_CHECK_EQ(publisher_open(&p2, port, "live", "obs", code, sizeof code), 0);
    player_close(&p2);
    ezr_server_free(s);
}

/* ---- one publisher per key --------------------------------------------------------------- */

EZR_TEST(test_second_publisher_is_refused_while_the_first_lives_then_accepted)
{
    struct ezr_stream *st;
    struct ezr_ingest *ing;
    struct ezr_ingest_config ic = {0};
    struct ezr_server *s = start(&ic, &st, &ing);
    EZR_CHECK(s != NULL);
    uint16_t port = ezr_server_port(s);
    static struct player p1, p2;
    char code[64];
    EZR_CHECK_EQ(publisher_open(&p1, port, "live", "obs", NULL, 0), 0);
    EZR_CHECK(publisher_open(&p2, port, "live", "obs", code, sizeof code) < 0);
    EZR_CHECK(strcmp(code, "NetStream.Publish.BadName") == 0);
    EZR_CHECK(closed_by_server(p2.fd, mono_ms() + DEADLINE_MS));
    p2.fd = -1;
    player_close(&p2);
    /* The first still publishes. */
    EZR_CHECK_EQ(publisher_send(&p1, 9, 0, flv_avc_key, sizeof flv_avc_key), 0);
    EZR_CHECK(pop_event(ing, EZR_INGEST_STARTED, DEADLINE_MS));
    struct ezr_ingest_item *it = pop(ing, DEADLINE_MS);
    bool key = is_tag(it, 9, 0, flv_avc_key, sizeof flv_avc_key);
    ezr_ingest_item_free(it);
    EZR_CHECK(key);
    struct ezr_publisher_stats ps;
    ezr_ingest_get_stats(ing, &ps);
    EZR_CHECK_EQ(ps.refused, 1);
    EZR_CHECK_EQ(ps.publishes, 1);
    /* It leaves: the next is accepted. */
    player_close(&p1);
    EZR_CHECK(pop_event(ing, EZR_INGEST_ENDED, DEADLINE_MS));
    EZR_CHECK_EQ(publisher_open(&p2, port, "live", "obs", code, sizeof code), 0);
    EZR_CHECK(pop_event(ing, EZR_INGEST_STARTED, DEADLINE_MS));
    ezr_ingest_get_stats(ing, &ps);
    EZR_CHECK_EQ(ps.publishes, 2);
    player_close(&p2);
    ezr_server_free(s);
}

EZR_TEST(test_silent_publisher_is_closed_after_timeout)
{
    struct ezr_stream *st;
    struct ezr_ingest *ing;
    struct ezr_ingest_config ic = {.timeout_ms = 400};
    struct ezr_server *s = start(&ic, &st, &ing);
    EZR_CHECK(s != NULL);
    static struct player p;
    EZR_CHECK_EQ(publisher_open(&p, ezr_server_port(s), "live", "obs", NULL, 0), 0);
    uint64_t t0 = mono_ms();
    EZR_CHECK(pop_event(ing, EZR_INGEST_STARTED, DEADLINE_MS));
    EZR_CHECK(pop_event(ing, EZR_INGEST_ENDED, DEADLINE_MS));
    uint64_t took = mono_ms() - t0;
    EZR_CHECK(took >= 400);
    EZR_CHECK(closed_by_server(p.fd, mono_ms() + DEADLINE_MS));
    p.fd = -1;
    player_close(&p);
    EZR_CHECK(wait_removed(1, mono_ms() + DEADLINE_MS));
    pthread_mutex_lock(&ev_lock);
    bool timed_out = strstr(ev_reason, "timeout") != NULL;
    pthread_mutex_unlock(&ev_lock);
    EZR_CHECK(timed_out);
    ezr_server_free(s);
}

/* ---- each way a publication ends --------------------------------------------------------- */

enum end_by { END_FCUNPUBLISH, END_DELETE_STREAM, END_DISCONNECT, END_KICK };
struct end_row {
    const char *name;
    enum end_by by;
    const char *reason; /* in client-removed's reason */
};
static const struct end_row end_rows[] = {
    {"test_fcunpublish_ends_the_publication", END_FCUNPUBLISH, "stopped publishing"},
    {"test_delete_stream_ends_the_publication", END_DELETE_STREAM, "stopped publishing"},
    {"test_disconnect_ends_the_publication", END_DISCONNECT, "disconnected"},
    {"test_kick_ends_the_publication", END_KICK, "removed by the application"},
};

EZR_TEST_ROW(test_publication_ends, struct end_row)
{
    struct ezr_stream *st;
    struct ezr_ingest *ing;
    struct ezr_ingest_config ic = {0};
    struct ezr_server *s = start(&ic, &st, &ing);
    EZR_CHECK(s != NULL);
    static struct player p, viewer;
    EZR_CHECK_EQ(player_open(&viewer, ezr_server_port(s), "live", "stream", 0), 0);
    EZR_CHECK_EQ(publisher_open(&p, ezr_server_port(s), "live", "obs", NULL, 0), 0);
    EZR_CHECK_EQ(publisher_send(&p, 9, 0, flv_avc_key, sizeof flv_avc_key), 0);
    char code[64];
    EZR_CHECK(pop_event(ing, EZR_INGEST_STARTED, DEADLINE_MS));
    struct ezr_ingest_item *it = pop(ing, DEADLINE_MS);
    bool key = is_tag(it, 9, 0, flv_avc_key, sizeof flv_avc_key);
    ezr_ingest_item_free(it);
    EZR_CHECK(key);
    if (row->by == END_FCUNPUBLISH) {
        send_cmd(&p, 0, "FCUnpublish", 6, NULL, "obs");
    } else if (row->by == END_DELETE_STREAM) {
        publisher_delete_stream(&p);
    } else if (row->by == END_DISCONNECT) {
        close(p.fd);
        p.fd = -1;
    } else {
        ezr_ingest_kick(ing);
    }
    EZR_CHECK(pop_event(ing, EZR_INGEST_ENDED, DEADLINE_MS));
    EZR_CHECK(pop(ing, 0) == NULL); /* once */
    if (row->by == END_FCUNPUBLISH || row->by == END_DELETE_STREAM) {
        /* Told, and still connected: it may publish again. */
        EZR_CHECK(strcmp(next_status(&p, code, sizeof code, mono_ms() + DEADLINE_MS),
                         "NetStream.Unpublish.Success") == 0);
        send_cmd(&p, 1, "publish", 8, NULL, "obs");
        EZR_CHECK(strcmp(next_status(&p, code, sizeof code, mono_ms() + DEADLINE_MS),
                         "NetStream.Publish.Start") == 0);
        EZR_CHECK(pop_event(ing, EZR_INGEST_STARTED, DEADLINE_MS));
    } else if (row->by == END_KICK) {
        EZR_CHECK(closed_by_server(p.fd, mono_ms() + DEADLINE_MS));
        p.fd = -1;
    }
    /* client-removed is told after ENDED is queued. */
    EZR_CHECK(wait_removed(1, mono_ms() + DEADLINE_MS));
    pthread_mutex_lock(&ev_lock);
    bool why = strstr(ev_reason, row->reason) != NULL;
    unsigned removed = ev_removed;
    pthread_mutex_unlock(&ev_lock);
    if (!why)
        printf("# client-removed's reason: \"%s\"\n", ev_reason);
    EZR_CHECK(why);
    EZR_CHECK_EQ(removed, 1);
    /* The player of the other stream was never disturbed. */
    push_video(st, EZR_FRAME_KEY, 40, 7);
    EZR_CHECK_EQ(next_video(&viewer, mono_ms() + DEADLINE_MS), 0);
    EZR_CHECK_EQ(viewer.payload[5], 7);
    player_close(&viewer);
    player_close(&p);
    ezr_server_free(s);
}

/* ---- refusals ---------------------------------------------------------------------------- */

EZR_TEST(test_publish_token_and_allowed_clients_refuse_with_bad_name)
{
    struct ezr_stream *st;
    struct ezr_ingest *ing, *other;
    struct ezr_ingest_config ic = {.publish_token = "s3cret"};
    struct ezr_server *s = start(&ic, &st, &ing);
    EZR_CHECK(s != NULL);
    struct ezr_ingest_config far = {
        .app = "live", .key = "far", .allowed_clients = "10.0.0.0/8, ::2"};
    EZR_CHECK_EQ(ezr_server_add_ingest(s, &far, &other), 0);
    uint16_t port = ezr_server_port(s);
    static const char *const refused[] = {"obs", "obs?token=wrong", "obs?token=", "far"};
    static struct player p;
    char code[64];
    for (size_t i = 0; i < 4; i++) {
        EZR_CHECK(publisher_open(&p, port, "live", refused[i], code, sizeof code) < 0);
        EZR_CHECK(strcmp(code, "NetStream.Publish.BadName") == 0);
        EZR_CHECK(closed_by_server(p.fd, mono_ms() + DEADLINE_MS));
        p.fd = -1;
        player_close(&p);
    }
    EZR_CHECK_EQ(publisher_open(&p, port, "live", "obs?token=s3cret", code, sizeof code), 0);
    EZR_CHECK(pop_event(ing, EZR_INGEST_STARTED, DEADLINE_MS));
    struct ezr_publisher_stats ps;
    ezr_ingest_get_stats(ing, &ps);
    EZR_CHECK_EQ(ps.refused, 3);
    EZR_CHECK_EQ(ps.publishes, 1);
    ezr_ingest_get_stats(other, &ps);
    EZR_CHECK_EQ(ps.refused, 1);
    EZR_CHECK_EQ(ps.publishes, 0);
    EZR_CHECK(pop(ing, 0) == NULL && pop(other, 0) == NULL); /* no item for a refusal */
    player_close(&p);
    ezr_server_remove_ingest(s, other);
    ezr_server_free(s);
}

/* A point and a stream of the same name: publishers publish it, players play it (the
 * restreamer line may use one stream key for both directions). Two points of one name are
 * refused. */
EZR_TEST(test_point_and_stream_of_one_name_publish_and_play_it)
{
    struct ezr_stream *st;
    struct ezr_ingest *ing, *twice = NULL;
    struct ezr_ingest_config ic = {.key = "stream"};
    struct ezr_server *s = start(&ic, &st, &ing);
    EZR_CHECK(s != NULL);
    EZR_CHECK_EQ(ezr_server_add_ingest(s, &ic, &twice), EZR_EEXIST);
    EZR_CHECK(twice == NULL);
    uint16_t port = ezr_server_port(s);
    static struct player p, viewer;
    EZR_CHECK_EQ(publisher_open(&p, port, "live", "stream", NULL, 0), 0);
    EZR_CHECK_EQ(player_open(&viewer, port, "live", "stream", 0), 0);
    EZR_CHECK_EQ(publisher_send(&p, 9, 0, flv_avc_key, sizeof flv_avc_key), 0);
    EZR_CHECK(pop_event(ing, EZR_INGEST_STARTED, DEADLINE_MS));
    struct ezr_ingest_item *it = pop(ing, DEADLINE_MS);
    EZR_CHECK(it && it->event == EZR_INGEST_TAG);
    /* What the application does with it: the stream's players get it. */
    EZR_CHECK_EQ(ezr_stream_push(st, EZR_FRAME_VIDEO, EZR_FRAME_KEY, 0, it->tag + 11, it->body_len),
                 0);
    ezr_ingest_item_free(it);
    EZR_CHECK_EQ(next_video(&viewer, mono_ms() + DEADLINE_MS), 0);
    EZR_CHECK_EQ(viewer.len, sizeof flv_avc_key);
    EZR_CHECK_MEM(viewer.payload, flv_avc_key, sizeof flv_avc_key);
    player_close(&viewer);
    player_close(&p);
    ezr_server_free(s);
}

EZR_TEST_MAIN(EZR_CASE(test_published_tags_come_out_whole_and_in_order),
              EZR_CASE(test_full_queue_holds_the_publisher_and_pops_resume_it),
              EZR_CASE(test_publisher_reset_while_held_frees_its_key_at_once),
              EZR_CASE(test_publisher_shut_down_while_held_is_read_to_its_end),
              EZR_CASE(test_second_publisher_is_refused_while_the_first_lives_then_accepted),
              EZR_CASE(test_silent_publisher_is_closed_after_timeout),
              EZR_ROWS(end_rows, test_publication_ends),
              EZR_CASE(test_publish_token_and_allowed_clients_refuse_with_bad_name),
              EZR_CASE(test_point_and_stream_of_one_name_publish_and_play_it))
