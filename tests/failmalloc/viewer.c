/* The sweep's players (see sweep.h): an RTMP player built on the unit tests' (its connect object
 * as a real player sends it, long enough to span chunks), and HTTP-FLV, WebSocket-FLV and
 * HTTPS-FLV players reading the FLV body tag by tag. Every wait tells a close by the server from
 * silence, since a run passes when each player either plays or is closed, never left hanging. */
#include "sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "ezr_amf0.h"
#include "ezr_proto.h"

static SSL_CTX *client_ctx;

void viewer_tls_init(void)
{
    if (!client_ctx)
        client_ctx = SSL_CTX_new(TLS_client_method());
}

void viewer_tls_free(void)
{
    SSL_CTX_free(client_ctx);
    client_ctx = NULL;
}

static int left_ms(uint64_t deadline)
{
    uint64_t now = mono_ms();
    return deadline > now ? (int)(deadline - now) : 0;
}

/* The commands go out at once: with Nagle's algorithm the second waits for the server's delayed
 * acknowledgement of the first, 40 ms a run on loopback. */
static void no_delay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* After a read gave up: did the server close (EOF or reset), or is it only silent? */
static bool peer_closed(int fd)
{
    uint8_t b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* ---- RTMP ------------------------------------------------------------------------------- */

static void rtmp_send(struct player *p, uint32_t msid, const struct ezr_buf *body)
{
    struct ezr_buf out;
    ezr_buf_init(&out);
    ezr_chunk_writer_write(&p->w, &out, 3, 0, EZR_MSG_COMMAND_AMF0, msid, body->data, body->len);
    ssize_t w = send(p->fd, out.data, out.len, MSG_NOSIGNAL);
    (void)w; /* a refused write shows as the close that follows */
    ezr_buf_free(&out);
}

/* connect with the fields ffmpeg sends, then createStream and play. */
static void rtmp_play(struct player *p, uint16_t port, const char *name)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    char tc[64];
    snprintf(tc, sizeof tc, "rtmp://127.0.0.1:%u/live", port);
    ezr_amf0_put_cstring(&b, "connect");
    ezr_amf0_put_number(&b, 1);
    ezr_amf0_put_object_begin(&b);
    static const char *const str[][2] = {{"app", "live"},
                                         {"flashVer", "LNX 9,0,124,2"},
                                         {"swfUrl", "rtmp://127.0.0.1/live/sweep.swf"},
                                         {"pageUrl", "http://127.0.0.1/failmalloc/sweep.html"}};
    for (size_t i = 0; i < sizeof str / sizeof str[0]; i++) {
        ezr_amf0_put_key(&b, str[i][0]);
        ezr_amf0_put_cstring(&b, str[i][1]);
    }
    ezr_amf0_put_key(&b, "tcUrl");
    ezr_amf0_put_cstring(&b, tc);
    static const char *const num[] = {"capabilities", "audioCodecs", "videoCodecs"};
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++) {
        ezr_amf0_put_key(&b, num[i]);
        ezr_amf0_put_number(&b, 15 + (double)i);
    }
    ezr_amf0_put_object_end(&b);
    rtmp_send(p, 0, &b);
    ezr_buf_reset(&b);
    ezr_amf0_put_cstring(&b, "createStream");
    ezr_amf0_put_number(&b, 2);
    ezr_amf0_put_null(&b);
    rtmp_send(p, 0, &b);
    ezr_buf_reset(&b);
    ezr_amf0_put_cstring(&b, "play");
    ezr_amf0_put_number(&b, 0);
    ezr_amf0_put_null(&b);
    ezr_amf0_put_cstring(&b, name);
    rtmp_send(p, 1, &b);
    ezr_buf_free(&b);
}

static int rtmp_open(struct viewer *v, uint16_t port, const char *name, uint64_t deadline)
{
    int rc = player_handshake(&v->rtmp, port, 0, deadline);
    v->fd = v->rtmp.fd;
    if (rc < 0)
        return v->fd < 0 || peer_closed(v->fd) ? VIEW_CLOSED : VIEW_TIMEOUT;
    no_delay(v->fd);
    rtmp_play(&v->rtmp, port, name);
    return VIEW_GOT;
}

static int rtmp_video(struct viewer *v, uint8_t *mark, uint64_t deadline)
{
    struct player *p = &v->rtmp;
    while (next_media(p, deadline) == 0)
        if (p->type == EZR_MSG_VIDEO) {
            *mark = p->len > 5 ? p->payload[5] : 0;
            return VIEW_GOT;
        }
    return peer_closed(p->fd) ? VIEW_CLOSED : VIEW_TIMEOUT;
}

/* ---- HTTP-FLV, WebSocket-FLV, HTTPS-FLV ------------------------------------------------- */

/* Waits for fd to be ready for events; false on timeout. */
static bool wait_fd(int fd, short events, uint64_t deadline)
{
    struct pollfd pfd = {fd, events, 0};
    return poll(&pfd, 1, left_ms(deadline)) > 0;
}

/* Drives one SSL call that may want to read or write: its result > 0, 0 when the connection
 * failed or closed, -1 on timeout. */
static int ssl_step(SSL *ssl, int fd, int r, uint64_t deadline)
{
    if (r > 0)
        return r;
    int e = SSL_get_error(ssl, r);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ)
        return wait_fd(fd, POLLIN, deadline) ? -2 : -1;
    if (e == SSL_ERROR_WANT_WRITE)
        return wait_fd(fd, POLLOUT, deadline) ? -2 : -1;
    return 0;
}

/* Reads into raw: bytes read, 0 closed, -1 timeout. */
static int raw_read(struct viewer *v, uint64_t deadline)
{
    size_t room = sizeof v->raw - v->rawlen;
    if (room == 0)
        return -1;
    if (v->ssl) {
        int r;
        do
            r = ssl_step(v->ssl, v->fd, SSL_read(v->ssl, v->raw + v->rawlen, (int)room), deadline);
        while (r == -2);
        if (r > 0)
            v->rawlen += (size_t)r;
        return r;
    }
    for (;;) {
        ssize_t n = read(v->fd, v->raw + v->rawlen, room);
        if (n > 0) {
            v->rawlen += (size_t)n;
            return (int)n;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            return 0;
        if (!wait_fd(v->fd, POLLIN, deadline))
            return -1;
    }
}

static int raw_write(struct viewer *v, const char *s, size_t n, uint64_t deadline)
{
    if (!v->ssl)
        return send(v->fd, s, n, MSG_NOSIGNAL) == (ssize_t)n ? VIEW_GOT : VIEW_CLOSED;
    int r;
    do
        r = ssl_step(v->ssl, v->fd, SSL_write(v->ssl, s, (int)n), deadline);
    while (r == -2);
    return r > 0 ? VIEW_GOT : r == 0 ? VIEW_CLOSED : VIEW_TIMEOUT;
}

static void raw_take(struct viewer *v, size_t n)
{
    memmove(v->raw, v->raw + n, v->rawlen - n);
    v->rawlen -= n;
}

static bool flv_add(struct viewer *v, const uint8_t *p, size_t n)
{
    if (n > sizeof v->flv - v->flvlen)
        return false;
    memcpy(v->flv + v->flvlen, p, n);
    v->flvlen += n;
    return true;
}

/* Moves what raw holds into the FLV stream: the HTTP head (checked and dropped), then the body
 * as it is (HTTP-FLV) or out of its WebSocket messages. False when the server refused or closed
 * (a status other than the one asked for, a close frame). */
static bool unwrap(struct viewer *v)
{
    if (v->stage == 0) {
        uint8_t *end = memmem(v->raw, v->rawlen, "\r\n\r\n", 4);
        if (!end)
            return true;
        const char *want = v->kind == VIEW_WS_FLV ? "HTTP/1.1 101 " : "HTTP/1.1 200 ";
        if (v->rawlen < 13 || memcmp(v->raw, want, 13) != 0)
            return false;
        raw_take(v, (size_t)(end - v->raw) + 4);
        v->stage = 1;
    }
    if (v->kind != VIEW_WS_FLV) {
        bool ok = flv_add(v, v->raw, v->rawlen);
        if (ok)
            v->rawlen = 0;
        return true;
    }
    while (v->rawlen >= 2) {
        size_t len = v->raw[1] & 0x7f, hdr = 2;
        if (len == 126) {
            if (v->rawlen < 4)
                return true;
            len = (size_t)v->raw[2] << 8 | v->raw[3];
            hdr = 4;
        } else if (len == 127) {
            if (v->rawlen < 10)
                return true;
            len = 0;
            for (int i = 2; i < 10; i++)
                len = len << 8 | v->raw[i];
            hdr = 10;
        }
        if (v->rawlen < hdr + len)
            return true;
        uint8_t opcode = v->raw[0] & 0x0f;
        if (opcode == 8)
            return false;
        if ((opcode == 2 || opcode == 0) && !flv_add(v, v->raw + hdr, len))
            return true; /* the FLV buffer is full: parse first */
        raw_take(v, hdr + len);
    }
    return true;
}

/* The next FLV tag from the stream: its type and body[5] (the push mark); false if none yet. */
static bool flv_tag(struct viewer *v, uint8_t *type, uint8_t *mark)
{
    if (v->stage == 1) {
        if (v->flvlen < 13)
            return false;
        memmove(v->flv, v->flv + 13, v->flvlen - 13);
        v->flvlen -= 13;
        v->stage = 2;
    }
    if (v->stage != 2 || v->flvlen < 11)
        return false;
    size_t size = (size_t)v->flv[1] << 16 | (size_t)v->flv[2] << 8 | v->flv[3];
    if (v->flvlen < 11 + size + 4)
        return false;
    *type = v->flv[0];
    *mark = size > 5 ? v->flv[11 + 5] : 0;
    memmove(v->flv, v->flv + 11 + size + 4, v->flvlen - (11 + size + 4));
    v->flvlen -= 11 + size + 4;
    return true;
}

static int flv_video(struct viewer *v, uint8_t *mark, uint64_t deadline)
{
    for (;;) {
        uint8_t type;
        while (flv_tag(v, &type, mark))
            if (type == 9)
                return VIEW_GOT;
        if (!unwrap(v))
            return VIEW_CLOSED;
        if (flv_tag(v, &type, mark)) {
            if (type == 9)
                return VIEW_GOT;
            continue;
        }
        int r = raw_read(v, deadline);
        if (r <= 0)
            return r == 0 ? VIEW_CLOSED : VIEW_TIMEOUT;
    }
}

static int flv_open(struct viewer *v, uint16_t port, const char *name, uint64_t deadline)
{
    v->fd = dial(port, 0);
    if (v->fd < 0)
        return VIEW_CLOSED;
    no_delay(v->fd);
    fcntl(v->fd, F_SETFL, fcntl(v->fd, F_GETFL) | O_NONBLOCK);
    if (v->kind == VIEW_HTTPS_FLV) {
        v->ssl = SSL_new(client_ctx);
        if (!v->ssl || SSL_set_fd(v->ssl, v->fd) != 1)
            return VIEW_TIMEOUT; /* the test's own failure, reported as one */
        int r;
        do
            r = ssl_step(v->ssl, v->fd, SSL_connect(v->ssl), deadline);
        while (r == -2);
        if (r <= 0)
            return r == 0 ? VIEW_CLOSED : VIEW_TIMEOUT;
    }
    char req[512];
    int n = snprintf(req, sizeof req, "GET /live/%s.flv HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n",
                     name,
                     v->kind == VIEW_WS_FLV ? "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                              "Sec-WebSocket-Version: 13\r\n"
                                            : "");
    return raw_write(v, req, (size_t)n, deadline);
}

/* ---- the API ---------------------------------------------------------------------------- */

int viewer_open(struct viewer *v, enum viewer_kind kind, uint16_t port, const char *name,
                uint64_t deadline)
{
    v->kind = kind;
    v->fd = -1;
    v->rtmp.fd = -1;
    v->ssl = NULL;
    v->closed_by_server = false;
    v->rawlen = v->flvlen = 0;
    v->stage = 0;
    int r = kind == VIEW_RTMP ? rtmp_open(v, port, name, deadline)
                              : flv_open(v, port, name, deadline);
    v->open = r != VIEW_CLOSED; /* silent: it must still play, or be closed */
    v->closed_by_server = r == VIEW_CLOSED;
    return r;
}

int viewer_video(struct viewer *v, uint8_t *mark, uint64_t deadline)
{
    if (!v->open)
        return VIEW_CLOSED;
    int r = v->kind == VIEW_RTMP ? rtmp_video(v, mark, deadline) : flv_video(v, mark, deadline);
    if (r == VIEW_CLOSED) {
        v->open = false;
        v->closed_by_server = true;
    }
    return r;
}

int viewer_until(struct viewer *v, uint8_t mark, uint64_t deadline)
{
    uint8_t got;
    int r;
    while ((r = viewer_video(v, &got, deadline)) == VIEW_GOT && got != mark)
        ;
    return r;
}

void viewer_init(struct viewer *v)
{
    memset(v, 0, sizeof *v);
    v->kind = VIEW_HTTP_FLV;
    v->fd = v->rtmp.fd = -1;
}

void viewer_close(struct viewer *v)
{
    if (v->kind == VIEW_RTMP) {
        player_close(&v->rtmp); /* closes the fd */
    } else {
        SSL_free(v->ssl);
        if (v->fd >= 0)
            close(v->fd);
    }
    v->ssl = NULL;
    v->fd = v->rtmp.fd = -1;
    v->open = false;
    ERR_clear_error();
}

long http_get(uint16_t port, const char *path, char *out, size_t cap, uint64_t deadline)
{
    int fd = dial(port, 0);
    if (fd < 0)
        return -1;
    char req[256];
    /* Connection: close, or the answer is read to a close that never comes (keep-alive). */
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    size_t got = 0;
    bool done = send(fd, req, (size_t)n, MSG_NOSIGNAL) != n;
    while (!done && got < cap - 1) {
        if (!wait_fd(fd, POLLIN, deadline)) {
            close(fd);
            return -1;
        }
        ssize_t r = read(fd, out + got, cap - 1 - got);
        done = r <= 0;
        got += r > 0 ? (size_t)r : 0;
    }
    out[got] = 0;
    close(fd);
    return (long)got;
}
