/* The server's insides, shared by the files that make it up (ezr_server.c: listener, accept,
 * timers and the loop; ezr_client.c: one connection; ezr_stream.c: a stream's players, cache and
 * fan-out; ezr_flush.c: when queued bytes are written; ezr_mailbox.c: ops from other threads).
 * Not installed, not for the element. Reactor-thread only unless a field says otherwise. */
#ifndef EZR_SERVER_PRIV_H
#define EZR_SERVER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "ezr_flush.h"
#include "ezr_limits.h"
#include "ezr_list.h"
#include "ezr_mailbox.h"
#include "ezr_meter.h"
#include "ezr_queue.h"
#include "ezr_reactor.h"
#include "ezr_server.h"

struct ezr_tls_ctx;

struct ezr_server {
    /* Settings, fixed at ezr_server_new. */
    char host[EZR_MAX_NAME_LEN + 1];
    uint16_t port;
    uint32_t chunk_size;
    uint32_t max_connections;
    uint32_t handshake_timeout_ms;
    uint32_t client_timeout_ms;
    uint32_t send_buffer_bytes;
    bool http;
    bool metrics;
    char *cors_origin;       /* Access-Control-Allow-Origin: never NULL */
    struct ezr_tls_ctx *tls; /* the certificate and TLS settings; NULL: no TLS */
    bool tls_only;
    ezr_log_fn log;
    void *log_ctx;
    struct ezr_queue_limits qlimits; /* max_age_ms: as configured, 0 = by stream kind */

    struct ezr_reactor *reactor;
    struct ezr_io listen_io;
    struct ezr_mailbox mailbox;
    pthread_t thread;
    atomic_bool stop;
    atomic_bool failed; /* the reactor thread stopped on an error */
    char failure[128];  /* why, as logged; written before `failed`, then never */

    pthread_mutex_t lock;    /* the streams registry; the streams' EOS counters; stats replies */
    pthread_cond_t cond;     /* an EOS drained, a stats reply arrived, a stream was removed */
    struct ezr_list streams; /* by stream.registry_link */

    /* Reactor thread only. */
    struct ezr_list clients;  /* open connections, by client.conn_link */
    struct ezr_list dead;     /* closed this round, freed at its end, by client.conn_link */
    size_t nclients;          /* on the clients list */
    struct ezr_list readable; /* input left unread (read budget, resumed input), by read_link */
    size_t round_read;        /* bytes read this reactor round, against EZR_ROUND_READ_BUDGET */
    struct ezr_flusher flusher;
    struct ezr_meter meter; /* busy fraction and send latency, for the stats */
    uint8_t *rbuf;          /* EZR_READ_BUF bytes: every client reads into it */
    uint8_t *tls_stage; /* EZR_TLS_RECORD bytes with TLS: a record's plaintext is gathered here */
    uint64_t next_id;
    uint64_t start_ms;
    uint64_t last_tick_ms;
    bool accept_blocked; /* out of descriptors: retry on the tick */
    uint64_t accepted;
    uint64_t refused;
};

void ezr_server_log(struct ezr_server *s, enum ezr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Is this the reactor thread of s? (A client callback calling back into the API.) */
bool ezr_server_on_reactor(const struct ezr_server *s);
/* The stream served as app/key[0..keylen) (key NULL: any stream of app), or NULL. Any thread. */
struct ezr_stream *ezr_server_find_stream(struct ezr_server *s, const char *app, const char *key,
                                          size_t keylen);

#endif
