/* Per-client write queue with tiered backpressure; see ezr_queue.h. */
#include "ezr_queue.h"

#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_error.h"

#define QUEUE_INITIAL_CAP 16

void ezr_queue_init(struct ezr_queue *q)
{
    memset(q, 0, sizeof *q);
    q->need_keyframe = true;
    q->want_audio = true;
    q->want_video = true;
}

/* The capacity is a power of two (QUEUE_INITIAL_CAP, doubled as it grows), so the ring index is
 * a mask: this runs for every player on every frame. */
_Static_assert((QUEUE_INITIAL_CAP & (QUEUE_INITIAL_CAP - 1)) == 0, "a power of two");
static struct ezr_queue_item *item_at(const struct ezr_queue *q, size_t i)
{
    return &q->items[(q->head + i) & (q->cap - 1)];
}

/* The live frame of warning_bytes or more let through uncounted (one at a time). */
static bool is_oversized(const struct ezr_queue_item *it)
{
    return it->uncounted && !it->burst;
}

/* Keeps burst_lead maximal: every item before it is of a join burst, the one at it is not. Each
 * item joins the lead once, so this costs O(1) per item queued. */
static void extend_burst_lead(struct ezr_queue *q)
{
    while (q->burst_lead < q->count && item_at(q, q->burst_lead)->burst)
        q->burst_lead++;
    if (q->burst_lead < q->count)
        q->live_ms = item_at(q, q->burst_lead)->queued_ms;
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
        struct ezr_queue_item *p = ezr_malloc(cap * sizeof *p);
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
    if (q->burst_lead == q->count - 1) {
        if (it.burst)
            q->burst_lead++;
        else
            q->live_ms = it.queued_ms; /* the first live item */
    }
    if (is_oversized(&it))
        q->oversized = true;
    q->bytes += it.len;
    if (it.uncounted)
        q->uncounted_bytes += it.len;
    if (!it.frame)
        q->owned_bytes += it.len;
    return 0;
}

static size_t live_bytes(const struct ezr_queue *q)
{
    return q->bytes - q->uncounted_bytes;
}

enum ezr_queue_level ezr_queue_level(const struct ezr_queue *q, const struct ezr_queue_limits *l)
{
    size_t live = live_bytes(q);
    if (live >= l->max_bytes)
        return EZR_QUEUE_CRITICAL;
    if (live >= l->high_bytes)
        return EZR_QUEUE_HIGH;
    if (live >= l->warning_bytes)
        return EZR_QUEUE_WARNING;
    return EZR_QUEUE_NORMAL;
}

uint64_t ezr_queue_age(const struct ezr_queue *q, uint64_t now_ms)
{
    if (!q->count || now_ms < item_at(q, 0)->queued_ms)
        return 0;
    return now_ms - item_at(q, 0)->queued_ms;
}

uint64_t ezr_queue_live_age(const struct ezr_queue *q, uint64_t now_ms)
{
    if (q->burst_lead >= q->count || now_ms < q->live_ms)
        return 0;
    return now_ms - q->live_ms;
}

/* A join burst is the replay a new player is owed whole; past the age limit only live frames
 * go. */
static bool droppable(const struct ezr_queue_item *it)
{
    const struct ezr_frame *f = it->frame;
    if (!f || it->burst || it->reply || (f->flags & EZR_FRAME_HEADER) ||
        f->kind == EZR_FRAME_SCRIPT)
        return false;
    return f->kind == EZR_FRAME_AUDIO || !(f->flags & EZR_FRAME_KEY);
}

size_t ezr_queue_shed(struct ezr_queue *q, const struct ezr_queue_limits *l, uint64_t now_ms)
{
    if (!l->max_age_ms || ezr_queue_live_age(q, now_ms) < l->max_age_ms)
        return 0;
    /* Compacts the ring in place; the head item stays if it is partly written. Burst items are
     * kept, so the lead of them stays where it is; it may grow where a live item between two
     * bursts (a replay after a restart) went. */
    size_t first = q->offset ? 1 : 0, kept = first, dropped = 0;
    for (size_t i = first; i < q->count; i++) {
        struct ezr_queue_item it = *item_at(q, i);
        if (droppable(&it)) {
            q->bytes -= it.len;
            if (it.uncounted)
                q->uncounted_bytes -= it.len;
            if (is_oversized(&it))
                q->oversized = false;
            if (ezr_frame_is_video(it.frame))
                q->need_keyframe = true;
            release(&it);
            dropped++;
            continue;
        }
        *item_at(q, kept++) = it;
    }
    q->count = kept;
    extend_burst_lead(q);
    q->dropped[EZR_QUEUE_HIGH] += dropped;
    return dropped;
}

enum ezr_queue_level ezr_queue_level_at(const struct ezr_queue *q, const struct ezr_queue_limits *l,
                                        uint64_t now_ms)
{
    enum ezr_queue_level level = ezr_queue_level(q, l);
    if (level < EZR_QUEUE_HIGH && l->max_age_ms && q->count &&
        ezr_queue_live_age(q, now_ms) >= l->max_age_ms)
        level = EZR_QUEUE_HIGH;
    return level;
}

enum ezr_queue_verdict ezr_queue_offer(struct ezr_queue *q, struct ezr_frame *f,
                                       const uint8_t *bytes, size_t len,
                                       const struct ezr_queue_limits *l, uint64_t now_ms,
                                       uint32_t flags, enum ezr_queue_level *level_out)
{
    bool burst = flags & EZR_OFFER_BURST;
    enum ezr_queue_level level = burst ? EZR_QUEUE_NORMAL : ezr_queue_level_at(q, l, now_ms);
    if (level_out)
        *level_out = level;
    if (level == EZR_QUEUE_CRITICAL)
        return EZR_QUEUE_OVERFLOW;
    bool video = f->kind == EZR_FRAME_VIDEO;
    bool header = (f->flags & EZR_FRAME_HEADER) || f->kind == EZR_FRAME_SCRIPT;
    bool key = video && (f->flags & EZR_FRAME_KEY);
    /* Not wanted (receiveVideo false, pause): dropped, and video then resumes at a keyframe. */
    if (!header && (q->paused || (video && !q->want_video) ||
                    (f->kind == EZR_FRAME_AUDIO && !q->want_audio))) {
        if (video)
            q->need_keyframe = true;
        return EZR_QUEUE_DROPPED;
    }
    if (!header) {
        bool keep;
        if (video && !key)
            keep = level == EZR_QUEUE_NORMAL && !q->need_keyframe;
        else if (video)
            keep = true; /* keyframes survive every level below critical */
        else
            /* audio; one that waits for the keyframe waits only while video is wanted */
            keep = level < EZR_QUEUE_HIGH && !(q->audio_waits_key && q->want_video);
        if (!keep) {
            q->dropped[level]++;
            if (video)
                q->need_keyframe = true;
            return EZR_QUEUE_DROPPED;
        }
        if (key)
            q->need_keyframe = q->audio_waits_key = false;
    }
    /* One oversized live frame is not lag (it may exceed every tier alone); a second while the
     * first still waits is: a player that reads nothing is then cut by the tiers. */
    bool oversized = !burst && len >= l->warning_bytes && !q->oversized;
    struct ezr_queue_item it = {.frame = ezr_frame_ref(f),
                                .bytes = bytes,
                                .len = len,
                                .queued_ms = now_ms,
                                .uncounted = burst || oversized,
                                .burst = burst};
    if (append(q, it) < 0) {
        ezr_frame_unref(f);
        return EZR_QUEUE_OVERFLOW;
    }
    return live_bytes(q) >= l->max_bytes ? EZR_QUEUE_OVERFLOW : EZR_QUEUE_QUEUED;
}

int ezr_queue_push_bytes(struct ezr_queue *q, const uint8_t *bytes, size_t len, uint64_t now_ms)
{
    if (len == 0)
        return 0;
    uint8_t *copy = ezr_malloc(len);
    if (!copy)
        return EZR_ENOMEM;
    memcpy(copy, bytes, len);
    if (append(q, (struct ezr_queue_item){.bytes = copy, .len = len, .queued_ms = now_ms}) < 0) {
        free(copy);
        return EZR_ENOMEM;
    }
    return 0;
}

int ezr_queue_push_ref(struct ezr_queue *q, struct ezr_frame *f, const uint8_t *bytes, size_t len,
                       uint64_t now_ms)
{
    if (len == 0)
        return 0;
    struct ezr_queue_item it = {
        .frame = ezr_frame_ref(f), .bytes = bytes, .len = len, .queued_ms = now_ms, .reply = true};
    if (append(q, it) < 0) {
        ezr_frame_unref(f);
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

/* n bytes of the head item were written. */
static void uncount(struct ezr_queue *q, const struct ezr_queue_item *it, size_t n)
{
    if (it->uncounted)
        q->uncounted_bytes -= n;
    if (!it->frame)
        q->owned_bytes -= n;
}

void ezr_queue_advance(struct ezr_queue *q, size_t n)
{
    ezr_queue_advance_report(q, n, NULL, NULL);
}

void ezr_queue_advance_report(struct ezr_queue *q, size_t n, ezr_queue_sent_fn sent, void *ctx)
{
    q->bytes_written += n;
    q->bytes -= n;
    while (n && q->count) {
        struct ezr_queue_item *it = item_at(q, 0);
        size_t left = it->len - q->offset;
        if (n < left) {
            q->offset += n;
            uncount(q, it, n);
            break;
        }
        uncount(q, it, left);
        n -= left;
        if (sent)
            sent(ctx, it);
        if (q->burst_lead)
            q->burst_lead--;
        if (is_oversized(it))
            q->oversized = false;
        release(it);
        q->head = (q->head + 1) & (q->cap - 1);
        q->count--;
        q->offset = 0;
    }
    extend_burst_lead(q); /* a burst queued after live items (a replay) now leads */
    /* A backlog (a late joiner's GOP, a slow moment) grew the ring: give the memory back once it
     * is written, so that an idle player costs the initial ring only. */
    if (q->count == 0 && q->cap > QUEUE_INITIAL_CAP) {
        free(q->items);
        q->items = NULL;
        q->cap = 0;
        q->head = 0;
    }
}
