/* The sweep's LL-HLS viewer (see sweep.h): one keep-alive connection that asks for playlists,
 * init segments, parts and segments, several at once (pipelined), and reads the answers in order,
 * each taken only once it is whole, so that a wait that ends early loses nothing and can go on
 * later. Like the other players it tells a close by the server from silence. Also the media of an
 * HLS stream: the real codec headers of hls_fixture.h and frames with FLV's body layout. */
#include "sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ezr_error.h"
#include "hls_fixture.h"

void hls_viewer_init(struct hls_viewer *v)
{
    v->fd = -1;
    v->open = v->closed_by_server = false;
    v->outlen = v->nasked = v->nanswered = v->rawlen = 0;
}

int hls_viewer_open(struct hls_viewer *v, uint16_t port)
{
    hls_viewer_init(v);
    v->fd = dial(port, 0);
    if (v->fd < 0)
        return VIEW_CLOSED;
    int one = 1; /* each request goes out at once (no 40 ms for a delayed acknowledgement) */
    setsockopt(v->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(v->fd, F_SETFL, fcntl(v->fd, F_GETFL) | O_NONBLOCK);
    v->open = true;
    return VIEW_GOT;
}

void hls_viewer_ask(struct hls_viewer *v, const char *path, const char *box, const char *part,
                    bool chunked)
{
    if (v->nasked == HLS_MAX_ASKED)
        return;
    struct hls_expect *e = &v->asked[v->nasked++];
    snprintf(e->path, sizeof e->path, "%s", path);
    e->box = box;
    snprintf(e->part, sizeof e->part, "%s", part ? part : "");
    e->chunked = chunked;
    int n = snprintf(v->out + v->outlen, sizeof v->out - v->outlen,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (n > 0 && (size_t)n < sizeof v->out - v->outlen)
        v->outlen += (size_t)n;
}

int hls_viewer_send(struct hls_viewer *v)
{
    size_t n = v->outlen;
    v->outlen = 0;
    if (!v->open)
        return VIEW_CLOSED;
    if (send(v->fd, v->out, n, MSG_NOSIGNAL) == (ssize_t)n)
        return VIEW_GOT;
    v->open = false; /* a refused write: the server closed it */
    v->closed_by_server = true;
    return VIEW_CLOSED;
}

/* ---- answers ---------------------------------------------------------------------------- */

static void header(const char *head, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n"))
        if (strncasecmp(l + 2, name, nl) == 0 && l[2 + nl] == ':') {
            const char *s = l + 3 + nl;
            s += strspn(s, " ");
            snprintf(out, cap, "%.*s", (int)strcspn(s, "\r"), s);
            return;
        }
}

/* Keeps the body's first bytes, NUL-terminated (a playlist is read as text). */
static void add_body(struct hls_answer *a, const uint8_t *p, size_t n)
{
    size_t kept = a->body_len < sizeof a->body - 1 ? a->body_len : sizeof a->body - 1;
    size_t room = sizeof a->body - 1 - kept;
    memcpy(a->body + kept, p, n < room ? n : room);
    a->body[kept + (n < room ? n : room)] = 0;
    a->body_len += n;
}

/* The answer at the start of raw[0..len) as far as it came (a->status 0 until its head is in).
 * Returns its length once it is whole, 0 before, -1 when it is not an HTTP answer. */
static long parse(const uint8_t *raw, size_t len, struct hls_answer *a)
{
    memset(a, 0, offsetof(struct hls_answer, body));
    a->body[0] = 0;
    a->body_len = 0;
    a->length = -1;
    const uint8_t *end = memmem(raw, len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t at = (size_t)(end - raw) + 4;
    char head[4096], v[64];
    snprintf(head, sizeof head, "%.*s", (int)(at < sizeof head ? at : sizeof head - 1), raw);
    if (sscanf(head, "HTTP/1.1 %d", &a->status) != 1)
        return -1;
    header(head, "Content-Type", a->type, sizeof a->type);
    header(head, "Content-Length", v, sizeof v);
    a->length = v[0] ? atoll(v) : -1;
    header(head, "Transfer-Encoding", v, sizeof v);
    a->chunked = strcasecmp(v, "chunked") == 0;
    if (!a->chunked) {
        size_t want = a->length > 0 ? (size_t)a->length : 0;
        add_body(a, raw + at, len - at < want ? len - at : want);
        return len - at < want ? 0 : (long)(at + want);
    }
    for (;;) {
        const uint8_t *nl = memmem(raw + at, len - at, "\r\n", 2);
        if (!nl)
            return 0;
        char line[24];
        size_t ll = (size_t)(nl - (raw + at));
        snprintf(line, sizeof line, "%.*s", (int)(ll < sizeof line ? ll : sizeof line - 1),
                 raw + at);
        size_t size = strtoul(line, NULL, 16);
        if (len - at < ll + 2 + size + 2)
            return 0;
        if (memcmp(raw + at + ll + 2 + size, "\r\n", 2) != 0)
            return -1;
        if (size == 0)
            return (long)(at + ll + 4);
        add_body(a, raw + at + ll + 2, size);
        a->chunks++;
        at += ll + 2 + size + 2;
    }
}

/* Reads what came: VIEW_GOT some bytes, VIEW_CLOSED, VIEW_TIMEOUT. */
static int read_more(struct hls_viewer *v, uint64_t deadline)
{
    if (!v->open)
        return VIEW_CLOSED;
    if (v->rawlen == sizeof v->raw)
        return VIEW_TIMEOUT; /* an answer larger than the test's buffer: its own failure */
    for (;;) {
        ssize_t n = read(v->fd, v->raw + v->rawlen, sizeof v->raw - v->rawlen);
        if (n > 0) {
            v->rawlen += (size_t)n;
            return VIEW_GOT;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            v->open = false;
            v->closed_by_server = true; /* EOF or reset */
            return VIEW_CLOSED;
        }
        uint64_t now = mono_ms();
        struct pollfd p = {v->fd, POLLIN, 0};
        if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
            return VIEW_TIMEOUT;
    }
}

int hls_viewer_started(struct hls_viewer *v, size_t chunks, uint64_t deadline)
{
    for (;;) {
        long n = parse(v->raw, v->rawlen, &v->last);
        if (n != 0 || (v->last.status && v->last.chunks >= chunks))
            return VIEW_GOT;
        int r = read_more(v, deadline);
        if (r != VIEW_GOT)
            return r;
    }
}

/* Whether a playlist lists part as an EXT-X-PART (its preload hint may name it too, before). */
static bool lists_part(const char *body, size_t n, const char *part)
{
    for (const char *l = body; l < body + n;) {
        const char *nl = memchr(l, '\n', (size_t)(body + n - l));
        size_t ll = nl ? (size_t)(nl - l) : (size_t)(body + n - l);
        if (ll > 12 && strncmp(l, "#EXT-X-PART:", 12) == 0 && memmem(l, ll, part, strlen(part)))
            return true;
        if (!nl)
            break;
        l = nl + 1;
    }
    return false;
}

/* Whether a (answering e) is what was asked for; why says how not. */
static bool check(const struct hls_answer *a, const struct hls_expect *e, char *why, size_t cap)
{
    const char *type = e->box ? "video/mp4" : "application/vnd.apple.mpegurl";
    const char *body = (const char *)a->body;
    size_t n = a->body_len < sizeof a->body ? a->body_len : sizeof a->body;
    bool ok = a->status == 200 && strcmp(a->type, type) == 0 && a->chunked == e->chunked &&
              (a->chunked || a->length == (long long)a->body_len);
    if (ok && e->box)
        ok = n >= 8 && memcmp(a->body + 4, e->box, 4) == 0;
    else if (ok)
        ok = n >= 7 && memcmp(body, "#EXTM3U", 7) == 0 &&
             (lists_part(body, n, e->part) || /* a multivariant playlist: variants, no parts */
              (!e->part[0] && memmem(body, n, "\n#EXT-X-STREAM-INF:", 19)));
    if (!ok && a->status == 200 && e->part[0] && n >= 7 && memcmp(body, "#EXTM3U", 7) == 0)
        snprintf(why, cap,
                 "HLS %s: a blocking reload answered with a playlist that does not list "
                 "the part it waits for (%s)",
                 e->path, e->part);
    else if (!ok)
        snprintf(why, cap, "HLS %s answered %d \"%s\"%s, %zu bytes: not as asked (%s)", e->path,
                 a->status, a->type, a->chunked ? " chunked" : "", a->body_len,
                 e->box ? e->box : "a playlist");
    return ok;
}

bool hls_viewer_collect(struct hls_viewer *v, uint64_t deadline, char *why, size_t cap)
{
    while (v->nanswered < v->nasked) {
        long n = parse(v->raw, v->rawlen, &v->last);
        if (n < 0) {
            snprintf(why, cap, "HLS %s: not an HTTP answer", v->asked[v->nanswered].path);
            return false;
        }
        if (n > 0) {
            memmove(v->raw, v->raw + n, v->rawlen - (size_t)n);
            v->rawlen -= (size_t)n;
            if (!check(&v->last, &v->asked[v->nanswered++], why, cap))
                return false;
            continue;
        }
        if (read_more(v, deadline) != VIEW_GOT)
            return true;
    }
    return true;
}

void hls_viewer_close(struct hls_viewer *v)
{
    if (v->fd >= 0)
        close(v->fd);
    v->fd = -1;
    v->open = false;
}

/* ---- playlists -------------------------------------------------------------------------- */

bool hls_uri(const char *text, const char *marker, char *out, size_t cap)
{
    const char *p = NULL;
    for (const char *s = strstr(text, marker); s; s = strstr(s + 1, marker))
        p = s;
    if (!p)
        return false;
    /* URI="..." on the tag's line, or the line after it (a segment after its EXTINF). */
    const char *eol = p + strcspn(p, "\n"), *uri = strstr(p, "URI=\"");
    if (uri && uri < eol)
        p = uri + 5;
    else if (*eol)
        p = eol + 1;
    else
        return false;
    int n = snprintf(out, cap, "/live/stream/%.*s", (int)strcspn(p, "\"\r\n"), p);
    return n > 0 && (size_t)n < cap;
}

bool hls_hint(const char *text, char *uri, size_t cap, unsigned long long *msn, unsigned *index)
{
    if (!hls_uri(text, "#EXT-X-PRELOAD-HINT:", uri, cap))
        return false;
    const char *dash = strrchr(uri, '-');
    return dash && sscanf(dash + 1, "%llu.%u.m4s", msn, index) == 2;
}

/* ---- media ------------------------------------------------------------------------------ */

int hls_push_headers(struct ezr_stream *st)
{
    int v = LIB(ezr_stream_push(st, EZR_FRAME_VIDEO, EZR_FRAME_HEADER, 0, hls_avc_header,
                                sizeof hls_avc_header));
    int a = LIB(ezr_stream_push(st, EZR_FRAME_AUDIO, EZR_FRAME_HEADER, 0, hls_aac_header,
                                sizeof hls_aac_header));
    return v < 0 ? v : a;
}

int hls_push_media(struct ezr_stream *st, uint32_t from, uint32_t to)
{
    uint32_t v = (from * 30u + 999u) / 1000u;
    uint32_t a = (from + 22u) / 23u;
    int first = 0;
    for (;;) {
        uint32_t vt = v * 1000u / 30u, at = a * 23u;
        if (vt >= to && at >= to)
            break;
        uint8_t body[9 + 200];
        int rc;
        if (vt <= at) {
            /* An AVC NALU packet: the 5-byte header (composition time 0), one NAL unit. */
            bool key = v % 30 == 0;
            memset(body, key ? 0x65 : 0x41, sizeof body);
            memcpy(body, (uint8_t[]){key ? 0x17 : 0x27, 1, 0, 0, 0, 0, 0, 0, 200}, 9);
            rc = LIB(ezr_stream_push(st, EZR_FRAME_VIDEO, key ? EZR_FRAME_KEY : 0, vt, body,
                                     sizeof body));
            v++;
        } else {
            memset(body, (int)a, 34);
            body[0] = 0xaf;
            body[1] = 1; /* an AAC raw frame */
            rc = LIB(ezr_stream_push(st, EZR_FRAME_AUDIO, 0, at, body, 34));
            a++;
        }
        if (rc < 0 && !first)
            first = rc;
    }
    return first;
}
