/* The reactor backend this build compiled (epoll or poll) against its contract in
 * ezr_reactor.h: the exact events each handler gets, deletion during a dispatch, the wake-up
 * channel across threads, and a thousand registrations at once. */
#include "ezr_test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ezr_error.h"
#include "ezr_reactor.h"
#include "ezr_wake.h"

/* Long enough for loopback readiness on a loaded machine; ready events return at once. */
#define WAIT_MS 5000

static bool is_poll(void)
{
    return strcmp(ezr_reactor_backend(), "poll") == 0;
}

/* A registration that records what it was called with. */
struct rec {
    struct ezr_io io; /* first: the handler gets &rec->io */
    struct ezr_reactor *r;
    int calls;
    uint32_t events;
    bool drain;             /* read until EAGAIN on each call */
    struct rec *victim;     /* deleted (and its fd replaced) by this handler */
    struct rec *newcomer;   /* registered on the victim's fd number by this handler */
    struct ezr_wake *wake;  /* drained by this handler */
};

static void drain_fd(int fd)
{
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

static void rec_event(struct ezr_io *io, uint32_t events)
{
    struct rec *c = (struct rec *)io;
    c->calls++;
    c->events = events;
    if (c->drain)
        drain_fd(io->fd);
    if (c->wake)
        ezr_wake_drain(c->wake);
    if (c->victim) {
        struct rec *v = c->victim;
        /* Deleted from a handler, then its number reused at once, as accept would after a
         * close: the batch may still hold the old fd's readiness. */
        ezr_reactor_del(c->r, &v->io);
        if (c->newcomer) {
            if (dup2(c->newcomer->io.fd, v->io.fd) < 0)
                return;
            close(c->newcomer->io.fd);
            c->newcomer->io.fd = v->io.fd;
            ezr_reactor_add(c->r, &c->newcomer->io, EZR_IO_READ);
        } else {
            close(v->io.fd);
        }
        v->io.fd = -1;
        c->victim = NULL;
        if (v->victim == c)
            v->victim = NULL; /* it must not delete us if it were (wrongly) called */
    }
}

static void rec_init(struct rec *c, struct ezr_reactor *r, int fd)
{
    memset(c, 0, sizeof *c);
    c->io.fd = fd;
    c->io.fn = rec_event;
    c->r = r;
}

static int nonblocking_pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return -1;
    for (int i = 0; i < 2; i++)
        if (fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK) < 0)
            return -1;
    return 0;
}

static void close_pair(int sv[2])
{
    for (int i = 0; i < 2; i++)
        if (sv[i] >= 0)
            close(sv[i]);
}

EZR_TEST(test_backend_is_the_one_configured)
{
    EZR_CHECK(strcmp(ezr_reactor_backend(), EZR_EXPECTED_BACKEND) == 0);
}

EZR_TEST(test_readable_socket_reports_read_until_drained)
{
    struct ezr_reactor *r = ezr_reactor_new();
    EZR_CHECK(r);
    int sv[2];
    EZR_CHECK_EQ(nonblocking_pair(sv), 0);
    struct rec a;
    rec_init(&a, r, sv[0]);
    a.drain = true;
    EZR_CHECK_EQ(ezr_reactor_add(r, &a.io, EZR_IO_READ), 0);

    EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0);
    EZR_CHECK_EQ(write(sv[1], "x", 1), 1);
    EZR_CHECK_EQ(ezr_reactor_poll(r, WAIT_MS), 1);
    EZR_CHECK_EQ(a.calls, 1);
    EZR_CHECK_EQ(a.events, EZR_IO_READ);
    /* Drained by the handler: neither backend reports it again. */
    EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0);
    EZR_CHECK_EQ(a.calls, 1);

    ezr_reactor_del(r, &a.io);
    close_pair(sv);
    ezr_reactor_free(r);
}

/* Writes to fd until the socket takes nothing more. */
static void fill(int fd)
{
    static char junk[65536];
    while (write(fd, junk, sizeof junk) > 0)
        ;
}

EZR_TEST(test_write_reported_when_asked_on_poll_and_on_the_edge_on_epoll)
{
    struct ezr_reactor *r = ezr_reactor_new();
    EZR_CHECK(r);
    int sv[2];
    EZR_CHECK_EQ(nonblocking_pair(sv), 0);
    struct rec a;
    rec_init(&a, r, sv[0]);
    /* The contract's pattern: register everything, then ask for what is wanted now. */
    EZR_CHECK_EQ(ezr_reactor_add(r, &a.io, EZR_IO_READ | EZR_IO_WRITE), 0);
    EZR_CHECK_EQ(ezr_reactor_mod(r, &a.io, EZR_IO_READ), 0);

    if (is_poll()) {
        EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0);
        EZR_CHECK_EQ(ezr_reactor_mod(r, &a.io, EZR_IO_READ | EZR_IO_WRITE), 0);
        /* Level-triggered: every round while it is asked and writable. */
        EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 1);
        EZR_CHECK_EQ(a.events, EZR_IO_WRITE);
        EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 1);
        EZR_CHECK_EQ(a.events, EZR_IO_WRITE);
        EZR_CHECK_EQ(a.calls, 2);
        /* Blocked: not writable, nothing reported; the peer reads, WRITE comes back. */
        fill(sv[0]);
        EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0);
        drain_fd(sv[1]);
        EZR_CHECK_EQ(ezr_reactor_poll(r, WAIT_MS), 1);
        EZR_CHECK_EQ(a.events, EZR_IO_WRITE);
        EZR_CHECK_EQ(a.calls, 3);
        /* Not asked any more: silent although writable. */
        EZR_CHECK_EQ(ezr_reactor_mod(r, &a.io, EZR_IO_READ), 0);
        EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0);
        EZR_CHECK_EQ(a.calls, 3);
        /* Nor is an io that is not registered. */
        struct rec stranger;
        rec_init(&stranger, r, sv[1]);
        stranger.io.slot = 0;
        EZR_CHECK_EQ(ezr_reactor_mod(r, &stranger.io, EZR_IO_READ), EZR_EINVAL);
    } else {
        /* Edge-triggered with mod a no-op: the registration's first edge, whatever was asked. */
        EZR_CHECK_EQ(ezr_reactor_poll(r, WAIT_MS), 1);
        EZR_CHECK_EQ(a.events, EZR_IO_WRITE);
        EZR_CHECK_EQ(ezr_reactor_mod(r, &a.io, EZR_IO_READ | EZR_IO_WRITE), 0);
        EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0); /* still writable, but no new edge */
        fill(sv[0]);
        EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0);
        drain_fd(sv[1]);
        EZR_CHECK_EQ(ezr_reactor_poll(r, WAIT_MS), 1); /* the edge to writable */
        EZR_CHECK_EQ(a.events, EZR_IO_WRITE);
        EZR_CHECK_EQ(a.calls, 2);
        EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0);
    }

    ezr_reactor_del(r, &a.io);
    close_pair(sv);
    ezr_reactor_free(r);
}

EZR_TEST(test_read_dropped_by_mod_is_silent_on_poll_and_still_edges_on_epoll)
{
    struct ezr_reactor *r = ezr_reactor_new();
    EZR_CHECK(r);
    int sv[2];
    EZR_CHECK_EQ(nonblocking_pair(sv), 0);
    struct rec a;
    rec_init(&a, r, sv[0]);
    EZR_CHECK_EQ(ezr_reactor_add(r, &a.io, EZR_IO_READ), 0);
    EZR_CHECK_EQ(ezr_reactor_mod(r, &a.io, 0), 0);
    EZR_CHECK_EQ(write(sv[1], "x", 1), 1);
    if (is_poll()) {
        EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0);
        EZR_CHECK_EQ(ezr_reactor_mod(r, &a.io, EZR_IO_READ), 0);
    }
    /* epoll: more than asked, which an owner must cope with; poll: asked again. */
    EZR_CHECK_EQ(ezr_reactor_poll(r, WAIT_MS), 1);
    EZR_CHECK_EQ(a.events, EZR_IO_READ);
    EZR_CHECK_EQ(a.calls, 1);

    ezr_reactor_del(r, &a.io);
    close_pair(sv);
    ezr_reactor_free(r);
}

EZR_TEST(test_registration_deleted_by_a_handler_is_not_called_in_the_same_dispatch)
{
    struct ezr_reactor *r = ezr_reactor_new();
    EZR_CHECK(r);
    int p[2], q[2], fresh[2];
    EZR_CHECK_EQ(nonblocking_pair(p), 0);
    EZR_CHECK_EQ(nonblocking_pair(q), 0);
    EZR_CHECK_EQ(nonblocking_pair(fresh), 0);
    struct rec a, b, c;
    rec_init(&a, r, p[0]);
    rec_init(&b, r, q[0]);
    rec_init(&c, r, fresh[0]);
    a.drain = b.drain = c.drain = true;
    /* Whichever runs first deletes the other and puts a readable socket, registered as c, on
     * the other's fd number. */
    a.victim = &b;
    a.newcomer = &c;
    b.victim = &a;
    b.newcomer = &c;
    int a_fd = p[0], b_fd = q[0];
    EZR_CHECK_EQ(ezr_reactor_add(r, &a.io, EZR_IO_READ), 0);
    EZR_CHECK_EQ(ezr_reactor_add(r, &b.io, EZR_IO_READ), 0);
    EZR_CHECK_EQ(write(p[1], "a", 1), 1);
    EZR_CHECK_EQ(write(q[1], "b", 1), 1);
    EZR_CHECK_EQ(write(fresh[1], "c", 1), 1);

    EZR_CHECK_EQ(ezr_reactor_poll(r, WAIT_MS), 1);
    EZR_CHECK_EQ(a.calls + b.calls, 1);
    EZR_CHECK_EQ(c.calls, 0); /* added during the dispatch: the next one */
    struct rec *survivor = a.calls ? &a : &b;
    EZR_CHECK_EQ(c.io.fd, survivor == &a ? b_fd : a_fd);
    EZR_CHECK_EQ(survivor->events, EZR_IO_READ);

    /* The reused number now reports the new socket to its new owner, once. */
    EZR_CHECK_EQ(ezr_reactor_poll(r, WAIT_MS), 1);
    EZR_CHECK_EQ(c.calls, 1);
    EZR_CHECK_EQ(c.events, EZR_IO_READ);
    EZR_CHECK_EQ(a.calls + b.calls, 1);
    EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0);

    ezr_reactor_del(r, &survivor->io);
    ezr_reactor_del(r, &c.io);
    close(survivor->io.fd);
    close(c.io.fd);
    close(p[1]);
    close(q[1]);
    close(fresh[1]);
    ezr_reactor_free(r);
}

struct waker {
    struct ezr_wake *w;
    atomic_bool go;
    int signals;
    int failures;
};

static void *waker_main(void *arg)
{
    struct waker *k = arg;
    while (!atomic_load(&k->go))
        ; /* until the main thread is about to block */
    for (int i = 0; i < k->signals; i++)
        if (ezr_wake_signal(k->w) != 0)
            k->failures++;
    return NULL;
}

EZR_TEST(test_wake_signal_from_another_thread_wakes_a_blocking_poll)
{
    struct ezr_reactor *r = ezr_reactor_new();
    EZR_CHECK(r);
    struct ezr_wake w;
    EZR_CHECK_EQ(ezr_wake_open(&w), 0);
    struct rec a;
    rec_init(&a, r, w.rfd);
    a.wake = &w;
    EZR_CHECK_EQ(ezr_reactor_add(r, &a.io, EZR_IO_READ), 0);
    EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0);

    struct waker k = {.w = &w, .signals = 3};
    pthread_t t;
    EZR_CHECK_EQ(pthread_create(&t, NULL, waker_main, &k), 0);
    atomic_store(&k.go, true);
    int rc = ezr_reactor_poll(r, -1); /* meson's timeout fails the test if no wake-up comes */
    pthread_join(t, NULL);
    EZR_CHECK_EQ(rc, 1);
    EZR_CHECK_EQ(k.failures, 0);
    EZR_CHECK_EQ(a.calls, 1);
    EZR_CHECK_EQ(a.events, EZR_IO_READ);
    /* The thread may have signalled again after the handler drained: drain what is left, then
     * the channel stays quiet. */
    ezr_wake_drain(&w);
    EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0);

    ezr_reactor_del(r, &a.io);
    ezr_wake_close(&w);
    EZR_CHECK_EQ(w.rfd, -1);
    ezr_reactor_free(r);
}

EZR_TEST(test_wake_signal_on_a_full_channel_succeeds_and_one_drain_empties_it)
{
    struct ezr_reactor *r = ezr_reactor_new();
    EZR_CHECK(r);
    struct ezr_wake w;
    EZR_CHECK_EQ(ezr_wake_open(&w), 0);
    struct rec a;
    rec_init(&a, r, w.rfd);
    a.wake = &w;
    EZR_CHECK_EQ(ezr_reactor_add(r, &a.io, EZR_IO_READ), 0);
    /* More than a pipe holds (64 KiB on Linux): a full channel is a pending wake-up. */
    for (int i = 0; i < 100000; i++)
        EZR_CHECK_EQ(ezr_wake_signal(&w), 0);
    EZR_CHECK_EQ(ezr_reactor_poll(r, WAIT_MS), 1);
    EZR_CHECK_EQ(a.events, EZR_IO_READ);
    EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0);
    EZR_CHECK_EQ(a.calls, 1);

    ezr_reactor_del(r, &a.io);
    ezr_wake_close(&w);
    ezr_reactor_free(r);
}

EZR_TEST(test_peer_close_reports_read_and_hup)
{
    struct ezr_reactor *r = ezr_reactor_new();
    EZR_CHECK(r);
    int sv[2];
    EZR_CHECK_EQ(nonblocking_pair(sv), 0);
    struct rec a;
    rec_init(&a, r, sv[0]);
    EZR_CHECK_EQ(ezr_reactor_add(r, &a.io, EZR_IO_READ), 0);
    close(sv[1]);
    EZR_CHECK_EQ(ezr_reactor_poll(r, WAIT_MS), 1);
    EZR_CHECK_EQ(a.events, EZR_IO_READ | EZR_IO_HUP);
    /* HUP is reported even when nothing is asked. */
    EZR_CHECK_EQ(ezr_reactor_mod(r, &a.io, 0), 0);
    if (is_poll()) {
        EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 1);
        EZR_CHECK_EQ(a.events, EZR_IO_HUP);
    } else {
        EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0); /* reported on its edge, above */
    }

    ezr_reactor_del(r, &a.io);
    close(sv[0]);
    ezr_reactor_free(r);
}

/* Makes room for n more descriptors under RLIMIT_NOFILE; false if the hard limit forbids. */
static bool room_for_fds(rlim_t n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return false;
    rlim_t need = n + 64; /* stdio, the test harness, the reactor */
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
            printf("# RLIMIT_NOFILE hard limit %llu < %llu needed\n",
                   (unsigned long long)rl.rlim_max, (unsigned long long)need);
            return false;
        }
        rl.rlim_cur = need;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            return false;
    }
    return true;
}

/* npairs socketpairs, one end of each registered for READ; one byte written to each: every
 * registration is called exactly once, then nothing. */
static void many_pairs_each_reported_once(int npairs)
{
    EZR_CHECK(room_for_fds(2 * (rlim_t)npairs));
    struct ezr_reactor *r = ezr_reactor_new();
    int(*sv)[2] = calloc((size_t)npairs, sizeof *sv);
    struct rec *c = calloc((size_t)npairs, sizeof *c);
    EZR_CHECK(r && sv && c);
    int made = 0;
    for (; made < npairs; made++) {
        if (nonblocking_pair(sv[made]) < 0)
            break;
        rec_init(&c[made], r, sv[made][0]);
        c[made].drain = true;
        if (ezr_reactor_add(r, &c[made].io, EZR_IO_READ) < 0) {
            close_pair(sv[made]);
            break;
        }
    }
    bool ok = made == npairs;
    int total = 0;
    if (ok) {
        EZR_CHECK_EQ(ezr_reactor_poll(r, 0), 0);
        for (int i = 0; i < npairs && ok; i++)
            ok = write(sv[i][1], "x", 1) == 1;
        /* The epoll backend takes 256 per round; loop until all came or a round brings none. */
        for (int rc = 1; ok && total < npairs && rc > 0;) {
            rc = ezr_reactor_poll(r, WAIT_MS);
            total += rc > 0 ? rc : 0;
        }
    }
    int once = 0;
    for (int i = 0; i < made; i++)
        once += c[i].calls == 1 && c[i].events == EZR_IO_READ;
    int after = ok ? ezr_reactor_poll(r, 0) : -1;
    for (int i = 0; i < made; i++) {
        ezr_reactor_del(r, &c[i].io);
        close_pair(sv[i]);
    }
    free(c);
    free(sv);
    ezr_reactor_free(r);
    EZR_CHECK_EQ(made, npairs);
    EZR_CHECK(ok);
    EZR_CHECK_EQ(total, npairs);
    EZR_CHECK_EQ(once, npairs);
    EZR_CHECK_EQ(after, 0);
}

EZR_TEST(test_thousand_socketpairs_each_reported_once)
{
    many_pairs_each_reported_once(1000);
}

EZR_TEST(test_ten_thousand_fds_each_pair_reported_once)
{
    many_pairs_each_reported_once(5000);
}

EZR_TEST_MAIN(EZR_CASE(test_backend_is_the_one_configured),
              EZR_CASE(test_readable_socket_reports_read_until_drained),
              EZR_CASE(test_write_reported_when_asked_on_poll_and_on_the_edge_on_epoll),
              EZR_CASE(test_read_dropped_by_mod_is_silent_on_poll_and_still_edges_on_epoll),
              EZR_CASE(test_registration_deleted_by_a_handler_is_not_called_in_the_same_dispatch),
              EZR_CASE(test_wake_signal_from_another_thread_wakes_a_blocking_poll),
              EZR_CASE(test_wake_signal_on_a_full_channel_succeeds_and_one_drain_empties_it),
              EZR_CASE(test_peer_close_reports_read_and_hup),
              EZR_CASE(test_thousand_socketpairs_each_reported_once),
              EZR_CASE(test_ten_thousand_fds_each_pair_reported_once))
