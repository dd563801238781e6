/* A client's write queue: references to shared frames and small owned byte blocks (control and
 * command replies), in send order, plus the offset already written of the first. A partial write
 * only moves the offset. Every frame goes through ezr_queue_offer_frame(), the one place where
 * the tiered backpressure rule is applied:
 *
 *   queued < warning          every frame
 *   warning <= queued < high  drop non-key video; keep audio, keyframes, headers, metadata
 *   high <= queued < max      keep only keyframes, headers and metadata
 *   queued >= max             EZR_QUEUE_OVERFLOW: the caller disconnects the client
 *
 * and once a video frame is dropped every following video frame is dropped until a keyframe, so a
 * player never gets a frame whose reference it did not get. A new queue starts in that state:
 * the first video frame a player receives is a keyframe.
 * Not thread-safe: one queue belongs to one client on the reactor thread. */
#ifndef EZR_QUEUE_H
#define EZR_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ezr_frame.h"

struct ezr_queue_limits {
    size_t warning_bytes;
    size_t high_bytes;
    size_t max_bytes;
};

enum ezr_queue_level {
    EZR_QUEUE_NORMAL,
    EZR_QUEUE_WARNING,
    EZR_QUEUE_HIGH,
    EZR_QUEUE_CRITICAL,
};

enum ezr_queue_verdict {
    EZR_QUEUE_QUEUED,
    EZR_QUEUE_DROPPED,
    EZR_QUEUE_OVERFLOW,
};

struct ezr_queue_item {
    struct ezr_frame *frame; /* a reference, or NULL for owned bytes */
    const uint8_t *bytes;    /* inside frame, or owned (malloc) when frame is NULL */
    size_t len;
};

struct ezr_queue {
    struct ezr_queue_item *items; /* ring buffer */
    size_t head, count, cap;
    size_t offset;       /* bytes of items[head] already written */
    size_t bytes;        /* queued and not yet written */
    bool need_keyframe;  /* video is being skipped until the next keyframe */
    bool want_audio;     /* receiveAudio */
    bool want_video;     /* receiveVideo */
    uint64_t dropped[EZR_QUEUE_CRITICAL]; /* frames dropped at each level (NORMAL: P-frame rule) */
    uint64_t bytes_written;
};

void ezr_queue_init(struct ezr_queue *q);
/* Releases every reference and owned block. */
void ezr_queue_clear(struct ezr_queue *q);
enum ezr_queue_level ezr_queue_level(const struct ezr_queue *q, const struct ezr_queue_limits *l);
/* Applies the backpressure rule and queues a reference to f when it passes; what is written is
 * bytes[0..len), which lie inside f (a protocol's serialisation of it). */
enum ezr_queue_verdict ezr_queue_offer(struct ezr_queue *q, struct ezr_frame *f,
                                       const uint8_t *bytes, size_t len,
                                       const struct ezr_queue_limits *l);
/* The same for the frame's RTMP chunks. */
static inline enum ezr_queue_verdict ezr_queue_offer_frame(struct ezr_queue *q,
                                                           struct ezr_frame *f,
                                                           const struct ezr_queue_limits *l)
{
    return ezr_queue_offer(q, f, f->data, f->len, l);
}
/* Queues a copy of bytes (protocol replies are never dropped). Returns 0 or EZR_ENOMEM. */
int ezr_queue_push_bytes(struct ezr_queue *q, const uint8_t *bytes, size_t len);
/* Fills up to max iovecs with what is to be written next; returns how many. */
int ezr_queue_iov(const struct ezr_queue *q, struct iovec *iov, int max);
/* The kernel took n bytes: release what is fully written, move the offset. */
void ezr_queue_advance(struct ezr_queue *q, size_t n);
static inline bool ezr_queue_empty(const struct ezr_queue *q)
{
    return q->count == 0;
}

#endif
