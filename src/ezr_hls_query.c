/* What a request to the LL-HLS muxer (ezr_hls.h) names: the delivery directives of a playlist
 * request's query (6.2.5) and the file a path's last component is. Both read bytes a client sent:
 * every number is bounded before it is read, and anything not exactly ours is refused. */
#include "ezr_hls_priv.h"

#include <string.h>

#include "ezr_error.h"

/* Reads the decimal digits s[0..len) into *out, at most max. canonical: no leading zero (a name
 * has one spelling, so one cache entry). */
static bool read_number(const char *s, size_t len, uint64_t max, bool canonical, uint64_t *out)
{
    if (len == 0 || (canonical && len > 1 && s[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10u)
            return false;
        v = v * 10u + d;
    }
    *out = v;
    return true;
}

static bool key_is(const char *key, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(key, name, len) == 0;
}

int ezr_hls_parse_query(const char *query, struct ezr_hls_query *out)
{
    memset(out, 0, sizeof *out);
    const char *p = query ? query : "";
    while (*p) {
        const char *end = strchr(p, '&');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        size_t klen = (size_t)((eq ? eq : end) - p);
        const char *val = eq ? eq + 1 : end;
        size_t vlen = (size_t)(end - val);
        uint64_t v;
        if (key_is(p, klen, "_HLS_msn")) {
            if (out->has_msn || !read_number(val, vlen, UINT64_MAX, false, &v))
                return EZR_EPROTO;
            out->has_msn = true;
            out->msn = v;
        } else if (key_is(p, klen, "_HLS_part")) {
            if (out->has_part || !read_number(val, vlen, UINT32_MAX, false, &v))
                return EZR_EPROTO;
            out->has_part = true;
            out->part = (uint32_t)v;
        } else if (key_is(p, klen, "_HLS_skip")) {
            out->skip = key_is(val, vlen, "YES") || key_is(val, vlen, "v2");
        }
        p = *end ? end + 1 : end;
    }
    if (out->has_part && !out->has_msn)
        return EZR_EPROTO; /* 6.2.5.2: a part without its segment is a Bad Request */
    return 0;
}

/* Skips "PREFIX-TAG-" at *s; false when the name is not one of those. */
static bool take_prefix(const char **s, const char *prefix, const char *tag)
{
    size_t n = strlen(prefix), t = strlen(tag);
    if (strncmp(*s, prefix, n) != 0 || strncmp(*s + n, tag, t) != 0 || (*s)[n + t] != '-')
        return false;
    *s += n + t + 1;
    return true;
}

/* Reads the number at s up to the first stop, which *rest then points at. */
static bool take_number(const char *s, uint64_t max, char stop, uint64_t *out, const char **rest)
{
    const char *e = strchr(s, stop);
    if (!e || !read_number(s, (size_t)(e - s), max, true, out))
        return false;
    *rest = e;
    return true;
}

struct ezr_hls_name ezr_hls_parse_name(const struct ezr_hls *h, const char *name)
{
    struct ezr_hls_name none = {.kind = EZR_HLS_NAME_NONE};
    struct ezr_hls_name n = none;
    if (!name)
        return none;
    if (strcmp(name, "index.m3u8") == 0) {
        n.kind = EZR_HLS_NAME_PLAYLIST;
        return n;
    }
    const char *s = name, *rest;
    uint64_t a, b;
    if (take_prefix(&s, "init-", h->tag)) {
        if (!take_number(s, UINT32_MAX, '.', &a, &rest) || strcmp(rest, ".mp4") != 0)
            return none;
        n.kind = EZR_HLS_NAME_INIT;
        n.index = (uint32_t)a;
    } else if (take_prefix(&s, "seg-", h->tag)) {
        if (!take_number(s, UINT64_MAX, '.', &a, &rest) || strcmp(rest, ".m4s") != 0)
            return none;
        n.kind = EZR_HLS_NAME_SEGMENT;
        n.msn = a;
    } else if (take_prefix(&s, "part-", h->tag)) {
        if (!take_number(s, UINT64_MAX, '.', &a, &rest) ||
            !take_number(rest + 1, UINT32_MAX, '.', &b, &rest) || strcmp(rest, ".m4s") != 0)
            return none;
        n.kind = EZR_HLS_NAME_PART;
        n.msn = a;
        n.index = (uint32_t)b;
    }
    return n;
}
