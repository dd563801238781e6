/* A stream's stats: its part of a snapshot (its own counters, its players, its subscribers'),
 * taken on the reactor for ezr_stream_get_stats() and /metrics alike, and the application's input
 * counters. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ezr_alloc.h"
#include "ezr_client.h"
#include "ezr_clock.h"
#include "ezr_error.h"
#include "ezr_stream_priv.h"

/* A stats request: shared by the asking thread and the reactor; freed by the last of the two
 * (the asker may give up on a timeout before the reactor gets to it). Under host->lock. */
struct stats_query {
    int refs;
    bool done;
    struct ezr_stream_stats stats;
    bool want_clients;
    struct ezr_client_stats *clients;
    size_t nclients;
    bool failed; /* the list of clients could not be allocated */
};

static void query_unref(struct stats_query *q)
{
    /* Under host->lock. */
    if (--q->refs == 0) {
        free(q->clients);
        free(q);
    }
}

void ezr_stream_fill_stats(const struct ezr_stream *st, struct ezr_stream_stats *out)
{
    struct ezr_ingest_stats ingest = out->ingest;
    *out = st->stats;
    out->ingest = ingest;
    out->gop_frames = st->gop.count;
    out->gop_bytes = st->gop.bytes;
    out->replays_built = st->gop.replays_built;
    out->queue_max_age_ms = st->limits.max_age_ms;
    EZR_LIST_FOREACH_SAFE(it, nx, &st->players)
        out->clients_by_protocol[ezr_client_of_player(it)->proto->id]++;
    EZR_LIST_FOREACH_SAFE(it, nx, &st->subs) {
        const struct ezr_stream_sub *sub = EZR_CONTAINER_OF(it, struct ezr_stream_sub, link);
        sub->ops->stats(sub, out);
    }
}

void ezr_stream_report_ingest(struct ezr_stream *st, const struct ezr_ingest_stats *in)
{
    pthread_mutex_lock(st->host->lock);
    st->ingest = *in;
    pthread_mutex_unlock(st->host->lock);
}

static void answer_stats(struct ezr_stream *st, struct stats_query *q)
{
    struct ezr_stream_host *h = st->host;
    struct ezr_stream_stats out = {0};
    ezr_stream_fill_stats(st, &out);
    h->server_stats(h, &out);
    struct ezr_client_stats *list = NULL;
    size_t n = 0;
    if (q->want_clients && st->stats.clients) {
        list = ezr_calloc(st->stats.clients, sizeof *list);
        uint64_t now = ezr_now_ms();
        EZR_LIST_FOREACH_SAFE(it, nx, &st->players) {
            if (!list || n == st->stats.clients)
                break;
            struct ezr_client *c = ezr_client_of_player(it);
            list[n].id = c->conn.id;
            snprintf(list[n].addr, sizeof list[n].addr, "%s", c->conn.addr);
            list[n].bytes_sent = c->out->q.bytes_written;
            list[n].bytes_queued = c->out->q.bytes;
            list[n].frames_dropped = c->out->frames_dropped;
            list[n].connected_ms = ezr_elapsed(now, c->accepted_ms);
            list[n].lag_ms = ezr_queue_age(&c->out->q, now);
            snprintf(list[n].protocol, sizeof list[n].protocol, "%s",
                     ezr_protocol_name(c->proto->id));
            list[n].tls = c->conn.secure;
            list[n].ktls = c->conn.ktls_send;
            n++;
        }
    }
    pthread_mutex_lock(h->lock);
    q->stats = out;
    q->stats.ingest = st->ingest;
    q->clients = list;
    q->nclients = list ? n : 0;
    q->failed = q->want_clients && st->stats.clients && !list;
    q->done = true;
    pthread_cond_broadcast(h->cond);
    query_unref(q);
    pthread_mutex_unlock(h->lock);
}

static void run_stats(struct ezr_op *op)
{
    struct ezr_stream_op *o = (struct ezr_stream_op *)op;
    answer_stats(o->st, o->query);
    free(o);
}

int ezr_stream_get_stats(struct ezr_stream *st, struct ezr_stream_stats *out,
                         struct ezr_client_stats **clients, size_t *nclients, int timeout_ms)
{
    struct ezr_stream_host *h = st->host;
    struct stats_query *q = ezr_calloc(1, sizeof *q);
    if (!q)
        return EZR_ENOMEM;
    q->refs = 2; /* ours and the reactor's */
    q->want_clients = clients != NULL;
    int rc = 0;
    if (h->on_reactor(h)) {
        /* From a client callback: the reactor is us, so answer now instead of waiting on it. */
        answer_stats(st, q);
    } else {
        struct ezr_stream_op *o = ezr_calloc(1, sizeof *o);
        if (!o) {
            free(q);
            return EZR_ENOMEM;
        }
        o->query = q;
        ezr_stream_post(st, run_stats, o);
    }
    struct timespec deadline = ezr_deadline_after(timeout_ms);
    pthread_mutex_lock(h->lock);
    while (!q->done && rc == 0)
        if (pthread_cond_timedwait(h->cond, h->lock, &deadline) == ETIMEDOUT)
            rc = EZR_EAGAIN;
    if (q->done && q->failed) {
        rc = EZR_ENOMEM; /* not a list with the players missing */
    } else if (q->done) {
        rc = 0;
        *out = q->stats;
        if (clients) {
            *clients = q->clients;
            *nclients = q->nclients;
            q->clients = NULL;
        }
    }
    query_unref(q);
    pthread_mutex_unlock(h->lock);
    return rc;
}
