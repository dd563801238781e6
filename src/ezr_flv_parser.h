/* A push parser for FLV as flvmux writes it: an optional file header, then tags each followed by
 * its PreviousTagSize. Bytes go in in any slices (a tag may span calls, a call may hold many tags);
 * whole tags come out through a callback, classified for the server (keyframe, sequence header,
 * metadata), ready for ezr_stream_push().
 *
 * It is part of the library, not of the element: it is plain C with no GLib and no I/O (like the
 * protocol cores), what every producer of FLV bytes needs in front of ezr_stream_push() (the
 * element, an embedder reading ffmpeg's FLV output), and so the element, the unit tests and the
 * fuzzer all reach it through libezrtmp, built and tested with or without GStreamer. */
#ifndef EZR_FLV_PARSER_H
#define EZR_FLV_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ezr_flv_tag_type {
    EZR_FLV_AUDIO = 8,
    EZR_FLV_VIDEO = 9,
    EZR_FLV_SCRIPT = 18,
};

enum ezr_flv_tag_flags {
    EZR_FLV_KEYFRAME = 1u << 0, /* video: a decoder can start here */
    /* AVC/HEVC configuration, enhanced SequenceStart or MPEG2TSSequenceStart, AAC config */
    EZR_FLV_SEQ_HEADER = 1u << 1,
    EZR_FLV_METADATA = 1u << 2,  /* script: onMetaData (an @setDataFrame wrapper is stripped) */
    EZR_FLV_NOT_MEDIA = 1u << 3, /* video info/command frame, end of sequence: nothing to relay */
    /* Script data other than onMetaData (onCuePoint, onTextData, onCaption, ...): relayed as it
     * happens, never kept for late joiners. */
    EZR_FLV_LIVE_DATA = 1u << 4,
    /* An enhanced RTMP tag this server cannot relay correctly; ezr_flv_tag.refusal says why. */
    EZR_FLV_REFUSED = 1u << 5,
};

/* Why a tag is EZR_FLV_REFUSED. */
enum ezr_flv_refusal {
    EZR_FLV_REFUSAL_NONE = 0,
    /* Multitrack audio or video: every track has its own sequence header and keyframes, and the
     * cache keeps one header per kind and starts joiners on one keyframe. */
    EZR_FLV_REFUSAL_MULTITRACK,
    /* A packet type the enhanced RTMP specification reserves (the spec asks receivers to fail
     * in a controlled way rather than guess). */
    EZR_FLV_REFUSAL_PACKET_TYPE,
    /* The enhanced header (a ModEx wrapper, the FourCC) ends before the tag's packet type is
     * known. */
    EZR_FLV_REFUSAL_TRUNCATED,
};

struct ezr_flv_tag {
    uint8_t type;        /* enum ezr_flv_tag_type */
    uint32_t timestamp;  /* ms, with the extended byte */
    uint32_t flags;      /* enum ezr_flv_tag_flags */
    uint8_t refusal;     /* enum ezr_flv_refusal: set with EZR_FLV_REFUSED */
    const uint8_t *body; /* the tag body: an RTMP message payload; valid during the callback */
    size_t len;
};

/* Tag bodies larger than this are refused, to bound what one partial tag may buffer. The FLV
 * field allows 16 MiB; 8 MiB is still several times the largest keyframe of a 4K stream at
 * broadcast bitrates. */
#define EZR_FLV_MAX_TAG_SIZE (8u * 1024u * 1024u)

enum ezr_flv_error {
    EZR_FLV_EBADHEADER = -100, /* "FLV" signature or version wrong */
    EZR_FLV_ETOOBIG = -101,    /* tag larger than EZR_FLV_MAX_TAG_SIZE */
    EZR_FLV_EBADTAG = -102,    /* unknown tag type or encrypted tag */
    EZR_FLV_ENOMEM = -103,
};

/* Return 0 to go on, or a negative value to stop; feed returns it. */
typedef int (*ezr_flv_tag_fn)(void *ctx, const struct ezr_flv_tag *tag);

struct ezr_flv_parser {
    uint8_t *buf; /* at most one partial unit (header or tag) */
    size_t len;
    size_t cap;
    size_t skip;  /* bytes still to skip: PreviousTagSize, header padding */
    bool started; /* something was parsed since the last reset */
};

void ezr_flv_parser_init(struct ezr_flv_parser *p);
/* Forgets any partial tag; the next bytes may start with an FLV header or a tag. */
void ezr_flv_parser_reset(struct ezr_flv_parser *p);
/* Releases the parser's buffer. */
void ezr_flv_parser_clear(struct ezr_flv_parser *p);
/* Parses data[0..len), calling fn for every complete tag. Returns 0, a negative
 * enum ezr_flv_error, or the callback's negative value. After an error, reset before feeding. */
int ezr_flv_parser_feed(struct ezr_flv_parser *p, const uint8_t *data, size_t len,
                        ezr_flv_tag_fn fn, void *ctx);
/* Classifies a tag body (used by feed; exposed for tests). Returns enum ezr_flv_tag_flags; if
 * refusal is not NULL, it is set to the enum ezr_flv_refusal (EZR_FLV_REFUSAL_NONE unless the
 * flags hold EZR_FLV_REFUSED). */
uint32_t ezr_flv_classify(uint8_t type, const uint8_t *body, size_t len, uint8_t *refusal);
const char *ezr_flv_strerror(int err);
/* What a refusal is about, for a person: "enhanced RTMP multitrack", ... */
const char *ezr_flv_refusal_str(uint8_t refusal);

#endif
