/* Shared serialised frames; see ezr_frame.h. */
#include "ezr_frame.h"

#include <stdlib.h>
#include <string.h>

#include "ezr_buf.h"
#include "ezr_chunk.h"
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
    struct ezr_frame *f = malloc(sizeof *f + len);
    if (!f)
        return NULL;
    atomic_init(&f->refs, 1);
    f->kind = kind;
    f->flags = flags;
    f->timestamp = timestamp;
    f->chunk_size = chunk_size;
    f->payload_len = payload_len;
    f->len = len;
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
    uint8_t *payload = malloc(f->payload_len ? f->payload_len : 1);
    if (!payload)
        return NULL;
    ezr_frame_copy_payload(f, payload);
    struct ezr_frame *n =
        ezr_frame_new(f->kind, f->flags, timestamp, payload, f->payload_len, chunk_size);
    free(payload);
    return n;
}

struct ezr_frame *ezr_frame_ref(struct ezr_frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void ezr_frame_unref(struct ezr_frame *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
        free(f);
}
