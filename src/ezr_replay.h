/* The replay a player joining under live-edge starts with (docs/join.md). Its decoder needs the
 * video from the newest keyframe to build the current picture, but a player that paces by
 * timestamps would then play that GOP at its own pace and stay as far behind live for the whole
 * session. So the frames are copied with their timestamps squeezed into a short window (step_ms
 * apart) that ends at the newest video frame's own timestamp: the player runs through the GOP in
 * a brief fast-forward and is at the live edge, where live audio and video follow at their own
 * timestamps, in sync. Composition time offsets (B-frames) are mapped by the same squeeze, so
 * frames are still presented in order. Cached audio is not replayed: live audio follows.
 *
 * Sans-I/O: it takes cached frames and makes new ones. One replay is built per join moment and
 * shared by every player joining then (ezr_gop.h holds it); its frames are refcounted as any.
 *
 * Ownership: ezr_replay_build() fills a replay whose frames it owns (one reference each);
 * ezr_replay_clear() drops them. The frames given are borrowed. */
#ifndef EZR_REPLAY_H
#define EZR_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "ezr_frame.h"

struct ezr_replay {
    struct ezr_frame *video_header; /* stamped at start_ts, or NULL */
    struct ezr_frame *audio_header; /* stamped at start_ts, or NULL */
    struct ezr_frame **frames;      /* the video, retimed, in order */
    size_t count;
    uint32_t start_ts; /* the first frame's timestamp */
    uint32_t end_ts;   /* the last frame's: its own timestamp, unchanged */
    /* The frames were closer than step_ms already: they are the cached frames themselves. */
    int as_cached;
};

/* Builds r from video[0..n) (n >= 1, video[0] a keyframe, in decoding order): frame i stamped
 * end - (n - 1 - i) * step_ms where end is video[n-1]'s timestamp, its composition offset mapped
 * alike; the headers (either may be NULL) restamped at the first frame's time. Frames that
 * already lie within that window are taken as they are (referenced, not copied), as are frames
 * whose timestamps run backwards (a wrap). Returns 0, or EZR_ENOMEM with r empty. */
int ezr_replay_build(struct ezr_replay *r, struct ezr_frame *const *video, size_t n,
                     struct ezr_frame *video_header, struct ezr_frame *audio_header,
                     uint32_t step_ms, uint32_t chunk_size);
/* Drops every frame of r and empties it. */
void ezr_replay_clear(struct ezr_replay *r);

/* Where the signed 24-bit composition time offset lies in a video message body (AVC or HEVC
 * NAL units, legacy or enhanced RTMP CodedFrames), or 0 when it has none. */
size_t ezr_replay_cts_offset(const uint8_t *body, size_t len);

#endif
