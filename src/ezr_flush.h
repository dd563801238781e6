/* When a client's queued bytes are written. What a server pays for is writes, not bytes (on
 * loopback the kernel even runs the player's TCP receive in the writer's thread), so a write per
 * frame per player is most of its CPU; yet holding every frame for a fixed interval delays each
 * by up to that interval. The flush interval (flush-interval) sets the trade: by default
 * (EZR_FLUSH_AUTO) video goes as it comes and the rest rides with it; a value in ms is the most
 * that any of a player's media, video too, may wait so that more goes out in one write. The rules:
 *
 * - Replies, a join burst and a large backlog (`now`, EZR_FLUSH_BYTES) go at the end of the round
 *   they were queued in, at every interval.
 * - Auto: video sets the pace. A player's video frame goes at the end of the round it arrived in
 *   (when the reactor is idle, at once), and the same writev carries whatever else waits for that
 *   player. Audio and live data of a stream with video, for a player that takes the video, wait
 *   for its next video frame (one frame interval: 40 ms at 25 fps): a player then costs one write
 *   per video frame instead of one per frame (25 a second instead of 68 for 25 fps video and
 *   44.1 kHz AAC), and its video is never delayed for it.
 *   Nothing waits longer than EZR_FLUSH_AUTO_WAIT_MS: held media whose wait is up goes then (the
 *   video stalled or was dropped for that player). Frames of other streams (audio-only) and of
 *   players that take no video go at once.
 * - An interval in ms: every media frame (audio, video, live data) waits, from the first one
 *   held, at most that long, and the write then carries all that came meanwhile: at 350 ms and
 *   25 fps about nine video frames to a write, as SRS's merged writes (mw_latency 350) do. Not
 *   held, so that a joiner's start is never delayed: a player's first live media frame, and any
 *   frame while a player of a stream with video awaits a keyframe (none cached when it joined,
 *   or its video dropped), the keyframe included. Headers and metadata never wait, and end the
 *   hold. With 0 nothing waits: a write per frame. The wait counts from the push (the time a
 *   frame spends in the mailbox while the reactor writes counts too), and ends with the write:
 *   holds end early by the time the last sweeps took, from their first write to the end of their
 *   last (at most half the interval), and by 1 ms for the whole-ms clock, so that the players a
 *   sweep reaches last have not waited longer than the interval either. What may not wait joins
 *   a sweep under way at once, ahead of the holds that come up after it (on a busy reactor those
 *   keep a sweep going for good).
 * - Self-clocking: players with media due are written EZR_FLUSH_BATCH per round (the sweep), so
 *   that with thousands of players the handshakes of the next round are not held back; frames
 *   that arrive while a sweep is under way join the queues of the players it has not reached yet,
 *   which carry them in the same write. The busier the reactor, the longer a sweep and the more
 *   each write carries; players the sweep has written that get new media gather for the next.
 * - A busy reactor spaces its sweeps: above EZR_FLUSH_BUSY_FROM of its time busy, a sweep begins
 *   at least a gap after the one before, growing with the busy fraction up to the flush interval
 *   when it is always busy. Each write then carries more, and the reactor leaves CPU time to the
 *   rest of the machine (handshakes, the pipeline) instead of spending all of it writing.
 *
 * Reactor-thread only. Times are ezr_now_ms() values passed in, so the rules are testable. */
#ifndef EZR_FLUSH_H
#define EZR_FLUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "ezr_frame.h"
#include "ezr_list.h"

struct ezr_queue;

/* What the flusher keeps of one writer (a client embeds it): which of its lists it is on. */
struct ezr_flush_entry {
    struct ezr_link media_link; /* the held or due list, or the sweep */
    uint64_t hold_until_ms;     /* on the held list: when its media must go; else 0 */
    struct ezr_link dirty_link; /* the `now` list */
    bool had_media;             /* ezr_flush_media has seen media for it */
};

struct ezr_flusher {
    struct ezr_list now;     /* by entry.dirty_link */
    struct ezr_list held;    /* by entry.media_link, in the order of entry.hold_until_ms */
    struct ezr_list due;     /* by entry.media_link: media to go with the next sweep */
    struct ezr_list sweep;   /* by entry.media_link: being written, EZR_FLUSH_BATCH per round */
    uint32_t interval_ms;    /* the longest held media may wait; 0: nothing waits */
    bool hold_all;           /* an interval in ms: video waits too (else auto) */
    uint32_t gap_ms;         /* between the starts of two sweeps, from the busy fraction */
    uint64_t sweep_began_ms; /* the last sweep of due entries began (for the gap) */
    uint64_t sweep_start_ms; /* the sweep under way wrote its first entry */
    uint32_t sweep_ms;       /* how long sweeps take, from their first write to their last's end */
    bool sweep_ended;        /* the last ezr_flush_run() ended a sweep: ezr_flush_done() times it */
    void (*write)(struct ezr_flush_entry *e); /* writes the queue of e's owner */
};

/* interval_ms: EZR_FLUSH_AUTO, or the most any media may wait (0 and up; see above). write: what
 * writes an entry's queue (the client's flush; another in tests). */
void ezr_flush_init(struct ezr_flusher *fl, int32_t interval_ms,
                    void (*write)(struct ezr_flush_entry *e));
/* The reactor's busy fraction (0..1) over the last seconds: sets the gap between sweeps. */
void ezr_flush_set_busy(struct ezr_flusher *fl, double busy);
/* e has bytes to write at the end of this round (its owner is not closed). */
void ezr_flush_now(struct ezr_flusher *fl, struct ezr_flush_entry *e);
/* May frame f, just queued for a player with queue q, wait so that it goes with more?
 * stream_has_video: its stream has carried video; awaited_key: the player awaited a keyframe
 * when f was offered (q->need_keyframe before the offer). Auto: audio and live script data may
 * wait for the player's next video frame, when it takes video now (not paused, receiveVideo, no
 * keyframe awaited); video never. An interval in ms: audio, video and live data may, unless a
 * player of a stream with video awaited a keyframe. Headers and metadata never. */
bool ezr_flush_may_wait(const struct ezr_flusher *fl, const struct ezr_frame *f,
                        bool stream_has_video, const struct ezr_queue *q, bool awaited_key);
/* e has new media: may_wait as above, queued: the bytes its queue holds, pushed_ms: when the frame
 * was pushed. Goes with the next sweep, or waits for media that may not (at most the interval:
 * from pushed_ms with an interval in ms, from now_ms in auto), or now if its backlog is large
 * already. With an interval in ms, e's first media does not wait. */
void ezr_flush_media(struct ezr_flusher *fl, struct ezr_flush_entry *e, bool may_wait,
                     uint64_t queued, uint64_t pushed_ms, uint64_t now_ms);
/* e's owner is closing: off every list. */
void ezr_flush_forget(struct ezr_flush_entry *e);
/* How long the reactor may sleep at now_ms before a write is due (at most max_ms). */
int ezr_flush_timeout(const struct ezr_flusher *fl, int max_ms, uint64_t now_ms);
/* Writes what is due at now_ms: every `now` entry, then up to EZR_FLUSH_BATCH entries of the
 * sweep (with all: every waiting one, held or not). */
void ezr_flush_run(struct ezr_flusher *fl, bool all, uint64_t now_ms);
/* The writes of the last ezr_flush_run() ended at now_ms: a sweep they ended is timed to here. */
void ezr_flush_done(struct ezr_flusher *fl, uint64_t now_ms);

#endif
