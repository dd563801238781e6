/* The event loop: registrations are `struct ezr_io`s embedded in their owners (listener, wake-up
 * channel, clients), so dispatch is one pointer away. One backend is built (meson -Dreactor=):
 * ezr_reactor_epoll.c, edge-triggered epoll (Linux, the default), or ezr_reactor_poll.c,
 * level-triggered poll(2) (POSIX).
 *
 * What an owner must do so that it works on both:
 * - Register with ezr_reactor_add() every event it may ever want, then say with
 *   ezr_reactor_mod() what it wants now (ask for WRITE only while a write is blocked, drop READ
 *   while it does not want input). The edge-triggered backend keeps the registration from
 *   ezr_reactor_add() and reports edges; the level-triggered one reports exactly what was asked,
 *   every round while it holds (otherwise it would spin).
 * - Cope with a spurious event: read/write until EAGAIN, and check its own state rather than
 *   trust that an event means there is work.
 * - On EZR_IO_HUP close (or ezr_reactor_del) the registration: a level-triggered backend reports
 *   it again every round.
 * A handler may ezr_reactor_del() other registrations, even ones later in the same batch, and
 * then close and free their owners: they are not called afterwards in this dispatch, and a
 * descriptor number closed and reused (by accept) within it is not confused with the old one. */
#ifndef EZR_REACTOR_H
#define EZR_REACTOR_H

#include <stdint.h>

struct ezr_reactor;
struct ezr_io;

enum {
    EZR_IO_READ = 1u << 0,
    EZR_IO_WRITE = 1u << 1,
    EZR_IO_HUP = 1u << 2, /* peer hung up or the socket has an error; always reported */
};

typedef void (*ezr_io_fn)(struct ezr_io *io, uint32_t events);

struct ezr_io {
    int fd;
    int slot; /* backend-private: the poll backend's index for this registration */
    ezr_io_fn fn;
};

/* Returns NULL on failure (errno set). */
struct ezr_reactor *ezr_reactor_new(void);
void ezr_reactor_free(struct ezr_reactor *r);
/* Registers io->fd for the given events (EZR_IO_READ, EZR_IO_WRITE); io must stay valid until
 * ezr_reactor_del(). The epoll backend registers them edge-triggered. Returns 0 or EZR_ESYS
 * (errno says why: ENOMEM when the poll backend cannot grow its array). */
int ezr_reactor_add(struct ezr_reactor *r, struct ezr_io *io, uint32_t events);
/* The events the owner wants to hear about now. Edge-triggered backends may deliver more than
 * asked: the epoll backend makes this a no-op returning 0 without a syscall (its registration
 * from ezr_reactor_add() stays as given). A level-triggered backend honours it exactly.
 * Returns 0, or EZR_EINVAL if io is not registered (only the poll backend checks). */
int ezr_reactor_mod(struct ezr_reactor *r, struct ezr_io *io, uint32_t events);
/* Safe from a handler, for any registration. The caller closes io->fd afterwards. */
void ezr_reactor_del(struct ezr_reactor *r, struct ezr_io *io);
/* Waits up to timeout_ms (-1: forever) and dispatches what is ready. Returns the number of
 * handlers called (0 on a timeout or EINTR), or EZR_ESYS. */
int ezr_reactor_poll(struct ezr_reactor *r, int timeout_ms);
/* Microseconds the last ezr_reactor_poll() spent waiting for events (not dispatching them): what
 * the loop's busy fraction leaves out. */
uint64_t ezr_reactor_waited_us(const struct ezr_reactor *r);
/* "epoll" or "poll": the backend built, for logs and tests. Static storage. */
const char *ezr_reactor_backend(void);

#endif
