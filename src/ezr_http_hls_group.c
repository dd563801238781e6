/* The multivariant playlist of an hls-group, a route of the HTTP front door reached through the
 * LL-HLS route (ezr_http_hls.c) for a path of two components:
 *
 *   /APP/GROUP.m3u8   a variant line for each rendition of GROUP (ezr_hls_group.h)
 *
 * Until every rendition has made a segment (what BANDWIDTH is measured over), the request waits,
 * parked on the group as a blocked playlist reload is on its stream, at most
 * EZR_HLS_FIRST_PLAYLIST_WAIT_MS; then it lists the renditions that have one (503 if none).
 *
 * Admission: every rendition must admit the request (allowed-clients, and play-token through the
 * query, which each variant URI then carries on: a player asks for the media playlists with it).
 * The answer is shared bytes, rendered once per change of the group's variants (per request when
 * it has a query); it counts in no stream's stats: it belongs to none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_clock.h"
#include "ezr_error.h"
#include "ezr_hls_group.h"
#include "ezr_http_conn.h"
#include "ezr_limits.h"
#include "ezr_server_priv.h"

static int answer(struct ezr_client *c, struct ezr_hls_group *g, const char *query)
{
    bool owned, failed;
    struct ezr_frame *f = ezr_hls_group_playlist(g, query, &owned, &failed);
    if (!f)
        return failed ? EZR_ENOMEM
                      : ezr_http_answer_error(c, 503, "no rendition of the group has a segment yet",
                                              "not started");
    struct ezr_buf b;
    char len[24];
    snprintf(len, sizeof len, "%zu", f->payload_len);
    ezr_buf_init(&b);
    ezr_http_put_status(&b, 200);
    ezr_http_put_header(&b, "Content-Type", "application/vnd.apple.mpegurl");
    ezr_http_put_header(&b, "Content-Length", len);
    /* Its bandwidths follow the stream: a cache keeps it no longer than a media playlist. */
    ezr_http_put_header(&b, "Cache-Control", "no-cache");
    ezr_http_put_common(c, &b);
    ezr_http_end_head(&b);
    int rc = ezr_http_send_buf(c, &b);
    if (rc == 0 && !ezr_http_conn_of(c)->head_only)
        ezr_client_send_ref(c, f, f->data, f->payload_len);
    if (owned)
        ezr_frame_unref(f);
    return rc < 0 ? rc : EZR_HTTP_NEXT;
}

/* The request is answered or the connection closes: the union is wait's again, empty (an HLS
 * request sets its ops; closing finds it parked nowhere). */
_Static_assert(sizeof(struct ezr_hls_waiter) >= sizeof(((struct ezr_http_conn *)0)->group),
               "zeroing wait zeroes the whole union");
static void forget_query(struct ezr_http_conn *h)
{
    free(h->group.query);
    h->wait = (struct ezr_hls_waiter){0};
    h->group_waiting = false;
}

static void woken(struct ezr_hls_group_wait *w)
{
    struct ezr_http_conn *h = EZR_CONTAINER_OF(w, struct ezr_http_conn, group.wait);
    struct ezr_client *c = h->client;
    struct ezr_hls_group *g = h->group.of;
    if (w->gone) {
        forget_query(h);
        if (ezr_http_answer_error(c, 404, "the group's renditions were removed", NULL) ==
            EZR_ENOMEM)
            ezr_client_fail(c);
        ezr_client_close_after_flush(c, EZR_CLOSE_SERVER);
        return;
    }
    if (!w->timed_out && !ezr_hls_group_complete(g)) {
        ezr_hls_group_park(g, w);
        return;
    }
    int rc = answer(c, g, h->group.query ? h->group.query : "");
    forget_query(h);
    if (rc == EZR_ENOMEM)
        ezr_client_fail(c);
    else if (rc == EZR_ECLOSED)
        ezr_client_close_after_flush(c, EZR_CLOSE_SERVER);
    else
        ezr_http_answered(c);
}

/* Every rendition admits the request (allowed-clients, play-token in the query). */
static bool admitted(struct ezr_client *c, struct ezr_hls_group *g, const char *query)
{
    char name[EZR_MAX_NAME_LEN + 2 + EZR_HTTP_MAX_TARGET];
    for (struct ezr_hls_member *m = ezr_hls_group_next(g, NULL); m; m = ezr_hls_group_next(g, m)) {
        snprintf(name, sizeof name, "%s%s%s", ezr_stream_key(m->stream), *query ? "?" : "", query);
        if (ezr_stream_admit(m->stream, c, name) < 0)
            return false;
    }
    return true;
}

int ezr_http_hls_group_answer(struct ezr_client *c, const struct ezr_http_request *req)
{
    /* /APP/GROUP.m3u8: the caller saw exactly two components. */
    const char *path = req->path, *last = strrchr(path, '/');
    size_t name_len = strlen(last + 1);
    const size_t ext = sizeof ".m3u8" - 1;
    char app[EZR_MAX_NAME_LEN + 1], name[EZR_MAX_NAME_LEN + 1];
    if (last == path || name_len <= ext || strcmp(last + 1 + name_len - ext, ".m3u8") != 0)
        return ezr_http_answer_error(c, 404, "no such HLS group", NULL);
    if (ezr_http_unescape(path + 1, (size_t)(last - path) - 1, app, sizeof app) < 0 ||
        ezr_http_unescape(last + 1, name_len - ext, name, sizeof name) < 0)
        return ezr_http_answer_error(c, 400, "bad escape in the request path", NULL);
    struct ezr_hls_group *g = ezr_hls_groups_find(&c->set->srv->hls_groups, app, name);
    if (!g || !c->set->srv->http || req->upgrade_websocket)
        return ezr_http_answer_error(c, 404, "no such HLS group", NULL);
    if (!admitted(c, g, req->query))
        return ezr_http_answer_error(c, 403, "refused by allowed-clients or play-token", NULL);
    if (ezr_hls_group_complete(g))
        return answer(c, g, req->query);
    struct ezr_http_conn *h = ezr_http_conn_of(c);
    /* The union is group's from here until forget_query (closing calls it too). */
    h->group_waiting = true;
    h->group.wait = (struct ezr_hls_group_wait){.wake = woken};
    h->group.of = g;
    h->group.query = NULL;
    if (req->query[0] && !(h->group.query = ezr_strdup(req->query)))
        return EZR_ENOMEM;
    h->group.wait.deadline_ms = ezr_now_ms() + EZR_HLS_FIRST_PLAYLIST_WAIT_MS;
    c->idle_since_ms = h->group.wait.deadline_ms;
    ezr_hls_group_park(g, &h->group.wait);
    return EZR_HTTP_WAITING;
}

void ezr_http_hls_group_close(struct ezr_client *c)
{
    struct ezr_http_conn *h = ezr_http_conn_of(c);
    if (!h->group_waiting)
        return;
    ezr_hls_group_unpark(&h->group.wait);
    forget_query(h);
}
