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

struct ezr_client {
    /* What a frame's fan-out touches, for each of thousands of players, comes first and
     * together: a few cache lines per player instead of most of the struct. */
    struct ezr_link player_link;  /* the stream's players while playing */
    struct ezr_flush_entry flush; /* on the flusher's lists */
    struct ezr_stream *stream;    /* the stream played, from ezr_stream_add_player until removed;
                                   * the client itself never looks inside */
    const struct ezr_client_proto *proto;
    uint64_t progress_ms; /* the socket last took bytes, or the queue was empty */
    bool dead;            /* closed; freed at the end of the round */
    size_t fan_index;     /* its place in stream->fan (ezr_fan.h) while playing */
    struct ezr_queue q;
    struct ezr_client_set *set;
    const struct ezr_client_player_ops *player; /* the stream's, while c->stream */
    void *proto_state;                          /* the protocol's, from open to close */
    struct ezr_server *srv;     /* for the protocols (its settings, its streams); the client never
                                 * looks inside */
    struct ezr_conn conn;       /* the socket, its transport, id and address */
    struct ezr_link conn_link;  /* set->open while open, then set->dead */
    struct ezr_link read_link;  /* set->readable: input left unread, to read next round */
    struct ezr_stream *pending; /* admitted by ezr_stream_admit, added when play starts */
    struct ezr_ingest *ingest;  /* the publish point it publishes to (ezr_ingest.h), by name */
    /* Called first when the connection closes, while a protocol has set it (a publisher's
     * protocol, to end its publication with the reason). */
    void (*on_close)(struct ezr_client *c, const char *reason);
    uint8_t sync_method;        /* enum ezr_sync_method, chosen by ezr_stream_admit */
    struct ezr_buf in;          /* an incomplete tail of input, only while there is one */
    uint64_t accepted_ms;
    uint64_t idle_since_ms; /* accepted, or stopped playing: the handshake timeout counts from */
    uint64_t last_ping_ms;  /* liveness: the last ping sent */
    uint64_t unanswered_ms; /* liveness: the first ping not answered yet, 0: none */
    uint64_t pongs_seen;
    bool closing;       /* close once the queue is written */
    bool failed;        /* an allocation failed inside a callback */
    bool kicked;        /* removed by the application: closed at the end of the round */
    bool input_paused;  /* replies back up: input is not read until they are written */
    bool input_held;    /* the protocol holds input (ezr_client_hold_input) until it resumes it */
    bool feed_pending;  /* the protocol can take the input tail it left: feed it first */
    /* Plain TCP (short_read_drains): the last read took all the socket had (it came back short,
     * or EAGAIN) and no read event came since, so a read now would only say EAGAIN. */
    bool drained;
    bool peer_hup; /* the reactor told of the peer's FIN or an error: read on to the end */
    bool write_blocked; /* the socket took less than offered: waiting for WRITE */
    uint32_t interest;  /* what the reactor was last asked to report (EZR_IO_*) */
    enum ezr_close_reason close_code; /* what closing counts as */
    const char *close_reason;         /* static text: why the protocol ended it */
    uint64_t frames_dropped;
};

/* An empty set, its flusher writing with ezr_client_flush; the server fills in the pointers. */
void ezr_client_set_init(struct ezr_client_set *set, int32_t flush_interval_ms);

/* A new client of set on an accepted socket (which it owns from now on, even on failure),
 * registered with the reactor, its bytes carried by transport with its state (ezr_transport_tcp
 * and NULL, or ezr_transport_detect and the TLS context on a port with TLS), speaking proto
 * (opened here). srv is kept for the protocols. NULL when out of memory or the reactor refused it
 * (the socket is closed). */
struct ezr_client *ezr_client_new(struct ezr_client_set *set, struct ezr_server *srv, int fd,
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
 * caller may still be using it. */
void ezr_client_fail(struct ezr_client *c);
/* Offers a shared frame to the player: the tiers of its queue decide (ezr_queue.h); at the
 * critical level it is closed as too slow. */
void ezr_client_offer(struct ezr_client *c, struct ezr_frame *f, const struct ezr_client_offer *o);
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
