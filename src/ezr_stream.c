/* A stream: admission, players, GOP cache, fan-out, EOS drain, stats; see ezr_stream.h. The
 * public stream calls come from other threads and reach the reactor as ops (ezr_mailbox.h). */
#include "ezr_stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_client.h"
#include "ezr_clock.h"
#include "ezr_error.h"
#include "ezr_mailbox.h"

static void notify(struct ezr_stream *st, enum ezr_client_event ev, const struct ezr_client *c,
                   const char *reason)
{
    if (st->on_client) {
        struct ezr_client_info info = {c->conn.id, c->conn.addr, reason, c->proto->name};
        st->on_client(st->client_ctx, ev, &info);
    }
}

/* What the stream carries decides the age limit, unless one is configured: audio-only streams
 * (audio seen, no video) get the shorter one. */
static void set_kind(struct ezr_stream *st, bool audio, bool video)
{
    st->audio_seen = audio;
    st->video_seen = video;
    st->limits = st->host->qlimits;
    if (!st->limits.max_age_ms)
        st->limits.max_age_ms = audio && !video ? EZR_DEFAULT_QUEUE_MAX_AGE_AUDIO_ONLY_MS
                                                : EZR_DEFAULT_QUEUE_MAX_AGE_MS;
}

/* What the fan-out of a frame hands every player, found once for all of them. */
static struct ezr_client_offer offer_of(struct ezr_stream *st, uint32_t flags, uint64_t now)
{
    return (struct ezr_client_offer){
        .limits = &st->limits,
        .has_video = st->video_seen,
        .flags = flags,
        .now = now,
        .pushed_ms = now,
        .dropped = st->stats.frames_dropped,
        .copies = &st->stats.frame_copies,
    };
}

int ezr_stream_new(struct ezr_stream_host *h, const struct ezr_stream_config *cfg,
                   struct ezr_stream **out)
{
    *out = NULL;
    if (!cfg || !cfg->app || !cfg->key || !*cfg->app || !*cfg->key ||
        strlen(cfg->app) > EZR_MAX_NAME_LEN || strlen(cfg->key) > EZR_MAX_NAME_LEN)
        return EZR_EINVAL;
    struct ezr_stream *st = ezr_calloc(1, sizeof *st);
    if (!st)
        return EZR_ENOMEM;
    st->host = h;
    snprintf(st->app, sizeof st->app, "%s", cfg->app);
    snprintf(st->key, sizeof st->key, "%s", cfg->key);
    st->on_client = cfg->on_client;
    st->client_ctx = cfg->client_ctx;
    st->on_failed = cfg->on_failed;
    st->failed_ctx = cfg->failed_ctx;
    if ((unsigned)cfg->sync_method >= EZR_SYNC_NMETHODS) {
        free(st);
        return EZR_EINVAL;
    }
    st->sync_method = cfg->sync_method;
    ezr_list_init(&st->players);
    int nallowed = ezr_acl_parse(cfg->allowed_clients, st->allowed, EZR_MAX_ACL_RANGES);
    st->token = cfg->play_token && *cfg->play_token ? ezr_strdup(cfg->play_token) : NULL;
    if (nallowed < 0 || (cfg->play_token && *cfg->play_token && !st->token)) {
        free(st->token);
        free(st);
        return nallowed < 0 ? EZR_EINVAL : EZR_ENOMEM;
    }
    st->nallowed = (size_t)nallowed;
    ezr_gop_init(&st->gop, cfg->max_gops ? cfg->max_gops : EZR_DEFAULT_MAX_GOPS, h->chunk_size);
    set_kind(st, false, false);
    *out = st;
    return 0;
}

void ezr_stream_free(struct ezr_stream *st)
{
    struct ezr_link *n;
    while ((n = ezr_list_first(&st->players))) {
        struct ezr_client *c = EZR_CONTAINER_OF(n, struct ezr_client, player_link);
        c->proto->stream_ended(c, true);
        ezr_stream_remove_player(c, "stream removed");
        ezr_client_close_after_flush(c, EZR_CLOSE_SERVER);
    }
    ezr_gop_clear(&st->gop);
    ezr_fan_free(&st->fan);
    free(st->token);
    free(st);
}

/* ---- players ---------------------------------------------------------------------------- */

int ezr_stream_admit(struct ezr_stream *st, struct ezr_client *c, const char *name)
{
    if (st->nallowed && !ezr_acl_allows(st->allowed, st->nallowed, c->conn.addr)) {
        ezr_log(st->host->log, EZR_LOG_INFO, "client %llu (%s) refused: not in allowed-clients",
                (unsigned long long)c->conn.id, c->conn.addr);
        return EZR_EACCES;
    }
    char given[EZR_MAX_NAME_LEN + 1];
    if (st->token && !(ezr_acl_query_value(name, "token", given, sizeof given) &&
                       ezr_acl_token_equal(given, st->token))) {
        ezr_log(st->host->log, EZR_LOG_INFO,
                "client %llu (%s) refused: wrong or missing play token",
                (unsigned long long)c->conn.id, c->conn.addr);
        return EZR_EACCES;
    }
    enum ezr_sync_method m;
    if (ezr_join_method_from_query(name, st->sync_method, &m) < 0) {
        ezr_log(st->host->log, EZR_LOG_INFO,
                "client %llu (%s) refused: unknown sync-method (latest-keyframe, "
                "next-keyframe or live-edge)",
                (unsigned long long)c->conn.id, c->conn.addr);
        return EZR_EINVAL;
    }
    c->sync_method = (uint8_t)m;
    return 0;
}

static int replay_one(void *ctx, struct ezr_frame *f)
{
    struct ezr_client *c = ctx;
    struct ezr_client_offer o = offer_of(c->stream, EZR_OFFER_BURST, ezr_now_ms());
    ezr_client_offer(c, f, &o);
    return c->dead ? 1 : 0;
}

/* An awaited EOS is done once every player's queue is written. */
static void check_drained(struct ezr_stream *st)
{
    if (!st->eos_target)
        return;
    EZR_LIST_FOREACH_SAFE(it, nx, &st->players)
        if (!ezr_queue_empty(&EZR_CONTAINER_OF(it, struct ezr_client, player_link)->q))
            return;
    pthread_mutex_lock(st->host->lock);
    st->eos_done = st->eos_target;
    pthread_cond_broadcast(st->host->cond);
    pthread_mutex_unlock(st->host->lock);
    st->eos_target = 0;
}

/* ---- what players tell their stream (struct ezr_client_player_ops) ----------------------- */

static void player_closed(struct ezr_client *c, enum ezr_close_reason code, const char *reason)
{
    struct ezr_stream *st = c->stream;
    st->stats.disconnects[code]++;
    ezr_stream_remove_player(c, reason);
    check_drained(st);
}

static void player_sent(struct ezr_client *c, uint64_t bytes)
{
    c->stream->stats.bytes_sent += bytes;
}

static void player_written(struct ezr_client *c)
{
    check_drained(c->stream);
}

static const struct ezr_client_player_ops player_ops = {
    .closed = player_closed,
    .sent = player_sent,
    .written = player_written,
};

void ezr_stream_add_player(struct ezr_stream *st, struct ezr_client *c)
{
    if (ezr_fan_add(&st->fan, c) < 0) {
        ezr_client_close(c, EZR_LOG_WARNING, EZR_CLOSE_SERVER, "out of memory");
        return;
    }
    c->stream = st;
    c->player = &player_ops;
    ezr_list_push_back(&st->players, &c->player_link);
    st->stats.clients++;
    st->stats.clients_total++;
    if (st->stats.clients > st->stats.clients_peak)
        st->stats.clients_peak = st->stats.clients;
    notify(st, EZR_CLIENT_ADDED, c, NULL);
    if (c->dead || c->kicked)
        return; /* the application's handler removed it */
    /* Metadata and headers, then what the join policy gives (ezr_gop_join). Under next-keyframe
     * video waits for the next keyframe as any new queue does, and audio with it when the
     * stream has video, so that the player starts both at once. */
    enum ezr_sync_method m = (enum ezr_sync_method)c->sync_method;
    c->q.need_keyframe = true;
    c->q.audio_waits_key = m == EZR_SYNC_NEXT_KEYFRAME && st->video_seen;
    ezr_gop_join(&st->gop, m, replay_one, c);
    ezr_log(st->host->log, EZR_LOG_INFO, "client %llu (%s) playing %s/%s (%s, %zu cached frames)",
            (unsigned long long)c->conn.id, c->conn.addr, st->app, st->key,
            ezr_join_method_name(m), st->gop.count);
}

void ezr_stream_remove_player(struct ezr_client *c, const char *reason)
{
    struct ezr_stream *st = c->stream;
    if (!st)
        return;
    ezr_list_remove(&c->player_link);
    ezr_fan_remove(&st->fan, c);
    c->stream = NULL;
    c->player = NULL;
    c->idle_since_ms = ezr_now_ms(); /* it may play again, within the handshake timeout */
    st->stats.clients--;
    notify(st, EZR_CLIENT_REMOVED, c, reason);
}

bool ezr_stream_idle(const struct ezr_stream *st, uint64_t now)
{
    return st->ended || ezr_elapsed(now, st->last_frame_ms) >= EZR_IDLE_STREAM_MS;
}

/* ---- ops from other threads ------------------------------------------------------------- */

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

struct stream_op {
    struct ezr_op op;
    struct ezr_stream *st;
    struct ezr_frame *frame;   /* push: the op owns one reference */
    uint64_t arg;              /* eos: the sequence number; kick: the client id */
    struct stats_query *query; /* stats */
    bool *done;                /* remove: set under host->lock when the stream is gone */
};

/* Cannot fail: the op is allocated by the caller, the mailbox is a list. */
static void post(struct ezr_stream *st, void (*run)(struct ezr_op *), struct stream_op *o)
{
    o->op.run = run;
    o->st = st;
    ezr_mailbox_post(st->host->mailbox, &o->op);
}

static void run_frame(struct ezr_op *op)
{
    struct stream_op *o = (struct stream_op *)op;
    struct ezr_stream *st = o->st;
    struct ezr_frame *f = o->frame;
    if (st->ended) {
        /* A new stream after an end or a flush: as a publisher restart, with the cached
         * metadata and headers again (after a flush the pipeline does not send them anew). */
        st->ended = false;
        EZR_LIST_FOREACH_SAFE(it, nx, &st->players) {
            struct ezr_client *c = EZR_CONTAINER_OF(it, struct ezr_client, player_link);
            c->proto->stream_restarted(c);
            ezr_gop_replay(&st->gop, replay_one, c);
        }
    }
    st->stats.frames_in++;
    st->last_frame_ms = ezr_now_ms();
    if ((f->kind == EZR_FRAME_VIDEO && !st->video_seen) ||
        (f->kind == EZR_FRAME_AUDIO && !st->audio_seen))
        set_kind(st, st->audio_seen || f->kind == EZR_FRAME_AUDIO,
                 st->video_seen || f->kind == EZR_FRAME_VIDEO);
    if (ezr_gop_add(&st->gop, f) < 0)
        ezr_log(st->host->log, EZR_LOG_WARNING, "GOP cache: out of memory, frame not cached");
    /* The fan-out: one reference per player, no copy. */
    struct ezr_client_offer offer = offer_of(st, 0, st->last_frame_ms);
    if (f->pushed_us)
        offer.pushed_ms = f->pushed_us / 1000u;
    ezr_fan_offer(&st->fan, f, &offer);
    ezr_frame_unref(f);
    free(o);
}

int ezr_stream_push(struct ezr_stream *st, enum ezr_frame_kind kind, uint32_t flags,
                    uint32_t timestamp_ms, const uint8_t *data, size_t len)
{
    if (!st || (kind != EZR_FRAME_AUDIO && kind != EZR_FRAME_VIDEO && kind != EZR_FRAME_SCRIPT) ||
        (len && !data) || len > 0xFFFFFF)
        return EZR_EINVAL;
    struct stream_op *o = ezr_calloc(1, sizeof *o);
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
    post(st, run_frame, o);
    return 0;
}

static void run_eos(struct ezr_op *op)
{
    struct stream_op *o = (struct stream_op *)op;
    struct ezr_stream *st = o->st;
    /* Ended already (EOS, then the pipeline stopped): the players were told. */
    EZR_LIST_FOREACH_SAFE(it, nx, &st->players) {
        struct ezr_client *c = EZR_CONTAINER_OF(it, struct ezr_client, player_link);
        if (!st->ended)
            c->proto->stream_ended(c, true);
    }
    ezr_gop_clear(&st->gop);
    st->ended = true;
    st->eos_target = o->arg;
    set_kind(st, false, false);
    ezr_log(st->host->log, EZR_LOG_INFO, "stream %s/%s ended", st->app, st->key);
    check_drained(st);
    free(o);
}

int ezr_stream_eos(struct ezr_stream *st, int timeout_ms)
{
    struct ezr_stream_host *h = st->host;
    struct stream_op *o = ezr_calloc(1, sizeof *o);
    if (!o)
        return EZR_ENOMEM;
    pthread_mutex_lock(h->lock);
    uint64_t seq = o->arg = ++st->eos_requested;
    pthread_mutex_unlock(h->lock);
    post(st, run_eos, o);
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

/* The stream goes on after a break (the pipeline stopped: final; a flush upstream: not final,
 * see ezr_client_proto.h): the cached frames go, metadata and headers stay, and players are told
 * and resume at a keyframe when the next frame restarts the stream. */
static void interrupt(struct ezr_stream *st, bool final)
{
    ezr_gop_forget_frames(&st->gop);
    if (st->ended)
        return;
    EZR_LIST_FOREACH_SAFE(it, nx, &st->players) {
        struct ezr_client *c = EZR_CONTAINER_OF(it, struct ezr_client, player_link);
        c->proto->stream_ended(c, final);
        c->q.need_keyframe = true;
    }
    st->ended = true;
    ezr_log(st->host->log, EZR_LOG_INFO, "stream %s/%s %s", st->app, st->key,
            final ? "stopped" : "flushed");
}

static void run_stop(struct ezr_op *op)
{
    struct stream_op *o = (struct stream_op *)op;
    interrupt(o->st, true);
    free(o);
}

static void run_reset(struct ezr_op *op)
{
    struct stream_op *o = (struct stream_op *)op;
    interrupt(o->st, false);
    free(o);
}

/* Posts a new op run by run; 0 or EZR_ENOMEM. */
static int post_new(struct ezr_stream *st, void (*run)(struct ezr_op *))
{
    struct stream_op *o = ezr_calloc(1, sizeof *o);
    if (!o)
        return EZR_ENOMEM;
    post(st, run, o);
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
    struct stream_op *o = (struct stream_op *)op;
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
    struct stream_op o = {.done = &done};
    post(st, run_remove, &o);
    pthread_mutex_lock(h->lock);
    while (!done)
        pthread_cond_wait(h->cond, h->lock);
    pthread_mutex_unlock(h->lock);
}

static void query_unref(struct stats_query *q)
{
    /* Under host->lock. */
    if (--q->refs == 0) {
        free(q->clients);
        free(q);
    }
}

static const char *const protocol_names[EZR_STATS_NPROTOCOLS] = {"rtmp", "http-flv", "ws-flv"};

void ezr_stream_fill_stats(const struct ezr_stream *st, struct ezr_stream_stats *out)
{
    struct ezr_ingest_stats ingest = out->ingest;
    *out = st->stats;
    out->ingest = ingest;
    out->gop_frames = st->gop.count;
    out->gop_bytes = st->gop.bytes;
    out->replays_built = st->gop.replays_built;
    out->queue_max_age_ms = st->limits.max_age_ms;
    EZR_LIST_FOREACH_SAFE(it, nx, &st->players) {
        const char *p = EZR_CONTAINER_OF(it, struct ezr_client, player_link)->proto->name;
        for (size_t i = 0; i < EZR_STATS_NPROTOCOLS; i++)
            out->clients_by_protocol[i] += strcmp(p, protocol_names[i]) == 0;
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
            struct ezr_client *c = EZR_CONTAINER_OF(it, struct ezr_client, player_link);
            list[n].id = c->conn.id;
            snprintf(list[n].addr, sizeof list[n].addr, "%s", c->conn.addr);
            list[n].bytes_sent = c->q.bytes_written;
            list[n].bytes_queued = c->q.bytes;
            list[n].frames_dropped = c->frames_dropped;
            list[n].connected_ms = ezr_elapsed(now, c->accepted_ms);
            list[n].lag_ms = ezr_queue_age(&c->q, now);
            snprintf(list[n].protocol, sizeof list[n].protocol, "%s", c->proto->name);
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
    struct stream_op *o = (struct stream_op *)op;
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
        struct stream_op *o = ezr_calloc(1, sizeof *o);
        if (!o) {
            free(q);
            return EZR_ENOMEM;
        }
        o->query = q;
        post(st, run_stats, o);
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

/* Marks the player for closing at the end of the round: closing it here could take another
 * player off a list that is being walked (this may run inside a client callback). */
static void kick(struct ezr_stream *st, uint64_t id)
{
    EZR_LIST_FOREACH_SAFE(it, nx, &st->players) {
        struct ezr_client *c = EZR_CONTAINER_OF(it, struct ezr_client, player_link);
        if (c->conn.id == id) {
            ezr_client_kick(c);
            return;
        }
    }
}

static void run_kick(struct ezr_op *op)
{
    struct stream_op *o = (struct stream_op *)op;
    kick(o->st, o->arg);
    free(o);
}

int ezr_stream_remove_client(struct ezr_stream *st, uint64_t id)
{
    if (st->host->on_reactor(st->host)) {
        /* From a client callback: at once, as the stream may be on its way out (an op would
         * run after it is freed). */
        kick(st, id);
        return 0;
    }
    struct stream_op *o = ezr_calloc(1, sizeof *o);
    if (!o)
        return EZR_ENOMEM;
    o->arg = id;
    post(st, run_kick, o);
    return 0;
}
