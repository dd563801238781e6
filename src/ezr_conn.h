/* One connection as its transport sees it: the socket on the reactor, what carries its bytes (a
 * plain TCP socket or a TLS session on it) with that transport's own state and the peer's
 * address. Like nginx's ngx_connection_t and Redis's connection, this is all a transport
 * knows: never the client, its protocol or its stream (docs/layers.md). Embedded in the client
 * (ezr_client.h). Reactor-thread only. */
#ifndef EZR_CONN_H
#define EZR_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ezr_net.h"
#include "ezr_reactor.h"
#include "ezr_types.h"

struct ezr_conn;

/* What carries a connection's bytes. The client's I/O (ezr_client.c: read budget, write queue,
 * reactor interest) calls these; the protocols, the queue and its tiers never know which. */
struct ezr_transport {
    const char *name; /* "tcp", "tls" */
    /* A read that returns fewer bytes than asked took all the socket had (plain TCP): more can
     * only come with a new event from the reactor (a new edge: bytes or the peer's FIN), so the
     * reader waits for it instead of reading again to be told EAGAIN, as nginx does. False for
     * TLS (OpenSSL may hold decrypted bytes of a record it read whole, SSL_pending) and for TLS
     * detection (the transport it hands over to decides, after its read). */
    bool short_read_drains;
    /* Up to len of the peer's bytes into buf. Returns how many (> 0), 0 at the end of the
     * stream, EZR_EAGAIN: nothing now, and c->read_wants says which readiness brings more (TLS
     * may have to write before it can read); any other negative code: close, *why says why
     * (static text), EZR_EPROTO when the peer broke the rules. */
    ssize_t (*read)(struct ezr_conn *c, uint8_t *buf, size_t len, const char **why);
    /* Takes what it can of iov[0..n) (n may be 0: only push out what it already holds).
     * Returns the bytes taken (they are the transport's now: the queue may forget them),
     * EZR_EAGAIN when it took nothing (c->write_wants says what to wait for), or another negative
     * code with *why. */
    ssize_t (*writev)(struct ezr_conn *c, const struct iovec *iov, int n, const char **why);
    /* Does it hold bytes taken but not yet given to the socket? */
    bool (*holds_output)(const struct ezr_conn *c);
    /* Frees c->transport_state; the socket is closed afterwards by the connection's owner. */
    void (*close)(struct ezr_conn *c);
};

struct ezr_conn {
    struct ezr_io io; /* the socket (io.fd) and the owner's reactor callback */
    const struct ezr_transport *transport;
    void *transport_state; /* the transport's (a TLS session, the TLS context to detect
                            * with), or NULL */
    uint64_t id;           /* unique per server, from 1: names the connection in logs */
    const char *addr;      /* the peer's, as text: its owner keeps it as long as the connection
                            * (a client allocates it with itself, no longer than it is) */
    uint8_t read_wants;    /* the readiness that lets a read go on: READ, or WRITE when TLS must
                            * send before it can read */
    uint8_t write_wants;   /* the same for a blocked write: WRITE, or READ for TLS */
    bool secure;           /* over TLS (rtmps, https, wss) */
    bool ktls_send;        /* TLS records are sent by the kernel (kernel TLS) */
};

/* The one place a connection's transport changes (TLS detection hands over to TLS or TCP):
 * closes the old one (which frees its state), then takes on t with its state. */
static inline void ezr_conn_set_transport(struct ezr_conn *c, const struct ezr_transport *t,
                                          void *state)
{
    if (c->transport)
        c->transport->close(c);
    c->transport = t;
    c->transport_state = state;
}

#endif
