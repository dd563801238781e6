/* The embeddable RTMP server: one listening socket, one reactor thread, and the streams it
 * serves. The public API of libezrtmp.
 *
 * Threads: ezr_server_new() binds and listens in the caller's thread (so a busy port is reported
 * at once), then starts the reactor thread, which alone touches sockets and clients. Every other
 * call may come from any thread: ezr_stream_push() copies the frame once into a shared,
 * serialised form and queues it to the reactor (eventfd wake-up); it never waits on the network.
 *
 * Ownership: the caller owns the server (ezr_server_free) and each stream handle until
 * ezr_server_remove_stream(). Strings in configs are copied. */
#ifndef EZR_SERVER_H
#define EZR_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_ingest_api.h" /* the calls on a publish point */
#include "ezr_stream_api.h" /* the calls on a stream, its callbacks and stats */
#include "ezr_types.h"      /* log level and callback, close reasons */

struct ezr_server;

struct ezr_server_config {
    const char *host;              /* address or name to bind; "localhost" is 127.0.0.1, "::"
                                    * every IPv4 and IPv6 address (dual stack) */
    uint16_t port;                 /* 0 = any free port, see ezr_server_port() */
    uint32_t chunk_size;           /* our outgoing chunk size */
    uint32_t max_connections;      /* 0 = EZR_DEFAULT_MAX_CONNECTIONS; capped at 80% of fds */
    uint32_t handshake_timeout_ms; /* to finish handshake and start playing; 0 = none */
    uint32_t client_timeout_ms;    /* a player whose socket takes nothing this long; 0 = none */
    /* Write queue tiers per player (bytes queued, not yet written): from warning non-key video
     * is dropped, from high all but keyframes and headers, at max the player is disconnected.
     * 0 = the defaults (1, 2, 4 MiB); they must rise strictly. */
    uint32_t queue_warning_bytes;
    uint32_t queue_high_bytes;
    uint32_t queue_max_bytes;
    /* A player whose oldest queued live item (not of its join burst) has waited this long gets
     * only keyframes, headers and metadata until it catches up. 0 = the default: 10 s, or 5 s
     * on an audio-only stream. */
    uint32_t queue_max_age_ms;
    /* SO_SNDBUF of player sockets; 0 leaves the kernel's autotuning (which on Linux may buffer
     * megabytes in the kernel before our queue, and its tiers, see any of it). */
    uint32_t send_buffer_bytes;
    /* flush-interval (ezr_flush.h): EZR_FLUSH_AUTO (the default), video goes at once, audio and
     * data wait for the player's next video frame, at most EZR_FLUSH_AUTO_WAIT_MS; 0 and up
     * (the element takes up to EZR_FLUSH_INTERVAL_MAX_MS), the most ms that any media, video
     * too, may wait so that more goes out in one write (0: a write per frame). Protocol replies
     * and a new player's first frames go at once at every value. */
    int32_t flush_interval_ms;
    ezr_log_fn log; /* may be NULL */
    void *log_ctx;
    /* Which levels log keeps, asked before a line is formatted; NULL: every level. */
    ezr_log_wants_fn log_wants;
    /* HTTP on the same port (a connection's first byte tells): GET /APP/KEY.flv plays the stream
     * as HTTP-FLV, the same with Upgrade: websocket as WebSocket-FLV. Off by default: with it on,
     * a web page in any browser that can reach the port may read the stream. */
    bool http;
    /* GET /metrics answers the counters in Prometheus text format (needs no `http`). */
    bool metrics;
    /* Access-Control-Allow-Origin of HTTP answers; NULL = "*". Other than "*", a WebSocket
     * whose Origin differs is refused (403): browsers apply no CORS to WebSockets. */
    const char *http_cors_origin;
    /* TLS on the same port (a ClientHello's first byte tells): rtmps://, https:// and wss://.
     * tls_certificate: a PEM file, the leaf certificate then any intermediates; tls_key: its PEM
     * private key (NULL or "": in the certificate file). NULL or "": no TLS. */
    const char *tls_certificate;
    const char *tls_key;
    /* With a certificate: close connections that do not start with a TLS handshake. */
    bool tls_only;
    /* If not NULL, receives a sentence on why ezr_server_new failed where the code alone does
     * not say (EZR_ETLS: the file and OpenSSL's reason). */
    char *error_msg;
    size_t error_msg_size;
};

/* Fills in the defaults from ezr_limits.h (host "localhost", port 1935). */
void ezr_server_config_init(struct ezr_server_config *cfg);

/* Loads the TLS certificate and key if any, binds, listens and starts the reactor thread.
 * Returns 0 and *out, or EZR_ETLS (cfg->error_msg says which file and why), EZR_EADDRINUSE,
 * EZR_EACCES, EZR_EADDR, EZR_EINVAL (also tls_only without a certificate), EZR_ENOMEM,
 * EZR_ESYS. */
int ezr_server_new(const struct ezr_server_config *cfg, struct ezr_server **out);
/* The port actually bound. */
uint16_t ezr_server_port(const struct ezr_server *s);
/* True once the reactor thread has stopped on an error (it logged why at EZR_LOG_ERROR, and
 * told each stream's on_failed): no player is served any more. Any thread. */
bool ezr_server_failed(const struct ezr_server *s);
/* Stops the reactor, closes every client and the listener, frees all streams still added. */
void ezr_server_free(struct ezr_server *s);

/* Registers a stream. EZR_EEXIST if app/key is already served by this server; EZR_EINVAL if
 * allowed_clients does not parse. */
int ezr_server_add_stream(struct ezr_server *s, const struct ezr_stream_config *cfg,
                          struct ezr_stream **out);
/* Players of the stream are told it ended and closed; the handle is freed. Waits for the reactor
 * thread, so that no callback of the stream runs after it returns: do not call it from a
 * callback. */
void ezr_server_remove_stream(struct ezr_server *s, struct ezr_stream *st);

/* Registers a publish point: an RTMP client may then publish to rtmp://HOST:PORT/APP/KEY, and
 * what it publishes comes out of ezr_ingest_pop(). EZR_EEXIST if app/key already has one on this
 * server (a stream played under the same name is another thing and may coexist); EZR_EINVAL if
 * allowed_clients does not parse. */
int ezr_server_add_ingest(struct ezr_server *s, const struct ezr_ingest_config *cfg,
                          struct ezr_ingest **out);
/* Closes its publisher, wakes a thread waiting in ezr_ingest_pop() (EZR_ECLOSED) and frees the
 * point once the reactor is done with it; waits for that, so do not call it from a callback. */
void ezr_server_remove_ingest(struct ezr_server *s, struct ezr_ingest *ing);

#endif
