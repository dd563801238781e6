/* CIDR lists and play tokens; see ezr_acl.h. */
#include "ezr_acl.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ezr_error.h"

static int parse_one(const char *tok, struct ezr_cidr *c)
{
    char ip[64];
    const char *slash = strchr(tok, '/');
    size_t n = slash ? (size_t)(slash - tok) : strlen(tok);
    if (n == 0 || n >= sizeof ip)
        return EZR_EINVAL;
    memcpy(ip, tok, n);
    ip[n] = '\0';
    memset(c, 0, sizeof *c);
    if (inet_pton(AF_INET, ip, c->addr) == 1) {
        c->family = AF_INET;
        c->prefix = 32;
    } else if (inet_pton(AF_INET6, ip, c->addr) == 1) {
        c->family = AF_INET6;
        c->prefix = 128;
    } else {
        return EZR_EINVAL;
    }
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || p < 0 || p > (long)c->prefix)
            return EZR_EINVAL;
        c->prefix = (unsigned)p;
    }
    return 0;
}

int ezr_acl_parse(const char *list, struct ezr_cidr *out, size_t cap)
{
    size_t n = 0;
    const char *p = list ? list : "";
    while (*p) {
        size_t skip = strspn(p, ", \t");
        p += skip;
        size_t len = strcspn(p, ", \t");
        if (!len)
            break;
        char tok[80];
        if (len >= sizeof tok || n == cap)
            return EZR_EINVAL;
        memcpy(tok, p, len);
        tok[len] = '\0';
        if (parse_one(tok, &out[n]) < 0)
            return EZR_EINVAL;
        n++;
        p += len;
    }
    return (int)n;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, bytes) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

bool ezr_acl_allows(const struct ezr_cidr *ranges, size_t n, const char *addr)
{
    char ip[64];
    const char *start = addr, *end;
    if (*addr == '[') {
        start = addr + 1;
        end = strchr(start, ']');
    } else {
        /* "a.b.c.d:port" has one colon; a bare IPv6 address has several. */
        end = strrchr(addr, ':');
        if (end && strchr(addr, ':') != end)
            end = NULL;
    }
    size_t len = end ? (size_t)(end - start) : strlen(start);
    if (len >= sizeof ip)
        return false;
    memcpy(ip, start, len);
    ip[len] = '\0';
    uint8_t a4[4], a6[16];
    bool is4 = inet_pton(AF_INET, ip, a4) == 1;
    bool is6 = !is4 && inet_pton(AF_INET6, ip, a6) == 1;
    if (is6 && IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a6)) {
        memcpy(a4, a6 + 12, 4);
        is4 = true;
    }
    for (size_t i = 0; i < n; i++) {
        if (ranges[i].family == AF_INET && is4 && prefix_match(ranges[i].addr, a4, ranges[i].prefix))
            return true;
        if (ranges[i].family == AF_INET6 && is6 &&
            prefix_match(ranges[i].addr, a6, ranges[i].prefix))
            return true;
    }
    return false;
}

bool ezr_acl_query_value(const char *name, const char *key, char *out, size_t cap)
{
    const char *q = strchr(name, '?');
    size_t klen = strlen(key);
    while (q) {
        q++;
        if (strncmp(q, key, klen) == 0 && q[klen] == '=') {
            const char *v = q + klen + 1;
            size_t vlen = strcspn(v, "&");
            if (vlen >= cap)
                vlen = cap - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return true;
        }
        q = strchr(q, '&');
    }
    return false;
}

bool ezr_acl_token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = (unsigned)(la ^ lb);
    /* Walk the expected token's length whatever the given one is. */
    for (size_t i = 0; i < lb; i++)
        diff |= (unsigned)((i < la ? (unsigned char)a[i] : 0) ^ (unsigned char)b[i]);
    return diff == 0;
}
