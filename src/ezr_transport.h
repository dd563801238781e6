/* How a client's bytes reach its socket: the seam between one connection's I/O (ezr_client.c:
 * read budget, write queue, reactor interest) and what carries the bytes, a plain TCP socket or
 * a TLS session on it (ezr_tls.c). The protocols, the queue and its tiers never know which.
 * Reactor-thread only. */
#ifndef EZR_TRANSPORT_H
#define EZR_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct ezr_client;

struct ezr_transport {
    const char *name; /* "tcp", "tls" */
    /* Up to len of the peer's bytes into buf. Returns how many (> 0), 0 at the end of the
     * stream, EZR_EAGAIN: nothing now, and c->read_wants says which readiness brings more (TLS
     * may have to write before it can read); any other negative code: close, *why says why
     * (static text), EZR_EPROTO when the peer broke the rules. */
    ssize_t (*read)(struct ezr_client *c, uint8_t *buf, size_t len, const char **why);
    /* Takes what it can of iov[0..n) (n may be 0: only push out what it already holds).
     * Returns the bytes taken (they are the transport's now: the queue may forget them),
     * EZR_EAGAIN when it took nothing (c->write_wants says what to wait for), or another negative
     * code with *why. */
    ssize_t (*writev)(struct ezr_client *c, const struct iovec *iov, int n, const char **why);
    /* Does it hold bytes taken but not yet given to the socket? */
    bool (*holds_output)(const struct ezr_client *c);
    /* Frees c->transport_state; the client closes the socket afterwards. */
    void (*close)(struct ezr_client *c);
};

/* A plain TCP socket: read(2) and sendmsg(2) with MSG_NOSIGNAL. */
extern const struct ezr_transport ezr_transport_tcp;
/* What a connection starts with on a port with TLS configured (ezr_tls.c): its first byte, peeked
 * and left in the socket, picks TLS (a handshake record, 0x16) or, unless the port is tls-only,
 * plain TCP; the protocol sniffer (ezr_proto_sniff.c) then sees the same first bytes either way. */
extern const struct ezr_transport ezr_transport_detect;

#endif
