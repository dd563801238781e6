/* A stream on the reactor: admission, players, subscribers, GOP cache, fan-out, EOS drain; see
 * ezr_stream.h. The public calls that bring it frames and ends are ezr_stream_calls.c. */
#include "ezr_stream_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_client.h"
#include "ezr_clock.h"
#include "ezr_error.h"

static void notify(struct ezr_stream *st, enum ezr_client_event ev, const struct ezr_client *c,
                   const char *reason)
{
    if (st->on_client) {
        struct ezr_client_info info = {c->conn.id, c->conn.addr, reason,
                                       ezr_protocol_name(c->proto->id)};
        st->on_client(st->client_ctx, ev, &info);
    }
}

static struct ezr_stream_sub *sub_at(struct ezr_link *l)
{
    return EZR_CONTAINER_OF(l, struct ezr_stream_sub, link);
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
    ezr_list_init(&st->subs);
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
        struct ezr_client *c = ezr_client_of_player(n);
        c->proto->stream_ended(c, true);
        ezr_stream_remove_player(c, "stream removed");
        ezr_client_close_after_flush(c, EZR_CLOSE_SERVER);
    }
    while ((n = ezr_list_pop_front(&st->subs)))
        sub_at(n)->ops->free(sub_at(n));
    ezr_gop_clear(&st->gop);
    ezr_fan_free(&st->fan);
    free(st->token);
    free(st);
}

/* ---- players ---------------------------------------------------------------------------- */

bool ezr_stream_allows(const struct ezr_stream *st, const struct ezr_client *c)
{
    return !st->nallowed || ezr_acl_allows(st->allowed, st->nallowed, c->conn.addr);
}

int ezr_stream_admit(struct ezr_stream *st, struct ezr_client *c, const char *name)
{
    if (!ezr_stream_allows(st, c)) {
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
    ezr_client_offer(c->out, f, &o);
    return c->dead ? 1 : 0;
}

/* An awaited EOS is done once every player's queue is written. */
static void check_drained(struct ezr_stream *st)
{
    if (!st->eos_target)
        return;
    EZR_LIST_FOREACH_SAFE(it, nx, &st->players)
        if (!ezr_queue_empty(&EZR_CONTAINER_OF(it, struct ezr_client_out, player_link)->q))
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
    struct ezr_client_out *out = ezr_client_out(c);
    if (!out || ezr_fan_add(&st->fan, out) < 0) {
        ezr_client_close(c, EZR_LOG_WARNING, EZR_CLOSE_SERVER, "out of memory");
        return;
    }
    c->stream = st;
    out->player = &player_ops;
    out->played = true;
    ezr_list_push_back(&st->players, &out->player_link);
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
    out->q.need_keyframe = true;
    out->q.audio_waits_key = m == EZR_SYNC_NEXT_KEYFRAME && st->video_seen;
    ezr_gop_join(&st->gop, m, replay_one, c);
    ezr_log(st->host->log, EZR_LOG_INFO, "client %llu (%s) playing %s/%s (%s, %zu cached frames)",
            (unsigned long long)c->conn.id, c->conn.addr, st->app, st->key, ezr_join_method_name(m),
            st->gop.count);
}

void ezr_stream_remove_player(struct ezr_client *c, const char *reason)
{
    struct ezr_stream *st = c->stream;
    if (!st)
        return;
    ezr_list_remove(&c->out->player_link);
    ezr_fan_remove(&st->fan, c->out);
    c->stream = NULL;
    c->out->player = NULL;
    c->idle_since_ms = ezr_now_ms(); /* it may play again, within the handshake timeout */
    st->stats.clients--;
    notify(st, EZR_CLIENT_REMOVED, c, reason);
}

bool ezr_stream_idle(const struct ezr_stream *st, uint64_t now)
{
    return st->ended || ezr_elapsed(now, st->last_frame_ms) >= EZR_IDLE_STREAM_MS;
}

struct ezr_stream *ezr_stream_of_registry_link(struct ezr_link *link)
{
    return EZR_CONTAINER_OF(link, struct ezr_stream, registry_link);
}

const char *ezr_stream_app(const struct ezr_stream *st)
{
    return st->app;
}

const char *ezr_stream_key(const struct ezr_stream *st)
{
    return st->key;
}

void ezr_stream_carries(const struct ezr_stream *st, bool *audio, bool *video)
{
    *audio = st->audio_seen || st->gop.audio_header;
    *video = st->video_seen || st->gop.video_header;
}

void ezr_stream_ingest_locked(const struct ezr_stream *st, struct ezr_ingest_stats *out)
{
    *out = st->ingest;
}

/* ---- subscribers ------------------------------------------------------------------------- */

void ezr_stream_subscribe(struct ezr_stream *st, struct ezr_stream_sub *sub)
{
    sub->stream = st;
    ezr_list_push_back(&st->subs, &sub->link);
}

void ezr_stream_tick(struct ezr_stream *st, uint64_t now_ms)
{
    EZR_LIST_FOREACH_SAFE(it, nx, &st->subs)
        sub_at(it)->ops->tick(sub_at(it), now_ms);
}

struct ezr_stream_sub *ezr_stream_sub_of(const struct ezr_stream *st, enum ezr_protocol p)
{
    EZR_LIST_FOREACH_SAFE(it, nx, &st->subs)
        if (sub_at(it)->protocol == p)
            return sub_at(it);
    return NULL;
}

/* ---- what the public calls do on the reactor ---------------------------------------------- */

void ezr_stream_on_frame(struct ezr_stream *st, struct ezr_frame *f)
{

    if (st->ended) {
        /* A new stream after an end or a flush: as a publisher restart, with the cached
         * metadata and headers again (after a flush the pipeline does not send them anew). */
        st->ended = false;
        EZR_LIST_FOREACH_SAFE(it, nx, &st->players) {
            struct ezr_client *c = ezr_client_of_player(it);
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
    EZR_LIST_FOREACH_SAFE(it, nx, &st->subs)
        sub_at(it)->ops->frame(sub_at(it), f);
}

void ezr_stream_on_eos(struct ezr_stream *st, uint64_t seq)
{
    /* Ended already (EOS, then the pipeline stopped): the players were told. */
    EZR_LIST_FOREACH_SAFE(it, nx, &st->players) {
        struct ezr_client *c = ezr_client_of_player(it);
        if (!st->ended)
            c->proto->stream_ended(c, true);
    }
    EZR_LIST_FOREACH_SAFE(it, nx, &st->subs)
        sub_at(it)->ops->ended(sub_at(it));
    ezr_gop_clear(&st->gop);
    st->ended = true;
    st->eos_target = seq;
    set_kind(st, false, false);
    ezr_log(st->host->log, EZR_LOG_INFO, "stream %s/%s ended", st->app, st->key);
    check_drained(st);
}

/* The stream goes on after a break (the pipeline stopped: final; a flush upstream: not final,
 * see ezr_client_proto.h): the cached frames go, metadata and headers stay, and players are told
 * and resume at a keyframe when the next frame restarts the stream. */
void ezr_stream_on_interrupt(struct ezr_stream *st, bool final)
{
    ezr_gop_forget_frames(&st->gop);
    if (st->ended)
        return;
    EZR_LIST_FOREACH_SAFE(it, nx, &st->players) {
        struct ezr_client *c = ezr_client_of_player(it);
        c->proto->stream_ended(c, final);
        c->out->q.need_keyframe = true;
    }
    EZR_LIST_FOREACH_SAFE(it, nx, &st->subs)
        sub_at(it)->ops->interrupted(sub_at(it), final);
    st->ended = true;
    ezr_log(st->host->log, EZR_LOG_INFO, "stream %s/%s %s", st->app, st->key,
            final ? "stopped" : "flushed");
}

/* Marks the player for closing at the end of the round: closing it here could take another
 * player off a list that is being walked (this may run inside a client callback). */
void ezr_stream_on_kick(struct ezr_stream *st, uint64_t id)
{
    EZR_LIST_FOREACH_SAFE(it, nx, &st->players) {
        struct ezr_client *c = ezr_client_of_player(it);
        if (c->conn.id == id) {
            ezr_client_kick(c);
            return;
        }
    }
}
