/* The server: listener, clients and streams, driven by one reactor thread; see ezr_server.h.
 *
 * Threads: one reactor thread does accept and all client I/O (accept is cheap, and an
 * edge-triggered accept loop drains the backlog in one wake-up, so a second thread would only add
 * locking). Other threads talk to it through `ops`, a mutex-protected list woken by an eventfd;
 * the lock is held only to link or unlink a list node, never across I/O. */
#include "ezr_server.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ezr_acl.h"
#include "ezr_error.h"
#include "ezr_frame.h"
#include "ezr_gop.h"
#include "ezr_limits.h"
#include "ezr_net.h"
#include "ezr_queue.h"
#include "ezr_reactor.h"
#include "ezr_session.h"
#include "ezr_text.h"

/* How often the reactor wakes with nothing to do, to enforce timeouts and retry accepts. */
#define TICK_MS 250
#define LISTEN_BACKLOG 1024

enum op_type { OP_FRAME, OP_EOS, OP_RESET, OP_REMOVE, OP_STATS, OP_KICK };

/* A stats request: shared by the asking thread and the reactor; freed by the last of the two
 * (the asker may give up on a timeout before the reactor gets to it). Under srv->lock. */
struct stats_query {
    int refs;
    bool done;
    struct ezr_stream_stats stats;
    bool want_clients;
    struct ezr_client_stats *clients;
    size_t nclients;
};

struct op {
    struct op *next;
    enum op_type type;
    struct ezr_stream *stream;
    struct ezr_frame *frame; /* OP_FRAME: the op owns one reference */
    uint64_t seq;            /* OP_EOS: what the caller waits for; OP_KICK: the client id */
    struct stats_query *query; /* OP_STATS */
    bool *done;                /* OP_REMOVE: set under srv->lock when the stream is gone */
};

struct ezr_client;

struct ezr_stream {
    struct ezr_server *srv;
    struct ezr_stream *next; /* registry, under srv->lock */
    char app[EZR_MAX_NAME_LEN + 1];
    char key[EZR_MAX_NAME_LEN + 1];
    /* Reactor thread only. */
    struct ezr_gop gop;
    struct ezr_client *players;
    ezr_client_fn on_client;
    void *client_ctx;
    struct ezr_cidr allowed[EZR_MAX_ACL_RANGES];
    size_t nallowed; /* 0: anyone */
    char *token;     /* NULL: no token needed */
    struct ezr_stream_stats stats; /* the stream's part; server-wide fields filled on query */
    bool ended; /* EOS seen and no frame since */
    uint64_t eos_target;
    /* Under srv->lock. */
    uint64_t eos_requested;
    uint64_t eos_done;
    bool flushing; /* ezr_stream_set_flushing(): EOS does not wait for players */
};

struct ezr_client {
    struct ezr_io io;
    struct ezr_server *srv;
    struct ezr_client *prev, *next;   /* srv->clients */
    struct ezr_client *pprev, *pnext; /* stream->players */
    struct ezr_client *dirty_next;    /* srv->dirty */
    struct ezr_client *later_next;    /* srv->later */
    struct ezr_stream *stream;        /* the stream played, from play_started until stopped */
    struct ezr_stream *pending;       /* found by play, attached by play_started */
    struct ezr_session sess;
    struct ezr_queue q;
    struct ezr_buf in;
    uint64_t id;
    uint64_t accepted_ms;
    uint64_t progress_ms; /* the socket last took bytes, or the queue was empty */
    char addr[64];
    bool dirty;       /* to be written at the end of this reactor round */
    bool later;       /* has media to be written at the next flush interval */
    bool closing;     /* close once the queue is written */
    bool dead;        /* closed; freed after this reactor round */
    bool failed;      /* an allocation failed inside a callback */
    enum ezr_close_reason close_code; /* what closing=true will count as */
    uint64_t frames_dropped;
};

struct ezr_server {
    char host[EZR_MAX_NAME_LEN + 1];
    uint16_t port;
    uint32_t chunk_size;
    uint32_t max_connections;
    uint32_t handshake_timeout_ms;
    uint32_t client_timeout_ms;
    uint32_t send_buffer_bytes;
    uint32_t flush_interval_ms;
    ezr_log_fn log;
    void *log_ctx;
    struct ezr_queue_limits qlimits;

    struct ezr_reactor *reactor;
    struct ezr_io listen_io;
    struct ezr_io wake_io;
    pthread_t thread;
    atomic_bool stop;
    atomic_bool failed; /* the reactor thread stopped on an error */

    pthread_mutex_t lock; /* ops, streams registry, eos counters */
    pthread_cond_t cond;  /* eos_done moved */
    struct op *ops_head, *ops_tail;
    struct ezr_stream *streams;

    /* Reactor thread only. */
    struct ezr_client *clients;
    size_t nclients;
    struct ezr_client *dirty;
    /* Clients whose media waits for the flush interval; when it is up they become the sweep,
     * written a batch per round, while new media gathers in a new later list. */
    struct ezr_client *later;
    uint64_t later_due_ms; /* when the later list becomes the sweep */
    struct ezr_client *sweep;
    struct ezr_client *graveyard;
    uint8_t *rbuf; /* EZR_READ_BUF bytes: every client reads into it */
    uint64_t next_id;
    uint64_t start_ms;
    uint64_t last_tick_ms;
    bool accept_blocked; /* out of descriptors: retry on the tick */
    uint64_t accepted;
    uint64_t refused;
};

/* The server whose reactor runs on this thread, so that a call from a client callback can be
 * answered directly instead of waiting for the reactor (itself). */
static _Thread_local const struct ezr_server *reactor_of_this_thread;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* For pthread_cond_timedwait on a CLOCK_MONOTONIC condition variable. */
static struct timespec deadline_after(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static void srv_log(struct ezr_server *s, enum ezr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void srv_log(struct ezr_server *s, enum ezr_log_level level, const char *fmt, ...)
{
    if (!s->log)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->log(s->log_ctx, level, msg);
}

/* ---- clients ---------------------------------------------------------------------------- */

/* c has bytes to write at the end of this round. */
static void mark_dirty(struct ezr_client *c)
{
    if (!c->dirty && !c->dead) {
        c->dirty = true;
        c->dirty_next = c->srv->dirty;
        c->srv->dirty = c;
    }
}

/* c has media to write. Written together at most every flush interval, frames cost far fewer
 * syscalls and TCP segments than one write each (what the kernel charges per write, not per byte,
 * is most of a server's CPU time on loopback); a backlog of a flush's worth is written at once. */
static void mark_media(struct ezr_client *c)
{
    struct ezr_server *s = c->srv;
    if (!s->flush_interval_ms || c->q.bytes >= EZR_FLUSH_BYTES) {
        mark_dirty(c);
        return;
    }
    if (!c->later && !c->dead) {
        if (!s->later)
            s->later_due_ms = now_ms() + s->flush_interval_ms;
        c->later = true;
        c->later_next = s->later;
        s->later = c;
    }
}

/* Stops sending c its stream's frames and tells the stream's owner. */
static void detach_player(struct ezr_client *c, const char *reason)
{
    struct ezr_stream *st = c->stream;
    if (!st)
        return;
    if (c->pprev)
        c->pprev->pnext = c->pnext;
    else
        st->players = c->pnext;
    if (c->pnext)
        c->pnext->pprev = c->pprev;
    c->pprev = c->pnext = NULL;
    c->stream = NULL;
    st->stats.clients--;
    if (st->on_client) {
        struct ezr_client_info info = {c->id, c->addr, reason};
        st->on_client(st->client_ctx, EZR_CLIENT_REMOVED, &info);
    }
}

static void check_drained(struct ezr_stream *st);

static void client_close(struct ezr_client *c, enum ezr_log_level level,
                         enum ezr_close_reason code, const char *reason)
{
    if (c->dead)
        return;
    struct ezr_server *s = c->srv;
    struct ezr_stream *st = c->stream;
    srv_log(s, level, "client %llu (%s) closed: %s", (unsigned long long)c->id, c->addr, reason);
    if (st)
        st->stats.disconnects[code]++;
    detach_player(c, reason);
    ezr_reactor_del(s->reactor, &c->io);
    close(c->io.fd);
    c->io.fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nclients--;
    c->dead = true;
    c->next = s->graveyard;
    s->graveyard = c;
    if (st)
        check_drained(st);
}

static void client_free(struct ezr_client *c)
{
    ezr_session_free(&c->sess);
    ezr_queue_clear(&c->q);
    ezr_buf_free(&c->in);
    free(c);
}

/* Writes as much of the queue as the socket takes, many frames per writev. */
static void client_flush(struct ezr_client *c)
{
    while (!c->dead && !ezr_queue_empty(&c->q)) {
        struct iovec iov[EZR_WRITEV_MAX];
        int n = ezr_queue_iov(&c->q, iov, EZR_WRITEV_MAX);
        ssize_t w = writev(c->io.fd, iov, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return; /* EPOLLOUT will call again */
            if (errno == EINTR)
                continue;
            client_close(c, EZR_LOG_INFO, EZR_CLOSE_PLAYER,
                         errno == EPIPE || errno == ECONNRESET
                                              ? "connection reset by player"
                                              : "write error");
            return;
        }
        ezr_queue_advance(&c->q, (size_t)w);
        c->progress_ms = now_ms();
        if (c->stream)
            c->stream->stats.bytes_sent += (uint64_t)w;
    }
    if (c->dead)
        return;
    if (c->closing) {
        client_close(c, EZR_LOG_INFO, c->close_code,
                     c->sess.close_reason ? c->sess.close_reason : "closing");
        return;
    }
    if (c->stream && c->stream->eos_target)
        check_drained(c->stream);
}

static void offer(struct ezr_client *c, struct ezr_frame *f)
{
    enum ezr_queue_level level = ezr_queue_level(&c->q, &c->srv->qlimits);
    switch (ezr_queue_offer_frame(&c->q, f, &c->srv->qlimits)) {
    case EZR_QUEUE_QUEUED:
        mark_media(c);
        break;
    case EZR_QUEUE_DROPPED:
        c->frames_dropped++;
        if (c->stream && level < EZR_QUEUE_CRITICAL)
            c->stream->stats.frames_dropped[level]++;
        break;
    case EZR_QUEUE_OVERFLOW:
        client_close(c, EZR_LOG_WARNING, EZR_CLOSE_SLOW,
                     "write queue over its limit (player too slow)");
        break;
    }
}

/* Session callbacks. */

static void cb_send(void *ctx, const uint8_t *data, size_t len)
{
    struct ezr_client *c = ctx;
    if (ezr_queue_push_bytes(&c->q, data, len) < 0)
        c->failed = true;
    mark_dirty(c);
}

static struct ezr_stream *find_stream(struct ezr_server *s, const char *app, const char *key,
                                      size_t keylen)
{
    struct ezr_stream *st;
    pthread_mutex_lock(&s->lock);
    for (st = s->streams; st; st = st->next)
        if (strcmp(st->app, app) == 0 &&
            (key == NULL || (strlen(st->key) == keylen && memcmp(st->key, key, keylen) == 0)))
            break;
    pthread_mutex_unlock(&s->lock);
    return st;
}

static int cb_connect(void *ctx, const char *app)
{
    struct ezr_client *c = ctx;
    char esc[128];
    int found = find_stream(c->srv, app, NULL, 0) != NULL;
    srv_log(c->srv, EZR_LOG_INFO, "client %llu (%s) connect app \"%s\"%s",
            (unsigned long long)c->id, c->addr, ezr_text_escape(esc, sizeof esc, app, strlen(app)),
            found ? "" : ": no such app, rejected");
    return found ? 0 : EZR_ENOTFOUND;
}

static int cb_play(void *ctx, const char *name)
{
    struct ezr_client *c = ctx;
    char esc[128];
    /* "stream?token=..." plays "stream": the query is for access control, not the name. */
    size_t keylen = strcspn(name, "?");
    struct ezr_stream *st = find_stream(c->srv, c->sess.app, name, keylen);
    srv_log(c->srv, EZR_LOG_INFO, "client %llu (%s) play \"%s\"%s", (unsigned long long)c->id,
            c->addr, ezr_text_escape(esc, sizeof esc, name, strlen(name)),
            st ? "" : ": no such stream");
    if (!st)
        return EZR_ENOTFOUND;
    if (st->nallowed && !ezr_acl_allows(st->allowed, st->nallowed, c->addr)) {
        srv_log(c->srv, EZR_LOG_INFO, "client %llu (%s) refused: not in allowed-clients",
                (unsigned long long)c->id, c->addr);
        return EZR_EACCES;
    }
    char given[EZR_MAX_NAME_LEN + 1];
    if (st->token && !(ezr_acl_query_value(name, "token", given, sizeof given) &&
                       ezr_acl_token_equal(given, st->token))) {
        srv_log(c->srv, EZR_LOG_INFO, "client %llu (%s) refused: wrong or missing play token",
                (unsigned long long)c->id, c->addr);
        return EZR_EACCES;
    }
    c->pending = st;
    return 0;
}

static int replay_one(void *ctx, struct ezr_frame *f)
{
    struct ezr_client *c = ctx;
    offer(c, f);
    return c->dead ? 1 : 0;
}

static void cb_play_started(void *ctx)
{
    struct ezr_client *c = ctx;
    struct ezr_stream *st = c->pending;
    c->pending = NULL;
    if (!st)
        return;
    c->stream = st;
    c->pprev = NULL;
    c->pnext = st->players;
    if (st->players)
        st->players->pprev = c;
    st->players = c;
    st->stats.clients++;
    st->stats.clients_total++;
    if (st->stats.clients > st->stats.clients_peak)
        st->stats.clients_peak = st->stats.clients;
    if (st->on_client) {
        struct ezr_client_info info = {c->id, c->addr, NULL};
        st->on_client(st->client_ctx, EZR_CLIENT_ADDED, &info);
    }
    /* Metadata, headers, then the cached GOP from its keyframe: the player starts at once. */
    ezr_gop_replay(&st->gop, replay_one, c);
    srv_log(c->srv, EZR_LOG_INFO, "client %llu (%s) playing %s/%s (%zu cached frames)",
            (unsigned long long)c->id, c->addr, st->app, st->key, st->gop.count);
}

static void cb_play_stopped(void *ctx)
{
    struct ezr_client *c = ctx;
    srv_log(c->srv, EZR_LOG_INFO, "client %llu (%s) stopped playing", (unsigned long long)c->id,
            c->addr);
    detach_player(c, "stopped playing");
}

static void cb_receive(void *ctx, bool audio, bool video)
{
    struct ezr_client *c = ctx;
    c->q.want_audio = audio;
    c->q.want_video = video;
}

static const struct ezr_session_callbacks session_cb = {
    .send = cb_send,
    .connect = cb_connect,
    .play = cb_play,
    .play_started = cb_play_started,
    .play_stopped = cb_play_stopped,
    .receive = cb_receive,
};

/* Reads into the server's one read buffer and feeds the session from there; only an incomplete
 * tail (part of a chunk) is kept per client, in c->in, and freed once used: a player that sends
 * nothing but acknowledgements holds no input buffer. */
static void client_read(struct ezr_client *c)
{
    struct ezr_server *s = c->srv;
    for (;;) {
        ssize_t n = read(c->io.fd, s->rbuf, EZR_READ_BUF);
        if (n == 0) {
            client_close(c, EZR_LOG_INFO, EZR_CLOSE_PLAYER, "player disconnected");
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECONNRESET)
                client_close(c, EZR_LOG_INFO, EZR_CLOSE_PLAYER, "connection reset by player");
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                client_close(c, EZR_LOG_INFO, EZR_CLOSE_PLAYER, "read error");
            return;
        }
        if (c->closing) /* a final reply is on its way: the rest is not read */
            continue;
        const uint8_t *data = s->rbuf;
        size_t len = (size_t)n;
        if (c->in.len) {
            ezr_buf_append(&c->in, s->rbuf, len);
            data = c->in.data;
            len = c->in.len;
        }
        int rc = ezr_buf_failed(&c->in) ? EZR_ENOMEM : ezr_session_feed(&c->sess, data, len);
        if (c->failed || rc == EZR_ENOMEM) {
            client_close(c, EZR_LOG_WARNING, EZR_CLOSE_SERVER, "out of memory");
            return;
        }
        if (rc == EZR_ECLOSED) {
            c->closing = true;
            c->close_code = EZR_CLOSE_PROTOCOL;
            ezr_buf_free(&c->in);
            mark_dirty(c);
            continue;
        }
        if (rc < 0) {
            client_close(c, EZR_LOG_WARNING, EZR_CLOSE_PROTOCOL,
                         c->sess.close_reason ? c->sess.close_reason : ezr_strerror(rc));
            return;
        }
        if (c->in.len)
            ezr_buf_consume(&c->in, (size_t)rc);
        else if ((size_t)rc < len)
            ezr_buf_append(&c->in, s->rbuf + rc, len - (size_t)rc);
        if (c->in.len == 0)
            ezr_buf_free(&c->in);
    }
}

static void client_event(struct ezr_io *io, uint32_t events)
{
    struct ezr_client *c = (struct ezr_client *)io;
    if (c->dead)
        return;
    if (events & (EZR_IO_READ | EZR_IO_HUP))
        client_read(c);
    if (!c->dead && (events & EZR_IO_WRITE))
        client_flush(c);
}

static void accept_clients(struct ezr_server *s)
{
    for (;;) {
        char addr[64];
        int fd = ezr_net_accept(s->listen_io.fd, addr, sizeof addr);
        if (fd == EZR_EAGAIN) {
            s->accept_blocked = false;
            return;
        }
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* Pending connections stay in the backlog; retried on the tick. */
                if (!s->accept_blocked)
                    srv_log(s, EZR_LOG_WARNING, "out of file descriptors: accept paused");
                s->accept_blocked = true;
                return;
            }
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            srv_log(s, EZR_LOG_WARNING, "accept failed: %s", strerror(errno));
            return;
        }
        if (s->nclients >= s->max_connections) {
            srv_log(s, EZR_LOG_WARNING, "refused %s: connection limit %u reached", addr,
                    s->max_connections);
            s->refused++;
            close(fd);
            continue;
        }
        struct ezr_client *c = calloc(1, sizeof *c);
        uint8_t random[EZR_HANDSHAKE_SIZE];
        if (!c || getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) {
            free(c);
            close(fd);
            srv_log(s, EZR_LOG_WARNING, "refused %s: out of memory", addr);
            continue;
        }
        ezr_net_set_send_buffer(fd, s->send_buffer_bytes);
        c->io.fd = fd;
        c->io.fn = client_event;
        c->srv = s;
        c->id = ++s->next_id;
        c->accepted_ms = c->progress_ms = now_ms();
        snprintf(c->addr, sizeof c->addr, "%s", addr);
        ezr_queue_init(&c->q);
        ezr_buf_init(&c->in);
        ezr_session_init(&c->sess, &session_cb, c, s->chunk_size, random,
                         (uint32_t)(c->accepted_ms - s->start_ms));
        if (ezr_reactor_add(s->reactor, &c->io, EZR_IO_READ | EZR_IO_WRITE) < 0) {
            close(fd);
            client_free(c);
            continue;
        }
        c->next = s->clients;
        if (s->clients)
            s->clients->prev = c;
        s->clients = c;
        s->nclients++;
        s->accepted++;
        srv_log(s, EZR_LOG_INFO, "client %llu (%s) connected", (unsigned long long)c->id, addr);
    }
}

static void listen_event(struct ezr_io *io, uint32_t events)
{
    struct ezr_server *s = (struct ezr_server *)((char *)io - offsetof(struct ezr_server, listen_io));
    accept_clients(s);
}

/* ---- streams and ops -------------------------------------------------------------------- */

static void check_drained(struct ezr_stream *st)
{
    if (!st->eos_target)
        return;
    for (struct ezr_client *c = st->players; c; c = c->pnext)
        if (!ezr_queue_empty(&c->q))
            return;
    struct ezr_server *s = st->srv;
    pthread_mutex_lock(&s->lock);
    st->eos_done = st->eos_target;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    st->eos_target = 0;
}

static void stream_frame(struct ezr_stream *st, struct ezr_frame *f)
{
    if (st->ended) {
        st->ended = false;
        for (struct ezr_client *c = st->players; c; c = c->pnext)
            ezr_session_send_play_restart(&c->sess);
    }
    st->stats.frames_in++;
    if (ezr_gop_add(&st->gop, f) < 0)
        srv_log(st->srv, EZR_LOG_WARNING, "GOP cache: out of memory, frame not cached");
    for (struct ezr_client *c = st->players, *next; c; c = next) {
        next = c->pnext;
        offer(c, f);
    }
}

static void stream_end(struct ezr_stream *st, uint64_t seq)
{
    for (struct ezr_client *c = st->players; c; c = c->pnext)
        ezr_session_send_play_end(&c->sess);
    ezr_gop_clear(&st->gop);
    st->ended = true;
    st->eos_target = seq;
    srv_log(st->srv, EZR_LOG_INFO, "stream %s/%s ended", st->app, st->key);
    check_drained(st);
}

static void stream_free(struct ezr_stream *st)
{
    while (st->players) {
        struct ezr_client *c = st->players;
        ezr_session_send_play_end(&c->sess);
        detach_player(c, "stream removed");
        c->closing = true;
        c->close_code = EZR_CLOSE_SERVER;
        mark_dirty(c);
    }
    ezr_gop_clear(&st->gop);
    free(st->token);
    free(st);
}

static void query_unref(struct ezr_server *s, struct stats_query *q)
{
    /* Under s->lock. */
    if (--q->refs == 0) {
        free(q->clients);
        free(q);
    }
}

static void stream_stats(struct ezr_stream *st, struct stats_query *q)
{
    struct ezr_server *s = st->srv;
    struct ezr_stream_stats out = st->stats;
    out.gop_frames = st->gop.count;
    out.gop_bytes = st->gop.bytes;
    out.connections = (uint32_t)s->nclients;
    out.connections_accepted = s->accepted;
    out.connections_refused = s->refused;
    struct ezr_client_stats *list = NULL;
    size_t n = 0;
    if (q->want_clients && st->stats.clients) {
        list = calloc(st->stats.clients, sizeof *list);
        uint64_t now = now_ms();
        for (struct ezr_client *c = st->players; c && list; c = c->pnext, n++) {
            list[n].id = c->id;
            snprintf(list[n].addr, sizeof list[n].addr, "%s", c->addr);
            list[n].bytes_sent = c->q.bytes_written;
            list[n].bytes_queued = c->q.bytes;
            list[n].frames_dropped = c->frames_dropped;
            list[n].connected_ms = now - c->accepted_ms;
        }
    }
    pthread_mutex_lock(&s->lock);
    q->stats = out;
    q->clients = list;
    q->nclients = list ? n : 0;
    q->done = true;
    pthread_cond_broadcast(&s->cond);
    query_unref(s, q);
    pthread_mutex_unlock(&s->lock);
}

static void kick(struct ezr_stream *st, uint64_t id)
{
    for (struct ezr_client *c = st->players; c; c = c->pnext) {
        if (c->id == id) {
            client_close(c, EZR_LOG_INFO, EZR_CLOSE_REMOVED, "removed by the application");
            return;
        }
    }
}

static void run_ops(struct ezr_server *s)
{
    pthread_mutex_lock(&s->lock);
    struct op *list = s->ops_head;
    s->ops_head = s->ops_tail = NULL;
    pthread_mutex_unlock(&s->lock);
    while (list) {
        struct op *o = list;
        list = o->next;
        switch (o->type) {
        case OP_FRAME:
            stream_frame(o->stream, o->frame);
            ezr_frame_unref(o->frame);
            break;
        case OP_EOS:
            stream_end(o->stream, o->seq);
            break;
        case OP_RESET:
            ezr_gop_clear(&o->stream->gop);
            break;
        case OP_REMOVE:
            /* The op is on the waiting caller's stack: after `done` it is gone. */
            stream_free(o->stream);
            pthread_mutex_lock(&s->lock);
            *o->done = true;
            pthread_cond_broadcast(&s->cond);
            pthread_mutex_unlock(&s->lock);
            continue;
        case OP_STATS:
            stream_stats(o->stream, o->query);
            break;
        case OP_KICK:
            kick(o->stream, o->seq);
            break;
        }
        free(o);
    }
}

static void wake_event(struct ezr_io *io, uint32_t events)
{
    uint64_t v;
    while (read(io->fd, &v, sizeof v) > 0)
        ;
    struct ezr_server *s = (struct ezr_server *)((char *)io - offsetof(struct ezr_server, wake_io));
    run_ops(s);
}

static int post(struct ezr_server *s, struct op *o)
{
    o->next = NULL;
    pthread_mutex_lock(&s->lock);
    bool was_empty = s->ops_head == NULL;
    if (s->ops_tail)
        s->ops_tail->next = o;
    else
        s->ops_head = o;
    s->ops_tail = o;
    pthread_mutex_unlock(&s->lock);
    /* One wake-up per batch: the reactor takes the whole list at once. */
    if (was_empty) {
        uint64_t one = 1;
        if (write(s->wake_io.fd, &one, sizeof one) < 0 && errno != EAGAIN)
            return EZR_ESYS;
    }
    return 0;
}

/* ---- the reactor thread ----------------------------------------------------------------- */

static void tick(struct ezr_server *s, uint64_t now)
{
    if (s->accept_blocked)
        accept_clients(s);
    for (struct ezr_client *c = s->clients, *next; c; c = next) {
        next = c->next;
        if (ezr_queue_empty(&c->q))
            c->progress_ms = now;
        if (s->handshake_timeout_ms && c->sess.state != EZR_SESSION_PLAYING && !c->stream &&
            now - c->accepted_ms > s->handshake_timeout_ms)
            client_close(c, EZR_LOG_INFO, EZR_CLOSE_TIMEOUT,
                         "did not start playing within the handshake timeout");
        else if (s->client_timeout_ms && now - c->progress_ms > s->client_timeout_ms)
            client_close(c, EZR_LOG_WARNING, EZR_CLOSE_TIMEOUT,
                         "player read nothing within the client timeout");
    }
}

/* Writes what is due: replies and urgent bytes now, media whose interval is up (all of it, with
 * all). At most EZR_FLUSH_BATCH clients' media per round, so that with thousands of players a
 * flush does not hold back the handshakes and replies of the next round. Dead clients are freed
 * once no list still points at them. */
static void end_of_round(struct ezr_server *s, bool all)
{
    while (s->dirty) {
        struct ezr_client *c = s->dirty;
        s->dirty = c->dirty_next;
        c->dirty = false;
        if (!c->dead)
            client_flush(c);
    }
    for (unsigned n = 0; all || n < EZR_FLUSH_BATCH; n++) {
        if (!s->sweep && s->later && (all || now_ms() >= s->later_due_ms)) {
            s->sweep = s->later;
            s->later = NULL;
        }
        if (!s->sweep)
            break;
        /* A client in the sweep that gets more media meanwhile stays in it: c->later holds. */
        struct ezr_client *c = s->sweep;
        s->sweep = c->later_next;
        c->later = false;
        if (!c->dead)
            client_flush(c);
    }
    for (struct ezr_client **pp = &s->graveyard; *pp;) {
        struct ezr_client *c = *pp;
        if (c->later || c->dirty) { /* still on a list: freed in a later round */
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        client_free(c);
    }
}

static void *reactor_main(void *arg)
{
    struct ezr_server *s = arg;
    reactor_of_this_thread = s;
    /* Named so that top -H, perf and bench/ can tell its CPU time from the pipeline's. */
    pthread_setname_np(pthread_self(), "ezrtmp-reactor");
    while (!atomic_load(&s->stop)) {
        int timeout = TICK_MS;
        if (s->sweep) {
            timeout = 0;
        } else if (s->later) {
            uint64_t now = now_ms();
            timeout = s->later_due_ms > now ? (int)(s->later_due_ms - now) : 0;
        }
        if (ezr_reactor_poll(s->reactor, timeout) < 0) {
            srv_log(s, EZR_LOG_ERROR, "the reactor failed (%s): no player is served any more",
                    strerror(errno));
            atomic_store(&s->failed, true);
            break;
        }
        uint64_t now = now_ms();
        if (now - s->last_tick_ms >= TICK_MS) {
            s->last_tick_ms = now;
            tick(s, now);
        }
        end_of_round(s, false);
    }
    return NULL;
}

/* ---- public API ------------------------------------------------------------------------- */

void ezr_server_config_init(struct ezr_server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "localhost";
    cfg->port = 1935;
    cfg->chunk_size = EZR_DEFAULT_CHUNK_SIZE;
    cfg->max_connections = EZR_DEFAULT_MAX_CONNECTIONS;
    cfg->handshake_timeout_ms = EZR_DEFAULT_HANDSHAKE_TIMEOUT_S * 1000u;
    cfg->client_timeout_ms = EZR_DEFAULT_CLIENT_TIMEOUT_S * 1000u;
    cfg->flush_interval_ms = EZR_DEFAULT_FLUSH_INTERVAL_MS;
}

/* Raises the soft descriptor limit to the hard one and returns 80% of it: the rest stays for
 * the pipeline's own files and sockets. */
static uint32_t fd_budget(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return EZR_DEFAULT_MAX_CONNECTIONS;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    rlim_t budget = rl.rlim_cur / 10 * 8;
    return budget > UINT32_MAX ? UINT32_MAX : (uint32_t)budget;
}

int ezr_server_new(const struct ezr_server_config *cfg, struct ezr_server **out)
{
    *out = NULL;
    if (!cfg || cfg->chunk_size < EZR_PROTO_CHUNK_SIZE || cfg->chunk_size > EZR_MAX_CHUNK_SIZE ||
        (cfg->host && strlen(cfg->host) > EZR_MAX_NAME_LEN))
        return EZR_EINVAL;
    struct ezr_server *s = calloc(1, sizeof *s);
    if (!s)
        return EZR_ENOMEM;
    snprintf(s->host, sizeof s->host, "%s", cfg->host ? cfg->host : "localhost");
    s->chunk_size = cfg->chunk_size;
    s->handshake_timeout_ms = cfg->handshake_timeout_ms;
    s->log = cfg->log;
    s->log_ctx = cfg->log_ctx;
    s->client_timeout_ms = cfg->client_timeout_ms;
    s->send_buffer_bytes = cfg->send_buffer_bytes;
    s->flush_interval_ms = cfg->flush_interval_ms;
    s->qlimits = (struct ezr_queue_limits){
        cfg->queue_warning_bytes ? cfg->queue_warning_bytes : EZR_DEFAULT_QUEUE_WARNING_BYTES,
        cfg->queue_high_bytes ? cfg->queue_high_bytes : EZR_DEFAULT_QUEUE_HIGH_BYTES,
        cfg->queue_max_bytes ? cfg->queue_max_bytes : EZR_DEFAULT_QUEUE_MAX_BYTES};
    if (!(s->qlimits.warning_bytes < s->qlimits.high_bytes &&
          s->qlimits.high_bytes < s->qlimits.max_bytes)) {
        free(s);
        return EZR_EINVAL;
    }
    uint32_t want = cfg->max_connections ? cfg->max_connections : EZR_DEFAULT_MAX_CONNECTIONS;
    uint32_t budget = fd_budget();
    s->max_connections = want < budget ? want : budget;
    s->start_ms = s->last_tick_ms = now_ms();
    s->listen_io.fd = s->wake_io.fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);

    int rc = ezr_net_listen(s->host, cfg->port, LISTEN_BACKLOG, &s->port);
    if (rc < 0) {
        srv_log(s, EZR_LOG_ERROR, "cannot listen on %s:%u: %s", s->host, (unsigned)cfg->port,
                ezr_strerror(rc));
        goto fail;
    }
    s->listen_io.fd = rc;
    s->listen_io.fn = listen_event;
    s->wake_io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->wake_io.fn = wake_event;
    s->reactor = ezr_reactor_new();
    s->rbuf = malloc(EZR_READ_BUF);
    rc = EZR_ESYS;
    if (s->wake_io.fd < 0 || !s->reactor || !s->rbuf ||
        ezr_reactor_add(s->reactor, &s->listen_io, EZR_IO_READ) < 0 ||
        ezr_reactor_add(s->reactor, &s->wake_io, EZR_IO_READ) < 0)
        goto fail;
    if (pthread_create(&s->thread, NULL, reactor_main, s) != 0)
        goto fail;
    srv_log(s, EZR_LOG_INFO, "listening on %s:%u (max %u connections)", s->host,
            (unsigned)s->port, s->max_connections);
    *out = s;
    return 0;
fail:
    if (s->listen_io.fd >= 0)
        close(s->listen_io.fd);
    if (s->wake_io.fd >= 0)
        close(s->wake_io.fd);
    ezr_reactor_free(s->reactor);
    free(s->rbuf);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return rc;
}

uint16_t ezr_server_port(const struct ezr_server *s)
{
    return s->port;
}

uint32_t ezr_server_max_connections(const struct ezr_server *s)
{
    return s->max_connections;
}

bool ezr_server_failed(const struct ezr_server *s)
{
    return atomic_load(&s->failed);
}

static bool on_reactor_thread(const struct ezr_server *s)
{
    return reactor_of_this_thread == s;
}

void ezr_server_free(struct ezr_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    uint64_t one = 1;
    if (write(s->wake_io.fd, &one, sizeof one) < 0) {
        /* the eventfd counter cannot overflow here; the thread also wakes on its tick */
    }
    pthread_join(s->thread, NULL);
    /* The thread is gone: what it owned is ours to release. */
    run_ops(s);
    while (s->streams) {
        struct ezr_stream *st = s->streams;
        s->streams = st->next;
        stream_free(st);
    }
    /* Best effort, without blocking: players get what is queued (the end-of-stream notices). */
    end_of_round(s, true);
    while (s->clients)
        client_close(s->clients, EZR_LOG_DEBUG, EZR_CLOSE_SERVER, "server shutting down");
    end_of_round(s, true);
    close(s->listen_io.fd);
    close(s->wake_io.fd);
    ezr_reactor_free(s->reactor);
    free(s->rbuf);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int ezr_server_add_stream(struct ezr_server *s, const struct ezr_stream_config *cfg,
                          struct ezr_stream **out)
{
    *out = NULL;
    if (!cfg || !cfg->app || !cfg->key || !*cfg->app || !*cfg->key ||
        strlen(cfg->app) > EZR_MAX_NAME_LEN || strlen(cfg->key) > EZR_MAX_NAME_LEN)
        return EZR_EINVAL;
    struct ezr_stream *st = calloc(1, sizeof *st);
    if (!st)
        return EZR_ENOMEM;
    st->srv = s;
    snprintf(st->app, sizeof st->app, "%s", cfg->app);
    snprintf(st->key, sizeof st->key, "%s", cfg->key);
    st->on_client = cfg->on_client;
    st->client_ctx = cfg->client_ctx;
    int nallowed = ezr_acl_parse(cfg->allowed_clients, st->allowed, EZR_MAX_ACL_RANGES);
    st->token = cfg->play_token && *cfg->play_token ? strdup(cfg->play_token) : NULL;
    if (nallowed < 0 || (cfg->play_token && *cfg->play_token && !st->token)) {
        free(st->token);
        free(st);
        return nallowed < 0 ? EZR_EINVAL : EZR_ENOMEM;
    }
    st->nallowed = (size_t)nallowed;
    ezr_gop_init(&st->gop, cfg->max_gops ? cfg->max_gops : EZR_DEFAULT_MAX_GOPS, s->chunk_size);
    pthread_mutex_lock(&s->lock);
    for (struct ezr_stream *o = s->streams; o; o = o->next) {
        if (strcmp(o->app, st->app) == 0 && strcmp(o->key, st->key) == 0) {
            pthread_mutex_unlock(&s->lock);
            free(st->token);
            free(st);
            return EZR_EEXIST;
        }
    }
    st->next = s->streams;
    s->streams = st;
    pthread_mutex_unlock(&s->lock);
    srv_log(s, EZR_LOG_INFO, "serving %s/%s", st->app, st->key);
    *out = st;
    return 0;
}

void ezr_server_remove_stream(struct ezr_server *s, struct ezr_stream *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&s->lock);
    for (struct ezr_stream **pp = &s->streams; *pp; pp = &(*pp)->next) {
        if (*pp == st) {
            *pp = st->next;
            break;
        }
    }
    /* Wake anyone still waiting for this stream's EOS. */
    st->eos_done = st->eos_requested;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    /* The op lives on our stack: we wait for the reactor to finish with it, so that no client
     * callback of this stream runs after we return. */
    bool done = false;
    struct op o = {.type = OP_REMOVE, .stream = st, .done = &done};
    post(s, &o);
    pthread_mutex_lock(&s->lock);
    while (!done)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

int ezr_stream_push(struct ezr_stream *st, enum ezr_frame_kind kind, uint32_t flags,
                    uint32_t timestamp_ms, const uint8_t *data, size_t len)
{
    if (!st || (kind != EZR_FRAME_AUDIO && kind != EZR_FRAME_VIDEO && kind != EZR_FRAME_SCRIPT) ||
        (len && !data) || len > 0xFFFFFF)
        return EZR_EINVAL;
    struct op *o = malloc(sizeof *o);
    if (!o)
        return EZR_ENOMEM;
    /* Metadata goes out at time 0: ffmpeg takes a script message at any other time for a
     * subtitle packet and reports a phantom text stream (flvmux re-sends onMetaData mid-stream). */
    if (kind == EZR_FRAME_SCRIPT)
        timestamp_ms = 0;
    o->frame = ezr_frame_new((uint8_t)kind, flags, timestamp_ms, data, len, st->srv->chunk_size);
    if (!o->frame) {
        free(o);
        return EZR_ENOMEM;
    }
    o->type = OP_FRAME;
    o->stream = st;
    return post(st->srv, o);
}

int ezr_stream_eos(struct ezr_stream *st, int timeout_ms)
{
    struct ezr_server *s = st->srv;
    struct op *o = calloc(1, sizeof *o);
    if (!o)
        return EZR_ENOMEM;
    pthread_mutex_lock(&s->lock);
    uint64_t seq = ++st->eos_requested;
    pthread_mutex_unlock(&s->lock);
    o->type = OP_EOS;
    o->stream = st;
    o->seq = seq;
    int rc = post(s, o);
    if (rc < 0 || timeout_ms <= 0)
        return rc;
    struct timespec deadline = deadline_after(timeout_ms);
    pthread_mutex_lock(&s->lock);
    while (st->eos_done < seq && rc == 0)
        if (st->flushing || pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == ETIMEDOUT)
            rc = EZR_EAGAIN;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void ezr_stream_set_flushing(struct ezr_stream *st, bool flushing)
{
    struct ezr_server *s = st->srv;
    pthread_mutex_lock(&s->lock);
    st->flushing = flushing;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

int ezr_stream_reset(struct ezr_stream *st)
{
    struct op *o = calloc(1, sizeof *o);
    if (!o)
        return EZR_ENOMEM;
    o->type = OP_RESET;
    o->stream = st;
    return post(st->srv, o);
}

int ezr_stream_get_stats(struct ezr_stream *st, struct ezr_stream_stats *out,
                         struct ezr_client_stats **clients, size_t *nclients, int timeout_ms)
{
    struct ezr_server *s = st->srv;
    struct op *o = calloc(1, sizeof *o);
    struct stats_query *q = calloc(1, sizeof *q);
    if (!o || !q) {
        free(o);
        free(q);
        return EZR_ENOMEM;
    }
    q->refs = 2; /* ours and the reactor's */
    q->want_clients = clients != NULL;
    int rc = 0;
    if (on_reactor_thread(s)) {
        /* From a client callback: the reactor is us, so answer now instead of waiting on it. */
        free(o);
        stream_stats(st, q);
    } else {
        o->type = OP_STATS;
        o->stream = st;
        o->query = q;
        rc = post(s, o);
    }
    struct timespec deadline = deadline_after(timeout_ms);
    pthread_mutex_lock(&s->lock);
    while (!q->done && rc == 0)
        if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == ETIMEDOUT)
            rc = EZR_EAGAIN;
    if (q->done) {
        rc = 0;
        *out = q->stats;
        if (clients) {
            *clients = q->clients;
            *nclients = q->nclients;
            q->clients = NULL;
        }
    }
    query_unref(s, q);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int ezr_stream_remove_client(struct ezr_stream *st, uint64_t id)
{
    if (on_reactor_thread(st->srv)) {
        /* From a client callback: at once, as the stream may be on its way out (an op would
         * run after it is freed). */
        kick(st, id);
        return 0;
    }
    struct op *o = calloc(1, sizeof *o);
    if (!o)
        return EZR_ENOMEM;
    o->type = OP_KICK;
    o->stream = st;
    o->seq = id;
    return post(st->srv, o);
}
