/* The LL-HLS muxer's insides, shared by its files: the segmenter (ezr_hls.c) fills them in, the
 * playlist (ezr_hls_playlist.c) and the names (ezr_hls_query.c) read them. Nothing outside the
 * muxer includes this. */
#ifndef EZR_HLS_PRIV_H
#define EZR_HLS_PRIV_H

#include "ezr_hls.h"
#include "ezr_limits.h"

/* An init segment and its id (EXT-X-MAP, init-TAG-ID.mp4). */
struct ezr_hls_init_seg {
    uint32_t id;
    struct ezr_frame *frame; /* EZR_FRAME_BYTES: ftyp + moov */
};

/* An audio frame that waits behind the pending video frame (struct ezr_hls.held). */
struct ezr_hls_held_audio {
    struct ezr_frame *frame; /* a reference */
    uint64_t ms;             /* extended stream time */
    uint32_t body_offset;
};

/* The video frame that waits for the next one to know its duration. */
struct ezr_hls_pending {
    struct ezr_frame *frame; /* a reference, NULL when none waits */
    uint64_t dts_ms;         /* extended stream time */
    int32_t cts_ms;
    uint32_t body_offset;
    bool key;
};

struct ezr_hls {
    /* The config with its defaults applied. */
    uint32_t part_ms;
    uint32_t segment_ms; /* 0: at every keyframe (video) */
    uint32_t window;
    char tag[16];
    struct ezr_hls_ops ops;
    void *ctx;

    /* The current sequence headers (references) and what was read from them; the settings point
     * into the header frames' payloads. */
    struct ezr_frame *video_header, *audio_header;
    struct ezr_fmp4_video video;
    struct ezr_fmp4_audio audio;
    bool headers_changed; /* since the init in use was made: the next segment gets a new one */

    /* Init segments still needed: the one in use (last) and those of segments in the window. */
    struct ezr_hls_init_seg *inits;
    size_t ninits, inits_cap;
    uint32_t next_init_id;
    bool have_init;
    uint32_t init_id;    /* the one in use */
    bool init_has_video; /* its tracks */
    bool init_has_audio;
    uint32_t sample_rate; /* its audio track's timescale */

    /* The window: complete segments, then the one in progress (in_progress) last. */
    struct ezr_hls_segment *segs;
    size_t nsegs, segs_cap;
    bool in_progress;
    uint64_t next_msn;
    uint64_t discontinuity_seq; /* EXT-X-DISCONTINUITY-SEQUENCE: of segs[0] */
    bool discontinuity_next;    /* the next segment starts after a break */

    /* Time. */
    bool have_time;
    uint64_t last_ms;               /* the last extended timestamp */
    struct ezr_hls_pending pending; /* video */
    /* Audio that came while a video frame was pending, muxed after it: every part then starts
     * with video, as players that place a fragment by its first tfdt in the first track's
     * timescale (shaka-player) need. At most EZR_HLS_MAX_HELD_AUDIO. */
    struct ezr_hls_held_audio held[EZR_HLS_MAX_HELD_AUDIO];
    size_t nheld;
    uint64_t last_video_dts; /* of the last video sample muxed (90 kHz): decode times rise */
    bool have_video_dts;
    uint32_t last_video_duration; /* 90 kHz; used at a break or the end */
    bool have_video_duration;
    uint64_t last_audio_decode; /* in the sample rate, for a monotonic decode time */
    uint64_t last_audio_ms;     /* stream time of the last audio sample */
    bool have_audio_ms;
    uint64_t audio_end_ms; /* stream time at the end of the last audio sample */
    bool have_audio_decode;
    uint32_t fragment_seq; /* mfhd sequence number of the last fragment */
    /* EXT-X-PROGRAM-DATE-TIME: the timeline's anchor, its stream time and wall time (Unix ms). */
    bool have_date_anchor;
    uint64_t anchor_ms, anchor_wall_ms;

    uint32_t target_s; /* EXT-X-TARGETDURATION so far: never goes down */
    /* EXT-X-PART-INF:PART-TARGET (ms): the configured target, or the longest part the window
     * holds (every part must be within it, 4.4.4.9, and a part ends on the first frame boundary
     * past the target). Kept here, not found per request: a blocking reload asks for it. */
    uint32_t part_target_ms;
    uint64_t parts_made, segments_made; /* completed since ezr_hls_new */
    bool ended;
    uint64_t version;
};

/* The complete segments of the window (the one in progress is not counted). */
static inline size_t ezr_hls_complete_segments(const struct ezr_hls *h)
{
    return h->nsegs - (h->in_progress ? 1 : 0);
}

/* The last complete part: false when there is none yet. */
bool ezr_hls_last_part(const struct ezr_hls *h, uint64_t *msn, uint32_t *index);
/* Stream time (ms) at the end of the last complete part: the end of the playlist. */
uint64_t ezr_hls_end_ms(const struct ezr_hls *h);
/* CAN-SKIP-UNTIL is offered: the window can hold more than the six target durations it keeps. */
bool ezr_hls_can_skip(const struct ezr_hls *h);

/* ---- the window (ezr_hls_window.c), for the segmenter (ezr_hls.c) ---------------------- */

/* Frees a segment's parts and their frame references. */
void ezr_hls_segment_free(struct ezr_hls_segment *s);
/* Room for one more element of *arr (n used, *cap allocated, size bytes each): 0 or EZR_ENOMEM. */
int ezr_hls_grow(void **arr, size_t *cap, size_t n, size_t size);
/* The segment in progress, and its part in progress. */
struct ezr_hls_segment *ezr_hls_current(struct ezr_hls *h);
struct ezr_hls_part *ezr_hls_current_part(struct ezr_hls *h);
/* An init segment from the current sequence headers, in use from now on. */
int ezr_hls_make_init(struct ezr_hls *h);
/* Puts a sample of f (at offset in its payload) into the part in progress, making f's CMAF view
 * with s's numbering. */
int ezr_hls_add_sample(struct ezr_hls *h, struct ezr_frame *f, uint32_t offset,
                       struct ezr_fmp4_sample *s);
/* Opens a part at start_ms in s, which has room for it. */
void ezr_hls_open_part(struct ezr_hls_segment *s, uint64_t start_ms, bool independent);
/* EXT-X-TARGETDURATION covers a segment of len ms. */
void ezr_hls_raise_target(struct ezr_hls *h, uint64_t len);
/* Completes the part, or the segment, in progress at end_ms. */
void ezr_hls_complete_part(struct ezr_hls *h, uint64_t end_ms);
void ezr_hls_complete_segment(struct ezr_hls *h, uint64_t end_ms);
/* Drops the complete segments past the window, and the inits no segment needs. */
void ezr_hls_trim_window(struct ezr_hls *h);
/* Opens a segment (and its first part) at start_ms. */
int ezr_hls_open_segment(struct ezr_hls *h, uint64_t start_ms, uint64_t wall_ms, bool independent);

#endif
