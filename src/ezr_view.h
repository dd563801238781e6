/* The names of a frame's views: each output's serialisation of a shared frame (ezr_frame.h makes
 * and keeps them). Apart from the frame so that the protocol ops table (ezr_client_proto.h), at
 * the bottom of the library, can name the view a protocol sends. */
#ifndef EZR_VIEW_H
#define EZR_VIEW_H

#include <stddef.h>
#include <stdint.h>

struct ezr_frame;

/* The outputs' serialisations of a frame, one slot each. */
enum ezr_frame_view_id {
    EZR_VIEW_RTMP,   /* the RTMP message as chunks (ezr_proto_rtmp.c) */
    EZR_VIEW_FLV,    /* the FLV tag with its PreviousTagSize (HTTP-FLV) */
    EZR_VIEW_WS_FLV, /* the FLV tag as one WebSocket binary message (WebSocket-FLV) */
    EZR_VIEW_CMAF,   /* moof + mdat header of the frame as one CMAF chunk (HLS) */
    EZR_NVIEWS,
};

/* One view: bytes the frame owns (freed with it), NULL until made. */
struct ezr_frame_view {
    uint8_t *bytes;
    size_t len;
};

/* Makes a view of f (ezr_frame_view): fills *out with bytes it allocated (the frame owns them
 * from then on). arg is the maker's own (the CMAF view needs the muxer's sample numbering).
 * Returns 0 or EZR_ENOMEM. */
typedef int (*ezr_frame_view_fn)(const struct ezr_frame *f, void *arg, struct ezr_frame_view *out);

#endif
