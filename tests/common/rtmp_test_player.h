/* The tests' RTMP player over a real loopback socket, built from the library's client-side
 * handshake and chunk code: handshake, connect, createStream, play, then the server's messages
 * one at a time. The library's server tests read what it is sent; the element's harness tests use
 * play() for a player that plays and then reads only what the test asks for (one that reads
 * nothing is how a test holds the server's queues full). The end-to-end tests check the same
 * against independent players. Every wait takes an absolute deadline (mono_ms() + ...). */
#ifndef RTMP_TEST_PLAYER_H
#define RTMP_TEST_PLAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ezr_buf.h"
#include "ezr_chunk.h"

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
/* player_open() up to the end of the handshake, which must be over by deadline; 0 or -1. */
int player_handshake(struct player *p, uint16_t port, int rcvbuf, uint64_t deadline);
/* Sends name(txid, {app} or null, [arg]) on msid as one command message. */
void send_cmd(struct player *p, uint32_t msid, const char *name, double txid, const char *app,
              const char *arg);
/* Next message from the server, or -1 on timeout/close. */
int next_msg(struct player *p, uint64_t deadline);
/* Skips to the next media message (audio/video/data), or -1. */
int next_media(struct player *p, uint64_t deadline);

/* Plays live/stream on 127.0.0.1:port and returns the bare socket (the caller closes it) once the
 * server answered NetStream.Play.Start, or -1. rcvbuf as for dial(): a small one makes a player
 * that then reads nothing hold back little. What the server sent after the answer and the player
 * had already read is discarded. */
int play_rcvbuf(uint16_t port, int rcvbuf);
int play(uint16_t port);
/* Reads fd until the server closes the connection (true) or the deadline passes or the read
 * fails (false), then closes fd. */
bool closed_by_server(int fd, uint64_t deadline);

#endif
