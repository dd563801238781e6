/* The reactor's portable backend: level-triggered poll(2) over a growable array, and a pipe as
 * the wake-up channel. POSIX only; see ezr_reactor.h for the contract. */

/* Built without the project's _GNU_SOURCE so that a Linux-only call here fails to compile. */
#undef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L

#include "ezr_alloc.h"
#include "ezr_reactor.h"
#include "ezr_wake.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "ezr_clock.h"
#include "ezr_error.h"

/* Slots allocated at first; the array doubles from there. */
#define EZR_POLL_INITIAL_SLOTS 64u

/* Registration i is fds[i] (what poll(2) takes) and owners[i]; io->slot == i. A registration
 * deleted during a dispatch only has its owner cleared (a dead slot), so that nothing the
 * dispatch loop iterates moves; dead slots are compacted after the loop. */
struct ezr_reactor {
    struct pollfd *fds;
    struct ezr_io **owners; /* NULL: a dead slot */
    size_t n, cap;
    bool dispatching;
    bool has_dead;
    uint64_t waited_us; /* in the last wait */
};

static short poll_events(uint32_t events)
{
    short e = 0;
    if (events & EZR_IO_READ)
        e |= POLLIN;
    if (events & EZR_IO_WRITE)
        e |= POLLOUT;
    return e;
}

/* The slot io holds in r, or -1 if it is not registered (io->slot may be stale or unset). */
static int slot_of(const struct ezr_reactor *r, const struct ezr_io *io)
{
    int s = io->slot;
    if (s < 0 || (size_t)s >= r->n || r->owners[s] != io)
        return -1;
    return s;
}

static int grow(struct ezr_reactor *r)
{
    size_t cap = r->cap ? r->cap * 2 : EZR_POLL_INITIAL_SLOTS;
    struct pollfd *fds = ezr_realloc(r->fds, cap * sizeof *fds);
    if (!fds)
        return EZR_ESYS; /* errno is ENOMEM */
    r->fds = fds; /* larger than cap until owners grows too: harmless */
    struct ezr_io **owners = ezr_realloc(r->owners, cap * sizeof *owners);
    if (!owners)
        return EZR_ESYS;
    r->owners = owners;
    r->cap = cap;
    return 0;
}

static void compact(struct ezr_reactor *r)
{
    size_t j = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (!r->owners[i])
            continue;
        if (i != j) {
            r->fds[j] = r->fds[i];
            r->owners[j] = r->owners[i];
            r->owners[j]->slot = (int)j;
        }
        j++;
    }
    r->n = j;
    r->has_dead = false;
}

struct ezr_reactor *ezr_reactor_new(void)
{
    return ezr_calloc(1, sizeof(struct ezr_reactor));
}

void ezr_reactor_free(struct ezr_reactor *r)
{
    if (!r)
        return;
    free(r->fds);
    free(r->owners);
    free(r);
}

int ezr_reactor_add(struct ezr_reactor *r, struct ezr_io *io, uint32_t events)
{
    if (io->fd < 0) {
        errno = EBADF; /* poll(2) would silently ignore it */
        return EZR_ESYS;
    }
    if (r->n == r->cap && grow(r) < 0)
        return EZR_ESYS;
    /* Always appended: a slot added during a dispatch lies past the ones being iterated, and a
     * reused fd number gets a new slot with no stale revents. */
    size_t s = r->n++;
    r->fds[s] = (struct pollfd){.fd = io->fd, .events = poll_events(events)};
    r->owners[s] = io;
    io->slot = (int)s;
    return 0;
}

int ezr_reactor_mod(struct ezr_reactor *r, struct ezr_io *io, uint32_t events)
{
    int s = slot_of(r, io);
    if (s < 0)
        return EZR_EINVAL;
    r->fds[s].events = poll_events(events);
    return 0;
}

void ezr_reactor_del(struct ezr_reactor *r, struct ezr_io *io)
{
    int s = slot_of(r, io);
    if (s < 0)
        return;
    io->slot = -1;
    if (r->dispatching) {
        r->owners[s] = NULL;
        r->fds[s].fd = -1;
        r->has_dead = true;
        return;
    }
    /* Outside a dispatch nothing iterates the array: the last slot takes this one's place. */
    size_t last = r->n - 1;
    if ((size_t)s != last) {
        r->fds[s] = r->fds[last];
        r->owners[s] = r->owners[last];
        r->owners[s]->slot = s;
    }
    r->n = last;
}

int ezr_reactor_poll(struct ezr_reactor *r, int timeout_ms)
{
    uint64_t from = ezr_now_us();
    int ready = poll(r->fds, (nfds_t)r->n, timeout_ms);
    r->waited_us = ezr_now_us() - from;
    if (ready < 0)
        return errno == EINTR ? 0 : EZR_ESYS;
    /* Only the slots poll(2) looked at: those added by handlers have no revents yet. */
    size_t n = r->n;
    int seen = 0, called = 0;
    r->dispatching = true;
    for (size_t i = 0; i < n && seen < ready; i++) {
        short re = r->fds[i].revents;
        if (!re)
            continue;
        seen++;
        struct ezr_io *io = r->owners[i];
        if (!io)
            continue; /* deleted by an earlier handler of this batch */
        /* Against what is asked now: an earlier handler may have changed it with _mod. */
        short want = r->fds[i].events;
        uint32_t mask = 0;
        if (re & want & POLLIN)
            mask |= EZR_IO_READ;
        if (re & want & POLLOUT)
            mask |= EZR_IO_WRITE;
        if (re & (POLLHUP | POLLERR | POLLNVAL))
            mask |= EZR_IO_HUP;
        if (!mask)
            continue;
        io->fn(io, mask);
        called++;
    }
    r->dispatching = false;
    if (r->has_dead)
        compact(r);
    return called;
}

const char *ezr_reactor_backend(void)
{
    return "poll";
}

/* ---- wake-up channel: a pipe, one byte per signal until it is full ---------------------- */

static int set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

int ezr_wake_open(struct ezr_wake *w)
{
    int p[2];
    w->rfd = w->wfd = -1;
    /* POSIX.1-2008 has no pipe2(): a fork and exec in another thread between these calls can
     * inherit the pipe, which only leaks two fds into that child. */
    if (pipe(p) < 0)
        return EZR_ESYS;
    if (set_nonblock_cloexec(p[0]) < 0 || set_nonblock_cloexec(p[1]) < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        errno = e;
        return EZR_ESYS;
    }
    w->rfd = p[0];
    w->wfd = p[1];
    return 0;
}

int ezr_wake_signal(struct ezr_wake *w)
{
    const char one = 1;
    for (;;) {
        if (write(w->wfd, &one, 1) == 1)
            return 0;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0; /* the pipe is full: a wake-up is pending */
        if (errno != EINTR)
            return EZR_ESYS;
    }
}

void ezr_wake_drain(struct ezr_wake *w)
{
    char buf[512];
    for (;;) {
        ssize_t n = read(w->rfd, buf, sizeof buf);
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        return; /* empty (EAGAIN) or closed */
    }
}

void ezr_wake_close(struct ezr_wake *w)
{
    if (w->rfd >= 0)
        close(w->rfd);
    if (w->wfd >= 0 && w->wfd != w->rfd)
        close(w->wfd);
    w->rfd = w->wfd = -1;
}

uint64_t ezr_reactor_waited_us(const struct ezr_reactor *r)
{
    return r->waited_us;
}
