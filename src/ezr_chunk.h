/* The RTMP chunk stream, sans-I/O.
 *
 * Reader: bytes in, whole messages out through a callback. It keeps the per-chunk-stream header
 * state (fmt 0-3 compression, extended timestamps including on fmt 3 chunks) and reassembles
 * messages split into chunks, interleaved across chunk streams. It applies Set Chunk Size and
 * Abort itself (they change how the next bytes are read) and still reports them.
 *
 * Writer: messages in, chunk bytes out. ezr_chunk_write() is stateless and always starts with a
 * type-0 header, so its output can be serialised once and sent to any client. ezr_chunk_writer
 * is a stateful encoder that compresses headers (fmt 1/2/3) like Flash and ffmpeg clients do;
 * the tests and the load client use it. */
#ifndef EZR_CHUNK_H
#define EZR_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_buf.h"

struct ezr_chunk_msg {
    uint32_t csid;      /* chunk stream id it arrived on */
    uint32_t timestamp; /* absolute, after applying deltas */
    uint8_t type;       /* enum ezr_msg_type */
    uint32_t msid;      /* message stream id */
    uint32_t length;
    const uint8_t *payload; /* valid only during the callback */
};

/* Return 0 to go on, or a negative error to stop the reader (it is returned by feed). */
typedef int (*ezr_chunk_msg_fn)(void *ctx, const struct ezr_chunk_msg *msg);

struct ezr_chunk_limits {
    uint32_t max_msg_size;      /* larger declared lengths are EZR_ELIMIT */
    uint32_t max_chunk_streams; /* more distinct live csids are EZR_ELIMIT */
};

struct ezr_chunk_stream_state; /* private */

struct ezr_chunk_reader {
    uint32_t chunk_size; /* the peer's, starts at 128 */
    struct ezr_chunk_limits limits;
    struct ezr_chunk_stream_state *streams; /* private: per-csid header and partial message */
    size_t nstreams;
    size_t cap_streams;
    uint64_t bytes_in; /* total bytes consumed: for acknowledgements */
    size_t pending;    /* bytes held for messages in progress (their whole declared length) */
    /* Why the reader refused the input (a static string for the log), set with its EZR_EPROTO
     * or EZR_ELIMIT; NULL when the error was the callback's or out of memory. */
    const char *error;
};

/* limits may be NULL for the defaults from ezr_limits.h. */
void ezr_chunk_reader_init(struct ezr_chunk_reader *r, const struct ezr_chunk_limits *limits);
void ezr_chunk_reader_free(struct ezr_chunk_reader *r);
/* Consumes as much of in[0..len) as forms whole chunks and calls fn for every complete message,
 * in order. Returns the number of bytes consumed (possibly less than len: keep the rest and feed
 * it again with more), or a negative error: EZR_EPROTO (malformed: e.g. fmt 1-3 on a chunk
 * stream never started, Set Chunk Size of 0 or with the top bit set), EZR_ELIMIT, EZR_ENOMEM,
 * or the callback's error. After an error the reader must not be fed again. */
int ezr_chunk_reader_feed(struct ezr_chunk_reader *r, const uint8_t *in, size_t len,
                          ezr_chunk_msg_fn fn, void *ctx);

/* Bytes one message takes as chunks from ezr_chunk_write(). */
size_t ezr_chunk_write_size(uint32_t csid, uint32_t timestamp, size_t len, uint32_t chunk_size);
/* Appends one message as chunks: a type-0 header, then type-3 continuation chunks every
 * chunk_size bytes (repeating the extended timestamp when timestamp >= 0xFFFFFF). */
void ezr_chunk_write(struct ezr_buf *out, uint32_t csid, uint32_t timestamp, uint8_t type,
                     uint32_t msid, const uint8_t *payload, size_t len, uint32_t chunk_size);

/* Protocol control messages on chunk stream 2, message stream 0. */
void ezr_chunk_write_set_chunk_size(struct ezr_buf *out, uint32_t size);
void ezr_chunk_write_abort(struct ezr_buf *out, uint32_t csid);
void ezr_chunk_write_ack(struct ezr_buf *out, uint32_t sequence);
void ezr_chunk_write_window_ack_size(struct ezr_buf *out, uint32_t size);
void ezr_chunk_write_set_peer_bw(struct ezr_buf *out, uint32_t size, uint8_t limit_type);
/* User control event with one 32-bit argument (StreamBegin, StreamEOF, PingRequest, ...). */
void ezr_chunk_write_user_control(struct ezr_buf *out, uint16_t event, uint32_t arg);
/* SetBufferLength: stream id and buffer length in ms. */
void ezr_chunk_write_set_buffer_length(struct ezr_buf *out, uint32_t msid, uint32_t ms);

/* A stateful encoder that compresses headers against the previous message on the same chunk
 * stream: fmt 1 when only the stream id matches, fmt 2 when length and type match too, fmt 3 when
 * the delta repeats. Used by clients (tests, bench), not by the server's shared frames. */
struct ezr_chunk_writer_stream; /* private */
struct ezr_chunk_writer {
    uint32_t chunk_size;
    struct ezr_chunk_writer_stream *streams;
    size_t nstreams;
    size_t cap_streams;
};
void ezr_chunk_writer_init(struct ezr_chunk_writer *w, uint32_t chunk_size);
void ezr_chunk_writer_free(struct ezr_chunk_writer *w);
void ezr_chunk_writer_write(struct ezr_chunk_writer *w, struct ezr_buf *out, uint32_t csid,
                            uint32_t timestamp, uint8_t type, uint32_t msid, const uint8_t *payload,
                            size_t len);

#endif
