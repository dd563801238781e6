/* A stream's HLS output: the muxer as a subscriber, shared playlists, parked requests; see
 * ezr_hls_out.h. */
#include "ezr_hls_out.h"

#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_clock.h"
#include "ezr_error.h"

struct ezr_hls_out {
    struct ezr_stream_sub sub;
    struct ezr_hls *hls;
    const struct ezr_log *log;
    /* The playlist of version rendered_version, full and as a delta update: made by the first
     * request after a change and shared by every answer until the next. */
    struct ezr_frame *playlist[2];
    uint64_t rendered_version[2];
    /* ... and of its group's reports_version (its siblings' last parts): 0 outside a group. */
    uint64_t rendered_reports[2];
    struct ezr_hls_member member; /* in its hls-group, if any (ezr_hls_group.h) */
    /* A rendition of a group sends its parts whole once complete, a lone stream as they are
     * made (ezr_hls_out_streams_parts). */
    bool whole_parts;
    /* Parked requests, by ezr_hls_waiter.link, apart by kind: a frame wakes only those streaming
     * its part, not every blocked reload. */
    struct ezr_list waits[EZR_HLS_NWAIT_KINDS];
    struct ezr_list viewers; /* by ezr_hls_viewer.link */
    size_t nwaits, nviewers;
    uint64_t requests, bytes_sent;
};

static struct ezr_hls_out *out_of_sub(const struct ezr_stream_sub *sub)
{
    return EZR_CONTAINER_OF(sub, struct ezr_hls_out, sub);
}

/* Wakes the requests parked on list that match (NULL: all), each once (a woken request may park
 * again, at the back of a list, or another be parked from inside a wake), telling them timed_out
 * and gone. */
static void wake_from(struct ezr_hls_out *o, struct ezr_list *list,
                      bool (*match)(const struct ezr_hls_waiter *w, const void *arg),
                      const void *arg, bool timed_out, bool gone)
{
    struct ezr_list woken;
    ezr_list_init(&woken);
    EZR_LIST_FOREACH_SAFE(it, nx, list) {
        struct ezr_hls_waiter *w = EZR_CONTAINER_OF(it, struct ezr_hls_waiter, link);
        if (!match || match(w, arg)) {
            ezr_list_remove(&w->link);
            ezr_list_push_back(&woken, &w->link);
        }
    }
    struct ezr_link *n;
    while ((n = ezr_list_pop_front(&woken))) {
        struct ezr_hls_waiter *w = EZR_CONTAINER_OF(n, struct ezr_hls_waiter, link);
        o->nwaits--;
        w->timed_out = timed_out;
        w->gone = gone;
        w->ops->wake(w);
    }
}

static void wake_all(struct ezr_hls_out *o, bool gone)
{
    for (int k = 0; k < EZR_HLS_NWAIT_KINDS; k++)
        wake_from(o, &o->waits[k], NULL, NULL, false, gone);
}

/* ---- news from the muxer ------------------------------------------------------------------ */

static bool streams_part(const struct ezr_hls_waiter *w, const void *arg)
{
    const struct ezr_hls_part *p = arg;
    return w->q.msn == p->msn && w->q.part == p->index;
}

/* Only the requests streaming this very part want to hear of a sample; the rest wait for the
 * playlist (and so does every request of a rendition that sends parts whole). */
static void sample_added(void *ctx, const struct ezr_hls_part *p)
{
    struct ezr_hls_out *o = ctx;
    if (!o->whole_parts)
        wake_from(o, &o->waits[EZR_HLS_WAIT_PART], streams_part, p, false, false);
}

/* The group hears first, so that a woken request renders with current reports. A sibling's
 * part wakes nobody here: it only makes the next render include it. */
static void playlist_changed(void *ctx)
{
    struct ezr_hls_out *o = ctx;
    ezr_hls_member_changed(&o->member);
    wake_all(o, false);
}

static const struct ezr_hls_ops muxer_ops = {
    .sample_added = sample_added,
    .playlist_changed = playlist_changed,
};

/* ---- the stream's subscriber ------------------------------------------------------------- */

/* Unix time in ms of a frame pushed at pushed_us (ezr_now_us, monotonic): now, less its age. */
static uint64_t wall_ms_of(const struct ezr_frame *f)
{
    uint64_t wall = ezr_wall_ms(), now = ezr_now_us();
    if (!f->pushed_us || f->pushed_us > now)
        return wall;
    uint64_t age_ms = (now - f->pushed_us) / 1000u;
    return wall > age_ms ? wall - age_ms : wall;
}

static void on_frame(struct ezr_stream_sub *sub, struct ezr_frame *f)
{
    struct ezr_hls_out *o = out_of_sub(sub);
    if (ezr_hls_push(o->hls, f, wall_ms_of(f)) < 0)
        ezr_log(o->log, EZR_LOG_WARNING, "HLS: out of memory, a frame was not muxed");
}

static void on_interrupted(struct ezr_stream_sub *sub, bool final)
{
    (void)final; /* a stop and a flush are both a discontinuity to a player */
    ezr_hls_break(out_of_sub(sub)->hls);
}

static void on_ended(struct ezr_stream_sub *sub)
{
    ezr_hls_end(out_of_sub(sub)->hls);
}

static void on_tick(struct ezr_stream_sub *sub, uint64_t now_ms)
{
    struct ezr_hls_out *o = out_of_sub(sub);
    ezr_hls_out_tick(o, now_ms);
    ezr_hls_member_tick(&o->member, now_ms);
}

static void on_stats(const struct ezr_stream_sub *sub, struct ezr_stream_stats *out)
{
    const struct ezr_hls_out *o = out_of_sub(sub);
    out->hls_requests += o->requests;
    out->hls_bytes_sent += o->bytes_sent;
    out->hls_parts += ezr_hls_parts_made(o->hls);
    out->hls_segments += ezr_hls_segments_made(o->hls);
    out->hls_waiting += o->nwaits;
    out->clients_by_protocol[EZR_PROTOCOL_HLS] += (uint32_t)o->nviewers;
}

static void on_free(struct ezr_stream_sub *sub)
{
    struct ezr_hls_out *o = out_of_sub(sub);
    struct ezr_link *n;
    while ((n = ezr_list_pop_front(&o->viewers)))
        EZR_CONTAINER_OF(n, struct ezr_hls_viewer, link)->out = NULL;
    /* Told last: a woken request answers with what it can (nothing more of this stream). */
    wake_all(o, true);
    ezr_hls_member_leave(&o->member);
    for (int i = 0; i < 2; i++)
        ezr_frame_unref(o->playlist[i]);
    ezr_hls_free(o->hls);
    free(o);
}

static const struct ezr_stream_sub_ops sub_ops = {
    .frame = on_frame,
    .interrupted = on_interrupted,
    .ended = on_ended,
    .tick = on_tick,
    .stats = on_stats,
    .free = on_free,
};

int ezr_hls_out_new(const struct ezr_hls_config *cfg, const char *app, const char *group,
                    const struct ezr_log *log, struct ezr_hls_out **out)
{
    *out = NULL;
    struct ezr_hls_out *o = ezr_calloc(1, sizeof *o);
    if (!o)
        return EZR_ENOMEM;
    int rc = ezr_hls_new(cfg, &muxer_ops, o, &o->hls);
    if (rc < 0) {
        free(o);
        return rc;
    }
    if (group && *group && (rc = ezr_hls_member_prepare(&o->member, app, group, o->hls)) < 0) {
        ezr_hls_free(o->hls);
        free(o);
        return rc;
    }
    o->whole_parts = group && *group;
    o->sub.ops = &sub_ops;
    o->sub.protocol = EZR_PROTOCOL_HLS;
    o->log = log;
    for (int k = 0; k < EZR_HLS_NWAIT_KINDS; k++)
        ezr_list_init(&o->waits[k]);
    ezr_list_init(&o->viewers);
    *out = o;
    return 0;
}

bool ezr_hls_out_streams_parts(const struct ezr_hls_out *o)
{
    return !o->whole_parts;
}

struct ezr_stream_sub *ezr_hls_out_sub(struct ezr_hls_out *o)
{
    return &o->sub;
}

struct ezr_hls_out *ezr_hls_out_of(const struct ezr_stream *st)
{
    struct ezr_stream_sub *sub = ezr_stream_sub_of(st, EZR_PROTOCOL_HLS);
    return sub ? out_of_sub(sub) : NULL;
}

const struct ezr_hls *ezr_hls_out_muxer(const struct ezr_hls_out *o)
{
    return o->hls;
}

/* ---- what requests get -------------------------------------------------------------------- */

struct ezr_frame *ezr_hls_out_playlist(struct ezr_hls_out *o, bool skip, bool *failed)
{
    *failed = false;
    uint64_t version = ezr_hls_version(o->hls);
    uint64_t reports = ezr_hls_member_reports_version(&o->member);
    if (o->playlist[skip] && o->rendered_version[skip] == version &&
        o->rendered_reports[skip] == reports)
        return o->playlist[skip];
    struct ezr_buf b;
    ezr_buf_init(&b);
    int rc = ezr_hls_render_playlist(o->hls, skip, &b);
    if (rc == 0)
        ezr_hls_member_put_reports(&o->member, &b);
    if (rc < 0 || ezr_buf_failed(&b)) {
        ezr_buf_free(&b);
        *failed = rc != EZR_EAGAIN;
        return NULL;
    }
    size_t len;
    uint8_t *bytes = ezr_buf_steal(&b, &len);
    struct ezr_frame *f = ezr_frame_new_bytes(bytes, len);
    if (!f) {
        *failed = true;
        return NULL;
    }
    ezr_frame_unref(o->playlist[skip]);
    o->playlist[skip] = f;
    o->rendered_version[skip] = version;
    o->rendered_reports[skip] = reports;
    return f;
}

void ezr_hls_out_park(struct ezr_hls_out *o, struct ezr_hls_waiter *w)
{
    w->timed_out = w->gone = false;
    ezr_list_push_back(&o->waits[w->kind], &w->link);
    o->nwaits++;
}

void ezr_hls_out_unpark(struct ezr_hls_out *o, struct ezr_hls_waiter *w)
{
    if (!ezr_link_linked(&w->link))
        return;
    ezr_list_remove(&w->link);
    o->nwaits--;
}

static bool late(const struct ezr_hls_waiter *w, const void *arg)
{
    return *(const uint64_t *)arg >= w->deadline_ms;
}

void ezr_hls_out_tick(struct ezr_hls_out *o, uint64_t now_ms)
{
    for (int k = 0; k < EZR_HLS_NWAIT_KINDS; k++)
        wake_from(o, &o->waits[k], late, &now_ms, true, false);
}

void ezr_hls_out_join(struct ezr_hls_out *o, struct ezr_hls_viewer *v)
{
    o->requests++;
    if (v->out == o)
        return;
    ezr_hls_out_leave(v);
    v->out = o;
    ezr_list_push_back(&o->viewers, &v->link);
    o->nviewers++;
}

void ezr_hls_out_leave(struct ezr_hls_viewer *v)
{
    if (!v->out)
        return;
    ezr_list_remove(&v->link);
    v->out->nviewers--;
    v->out = NULL;
}

void ezr_hls_out_count(struct ezr_hls_out *o, uint64_t bytes)
{
    o->bytes_sent += bytes;
}

void ezr_hls_out_join_group(struct ezr_hls_out *o, struct ezr_hls_groups *groups)
{
    ezr_hls_member_join(groups, &o->member, o->sub.stream);
}
