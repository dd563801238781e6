/* CIDR lists and play tokens; see ezr_acl.h. */
#include "ezr_acl.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ezr_error.h"

/* Copies the address part of "a.b.c.d", "a.b.c.d:port", "v6", "[v6]" or "[v6]:port" into ip.
 * A bare address with two colons or more is IPv6 as a whole: "::1:4307" is an address, not
 * "::1" and a port, which is why peers are written with brackets. Returns false when the form
 * is none of these (an unclosed bracket, a port that is not 1 to 5 digits). */
static bool split_address(const char *s, char *ip, size_t cap)
{
    const char *start = s, *end, *port = NULL;
    if (*s == '[') {
        start = s + 1;
        end = strchr(start, ']');
        if (!end)
            return false;
        if (end[1] == ':')
            port = end + 2;
        else if (end[1])
            return false;
    } else {
        const char *colon = strchr(s, ':');
        if (colon && !strchr(colon + 1, ':')) {
            end = colon;
            port = colon + 1;
        } else {
            end = s + strlen(s);
        }
    }
    if (port) {
        size_t digits = strspn(port, "0123456789");
        if (digits == 0 || digits > 5 || port[digits])
            return false;
    }
    size_t len = (size_t)(end - start);
    if (len == 0 || len >= cap)
        return false;
    memcpy(ip, start, len);
    ip[len] = '\0';
    return true;
}

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

static int parse_one(const char *tok, struct ezr_cidr *c)
{
    char ip[64], addr[64];
    const char *slash = strchr(tok, '/');
    size_t n = slash ? (size_t)(slash - tok) : strlen(tok);
    if (n == 0 || n >= sizeof addr)
        return EZR_EINVAL;
    memcpy(addr, tok, n);
    addr[n] = '\0';
    /* "[::1]" is accepted as people write it in URLs; a port is not (ranges are addresses). */
    if (!split_address(addr, ip, sizeof ip) || (addr[0] == '[' && addr[n - 1] != ']') ||
        (addr[0] != '[' && strcmp(ip, addr) != 0))
        return EZR_EINVAL;
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
    /* IPv4 peers of a dual-stack listener are matched as IPv4 (ezr_net writes them so), so a
     * v4-mapped range (::ffff:10.0.0.0/104) becomes the IPv4 range it names. */
    if (c->family == AF_INET6 && c->prefix >= 96 &&
        memcmp(c->addr, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
        memmove(c->addr, c->addr + 12, 4);
        memset(c->addr + 4, 0, 12);
        c->family = AF_INET;
        c->prefix -= 96;
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
    if (!split_address(addr, ip, sizeof ip))
        return false;
    uint8_t a4[4], a6[16];
    bool is4 = inet_pton(AF_INET, ip, a4) == 1;
    bool is6 = !is4 && inet_pton(AF_INET6, ip, a6) == 1;
    if (is6 && memcmp(a6, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
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
