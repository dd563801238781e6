/* A client's write queue: references to shared frames and small owned byte blocks (control and
 * command replies), in send order, plus the offset already written of the first. A partial write
 * only moves the offset. Every frame goes through ezr_queue_offer(), the one place where the
 * tiered backpressure rule is applied, on the bytes that measure the player's lag (live bytes):
 *
 *   live < warning            every frame
 *   warning <= live < high    drop non-key video; keep audio, keyframes, headers, metadata
 *   high <= live < max        keep only keyframes, headers and metadata
 *   live >= max               EZR_QUEUE_OVERFLOW: the caller disconnects the client
 *
 * and once a video frame is dropped every following video frame is dropped until a keyframe, so a
 * player never gets a frame whose reference it did not get. A new queue starts in that state:
 * the first video frame a player receives is a keyframe.
 *
 * Live bytes leave out what is not lag: a new player's join burst (the cached GOPs, offered with
 * EZR_OFFER_BURST and always queued whole) and one live frame of warning_bytes or more at a time
 * (a 5 MB keyframe still reaches a player that reads; while it is queued, the next such frame
 * counts, so a player that reads nothing of a stream of huge frames still meets the tiers).
 * Lag is bounded in time as well: when the oldest queued live item (not of a join burst) has
 * waited max_age_ms, what is queued and droppable goes (ezr_queue_shed: live audio and inter
 * video not yet begun) and the player is treated as at the high tier (only keyframes, headers
 * and metadata) until it catches up. A join burst is never shed and its items' wait is not lag:
 * a joiner that reads at its link speed gets the whole cached replay however long it takes.
 * Replies count as live bytes like media.
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
    uint32_t max_age_ms; /* 0: no age limit */
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
    uint64_t queued_ms; /* when it was queued, for the age limit */
    bool uncounted;     /* not live bytes: join burst, or the one oversized live frame */
    bool burst;         /* part of a join burst (a cached frame, pushed long ago) */
    bool reply;         /* part of a reply by reference (an HLS part): never dropped */
};

struct ezr_queue {
    struct ezr_queue_item *items; /* ring buffer */
    size_t head, count, cap;
    size_t offset;          /* bytes of items[head] already written */
    size_t bytes;           /* queued and not yet written */
    size_t uncounted_bytes; /* of those, in uncounted items */
    size_t owned_bytes;     /* of those, in owned blocks (replies) */
    size_t burst_lead;  /* the first items that are all of a join burst: live age starts after */
    uint64_t live_ms;   /* queued_ms of the item at burst_lead, while there is one: the age check
                         * runs for every player on every frame, the ring is a cache miss away */
    bool oversized;     /* an uncounted live frame of warning_bytes or more is queued */
    bool need_keyframe; /* video is being skipped until the next keyframe */
    /* A next-keyframe join: audio is skipped too until that keyframe (not with receiveVideo
     * false: no keyframe comes then). */
    bool audio_waits_key;
    bool want_audio;    /* receiveAudio */
    bool want_video;    /* receiveVideo */
    bool paused;        /* pause: no media, headers and metadata only */
    uint64_t dropped[EZR_QUEUE_CRITICAL]; /* frames dropped at each level (NORMAL: P-frame rule) */
    uint64_t bytes_written;
};

void ezr_queue_init(struct ezr_queue *q);
/* Releases every reference and owned block. */
void ezr_queue_clear(struct ezr_queue *q);
/* The tier of the live bytes alone. */
enum ezr_queue_level ezr_queue_level(const struct ezr_queue *q, const struct ezr_queue_limits *l);
/* The tier that decides at time now: the live bytes' tier, raised to high when the oldest live
 * item has waited max_age_ms. */
enum ezr_queue_level ezr_queue_level_at(const struct ezr_queue *q, const struct ezr_queue_limits *l,
                                        uint64_t now_ms);

enum ezr_offer_flags {
    EZR_OFFER_BURST = 1u << 0, /* part of a join burst: queued whole, not live bytes */
};
/* Applies the backpressure rule at time now and queues a reference to f when it passes; what is
 * written is bytes[0..len), which lie inside f (a protocol's serialisation of it). *level, if
 * not NULL, receives the tier that decided. */
enum ezr_queue_verdict ezr_queue_offer(struct ezr_queue *q, struct ezr_frame *f,
                                       const uint8_t *bytes, size_t len,
                                       const struct ezr_queue_limits *l, uint64_t now_ms,
                                       uint32_t flags, enum ezr_queue_level *level);
/* When the oldest live item has waited max_age_ms: drops the queued live audio and inter video
 * not yet begun (keyframes, headers, metadata, replies and a join burst stay) and makes video
 * resume at a keyframe, so the player skips ahead instead of falling further behind. Returns the
 * frames dropped. */
size_t ezr_queue_shed(struct ezr_queue *q, const struct ezr_queue_limits *l, uint64_t now_ms);
/* How long the oldest item has waited at time now; 0 when empty (the stats' lag). */
uint64_t ezr_queue_age(const struct ezr_queue *q, uint64_t now_ms);
/* The same for the oldest live item, past a join burst ahead of it (the age limit's measure). */
uint64_t ezr_queue_live_age(const struct ezr_queue *q, uint64_t now_ms);
/* Queues a copy of bytes at time now (protocol replies are never dropped; the caller bounds them
 * by not reading input while owned_bytes is high). Returns 0 or EZR_ENOMEM. */
int ezr_queue_push_bytes(struct ezr_queue *q, const uint8_t *bytes, size_t len, uint64_t now_ms);
/* Queues a reference to bytes[0..len) inside f as part of a reply (an HLS part, a playlist):
 * never dropped, whatever the tiers. Returns 0 or EZR_ENOMEM. */
int ezr_queue_push_ref(struct ezr_queue *q, struct ezr_frame *f, const uint8_t *bytes, size_t len,
                       uint64_t now_ms);
/* Fills up to max iovecs with what is to be written next; returns how many. */
int ezr_queue_iov(const struct ezr_queue *q, struct iovec *iov, int max);
/* The kernel took n bytes: release what is fully written, move the offset. */
void ezr_queue_advance(struct ezr_queue *q, size_t n);
/* The same, calling sent(ctx, item) for each item written whole, just before it is released (the
 * send latency the stats report is measured there). */
typedef void (*ezr_queue_sent_fn)(void *ctx, const struct ezr_queue_item *it);
void ezr_queue_advance_report(struct ezr_queue *q, size_t n, ezr_queue_sent_fn sent, void *ctx);
/* Asks the CPU for the ring slot the next item will take (a fan-out does it for the player
 * after the one it is offering to). Reads the queue's own fields only. */
static inline void ezr_queue_prefetch_tail(const struct ezr_queue *q)
{
    if (q->items && q->count < q->cap)
        __builtin_prefetch(&q->items[(q->head + q->count) & (q->cap - 1)], 1);
}
static inline bool ezr_queue_empty(const struct ezr_queue *q)
{
    return q->count == 0;
}

#endif
