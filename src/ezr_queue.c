/* Per-client write queue with tiered backpressure; see ezr_queue.h. */
#include "ezr_queue.h"

#include <stdlib.h>
#include <string.h>

#include "ezr_error.h"

#define QUEUE_INITIAL_CAP 16

void ezr_queue_init(struct ezr_queue *q)
{
    memset(q, 0, sizeof *q);
    q->need_keyframe = true;
    q->want_audio = true;
    q->want_video = true;
}

static struct ezr_queue_item *item_at(const struct ezr_queue *q, size_t i)
{
    return &q->items[(q->head + i) % q->cap];
}

static void release(struct ezr_queue_item *it)
{
    if (it->frame)
        ezr_frame_unref(it->frame);
    else
        free((void *)it->bytes);
}

void ezr_queue_clear(struct ezr_queue *q)
{
    for (size_t i = 0; i < q->count; i++)
        release(item_at(q, i));
    free(q->items);
    bool audio = q->want_audio, video = q->want_video;
    ezr_queue_init(q);
    q->want_audio = audio;
    q->want_video = video;
}

static int append(struct ezr_queue *q, struct ezr_queue_item it)
{
    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : QUEUE_INITIAL_CAP;
        struct ezr_queue_item *p = malloc(cap * sizeof *p);
        if (!p)
            return EZR_ENOMEM;
        for (size_t i = 0; i < q->count; i++)
            p[i] = *item_at(q, i);
        free(q->items);
        q->items = p;
        q->head = 0;
        q->cap = cap;
    }
    *item_at(q, q->count) = it;
    q->count++;
    q->bytes += it.len;
    return 0;
}

enum ezr_queue_level ezr_queue_level(const struct ezr_queue *q, const struct ezr_queue_limits *l)
{
    if (q->bytes >= l->max_bytes)
        return EZR_QUEUE_CRITICAL;
    if (q->bytes >= l->high_bytes)
        return EZR_QUEUE_HIGH;
    if (q->bytes >= l->warning_bytes)
        return EZR_QUEUE_WARNING;
    return EZR_QUEUE_NORMAL;
}

enum ezr_queue_verdict ezr_queue_offer(struct ezr_queue *q, struct ezr_frame *f,
                                       const uint8_t *bytes, size_t len,
                                       const struct ezr_queue_limits *l)
{
    enum ezr_queue_level level = ezr_queue_level(q, l);
    if (level == EZR_QUEUE_CRITICAL)
        return EZR_QUEUE_OVERFLOW;
    bool video = f->kind == EZR_FRAME_VIDEO;
    bool header = (f->flags & EZR_FRAME_HEADER) || f->kind == EZR_FRAME_SCRIPT;
    bool key = video && (f->flags & EZR_FRAME_KEY);
    if ((video && !q->want_video && !header) || (f->kind == EZR_FRAME_AUDIO && !q->want_audio))
        return EZR_QUEUE_DROPPED;
    if (!header) {
        bool keep;
        if (video && !key)
            keep = level == EZR_QUEUE_NORMAL && !q->need_keyframe;
        else if (video)
            keep = true; /* keyframes survive every level below critical */
        else
            keep = level < EZR_QUEUE_HIGH; /* audio */
        if (!keep) {
            q->dropped[level]++;
            if (video)
                q->need_keyframe = true;
            return EZR_QUEUE_DROPPED;
        }
        if (key)
            q->need_keyframe = false;
    }
    if (append(q, (struct ezr_queue_item){.frame = ezr_frame_ref(f), .bytes = bytes, .len = len}) <
        0) {
        ezr_frame_unref(f);
        return EZR_QUEUE_OVERFLOW;
    }
    return q->bytes >= l->max_bytes ? EZR_QUEUE_OVERFLOW : EZR_QUEUE_QUEUED;
}

int ezr_queue_push_bytes(struct ezr_queue *q, const uint8_t *bytes, size_t len)
{
    if (len == 0)
        return 0;
    uint8_t *copy = malloc(len);
    if (!copy)
        return EZR_ENOMEM;
    memcpy(copy, bytes, len);
    if (append(q, (struct ezr_queue_item){.bytes = copy, .len = len}) < 0) {
        free(copy);
        return EZR_ENOMEM;
    }
    return 0;
}

int ezr_queue_iov(const struct ezr_queue *q, struct iovec *iov, int max)
{
    int n = 0;
    for (size_t i = 0; i < q->count && n < max; i++, n++) {
        const struct ezr_queue_item *it = item_at(q, i);
        const uint8_t *base = it->bytes;
        size_t skip = i == 0 ? q->offset : 0;
        iov[n].iov_base = (void *)(base + skip);
        iov[n].iov_len = it->len - skip;
    }
    return n;
}

void ezr_queue_advance(struct ezr_queue *q, size_t n)
{
    q->bytes_written += n;
    q->bytes -= n;
    while (n && q->count) {
        struct ezr_queue_item *it = item_at(q, 0);
        size_t left = it->len - q->offset;
        if (n < left) {
            q->offset += n;
            return;
        }
        n -= left;
        release(it);
        q->head = (q->head + 1) % q->cap;
        q->count--;
        q->offset = 0;
    }
    /* A backlog (a late joiner's GOP, a slow moment) grew the ring: give the memory back once it
     * is written, so that an idle player costs the initial ring only. */
    if (q->count == 0 && q->cap > QUEUE_INITIAL_CAP) {
        free(q->items);
        q->items = NULL;
        q->cap = 0;
        q->head = 0;
    }
}
