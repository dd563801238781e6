/* A test player over a real loopback socket, built from the library's client-side handshake and
 * chunk code: handshake, connect, createStream, play, then the server's messages one at a time.
 * Shared by the server tests; the end-to-end tests check the same against independent players.
 * Every wait takes an absolute deadline (mono_ms() + ...). */
#ifndef TEST_PLAYER_H
#define TEST_PLAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ezr_buf.h"
#include "ezr_chunk.h"
#include "ezr_server.h"

#define DEADLINE_MS 5000
#define PENDING_MAX 512

uint64_t mono_ms(void);
/* A connected socket to 127.0.0.1:port, or -1. rcvbuf > 0 sets SO_RCVBUF before connecting. */
int dial(uint16_t port, int rcvbuf);
/* Reads exactly n bytes before the deadline; returns n, 0 on EOF, -1 on timeout/error. */
ssize_t read_full(int fd, uint8_t *p, size_t n, uint64_t deadline);

struct pending {
    uint8_t type;
    uint32_t ts;
    uint8_t *payload; /* owned */
    size_t len;
};

struct player {
    int fd;
    struct ezr_chunk_reader r;
    struct ezr_chunk_writer w;
    struct ezr_buf in;
    struct pending q[PENDING_MAX]; /* parsed, not yet taken by next_msg() */
    size_t qhead, qlen;
    /* the message next_msg() took last (payload cut at 64 KiB, len the full length) */
    uint8_t type;
    uint32_t ts;
    uint8_t payload[65536];
    size_t len;
};

/* Opens p (which player_close() must release even on failure) and asks to play name (NULL: only
 * connect and createStream). rcvbuf as for dial(). Returns 0 or -1. */
int player_open(struct player *p, uint16_t port, const char *app, const char *name, int rcvbuf);
void player_close(struct player *p);
/* Next message from the server, or -1 on timeout/close. */
int next_msg(struct player *p, uint64_t deadline);
/* Skips to the next media message (audio/video/data), or -1. */
int next_media(struct player *p, uint64_t deadline);

/* The defaults, on 127.0.0.1 and an ephemeral port. */
void test_server_config(struct ezr_server_config *cfg);
/* test_server_config() with small tiers and socket buffers, so that a player that stops reading
 * meets them within a test: every frame is written (or found unwritable) as it is offered, so the
 * queue a test reads back is the one the next frame meets, not one a pending flush is about to
 * shrink. client_timeout_ms 0 keeps the default. */
void test_tiered_config(struct ezr_server_config *cfg, uint32_t warning, uint32_t high,
                        uint32_t max, uint32_t send_buffer, uint32_t client_timeout_ms);
/* Polls st's stats every 20 ms until one player has been closed for code, or deadline; *stats
 * receives the last read. False when not by then, or when the stats could not be read. */
bool wait_disconnect(struct ezr_stream *st, enum ezr_close_reason code, uint64_t deadline,
                     struct ezr_stream_stats *stats);
/* The largest of the players' queued bytes, as the reactor sees them after everything pushed so
 * far (*out, if not NULL, receives the stream's stats); -1 unless the stream has exactly `players`
 * players. */
long largest_queue(struct ezr_stream *st, struct ezr_stream_stats *out, size_t players);
/* A server with the one stream live/stream (one GOP cached), or NULL. */
struct ezr_server *start_live_stream(const struct ezr_server_config *cfg, struct ezr_stream **st);

/* Pushes a small AVC video frame whose payload[5] is tag (to tell frames apart). */
void push_video(struct ezr_stream *st, uint32_t flags, uint32_t ts, uint8_t tag);
/* Pushes a small AAC audio frame (not a header) whose payload[2] is tag. */
void push_audio(struct ezr_stream *st, uint32_t ts, uint8_t tag);

#endif
