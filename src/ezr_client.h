/* One client: a connection (ezr_conn.h: its socket on the reactor and its transport), its write
 * queue, its input tail, its protocol and its lifecycle (accepted, playing a stream, closing,
 * dead). Protocol-blind: what the bytes mean is the protocol's (ezr_client_proto.h). It knows the
 * stream it plays only through the ops the stream gave it (struct ezr_client_player_ops) and the
 * values the fan-out passes with each frame (struct ezr_client_offer), and the server only
 * through the set of clients it is part of (struct ezr_client_set): never their insides
 * (docs/layers.md). Reactor-thread only.
 *
 * Ownership: the server owns every client. ezr_client_close() takes it off every list but the
 * set's dead list; the server frees it at the end of the reactor round (events for it may still
 * be in the batch being dispatched). */
#ifndef EZR_CLIENT_H
#define EZR_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "ezr_buf.h"
#include "ezr_client_proto.h"
#include "ezr_conn.h"
#include "ezr_flush.h"
#include "ezr_list.h"
#include "ezr_meter.h"
#include "ezr_queue.h"
#include "ezr_reactor.h"
#include "ezr_types.h"

struct ezr_client;
struct ezr_ingest;
struct ezr_server;
struct ezr_stream;

/* What all the clients of one server share, and the lists they are on: embedded in the server,
 * which fills in the pointers; each client points at it. */
struct ezr_client_set {
    struct ezr_server *srv; /* for the protocols (its settings, its streams); the clients never
                             * look inside */
    struct ezr_reactor *reactor;
    const struct ezr_log *log;
    struct ezr_meter *meter; /* send latency of what is written */
    uint8_t *rbuf;           /* EZR_READ_BUF bytes: every client reads into it */
    struct ezr_flusher flusher;
    struct ezr_list open;     /* open clients, by client.conn_link */
    struct ezr_list dead;     /* closed this round, freed at its end, by client.conn_link */
    size_t n;                 /* on the open list */
    struct ezr_list readable; /* input left unread (read budget, resumed input), by read_link */
    size_t round_read;        /* bytes read this reactor round, against EZR_ROUND_READ_BUDGET */
    uint64_t next_id;
};

/* News of a player for the stream it plays (set by ezr_stream_add_player with c->stream). */
struct ezr_client_player_ops {
    /* c's connection is closing, counted as code: c stops playing (reason for client-removed). */
    void (*closed)(struct ezr_client *c, enum ezr_close_reason code, const char *reason);
    /* The socket took bytes of c's queue. */
    void (*sent)(struct ezr_client *c, uint64_t bytes);
    /* c's queue is written (an EOS drain may be done). */
    void (*written)(struct ezr_client *c);
};

/* What the fan-out hands ezr_client_offer with a frame, the same for every player of the
 * stream: found once per frame, not asked by each player. */
struct ezr_client_offer {
    const struct ezr_queue_limits *limits; /* the stream's queue tiers and age limit */
    bool has_video; /* the stream has carried video: audio may wait for it (ezr_flush_may_wait) */
    uint32_t flags; /* enum ezr_offer_flags (EZR_OFFER_BURST for a new player's replay) */
    uint64_t now;   /* ezr_now_ms() */
    /* When the frame offered was pushed (its pushed_us, in ms), found once for the fan-out;
     * now for a frame that was not pushed (a replay's). */
    uint64_t pushed_ms;
    uint64_t *dropped; /* [EZR_QUEUE_CRITICAL]: frames not sent, counted by queue level */
    uint64_t *copies;  /* frames serialised in a protocol's own format */
};

/* A client's output side: its write queue, its place on the flusher's lists and, while it plays
 * a stream, its place among the stream's players. Only a client with something to write or a
 * stream to play has one: it is allocated with the first byte queued (or when the client starts
 * to play) and freed once its queue is written, unless the client has played (its queue's
 * settings and counters stay until it closes). A connection that only waits (a parked HLS
 * request, an idle keep-alive connection) holds none.
 *
 * The stream's fan-out (ezr_fan.h) holds these, not the clients: what a frame's fan-out touches,
 * for each of thousands of players, comes first and together here (a few cache lines per
 * player), one pointer from the fan's array and no further pointer away. */
struct ezr_client_out {
    struct ezr_flush_entry flush;         /* on the flusher's lists */
    const struct ezr_client_proto *proto; /* the client's, for the frames' views */
    struct ezr_client_set *set;
    uint64_t progress_ms; /* the socket last took bytes, or the queue was empty */
    struct ezr_queue q;
    uint64_t frames_dropped;
    struct ezr_client *client; /* whose it is */
    /* A player's, from ezr_stream_add_player until removed. */
    struct ezr_link player_link; /* the stream's players */
    size_t fan_index;            /* its place in stream->fan (ezr_fan.h) */
    const struct ezr_client_player_ops *player;
    /* Liveness of a player of an idle stream (the server's tick): the last ping sent, the first
     * one not answered yet (0: none), the pongs counted when last looked. */
    uint64_t last_ping_ms;
    uint64_t unanswered_ms;
    uint64_t pongs_seen;
    bool played; /* it has played a stream: kept until the client closes */
};

/* The connection part, which every client has from accept to close. Small and without holes: it
 * is most of what an idle connection costs (10,000 parked LL-HLS requests, docs/hls.md). */
struct ezr_client {
    struct ezr_conn conn;       /* the socket, its transport, id and address */
    struct ezr_client_out *out; /* while it has output or plays (above), else NULL */
    const struct ezr_client_proto *proto;
    void *proto_state;          /* the protocol's, from open to close */
    struct ezr_client_set *set; /* set->srv: the server, for the protocols */
    struct ezr_stream *stream;  /* the stream played, from ezr_stream_add_player until removed;
                                 * the client itself never looks inside */
    struct ezr_link conn_link;  /* set->open while open, then set->dead */
    struct ezr_link read_link;  /* set->readable: input left unread, to read next round */
    struct ezr_buf *in; /* an incomplete tail of input (allocated), only while there is one */
    uint64_t accepted_ms;
    uint64_t idle_since_ms; /* accepted, or stopped playing: the handshake timeout counts from */
    const char *close_reason; /* static text: why the protocol ended it */
    uint8_t close_code;       /* enum ezr_close_reason: what closing counts as */
    uint8_t sync_method;      /* enum ezr_sync_method, chosen by ezr_stream_admit */
    uint8_t interest;         /* what the reactor was last asked to report (EZR_IO_*) */
    bool dead; /* closed; freed at the end of the round */
    /* Bits: looked at once per event or write, never by a fan-out. */
    bool closing : 1;       /* close once the queue is written */
    bool failed : 1;        /* an allocation failed inside a callback */
    bool kicked : 1;        /* removed by the application: closed at the end of the round */
    bool input_paused : 1;  /* replies back up: input is not read until they are written */
    bool input_held : 1;    /* the protocol holds input (ezr_client_hold_input) until it resumes it */
    bool feed_pending : 1;  /* the protocol can take the input tail it left: feed it first */
    bool write_blocked : 1; /* the socket took less than offered: waiting for WRITE */
    bool publishing : 1;    /* attached to a publish point (ezr_ingest_attach until detached) */
    /* Plain TCP (short_read_drains): the last read took all the socket had (it came back short,
     * or EAGAIN) and no read event came since, so a read now would only say EAGAIN. */
    bool drained : 1;
    bool peer_hup : 1; /* the reactor told of the peer's FIN or an error: read on to the end */
    char addr[]; /* conn.addr's text, allocated with the client: its length, not EZR_ADDR_STRLEN */
};

/* The client of a link on a stream's players (out->player_link). */
static inline struct ezr_client *ezr_client_of_player(struct ezr_link *l)
{
    return EZR_CONTAINER_OF(l, struct ezr_client_out, player_link)->client;
}

/* c's output side, made now if it has none (empty queue, settings as ezr_queue_init leaves
 * them); NULL when out of memory. */
struct ezr_client_out *ezr_client_out(struct ezr_client *c);
/* Bytes queued and not yet written (0 without an output side). */
static inline size_t ezr_client_queued(const struct ezr_client *c)
{
    return c->out ? c->out->q.bytes : 0;
}

/* An empty set, its flusher writing with ezr_client_flush; the server fills in the pointers. */
void ezr_client_set_init(struct ezr_client_set *set, int32_t flush_interval_ms);

/* A new client of set on an accepted socket (which it owns from now on, even on failure),
 * registered with the reactor, its bytes carried by transport with its state (ezr_transport_tcp
 * and NULL, or ezr_transport_detect and the TLS context on a port with TLS), speaking proto
 * (opened here). NULL when out of memory or the reactor refused it
 * (the socket is closed). */
struct ezr_client *ezr_client_new(struct ezr_client_set *set, int fd,
                                  const char *addr, const struct ezr_transport *transport,
                                  void *transport_state, const struct ezr_client_proto *proto);
/* The one place a client's protocol changes (the sniffer hands over to RTMP or HTTP, HTTP to
 * WebSocket): closes the old protocol, then opens proto. Returns what proto->open returned; on
 * failure proto is the client's protocol still, with no state, and closing it frees nothing. */
int ezr_client_set_proto(struct ezr_client *c, const struct ezr_client_proto *proto);
/* Closes the socket, tells the stream played (c->player->closed: client-removed), leaves every
 * list and joins the set's dead list. Idempotent. */
void ezr_client_close(struct ezr_client *c, enum ezr_log_level level, enum ezr_close_reason code,
                      const char *reason);
/* Frees a dead client. */
void ezr_client_free(struct ezr_client *c);

/* Queues a copy of bytes the protocol sends (replies, control), written this round; when the
 * copy cannot be made, ezr_client_fail(). */
void ezr_client_send(struct ezr_client *c, const uint8_t *bytes, size_t len);
/* The same for bytes inside a shared frame, queued by reference (an HLS part, a playlist): never
 * dropped, no copy. */
void ezr_client_send_ref(struct ezr_client *c, struct ezr_frame *f, const uint8_t *bytes, size_t len);
/* The same for media sent as it comes in a body already begun (an LL-HLS part being made):
 * with a flush interval in ms it waits as a player's media does (ezr_flush.h), so that one write
 * carries several; in auto it is written this round, as a reply. */
void ezr_client_send_media_ref(struct ezr_client *c, struct ezr_frame *f, const uint8_t *bytes,
                               size_t len);
/* The protocol takes no more input for now (what it left is enough to hold): nothing is read until
 * ezr_client_resume_input, or until the queue is written. */
void ezr_client_pause_input(struct ezr_client *c);
/* The protocol holds input until ezr_client_resume_input (a publisher whose tags have nowhere to
 * go): unlike a pause, written replies do not resume it. The bytes already read are fed; nothing
 * more is read, so the peer's TCP window closes. */
void ezr_client_hold_input(struct ezr_client *c);
/* The protocol left input it could not take yet (a pipelined request behind one that waits) and
 * can now: it is fed again, before anything new is read, and reading resumes if it was paused or
 * held. */
void ezr_client_resume_input(struct ezr_client *c);
/* An allocation failed where the protocol cannot answer it (a reply could not be built): the
 * connection closes ("out of memory") when it is flushed, at the end of this round, since the
 * caller may still be using it (at the next round when even its output side could not be made:
 * ezr_client_read writes it then). */
void ezr_client_fail(struct ezr_client *c);
/* Offers a shared frame to a player (its output side: see struct ezr_client_out): the tiers of
 * its queue decide (ezr_queue.h); at the critical level it is closed as too slow. */
void ezr_client_offer(struct ezr_client_out *out, struct ezr_frame *f,
                      const struct ezr_client_offer *o);
/* Close once what is queued is written (a final reply), counted as code. */
void ezr_client_close_after_flush(struct ezr_client *c, enum ezr_close_reason code);
/* Removed by the application: closed when the flusher next writes it, at the end of the round
 * (closing it at once could take another player off a list being walked). */
void ezr_client_kick(struct ezr_client *c);
/* Writes as much of the queue as the socket takes, many frames per writev. */
void ezr_client_flush(struct ezr_client *c);
/* Reads and feeds the protocol up to the per-event read budget. */
void ezr_client_read(struct ezr_client *c);

#endif
