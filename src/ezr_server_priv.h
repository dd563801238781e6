/* The server's insides (ezr_server.c: listener, accept, timers, the loop and the registry of
 * streams), for the server and what sits above it: the protocols (ezr_proto_*.c) and /metrics.
 * The layers below (clients, streams, transports) never include it: they get what they need of
 * the server through struct ezr_client_set and struct ezr_stream_host, embedded here
 * (docs/layers.md). Not installed, not for the element. Reactor-thread only unless a field says
 * otherwise. */
#ifndef EZR_SERVER_PRIV_H
#define EZR_SERVER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "ezr_client.h"
#include "ezr_hls_group.h"
#include "ezr_limits.h"
#include "ezr_list.h"
#include "ezr_mailbox.h"
#include "ezr_meter.h"
#include "ezr_queue.h"
#include "ezr_reactor.h"
#include "ezr_server.h"
#include "ezr_stream.h"

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
    struct ezr_tls_ctx *tls; /* the certificate and TLS settings (tls-only too); NULL: no TLS */
    struct ezr_log log;

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
    struct ezr_list ingests; /* publish points, by ingest.registry_link (ezr_server_ingest.c) */
    struct ezr_stream_host stream_host; /* what every stream is given of the server */

    /* Reactor thread only. */
    struct ezr_client_set clients; /* every connection, and what they share */
    struct ezr_meter meter;        /* busy fraction and send latency, for the stats */
    struct ezr_hls_groups hls_groups; /* renditions by app and hls-group (ezr_hls_group.h) */
    uint64_t start_ms;
    uint64_t last_tick_ms;
    bool accept_blocked; /* out of descriptors: retry on the tick */
    uint64_t accepted;
    uint64_t refused;
};

/* Is this the reactor thread of s? (A client callback calling back into the API.) */
bool ezr_server_on_reactor(const struct ezr_server *s);
/* The server-wide fields of a stats snapshot (connections, reactor), for ezr_stream_get_stats()
 * and /metrics alike; ezr_stream_fill_stats() fills the stream's. Reactor thread. */
void ezr_server_fill_stats(const struct ezr_server *s, struct ezr_stream_stats *out);
/* The stream served as app/key[0..keylen) (key NULL: any stream of app), or NULL. Any thread. */
struct ezr_stream *ezr_server_find_stream(struct ezr_server *s, const char *app, const char *key,
                                          size_t keylen);

/* ezr_server_ingest.c: the registry of publish points. */
/* The point for app/key[0..keylen), or NULL. Any thread. */
struct ezr_ingest *ezr_server_find_ingest(struct ezr_server *s, const char *app, const char *key,
                                          size_t keylen);
/* Does app have a stream or a publish point (may a client connect to it)? Any thread. */
bool ezr_server_serves_app(struct ezr_server *s, const char *app);
/* Times out silent publishers. Reactor thread. */
void ezr_server_tick_ingests(struct ezr_server *s, uint64_t now);
/* Frees the points left, after the reactor thread has stopped. */
void ezr_server_free_ingests(struct ezr_server *s);

#endif
