/* A publish point: its publisher, its queue of FLV tags and the hold on the publisher's input;
 * see ezr_ingest.h and ezr_ingest_api.h. */
#include "ezr_ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_bytes.h"
#include "ezr_clock.h"
#include "ezr_error.h"
#include "ezr_limits.h"

/* FLV tag framing around a message body: the header, and the previous tag size after it. */
#define TAG_HEADER 11u
#define TAG_TRAILER 4u

/* One queued item with its tag bytes after it, freed as one block. */
struct ezr_ingest_entry {
    struct ezr_link link;
    struct ezr_ingest_item item;
};

static struct ezr_ingest_entry *entry_new(enum ezr_ingest_event ev, uint64_t publisher, size_t tag_len)
{
    struct ezr_ingest_entry *e = ezr_malloc(sizeof *e + tag_len);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    e->item.event = ev;
    e->item.publisher = publisher;
    e->item.tag = tag_len ? (uint8_t *)(e + 1) : NULL;
    e->item.tag_len = tag_len;
    return e;
}

void ezr_ingest_item_free(struct ezr_ingest_item *it)
{
    if (it)
        free(EZR_CONTAINER_OF(it, struct ezr_ingest_entry, item));
}

/* Under lock: appends e and wakes the consumer. */
static void enqueue(struct ezr_ingest *ing, struct ezr_ingest_entry *e)
{
    ezr_list_push_back(&ing->items, &e->link);
    ing->bytes += e->item.tag_len;
    pthread_cond_broadcast(&ing->cond);
}

static void tell(struct ezr_ingest *ing, struct ezr_client *c, enum ezr_client_event ev,
                 const char *reason)
{
    if (!ing->on_client)
        return;
    struct ezr_client_info info = {c->conn.id, c->conn.addr, reason,
                                   ezr_protocol_name(EZR_PROTOCOL_RTMP)};
    ing->on_client(ing->client_ctx, ev, &info);
}

/* ---- the reactor's side ----------------------------------------------------------------- */

static void run_room(struct ezr_op *op)
{
    struct ezr_ingest *ing = EZR_CONTAINER_OF(op, struct ezr_ingest, room);
    pthread_mutex_lock(&ing->lock);
    ing->room_posted = false;
    bool resume = ing->held && ing->publisher;
    ing->held = false;
    pthread_mutex_unlock(&ing->lock);
    if (resume && ing->publisher->input_held) {
        ing->last_input_ms = ezr_now_ms();
        ezr_client_resume_input(ing->publisher);
    }
}

static void run_kick(struct ezr_op *op)
{
    struct ezr_ingest *ing = EZR_CONTAINER_OF(op, struct ezr_ingest, kick);
    pthread_mutex_lock(&ing->lock);
    ing->kick_posted = false;
    pthread_mutex_unlock(&ing->lock);
    if (ing->publisher)
        ezr_client_close(ing->publisher, EZR_LOG_INFO, EZR_CLOSE_REMOVED,
                         "publisher removed by the application");
}

int ezr_ingest_new(const struct ezr_ingest_config *cfg, struct ezr_mailbox *mailbox,
                   const struct ezr_log *log, struct ezr_ingest **out)
{
    *out = NULL;
    if (!cfg || !cfg->app || !cfg->key || !*cfg->key || strlen(cfg->app) > EZR_MAX_NAME_LEN ||
        strlen(cfg->key) > EZR_MAX_NAME_LEN)
        return EZR_EINVAL;
    struct ezr_ingest *ing = ezr_calloc(1, sizeof *ing);
    if (!ing)
        return EZR_ENOMEM;
    int n = ezr_acl_parse(cfg->allowed_clients, ing->allowed, EZR_MAX_ACL_RANGES);
    if (n < 0) {
        free(ing);
        return EZR_EINVAL;
    }
    ing->nallowed = (size_t)n;
    if (cfg->publish_token && *cfg->publish_token && !(ing->token = ezr_strdup(cfg->publish_token))) {
        free(ing);
        return EZR_ENOMEM;
    }
    memcpy(ing->app, cfg->app, strlen(cfg->app) + 1);
    memcpy(ing->key, cfg->key, strlen(cfg->key) + 1);
    ing->max_bytes = cfg->max_bytes ? cfg->max_bytes : EZR_DEFAULT_INGEST_MAX_BYTES;
    ing->timeout_ms = cfg->timeout_ms;
    ing->on_client = cfg->on_client;
    ing->client_ctx = cfg->client_ctx;
    ing->mailbox = mailbox;
    ing->log = log;
    ing->room.run = run_room;
    ing->kick.run = run_kick;
    ezr_list_init(&ing->items);
    pthread_mutex_init(&ing->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ing->cond, &ca);
    pthread_condattr_destroy(&ca);
    ing->stats.max_bytes = ing->max_bytes;
    *out = ing;
    return 0;
}

void ezr_ingest_mark_removed(struct ezr_ingest *ing)
{
    pthread_mutex_lock(&ing->lock);
    ing->removed = true;
    pthread_cond_broadcast(&ing->cond);
    pthread_mutex_unlock(&ing->lock);
}

void ezr_ingest_free(struct ezr_ingest *ing)
{
    if (!ing)
        return;
    if (ing->publisher) {
        struct ezr_client *c = ing->publisher;
        ezr_ingest_detach(ing, c, "publish point removed");
        ezr_client_close(c, EZR_LOG_INFO, EZR_CLOSE_SERVER, "publish point removed");
    }
    struct ezr_link *n;
    while ((n = ezr_list_pop_front(&ing->items)))
        free(EZR_CONTAINER_OF(n, struct ezr_ingest_entry, link));
    pthread_cond_destroy(&ing->cond);
    pthread_mutex_destroy(&ing->lock);
    free(ing->token);
    free(ing);
}

int ezr_ingest_admit(struct ezr_ingest *ing, struct ezr_client *c, const char *name)
{
    int rc = 0;
    char given[EZR_MAX_NAME_LEN + 1];
    if (ing->publisher) {
        ezr_log(ing->log, EZR_LOG_INFO,
                "client %llu (%s) refused: %s/%s is already published by client %llu",
                (unsigned long long)c->conn.id, c->conn.addr, ing->app, ing->key,
                (unsigned long long)ing->publisher->conn.id);
        rc = EZR_EEXIST;
    } else if (ing->nallowed && !ezr_acl_allows(ing->allowed, ing->nallowed, c->conn.addr)) {
        ezr_log(ing->log, EZR_LOG_INFO, "client %llu (%s) refused: not allowed to publish",
                (unsigned long long)c->conn.id, c->conn.addr);
        rc = EZR_EACCES;
    } else if (ing->token && !(ezr_acl_query_value(name, "token", given, sizeof given) &&
                               ezr_acl_token_equal(given, ing->token))) {
        ezr_log(ing->log, EZR_LOG_INFO,
                "client %llu (%s) refused: wrong or missing publish token",
                (unsigned long long)c->conn.id, c->conn.addr);
        rc = EZR_EACCES;
    }
    if (rc < 0) {
        pthread_mutex_lock(&ing->lock);
        ing->stats.refused++;
        pthread_mutex_unlock(&ing->lock);
    }
    return rc;
}

int ezr_ingest_attach(struct ezr_ingest *ing, struct ezr_client *c)
{
    /* Both events of the publication now: its ENDED must never be missing (the consumer would
     * read the next publisher's tags as this one's), so a publication that cannot have it is
     * refused as out of memory. */
    struct ezr_ingest_entry *e = entry_new(EZR_INGEST_STARTED, c->conn.id, 0);
    struct ezr_ingest_entry *ended = e ? entry_new(EZR_INGEST_ENDED, c->conn.id, 0) : NULL;
    if (!ended) {
        free(e);
        return EZR_ENOMEM;
    }
    uint64_t now = ezr_now_ms();
    ing->publisher = c;
    ing->ended = ended;
    ing->last_input_ms = now;
    ing->frames_before_key = 0;
    ing->key_seen = false;
    c->publishing = true;
    pthread_mutex_lock(&ing->lock);
    enqueue(ing, e);
    struct ezr_publisher_stats *st = &ing->stats;
    uint64_t publishes = st->publishes + 1, refused = st->refused, held = st->held;
    *st = (struct ezr_publisher_stats){.id = c->conn.id, .publishes = publishes,
                                       .refused = refused, .held = held,
                                       .max_bytes = ing->max_bytes, .publishing = true};
    snprintf(st->addr, sizeof st->addr, "%s", c->conn.addr);
    ing->started_ms = ing->window_ms = now;
    ing->window_bytes = 0;
    pthread_mutex_unlock(&ing->lock);
    ezr_log(ing->log, EZR_LOG_INFO, "client %llu (%s) publishes %s/%s",
            (unsigned long long)c->conn.id, c->conn.addr, ing->app, ing->key);
    tell(ing, c, EZR_CLIENT_ADDED, NULL);
    return 0;
}

/* What a tag counts as in the stats: a video keyframe or other frame, an audio frame, or a
 * sequence header (legacy AVC/AAC and Enhanced RTMP's sequence start). */
static void count_tag(struct ezr_publisher_stats *st, uint8_t type, const uint8_t *b, size_t len)
{
    if (type == 9 && len >= 1) {
        bool ex = b[0] & 0x80; /* Enhanced RTMP: packet type in the low nibble */
        bool header = ex ? (b[0] & 0x0f) == 0 : ((b[0] & 0x0f) == 7 && len >= 2 && b[1] == 0);
        if (!header)
            st->video_frames++;
        if (((b[0] >> 4) & 0x07) == 1)
            st->keyframes++;
    } else if (type == 8 && len >= 1) {
        bool header = (b[0] >> 4) == 10 ? len >= 2 && b[1] == 0
                      : (b[0] >> 4) == 9 ? (b[0] & 0x0f) == 0
                                         : false;
        if (!header)
            st->audio_frames++;
    }
}

/* A video frame (not a sequence header) that is not a keyframe, while none was: true once there
 * were more than EZR_MAX_FRAMES_BEFORE_KEYFRAME of them. */
static bool no_keyframe_yet(struct ezr_ingest *ing, uint8_t type, const uint8_t *b, size_t len)
{
    if (ing->key_seen || type != 9 || len < 2)
        return false;
    bool ex = b[0] & 0x80; /* Enhanced RTMP: packet type in the low nibble */
    bool header = ex ? (b[0] & 0x0f) == 0 : ((b[0] & 0x0f) == 7 && b[1] == 0);
    if (header)
        return false;
    if (((b[0] >> 4) & 0x07) == 1) {
        ing->key_seen = true;
        return false;
    }
    return ++ing->frames_before_key > EZR_MAX_FRAMES_BEFORE_KEYFRAME;
}

int ezr_ingest_push(struct ezr_ingest *ing, struct ezr_client *c, uint8_t type, uint32_t ts,
                    const uint8_t *body, size_t len)
{
    if (c != ing->publisher)
        return 0;
    if (no_keyframe_yet(ing, type, body, len))
        return EZR_EPROTO; /* the session closes it, saying so */
    struct ezr_ingest_entry *e = entry_new(EZR_INGEST_TAG, c->conn.id, TAG_HEADER + len + TAG_TRAILER);
    if (!e)
        return EZR_ENOMEM;
    uint8_t *t = e->item.tag;
    t[0] = type;
    ezr_wr_be24(t + 1, (uint32_t)len);
    ezr_wr_be24(t + 4, ts & 0xFFFFFFu);
    t[7] = (uint8_t)(ts >> 24);
    ezr_wr_be24(t + 8, 0);
    if (len)
        memcpy(t + TAG_HEADER, body, len);
    ezr_wr_be32(t + TAG_HEADER + len, (uint32_t)(TAG_HEADER + len));
    e->item.type = type;
    e->item.timestamp = ts;
    e->item.body_len = len;
    uint64_t now = ezr_now_ms();
    ing->last_input_ms = now;
    pthread_mutex_lock(&ing->lock);
    enqueue(ing, e);
    struct ezr_publisher_stats *st = &ing->stats;
    st->tags++;
    st->bytes_in += len;
    count_tag(st, type, body, len);
    ing->window_bytes += len;
    if (now - ing->window_ms >= 1000) {
        st->bitrate = ing->window_bytes * 8000u / (now - ing->window_ms);
        ing->window_ms = now;
        ing->window_bytes = 0;
    }
    bool hold = !ing->held && ing->bytes >= ing->max_bytes;
    if (hold) {
        ing->held = true;
        st->held++;
    }
    pthread_mutex_unlock(&ing->lock);
    if (hold) {
        ezr_log(ing->log, EZR_LOG_DEBUG,
                "client %llu (%s): the queue of %s/%s is full, its input waits",
                (unsigned long long)c->conn.id, c->conn.addr, ing->app, ing->key);
        ezr_client_hold_input(c);
    }
    return 0;
}

void ezr_ingest_detach(struct ezr_ingest *ing, struct ezr_client *c, const char *reason)
{
    if (!c || c != ing->publisher)
        return;
    struct ezr_ingest_entry *e = ing->ended;
    ing->ended = NULL;
    ing->publisher = NULL;
    c->publishing = false;
    pthread_mutex_lock(&ing->lock);
    enqueue(ing, e);
    ing->held = false; /* a later publisher is held afresh by its own tags */
    ing->stats.publishing = false;
    pthread_mutex_unlock(&ing->lock);
    if (c->input_held && !c->dead)
        ezr_client_resume_input(c);
    ezr_log(ing->log, EZR_LOG_INFO, "client %llu (%s) stopped publishing %s/%s: %s",
            (unsigned long long)c->conn.id, c->conn.addr, ing->app, ing->key, reason);
    tell(ing, c, EZR_CLIENT_REMOVED, reason);
}

struct ezr_client *ezr_ingest_timed_out(struct ezr_ingest *ing, uint64_t now)
{
    struct ezr_client *c = ing->publisher;
    if (!c || !ing->timeout_ms)
        return NULL;
    if (c->input_held) { /* we do not read it: its silence is ours */
        ing->last_input_ms = now;
        return NULL;
    }
    return ezr_elapsed(now, ing->last_input_ms) > ing->timeout_ms ? c : NULL;
}

/* ---- the application's side ------------------------------------------------------------- */

int ezr_ingest_pop(struct ezr_ingest *ing, int timeout_ms, struct ezr_ingest_item **out)
{
    *out = NULL;
    struct timespec deadline = ezr_deadline_after(timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&ing->lock);
    while (!ing->flushing && !ing->removed && ezr_list_empty(&ing->items)) {
        if (timeout_ms == 0 ||
            (timeout_ms > 0 && pthread_cond_timedwait(&ing->cond, &ing->lock, &deadline) == ETIMEDOUT)) {
            pthread_mutex_unlock(&ing->lock);
            return EZR_EAGAIN;
        }
        if (timeout_ms < 0)
            pthread_cond_wait(&ing->cond, &ing->lock);
    }
    if (ing->flushing || ing->removed) {
        pthread_mutex_unlock(&ing->lock);
        return EZR_ECLOSED;
    }
    struct ezr_ingest_entry *e =
        EZR_CONTAINER_OF(ezr_list_pop_front(&ing->items), struct ezr_ingest_entry, link);
    ing->bytes -= e->item.tag_len;
    /* Room again at half the bound, not at the first byte freed: the publisher is then read in
     * long runs, not one message per hold. */
    bool post = ing->held && !ing->room_posted && ing->bytes <= ing->max_bytes / 2;
    if (post)
        ing->room_posted = true;
    pthread_mutex_unlock(&ing->lock);
    if (post)
        ezr_mailbox_post(ing->mailbox, &ing->room);
    *out = &e->item;
    return 0;
}

void ezr_ingest_set_flushing(struct ezr_ingest *ing, bool flushing)
{
    pthread_mutex_lock(&ing->lock);
    ing->flushing = flushing;
    pthread_cond_broadcast(&ing->cond);
    pthread_mutex_unlock(&ing->lock);
}

void ezr_ingest_kick(struct ezr_ingest *ing)
{
    pthread_mutex_lock(&ing->lock);
    bool post = !ing->kick_posted && !ing->removed;
    if (post)
        ing->kick_posted = true;
    pthread_mutex_unlock(&ing->lock);
    if (post)
        ezr_mailbox_post(ing->mailbox, &ing->kick);
}

void ezr_ingest_get_stats(struct ezr_ingest *ing, struct ezr_publisher_stats *out)
{
    uint64_t now = ezr_now_ms();
    pthread_mutex_lock(&ing->lock);
    *out = ing->stats;
    out->queued_bytes = ing->bytes;
    if (out->publishing) {
        out->connected_ms = now - ing->started_ms;
        /* A publisher silent for a while has no rate, whatever its last window said. */
        if (now - ing->window_ms >= 2000)
            out->bitrate = ing->window_bytes * 8000u / (now - ing->window_ms);
    } else {
        out->bitrate = 0;
    }
    pthread_mutex_unlock(&ing->lock);
}
