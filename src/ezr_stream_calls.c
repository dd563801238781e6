/* The public calls on a stream (ezr_stream_api.h) from other threads: each becomes an op that the
 * reactor runs (ezr_mailbox.h), where the stream does it (ezr_stream.c); the callers that wait
 * (an EOS drain, a removal) wait on the server's condition. */
#include <errno.h>
#include <stdlib.h>

#include "ezr_alloc.h"
#include "ezr_clock.h"
#include "ezr_error.h"
#include "ezr_stream_priv.h"

void ezr_stream_post(struct ezr_stream *st, void (*run)(struct ezr_op *), struct ezr_stream_op *o)
{
    o->op.run = run;
    o->st = st;
    ezr_mailbox_post(st->host->mailbox, &o->op);
}

static void run_frame(struct ezr_op *op)
{
    struct ezr_stream_op *o = (struct ezr_stream_op *)op;
    ezr_stream_on_frame(o->st, o->frame);
    ezr_frame_unref(o->frame);
    free(o);
}

int ezr_stream_push(struct ezr_stream *st, enum ezr_frame_kind kind, uint32_t flags,
                    uint32_t timestamp_ms, const uint8_t *data, size_t len)
{
    if (!st || (kind != EZR_FRAME_AUDIO && kind != EZR_FRAME_VIDEO && kind != EZR_FRAME_SCRIPT) ||
        (len && !data) || len > 0xFFFFFF)
        return EZR_EINVAL;
    struct ezr_stream_op *o = ezr_calloc(1, sizeof *o);
    if (!o)
        return EZR_ENOMEM;
    /* Metadata goes out at time 0: ffmpeg takes a script message at any other time for a
     * subtitle packet and reports a phantom text stream (flvmux re-sends onMetaData mid-stream).
     * Live script data (cue points, captions) keeps its time: it belongs there. */
    if (kind == EZR_FRAME_SCRIPT && !(flags & EZR_FRAME_LIVE))
        timestamp_ms = 0;
    o->frame = ezr_frame_new((uint8_t)kind, flags, timestamp_ms, data, len, st->host->chunk_size);
    if (!o->frame) {
        free(o);
        return EZR_ENOMEM;
    }
    o->frame->pushed_us = ezr_now_us();
    ezr_stream_post(st, run_frame, o);
    return 0;
}

static void run_eos(struct ezr_op *op)
{
    struct ezr_stream_op *o = (struct ezr_stream_op *)op;
    ezr_stream_on_eos(o->st, o->arg);
    free(o);
}

int ezr_stream_eos(struct ezr_stream *st, int timeout_ms)
{
    struct ezr_stream_host *h = st->host;
    struct ezr_stream_op *o = ezr_calloc(1, sizeof *o);
    if (!o)
        return EZR_ENOMEM;
    pthread_mutex_lock(h->lock);
    uint64_t seq = o->arg = ++st->eos_requested;
    pthread_mutex_unlock(h->lock);
    ezr_stream_post(st, run_eos, o);
    if (timeout_ms <= 0)
        return 0;
    int rc = 0;
    struct timespec deadline = ezr_deadline_after(timeout_ms);
    pthread_mutex_lock(h->lock);
    while (st->eos_done < seq && rc == 0)
        if (st->flushing || pthread_cond_timedwait(h->cond, h->lock, &deadline) == ETIMEDOUT)
            rc = EZR_EAGAIN;
    pthread_mutex_unlock(h->lock);
    return rc;
}

void ezr_stream_set_flushing(struct ezr_stream *st, bool flushing)
{
    pthread_mutex_lock(st->host->lock);
    st->flushing = flushing;
    pthread_cond_broadcast(st->host->cond);
    pthread_mutex_unlock(st->host->lock);
}

static void run_stop(struct ezr_op *op)
{
    struct ezr_stream_op *o = (struct ezr_stream_op *)op;
    ezr_stream_on_interrupt(o->st, true);
    free(o);
}

static void run_reset(struct ezr_op *op)
{
    struct ezr_stream_op *o = (struct ezr_stream_op *)op;
    ezr_stream_on_interrupt(o->st, false);
    free(o);
}

/* Posts a new op run by run; 0 or EZR_ENOMEM. */
static int post_new(struct ezr_stream *st, void (*run)(struct ezr_op *))
{
    struct ezr_stream_op *o = ezr_calloc(1, sizeof *o);
    if (!o)
        return EZR_ENOMEM;
    ezr_stream_post(st, run, o);
    return 0;
}

int ezr_stream_stop(struct ezr_stream *st)
{
    return post_new(st, run_stop);
}

int ezr_stream_reset(struct ezr_stream *st)
{
    return post_new(st, run_reset);
}

static void run_remove(struct ezr_op *op)
{
    struct ezr_stream_op *o = (struct ezr_stream_op *)op;
    struct ezr_stream_host *h = o->st->host;
    bool *done = o->done;
    ezr_stream_free(o->st);
    /* The op is on the waiting caller's stack: after `done` it is gone. */
    pthread_mutex_lock(h->lock);
    *done = true;
    pthread_cond_broadcast(h->cond);
    pthread_mutex_unlock(h->lock);
}

void ezr_stream_remove_and_wait(struct ezr_stream *st)
{
    struct ezr_stream_host *h = st->host;
    /* On our stack: we wait for the reactor to finish with it, so that no client callback of
     * this stream runs after we return. */
    bool done = false;
    struct ezr_stream_op o = {.done = &done};
    ezr_stream_post(st, run_remove, &o);
    pthread_mutex_lock(h->lock);
    while (!done)
        pthread_cond_wait(h->cond, h->lock);
    pthread_mutex_unlock(h->lock);
}

static void run_kick(struct ezr_op *op)
{
    struct ezr_stream_op *o = (struct ezr_stream_op *)op;
    ezr_stream_on_kick(o->st, o->arg);
    free(o);
}

int ezr_stream_remove_client(struct ezr_stream *st, uint64_t id)
{
    if (st->host->on_reactor(st->host)) {
        /* From a client callback: at once, as the stream may be on its way out (an op would
         * run after it is freed). */
        ezr_stream_on_kick(st, id);
        return 0;
    }
    struct ezr_stream_op *o = ezr_calloc(1, sizeof *o);
    if (!o)
        return EZR_ENOMEM;
    o->arg = id;
    ezr_stream_post(st, run_kick, o);
    return 0;
}
