/* WebSocket (RFC 6455) for players, sans-I/O: the accept key of the opening handshake, the
 * header of the frames we send (unmasked, FIN set) and the reader of what a player sends back.
 * A player only ever answers: pings get a pong, a close gets a close, pongs are counted (our
 * liveness check), text and binary data are read and discarded. What breaks RFC 6455 (an
 * unmasked frame, a fragmented or long control frame, reserved bits or opcodes) gets a close
 * frame with 1002, a data frame over EZR_WS_MAX_IN_FRAME one with 1009. */
#ifndef EZR_WS_H
#define EZR_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_buf.h"

enum ezr_ws_opcode {
    EZR_WS_CONTINUATION = 0x0,
    EZR_WS_TEXT = 0x1,
    EZR_WS_BINARY = 0x2,
    EZR_WS_CLOSE = 0x8,
    EZR_WS_PING = 0x9,
    EZR_WS_PONG = 0xA,
};

/* Close status codes we send (RFC 6455 7.4.1). */
#define EZR_WS_CLOSE_NORMAL 1000u
#define EZR_WS_CLOSE_GOING_AWAY 1001u
#define EZR_WS_CLOSE_PROTOCOL 1002u
#define EZR_WS_CLOSE_TOO_BIG 1009u

/* A server frame header: 2, 4 or 10 bytes. */
#define EZR_WS_MAX_HEADER 10u
/* Sec-WebSocket-Accept: base64 of a SHA-1, 28 characters. */
#define EZR_WS_ACCEPT_LEN 28u

/* Writes the header of an unmasked final frame of opcode carrying len payload bytes; returns its
 * size. */
size_t ezr_ws_header(uint8_t out[EZR_WS_MAX_HEADER], enum ezr_ws_opcode opcode, uint64_t len);
/* The header's size for len payload bytes. */
size_t ezr_ws_header_size(uint64_t len);
/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + the RFC's GUID)). Returns 0,
 * or EZR_EINVAL when key is not 24 base64 characters (16 bytes, RFC 6455 4.1). */
int ezr_ws_accept_key(const char *key, char out[EZR_WS_ACCEPT_LEN + 1]);
/* Appends a close frame with status code (and no reason text). */
void ezr_ws_put_close(struct ezr_buf *out, uint16_t code);

struct ezr_ws_reader {
    uint64_t skip;       /* payload bytes of a data frame still to discard */
    uint64_t pongs;      /* pong frames received */
    bool closed;         /* a close frame was queued: nothing more is read */
    uint16_t close_code; /* what we sent in it */
    const char *reason;  /* static text for the log when we close */
};

void ezr_ws_reader_init(struct ezr_ws_reader *r);
/* Feeds bytes from the player; replies (pong, close) are appended to out. Returns the bytes
 * consumed (the rest is given again with more), or EZR_ECLOSED when a close frame was appended:
 * close the connection once out is written. */
int ezr_ws_feed(struct ezr_ws_reader *r, const uint8_t *in, size_t len, struct ezr_buf *out);

#endif
