/* FLV push parser; see ezr_flv_parser.h. Layout (FLV spec 10.1, Annex E): a 9-byte header whose
 * last field is the header size, PreviousTagSize0, then tags of 11-byte header + body, each
 * followed by a 4-byte PreviousTagSize. */
#include "ezr_flv_parser.h"

#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"

#define FLV_HEADER_MIN 9u
#define TAG_HEADER 11u
#define PREV_TAG_SIZE 4u

void ezr_flv_parser_init(struct ezr_flv_parser *p)
{
    memset(p, 0, sizeof *p);
}

void ezr_flv_parser_reset(struct ezr_flv_parser *p)
{
    p->len = 0;
    p->skip = 0;
    p->started = false;
}

void ezr_flv_parser_clear(struct ezr_flv_parser *p)
{
    free(p->buf);
    ezr_flv_parser_init(p);
}

const char *ezr_flv_strerror(int err)
{
    switch (err) {
    case EZR_FLV_EBADHEADER:
        return "not an FLV stream (bad signature or version)";
    case EZR_FLV_ETOOBIG:
        return "FLV tag larger than 8 MiB";
    case EZR_FLV_EBADTAG:
        return "unknown or encrypted FLV tag";
    case EZR_FLV_ENOMEM:
        return "out of memory";
    default:
        return "FLV parse error";
    }
}

static uint32_t be24(const uint8_t *b)
{
    return ((uint32_t)b[0] << 16) | ((uint32_t)b[1] << 8) | b[2];
}

/* Is the AMF0 string at b the given name? */
static bool amf0_string_is(const uint8_t *b, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len >= 3 + n && b[0] == 0x02 && ((size_t)b[1] << 8 | b[2]) == n &&
           memcmp(b + 3, name, n) == 0;
}

/* Enhanced RTMP (E-RTMP v2, "Enhanced Video" and "Enhanced Audio"): the low nibble of the first
 * byte is a packet type. Values shared by audio and video; the rest differ. */
#define EX_SEQUENCE_START 0
#define EX_CODED_FRAMES 1
#define EX_SEQUENCE_END 2
#define EX_MODEX 7
#define EX_VIDEO_CODED_FRAMES_X 3
#define EX_VIDEO_METADATA 4
#define EX_VIDEO_MPEG2TS_SEQUENCE_START 5
#define EX_VIDEO_MULTITRACK 6
#define EX_AUDIO_MULTICHANNEL_CONFIG 4
#define EX_AUDIO_MULTITRACK 5
#define EX_FOURCC 4
#define VIDEO_FRAME_KEY 1
#define VIDEO_FRAME_COMMAND 5

/* Follows ModEx wrappers: while the packet type is ModEx, skip its data (size UI8 + 1, or
 * UI16 + 1 when the UI8 is 255) and read the next byte, whose low nibble is the next packet type.
 * *pos is just past the byte that gave packet. Returns the real packet type, or -1 if the body
 * ends first. */
static int follow_modex(const uint8_t *b, size_t len, size_t *pos, unsigned packet)
{
    while (packet == EX_MODEX) {
        if (*pos >= len)
            return -1;
        size_t size = (size_t)b[(*pos)++] + 1;
        if (size == 256) {
            if (len - *pos < 2)
                return -1;
            size = ((size_t)b[*pos] << 8 | b[*pos + 1]) + 1;
            *pos += 2;
        }
        /* The data, then the byte with the modifier type and the next packet type. */
        if (len - *pos < size + 1)
            return -1;
        *pos += size;
        packet = b[(*pos)++] & 0x0F;
    }
    return (int)packet;
}

static uint32_t refuse(uint8_t *refusal, enum ezr_flv_refusal why)
{
    if (refusal)
        *refusal = (uint8_t)why;
    return EZR_FLV_REFUSED;
}

/* ExVideoTagHeader: frame type in bits 4-6, packet type in 0-3. */
static uint32_t classify_ex_video(const uint8_t *b, size_t len, uint8_t *refusal)
{
    unsigned frame = (b[0] >> 4) & 7;
    size_t pos = 1;
    int packet = follow_modex(b, len, &pos, b[0] & 0x0F);
    if (packet < 0)
        return refuse(refusal, EZR_FLV_REFUSAL_TRUNCATED);
    /* Metadata (HDR colorInfo, ...) ignores the frame type. It is neither a header nor a
     * keyframe: caching it as the sequence header would take the codec configuration away from
     * joiners. */
    if (packet == EX_VIDEO_METADATA)
        return 0;
    if (frame == VIDEO_FRAME_COMMAND)
        return EZR_FLV_NOT_MEDIA;
    if (packet == EX_VIDEO_MULTITRACK)
        return refuse(refusal, EZR_FLV_REFUSAL_MULTITRACK);
    if (packet > EX_VIDEO_MULTITRACK)
        return refuse(refusal, EZR_FLV_REFUSAL_PACKET_TYPE);
    if (len - pos < EX_FOURCC)
        return refuse(refusal, EZR_FLV_REFUSAL_TRUNCATED);
    switch (packet) {
    case EX_SEQUENCE_START:
    case EX_VIDEO_MPEG2TS_SEQUENCE_START:
        return EZR_FLV_SEQ_HEADER;
    case EX_SEQUENCE_END:
        return EZR_FLV_NOT_MEDIA;
    default: /* CodedFrames, CodedFramesX */
        return frame == VIDEO_FRAME_KEY ? EZR_FLV_KEYFRAME : 0;
    }
}

/* ExAudioTagHeader: SoundFormat 9 in the high nibble, packet type in the low one. */
static uint32_t classify_ex_audio(const uint8_t *b, size_t len, uint8_t *refusal)
{
    size_t pos = 1;
    int packet = follow_modex(b, len, &pos, b[0] & 0x0F);
    if (packet < 0)
        return refuse(refusal, EZR_FLV_REFUSAL_TRUNCATED);
    if (packet == EX_AUDIO_MULTITRACK)
        return refuse(refusal, EZR_FLV_REFUSAL_MULTITRACK);
    if (packet != EX_SEQUENCE_START && packet != EX_CODED_FRAMES && packet != EX_SEQUENCE_END &&
        packet != EX_AUDIO_MULTICHANNEL_CONFIG)
        return refuse(refusal, EZR_FLV_REFUSAL_PACKET_TYPE);
    if (len - pos < EX_FOURCC)
        return refuse(refusal, EZR_FLV_REFUSAL_TRUNCATED);
    /* MultichannelConfig is relayed as audio, not cached as the header: the cache keeps one
     * audio header, and the SequenceStart is the one a decoder cannot do without. */
    return packet == EX_SEQUENCE_START ? EZR_FLV_SEQ_HEADER : 0;
}

/* After an optional @setDataFrame, the name of a script tag: onMetaData is the stream's metadata,
 * anything else (onCuePoint, onTextData, onCaption, ...) is live data. */
static uint32_t classify_script(const uint8_t *b, size_t len)
{
    size_t n = strlen("@setDataFrame") + 3;
    if (amf0_string_is(b, len, "@setDataFrame")) {
        b += n;
        len -= n;
    }
    if (len == 0)
        return EZR_FLV_NOT_MEDIA;
    return amf0_string_is(b, len, "onMetaData") ? EZR_FLV_METADATA : EZR_FLV_LIVE_DATA;
}

uint32_t ezr_flv_classify(uint8_t type, const uint8_t *b, size_t len, uint8_t *refusal)
{
    if (refusal)
        *refusal = EZR_FLV_REFUSAL_NONE;
    if (len == 0)
        return EZR_FLV_NOT_MEDIA;
    if (type == EZR_FLV_SCRIPT)
        return classify_script(b, len);
    if (type == EZR_FLV_VIDEO) {
        if (b[0] & 0x80)
            return classify_ex_video(b, len, refusal);
        unsigned frame = b[0] >> 4, codec = b[0] & 0x0F;
        if (frame == VIDEO_FRAME_COMMAND)
            return EZR_FLV_NOT_MEDIA;
        if (codec == 7 || codec == 12) { /* AVC, HEVC: an AVCPacketType follows */
            if (len < 2)
                return EZR_FLV_NOT_MEDIA;
            if (b[1] == 0)
                return EZR_FLV_SEQ_HEADER;
            if (b[1] == 2)
                return EZR_FLV_NOT_MEDIA;
        }
        return frame == VIDEO_FRAME_KEY ? EZR_FLV_KEYFRAME : 0;
    }
    unsigned format = b[0] >> 4;
    if (format == 9)
        return classify_ex_audio(b, len, refusal);
    if (format == 10 && len >= 2 && b[1] == 0)
        return EZR_FLV_SEQ_HEADER; /* AAC AudioSpecificConfig */
    return 0;
}

const char *ezr_flv_refusal_str(uint8_t refusal)
{
    switch (refusal) {
    case EZR_FLV_REFUSAL_MULTITRACK:
        return "enhanced RTMP multitrack";
    case EZR_FLV_REFUSAL_PACKET_TYPE:
        return "enhanced RTMP reserved packet type";
    case EZR_FLV_REFUSAL_TRUNCATED:
        return "truncated enhanced RTMP header";
    default:
        return "no refusal";
    }
}

/* Emits one complete tag whose 11-byte header starts at t. */
static int emit(const uint8_t *t, ezr_flv_tag_fn fn, void *ctx)
{
    struct ezr_flv_tag tag = {
        .type = t[0] & 0x1F,
        .timestamp = be24(t + 4) | ((uint32_t)t[7] << 24),
        .body = t + TAG_HEADER,
        .len = be24(t + 1),
    };
    tag.flags = ezr_flv_classify(tag.type, tag.body, tag.len, &tag.refusal);
    /* @setDataFrame is what a publisher says to a server ("keep this data frame"); players
     * expect the frame itself. */
    if (tag.type == EZR_FLV_SCRIPT && amf0_string_is(tag.body, tag.len, "@setDataFrame")) {
        size_t n = 3 + strlen("@setDataFrame");
        tag.body += n;
        tag.len -= n;
    }
    return fn(ctx, &tag);
}

/* How many bytes the unit at b needs (0: not known yet), or a negative error. */
static long unit_size(struct ezr_flv_parser *p, const uint8_t *b, size_t have, bool *is_header)
{
    *is_header = false;
    if (!p->started && have >= 1 && b[0] == 'F') {
        if (have < FLV_HEADER_MIN)
            return 0;
        if (b[1] != 'L' || b[2] != 'V' || b[3] != 1)
            return EZR_FLV_EBADHEADER;
        *is_header = true;
        return FLV_HEADER_MIN; /* the rest of the header, if any, is skipped */
    }
    if (have < TAG_HEADER)
        return 0;
    uint8_t type = b[0];
    if (type & 0x20)
        return EZR_FLV_EBADTAG; /* filter/encrypted */
    if (type != EZR_FLV_AUDIO && type != EZR_FLV_VIDEO && type != EZR_FLV_SCRIPT)
        return EZR_FLV_EBADTAG;
    uint32_t size = be24(b + 1);
    if (size > EZR_FLV_MAX_TAG_SIZE)
        return EZR_FLV_ETOOBIG;
    return (long)(TAG_HEADER + size);
}

/* Handles a complete unit at b of size n. */
static int unit_done(struct ezr_flv_parser *p, const uint8_t *b, bool is_header,
                     ezr_flv_tag_fn fn, void *ctx)
{
    p->started = true;
    if (is_header) {
        uint32_t data_offset = ((uint32_t)b[5] << 24) | be24(b + 6);
        p->skip = (data_offset > FLV_HEADER_MIN ? data_offset - FLV_HEADER_MIN : 0) + PREV_TAG_SIZE;
        return 0;
    }
    p->skip = PREV_TAG_SIZE;
    return emit(b, fn, ctx);
}

int ezr_flv_parser_feed(struct ezr_flv_parser *p, const uint8_t *data, size_t len,
                        ezr_flv_tag_fn fn, void *ctx)
{
    while (len) {
        if (p->skip) {
            size_t n = len < p->skip ? len : p->skip;
            p->skip -= n;
            data += n;
            len -= n;
            continue;
        }
        bool is_header;
        if (p->len == 0) {
            /* Fast path: whole units straight from the caller's memory. */
            long need = unit_size(p, data, len, &is_header);
            if (need < 0)
                return (int)need;
            if (need > 0 && (size_t)need <= len) {
                int rc = unit_done(p, data, is_header, fn, ctx);
                if (rc < 0)
                    return rc;
                data += need;
                len -= (size_t)need;
                continue;
            }
        }
        /* Partial unit: gather into buf. Its size is known once its header is in. */
        long need = p->len ? unit_size(p, p->buf, p->len, &is_header) : 0;
        if (need < 0)
            return (int)need;
        /* Until the unit's header is in, take no more than that header: an FLV file header is
         * shorter than a tag header, and what follows it is to be skipped. */
        uint8_t first = p->len ? p->buf[0] : data[0];
        size_t head = !p->started && first == 'F' ? FLV_HEADER_MIN : TAG_HEADER;
        size_t want = need > 0 ? (size_t)need - p->len : head - p->len;
        size_t n = len < want ? len : want;
        if (p->len + n > p->cap) {
            size_t cap = p->cap ? p->cap : 4096;
            while (cap < p->len + n)
                cap *= 2;
            uint8_t *nb = ezr_realloc(p->buf, cap);
            if (!nb)
                return EZR_FLV_ENOMEM;
            p->buf = nb;
            p->cap = cap;
        }
        memcpy(p->buf + p->len, data, n);
        p->len += n;
        data += n;
        len -= n;
        need = unit_size(p, p->buf, p->len, &is_header);
        if (need < 0)
            return (int)need;
        if (need > 0 && p->len >= (size_t)need) {
            p->len = 0;
            int rc = unit_done(p, p->buf, is_header, fn, ctx);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}
