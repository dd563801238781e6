/* HTTP/1.x request heads and response heads; see ezr_http.h. */
#include "ezr_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ezr_error.h"

void ezr_http_parser_init(struct ezr_http_parser *p)
{
    memset(p, 0, sizeof *p);
}

static int fail(struct ezr_http_parser *p, int err, int status, const char *reason)
{
    p->error = (int8_t)err;
    p->status = (int16_t)status;
    p->reason = reason;
    return err;
}

/* RFC 9110 token characters (method and header names). */
static bool is_tchar(uint8_t ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Is token (case-insensitive) one of the comma-separated elements of v[0..len)? */
static bool list_has(const char *v, size_t len, const char *token)
{
    size_t tl = strlen(token), i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end - start == tl && strncasecmp(v + start, token, tl) == 0)
            return true;
    }
    return false;
}

static bool name_is(const char *n, size_t nl, const char *want)
{
    return strlen(want) == nl && strncasecmp(n, want, nl) == 0;
}

/* Copies v[0..len) into out (cap bytes with the NUL); false when it does not fit. */
static bool keep(char *out, size_t cap, const char *v, size_t len)
{
    if (len >= cap)
        return false;
    memcpy(out, v, len);
    out[len] = '\0';
    return true;
}

static int parse_request_line(struct ezr_http_parser *p, const char *l, size_t len,
                              struct ezr_http_request *req)
{
    size_t i = 0;
    while (i < len && is_tchar((uint8_t)l[i]))
        i++;
    if (i == 0 || i >= len || l[i] != ' ')
        return fail(p, EZR_EPROTO, 400, "malformed request line");
    req->method = i == 3 && memcmp(l, "GET", 3) == 0       ? EZR_HTTP_GET
                  : i == 4 && memcmp(l, "HEAD", 4) == 0    ? EZR_HTTP_HEAD
                  : i == 7 && memcmp(l, "OPTIONS", 7) == 0 ? EZR_HTTP_OPTIONS
                                                           : EZR_HTTP_OTHER;
    size_t t = ++i;
    while (i < len && l[i] != ' ')
        if ((uint8_t)l[i++] <= ' ' || (uint8_t)l[i - 1] == 0x7F)
            return fail(p, EZR_EPROTO, 400, "control byte in the request target");
    size_t tlen = i - t;
    if (tlen == 0 || i >= len)
        return fail(p, EZR_EPROTO, 400, "malformed request line");
    if (l[t] != '/')
        return fail(p, EZR_EPROTO, 400, "request target is not an absolute path");
    if (tlen > EZR_HTTP_MAX_TARGET)
        return fail(p, EZR_ELIMIT, 414, "request target over EZR_HTTP_MAX_TARGET");
    const char *q = memchr(l + t, '?', tlen);
    size_t plen = q ? (size_t)(q - (l + t)) : tlen;
    keep(req->path, sizeof req->path, l + t, plen);
    if (q)
        keep(req->query, sizeof req->query, q + 1, tlen - plen - 1);
    else
        req->query[0] = '\0';
    const char *v = l + i + 1;
    size_t vlen = len - i - 1;
    if (vlen != 8 || memcmp(v, "HTTP/1.", 7) != 0 || v[7] < '0' || v[7] > '9')
        return vlen >= 5 && memcmp(v, "HTTP/", 5) == 0
                   ? fail(p, EZR_EPROTO, 505, "HTTP version other than 1.x")
                   : fail(p, EZR_EPROTO, 400, "malformed HTTP version");
    req->minor_version = v[7] - '0';
    return 0;
}

static int parse_header(struct ezr_http_parser *p, const char *l, size_t len,
                        struct ezr_http_request *req)
{
    size_t nl = 0;
    while (nl < len && is_tchar((uint8_t)l[nl]))
        nl++;
    if (nl == 0 || nl >= len || l[nl] != ':')
        return fail(p, EZR_EPROTO, 400, "malformed header line");
    const char *v = l + nl + 1;
    size_t vl = len - nl - 1;
    for (size_t i = 0; i < vl; i++)
        if (((uint8_t)v[i] < ' ' && v[i] != '\t') || (uint8_t)v[i] == 0x7F)
            return fail(p, EZR_EPROTO, 400, "control byte in a header value");
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    if (name_is(l, nl, "Upgrade")) {
        req->upgrade_websocket = list_has(v, vl, "websocket");
    } else if (name_is(l, nl, "Connection")) {
        req->connection_upgrade = req->connection_upgrade || list_has(v, vl, "upgrade");
        req->connection_close = req->connection_close || list_has(v, vl, "close");
        req->connection_keep_alive = req->connection_keep_alive || list_has(v, vl, "keep-alive");
    } else if (name_is(l, nl, "Sec-WebSocket-Key")) {
        if (!keep(req->ws_key, sizeof req->ws_key, v, vl))
            req->ws_key[0] = '\0';
    } else if (name_is(l, nl, "Sec-WebSocket-Version")) {
        int ver = 0;
        for (size_t i = 0; i < vl && ver >= 0; i++)
            ver = v[i] >= '0' && v[i] <= '9' && ver < 1000 ? ver * 10 + (v[i] - '0') : -2;
        req->ws_version = vl && ver >= 0 ? ver : -2;
    } else if (name_is(l, nl, "Origin")) {
        if (!keep(req->origin, sizeof req->origin, v, vl))
            return fail(p, EZR_ELIMIT, 431, "Origin over EZR_HTTP_MAX_ORIGIN");
    } else if (name_is(l, nl, "Host")) {
        if (!keep(req->host, sizeof req->host, v, vl))
            return fail(p, EZR_ELIMIT, 431, "Host over EZR_HTTP_MAX_ORIGIN");
    } else if (name_is(l, nl, "Content-Length")) {
        for (size_t i = 0; i < vl; i++)
            if (v[i] < '0' || v[i] > '9')
                return fail(p, EZR_EPROTO, 400, "malformed Content-Length");
        if (vl == 0)
            return fail(p, EZR_EPROTO, 400, "malformed Content-Length");
        for (size_t i = 0; i < vl; i++)
            req->has_body = req->has_body || v[i] != '0';
    } else if (name_is(l, nl, "Transfer-Encoding")) {
        req->has_body = true;
    }
    return 0;
}

int ezr_http_parse(struct ezr_http_parser *p, const uint8_t *in, size_t len,
                   struct ezr_http_request *req)
{
    if (p->error)
        return p->error;
    /* Find the blank line that ends the head, resuming where the last call stopped; a bare LF
     * or CR is refused here rather than waited on. */
    size_t end = 0, limit = len < EZR_HTTP_MAX_HEAD ? len : EZR_HTTP_MAX_HEAD;
    size_t i = p->scanned;
    for (; i < limit; i++) {
        if (in[i] == '\n') {
            if (i == 0 || in[i - 1] != '\r')
                return fail(p, EZR_EPROTO, 400, "line not ended by CRLF");
            if (i >= 3 && in[i - 2] == '\n') {
                end = i + 1;
                break;
            }
        } else if (i > 0 && in[i - 1] == '\r') {
            return fail(p, EZR_EPROTO, 400, "CR not followed by LF");
        }
    }
    if (!end) {
        p->scanned = (uint32_t)i; /* below limit, at most EZR_HTTP_MAX_HEAD */
        if (len >= EZR_HTTP_MAX_HEAD)
            return fail(p, EZR_ELIMIT, 431, "request head over EZR_HTTP_MAX_HEAD");
        return EZR_EAGAIN;
    }
    memset(req, 0, sizeof *req);
    req->ws_version = -1;
    const char *s = (const char *)in;
    size_t pos = 0, nheaders = 0;
    bool first = true;
    while (pos < end - 2) {
        const char *eol = memchr(s + pos, '\r', end - pos);
        size_t ll = (size_t)(eol - (s + pos));
        if (first) {
            if (parse_request_line(p, s + pos, ll, req) < 0)
                return p->error;
            first = false;
        } else {
            if (s[pos] == ' ' || s[pos] == '\t')
                return fail(p, EZR_EPROTO, 400, "obsolete header line folding");
            if (++nheaders > EZR_HTTP_MAX_HEADERS)
                return fail(p, EZR_ELIMIT, 431, "headers over EZR_HTTP_MAX_HEADERS");
            if (parse_header(p, s + pos, ll, req) < 0)
                return p->error;
        }
        pos += ll + 2;
    }
    if (first)
        return fail(p, EZR_EPROTO, 400, "empty request");
    if (req->minor_version >= 1 && !req->host[0])
        return fail(p, EZR_EPROTO, 400, "HTTP/1.1 request without Host");
    return (int)end;
}

const char *ezr_http_status_text(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 414:
        return "URI Too Long";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}

void ezr_http_put_status(struct ezr_buf *b, int status)
{
    char line[64];
    int n = snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, ezr_http_status_text(status));
    ezr_buf_append(b, line, (size_t)n);
}

void ezr_http_put_header(struct ezr_buf *b, const char *name, const char *value)
{
    ezr_buf_append(b, name, strlen(name));
    ezr_buf_append(b, ": ", 2);
    ezr_buf_append(b, value, strlen(value));
    ezr_buf_append(b, "\r\n", 2);
}

void ezr_http_end_head(struct ezr_buf *b)
{
    ezr_buf_append(b, "\r\n", 2);
}

static int hex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

int ezr_http_unescape(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int ch = (uint8_t)s[i];
        if (ch == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = hi * 16 + lo;
            if (ch == '/')
                return -1;
            i += 2;
        }
        if (ch < ' ' || ch == 0x7F || n + 1 >= cap)
            return -1;
        out[n++] = (char)ch;
    }
    if (n >= cap)
        return -1;
    out[n] = '\0';
    return (int)n;
}
