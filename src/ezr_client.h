/* One connection: its socket on the reactor, its write queue, its input tail, its protocol and
 * its lifecycle (accepted, playing a stream, closing, dead). Protocol-blind: what the bytes mean
 * is the protocol's (ezr_client_proto.h). Reactor-thread only.
 *
 * Ownership: the server owns every client. ezr_client_close() takes it off every list but the
 * server's dead list; the server frees it at the end of the reactor round (events for it may
 * still be in the batch being dispatched). */
#ifndef EZR_CLIENT_H
#define EZR_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "ezr_buf.h"
#include "ezr_client_proto.h"
#include "ezr_list.h"
#include "ezr_net.h"
#include "ezr_queue.h"
#include "ezr_reactor.h"
#include "ezr_server.h"
#include "ezr_transport.h"

struct ezr_client {
    struct ezr_io io; /* first: the reactor hands us &io */
    /* What a frame's fan-out touches, for each of thousands of players, comes first and
     * together: a few cache lines per player instead of most of the struct. */
    struct ezr_link player_link; /* stream->players while playing */
    struct ezr_link media_link;  /* the flusher's held or due list, or its sweep */
    uint64_t hold_until_ms;      /* on the flusher's held list: when its media must go; else 0 */
    struct ezr_stream *stream;   /* the stream played, from ezr_stream_add_player until removed */
    const struct ezr_client_proto *proto;
    uint64_t progress_ms; /* the socket last took bytes, or the queue was empty */
    bool dead;            /* closed; freed at the end of the round */
    size_t fan_index;     /* its place in stream->fan (ezr_fan.h) while playing */
    struct ezr_queue q;
    struct ezr_server *srv;
    const struct ezr_transport *transport; /* what carries the bytes: TCP or TLS */
    void *transport_state;                 /* the transport's (a TLS session), or NULL */
    void *proto_state;                     /* the protocol's, from open to close */
    struct ezr_link conn_link;             /* srv->clients while open, then srv->dead */
    struct ezr_link dirty_link;            /* the flusher's `now` list */
    struct ezr_link read_link;  /* srv->readable: input left unread, to read next round */
    struct ezr_stream *pending; /* admitted by ezr_stream_admit, added when play starts */
    struct ezr_buf in;          /* an incomplete tail of input, only while there is one */
    uint64_t id;
    uint64_t accepted_ms;
    uint64_t idle_since_ms; /* accepted, or stopped playing: the handshake timeout counts from */
    uint64_t last_ping_ms;  /* liveness: the last ping sent */
    uint64_t unanswered_ms; /* liveness: the first ping not answered yet, 0: none */
    uint64_t pongs_seen;
    char addr[EZR_ADDR_STRLEN];
    bool closing;         /* close once the queue is written */
    bool failed;          /* an allocation failed inside a callback */
    bool kicked;          /* removed by the application: closed at the end of the round */
    bool input_paused;    /* replies back up: input is not read until they are written */
    bool write_blocked;   /* the socket took less than offered: waiting for WRITE */
    uint32_t interest;    /* what the reactor was last asked to report (EZR_IO_*) */
    uint32_t read_wants;  /* the readiness that lets a read go on: READ, or WRITE when TLS must
                           * send before it can read */
    uint32_t write_wants; /* the same for a blocked write: WRITE, or READ for TLS */
    enum ezr_close_reason close_code; /* what closing counts as */
    const char *close_reason;         /* static text: why the protocol ended it */
    uint64_t frames_dropped;
};

/* A new client on an accepted socket (which it owns from now on, even on failure), registered
 * with the reactor, its bytes carried by transport (ezr_transport_tcp, or ezr_transport_detect on
 * a port with TLS). NULL when out of memory or the reactor refused it (the socket is closed). */
struct ezr_client *ezr_client_new(struct ezr_server *s, int fd, const char *addr,
                                  const struct ezr_transport *transport,
                                  const struct ezr_client_proto *proto);
/* Closes the socket, detaches the player from its stream (client-removed), leaves every list
 * and joins the server's dead list. Idempotent. */
void ezr_client_close(struct ezr_client *c, enum ezr_log_level level, enum ezr_close_reason code,
                      const char *reason);
/* Frees a dead client. */
void ezr_client_free(struct ezr_client *c);

/* Queues a copy of bytes the protocol sends (replies, control), written this round. */
void ezr_client_send(struct ezr_client *c, const uint8_t *bytes, size_t len);
/* Offers a shared frame to the player: the tiers of its queue decide (ezr_queue.h); at the
 * critical level it is closed as too slow. flags: enum ezr_offer_flags (EZR_OFFER_BURST for
 * the replay a new player starts with). now: ezr_now_ms(), read once by the caller for a whole
 * fan-out rather than once per player. */
void ezr_client_offer(struct ezr_client *c, struct ezr_frame *f, uint32_t flags, uint64_t now);
/* Close once what is queued is written (a final reply), counted as code. */
void ezr_client_close_after_flush(struct ezr_client *c, enum ezr_close_reason code);
/* Writes as much of the queue as the socket takes, many frames per writev. */
void ezr_client_flush(struct ezr_client *c);
/* Reads and feeds the protocol up to the per-event read budget. */
void ezr_client_read(struct ezr_client *c);

#endif
