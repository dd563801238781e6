/* Shared frames and their views; see ezr_frame.h. */
#include "ezr_frame.h"

#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_buf.h"
#include "ezr_chunk.h"
#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_proto.h"

static void init_frame(struct ezr_frame *f, uint8_t kind, uint32_t flags, uint32_t timestamp,
                       size_t payload_len, uint32_t chunk_size)
{
    atomic_init(&f->refs, 1);
    f->kind = kind;
    f->flags = flags;
    f->timestamp = timestamp;
    f->chunk_size = chunk_size;
    f->payload_len = payload_len;
    f->pushed_us = 0;
    memset(f->views, 0, sizeof f->views);
}

struct ezr_frame *ezr_frame_new(uint8_t kind, uint32_t flags, uint32_t timestamp,
                                const uint8_t *payload, size_t payload_len, uint32_t chunk_size)
{
    struct ezr_frame *f = ezr_malloc(sizeof *f + payload_len);
    if (!f)
        return NULL;
    init_frame(f, kind, flags, timestamp, payload_len, chunk_size);
    if (payload_len)
        memcpy(f->data, payload, payload_len);
    return f;
}

struct ezr_frame *ezr_frame_new_bytes(uint8_t *bytes, size_t len)
{
    struct ezr_frame *f = ezr_frame_new(EZR_FRAME_BYTES, 0, 0, bytes, len, 0);
    free(bytes);
    return f;
}

struct ezr_frame *ezr_frame_restamp(const struct ezr_frame *f, uint32_t timestamp,
                                    uint32_t chunk_size)
{
    return ezr_frame_new(f->kind, f->flags, timestamp, f->data, f->payload_len, chunk_size);
}

int ezr_frame_view_make(struct ezr_frame *f, enum ezr_frame_view_id id, ezr_frame_view_fn make,
                        void *arg)
{
    struct ezr_frame_view *v = &f->views[id];
    struct ezr_frame_view made = {0};
    if (make(f, arg, &made) < 0 || !made.bytes) {
        free(made.bytes);
        return EZR_ENOMEM;
    }
    *v = made;
    return 1;
}

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

int ezr_frame_make_rtmp(const struct ezr_frame *f, void *arg, struct ezr_frame_view *out)
{
    (void)arg;
    uint32_t csid = csid_for_kind(f->kind);
    size_t len = ezr_chunk_write_size(csid, f->timestamp, f->payload_len, f->chunk_size);
    uint8_t *mem = ezr_malloc(len ? len : 1);
    if (!mem)
        return EZR_ENOMEM;
    /* Serialise straight into the view: an ezr_buf over our own storage, which never needs to
     * grow because ezr_chunk_write_size() is exact. */
    struct ezr_buf b = {.data = mem, .len = 0, .cap = len, .failed = false};
    ezr_chunk_write(&b, csid, f->timestamp, f->kind, EZR_MEDIA_MSID, f->data, f->payload_len,
                    f->chunk_size);
    if (b.failed || b.len != len || b.data != mem) {
        if (b.data != mem)
            free(b.data);
        free(mem);
        return EZR_ENOMEM;
    }
    out->bytes = mem;
    out->len = len;
    return 0;
}

size_t ezr_frame_write_flv_tag(const struct ezr_frame *f, uint8_t *t)
{
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
    memcpy(t + 11, f->data, f->payload_len);
    uint32_t prev = (uint32_t)(11 + f->payload_len);
    uint8_t *e = t + 11 + f->payload_len;
    e[0] = (uint8_t)(prev >> 24);
    e[1] = (uint8_t)(prev >> 16);
    e[2] = (uint8_t)(prev >> 8);
    e[3] = (uint8_t)prev;
    return EZR_FRAME_FLV_TAG_LEN(f);
}

int ezr_frame_make_flv(const struct ezr_frame *f, void *arg, struct ezr_frame_view *out)
{
    (void)arg;
    uint8_t *t = ezr_malloc(EZR_FRAME_FLV_TAG_LEN(f));
    if (!t)
        return EZR_ENOMEM;
    out->len = ezr_frame_write_flv_tag(f, t);
    out->bytes = t;
    return 0;
}

struct ezr_frame *ezr_frame_ref(struct ezr_frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void ezr_frame_unref(struct ezr_frame *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) {
        for (size_t i = 0; i < EZR_NVIEWS; i++)
            free(f->views[i].bytes);
        free(f);
    }
}
