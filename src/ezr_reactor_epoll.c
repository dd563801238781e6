/* The reactor's Linux backend: edge-triggered epoll, and an eventfd as the wake-up channel.
 * See ezr_reactor.h for the contract and ezr_reactor_poll.c for the POSIX backend. */
#include "ezr_alloc.h"
#include "ezr_reactor.h"
#include "ezr_wake.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ezr_clock.h"
#include "ezr_error.h"

/* Events taken per epoll_wait. Larger batches amortise the syscall with many busy clients. */
#define EZR_REACTOR_BATCH 256

struct ezr_reactor {
    int epfd;
    /* While dispatching, events[next..n) are still to be called; ezr_reactor_del() clears the
     * ones it removes there, so that a handler can close another owner in the same batch. */
    int next, n;
    struct epoll_event events[EZR_REACTOR_BATCH];
    uint64_t waited_us; /* in the last wait */
};

struct ezr_reactor *ezr_reactor_new(void)
{
    struct ezr_reactor *r = ezr_malloc(sizeof *r);
    if (!r)
        return NULL;
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->epfd < 0) {
        free(r);
        return NULL;
    }
    r->next = r->n = 0;
    return r;
}

void ezr_reactor_free(struct ezr_reactor *r)
{
    if (!r)
        return;
    close(r->epfd);
    free(r);
}

int ezr_reactor_add(struct ezr_reactor *r, struct ezr_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = EPOLLET | EPOLLRDHUP, .data.ptr = io};
    if (events & EZR_IO_READ)
        ev.events |= EPOLLIN;
    if (events & EZR_IO_WRITE)
        ev.events |= EPOLLOUT;
    return epoll_ctl(r->epfd, EPOLL_CTL_ADD, io->fd, &ev) == 0 ? 0 : EZR_ESYS;
}

int ezr_reactor_mod(struct ezr_reactor *r, struct ezr_io *io, uint32_t events)
{
    /* Edge-triggered: an edge the owner did not ask for costs one handler call that finds
     * nothing to do, far less than an epoll_ctl per blocked or unblocked write. */
    return 0;
}

void ezr_reactor_del(struct ezr_reactor *r, struct ezr_io *io)
{
    epoll_ctl(r->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    for (int i = r->next; i < r->n; i++)
        if (r->events[i].data.ptr == io)
            r->events[i].data.ptr = NULL;
}

int ezr_reactor_poll(struct ezr_reactor *r, int timeout_ms)
{
    uint64_t from = ezr_now_us();
    int n = epoll_wait(r->epfd, r->events, EZR_REACTOR_BATCH, timeout_ms);
    r->waited_us = ezr_now_us() - from;
    if (n < 0)
        return errno == EINTR ? 0 : EZR_ESYS;
    int called = 0;
    r->n = n;
    for (r->next = 0; r->next < n;) {
        struct epoll_event *ev = &r->events[r->next++];
        struct ezr_io *io = ev->data.ptr;
        if (!io)
            continue; /* deleted by an earlier handler of this batch */
        uint32_t mask = 0;
        if (ev->events & EPOLLIN)
            mask |= EZR_IO_READ;
        if (ev->events & EPOLLOUT)
            mask |= EZR_IO_WRITE;
        if (ev->events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
            mask |= EZR_IO_HUP;
        io->fn(io, mask);
        called++;
    }
    r->next = r->n = 0;
    return called;
}

const char *ezr_reactor_backend(void)
{
    return "epoll";
}

/* ---- wake-up channel: one eventfd, its counter is the pending wake-up ------------------- */

int ezr_wake_open(struct ezr_wake *w)
{
    w->rfd = w->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return w->rfd < 0 ? EZR_ESYS : 0;
}

int ezr_wake_signal(struct ezr_wake *w)
{
    uint64_t one = 1;
    for (;;) {
        if (write(w->wfd, &one, sizeof one) == (ssize_t)sizeof one)
            return 0;
        if (errno == EAGAIN)
            return 0; /* the counter is at its maximum: a wake-up is pending */
        if (errno != EINTR)
            return EZR_ESYS;
    }
}

void ezr_wake_drain(struct ezr_wake *w)
{
    uint64_t v;
    /* One read resets the counter; the loop only retries an interrupted read. */
    while (read(w->rfd, &v, sizeof v) < 0 && errno == EINTR)
        ;
}

void ezr_wake_close(struct ezr_wake *w)
{
    if (w->rfd >= 0)
        close(w->rfd);
    w->rfd = w->wfd = -1;
}

uint64_t ezr_reactor_waited_us(const struct ezr_reactor *r)
{
    return r->waited_us;
}
