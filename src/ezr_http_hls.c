/* LL-HLS, a route of the HTTP front door (ezr_proto_http.c), for a stream served with hls on:
 *
 *   /APP/KEY/index.m3u8[?_HLS_msn=M[&_HLS_part=P]][&_HLS_skip=YES]   the media playlist
 *   /APP/KEY/init-TAG-ID.mp4                                          an init segment
 *   /APP/KEY/seg-TAG-MSN.m4s                                          a segment
 *   /APP/KEY/part-TAG-MSN.INDEX.m4s                                   a part
 *
 * Every body is the shared bytes the stream's HLS output made once (ezr_hls_out.h), queued by
 * reference: a playlist version, an init segment, and for a part or segment the CMAF view and
 * sample slice of each of its frames. Only the head is per request.
 *
 * A blocking playlist request whose part is not made yet, and a request for the part the
 * playlist hints at, are parked on the output and answered when it is there: the playlist from
 * the version that first has it (shared by every request parked for it), the hinted part as it is
 * made, each frame as one chunk of a chunked body, or, for a rendition of an hls-group, whole once
 * complete (ezr_hls_out_streams_parts says why). A wait ends with 503 after three target
 * durations (6.2.5.2).
 *
 * Caching (a CDN in front): media names are unique to the stream's run and their bytes never
 * change, so they are immutable; a playlist without a blocking query expires at once; a blocking
 * answer is cacheable for a target duration, by its full URL.
 *
 * Admission: allowed-clients for every request, play-token for the playlist (?token=), whose
 * URIs carry the run's random tag that only the playlist tells. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_clock.h"
#include "ezr_error.h"
#include "ezr_hls_out.h"
#include "ezr_http_conn.h"
#include "ezr_limits.h"
#include "ezr_server_priv.h"

static struct ezr_http_conn *conn_of_wait(struct ezr_hls_waiter *w)
{
    return EZR_CONTAINER_OF(w, struct ezr_http_conn, wait);
}

/* The most a blocking request waits: three target durations. */
static uint64_t block_deadline(const struct ezr_hls *hls)
{
    uint32_t td = ezr_hls_target_duration(hls);
    return ezr_now_ms() + 3u * 1000u * (td ? td : 1u);
}

/* Queues a head; length < 0: a chunked body follows. */
static int send_head(struct ezr_client *c, const char *type, const char *cache, long long length)
{
    struct ezr_buf b;
    char len[24];
    ezr_buf_init(&b);
    ezr_http_put_status(&b, 200);
    ezr_http_put_header(&b, "Content-Type", type);
    if (length >= 0) {
        snprintf(len, sizeof len, "%lld", length);
        ezr_http_put_header(&b, "Content-Length", len);
    } else {
        ezr_http_put_header(&b, "Transfer-Encoding", "chunked");
    }
    ezr_http_put_header(&b, "Cache-Control", cache);
    ezr_http_put_common(c, &b);
    ezr_http_end_head(&b);
    size_t n = b.len;
    int rc = ezr_http_send_buf(c, &b);
    struct ezr_hls_out *o = ezr_http_conn_of(c)->viewer.out;
    if (rc == 0 && o)
        ezr_hls_out_count(o, n);
    return rc;
}

/* Queues a shared body by reference. */
static void send_ref(struct ezr_client *c, struct ezr_frame *f, const uint8_t *bytes, size_t len)
{
    ezr_client_send_ref(c, f, bytes, len);
    struct ezr_hls_out *o = ezr_http_conn_of(c)->viewer.out;
    if (o)
        ezr_hls_out_count(o, len);
}

#define IMMUTABLE "public, max-age=31536000, immutable"

/* One sample: its fragment header (the frame's CMAF view) and its bytes, inside the frame. */
typedef void send_fn(struct ezr_client *c, struct ezr_frame *f, const uint8_t *bytes, size_t len);

static void send_sample(struct ezr_client *c, const struct ezr_hls_sample *s, send_fn *send)
{
    const struct ezr_frame_view *v = &s->frame->views[EZR_VIEW_CMAF];
    send(c, s->frame, v->bytes, v->len);
    send(c, s->frame, s->frame->data + s->body_offset, s->body_len);
}

/* Queues a frame's bytes of a body already begun, as they come: media, which a flush interval in
 * ms may hold (ezr_client_send_media_ref), so that a write carries several frames. */
static void send_media_ref(struct ezr_client *c, struct ezr_frame *f, const uint8_t *bytes,
                           size_t len)
{
    ezr_client_send_media_ref(c, f, bytes, len);
    struct ezr_hls_out *o = ezr_http_conn_of(c)->viewer.out;
    if (o)
        ezr_hls_out_count(o, len);
}

/* Samples [from, p->nsamples) of a part, each as one chunk of a chunked body, its framing shared
 * like the rest (it follows the CMAF view: ezr_hls.h); as media when the head went before. */
static void send_chunks(struct ezr_client *c, const struct ezr_hls_part *p, size_t from,
                        bool media)
{
    send_fn *send = media ? send_media_ref : send_ref;
    for (size_t i = from; i < p->nsamples; i++) {
        const struct ezr_hls_sample *s = &p->samples[i];
        const struct ezr_frame_view *v = &s->frame->views[EZR_VIEW_CMAF];
        send(c, s->frame, v->bytes + v->len, EZR_HLS_CHUNK_HEAD);
        send_sample(c, s, send);
        send(c, s->frame, v->bytes + v->len + EZR_HLS_CHUNK_HEAD, EZR_HLS_CHUNK_TAIL);
    }
}

static void end_chunks(struct ezr_client *c)
{
    ezr_client_send(c, (const uint8_t *)"0\r\n\r\n", 5);
}

static int answer_bytes(struct ezr_client *c, struct ezr_frame *f, const char *type,
                        const char *cache, bool head_only)
{
    if (send_head(c, type, cache, (long long)f->payload_len) < 0)
        return EZR_ENOMEM;
    if (!head_only)
        send_ref(c, f, f->data, f->payload_len);
    return EZR_HTTP_NEXT;
}

/* Parks w; the connection's idle time counts from the end of the wait, so that a wait of three
 * target durations is not cut short by handshake-timeout. */
static void park(struct ezr_client *c, struct ezr_hls_out *o, struct ezr_hls_waiter *w)
{
    c->idle_since_ms = w->deadline_ms;
    ezr_hls_out_park(o, w);
}

/* ---- playlists ------------------------------------------------------------------------------ */

static int answer_playlist(struct ezr_client *c, struct ezr_hls_out *o,
                           const struct ezr_hls_query *q)
{
    bool failed;
    struct ezr_frame *f = ezr_hls_out_playlist(o, q->skip, &failed);
    if (!f)
        return failed ? EZR_ENOMEM
                      : ezr_http_answer_error(c, 503, "no HLS part made yet", "not started");
    char cache[48] = "no-cache";
    if (q->has_msn)
        snprintf(cache, sizeof cache, "public, max-age=%u",
                 ezr_hls_target_duration(ezr_hls_out_muxer(o)));
    return answer_bytes(c, f, "application/vnd.apple.mpegurl", cache,
                        ezr_http_conn_of(c)->head_only);
}

/* Whether the playlist can be answered now: *state READY, WAIT (parked), or TOO_FAR. EZR_ENOMEM
 * when it could not be rendered: the connection fails, as any other answer (a playlist without
 * the part asked for) would be cached as the answer to that URL. */
static int playlist_state(struct ezr_hls_out *o, const struct ezr_hls_query *q,
                          enum ezr_hls_wait *state)
{
    bool failed;
    const struct ezr_hls *hls = ezr_hls_out_muxer(o);
    if (!ezr_hls_out_playlist(o, false, &failed))
        *state = EZR_HLS_WAIT;
    else if (!q->has_msn)
        /* A player that reads whole segments only (ffmpeg) gives up on a playlist of parts: the
         * first playlist of a stream waits for its first segment. */
        *state = ezr_hls_segments_made(hls) || ezr_hls_ended(hls) ? EZR_HLS_READY : EZR_HLS_WAIT;
    else
        *state = ezr_hls_check(hls, q);
    return failed ? EZR_ENOMEM : 0;
}

static int playlist_request(struct ezr_client *c, struct ezr_hls_out *o, const char *query)
{
    struct ezr_http_conn *h = ezr_http_conn_of(c);
    struct ezr_hls_query q;
    if (ezr_hls_parse_query(query, &q) < 0) {
        const char *why = "bad _HLS_msn or _HLS_part";
        return ezr_http_answer_error(c, 400, why, why);
    }
    enum ezr_hls_wait state;
    if (playlist_state(o, &q, &state) < 0)
        return EZR_ENOMEM;
    switch (state) {
    case EZR_HLS_TOO_FAR: {
        const char *why = "_HLS_msn or _HLS_part too far ahead";
        return ezr_http_answer_error(c, 400, why, why);
    }
    case EZR_HLS_WAIT: {
        h->wait.kind = EZR_HLS_WAIT_PLAYLIST;
        h->wait.q = q;
        /* A blocking reload waits for its part; a plain request only ever waits for the stream's
         * first segment. */
        h->wait.deadline_ms = q.has_msn ? block_deadline(ezr_hls_out_muxer(o))
                                        : ezr_now_ms() + EZR_HLS_FIRST_PLAYLIST_WAIT_MS;
        park(c, o, &h->wait);
        return EZR_HTTP_WAITING;
    }
    case EZR_HLS_READY:
        break;
    }
    return answer_playlist(c, o, &q);
}

/* ---- parts and segments ------------------------------------------------------------------- */

static int answer_segment(struct ezr_client *c, const struct ezr_hls_segment *seg, bool head_only)
{
    if (send_head(c, "video/mp4", IMMUTABLE, (long long)seg->bytes) < 0)
        return EZR_ENOMEM;
    for (size_t i = 0; !head_only && i < seg->nparts; i++)
        for (size_t k = 0; k < seg->parts[i].nsamples; k++)
            send_sample(c, &seg->parts[i].samples[k], send_ref);
    return EZR_HTTP_NEXT;
}

/* A part that is made (Content-Length), or being made: its head and what it has, the rest as it
 * comes. Returns NEXT when the whole answer is queued, WAITING when more is to come. */
static int stream_part(struct ezr_client *c, struct ezr_hls_out *o, const struct ezr_hls_part *p)
{
    struct ezr_http_conn *h = ezr_http_conn_of(c);
    bool head_only = h->head_only;
    bool begun = h->wait.streaming; /* its head went out: what follows is media as it comes */
    if (!h->wait.streaming) {
        if (send_head(c, "video/mp4", IMMUTABLE, p->complete ? (long long)p->bytes : -1) < 0)
            return EZR_ENOMEM;
        h->wait.streaming = true;
        h->wait.sent = 0;
        h->wait.chunked = !p->complete;
        if (head_only) /* a HEAD answer has no body, not even a chunked one's last chunk */
            return EZR_HTTP_NEXT;
    }
    if (h->wait.chunked)
        send_chunks(c, p, h->wait.sent, begun);
    else
        for (size_t i = h->wait.sent; i < p->nsamples; i++)
            send_sample(c, &p->samples[i], send_ref);
    h->wait.sent = p->nsamples;
    if (p->complete) {
        if (h->wait.chunked)
            end_chunks(c);
        h->wait.streaming = false;
        return EZR_HTTP_NEXT;
    }
    h->wait.deadline_ms = block_deadline(ezr_hls_out_muxer(o));
    park(c, o, &h->wait);
    return EZR_HTTP_WAITING;
}

static bool is_hinted(const struct ezr_hls *hls, uint64_t msn, uint32_t index)
{
    uint64_t hm;
    uint32_t hi;
    return ezr_hls_hinted_part(hls, &hm, &hi) && hm == msn && hi == index;
}

static int part_request(struct ezr_client *c, struct ezr_hls_out *o, uint64_t msn, uint32_t index)
{
    struct ezr_http_conn *h = ezr_http_conn_of(c);
    const struct ezr_hls *hls = ezr_hls_out_muxer(o);
    h->wait.kind = EZR_HLS_WAIT_PART;
    h->wait.q = (struct ezr_hls_query){.msn = msn, .part = index, .has_msn = true, .has_part = true};
    h->wait.streaming = false;
    const struct ezr_hls_part *p = ezr_hls_part(hls, msn, index);
    if (p && (p->complete || ezr_hls_out_streams_parts(o)))
        return stream_part(c, o, p);
    if (!p && !is_hinted(hls, msn, index))
        return ezr_http_answer_error(c, 404, "no such HLS part (gone, or never made)", NULL);
    h->wait.deadline_ms = block_deadline(hls);
    park(c, o, &h->wait);
    return EZR_HTTP_WAITING;
}

/* ---- woken requests ----------------------------------------------------------------------- */

/* A parked request cannot be answered: the error, and the connection closes after it. */
static void give_up(struct ezr_client *c, int status, const char *why)
{
    struct ezr_http_conn *h = ezr_http_conn_of(c);
    if (h->wait.streaming) { /* a body is half sent: only closing says it ends here */
        c->close_reason = why;
        ezr_client_close_after_flush(c, EZR_CLOSE_SERVER);
        return;
    }
    if (ezr_http_answer_error(c, status, why, NULL) == EZR_ENOMEM)
        ezr_client_fail(c);
    ezr_client_close_after_flush(c, EZR_CLOSE_SERVER);
}

static void woken(struct ezr_hls_waiter *w)
{
    struct ezr_http_conn *h = conn_of_wait(w);
    struct ezr_client *c = h->client;
    struct ezr_hls_out *o = h->viewer.out;
    if (w->gone || !o) {
        give_up(c, 404, "the stream was removed");
        return;
    }
    const struct ezr_hls *hls = ezr_hls_out_muxer(o);
    int rc;
    if (w->kind == EZR_HLS_WAIT_PLAYLIST) {
        enum ezr_hls_wait state;
        if (playlist_state(o, &w->q, &state) < 0) {
            ezr_client_fail(c);
            return;
        }
        if (state == EZR_HLS_WAIT && !w->timed_out) {
            park(c, o, w);
            return;
        }
        if (state == EZR_HLS_WAIT) {
            give_up(c, 503, "blocking playlist reload timed out");
            return;
        }
        rc = answer_playlist(c, o, &w->q);
    } else {
        const struct ezr_hls_part *p = ezr_hls_part(hls, w->q.msn, w->q.part);
        bool ready = p && (p->complete || ezr_hls_out_streams_parts(o));
        if (!ready && !w->timed_out && !w->streaming && (p || is_hinted(hls, w->q.msn, w->q.part))) {
            park(c, o, w);
            return;
        }
        if (!p || (w->timed_out && !p->complete)) {
            give_up(c, w->timed_out ? 503 : 404, "hinted HLS part not made");
            return;
        }
        rc = stream_part(c, o, p);
        if (rc == EZR_HTTP_WAITING)
            return;
    }
    if (rc == EZR_ENOMEM) {
        ezr_client_fail(c);
        return;
    }
    if (rc == EZR_ECLOSED) {
        ezr_client_close_after_flush(c, EZR_CLOSE_SERVER);
        return;
    }
    ezr_http_answered(c);
}

static const struct ezr_hls_waiter_ops wait_ops = {.wake = woken};

/* ---- the route ------------------------------------------------------------------------------ */

/* Splits /APP/KEY/NAME; names are percent-decoded (NAME is read as it is). Returns 0 with the
 * stream (NULL: 404), or -1 for a bad escape (400). */
static int find_stream(struct ezr_client *c, const char *path, struct ezr_stream **st,
                       char *key, size_t keycap, const char **name)
{
    *st = NULL;
    const char *last = strrchr(path, '/');
    if (!last || last == path)
        return 0;
    const char *mid = last - 1;
    while (mid > path && *mid != '/')
        mid--;
    if (mid == path || mid[1] == '/' || mid == last - 1)
        return 0; /* /APP/GROUP.m3u8 (mid == path) is the group's: ezr_http_hls_answer */
    char app[EZR_MAX_NAME_LEN + 1];
    if (ezr_http_unescape(path + 1, (size_t)(mid - path) - 1, app, sizeof app) < 0 ||
        ezr_http_unescape(mid + 1, (size_t)(last - mid) - 1, key, keycap) < 0)
        return -1;
    *name = last + 1;
    *st = ezr_server_find_stream(c->set->srv, app, key, strlen(key));
    return 0;
}

int ezr_http_hls_answer(struct ezr_client *c, const struct ezr_http_request *req)
{
    struct ezr_http_conn *h = ezr_http_conn_of(c);
    char key[EZR_MAX_NAME_LEN + 1];
    const char *name = NULL;
    struct ezr_stream *st;
    const char *slash = strchr(req->path + 1, '/');
    if (slash && slash == strrchr(req->path, '/'))
        return ezr_http_hls_group_answer(c, req);
    if (find_stream(c, req->path, &st, key, sizeof key, &name) < 0)
        return ezr_http_answer_error(c, 400, "bad escape in the request path", NULL);
    struct ezr_hls_out *o = st && c->set->srv->http ? ezr_hls_out_of(st) : NULL;
    if (!o || req->upgrade_websocket)
        return ezr_http_answer_error(c, 404, "no such stream", NULL);
    const struct ezr_hls *hls = ezr_hls_out_muxer(o);
    struct ezr_hls_name n = ezr_hls_parse_name(hls, name);
    if (n.kind == EZR_HLS_NAME_NONE)
        return ezr_http_answer_error(c, 404, "no such HLS file", NULL);
    /* Admission as for RTMP (allowed-clients; the token and a sync-method only mean something
     * for the playlist, whose query carries them). */
    char admit[EZR_MAX_NAME_LEN + 2 + EZR_HTTP_MAX_TARGET];
    snprintf(admit, sizeof admit, "%s%s%s", key,
             n.kind == EZR_HLS_NAME_PLAYLIST && req->query[0] ? "?" : "",
             n.kind == EZR_HLS_NAME_PLAYLIST ? req->query : "");
    if (n.kind != EZR_HLS_NAME_PLAYLIST ? !ezr_stream_allows(st, c)
                                        : ezr_stream_admit(st, c, admit) < 0)
        return ezr_http_answer_error(c, 403, "refused by allowed-clients or play-token", NULL);
    h->wait.ops = &wait_ops;
    ezr_hls_out_join(o, &h->viewer);
    bool head_only = req->method == EZR_HTTP_HEAD;
    switch (n.kind) {
    case EZR_HLS_NAME_PLAYLIST:
        return playlist_request(c, o, req->query);
    case EZR_HLS_NAME_INIT: {
        struct ezr_frame *init = ezr_hls_init(hls, n.index);
        if (!init)
            return ezr_http_answer_error(c, 404, "no such HLS init segment", NULL);
        return answer_bytes(c, init, "video/mp4", IMMUTABLE, head_only);
    }
    case EZR_HLS_NAME_SEGMENT: {
        const struct ezr_hls_segment *seg = ezr_hls_segment(hls, n.msn);
        if (!seg || !seg->complete)
            return ezr_http_answer_error(c, 404, "no such HLS segment (gone, or not made yet)",
                                         NULL);
        return answer_segment(c, seg, head_only);
    }
    case EZR_HLS_NAME_PART:
        return part_request(c, o, n.msn, n.index);
    case EZR_HLS_NAME_NONE:
        break;
    }
    return ezr_http_answer_error(c, 404, "no such HLS file", NULL);
}

void ezr_http_hls_close(struct ezr_client *c)
{
    struct ezr_http_conn *h = ezr_http_conn_of(c);
    if (h->group_waiting)
        ezr_http_hls_group_close(c);
    else
        ezr_hls_out_unpark(h->viewer.out, &h->wait);
    ezr_hls_out_leave(&h->viewer);
}
