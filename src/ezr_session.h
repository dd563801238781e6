/* One client's RTMP conversation, sans-I/O: the handshake, the chunk stream and the NetConnection
 * and NetStream commands of a server that plays, and that takes a publisher where the server has
 * a publish point (ezr_session_publish.c). Bytes from the socket go in through
 * ezr_session_feed(); replies come out, in order, through the send callback; decisions that need
 * the server (is this app served? is this stream?) are asked through callbacks. The server, the
 * unit tests and the fuzzer drive the same code.
 *
 * The session never sends media: when play starts it calls play_started, and the server queues
 * metadata, headers and frames after the replies already sent. */
#ifndef EZR_SESSION_H
#define EZR_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_buf.h"
#include "ezr_chunk.h"
#include "ezr_handshake.h"

struct ezr_session_callbacks {
    /* Bytes for the peer, in order. The session reuses its buffer after the call. */
    void (*send)(void *ctx, const uint8_t *data, size_t len);
    /* connect to app: return 0 to accept, or EZR_ENOTFOUND to reject (the session answers
     * NetConnection.Connect.Rejected and closes). */
    int (*connect)(void *ctx, const char *app);
    /* play name (as sent, query string included): return 0 if it is served, EZR_ENOTFOUND if
     * not (the session answers NetStream.Play.StreamNotFound and closes), EZR_EACCES if this
     * player may not (NetStream.Play.Failed, then close), EZR_EINVAL if the name's query asks
     * for no known sync-method (NetStream.Play.Failed saying so, then close). */
    int (*play)(void *ctx, const char *name);
    /* The Reset/Start replies have been sent: queue metadata, headers and media now. */
    void (*play_started)(void *ctx);
    /* The player stopped (closeStream, deleteStream): stop sending it media. NetStream.Play.Stop
     * has been sent just before: what is already queued must still reach the player. */
    void (*play_stopped)(void *ctx);
    /* receiveAudio / receiveVideo changed (called only on a change; may be NULL). When video is
     * turned back on, resume it at a keyframe: the player has nothing to decode P-frames on. */
    void (*receive)(void *ctx, bool audio, bool video);
    /* pause / pauseRaw while playing changed the paused state (called only on a change; may be
     * NULL). paused: queue no media to this player (so it is not cut as slow) until called again
     * with false; then resume at a keyframe. The Pause/Unpause.Notify reply has already been
     * sent, so on unpause it precedes the media queued from here. */
    void (*pause)(void *ctx, bool paused);
    /* Replies could not be built (out of memory): the connection must close. May be NULL. */
    void (*failed)(void *ctx);

    /* Publishing (ezr_session_publish.c); all may be NULL: then publish is refused. */
    /* releaseStream / FCPublish name: is there a publish point for name (a query after '?' is
     * not part of it)? Answered _result / onFCPublish if so, _error if not (as a server that
     * only plays). */
    bool (*can_publish)(void *ctx, const char *name);
    /* publish name (as sent, query string included): 0 if it may publish now (the session
     * answers StreamBegin and NetStream.Publish.Start, and takes media from then on),
     * EZR_ENOTFOUND if there is no publish point for it, EZR_EEXIST if another publisher is
     * live on it, EZR_EACCES if this client may not; each refusal is answered
     * NetStream.Publish.BadName and closes. EZR_ENOMEM: no answer, ezr_session_feed() fails
     * with it. */
    int (*publish)(void *ctx, const char *name);
    /* A message the publisher sent, as an FLV tag's type (8 audio, 9 video, 18 script) and body:
     * "@setDataFrame" taken off metadata, AMF3 data as AMF0, aggregates split into their tags.
     * Return 0, or a negative error to close (EZR_ENOMEM). */
    int (*media)(void *ctx, uint8_t type, uint32_t timestamp, const uint8_t *body, size_t len);
    /* It stopped publishing (FCUnpublish, closeStream, deleteStream); NetStream.Unpublish.Success
     * has been sent. */
    void (*unpublish)(void *ctx);
};

enum ezr_session_state {
    EZR_SESSION_HANDSHAKE,
    EZR_SESSION_WAIT_CONNECT,
    EZR_SESSION_CONNECTED,
    EZR_SESSION_PLAYING,
    EZR_SESSION_PUBLISHING,
    EZR_SESSION_CLOSING, /* a final reply was sent: flush it, then close */
};

struct ezr_session {
    enum ezr_session_state state;
    const struct ezr_session_callbacks *cb;
    void *ctx;
    uint32_t chunk_size; /* ours */
    struct ezr_handshake *hs; /* owned, during the handshake only (3 KiB a player need not keep) */
    struct ezr_chunk_reader reader;
    struct ezr_buf out;     /* replies being built */
    uint32_t peer_window;   /* the client's Window Acknowledgement Size, 0 = none */
    uint64_t acked_at;      /* reader.bytes_in when we last acknowledged */
    uint32_t buffer_ms;     /* the client's SetBufferLength */
    uint32_t streams;       /* createStream calls answered */
    bool stream_created;
    bool want_audio; /* receiveAudio */
    bool want_video; /* receiveVideo */
    bool paused;     /* pause true while playing; cleared by pause false and when play stops */
    /* Liveness (ezr_session_send_ping): last_ping is the timestamp of the last PingRequest sent;
     * every PingResponse from the player once connected sets last_pong to the timestamp it
     * echoes and counts in pongs. A player that is there answers with last_pong == last_ping;
     * one whose pongs stop growing while pings go out has stopped reading or is gone. */
    uint32_t last_ping;
    uint32_t last_pong;
    uint64_t pongs;
    char app[256];
    char name[256];
    const char *close_reason; /* static text, set when the session ends */
};

/* random: EZR_HANDSHAKE_SIZE bytes for S1. chunk_size: ours. The session keeps cb and ctx. */
void ezr_session_init(struct ezr_session *s, const struct ezr_session_callbacks *cb, void *ctx,
                      uint32_t chunk_size, const uint8_t *random, uint32_t epoch);
void ezr_session_free(struct ezr_session *s);

/* Feeds bytes from the peer. Returns how many were consumed (the caller keeps the rest and feeds
 * them again with more); EZR_ECLOSED when the session sent a final reply and the connection
 * should close once it is flushed; any other negative value: close now (close_reason says why). */
int ezr_session_feed(struct ezr_session *s, const uint8_t *in, size_t len);

/* The stream being played ended (EOS): StreamEOF and NetStream.Play.UnpublishNotify. */
void ezr_session_send_play_end(struct ezr_session *s);
/* A new stream started after an end: StreamBegin and NetStream.Play.PublishNotify. */
void ezr_session_send_play_restart(struct ezr_session *s);
/* Asks the player whether it is still there: a User Control PingRequest (event 6) carrying
 * timestamp (any value the server chooses, e.g. its clock in ms), sent through the send callback.
 * Its PingResponse (event 7) echoes the timestamp into last_pong and counts in pongs. Does nothing
 * before connect or while closing: a player must be connected to answer. */
void ezr_session_send_ping(struct ezr_session *s, uint32_t timestamp);

#endif
