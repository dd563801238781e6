/* Refcounted, immutable media frames. A frame carries its message body (the FLV tag body, what
 * ezr_stream_push() was given) once; each output's serialisation of it (RTMP chunks, an FLV tag,
 * a WebSocket-FLV message, a CMAF fragment header) is a view, made by the first player of that
 * output that takes the frame and shared by reference with every other one from then on
 * (ezr_frame_view). A new output is a new view id, not new fields.
 *
 * Ownership: ezr_frame_new() returns one reference; ezr_frame_ref() adds one; ezr_frame_unref()
 * drops one and frees the frame, with its views, with the last. The count is atomic because a
 * frame is made on the pipeline's thread and released on the reactor's. */
#ifndef EZR_FRAME_H
#define EZR_FRAME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_view.h"

enum ezr_frame_kind {
    /* Bytes that are no media frame: a rendered playlist, an init segment. They share the
     * frame's refcounting and write queue path (ezr_frame_new_bytes). */
    EZR_FRAME_BYTES = 0,
    EZR_FRAME_AUDIO = 8, /* = RTMP message type */
    EZR_FRAME_VIDEO = 9,
    EZR_FRAME_SCRIPT = 18, /* AMF0 data: onMetaData */
};
enum ezr_frame_flags {
    EZR_FRAME_KEY = 1u << 0,    /* video keyframe (a GOP starts here) */
    EZR_FRAME_HEADER = 1u << 1, /* codec sequence header (AVC/HEVC config, AAC config) */
    /* Script data sent live and never cached (onCuePoint, onTextData, onCaption): only
     * onMetaData is metadata a joiner needs. */
    EZR_FRAME_LIVE = 1u << 2,
};

struct ezr_frame {
    atomic_uint refs;
    uint8_t kind;        /* enum ezr_frame_kind (= RTMP message type) */
    uint32_t flags;      /* enum ezr_frame_flags */
    uint32_t timestamp;  /* ms */
    uint32_t chunk_size; /* the RTMP chunk size its RTMP view is made at */
    size_t payload_len;  /* bytes in data: the message body */
    /* When ezr_stream_push() made it (ezr_now_us()), for the send latency the stats report; 0 for
     * frames made otherwise (headers restamped for a joiner). */
    uint64_t pushed_us;
    /* Reactor thread only: a frame reaches the reactor through the mailbox (a mutex) with no
     * view, every output takes frames on the reactor thread, and the thread that frees the frame
     * sees the views through the reference count's acquire/release. */
    struct ezr_frame_view views[EZR_NVIEWS];
    uint8_t data[]; /* the message body, payload_len bytes */
};

/* A frame of payload[0..payload_len) (copied). NULL on allocation failure. */
struct ezr_frame *ezr_frame_new(uint8_t kind, uint32_t flags, uint32_t timestamp,
                                const uint8_t *payload, size_t payload_len, uint32_t chunk_size);
/* Shared bytes that are no media (EZR_FRAME_BYTES), taking ownership of the malloc'd bytes:
 * freed here on failure. */
struct ezr_frame *ezr_frame_new_bytes(uint8_t *bytes, size_t len);
/* A new frame with the same payload at another timestamp (headers re-sent to late joiners). */
struct ezr_frame *ezr_frame_restamp(const struct ezr_frame *f, uint32_t timestamp,
                                    uint32_t chunk_size);
struct ezr_frame *ezr_frame_ref(struct ezr_frame *f);
void ezr_frame_unref(struct ezr_frame *f);

/* The view id of f, made by make(f, arg) the first time it is asked for. Reactor thread only.
 * Returns 1 when this call made it, 0 when it was there already, or EZR_ENOMEM; *out points at
 * the frame's view either way but on failure. */
int ezr_frame_view_make(struct ezr_frame *f, enum ezr_frame_view_id id, ezr_frame_view_fn make,
                        void *arg);
/* Inline: the fan-out asks it for every player and frame, and all but the first find it made. */
static inline int ezr_frame_view(struct ezr_frame *f, enum ezr_frame_view_id id,
                                 ezr_frame_view_fn make, void *arg,
                                 const struct ezr_frame_view **out)
{
    *out = &f->views[id];
    return f->views[id].bytes ? 0 : ezr_frame_view_make(f, id, make, arg);
}

/* The RTMP view's maker (arg unused): the message as chunks at f->chunk_size, type-0 header on the
 * kind's chunk stream, message stream EZR_MEDIA_MSID. */
int ezr_frame_make_rtmp(const struct ezr_frame *f, void *arg, struct ezr_frame_view *out);
/* The FLV view's maker (arg unused): 11-byte tag header, body, 4-byte PreviousTagSize. */
int ezr_frame_make_flv(const struct ezr_frame *f, void *arg, struct ezr_frame_view *out);
/* The FLV tag's length, and the tag written at out (which holds that many bytes), for a view
 * that wraps it (WebSocket-FLV). Returns the length. */
#define EZR_FRAME_FLV_TAG_LEN(f) (11u + (f)->payload_len + 4u)
size_t ezr_frame_write_flv_tag(const struct ezr_frame *f, uint8_t *out);

static inline int ezr_frame_is_video(const struct ezr_frame *f)
{
    return f->kind == EZR_FRAME_VIDEO;
}

#endif
