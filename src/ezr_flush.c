/* Write scheduling; see ezr_flush.h. */
#include "ezr_flush.h"

#include "ezr_clock.h"
#include "ezr_limits.h"
#include "ezr_queue.h"

void ezr_flush_init(struct ezr_flusher *fl, int32_t interval_ms,
                    void (*write)(struct ezr_flush_entry *e))
{
    fl->hold_all = interval_ms != EZR_FLUSH_AUTO;
    fl->interval_ms = fl->hold_all ? (uint32_t)interval_ms : EZR_FLUSH_AUTO_WAIT_MS;
    ezr_list_init(&fl->now);
    ezr_list_init(&fl->held);
    ezr_list_init(&fl->due);
    ezr_list_init(&fl->sweep);
    fl->gap_ms = 0;
    fl->sweep_began_ms = 0;
    fl->sweep_start_ms = 0;
    fl->sweep_ms = 0;
    fl->sweep_ended = false;
    fl->write = write;
}

void ezr_flush_set_busy(struct ezr_flusher *fl, double busy)
{
    double over = (busy - EZR_FLUSH_BUSY_FROM) / (1.0 - EZR_FLUSH_BUSY_FROM);
    fl->gap_ms = over <= 0.0 ? 0 : over >= 1.0 ? fl->interval_ms
                                                : (uint32_t)(over * fl->interval_ms);
}

void ezr_flush_now(struct ezr_flusher *fl, struct ezr_flush_entry *e)
{
    if (!ezr_link_linked(&e->dirty_link))
        ezr_list_push_back(&fl->now, &e->dirty_link);
}

bool ezr_flush_may_wait(const struct ezr_flusher *fl, const struct ezr_frame *f,
                        bool stream_has_video, const struct ezr_queue *q, bool awaited_key)
{
    bool media = f->kind == EZR_FRAME_SCRIPT ? (f->flags & EZR_FRAME_LIVE) != 0
                                             : !(f->flags & EZR_FRAME_HEADER);
    if (fl->hold_all)
        return media && !(stream_has_video && awaited_key);
    /* Without video on its way to this player, the wait would be the whole interval. */
    return media && f->kind != EZR_FRAME_VIDEO && stream_has_video && q->want_video && !q->paused &&
           !q->need_keyframe;
}

/* Puts c on the held list at its place by hold_until_ms: at the end, but for a frame of another
 * stream pushed a moment before the last one held (two pipelines' pushes reach the mailbox in
 * either order). */
static void hold(struct ezr_flusher *fl, struct ezr_flush_entry *c)
{
    struct ezr_link *at = fl->held.head.prev; /* the last one held, or the head */
    while (at != &fl->held.head) {
        const struct ezr_flush_entry *before =
            EZR_CONTAINER_OF(at, struct ezr_flush_entry, media_link);
        if (before->hold_until_ms <= c->hold_until_ms)
            break;
        at = at->prev;
    }
    ezr_list_insert_after(at, &c->media_link);
}

void ezr_flush_media(struct ezr_flusher *fl, struct ezr_flush_entry *c, bool may_wait,
                     uint64_t queued, uint64_t pushed_ms, uint64_t now_ms)
{
    if (!fl->interval_ms || queued >= EZR_FLUSH_BYTES) {
        ezr_flush_now(fl, c);
        return;
    }
    if (fl->hold_all && !c->had_media)
        may_wait = false; /* a joiner's first live frame */
    c->had_media = true;
    if (ezr_link_linked(&c->media_link)) {
        /* Already due or in the sweep: the write to come takes this frame too. Held: a frame
         * that may not wait ends the hold. */
        if (c->hold_until_ms && !may_wait) {
            ezr_list_remove(&c->media_link);
            c->hold_until_ms = 0;
            ezr_list_push_back(&fl->due, &c->media_link);
        }
        return;
    }
    if (may_wait) {
        /* An interval in ms is the most the media waits from when it was pushed: the time it
         * spent in the mailbox behind a round of writes counts. Auto's wait counts from now. */
        uint64_t from = fl->hold_all && pushed_ms < now_ms ? pushed_ms : now_ms;
        c->hold_until_ms = from + fl->interval_ms;
        hold(fl, c);
    } else {
        ezr_list_push_back(&fl->due, &c->media_link);
    }
}

void ezr_flush_forget(struct ezr_flush_entry *c)
{
    ezr_list_remove(&c->dirty_link);
    ezr_list_remove(&c->media_link);
    c->hold_until_ms = 0;
}

static struct ezr_flush_entry *first_held(const struct ezr_flusher *fl)
{
    struct ezr_link *n = ezr_list_first(&fl->held);
    return n ? EZR_CONTAINER_OF(n, struct ezr_flush_entry, media_link) : NULL;
}

/* At an interval in ms, how much before its end a hold joins the sweep: the time the last sweeps
 * took, so that a player the sweep reaches last has still been written within the interval
 * (thousands of players' holds began with the same frame and end together); at most half the
 * interval, so that a sweep longer than that still leaves each write carrying more. And 1 ms
 * more: times are whole ms, so the round that finds a hold up at its now_ms may run up to 1 ms
 * after that (the reactor's timeout is counted from a truncated now). */
static uint64_t hold_lead_ms(const struct ezr_flusher *fl)
{
    if (!fl->hold_all)
        return 0;
    return (fl->sweep_ms < fl->interval_ms / 2 ? fl->sweep_ms : fl->interval_ms / 2) + 1u;
}

/* When the next sweep may begin. */
static uint64_t next_sweep_ms(const struct ezr_flusher *fl)
{
    return fl->sweep_began_ms + fl->gap_ms;
}

int ezr_flush_timeout(const struct ezr_flusher *fl, int max_ms, uint64_t now_ms)
{
    if (!ezr_list_empty(&fl->now) || !ezr_list_empty(&fl->sweep))
        return 0;
    uint64_t until = UINT64_MAX;
    if (!ezr_list_empty(&fl->due))
        until = next_sweep_ms(fl);
    struct ezr_flush_entry *c = first_held(fl);
    if (c && c->hold_until_ms - hold_lead_ms(fl) < until)
        until = c->hold_until_ms - hold_lead_ms(fl);
    if (until == UINT64_MAX)
        return max_ms;
    if (until <= now_ms)
        return 0;
    uint64_t wait = until - now_ms;
    return wait < (uint64_t)max_ms ? (int)wait : max_ms;
}

void ezr_flush_run(struct ezr_flusher *fl, bool all, uint64_t now_ms)
{
    struct ezr_link *n;
    while ((n = ezr_list_pop_front(&fl->now)))
        fl->write(EZR_CONTAINER_OF(n, struct ezr_flush_entry, dirty_link));
    bool starting = ezr_list_empty(&fl->sweep); /* a sweep begun now: timed from its first write */
    /* At an interval in ms, what is due may not wait (a joiner's start, a header): it joins the
     * sweep under way at once, ahead of the holds that come up now. Holds coming up keep a sweep
     * of thousands going on a busy reactor, and it would wait behind all of them (seconds, at
     * 15,000 players). Auto's due video waits for the sweep to end and the gap: that spacing is
     * what bounds a busy reactor's writes. */
    if (fl->hold_all && !starting)
        ezr_list_splice_back(&fl->sweep, &fl->due);
    /* Holds that are up join the sweep under way, in the order they end: never spaced, so
     * that nothing waits longer than the interval. */
    uint64_t lead = hold_lead_ms(fl);
    struct ezr_flush_entry *c;
    while ((c = first_held(fl)) && (all || c->hold_until_ms <= now_ms + lead)) {
        ezr_list_remove(&c->media_link);
        c->hold_until_ms = 0;
        ezr_list_push_back(&fl->sweep, &c->media_link);
    }
    for (unsigned i = 0; all || i < EZR_FLUSH_BATCH; i++) {
        if (ezr_list_empty(&fl->sweep) && !ezr_list_empty(&fl->due) &&
            (all || now_ms >= next_sweep_ms(fl))) {
            ezr_list_splice_back(&fl->sweep, &fl->due);
            fl->sweep_began_ms = now_ms;
        }
        if (!(n = ezr_list_pop_front(&fl->sweep)))
            break;
        if (starting) {
            fl->sweep_start_ms = now_ms;
            starting = false;
        }
        fl->write(EZR_CONTAINER_OF(n, struct ezr_flush_entry, media_link));
    }
    if (!starting && ezr_list_empty(&fl->sweep))
        fl->sweep_ended = true; /* with these writes: ezr_flush_done() times it */
}

void ezr_flush_done(struct ezr_flusher *fl, uint64_t now_ms)
{
    if (fl->sweep_ended) {
        fl->sweep_ended = false;
        /* From its first write to the end of its last: a longer one counts at once, a shorter
         * one slowly (the long sweeps are those of the holds that end together). Both ends are
         * truncated ms: it may have taken up to 1 ms more. */
        uint32_t took = (uint32_t)ezr_elapsed(now_ms, fl->sweep_start_ms) + 1u;
        fl->sweep_ms = took >= fl->sweep_ms ? took : (fl->sweep_ms * 7u + took) / 8u;
    }
}
