/* The tests' HTTP client; see http_test_client.h. */
#include "http_test_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "rtmp_test_player.h"

bool http_client_open(struct http_client *h, uint16_t port)
{
    h->len = 0;
    h->fd = dial(port, 0);
    return h->fd >= 0;
}

void http_client_close(struct http_client *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
}

bool http_client_send(struct http_client *h, const char *text)
{
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t w = write(h->fd, text + off, n - off);
        if (w <= 0)
            return false;
        off += (size_t)w;
    }
    return true;
}

bool http_client_get(struct http_client *h, const char *path)
{
    char req[1200];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    return http_client_send(h, req);
}

size_t http_client_pending(const struct http_client *h)
{
    return h->len;
}

/* Reads more into buf before the deadline: false on timeout, close or a full buffer. */
static bool fill(struct http_client *h, uint64_t deadline)
{
    if (h->len == sizeof h->buf)
        return false;
    for (;;) {
        uint64_t now = mono_ms();
        if (now >= deadline)
            return false;
        struct pollfd p = {.fd = h->fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(deadline - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        ssize_t n = read(h->fd, h->buf + h->len, sizeof h->buf - h->len);
        if (n <= 0)
            return false;
        h->len += (size_t)n;
        return true;
    }
}

static void take(struct http_client *h, size_t n)
{
    memmove(h->buf, h->buf + n, h->len - n);
    h->len -= n;
}

/* The index just past the first "\r\n" (or "\r\n\r\n") in buf, 0 when it is not there yet. */
static size_t find(const struct http_client *h, const char *end)
{
    size_t el = strlen(end);
    for (size_t i = 0; i + el <= h->len; i++)
        if (memcmp(h->buf + i, end, el) == 0)
            return i + el;
    return 0;
}

static void header_value(const char *head, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        const char *line = l + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r");
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
    }
}

static bool append_body(struct http_answer *a, const uint8_t *p, size_t n)
{
    uint8_t *b = realloc(a->body, a->body_len + n + 1);
    if (!b)
        return false;
    memcpy(b + a->body_len, p, n);
    a->body = b;
    a->body_len += n;
    a->body[a->body_len] = 0;
    return true;
}

int http_client_head(struct http_client *h, struct http_answer *a, uint64_t deadline)
{
    memset(a, 0, sizeof *a);
    a->content_length = -1;
    size_t end;
    while (!(end = find(h, "\r\n\r\n")))
        if (!fill(h, deadline))
            return -1;
    char head[4096];
    size_t n = end < sizeof head ? end : sizeof head - 1;
    memcpy(head, h->buf, n);
    head[n] = '\0';
    take(h, end);
    if (sscanf(head, "HTTP/1.1 %d", &a->status) != 1)
        return -1;
    char v[64];
    header_value(head, "Content-Type", a->content_type, sizeof a->content_type);
    header_value(head, "Cache-Control", a->cache_control, sizeof a->cache_control);
    header_value(head, "Connection", a->connection, sizeof a->connection);
    header_value(head, "Content-Length", v, sizeof v);
    if (v[0])
        a->content_length = atoll(v);
    header_value(head, "Transfer-Encoding", v, sizeof v);
    a->chunked = strcasecmp(v, "chunked") == 0;
    return append_body(a, (const uint8_t *)"", 0) ? 0 : -1;
}

int http_client_chunk(struct http_client *h, struct http_answer *a, uint64_t deadline)
{
    size_t line;
    while (!(line = find(h, "\r\n")))
        if (!fill(h, deadline))
            return -1;
    size_t size = strtoul((const char *)h->buf, NULL, 16);
    while (h->len < line + size + 2)
        if (!fill(h, deadline))
            return -1;
    if (memcmp(h->buf + line + size, "\r\n", 2) != 0 || !append_body(a, h->buf + line, size))
        return -1;
    take(h, line + size + 2);
    if (size == 0)
        return 0;
    a->chunks++;
    return 1;
}

int http_client_answer(struct http_client *h, struct http_answer *a, uint64_t deadline)
{
    if (http_client_head(h, a, deadline) < 0)
        return -1;
    if (a->chunked) {
        int r;
        while ((r = http_client_chunk(h, a, deadline)) == 1)
            ;
        return r;
    }
    size_t want = a->content_length > 0 ? (size_t)a->content_length : 0;
    while (want) {
        if (h->len == 0 && !fill(h, deadline))
            return -1;
        size_t n = h->len < want ? h->len : want;
        if (!append_body(a, h->buf, n))
            return -1;
        take(h, n);
        want -= n;
    }
    return 0;
}

void http_answer_free(struct http_answer *a)
{
    free(a->body);
    a->body = NULL;
}
