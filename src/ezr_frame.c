/* Shared serialised frames; see ezr_frame.h. */
#include "ezr_frame.h"

#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_buf.h"
#include "ezr_chunk.h"
#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_proto.h"

static uint32_t csid_for_kind(uint8_t kind)
{
    switch (kind) {
    case EZR_MSG_AUDIO:
        return EZR_CSID_AUDIO;
    case EZR_MSG_VIDEO:
        return EZR_CSID_VIDEO;
    default:
        return EZR_CSID_DATA;
    }
}

struct ezr_frame *ezr_frame_new(uint8_t kind, uint32_t flags, uint32_t timestamp,
                                const uint8_t *payload, size_t payload_len, uint32_t chunk_size)
{
    uint32_t csid = csid_for_kind(kind);
    size_t len = ezr_chunk_write_size(csid, timestamp, payload_len, chunk_size);
    struct ezr_frame *f = ezr_malloc(sizeof *f + len);
    if (!f)
        return NULL;
    atomic_init(&f->refs, 1);
    f->kind = kind;
    f->flags = flags;
    f->timestamp = timestamp;
    f->chunk_size = chunk_size;
    f->payload_len = payload_len;
    f->len = len;
    f->flv = NULL;
    f->flv_len = f->flv_prefix_len = 0;
    f->pushed_us = 0;
    /* Serialise straight into the frame: an ezr_buf over our own storage, which never needs to
     * grow because ezr_chunk_write_size() is exact. */
    struct ezr_buf b = {.data = f->data, .len = 0, .cap = len, .failed = false};
    ezr_chunk_write(&b, csid, timestamp, kind, EZR_MEDIA_MSID, payload, payload_len, chunk_size);
    if (b.failed || b.len != len || b.data != f->data) {
        if (b.data != f->data)
            free(b.data);
        free(f);
        return NULL;
    }
    return f;
}

size_t ezr_frame_copy_payload(const struct ezr_frame *f, uint8_t *out)
{
    /* The first chunk has a type-0 header, the rest type-3; each may carry a 4-byte extended
     * timestamp. */
    uint32_t csid = csid_for_kind(f->kind);
    size_t basic = csid < 64 ? 1 : csid < 320 ? 2 : 3;
    size_t ext = f->timestamp >= 0xFFFFFF ? 4 : 0;
    size_t pos = basic + 11 + ext, copied = 0;
    while (copied < f->payload_len) {
        size_t n = f->payload_len - copied;
        if (n > f->chunk_size)
            n = f->chunk_size;
        memcpy(out + copied, f->data + pos, n);
        copied += n;
        pos += n + basic + ext;
    }
    return copied;
}

struct ezr_frame *ezr_frame_restamp(const struct ezr_frame *f, uint32_t timestamp,
                                    uint32_t chunk_size)
{
    uint8_t *payload = ezr_malloc(f->payload_len ? f->payload_len : 1);
    if (!payload)
        return NULL;
    ezr_frame_copy_payload(f, payload);
    struct ezr_frame *n =
        ezr_frame_new(f->kind, f->flags, timestamp, payload, f->payload_len, chunk_size);
    free(payload);
    return n;
}

int ezr_frame_flv(struct ezr_frame *f)
{
    if (f->flv)
        return 0; /* made for an earlier player: shared */
    size_t tag = 11 + f->payload_len + 4;
    uint8_t *p = ezr_malloc(EZR_FRAME_FLV_HEADROOM + tag);
    if (!p)
        return EZR_ENOMEM;
    uint8_t *t = p + EZR_FRAME_FLV_HEADROOM;
    /* Tag header: type, body size (24 bits), timestamp (low 24 bits, then the high 8), stream id
     * 0 (FLV spec E.4.1). */
    t[0] = f->kind;
    t[1] = (uint8_t)(f->payload_len >> 16);
    t[2] = (uint8_t)(f->payload_len >> 8);
    t[3] = (uint8_t)f->payload_len;
    t[4] = (uint8_t)(f->timestamp >> 16);
    t[5] = (uint8_t)(f->timestamp >> 8);
    t[6] = (uint8_t)f->timestamp;
    t[7] = (uint8_t)(f->timestamp >> 24);
    t[8] = t[9] = t[10] = 0;
    ezr_frame_copy_payload(f, t + 11);
    uint32_t prev = (uint32_t)(11 + f->payload_len);
    uint8_t *e = t + 11 + f->payload_len;
    e[0] = (uint8_t)(prev >> 24);
    e[1] = (uint8_t)(prev >> 16);
    e[2] = (uint8_t)(prev >> 8);
    e[3] = (uint8_t)prev;
    f->flv = p;
    f->flv_len = tag;
    return 1;
}

struct ezr_frame *ezr_frame_ref(struct ezr_frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void ezr_frame_unref(struct ezr_frame *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) {
        free(f->flv);
        free(f);
    }
}
