/* Refcounted, immutable media frames. A frame is one RTMP message already serialised as chunks
 * (type-0 header on the kind's chunk stream, message stream EZR_MEDIA_MSID) at the server's chunk
 * size, so the same bytes go to every client by reference: no per-client copy of media.
 *
 * Ownership: ezr_frame_new() returns one reference; ezr_frame_ref() adds one; ezr_frame_unref()
 * drops one and frees the frame with the last. The count is atomic because a frame is made on the
 * pipeline's thread and released on the reactor's. */
#ifndef EZR_FRAME_H
#define EZR_FRAME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum ezr_frame_kind {
    EZR_FRAME_AUDIO = 8,  /* = RTMP message type */
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
    uint8_t kind;       /* enum ezr_frame_kind (= RTMP message type) */
    uint32_t flags;     /* enum ezr_frame_flags */
    uint32_t timestamp; /* ms */
    uint32_t chunk_size; /* the chunk size it was serialised at */
    size_t payload_len; /* the message body's length */
    size_t len;         /* bytes in data: the chunked message */
    /* The frame as an FLV tag (HTTP-FLV, WebSocket-FLV), made by ezr_frame_flv() the first time
     * a player of those takes the frame and shared by all of them from then on; NULL until then.
     * Reactor thread only: a frame reaches the reactor through the mailbox (a mutex) with flv
     * NULL, every player takes frames on the reactor thread, and the thread that frees the frame
     * sees flv through the reference count's acquire/release. */
    uint8_t *flv;          /* EZR_FRAME_FLV_HEADROOM bytes, then the tag */
    size_t flv_len;        /* the tag: 11-byte header, body, 4-byte PreviousTagSize */
    size_t flv_prefix_len; /* bytes of the headroom a protocol filled once (a WebSocket header) */
    /* When ezr_stream_push() made it (ezr_now_us()), for the send latency the stats report; 0 for
     * frames made otherwise (headers restamped for a joiner). */
    uint64_t pushed_us;
    uint8_t data[];
};

/* Serialises payload as an RTMP message for every client. NULL on allocation failure. */
struct ezr_frame *ezr_frame_new(uint8_t kind, uint32_t flags, uint32_t timestamp,
                                const uint8_t *payload, size_t payload_len, uint32_t chunk_size);
/* A new frame with the same payload at another timestamp (headers re-sent to late joiners). */
struct ezr_frame *ezr_frame_restamp(const struct ezr_frame *f, uint32_t timestamp,
                                    uint32_t chunk_size);
struct ezr_frame *ezr_frame_ref(struct ezr_frame *f);
void ezr_frame_unref(struct ezr_frame *f);

/* Room in front of the FLV tag for one fixed prefix written once and shared like the tag (the
 * header of a WebSocket binary frame: at most 10 bytes). */
#define EZR_FRAME_FLV_HEADROOM 10u
/* Makes f->flv (once): the FLV tag of the frame, at f->flv + EZR_FRAME_FLV_HEADROOM. Reactor
 * thread only (see flv above). Returns 1 when this call made it, 0 when it was already made, or
 * EZR_ENOMEM. */
int ezr_frame_flv(struct ezr_frame *f);

/* The message body inside the chunks is not contiguous: this gathers it (ezr_frame_flv builds the
 * FLV tag with it, and the tests compare bodies with it). Returns payload_len bytes written to
 * out (which must hold payload_len). */
size_t ezr_frame_copy_payload(const struct ezr_frame *f, uint8_t *out);

static inline int ezr_frame_is_video(const struct ezr_frame *f)
{
    return f->kind == EZR_FRAME_VIDEO;
}

#endif
