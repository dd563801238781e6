/* Renditions of one server that share an hls-group: the registry, the multivariant playlist and
 * the rendition reports; see ezr_hls_group.h. */
#include "ezr_hls_group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_error.h"

void ezr_hls_groups_init(struct ezr_hls_groups *r)
{
    ezr_list_init(&r->list);
}

struct ezr_hls_group *ezr_hls_groups_find(struct ezr_hls_groups *r, const char *app,
                                          const char *name)
{
    EZR_LIST_FOREACH_SAFE(it, nx, &r->list) {
        struct ezr_hls_group *g = EZR_CONTAINER_OF(it, struct ezr_hls_group, link);
        if (strcmp(g->app, app) == 0 && strcmp(g->name, name) == 0)
            return g;
    }
    return NULL;
}

/* ---- parked multivariant requests ------------------------------------------------------ */

static void wake_from(struct ezr_hls_group *g, uint64_t now_ms, bool all, bool gone)
{
    struct ezr_list woken;
    ezr_list_init(&woken);
    EZR_LIST_FOREACH_SAFE(it, nx, &g->waits) {
        struct ezr_hls_group_wait *w = EZR_CONTAINER_OF(it, struct ezr_hls_group_wait, link);
        if (all || now_ms >= w->deadline_ms) {
            ezr_list_remove(&w->link);
            ezr_list_push_back(&woken, &w->link);
            w->timed_out = !all;
        }
    }
    struct ezr_link *n;
    while ((n = ezr_list_pop_front(&woken))) {
        struct ezr_hls_group_wait *w = EZR_CONTAINER_OF(n, struct ezr_hls_group_wait, link);
        g->nwaits--;
        w->group = NULL;
        w->gone = gone;
        w->wake(w);
    }
}

void ezr_hls_group_park(struct ezr_hls_group *g, struct ezr_hls_group_wait *w)
{
    w->group = g;
    w->timed_out = w->gone = false;
    ezr_list_push_back(&g->waits, &w->link);
    g->nwaits++;
}

void ezr_hls_group_unpark(struct ezr_hls_group_wait *w)
{
    if (!w->group)
        return;
    ezr_list_remove(&w->link);
    w->group->nwaits--;
    w->group = NULL;
}

/* ---- membership ------------------------------------------------------------------------ */

int ezr_hls_member_prepare(struct ezr_hls_member *m, const char *app, const char *name,
                           const struct ezr_hls *hls)
{
    if (!app || !name || !*name || strchr(name, '/') || strlen(app) > EZR_MAX_NAME_LEN ||
        strlen(name) > EZR_MAX_NAME_LEN)
        return EZR_EINVAL;
    struct ezr_hls_group *g = ezr_calloc(1, sizeof *g);
    if (!g)
        return EZR_ENOMEM;
    snprintf(g->app, sizeof g->app, "%s", app);
    snprintf(g->name, sizeof g->name, "%s", name);
    ezr_list_init(&g->members);
    ezr_list_init(&g->waits);
    m->spare = g;
    m->hls = hls;
    return 0;
}

static void group_free(struct ezr_hls_group *g)
{
    ezr_frame_unref(g->playlist);
    free(g);
}

/* Something every variant line or the set of members depends on changed. */
static void variants_changed(struct ezr_hls_group *g)
{
    g->variants_version++;
    g->reports_version++;
    if (!ezr_list_empty(&g->waits))
        wake_from(g, 0, true, false);
}

void ezr_hls_member_join(struct ezr_hls_groups *r, struct ezr_hls_member *m, struct ezr_stream *st)
{
    struct ezr_hls_group *g = m->spare;
    if (!g)
        return;
    struct ezr_hls_group *found = ezr_hls_groups_find(r, g->app, g->name);
    if (found) {
        group_free(g);
        g = found;
    } else {
        ezr_list_push_back(&r->list, &g->link);
    }
    m->spare = NULL;
    m->group = g;
    m->stream = st;
    m->segments_seen = ezr_hls_segments_made(m->hls);
    ezr_list_push_back(&g->members, &m->link);
    g->nmembers++;
    variants_changed(g);
}

void ezr_hls_member_leave(struct ezr_hls_member *m)
{
    if (m->spare) {
        group_free(m->spare);
        m->spare = NULL;
    }
    struct ezr_hls_group *g = m->group;
    if (!g)
        return;
    ezr_list_remove(&m->link);
    m->group = NULL;
    if (--g->nmembers) {
        variants_changed(g);
        return;
    }
    ezr_list_remove(&g->link);
    wake_from(g, 0, true, true);
    group_free(g);
}

void ezr_hls_member_changed(struct ezr_hls_member *m)
{
    struct ezr_hls_group *g = m->group;
    if (!g)
        return;
    uint64_t made = ezr_hls_segments_made(m->hls);
    if (made != m->segments_seen) {
        m->segments_seen = made;
        variants_changed(g);
    } else {
        g->reports_version++;
    }
}

uint64_t ezr_hls_member_reports_version(const struct ezr_hls_member *m)
{
    return m->group ? m->group->reports_version : 0;
}

void ezr_hls_member_tick(struct ezr_hls_member *m, uint64_t now_ms)
{
    if (m->group && !ezr_list_empty(&m->group->waits))
        wake_from(m->group, now_ms, false, false);
}

struct ezr_hls_member *ezr_hls_group_next(struct ezr_hls_group *g, struct ezr_hls_member *m)
{
    struct ezr_link *n = m ? m->link.next : g->members.head.next;
    return n == &g->members.head ? NULL : EZR_CONTAINER_OF(n, struct ezr_hls_member, link);
}

bool ezr_hls_group_complete(const struct ezr_hls_group *g)
{
    EZR_LIST_FOREACH_SAFE(it, nx, &g->members) {
        const struct ezr_hls_member *m = EZR_CONTAINER_OF(it, struct ezr_hls_member, link);
        if (!ezr_hls_segments_made(m->hls))
            return false;
    }
    return true;
}

/* ---- rendering ------------------------------------------------------------------------- */

static void put_text(struct ezr_buf *b, const char *s)
{
    ezr_buf_append(b, s, strlen(s));
}

/* A name as one URI path segment: unreserved characters as they are, the rest %XX (RFC 3986). */
static void put_segment(struct ezr_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~", ch)) {
            ezr_buf_put_u8(b, ch);
        } else {
            char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            ezr_buf_append(b, esc, 3);
        }
    }
}

void ezr_hls_member_put_reports(const struct ezr_hls_member *m, struct ezr_buf *out)
{
    if (!m->group)
        return;
    EZR_LIST_FOREACH_SAFE(it, nx, &m->group->members) {
        const struct ezr_hls_member *o = EZR_CONTAINER_OF(it, struct ezr_hls_member, link);
        uint64_t msn;
        uint32_t part;
        if (o == m || !ezr_hls_report(o->hls, &msn, &part))
            continue;
        /* Relative to this playlist, APP/KEY/index.m3u8: the sibling's APP/KEY2/index.m3u8. */
        put_text(out, "#EXT-X-RENDITION-REPORT:URI=\"../");
        put_segment(out, ezr_stream_key(o->stream));
        char line[80];
        snprintf(line, sizeof line, "/index.m3u8\",LAST-MSN=%llu,LAST-PART=%u\n",
                 (unsigned long long)msn, part);
        put_text(out, line);
    }
}

static void put_variant(struct ezr_buf *b, const struct ezr_hls_member *m,
                        const struct ezr_hls_variant *v, const char *query)
{
    char line[200];
    snprintf(line, sizeof line,
             "#EXT-X-STREAM-INF:BANDWIDTH=%llu,AVERAGE-BANDWIDTH=%llu,CODECS=\"%s\"",
             (unsigned long long)v->bandwidth, (unsigned long long)v->average_bandwidth, v->codecs);
    put_text(b, line);
    if (v->width && v->height) {
        snprintf(line, sizeof line, ",RESOLUTION=%ux%u", v->width, v->height);
        put_text(b, line);
    }
    if (v->frame_rate_milli) {
        snprintf(line, sizeof line, ",FRAME-RATE=%u.%03u", v->frame_rate_milli / 1000u,
                 v->frame_rate_milli % 1000u);
        put_text(b, line);
    }
    put_text(b, "\n");
    put_segment(b, ezr_stream_key(m->stream));
    put_text(b, "/index.m3u8");
    if (*query) {
        put_text(b, "?");
        put_text(b, query);
    }
    put_text(b, "\n");
}

struct ezr_frame *ezr_hls_group_playlist(struct ezr_hls_group *g, const char *query, bool *owned,
                                         bool *failed)
{
    *owned = *failed = false;
    bool shared = !query || !*query;
    if (shared && g->playlist && g->rendered_version == g->variants_version)
        return g->playlist;
    struct ezr_buf b;
    ezr_buf_init(&b);
    /* Every segment starts with a keyframe (ezr_hls.h). */
    put_text(&b, "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    size_t listed = 0;
    EZR_LIST_FOREACH_SAFE(it, nx, &g->members) {
        const struct ezr_hls_member *m = EZR_CONTAINER_OF(it, struct ezr_hls_member, link);
        struct ezr_hls_variant v;
        if (ezr_hls_variant(m->hls, &v) < 0)
            continue; /* no segment yet: nothing to say of it */
        put_variant(&b, m, &v, shared ? "" : query);
        listed++;
    }
    if (!listed || ezr_buf_failed(&b)) {
        *failed = ezr_buf_failed(&b);
        ezr_buf_free(&b);
        return NULL;
    }
    size_t len;
    uint8_t *bytes = ezr_buf_steal(&b, &len);
    struct ezr_frame *f = ezr_frame_new_bytes(bytes, len);
    if (!f) {
        *failed = true;
        return NULL;
    }
    if (!shared) {
        *owned = true;
        return f;
    }
    ezr_frame_unref(g->playlist);
    g->playlist = f;
    g->rendered_version = g->variants_version;
    return f;
}
