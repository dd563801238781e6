/* The GOP cache of one stream: the latest metadata, the audio and video sequence headers, and the
 * frames of the last max_gops GOPs starting at a keyframe, so a new player starts on a keyframe
 * at once. Reactor-thread only.
 *
 * Ownership: the cache holds one reference on every frame it keeps; ezr_gop_add() takes its own
 * reference (the caller keeps theirs). */
#ifndef EZR_GOP_H
#define EZR_GOP_H

#include <stddef.h>
#include <stdint.h>

#include "ezr_frame.h"
#include "ezr_join.h"
#include "ezr_replay.h"

struct ezr_gop {
    uint32_t max_gops;
    uint32_t chunk_size;
    struct ezr_frame *metadata;
    struct ezr_frame *video_header;
    struct ezr_frame *audio_header;
    struct ezr_frame **frames; /* frames[0] is a video keyframe when count > 0 */
    size_t count;
    size_t cap;
    size_t bytes;   /* payload bytes of frames[] */
    uint32_t ngops; /* keyframes in frames[] */
    /* Sequence headers re-stamped with frames[0]'s timestamp for joiners, made once per GOP and
     * shared by every joiner of it (as nginx-rtmp does: players dislike headers far behind the
     * media). Metadata keeps its own timestamp. */
    struct ezr_frame *join_video_header;
    struct ezr_frame *join_audio_header;
    uint32_t join_ts;
    int join_valid;
    /* The live-edge replay of this join moment (ezr_replay.h), built by its first live-edge
     * joiner and shared by the rest; dropped when the cached video or a header changes. */
    struct ezr_replay replay;
    int replay_valid;
    uint64_t replays_built; /* since ezr_gop_init, whatever is cleared */
};

void ezr_gop_init(struct ezr_gop *g, uint32_t max_gops, uint32_t chunk_size);
/* Drops every cached frame, header and the metadata. */
void ezr_gop_clear(struct ezr_gop *g);
/* Drops the cached frames but keeps the metadata and headers (a flush upstream: the stream goes
 * on with the same codecs; joiners then start at the next keyframe). */
void ezr_gop_forget_frames(struct ezr_gop *g);
/* Caches f as metadata, a header, or a frame of the current GOP (frames before the first keyframe
 * are not cached: nobody could start on them). An EZR_FRAME_LIVE frame is not cached at all.
 * Returns 0 or EZR_ENOMEM. */
int ezr_gop_add(struct ezr_gop *g, struct ezr_frame *f);

/* What a joining player is sent, in order: metadata, video header, audio header (each if known),
 * then frames[0..count). Calls fn for each with a borrowed frame; stops early if fn returns
 * non-zero and returns that value. */
typedef int (*ezr_gop_visit_fn)(void *ctx, struct ezr_frame *f);
int ezr_gop_replay(struct ezr_gop *g, ezr_gop_visit_fn fn, void *ctx);

/* Spacing of a live-edge replay's frames: the smallest step that keeps every timestamp after the
 * one before (a 4 s GOP of 120 frames runs through in 120 ms). */
#define EZR_GOP_REPLAY_STEP_MS 1u

/* What a player joining under method m is sent, as ezr_gop_replay() (enum ezr_sync_method):
 *   latest-keyframe  that replay: metadata, headers, every cached frame at its own time;
 *   next-keyframe    metadata and headers only (the player waits for the next keyframe);
 *   live-edge        metadata, then the join moment's replay (headers and the video from the
 *                    newest keyframe, retimed); without a cached keyframe (audio only, after a
 *                    flush) metadata and headers, and out of memory the latest-keyframe replay.
 */
int ezr_gop_join(struct ezr_gop *g, enum ezr_sync_method m, ezr_gop_visit_fn fn, void *ctx);

#endif
