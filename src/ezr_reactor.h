/* The event loop: an edge-triggered epoll set whose registrations are `struct ezr_io`s embedded
 * in their owners (listener, wake-up eventfd, clients), so dispatch is one pointer away.
 * Edge-triggered: a handler must read/write until EAGAIN, or remember that it did not.
 * A handler may close and free other owners only after ezr_reactor_poll() returns (the server
 * defers frees for that reason): events for them may still be in the batch. */
#ifndef EZR_REACTOR_H
#define EZR_REACTOR_H

#include <stdint.h>

struct ezr_reactor;
struct ezr_io;

enum {
    EZR_IO_READ = 1u << 0,
    EZR_IO_WRITE = 1u << 1,
    EZR_IO_HUP = 1u << 2, /* peer hung up or the socket has an error */
};

typedef void (*ezr_io_fn)(struct ezr_io *io, uint32_t events);

struct ezr_io {
    int fd;
    ezr_io_fn fn;
};

/* Returns NULL on failure (errno set). */
struct ezr_reactor *ezr_reactor_new(void);
void ezr_reactor_free(struct ezr_reactor *r);
/* Registers io->fd for the given events, edge-triggered. Returns 0 or EZR_ESYS. */
int ezr_reactor_add(struct ezr_reactor *r, struct ezr_io *io, uint32_t events);
void ezr_reactor_del(struct ezr_reactor *r, struct ezr_io *io);
/* The events the owner wants to hear about now. Edge-triggered backends may report more (an
 * owner copes with a spurious event) and the epoll one ignores this; a level-triggered backend
 * honours it, so an owner asks for WRITE only while a write is blocked and drops READ while it
 * does not want input. Returns 0 or EZR_ESYS. */
int ezr_reactor_mod(struct ezr_reactor *r, struct ezr_io *io, uint32_t events);
/* Waits up to timeout_ms (-1: forever) and dispatches what is ready. Returns the number of
 * events dispatched, or EZR_ESYS. */
int ezr_reactor_poll(struct ezr_reactor *r, int timeout_ms);

#endif
