/* The server: the listening socket, accept, timers and the reactor loop, and the registry of
 * streams; see ezr_server.h. The rest of the server lives beside it (ezr_server_priv.h says
 * which file does what).
 *
 * Threads: one reactor thread does accept and all client I/O (accept is cheap, and the accept
 * loop drains the backlog until EAGAIN in one wake-up, so a second thread would only add
 * locking). Other threads reach it through the mailbox (ezr_mailbox.h). */
#include "ezr_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ezr_alloc.h"
#include "ezr_client.h"
#include "ezr_clock.h"
#include "ezr_error.h"
#include "ezr_hls_out.h"
#include "ezr_net.h"
#include "ezr_server_priv.h"
#include "ezr_stream_priv.h"
#include "ezr_stream.h"
#include "ezr_tls.h"
#include "ezr_transport.h"

/* How often the reactor wakes with nothing to do, to enforce timeouts and retry accepts. */
#define TICK_MS 250
#define LISTEN_BACKLOG 1024

/* The server whose reactor runs on this thread, so that a call from a client callback can be
 * answered directly instead of waiting for the reactor (itself). */
static _Thread_local const struct ezr_server *reactor_of_this_thread;

bool ezr_server_on_reactor(const struct ezr_server *s)
{
    return reactor_of_this_thread == s;
}

/* ---- what the streams are given of the server (struct ezr_stream_host) ------------------ */

static bool host_on_reactor(const struct ezr_stream_host *h)
{
    return ezr_server_on_reactor(EZR_CONTAINER_OF(h, struct ezr_server, stream_host));
}

void ezr_server_fill_stats(const struct ezr_server *s, struct ezr_stream_stats *out)
{
    out->connections = (uint32_t)s->clients.n;
    out->connections_bytes_queued = 0;
    EZR_LIST_FOREACH_SAFE(it, nx, &s->clients.open) {
        const struct ezr_client *c = EZR_CONTAINER_OF(it, struct ezr_client, conn_link);
        out->connections_bytes_queued += ezr_client_queued(c);
    }
    out->connections_accepted = s->accepted;
    out->connections_refused = s->refused;
    out->reactor_busy = ezr_meter_busy(&s->meter, ezr_now_us());
    out->send_latency_p50_us = ezr_meter_latency_percentile(&s->meter, 50);
    out->send_latency_p99_us = ezr_meter_latency_percentile(&s->meter, 99);
}

static void host_server_stats(const struct ezr_stream_host *h, struct ezr_stream_stats *out)
{
    ezr_server_fill_stats(EZR_CONTAINER_OF(h, struct ezr_server, stream_host), out);
}

struct ezr_stream *ezr_server_find_stream(struct ezr_server *s, const char *app, const char *key,
                                          size_t keylen)
{
    struct ezr_stream *found = NULL;
    pthread_mutex_lock(&s->lock);
    EZR_LIST_FOREACH_SAFE(it, nx, &s->streams) {
        struct ezr_stream *st = EZR_CONTAINER_OF(it, struct ezr_stream, registry_link);
        if (strcmp(st->app, app) == 0 &&
            (key == NULL || (strlen(st->key) == keylen && memcmp(st->key, key, keylen) == 0))) {
            found = st;
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

/* ---- accept ----------------------------------------------------------------------------- */

static void accept_clients(struct ezr_server *s)
{
    for (;;) {
        char addr[EZR_ADDR_STRLEN];
        int fd = ezr_net_accept(s->listen_io.fd, addr, sizeof addr);
        if (fd == EZR_EAGAIN) {
            if (s->accept_blocked) /* the backlog is empty: listen again */
                ezr_reactor_mod(s->reactor, &s->listen_io, EZR_IO_READ);
            s->accept_blocked = false;
            return;
        }
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* Pending connections stay in the backlog; retried on the tick. The listener is
                 * not watched meanwhile: a level-triggered backend would report it ready in
                 * every round, and the reactor would spin until descriptors are freed. */
                if (!s->accept_blocked) {
                    ezr_log(&s->log, EZR_LOG_WARNING, "out of file descriptors: accept paused");
                    ezr_reactor_mod(s->reactor, &s->listen_io, 0);
                }
                s->accept_blocked = true;
                return;
            }
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            ezr_log(&s->log, EZR_LOG_WARNING, "accept failed: %s", strerror(errno));
            return;
        }
        if (s->clients.n >= s->max_connections) {
            ezr_log(&s->log, EZR_LOG_WARNING, "refused %s: connection limit %u reached", addr,
                    s->max_connections);
            s->refused++;
            close(fd);
            continue;
        }
        ezr_net_set_send_buffer(fd, s->send_buffer_bytes);
        struct ezr_client *c = ezr_client_new(&s->clients, fd, addr,
                                              s->tls ? &ezr_transport_detect : &ezr_transport_tcp,
                                              s->tls, &ezr_proto_sniff);
        if (!c) {
            ezr_log(&s->log, EZR_LOG_WARNING, "refused %s: out of memory", addr);
            continue;
        }
        s->accepted++;
        ezr_log(&s->log, EZR_LOG_INFO, "client %llu (%s) connected", (unsigned long long)c->conn.id,
                addr);
    }
}

static void listen_event(struct ezr_io *io, uint32_t events)
{
    accept_clients(EZR_CONTAINER_OF(io, struct ezr_server, listen_io));
}

/* ---- the reactor thread ----------------------------------------------------------------- */

/* A player of a stream that sends nothing: still there? Pings it, closes it when it answers
 * none for EZR_PING_TIMEOUT_MS. Returns false when it was closed. */
static bool check_alive(struct ezr_client *c, uint64_t now)
{
    struct ezr_client_out *p = c->out; /* a player has one */
    if (!c->stream || !c->proto->ping || !ezr_stream_idle(c->stream, now)) {
        if (p)
            p->unanswered_ms = 0;
        return true;
    }
    uint64_t pongs = c->proto->pongs(c);
    if (pongs != p->pongs_seen) {
        p->pongs_seen = pongs;
        p->unanswered_ms = 0;
    }
    if (p->unanswered_ms && now - p->unanswered_ms >= EZR_PING_TIMEOUT_MS) {
        ezr_client_close(c, EZR_LOG_INFO, EZR_CLOSE_TIMEOUT,
                         "player of an idle stream did not answer pings");
        return false;
    }
    if (now - p->last_ping_ms >= EZR_PING_INTERVAL_MS) {
        c->proto->ping(c, (uint32_t)(now - c->set->srv->start_ms));
        p->last_ping_ms = now;
        if (!p->unanswered_ms)
            p->unanswered_ms = now;
    }
    return true;
}

static void tick(struct ezr_server *s, uint64_t now)
{
    EZR_LIST_FOREACH_SAFE(it, nx, &s->clients.open) {
        struct ezr_client *c = EZR_CONTAINER_OF(it, struct ezr_client, conn_link);
        if (c->out && ezr_queue_empty(&c->out->q))
            c->out->progress_ms = now;
        if (!check_alive(c, now))
            continue;
        if (s->handshake_timeout_ms && !c->stream && !c->publishing &&
            ezr_elapsed(now, c->idle_since_ms) > s->handshake_timeout_ms)
            ezr_client_close(c, EZR_LOG_INFO, EZR_CLOSE_TIMEOUT,
                             "did not start playing within the handshake timeout");
        else if (s->client_timeout_ms && c->out &&
                 ezr_elapsed(now, c->out->progress_ms) > s->client_timeout_ms)
            ezr_client_close(c, EZR_LOG_WARNING, EZR_CLOSE_TIMEOUT,
                             "player read nothing within the client timeout");
    }
    /* The streams' outputs time out what they hold (HLS requests parked too long). The registry
     * changes under the lock only, from other threads posting to us. */
    pthread_mutex_lock(&s->lock);
    EZR_LIST_FOREACH_SAFE(it, nx, &s->streams)
        ezr_stream_tick(EZR_CONTAINER_OF(it, struct ezr_stream, registry_link), now);
    pthread_mutex_unlock(&s->lock);
    ezr_server_tick_ingests(s, now);
    /* After the timeouts: a connection accepted now has nothing to time out yet (its marks are
     * newer than now; ezr_elapsed() reads them as 0 anyway). */
    if (s->accept_blocked)
        accept_clients(s);
}

/* Writes what is due, then frees the clients closed this round: no event of this round's batch
 * can point at them any more. */
static void end_of_round(struct ezr_server *s, bool all)
{
    /* Input left for this round: each client once (what it leaves again waits for the next). */
    struct ezr_list pending;
    ezr_list_init(&pending);
    ezr_list_splice_back(&pending, &s->clients.readable);
    struct ezr_link *n;
    while ((n = ezr_list_pop_front(&pending)))
        ezr_client_read(EZR_CONTAINER_OF(n, struct ezr_client, read_link));
    ezr_flush_set_busy(&s->clients.flusher, ezr_meter_busy(&s->meter, ezr_now_us()));
    ezr_flush_run(&s->clients.flusher, all, ezr_now_ms());
    ezr_flush_done(&s->clients.flusher, ezr_now_ms());
    while ((n = ezr_list_pop_front(&s->clients.dead)))
        ezr_client_free(EZR_CONTAINER_OF(n, struct ezr_client, conn_link));
}

/* Calls on_failed of every stream not yet told, one at a time and outside the lock (a callback
 * may query stats, which takes it). A stream taken off the registry meanwhile is still valid: it
 * is freed by an op, which runs on this thread after the call. */
static void tell_failure(struct ezr_server *s)
{
    for (;;) {
        struct ezr_stream *next = NULL;
        pthread_mutex_lock(&s->lock);
        EZR_LIST_FOREACH_SAFE(it, nx, &s->streams) {
            struct ezr_stream *st = EZR_CONTAINER_OF(it, struct ezr_stream, registry_link);
            if (!st->failure_told) {
                st->failure_told = true;
                next = st;
                break;
            }
        }
        pthread_mutex_unlock(&s->lock);
        if (!next)
            return;
        if (next->on_failed)
            next->on_failed(next->failed_ctx, s->port, s->failure);
    }
}

/* The reactor failed: no socket is served any more, but ops are still answered (stats, EOS,
 * stream removal), so that the application is told at once and never waits on a dead thread.
 * Streams added from now on are told of the failure on the wake-up of their registration. */
static void answer_ops_until_stopped(struct ezr_server *s)
{
    while (!atomic_load(&s->stop)) {
        tell_failure(s);
        struct pollfd pfd = {.fd = s->mailbox.wake.rfd, .events = POLLIN};
        poll(&pfd, 1, TICK_MS);
        ezr_wake_drain(&s->mailbox.wake);
        ezr_mailbox_run(&s->mailbox);
        end_of_round(s, false);
    }
}

static void *reactor_main(void *arg)
{
    struct ezr_server *s = arg;
    reactor_of_this_thread = s;
    /* Named so that top -H, perf and bench/ can tell its CPU time from the pipeline's. */
    pthread_setname_np(pthread_self(), "ezrtmp-reactor");
    /* OpenSSL writes TLS records with write(2), which raises SIGPIPE when a player has reset its
     * connection; blocked on this thread, the write fails with EPIPE instead and the application
     * that embeds us never sees the signal (plain sockets use MSG_NOSIGNAL). */
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    while (!atomic_load(&s->stop)) {
        int timeout = ezr_list_empty(&s->clients.readable)
                          ? ezr_flush_timeout(&s->clients.flusher, TICK_MS, ezr_now_ms())
                          : 0;
        s->clients.round_read = 0; /* a new round: the events below and end_of_round() read again */
        int rc = ezr_reactor_poll(s->reactor, timeout);
        /* What is not spent waiting there is the reactor's busy time (the stats' reactor-busy). */
        ezr_meter_idle(&s->meter, ezr_reactor_waited_us(s->reactor), ezr_now_us());
        if (rc < 0) {
            snprintf(s->failure, sizeof s->failure,
                     "the reactor failed (%s): no player is served any more", strerror(errno));
            ezr_log(&s->log, EZR_LOG_ERROR, "%s", s->failure);
            atomic_store(&s->failed, true);
            answer_ops_until_stopped(s);
            break;
        }
        uint64_t now = ezr_now_ms();
        if (now - s->last_tick_ms >= TICK_MS) {
            s->last_tick_ms = now;
            /* Ops whose wake-up was lost still run. */
            ezr_mailbox_run(&s->mailbox);
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

static void server_release(struct ezr_server *s)
{
    if (s->listen_io.fd >= 0)
        close(s->listen_io.fd);
    ezr_mailbox_clear(&s->mailbox);
    ezr_reactor_free(s->reactor);
    free(s->clients.rbuf);
    ezr_tls_ctx_free(s->tls);
    free(s->cors_origin);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int ezr_server_new(const struct ezr_server_config *cfg, struct ezr_server **out)
{
    *out = NULL;
    if (cfg && cfg->error_msg && cfg->error_msg_size)
        cfg->error_msg[0] = '\0';
    bool tls = cfg && cfg->tls_certificate && *cfg->tls_certificate;
    if (!cfg || (cfg->tls_only && !tls) || cfg->chunk_size < EZR_PROTO_CHUNK_SIZE ||
        cfg->chunk_size > EZR_MAX_CHUNK_SIZE || cfg->flush_interval_ms < EZR_FLUSH_AUTO ||
        (cfg->host && strlen(cfg->host) > EZR_MAX_NAME_LEN) ||
        (cfg->http_cors_origin && (strlen(cfg->http_cors_origin) > EZR_HTTP_MAX_ORIGIN ||
                                   strpbrk(cfg->http_cors_origin, "\r\n"))))
        return EZR_EINVAL;
    struct ezr_server *s = ezr_calloc(1, sizeof *s);
    if (!s)
        return EZR_ENOMEM;
    snprintf(s->host, sizeof s->host, "%s", cfg->host ? cfg->host : "localhost");
    s->chunk_size = cfg->chunk_size;
    s->handshake_timeout_ms = cfg->handshake_timeout_ms;
    s->log = (struct ezr_log){cfg->log, cfg->log_ctx, cfg->log_wants};
    s->client_timeout_ms = cfg->client_timeout_ms;
    s->send_buffer_bytes = cfg->send_buffer_bytes;
    s->http = cfg->http;
    s->metrics = cfg->metrics;
    struct ezr_stream_host *h = &s->stream_host;
    h->qlimits = (struct ezr_queue_limits){
        cfg->queue_warning_bytes ? cfg->queue_warning_bytes : EZR_DEFAULT_QUEUE_WARNING_BYTES,
        cfg->queue_high_bytes ? cfg->queue_high_bytes : EZR_DEFAULT_QUEUE_HIGH_BYTES,
        cfg->queue_max_bytes ? cfg->queue_max_bytes : EZR_DEFAULT_QUEUE_MAX_BYTES,
        cfg->queue_max_age_ms};
    if (!(h->qlimits.warning_bytes < h->qlimits.high_bytes &&
          h->qlimits.high_bytes < h->qlimits.max_bytes)) {
        free(s);
        return EZR_EINVAL;
    }
    uint32_t want = cfg->max_connections ? cfg->max_connections : EZR_DEFAULT_MAX_CONNECTIONS;
    uint32_t budget = fd_budget();
    s->max_connections = want < budget ? want : budget;
    s->start_ms = s->last_tick_ms = ezr_now_ms();
    ezr_list_init(&s->streams);
    ezr_hls_groups_init(&s->hls_groups);
    ezr_list_init(&s->ingests);
    h->lock = &s->lock;
    h->cond = &s->cond;
    h->mailbox = &s->mailbox;
    h->log = &s->log;
    h->chunk_size = s->chunk_size;
    h->on_reactor = host_on_reactor;
    h->server_stats = host_server_stats;
    ezr_client_set_init(&s->clients, cfg->flush_interval_ms);
    s->clients.srv = s;
    s->clients.log = &s->log;
    s->clients.meter = &s->meter;
    ezr_meter_init(&s->meter, ezr_now_us());
    s->listen_io.fd = -1;
    s->cors_origin = ezr_strdup(cfg->http_cors_origin ? cfg->http_cors_origin : "*");
    s->mailbox.wake.rfd = s->mailbox.wake.wfd = -1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);

    /* The files first: a bad certificate fails before the port is taken. */
    if (tls) {
        char msg[EZR_MAX_NAME_LEN + 512];
        int trc = ezr_tls_ctx_new(cfg->tls_certificate, cfg->tls_key, &s->tls, msg, sizeof msg);
        if (trc == 0) {
            ezr_tls_ctx_set_only(s->tls, cfg->tls_only);
            ezr_tls_ctx_set_log(s->tls, &s->log);
        }
        if (trc < 0) {
            if (trc == EZR_ETLS && cfg->error_msg && cfg->error_msg_size)
                snprintf(cfg->error_msg, cfg->error_msg_size, "%s", msg);
            ezr_log(&s->log, EZR_LOG_ERROR, "TLS not set up: %s",
                    trc == EZR_ETLS ? msg : ezr_strerror(trc));
            server_release(s);
            return trc;
        }
    }

    int rc = ezr_net_listen(s->host, cfg->port, LISTEN_BACKLOG, &s->port);
    if (rc < 0) {
        char where[EZR_MAX_NAME_LEN + 16];
        ezr_net_format_host_port(s->host, cfg->port, where, sizeof where);
        ezr_log(&s->log, EZR_LOG_ERROR, "cannot listen on %s: %s", where, ezr_strerror(rc));
        server_release(s);
        return rc;
    }
    s->listen_io.fd = rc;
    s->listen_io.fn = listen_event;
    s->reactor = s->clients.reactor = ezr_reactor_new();
    bool oom = !s->reactor && errno == ENOMEM;
    s->clients.rbuf = ezr_malloc(EZR_READ_BUF);
    if (oom || !s->clients.rbuf || !s->cors_origin) {
        server_release(s);
        return EZR_ENOMEM;
    }
    errno = 0;
    if (!s->reactor || ezr_mailbox_init(&s->mailbox, s->reactor) < 0 ||
        ezr_reactor_add(s->reactor, &s->listen_io, EZR_IO_READ) < 0 ||
        pthread_create(&s->thread, NULL, reactor_main, s) != 0) {
        int err = errno; /* ENOMEM: the poll backend could not grow its array */
        server_release(s);
        return err == ENOMEM ? EZR_ENOMEM : EZR_ESYS;
    }
    char where[EZR_MAX_NAME_LEN + 16];
    ezr_net_format_host_port(s->host, s->port, where, sizeof where);
    ezr_log(&s->log, EZR_LOG_INFO, "listening on %s (max %u connections%s)", where,
            s->max_connections,
            !s->tls         ? ""
            : cfg->tls_only ? ", TLS only"
                            : ", TLS and plain");
    *out = s;
    return 0;
}

uint16_t ezr_server_port(const struct ezr_server *s)
{
    return s->port;
}

bool ezr_server_failed(const struct ezr_server *s)
{
    return atomic_load(&s->failed);
}

void ezr_server_free(struct ezr_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    ezr_mailbox_wake(&s->mailbox);
    pthread_join(s->thread, NULL);
    /* The thread is gone: what it owned is ours to release. */
    ezr_mailbox_run(&s->mailbox);
    struct ezr_link *n;
    while ((n = ezr_list_pop_front(&s->streams)))
        ezr_stream_free(EZR_CONTAINER_OF(n, struct ezr_stream, registry_link));
    ezr_server_free_ingests(s); /* before the clients: it closes its publisher */
    /* Best effort, without blocking: players get what is queued (the end-of-stream notices). */
    end_of_round(s, true);
    while ((n = ezr_list_first(&s->clients.open)))
        ezr_client_close(EZR_CONTAINER_OF(n, struct ezr_client, conn_link), EZR_LOG_DEBUG,
                         EZR_CLOSE_SERVER, "server shutting down");
    end_of_round(s, true);
    server_release(s);
}

/* The stream's HLS output, subscribed before the reactor can see the stream. Its media names
 * carry a random tag, so that a cache in front never takes one run's segment for another's. */
static int add_hls(struct ezr_server *s, struct ezr_stream *st, const struct ezr_stream_config *cfg)
{
    struct ezr_hls_config hc = {
        .part_target_ms = cfg->hls_part_ms,
        .segment_target_ms = cfg->hls_segment_ms,
        .window = cfg->hls_window,
    };
    uint8_t r[6] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint64_t t = ezr_now_us() ^ (uint64_t)(uintptr_t)st;
        memcpy(r, &t, sizeof r);
    }
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(hc.tag + 2 * i, 3, "%02x", r[i]);
    struct ezr_hls_out *o;
    int rc = ezr_hls_out_new(&hc, cfg->app, cfg->hls_group, &s->log, &o);
    if (rc == 0)
        ezr_stream_subscribe(st, ezr_hls_out_sub(o));
    return rc;
}

/* A rendition joins its hls-group on the reactor, which alone reads the groups; posted once the
 * stream is registered, so it runs before the stream's first frame and before its removal. */
struct hls_join_op {
    struct ezr_op op;
    struct ezr_server *s;
    struct ezr_hls_out *out;
};

static void run_hls_join(struct ezr_op *op)
{
    struct hls_join_op *j = (struct hls_join_op *)op;
    ezr_hls_out_join_group(j->out, &j->s->hls_groups);
    free(j);
}

int ezr_server_add_stream(struct ezr_server *s, const struct ezr_stream_config *cfg,
                          struct ezr_stream **out)
{
    struct ezr_stream *st;
    int rc = ezr_stream_new(&s->stream_host, cfg, &st);
    *out = NULL;
    if (rc < 0)
        return rc;
    struct hls_join_op *join = NULL;
    if (cfg->hls && cfg->hls_group && *cfg->hls_group && !(join = ezr_calloc(1, sizeof *join)))
        rc = EZR_ENOMEM;
    if (rc < 0 || (cfg->hls && (rc = add_hls(s, st, cfg)) < 0)) {
        free(join);
        ezr_stream_free(st);
        return rc;
    }
    pthread_mutex_lock(&s->lock);
    EZR_LIST_FOREACH_SAFE(it, nx, &s->streams) {
        const struct ezr_stream *o = EZR_CONTAINER_OF(it, struct ezr_stream, registry_link);
        if (strcmp(o->app, st->app) == 0 && strcmp(o->key, st->key) == 0) {
            pthread_mutex_unlock(&s->lock);
            free(join);
            ezr_stream_free(st);
            return EZR_EEXIST;
        }
    }
    ezr_list_push_front(&s->streams, &st->registry_link);
    pthread_mutex_unlock(&s->lock);
    if (join) {
        *join = (struct hls_join_op){.op.run = run_hls_join, .s = s, .out = ezr_hls_out_of(st)};
        ezr_mailbox_post(&s->mailbox, &join->op);
    }
    if (atomic_load(&s->failed))
        ezr_mailbox_wake(&s->mailbox); /* so that the stopped reactor tells it at once */
    ezr_log(&s->log, EZR_LOG_INFO, "serving %s/%s", st->app, st->key);
    *out = st;
    return 0;
}

void ezr_server_remove_stream(struct ezr_server *s, struct ezr_stream *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&s->lock);
    ezr_list_remove(&st->registry_link);
    /* Wake anyone still waiting for this stream's EOS. */
    st->eos_done = st->eos_requested;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    ezr_stream_remove_and_wait(st);
}
