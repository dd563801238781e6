/* HTTP/1.1 as a client protocol (ezr_client_proto.h): the front door of every HTTP request.
 *
 * A connection carries requests one after the other (keep-alive: HTTP/1.1 unless the request
 * says Connection: close, HTTP/1.0 only with Connection: keep-alive) and may send them before
 * their answers come (pipelining): they are answered in order, one at a time. A request whose
 * answer waits (an LL-HLS blocking reload) holds the ones behind it, unread, in the connection's
 * input tail; so does a queue of answers not yet written past EZR_HTTP_PIPELINE_QUEUE_BYTES.
 * Past EZR_HTTP_MAX_PIPELINED_BYTES of such input the socket is not read at all until the
 * connection moves on, so a peer that pipelines without reading holds a bounded amount.
 *
 * Requests are routed by a table (path suffix or exact path, methods, handler):
 *
 *   GET/HEAD  /APP/KEY.flv[?query]         HTTP-FLV, or WebSocket-FLV with Upgrade (ezr_http_flv.c)
 *   GET/HEAD  /APP/KEY/index.m3u8, init-*.mp4, seg-*.m4s, part-*.m4s   LL-HLS (ezr_http_hls.c)
 *   GET/HEAD  /metrics                     the counters, Prometheus text (with `metrics` on)
 *   OPTIONS   any path                     a CORS preflight answer (204)
 *
 * and anything else is answered (400, 403, 404, 405, 414, 426, 431, 505) and closed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_clock.h"
#include "ezr_error.h"
#include "ezr_http_conn.h"
#include "ezr_limits.h"
#include "ezr_metrics.h"
#include "ezr_server_priv.h"
#include "ezr_text.h"

#define ALLOWED_METHODS "GET, HEAD, OPTIONS"
/* Request headers a page's fetch() may add (flv.js and mpegts.js send Range when seeking). */
#define ALLOWED_HEADERS "Range, Accept, Content-Type"
/* How long a browser may reuse a preflight answer (seconds). */
#define PREFLIGHT_MAX_AGE "86400"

static int http_open(struct ezr_client *c)
{
    struct ezr_http_conn *h = ezr_calloc(1, sizeof *h);
    if (!h)
        return EZR_ENOMEM;
    h->client = c;
    ezr_http_parser_init(&h->parser);
    c->proto_state = h;
    return 0;
}

static void http_close(struct ezr_client *c)
{
    if (c->proto_state)
        ezr_http_hls_close(c);
    free(c->proto_state);
    c->proto_state = NULL;
}

void ezr_http_put_common(struct ezr_client *c, struct ezr_buf *b)
{
    ezr_http_put_header(b, "Access-Control-Allow-Origin", c->set->srv->cors_origin);
    ezr_http_put_header(b, "Connection", ezr_http_conn_of(c)->keep_alive ? "keep-alive" : "close");
}

int ezr_http_send_buf(struct ezr_client *c, struct ezr_buf *b)
{
    int rc = ezr_buf_failed(b) ? EZR_ENOMEM : 0;
    if (rc == 0)
        ezr_client_send(c, b->data, b->len);
    ezr_buf_free(b);
    return rc;
}

int ezr_http_answer_error(struct ezr_client *c, int status, const char *why, const char *said)
{
    struct ezr_http_conn *h = ezr_http_conn_of(c);
    struct ezr_buf b;
    char body[160], len[16];
    int n = snprintf(body, sizeof body, "%d %s%s%s\n", status, ezr_http_status_text(status),
                     said ? ": " : "", said ? said : "");
    if (n >= (int)sizeof body)
        n = (int)sizeof body - 1;
    snprintf(len, sizeof len, "%d", n);
    h->keep_alive = false; /* what follows a refused request cannot be trusted to be one */
    h->done = true;
    ezr_buf_init(&b);
    ezr_http_put_status(&b, status);
    ezr_http_put_header(&b, "Content-Type", "text/plain");
    ezr_http_put_header(&b, "Content-Length", len);
    if (status == 405)
        ezr_http_put_header(&b, "Allow", ALLOWED_METHODS);
    if (status == 426)
        ezr_http_put_header(&b, "Sec-WebSocket-Version", "13");
    ezr_http_put_common(c, &b);
    ezr_http_end_head(&b);
    if (!h->head_only)
        ezr_buf_append(&b, body, (size_t)n);
    c->close_reason = why;
    return ezr_http_send_buf(c, &b) < 0 ? EZR_ENOMEM : EZR_ECLOSED;
}

/* An answer whose connection stays open or closes as the request said. */
static int answered_in_turn(struct ezr_client *c, const char *why)
{
    if (ezr_http_conn_of(c)->keep_alive)
        return EZR_HTTP_NEXT;
    c->close_reason = why;
    ezr_http_conn_of(c)->done = true;
    return EZR_ECLOSED;
}

static int answer_preflight(struct ezr_client *c, const struct ezr_http_request *req)
{
    (void)req;
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_http_put_status(&b, 204);
    ezr_http_put_header(&b, "Access-Control-Allow-Methods", ALLOWED_METHODS);
    ezr_http_put_header(&b, "Access-Control-Allow-Headers", ALLOWED_HEADERS);
    ezr_http_put_header(&b, "Access-Control-Max-Age", PREFLIGHT_MAX_AGE);
    ezr_http_put_header(&b, "Content-Length", "0");
    ezr_http_put_common(c, &b);
    ezr_http_end_head(&b);
    if (ezr_http_send_buf(c, &b) < 0)
        return EZR_ENOMEM;
    return answered_in_turn(c, "CORS preflight answered");
}

static int answer_metrics(struct ezr_client *c, const struct ezr_http_request *req)
{
    if (!c->set->srv->metrics || req->upgrade_websocket)
        return ezr_http_answer_error(c, 404, "no such stream", NULL);
    struct ezr_buf body, b;
    ezr_buf_init(&body);
    ezr_buf_init(&b);
    ezr_metrics_write(c->set->srv, &body);
    char len[24];
    snprintf(len, sizeof len, "%zu", body.len);
    ezr_http_put_status(&b, 200);
    ezr_http_put_header(&b, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    ezr_http_put_header(&b, "Content-Length", len);
    ezr_http_put_header(&b, "Cache-Control", "no-cache");
    ezr_http_put_common(c, &b);
    ezr_http_end_head(&b);
    if (req->method == EZR_HTTP_GET)
        ezr_buf_append(&b, body.data, body.len);
    if (ezr_buf_failed(&body))
        b.failed = true;
    ezr_buf_free(&body);
    if (ezr_http_send_buf(c, &b) < 0)
        return EZR_ENOMEM;
    return answered_in_turn(c, "metrics answered");
}

/* ---- the route table ---------------------------------------------------------------------- */

enum route_match { MATCH_EXACT, MATCH_SUFFIX, MATCH_ANY };
#define M_GET (1u << EZR_HTTP_GET)
#define M_HEAD (1u << EZR_HTTP_HEAD)
#define M_OPTIONS (1u << EZR_HTTP_OPTIONS)

struct route {
    unsigned methods;
    enum route_match match;
    const char *text; /* the path, or its suffix */
    int (*answer)(struct ezr_client *c, const struct ezr_http_request *req);
};

/* First match wins: OPTIONS answers any path before the others look at it. */
static const struct route routes[] = {
    {M_OPTIONS, MATCH_ANY, NULL, answer_preflight},
    {M_GET | M_HEAD, MATCH_EXACT, "/metrics", answer_metrics},
    {M_GET | M_HEAD, MATCH_SUFFIX, ".flv", ezr_http_flv_answer},
    {M_GET | M_HEAD, MATCH_SUFFIX, ".m3u8", ezr_http_hls_answer},
    {M_GET | M_HEAD, MATCH_SUFFIX, ".m4s", ezr_http_hls_answer},
    {M_GET | M_HEAD, MATCH_SUFFIX, ".mp4", ezr_http_hls_answer},
};

static bool matches(const struct route *r, const char *path, size_t len)
{
    size_t n;
    switch (r->match) {
    case MATCH_ANY:
        return true;
    case MATCH_EXACT:
        return strcmp(path, r->text) == 0;
    case MATCH_SUFFIX:
        n = strlen(r->text);
        return len > n && memcmp(path + len - n, r->text, n) == 0;
    }
    return false;
}

static int route(struct ezr_client *c, const struct ezr_http_request *req)
{
    char esc[96];
    /* Asked first: a line per request is the most the server logs, and escaping the path
     * costs as much as formatting it. */
    if (ezr_log_wants(c->set->log, EZR_LOG_INFO))
        ezr_log(c->set->log, EZR_LOG_INFO, "client %llu (%s) HTTP %s \"%s\"%s%s",
                (unsigned long long)c->conn.id, c->conn.addr,
                req->method == EZR_HTTP_GET       ? "GET"
                : req->method == EZR_HTTP_HEAD    ? "HEAD"
                : req->method == EZR_HTTP_OPTIONS ? "OPTIONS"
                                                  : "(other method)",
                ezr_text_escape(esc, sizeof esc, req->path, strlen(req->path)),
                req->query[0] ? " (query not shown)" : "",
                req->upgrade_websocket ? " (WebSocket)" : "");
    if (req->method == EZR_HTTP_OTHER)
        return ezr_http_answer_error(c, 405, "HTTP method not allowed", NULL);
    if (req->has_body)
        return ezr_http_answer_error(c, 400, "HTTP request with a body", NULL);
    size_t len = strlen(req->path);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if ((routes[i].methods & (1u << req->method)) && matches(&routes[i], req->path, len))
            return routes[i].answer(c, req);
    return ezr_http_answer_error(c, 404, "no such stream", NULL);
}

/* ---- requests in ---------------------------------------------------------------------------- */

static bool keeps_alive(const struct ezr_http_request *req)
{
    return req->minor_version >= 1 ? !req->connection_close : req->connection_keep_alive;
}

/* The request being routed: one per reactor thread, for the length of a route's call, so that a
 * connection holds no request head (2.6 KB) while it waits or idles between requests. */
static _Thread_local struct ezr_http_request request_in_hand;

/* Reads the requests in in[0..len) in turn while their answers may go out; returns the bytes
 * consumed (the rest is kept and fed again: ezr_client_resume_input, or more bytes), or an
 * error for the client. */
static int http_feed(struct ezr_client *c, const uint8_t *in, size_t len)
{
    struct ezr_http_conn *h = ezr_http_conn_of(c);
    size_t used = 0;
    while (!h->done && used < len) {
        if (h->waiting || ezr_client_queued(c) >= EZR_HTTP_PIPELINE_QUEUE_BYTES) {
            /* The next request waits for this one's answer: hold it, and past a bound stop
             * reading (written answers resume the input, ezr_client_flush). */
            if (!h->waiting || len - used > EZR_HTTP_MAX_PIPELINED_BYTES)
                ezr_client_pause_input(c);
            return (int)used;
        }
        struct ezr_http_request *req = &request_in_hand;
        int rc = ezr_http_parse(&h->parser, in + used, len - used, req);
        if (rc == EZR_EAGAIN)
            return (int)used;
        if (rc < 0) {
            h->keep_alive = h->head_only = false;
            return ezr_http_answer_error(c, h->parser.status, h->parser.reason, NULL);
        }
        used += (size_t)rc;
        ezr_http_parser_init(&h->parser);
        h->keep_alive = keeps_alive(req);
        h->head_only = req->method == EZR_HTTP_HEAD;
        c->idle_since_ms = ezr_now_ms(); /* an idle keep-alive connection times out from here */
        int out = route(c, req);
        /* A route that answered in turn (LL-HLS) leaves the close that Connection: close (or
         * HTTP/1.0) asks for to here. */
        if (out == EZR_HTTP_NEXT)
            out = answered_in_turn(c, "answered (Connection: close)");
        if (out < 0)
            return out;
        if (out == EZR_HTTP_PLAYING) {
            /* WebSocket frames may follow the head in the same read: fed again to ezr_proto_ws
             * (h is freed then). An HTTP-FLV player has nothing more to say. */
            return c->proto == &ezr_proto_ws ? (int)used : (int)len;
        }
        if (out == EZR_HTTP_WAITING)
            h->waiting = true;
    }
    return h->done ? (int)len : (int)used;
}

void ezr_http_answered(struct ezr_client *c)
{
    struct ezr_http_conn *h = ezr_http_conn_of(c);
    h->waiting = false;
    c->idle_since_ms = ezr_now_ms();
    if (!h->keep_alive) {
        h->done = true;
        ezr_client_close_after_flush(c, EZR_CLOSE_PLAYER);
        return;
    }
    ezr_client_resume_input(c);
}

static void http_stream_ended(struct ezr_client *c, bool final)
{
    /* A flush upstream (not final) goes on in the same body; the end of the stream ends it. */
    if (!final)
        return;
    c->close_reason = "stream ended";
    ezr_client_close_after_flush(c, EZR_CLOSE_SERVER);
}

static void http_stream_restarted(struct ezr_client *c)
{
    (void)c; /* the replayed metadata and headers say it all */
}

const struct ezr_client_proto ezr_proto_http = {
    .id = EZR_PROTOCOL_HTTP_FLV,
    .open = http_open,
    .feed = http_feed,
    .view = EZR_VIEW_FLV,
    .make_view = ezr_frame_make_flv,
    .stream_ended = http_stream_ended,
    .stream_restarted = http_stream_restarted,
    /* No way to ask: a gone peer of an idle stream is found by TCP keepalive (ezr_net_accept,
     * EZR_TCP_KEEPIDLE_S), whose failure is the socket's error. */
    .ping = NULL,
    .pongs = NULL,
    .close = http_close,
};
