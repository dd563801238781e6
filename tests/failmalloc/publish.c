/* The sweep's publish scenario (see sweep.h): a publish point added with the injector armed, a
 * publisher that publishes metadata, sequence headers and frames (a small queue, so its input is
 * held and resumed again and again) while the application's thread pops them, a second publisher
 * refused while the first lives, the first unpublishing and a third publishing after it. Whatever
 * failed: a publisher either was served or was closed by the server (accounted for as a player's
 * close), the application saw each publication as STARTED, its tags in order, ENDED, with every
 * tag of a publisher that was served; after the armed part a new publisher publishes and a new
 * player plays. */
#include "sweep.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ezr_error.h"
#include "ezr_proto.h"
#include "rtmp_test_publisher.h"

#define FRAMES 24
#define FINAL_MARK 0xEE
#define MAX_ITEMS 256
#define WAIT_SECONDS 3

/* ---- the application's thread: pops every item and notes what it was --------------------- */

struct seen {
    enum ezr_ingest_event event;
    uint64_t publisher;
    uint8_t type;
    int mark; /* a video frame's body[5]; -1 for the rest */
};

struct consumer {
    struct ezr_ingest *ing;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    struct seen items[MAX_ITEMS];
    size_t n;
    bool overflow;
};

static void *consume(void *arg)
{
    struct consumer *c = arg;
    ezr_failmalloc_exempt_thread(true); /* what it does is the application's */
    for (;;) {
        struct ezr_ingest_item *it;
        int rc = ezr_ingest_pop(c->ing, 20, &it);
        if (rc < 0 && atomic_load(&c->stop))
            break; /* told to stop, and the queue is empty */
        if (rc < 0)
            continue;
        struct seen s = {it->event, it->publisher, it->type, -1};
        if (it->event == EZR_INGEST_TAG && it->type == 9 && it->body_len > 5)
            s.mark = it->tag[11 + 5];
        ezr_ingest_item_free(it);
        pthread_mutex_lock(&c->lock);
        if (c->n < MAX_ITEMS)
            c->items[c->n++] = s;
        else
            c->overflow = true;
        pthread_mutex_unlock(&c->lock);
    }
    return NULL;
}

static void consumer_start(struct consumer *c, struct ezr_ingest *ing)
{
    c->ing = ing;
    c->n = 0;
    c->overflow = false;
    atomic_store(&c->stop, false);
    pthread_mutex_init(&c->lock, NULL);
    pthread_create(&c->thread, NULL, consume, c);
}

/* Once the queue is empty (nothing more may come). */
static void consumer_stop(struct consumer *c)
{
    if (!c->ing)
        return;
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->lock);
    c->ing = NULL;
}

/* Waits until the consumer has seen a video tag marked mark. */
static bool consumer_saw(struct consumer *c, int mark, uint64_t deadline)
{
    for (;;) {
        pthread_mutex_lock(&c->lock);
        bool seen = false;
        for (size_t i = 0; i < c->n && !seen; i++)
            seen = c->items[i].mark == mark;
        pthread_mutex_unlock(&c->lock);
        if (seen)
            return true;
        if (mono_ms() >= deadline)
            return false;
        usleep(1000);
    }
}

/* ---- publishers ------------------------------------------------------------------------- */

/* A publisher and what became of it. */
struct pub {
    struct player p;
    bool accepted; /* NetStream.Publish.Start came */
    bool refused;  /* NetStream.Publish.BadName came */
    bool served;   /* accepted, everything it sent went, and every answer came */
    bool closed_by_server;
};

static uint8_t frame[2048];

static int send_video(struct pub *pb, bool header, bool key, uint32_t ts, uint8_t mark)
{
    memset(frame, 0x5a, sizeof frame);
    frame[0] = key || header ? 0x17 : 0x27;
    frame[1] = header ? 0 : 1;
    frame[2] = frame[3] = frame[4] = 0;
    frame[5] = mark;
    return publisher_send(&pb->p, EZR_MSG_VIDEO, ts, frame, header ? 64 : sizeof frame);
}

/* Opens pb and publishes live/obs with the point's token. */
static void pub_open(struct pub *pb, uint16_t port)
{
    char code[64];
    memset(pb, 0, sizeof *pb);
    pb->accepted = publisher_open(&pb->p, port, "live", "obs?token=tok", code, sizeof code) == 0;
    pb->refused = strcmp(code, "NetStream.Publish.BadName") == 0;
    pb->served = pb->accepted;
    /* A send the server never reads again fails instead of waiting for ever. */
    struct timeval tv = {WAIT_SECONDS, 0};
    setsockopt(pb->p.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* The onStatus code the server sends next, or "" if it closed or said nothing by deadline. */
static void next_status(struct player *p, char *code, size_t cap, uint64_t deadline)
{
    code[0] = '\0';
    while (next_msg(p, deadline) == 0)
        if (p->type == EZR_MSG_COMMAND_AMF0 && p->len > 11 &&
            memcmp(p->payload + 3, "onStatus", 8) == 0) {
            rtmp_status_code(p->payload, p->len, code, cap);
            return;
        }
}

/* Leaves: one not served must have been closed by the server (else it neither played along nor
 * was closed: an error). Then waits until ing (if not NULL) has no publisher. */
static bool pub_close(struct pub *pb, struct ezr_ingest *ing, struct run *r, const char *who)
{
    bool ok = true;
    if (!pb->served && !pb->refused) {
        pb->closed_by_server = closed_by_server(pb->p.fd, mono_ms() + WAIT_SECONDS * 1000u);
        pb->p.fd = -1;
        if (!pb->closed_by_server)
            ok = fm_fail(r, who, 0);
    }
    player_close(&pb->p);
    pb->p.fd = -1;
    struct ezr_publisher_stats st = {.publishing = true};
    uint64_t deadline = mono_ms() + WAIT_SECONDS * 1000u;
    while (ing && mono_ms() < deadline && (ezr_ingest_get_stats(ing, &st), st.publishing))
        usleep(1000);
    if (ing && st.publishing)
        return fm_fail(r, "the point still has a publisher after it left", 0);
    return ok;
}

/* ---- the checks on what the application saw ---------------------------------------------- */

/* Each publication is STARTED, its tags, ENDED, one at a time; its video marks rise; the first
 * (a_full: A was served) has all of A's tags, the last (c_final) the final mark. */
static bool check_items(struct consumer *c, struct run *r, bool a_full, bool c_final)
{
    uint64_t cur = 0;
    size_t pubs = 0, a_tags = 0;
    int last_mark = -1;
    bool final_in_last = false;
    if (c->overflow)
        return fm_fail(r, "more items than the test expects", (int)c->n);
    for (size_t i = 0; i < c->n; i++) {
        const struct seen *s = &c->items[i];
        if (s->event == EZR_INGEST_STARTED) {
            if (cur)
                return fm_fail(r, "a publication started before the last ended: item", (int)i);
            cur = s->publisher;
            pubs++;
            last_mark = -1;
            final_in_last = false;
            continue;
        }
        if (!cur || s->publisher != cur)
            return fm_fail(r, "an item outside its publication: item", (int)i);
        if (s->event == EZR_INGEST_ENDED) {
            cur = 0;
            continue;
        }
        if (s->mark >= 0 && s->mark != FINAL_MARK && s->mark <= last_mark)
            return fm_fail(r, "a video tag out of order: mark", s->mark);
        if (s->mark >= 0)
            last_mark = s->mark;
        final_in_last = final_in_last || s->mark == FINAL_MARK;
        a_tags += pubs == 1;
    }
    if (cur)
        return fm_fail(r, "a publication never ended", (int)pubs);
    /* Metadata, two sequence headers, the frames and as many audio frames. */
    if (a_full && a_tags != 3 + 2 * FRAMES)
        return fm_fail(r, "tags of a publisher that was served are missing: got", (int)a_tags);
    if (c_final && !final_in_last)
        return fm_fail(r, "the last publisher's frame is missing", 0);
    return true;
}

/* ---- the scenario ----------------------------------------------------------------------- */

static struct consumer cons;

/* A: metadata, the two sequence headers, FRAMES frames of 2 KiB (a keyframe in 8) and audio. */
static void publish_a(struct pub *a)
{
    static const uint8_t aac_hdr[] = {0xAF, 0, 0x12, 0x10};
    static const uint8_t aac[32] = {0xAF, 1};
    if (publisher_send_metadata(&a->p) < 0 || send_video(a, true, true, 0, 0) < 0 ||
        publisher_send(&a->p, EZR_MSG_AUDIO, 0, aac_hdr, sizeof aac_hdr) < 0)
        a->served = false;
    for (uint32_t i = 1; a->served && i <= FRAMES; i++)
        a->served = send_video(a, false, i % 8 == 1, i * 40, (uint8_t)i) == 0 &&
                    publisher_send(&a->p, EZR_MSG_AUDIO, i * 40 + 20, aac, sizeof aac) == 0;
}

bool publish_session(struct run *r)
{
    struct fixture fx;
    static struct pub a, b, c, d;
    memset(&a, 0, sizeof a); /* none opened yet (each run's closes are counted from these) */
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    if (!fm_setup(&fx, false, r))
        return fm_finish(&fx, r, NULL, 0, false);
    /* A small queue: A's frames hold its input, and the pops resume it, many times. */
    struct ezr_ingest_config ic = {
        .app = "live", .key = "obs", .publish_token = "tok", .max_bytes = 4096};
    struct ezr_ingest *ing = NULL;
    char code[64];
    bool ok = true;
    fm_arm();
    int add = LIB(ezr_server_add_ingest(fx.s, &ic, &ing));
    if (add == 0) {
        consumer_start(&cons, ing);
        pub_open(&a, fx.port);
        if (a.refused)
            ok = fm_fail(r, "the first publisher was refused", 0);
        if (a.served)
            publish_a(&a);
        pub_open(&b, fx.port); /* refused while A lives */
        if (a.served) {
            publisher_unpublish(&a.p);
            /* The whole wait: a close by the server ends it at once. */
            next_status(&a.p, code, sizeof code, mono_ms() + WAIT_SECONDS * 1000u);
            a.served = strcmp(code, "NetStream.Unpublish.Success") == 0;
        }
        /* B was let in only if A was gone. */
        if (b.accepted && a.accepted && a.served)
            ok = fm_fail(r, "a second publisher was accepted while the first lived", 0);
        /* A first, without waiting for the point: B may publish if A was closed early. */
        ok = pub_close(&a, NULL, r, "publisher A neither served nor closed") && ok;
        ok = pub_close(&b, ing, r, "publisher B neither answered nor closed") && ok;
        pub_open(&c, fx.port);
        if (c.served)
            c.served = send_video(&c, true, true, 0, 0) == 0 &&
                       send_video(&c, false, true, 40, FINAL_MARK) == 0 &&
                       consumer_saw(&cons, FINAL_MARK, mono_ms() + WAIT_SECONDS * 1000u);
        ok = pub_close(&c, ing, r, "publisher C neither served nor closed") && ok;
    }
    fm_disarm(r);
    ok = fm_answered(r, "ezr_server_add_ingest", add) && ok;
    consumer_stop(&cons);
    if (add == 0 && ok)
        ok = check_items(&cons, r, a.served, c.served);
    size_t closed = a.closed_by_server + (b.closed_by_server && !b.refused) + c.closed_by_server;
    ok = ok && fm_closes_accounted(&fx, r, closed);
    /* The point (added again if it could not be) takes a new publisher. */
    if (ok && (add == 0 || ezr_server_add_ingest(fx.s, &ic, &ing) == 0))
        consumer_start(&cons, ing);
    if (ok) {
        pub_open(&d, fx.port);
        if (!d.accepted || send_video(&d, false, true, 9000, FINAL_MARK + 1) < 0 ||
            !consumer_saw(&cons, FINAL_MARK + 1, mono_ms() + WAIT_SECONDS * 1000u))
            ok = fm_fail(r, "a new publisher after the armed part is not served", 0);
        player_close(&d.p);
    }
    consumer_stop(&cons);
    return fm_finish(&fx, r, NULL, 0, ok);
}
