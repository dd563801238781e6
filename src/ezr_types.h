/* What every layer of the library shares, at the bottom of them all (docs/layers.md): the log
 * level and callback, a log as a value to pass down, and the reasons a connection closes. Error
 * codes are ezr_error.h, as low. Part of the public API: ezr_server.h re-exports it. */
#ifndef EZR_TYPES_H
#define EZR_TYPES_H

#include <stdbool.h>

enum ezr_log_level {
    EZR_LOG_ERROR,
    EZR_LOG_WARNING,
    EZR_LOG_INFO,
    EZR_LOG_DEBUG,
};
/* Called from the reactor thread (or the caller's, for errors of ezr_server_new). msg is
 * NUL-terminated, has client-supplied text escaped, and is valid only during the call. */
typedef void (*ezr_log_fn)(void *ctx, enum ezr_log_level level, const char *msg);
/* Whether the application keeps lines of level (same ctx, same threads as ezr_log_fn). Asked
 * before a line is formatted: a server answering thousands of HTTP requests a second formats a
 * line per request, which an application that drops INFO lines should not pay for. */
typedef bool (*ezr_log_wants_fn)(void *ctx, enum ezr_log_level level);

/* Where a layer logs: the application's callback (fn NULL: nowhere) and its level filter (wants
 * NULL: every level). The server owns one and hands a pointer to it down to its connections and
 * streams. */
struct ezr_log {
    ezr_log_fn fn;
    void *ctx;
    ezr_log_wants_fn wants;
};

/* True if a line of level would reach log->fn. A call site that builds costly arguments
 * (escaping client text into a buffer) asks this first; ezr_log() asks it itself. */
static inline bool ezr_log_wants(const struct ezr_log *log, enum ezr_log_level level)
{
    return log && log->fn && (!log->wants || log->wants(log->ctx, level));
}

/* Formats and hands one line to log->fn (at most 511 bytes of it), if ezr_log_wants(). */
void ezr_log(const struct ezr_log *log, enum ezr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Disconnect reasons, counted per stream. */
enum ezr_close_reason {
    EZR_CLOSE_PLAYER,   /* the player closed or stopped */
    EZR_CLOSE_SLOW,     /* its write queue reached the maximum */
    EZR_CLOSE_TIMEOUT,  /* handshake/play timeout */
    EZR_CLOSE_PROTOCOL, /* it broke the protocol or a limit */
    EZR_CLOSE_REMOVED,  /* ezr_stream_remove_client() */
    EZR_CLOSE_SERVER,   /* the stream or server went away */
    EZR_CLOSE_NREASONS,
};

/* The outputs a stream is served by, named once (ezr_protocol_name) for logs, stats, signals and
 * /metrics. */
enum ezr_protocol {
    EZR_PROTOCOL_RTMP,
    EZR_PROTOCOL_HTTP_FLV,
    EZR_PROTOCOL_WS_FLV,
    EZR_PROTOCOL_HLS,
    EZR_NPROTOCOLS,
    /* A connection whose first bytes have not said yet (the sniffer). */
    EZR_PROTOCOL_UNDECIDED = EZR_NPROTOCOLS,
};
/* "rtmp", "http-flv", "ws-flv", "hls", or "undecided": static storage. */
const char *ezr_protocol_name(enum ezr_protocol p);

#endif
