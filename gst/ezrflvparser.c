/* FLV push parser; see ezrflvparser.h. Layout (FLV spec 10.1, Annex E): a 9-byte header whose
 * last field is the header size, PreviousTagSize0, then tags of 11-byte header + body, each
 * followed by a 4-byte PreviousTagSize. */
#include "ezrflvparser.h"

#include <stdlib.h>
#include <string.h>

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

uint32_t ezr_flv_classify(uint8_t type, const uint8_t *b, size_t len)
{
    if (len == 0)
        return EZR_FLV_NOT_MEDIA;
    if (type == EZR_FLV_VIDEO) {
        if (b[0] & 0x80) {
            /* Enhanced RTMP ExVideoTagHeader: frame type in bits 4-6, packet type in 0-3. */
            unsigned frame = (b[0] >> 4) & 7, packet = b[0] & 0x0F;
            if (frame == 5 || packet == 2 || packet > 5)
                return EZR_FLV_NOT_MEDIA; /* command frame, sequence end, metadata, ... */
            if (packet == 0 || packet == 4)
                return EZR_FLV_SEQ_HEADER;
            return frame == 1 ? EZR_FLV_KEYFRAME : 0;
        }
        unsigned frame = b[0] >> 4, codec = b[0] & 0x0F;
        if (frame == 5)
            return EZR_FLV_NOT_MEDIA;
        if (codec == 7 || codec == 12) { /* AVC, HEVC: an AVCPacketType follows */
            if (len < 2)
                return EZR_FLV_NOT_MEDIA;
            if (b[1] == 0)
                return EZR_FLV_SEQ_HEADER;
            if (b[1] == 2)
                return EZR_FLV_NOT_MEDIA;
        }
        return frame == 1 ? EZR_FLV_KEYFRAME : 0;
    }
    if (type == EZR_FLV_AUDIO) {
        unsigned format = b[0] >> 4;
        if (format == 10 && len >= 2 && b[1] == 0)
            return EZR_FLV_SEQ_HEADER; /* AAC AudioSpecificConfig */
        if (format == 9 && (b[0] & 0x0F) == 0)
            return EZR_FLV_SEQ_HEADER; /* enhanced audio: SequenceStart */
        return 0;
    }
    if (amf0_string_is(b, len, "onMetaData"))
        return EZR_FLV_METADATA;
    if (amf0_string_is(b, len, "@setDataFrame")) {
        size_t n = 3 + strlen("@setDataFrame");
        if (amf0_string_is(b + n, len - n, "onMetaData"))
            return EZR_FLV_METADATA;
    }
    return EZR_FLV_NOT_MEDIA;
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
    tag.flags = ezr_flv_classify(tag.type, tag.body, tag.len);
    if (tag.type == EZR_FLV_SCRIPT && (tag.flags & EZR_FLV_METADATA) &&
        amf0_string_is(tag.body, tag.len, "@setDataFrame")) {
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
            uint8_t *nb = realloc(p->buf, cap);
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
