/* Low-latency HLS of one stream (draft-pantos-hls-rfc8216bis), sans-I/O: the stream's frames in;
 * CMAF parts and segments, init segments and media playlists out. Nothing here touches a socket:
 * the HTTP side (ezr_http_hls.c) serves what this makes and parks requests that wait for it.
 *
 * Every part holds references to its frames; a frame's fragment header is its CMAF view
 * (ezr_frame.h) and its sample a slice of its payload, so a part is sent to every viewer by
 * reference with no copy of media. A segment is its parts in order.
 *
 * Cutting: a segment starts at a video keyframe (the first frame of an audio-only stream) once the
 * one before has lasted segment_target_ms (0: at every keyframe, one segment per GOP; audio only:
 * 2 s); a part ends on a frame boundary once it has lasted part_target_ms (on a video frame when
 * the stream has video), and a part that starts with a keyframe is independent. A video sample's
 * duration is the time to the next video frame, so a video frame goes into its part when the next
 * one arrives; audio goes in at once (an AAC frame is 1024 samples).
 *
 * Time: FLV timestamps are 32-bit milliseconds; they are extended to 64 bits here (a step back of
 * more than 2^31 ms is a wrap), so decode times never wrap.
 *
 * Ownership: ezr_hls_new() returns the muxer, ezr_hls_free() frees it with every reference it
 * holds. ezr_hls_push() takes its own references. Pointers returned by the lookups are valid until
 * the next push, break or end. Reactor-thread only. */
#ifndef EZR_HLS_H
#define EZR_HLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_buf.h"
#include "ezr_fmp4.h"
#include "ezr_frame.h"

/* Defaults, with why, are in ezr_limits.h: EZR_HLS_DEFAULT_PART_MS, EZR_HLS_DEFAULT_WINDOW,
 * EZR_HLS_AUDIO_SEGMENT_MS. */
struct ezr_hls_config {
    uint32_t part_target_ms;    /* 0: EZR_HLS_DEFAULT_PART_MS */
    uint32_t segment_target_ms; /* 0: one segment per GOP (audio only: EZR_HLS_AUDIO_SEGMENT_MS) */
    uint32_t window;            /* complete segments kept; 0: EZR_HLS_DEFAULT_WINDOW */
    /* In every media URI ("seg-TAG-12.m4s"), so that an immutable URI a cache holds is never
     * reused by another run of the stream: letters and digits, at most 15. */
    char tag[16];
};

/* Past its len, a frame's CMAF view holds the sample's framing as one chunk of a chunked HTTP
 * body (a part sent while it is made), the same for every viewer: EZR_HLS_CHUNK_HEAD bytes of
 * chunk size ("%08x\r\n": the fragment header and the sample), then EZR_HLS_CHUNK_TAIL ("\r\n"). */
#define EZR_HLS_CHUNK_HEAD 10u
#define EZR_HLS_CHUNK_TAIL 2u

struct ezr_hls_sample {
    struct ezr_frame *frame; /* a reference; frame->views[EZR_VIEW_CMAF] is the fragment header */
    uint32_t body_offset;    /* the sample: frame->data[body_offset .. + body_len) */
    uint32_t body_len;
};

struct ezr_hls_part {
    uint64_t msn;    /* the segment it belongs to */
    uint32_t index;  /* in that segment, from 0 */
    bool independent; /* starts with a keyframe, or the stream has no video */
    bool complete;
    uint64_t start_ms;    /* stream time (64-bit) of its first sample */
    uint32_t duration_ms; /* once complete */
    struct ezr_hls_sample *samples;
    size_t nsamples, cap;
    size_t bytes; /* fragment headers and samples: the part's body */
};

struct ezr_hls_segment {
    uint64_t msn;
    uint32_t init_id;   /* the init segment it needs (EXT-X-MAP) */
    bool discontinuity; /* EXT-X-DISCONTINUITY before it */
    bool complete;
    uint64_t start_ms;    /* stream time of its first sample */
    uint64_t duration_ms; /* once complete */
    uint64_t wall_ms;     /* EXT-X-PROGRAM-DATE-TIME: its first frame entered the sink (Unix ms) */
    struct ezr_hls_part *parts; /* parts[nparts - 1] is in progress while the segment is */
    size_t nparts, cap;
    size_t bytes;
};

/* News for the layer above, called from inside ezr_hls_push/break/end. */
struct ezr_hls_ops {
    /* A sample went into the part in progress (a preload-hinted request streams it). */
    void (*sample_added)(void *ctx, const struct ezr_hls_part *p);
    /* A part (and with its last part a segment) is complete, or the stream ended: the playlist
     * changed, and requests waiting for it can be answered. */
    void (*playlist_changed)(void *ctx);
};

struct ezr_hls;

/* Returns 0 and *out, EZR_EINVAL (a bad config), EZR_ENOMEM. ops may be NULL. */
int ezr_hls_new(const struct ezr_hls_config *cfg, const struct ezr_hls_ops *ops, void *ctx,
                struct ezr_hls **out);
void ezr_hls_free(struct ezr_hls *h);

/* One frame of the stream, in push order: sequence headers make a new init segment (a changed one
 * after media also a discontinuity); metadata and codecs HLS cannot carry are skipped; media goes
 * into parts. wall_ms is when it entered the sink (Unix ms). Returns 0 or EZR_ENOMEM (the frame
 * is not muxed; the stream goes on). */
int ezr_hls_push(struct ezr_hls *h, struct ezr_frame *f, uint64_t wall_ms);
/* A break in the stream (a flush or seek, a pipeline restart): the part and segment in progress
 * are completed, and the next segment starts with EXT-X-DISCONTINUITY. */
void ezr_hls_break(struct ezr_hls *h);
/* End of stream: completes what is in progress; the playlist ends with EXT-X-ENDLIST until the
 * next push, which starts after a discontinuity. */
void ezr_hls_end(struct ezr_hls *h);

/* ---- what is there to serve ------------------------------------------------------------ */

/* NULL when the window does not hold it (gone, or not made yet). The segment and the part in
 * progress are held too (complete false): a hinted part is streamed from them. */
const struct ezr_hls_segment *ezr_hls_segment(const struct ezr_hls *h, uint64_t msn);
const struct ezr_hls_part *ezr_hls_part(const struct ezr_hls *h, uint64_t msn, uint32_t index);
/* The init segment with that id (an EZR_FRAME_BYTES frame, borrowed), or NULL. */
struct ezr_frame *ezr_hls_init(const struct ezr_hls *h, uint32_t id);
/* The part the playlist hints at (EXT-X-PRELOAD-HINT): the next one to be made. False before the
 * first frame and after the end. */
bool ezr_hls_hinted_part(const struct ezr_hls *h, uint64_t *msn, uint32_t *index);
/* The stream has ended (EXT-X-ENDLIST). */
bool ezr_hls_ended(const struct ezr_hls *h);
/* Bumped at every change of the playlist: a rendered playlist is valid while this is the same. */
uint64_t ezr_hls_version(const struct ezr_hls *h);
/* EXT-X-TARGETDURATION (s) as the playlist says it now: a blocking request waits at most three
 * of them (6.2.5.2). */
uint32_t ezr_hls_target_duration(const struct ezr_hls *h);
/* Parts and segments completed since ezr_hls_new, for the stats. */
uint64_t ezr_hls_parts_made(const struct ezr_hls *h);
uint64_t ezr_hls_segments_made(const struct ezr_hls *h);

/* ---- blocking playlist reload (6.2.5.2) ------------------------------------------------- */

struct ezr_hls_query { /* ordered without holes: a parked reload keeps one (16 bytes) */
    uint64_t msn;
    uint32_t part;
    bool has_msn;
    bool has_part;
    bool skip; /* _HLS_skip=YES (v2: delta update; _HLS_skip=v2 is taken as YES) */
};
/* Parses a playlist request's query (without '?'; other parameters such as token= are
 * ignored). Returns 0, or EZR_EPROTO for a malformed or out-of-range _HLS_msn or _HLS_part
 * (negative, not a number, more digits than fit), or _HLS_part without _HLS_msn: a 400. */
int ezr_hls_parse_query(const char *query, struct ezr_hls_query *out);

enum ezr_hls_wait {
    EZR_HLS_READY,   /* the playlist has what was asked for (or the stream ended): answer now */
    EZR_HLS_WAIT,    /* not yet: wait for a playlist change */
    EZR_HLS_TOO_FAR, /* further ahead than the spec lets a client ask: 400 at once */
};
/* What a blocking request for q gets now. */
enum ezr_hls_wait ezr_hls_check(const struct ezr_hls *h, const struct ezr_hls_query *q);

/* Appends the media playlist (skip: as a delta update, EXT-X-SKIP for the old segments).
 * Returns 0 or EZR_ENOMEM. Before the first complete part there is nothing to list: returns
 * EZR_EAGAIN. */
int ezr_hls_render_playlist(const struct ezr_hls *h, bool skip, struct ezr_buf *out);

/* ---- what a multivariant playlist says of it (ezr_hls_variant.c) ------------------------- */

/* One variant line's attributes (4.4.6.2), as served now. */
struct ezr_hls_variant {
    uint64_t bandwidth;         /* BANDWIDTH: the peak segment bit rate of the window (bit/s) */
    uint64_t average_bandwidth; /* AVERAGE-BANDWIDTH: its bytes over its duration (bit/s) */
    uint16_t width, height;     /* RESOLUTION, from the SPS; 0: no video */
    uint32_t frame_rate_milli;  /* FRAME-RATE x 1000, video frames counted over the window */
    char codecs[40];            /* CODECS: "avc1.64001f,mp4a.40.2", only the tracks it has */
};
/* The attributes from the complete segments of the window. EZR_EAGAIN before the first complete
 * segment: there is nothing to measure yet. */
int ezr_hls_variant(const struct ezr_hls *h, struct ezr_hls_variant *out);
/* What an EXT-X-RENDITION-REPORT says of it: the last complete part (LAST-MSN, LAST-PART).
 * False before the first. */
bool ezr_hls_report(const struct ezr_hls *h, uint64_t *last_msn, uint32_t *last_part);

/* ---- names ----------------------------------------------------------------------------- */

enum ezr_hls_name_kind {
    EZR_HLS_NAME_NONE, /* not one of ours: 404 */
    EZR_HLS_NAME_PLAYLIST, /* index.m3u8 */
    EZR_HLS_NAME_INIT,     /* init-TAG-ID.mp4 */
    EZR_HLS_NAME_SEGMENT,  /* seg-TAG-MSN.m4s */
    EZR_HLS_NAME_PART,     /* part-TAG-MSN.INDEX.m4s */
};
struct ezr_hls_name {
    enum ezr_hls_name_kind kind;
    uint64_t msn;   /* segment, part */
    uint32_t index; /* part: the index; init: the id */
};
/* Reads the last component of a request path (no '/', not decoded: a name with an escape, a
 * dot-dot, another tag or numbers out of range is NONE). */
struct ezr_hls_name ezr_hls_parse_name(const struct ezr_hls *h, const char *name);

#endif
