/* HTTP/1.1 as a client protocol (ezr_client_proto.h): one request per connection.
 *
 *   GET  /APP/STREAM-KEY.flv[?token=T]   200, then the stream as an FLV file (HTTP-FLV)
 *   the same with Upgrade: websocket     101, then the same bytes as binary messages (WS-FLV)
 *   HEAD /APP/STREAM-KEY.flv             the 200 head alone
 *   OPTIONS any path                     a CORS preflight answer (204)
 *   GET  /metrics                        the counters, Prometheus text (with `metrics` on)
 *
 * anything else is answered (400, 403, 404, 405, 414, 426, 431, 505) and closed. The FLV body
 * is delimited by the connection's end (Connection: close, no Content-Length): no per-frame
 * framing, so every HTTP player takes the very same shared bytes of a frame (its FLV view), and
 * every HTTP/1.x client (ffmpeg, browsers' fetch, flv.js) reads such a body. The stream's end
 * (EOS) ends the body: the connection is closed once what is queued is written.
 *
 * A player is admitted exactly as an RTMP one (ezr_stream_admit: allowed-clients, play-token from
 * ?token=) and is then a player like any other: the same join burst, tiers, timeouts, counters
 * and signals; only the bytes taken from a frame differ. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_client.h"
#include "ezr_error.h"
#include "ezr_frame.h"
#include "ezr_http.h"
#include "ezr_limits.h"
#include "ezr_metrics.h"
#include "ezr_server_priv.h"
#include "ezr_stream.h"
#include "ezr_text.h"
#include "ezr_ws.h"

#define ALLOWED_METHODS "GET, HEAD, OPTIONS"
/* Request headers a page's fetch() may add (flv.js and mpegts.js send Range when seeking). */
#define ALLOWED_HEADERS "Range, Accept, Content-Type"
/* How long a browser may reuse a preflight answer (seconds). */
#define PREFLIGHT_MAX_AGE "86400"

struct http_conn {
    struct ezr_http_parser parser;
    struct ezr_http_request req;
    bool answered; /* the request had its answer: what the peer sends later is discarded */
};

/* After the upgrade (ezr_proto_ws): the request is done with, the messages are read. */
struct ws_conn {
    struct ezr_ws_reader ws;
};

static struct http_conn *conn_of(const struct ezr_client *c)
{
    return c->proto_state;
}

static struct ws_conn *ws_of(const struct ezr_client *c)
{
    return c->proto_state;
}

static int http_open(struct ezr_client *c)
{
    struct http_conn *h = ezr_calloc(1, sizeof *h);
    if (!h)
        return EZR_ENOMEM;
    ezr_http_parser_init(&h->parser);
    c->proto_state = h;
    return 0;
}

static int ws_open(struct ezr_client *c)
{
    struct ws_conn *w = ezr_calloc(1, sizeof *w);
    if (!w)
        return EZR_ENOMEM;
    ezr_ws_reader_init(&w->ws);
    c->proto_state = w;
    return 0;
}

static void http_close(struct ezr_client *c)
{
    free(c->proto_state);
    c->proto_state = NULL;
}

/* Queues b as the reply; EZR_ENOMEM when it could not be built. */
static int send_buf(struct ezr_client *c, struct ezr_buf *b)
{
    int rc = ezr_buf_failed(b) ? EZR_ENOMEM : 0;
    if (rc == 0)
        ezr_client_send(c, b->data, b->len);
    ezr_buf_free(b);
    return rc;
}

static void put_common(struct ezr_client *c, struct ezr_buf *b)
{
    ezr_http_put_header(b, "Access-Control-Allow-Origin", c->srv->cors_origin);
    ezr_http_put_header(b, "Connection", "close");
}

/* An error answer with a one-line text body, then close. Returns EZR_ECLOSED. */
/* An error answer whose body tells the player why, when the player can act on it (said: NULL,
 * or a sentence without secrets). */
static int answer_error_saying(struct ezr_client *c, int status, const char *why, const char *said)
{
    struct ezr_buf b;
    char body[160], len[16];
    int n = snprintf(body, sizeof body, "%d %s%s%s\n", status, ezr_http_status_text(status),
                     said ? ": " : "", said ? said : "");
    if (n >= (int)sizeof body)
        n = (int)sizeof body - 1;
    snprintf(len, sizeof len, "%d", n);
    ezr_buf_init(&b);
    ezr_http_put_status(&b, status);
    ezr_http_put_header(&b, "Content-Type", "text/plain");
    ezr_http_put_header(&b, "Content-Length", len);
    if (status == 405)
        ezr_http_put_header(&b, "Allow", ALLOWED_METHODS);
    if (status == 426)
        ezr_http_put_header(&b, "Sec-WebSocket-Version", "13");
    put_common(c, &b);
    ezr_http_end_head(&b);
    if (conn_of(c)->req.method != EZR_HTTP_HEAD)
        ezr_buf_append(&b, body, (size_t)n);
    c->close_reason = why;
    conn_of(c)->answered = true;
    return send_buf(c, &b) < 0 ? EZR_ENOMEM : EZR_ECLOSED;
}

static int answer_error(struct ezr_client *c, int status, const char *why)
{
    return answer_error_saying(c, status, why, NULL);
}

static int answer_preflight(struct ezr_client *c)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_http_put_status(&b, 204);
    ezr_http_put_header(&b, "Access-Control-Allow-Methods", ALLOWED_METHODS);
    ezr_http_put_header(&b, "Access-Control-Allow-Headers", ALLOWED_HEADERS);
    ezr_http_put_header(&b, "Access-Control-Max-Age", PREFLIGHT_MAX_AGE);
    ezr_http_put_header(&b, "Content-Length", "0");
    put_common(c, &b);
    ezr_http_end_head(&b);
    c->close_reason = "CORS preflight answered";
    conn_of(c)->answered = true;
    return send_buf(c, &b) < 0 ? EZR_ENOMEM : EZR_ECLOSED;
}

static int answer_metrics(struct ezr_client *c)
{
    struct ezr_buf body, b;
    ezr_buf_init(&body);
    ezr_buf_init(&b);
    ezr_metrics_write(c->srv, &body);
    char len[24];
    snprintf(len, sizeof len, "%zu", body.len);
    ezr_http_put_status(&b, 200);
    ezr_http_put_header(&b, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    ezr_http_put_header(&b, "Content-Length", len);
    ezr_http_put_header(&b, "Cache-Control", "no-cache");
    put_common(c, &b);
    ezr_http_end_head(&b);
    if (conn_of(c)->req.method == EZR_HTTP_GET)
        ezr_buf_append(&b, body.data, body.len);
    if (ezr_buf_failed(&body))
        b.failed = true;
    ezr_buf_free(&body);
    c->close_reason = "metrics answered";
    conn_of(c)->answered = true;
    return send_buf(c, &b) < 0 ? EZR_ENOMEM : EZR_ECLOSED;
}

/* The FLV file header (FLV spec E.2) and PreviousTagSize0. The flags say what the stream
 * carries so far (its sequence headers, or frames seen); before anything is known both are
 * announced, as a player that is told "no audio" may ignore audio arriving later. */
static void put_flv_header(struct ezr_stream *st, struct ezr_buf *b)
{
    bool audio, video;
    ezr_stream_carries(st, &audio, &video);
    if (!audio && !video)
        audio = video = true;
    static const uint8_t sig[4] = {'F', 'L', 'V', 1};
    ezr_buf_append(b, sig, 4);
    ezr_buf_put_u8(b, (uint8_t)((audio ? 0x04 : 0) | (video ? 0x01 : 0)));
    ezr_buf_put_be32(b, 9);
    ezr_buf_put_be32(b, 0);
}

/* /APP/KEY.flv: the stream, or NULL (404). Names are percent-decoded; a bad escape is -1 (400). */
static int find_stream(struct ezr_client *c, const char *path, struct ezr_stream **out, char *key,
                       size_t keycap)
{
    *out = NULL;
    size_t len = strlen(path);
    const char *slash = strrchr(path, '/');
    if (len < 5 || strcmp(path + len - 4, ".flv") != 0 || slash == path)
        return 0;
    char app[EZR_MAX_NAME_LEN + 1];
    size_t applen = (size_t)(slash - path) - 1;
    size_t keylen = (size_t)(path + len - 4 - (slash + 1));
    if (applen == 0 || keylen == 0)
        return 0;
    if (ezr_http_unescape(path + 1, applen, app, sizeof app) < 0 ||
        ezr_http_unescape(slash + 1, keylen, key, keycap) < 0)
        return -1;
    *out = ezr_server_find_stream(c->srv, app, key, strlen(key));
    return 0;
}

/* The 101 answer of RFC 6455 4.2.2: 0 when it was queued, else what answer_error() returned
 * for the refusal, or EZR_ENOMEM. */
static int answer_upgrade(struct ezr_client *c, const struct ezr_http_request *req)
{
    char accept[EZR_WS_ACCEPT_LEN + 1];
    if (req->method != EZR_HTTP_GET || !req->connection_upgrade)
        return answer_error(c, 400, "WebSocket upgrade without GET or Connection: Upgrade");
    if (req->ws_version != 13)
        return answer_error(c, 426, "WebSocket version other than 13");
    int krc = ezr_ws_accept_key(req->ws_key, accept);
    if (krc == EZR_ENOMEM) /* OpenSSL's SHA-1 could not allocate: the key may be fine */
        return krc;
    if (krc < 0)
        return answer_error(c, 400, "bad Sec-WebSocket-Key");
    /* Browsers apply no CORS to WebSockets: the server checks the page's origin itself. */
    if (strcmp(c->srv->cors_origin, "*") != 0 && req->origin[0] &&
        strcmp(req->origin, c->srv->cors_origin) != 0)
        return answer_error(c, 403, "WebSocket from an origin other than http-cors-origin");
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_http_put_status(&b, 101);
    ezr_http_put_header(&b, "Upgrade", "websocket");
    ezr_http_put_header(&b, "Connection", "Upgrade");
    ezr_http_put_header(&b, "Sec-WebSocket-Accept", accept);
    ezr_http_end_head(&b);
    return send_buf(c, &b);
}

static int answer_play(struct ezr_client *c, const struct ezr_http_request *req)
{
    char key[EZR_MAX_NAME_LEN + 1];
    struct ezr_stream *st;
    if (find_stream(c, req->path, &st, key, sizeof key) < 0)
        return answer_error(c, 400, "bad escape in the request path");
    if (!st || !c->srv->http)
        return answer_error(c, 404, "no such stream");
    /* Admission as for RTMP, which reads the token from "key?query". */
    char name[EZR_MAX_NAME_LEN + 2 + EZR_HTTP_MAX_TARGET];
    snprintf(name, sizeof name, "%s%s%s", key, req->query[0] ? "?" : "", req->query);
    int admitted = ezr_stream_admit(st, c, name);
    if (admitted == EZR_EINVAL) {
        const char *why = "unknown sync-method: latest-keyframe, next-keyframe or live-edge";
        return answer_error_saying(c, 400, why, why);
    }
    if (admitted < 0)
        return answer_error(c, 403, "refused by allowed-clients or play-token");
    struct ezr_buf b;
    ezr_buf_init(&b);
    bool ws = req->upgrade_websocket;
    if (ws) {
        int rc = answer_upgrade(c, req);
        if (rc < 0)
            return rc;
        put_flv_header(st, &b);
        if (ezr_buf_failed(&b)) {
            ezr_buf_free(&b);
            return EZR_ENOMEM;
        }
        uint8_t h[EZR_WS_MAX_HEADER];
        size_t hl = ezr_ws_header(h, EZR_WS_BINARY, b.len);
        struct ezr_buf framed;
        ezr_buf_init(&framed);
        ezr_buf_append(&framed, h, hl);
        ezr_buf_append(&framed, b.data, b.len);
        ezr_buf_free(&b);
        b = framed;
    } else {
        ezr_http_put_status(&b, 200);
        ezr_http_put_header(&b, "Content-Type", "video/x-flv");
        ezr_http_put_header(&b, "Cache-Control", "no-cache");
        put_common(c, &b);
        ezr_http_end_head(&b);
        if (req->method == EZR_HTTP_HEAD) {
            c->close_reason = "HEAD answered";
            conn_of(c)->answered = true;
            return send_buf(c, &b) < 0 ? EZR_ENOMEM : EZR_ECLOSED;
        }
        put_flv_header(st, &b);
    }
    if (send_buf(c, &b) < 0)
        return EZR_ENOMEM;
    conn_of(c)->answered = true;
    /* The request is answered: from here the connection speaks WebSocket (req is gone). */
    if (ws && ezr_client_set_proto(c, &ezr_proto_ws) < 0)
        return EZR_ENOMEM;
    ezr_stream_add_player(st, c);
    return 0;
}

static int answer(struct ezr_client *c, const struct ezr_http_request *req)
{
    char esc[96];
    ezr_log(c->conn.log, EZR_LOG_INFO, "client %llu (%s) HTTP %s \"%s\"%s%s",
            (unsigned long long)c->conn.id, c->conn.addr,
            req->method == EZR_HTTP_GET       ? "GET"
            : req->method == EZR_HTTP_HEAD    ? "HEAD"
            : req->method == EZR_HTTP_OPTIONS ? "OPTIONS"
                                              : "(other method)",
            ezr_text_escape(esc, sizeof esc, req->path, strlen(req->path)),
            req->query[0] ? " (query not shown)" : "",
            req->upgrade_websocket ? " (WebSocket)" : "");
    if (req->method == EZR_HTTP_OTHER)
        return answer_error(c, 405, "HTTP method not allowed");
    if (req->has_body)
        return answer_error(c, 400, "HTTP request with a body");
    if (req->method == EZR_HTTP_OPTIONS)
        return answer_preflight(c);
    if (strcmp(req->path, "/metrics") == 0 && c->srv->metrics && !req->upgrade_websocket)
        return answer_metrics(c);
    return answer_play(c, req);
}

static int http_feed(struct ezr_client *c, const uint8_t *in, size_t len)
{
    struct http_conn *h = conn_of(c);
    if (h->answered)
        return (int)len; /* a player of HTTP-FLV has nothing more to say */
    int rc = ezr_http_parse(&h->parser, in, len, &h->req);
    if (rc == EZR_EAGAIN)
        return 0;
    if (rc < 0)
        return answer_error(c, h->parser.status, h->parser.reason);
    int arc = answer(c, &h->req); /* h is freed when the client became WebSocket */
    if (arc < 0)
        return arc;
    /* WebSocket frames may follow the head in the same read: fed again to ezr_proto_ws. */
    return c->proto == &ezr_proto_ws ? rc : (int)len;
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

/* ---- WebSocket-FLV ------------------------------------------------------------------------ */

static int ws_feed(struct ezr_client *c, const uint8_t *in, size_t len)
{
    struct ws_conn *h = ws_of(c);
    struct ezr_buf out;
    ezr_buf_init(&out);
    int rc = ezr_ws_feed(&h->ws, in, len, &out);
    if (out.len && send_buf(c, &out) < 0)
        return EZR_ENOMEM;
    ezr_buf_free(&out);
    if (rc != EZR_ECLOSED)
        return rc;
    c->close_reason = h->ws.reason;
    /* The player's own close is a player leaving, not a protocol fault. */
    ezr_client_close_after_flush(c, h->ws.close_code == EZR_WS_CLOSE_PROTOCOL ||
                                            h->ws.close_code == EZR_WS_CLOSE_TOO_BIG
                                        ? EZR_CLOSE_PROTOCOL
                                        : EZR_CLOSE_PLAYER);
    return (int)len;
}

/* One binary message per tag: the WebSocket header, then the FLV tag. */
static int make_ws_flv(const struct ezr_frame *f, void *arg, struct ezr_frame_view *out)
{
    (void)arg;
    uint8_t hdr[EZR_WS_MAX_HEADER];
    size_t n = ezr_ws_header(hdr, EZR_WS_BINARY, EZR_FRAME_FLV_TAG_LEN(f));
    uint8_t *m = ezr_malloc(n + EZR_FRAME_FLV_TAG_LEN(f));
    if (!m)
        return EZR_ENOMEM;
    memcpy(m, hdr, n);
    out->len = n + ezr_frame_write_flv_tag(f, m + n);
    out->bytes = m;
    return 0;
}

static void ws_stream_ended(struct ezr_client *c, bool final)
{
    if (!final || ws_of(c)->ws.closed)
        return;
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_ws_put_close(&b, EZR_WS_CLOSE_NORMAL);
    ws_of(c)->ws.closed = true;
    send_buf(c, &b);
    c->close_reason = "stream ended";
    ezr_client_close_after_flush(c, EZR_CLOSE_SERVER);
}

static void ws_ping(struct ezr_client *c, uint32_t timestamp)
{
    uint8_t b[EZR_WS_MAX_HEADER + 4];
    size_t n = ezr_ws_header(b, EZR_WS_PING, 4);
    b[n] = (uint8_t)(timestamp >> 24);
    b[n + 1] = (uint8_t)(timestamp >> 16);
    b[n + 2] = (uint8_t)(timestamp >> 8);
    b[n + 3] = (uint8_t)timestamp;
    ezr_client_send(c, b, n + 4);
}

static uint64_t ws_pongs(const struct ezr_client *c)
{
    return ws_of(c)->ws.pongs;
}

const struct ezr_client_proto ezr_proto_ws = {
    .id = EZR_PROTOCOL_WS_FLV,
    .open = ws_open,
    .feed = ws_feed,
    .view = EZR_VIEW_WS_FLV,
    .make_view = make_ws_flv,
    .stream_ended = ws_stream_ended,
    .stream_restarted = http_stream_restarted,
    .ping = ws_ping, /* browsers answer pings by themselves */
    .pongs = ws_pongs,
    .close = http_close,
};
