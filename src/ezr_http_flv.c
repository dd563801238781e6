/* HTTP-FLV and WebSocket-FLV, a route of the HTTP front door (ezr_proto_http.c):
 *
 *   GET  /APP/STREAM-KEY.flv[?token=T]   200, then the stream as an FLV file (HTTP-FLV)
 *   the same with Upgrade: websocket     101, then the same bytes as binary messages (WS-FLV)
 *   HEAD /APP/STREAM-KEY.flv             the 200 head alone
 *
 * The FLV body is delimited by the connection's end (Connection: close, no Content-Length): no
 * per-frame framing, so every HTTP player takes the very same shared bytes of a frame (its FLV
 * view), and every HTTP/1.x client (ffmpeg, browsers' fetch, flv.js) reads such a body. The
 * stream's end (EOS) ends the body: the connection is closed once what is queued is written.
 *
 * A player is admitted exactly as an RTMP one (ezr_stream_admit: allowed-clients, play-token from
 * ?token=) and is then a player like any other: the same join burst, tiers, timeouts, counters
 * and signals; only the bytes taken from a frame differ. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_error.h"
#include "ezr_frame.h"
#include "ezr_http_conn.h"
#include "ezr_limits.h"
#include "ezr_server_priv.h"
#include "ezr_ws.h"

/* After the upgrade (ezr_proto_ws): the request is done with, the messages are read. */
struct ws_conn {
    struct ezr_ws_reader ws;
};

static struct ws_conn *ws_of(const struct ezr_client *c)
{
    return c->proto_state;
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

static void ws_close(struct ezr_client *c)
{
    free(c->proto_state);
    c->proto_state = NULL;
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
    *out = ezr_server_find_stream(c->set->srv, app, key, strlen(key));
    return 0;
}

/* The 101 answer of RFC 6455 4.2.2: 0 when it was queued, else what ezr_http_answer_error() returned
 * for the refusal, or EZR_ENOMEM. */
static int answer_upgrade(struct ezr_client *c, const struct ezr_http_request *req)
{
    char accept[EZR_WS_ACCEPT_LEN + 1];
    if (req->method != EZR_HTTP_GET || !req->connection_upgrade)
        return ezr_http_answer_error(c, 400, "WebSocket upgrade without GET or Connection: Upgrade", NULL);
    if (req->ws_version != 13)
        return ezr_http_answer_error(c, 426, "WebSocket version other than 13", NULL);
    int krc = ezr_ws_accept_key(req->ws_key, accept);
    if (krc == EZR_ENOMEM) /* OpenSSL's SHA-1 could not allocate: the key may be fine */
        return krc;
    if (krc < 0)
        return ezr_http_answer_error(c, 400, "bad Sec-WebSocket-Key", NULL);
    /* Browsers apply no CORS to WebSockets: the server checks the page's origin itself. */
    if (strcmp(c->set->srv->cors_origin, "*") != 0 && req->origin[0] &&
        strcmp(req->origin, c->set->srv->cors_origin) != 0)
        return ezr_http_answer_error(c, 403, "WebSocket from an origin other than http-cors-origin", NULL);
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_http_put_status(&b, 101);
    ezr_http_put_header(&b, "Upgrade", "websocket");
    ezr_http_put_header(&b, "Connection", "Upgrade");
    ezr_http_put_header(&b, "Sec-WebSocket-Accept", accept);
    ezr_http_end_head(&b);
    return ezr_http_send_buf(c, &b);
}

int ezr_http_flv_answer(struct ezr_client *c, const struct ezr_http_request *req)
{
    char key[EZR_MAX_NAME_LEN + 1];
    struct ezr_stream *st;
    if (find_stream(c, req->path, &st, key, sizeof key) < 0)
        return ezr_http_answer_error(c, 400, "bad escape in the request path", NULL);
    if (!st || !c->set->srv->http)
        return ezr_http_answer_error(c, 404, "no such stream", NULL);
    /* Admission as for RTMP, which reads the token from "key?query". */
    char name[EZR_MAX_NAME_LEN + 2 + EZR_HTTP_MAX_TARGET];
    snprintf(name, sizeof name, "%s%s%s", key, req->query[0] ? "?" : "", req->query);
    int admitted = ezr_stream_admit(st, c, name);
    if (admitted == EZR_EINVAL) {
        const char *why = "unknown sync-method: latest-keyframe, next-keyframe or live-edge";
        return ezr_http_answer_error(c, 400, why, why);
    }
    if (admitted < 0)
        return ezr_http_answer_error(c, 403, "refused by allowed-clients or play-token", NULL);
    /* The body ends with the connection: no other request follows on it. */
    ezr_http_conn_of(c)->keep_alive = false;
    ezr_http_conn_of(c)->done = true;
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
        ezr_http_put_common(c, &b);
        ezr_http_end_head(&b);
        if (req->method == EZR_HTTP_HEAD) {
            c->close_reason = "HEAD answered";
            return ezr_http_send_buf(c, &b) < 0 ? EZR_ENOMEM : EZR_ECLOSED;
        }
        put_flv_header(st, &b);
    }
    if (ezr_http_send_buf(c, &b) < 0)
        return EZR_ENOMEM;
    /* The request is answered: from here the connection speaks WebSocket (req is gone). */
    if (ws && ezr_client_set_proto(c, &ezr_proto_ws) < 0)
        return EZR_ENOMEM;
    ezr_stream_add_player(st, c);
    return EZR_HTTP_PLAYING;
}

/* ---- WebSocket-FLV ------------------------------------------------------------------------ */

static int ws_feed(struct ezr_client *c, const uint8_t *in, size_t len)
{
    struct ws_conn *h = ws_of(c);
    struct ezr_buf out;
    ezr_buf_init(&out);
    int rc = ezr_ws_feed(&h->ws, in, len, &out);
    if (out.len && ezr_http_send_buf(c, &out) < 0)
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
    ezr_http_send_buf(c, &b);
    c->close_reason = "stream ended";
    ezr_client_close_after_flush(c, EZR_CLOSE_SERVER);
}

static void ws_stream_restarted(struct ezr_client *c)
{
    (void)c; /* the replayed metadata and headers say it all */
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
    .stream_restarted = ws_stream_restarted,
    .ping = ws_ping, /* browsers answer pings by themselves */
    .pongs = ws_pongs,
    .close = ws_close,
};
