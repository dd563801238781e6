/* The media playlist of the LL-HLS muxer (ezr_hls.h), rendered from its window, and what a
 * blocking reload gets now (draft-pantos-hls-rfc8216bis 4.4.3-4.4.5, 6.2.2, 6.2.5). */
#include "ezr_hls_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "ezr_error.h"

/* PART-HOLD-BACK in part targets: the spec's SHOULD (4.4.3.8), what hls.js and Apple's players
 * start behind the live edge. */
#define PART_HOLD_BACK_PARTS 3u
/* CAN-SKIP-UNTIL in target durations: the least the spec allows (4.4.3.8). */
#define SKIP_TARGETS 6u
/* EXT-X-PART tags are listed for the segments within this many target durations of the end
 * (6.2.2 advises removing them after that). */
#define PART_TARGETS 3u

__attribute__((format(printf, 2, 3))) static void put(struct ezr_buf *b, const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) {
        b->failed = true; /* no line of ours is that long: a bug, not a short playlist */
        return;
    }
    ezr_buf_append(b, line, (size_t)n);
}

/* Milliseconds as decimal seconds with 3 decimals ("1.000"). */
static void put_seconds(struct ezr_buf *b, uint64_t ms)
{
    put(b, "%llu.%03u", (unsigned long long)(ms / 1000u), (unsigned)(ms % 1000u));
}

static void put_date(struct ezr_buf *b, uint64_t wall_ms)
{
    time_t secs = (time_t)(wall_ms / 1000u);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        b->failed = true;
        return;
    }
    put(b, "#EXT-X-PROGRAM-DATE-TIME:%04d-%02d-%02dT%02d:%02d:%02d.%03uZ\n", tm.tm_year + 1900,
        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(wall_ms % 1000u));
}

bool ezr_hls_can_skip(const struct ezr_hls *h)
{
    return h->window > SKIP_TARGETS;
}

static uint64_t segment_end(const struct ezr_hls_segment *s)
{
    return s->start_ms + s->duration_ms;
}

/* Complete segments that a delta update replaces with EXT-X-SKIP: the oldest, as long as each
 * ends at least the skip boundary before the end of the playlist (6.2.5.1). */
static size_t skipped_segments(const struct ezr_hls *h, uint64_t end)
{
    uint64_t boundary = (uint64_t)SKIP_TARGETS * h->target_s * 1000u;
    size_t complete = ezr_hls_complete_segments(h), n = 0;
    while (n < complete && end >= boundary && segment_end(&h->segs[n]) <= end - boundary)
        n++;
    return n;
}

static void put_part(struct ezr_buf *b, const struct ezr_hls *h, const struct ezr_hls_part *p)
{
    put(b, "#EXT-X-PART:DURATION=");
    put_seconds(b, p->duration_ms);
    put(b, ",URI=\"part-%s-%llu.%u.m4s\"%s\n", h->tag, (unsigned long long)p->msn, p->index,
        p->independent ? ",INDEPENDENT=YES" : "");
}

int ezr_hls_render_playlist(const struct ezr_hls *h, bool skip, struct ezr_buf *out)
{
    uint64_t last_msn;
    uint32_t last_index;
    if (!ezr_hls_last_part(h, &last_msn, &last_index))
        return EZR_EAGAIN;
    uint64_t end = ezr_hls_end_ms(h);
    bool can_skip = ezr_hls_can_skip(h);
    size_t nskip = skip && can_skip && !h->ended ? skipped_segments(h, end) : 0;
    uint32_t part_target = h->part_target_ms;

    /* EXT-X-MAP in a playlist without I-frames needs version 6, EXT-X-SKIP version 9 (8). */
    put(out, "#EXTM3U\n#EXT-X-VERSION:%u\n#EXT-X-TARGETDURATION:%u\n", nskip ? 9u : 6u,
        h->target_s);
    put(out, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=");
    put_seconds(out, (uint64_t)PART_HOLD_BACK_PARTS * part_target);
    if (can_skip) {
        put(out, ",CAN-SKIP-UNTIL=");
        put_seconds(out, (uint64_t)SKIP_TARGETS * h->target_s * 1000u);
    }
    put(out, "\n#EXT-X-PART-INF:PART-TARGET=");
    put_seconds(out, part_target);
    put(out, "\n#EXT-X-MEDIA-SEQUENCE:%llu\n#EXT-X-DISCONTINUITY-SEQUENCE:%llu\n",
        (unsigned long long)h->segs[0].msn, (unsigned long long)h->discontinuity_seq);
    if (nskip)
        put(out, "#EXT-X-SKIP:SKIPPED-SEGMENTS=%zu\n", nskip);

    uint64_t parts_window = (uint64_t)PART_TARGETS * h->target_s * 1000u;
    bool have_map = false;
    uint32_t map = 0;
    for (size_t i = nskip; i < h->nsegs; i++) {
        const struct ezr_hls_segment *s = &h->segs[i];
        size_t done = s->complete ? s->nparts : s->nparts - 1;
        if (!done)
            break; /* in progress with no part yet: its tags come with its first part */
        if (s->discontinuity)
            put(out, "#EXT-X-DISCONTINUITY\n");
        /* Before the first segment listed, also in a delta update: its MAP may be skipped. */
        if (!have_map || s->init_id != map)
            put(out, "#EXT-X-MAP:URI=\"init-%s-%u.mp4\"\n", h->tag, s->init_id);
        have_map = true;
        map = s->init_id;
        put_date(out, s->wall_ms);
        if (!s->complete || segment_end(s) + parts_window >= end)
            for (size_t p = 0; p < done; p++)
                put_part(out, h, &s->parts[p]);
        if (s->complete) {
            put(out, "#EXTINF:");
            put_seconds(out, s->duration_ms);
            put(out, ",\nseg-%s-%llu.m4s\n", h->tag, (unsigned long long)s->msn);
        }
    }
    uint64_t hint_msn;
    uint32_t hint_index;
    if (h->ended)
        put(out, "#EXT-X-ENDLIST\n");
    else if (ezr_hls_hinted_part(h, &hint_msn, &hint_index))
        put(out, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-%s-%llu.%u.m4s\"\n", h->tag,
            (unsigned long long)hint_msn, hint_index);
    return ezr_buf_failed(out) ? EZR_ENOMEM : 0;
}

/* ---- blocking reload (6.2.5.2) --------------------------------------------------------- */

/* Parts a request may ask ahead of the last one: three target durations' worth. */
static uint64_t advance_part_limit(const struct ezr_hls *h)
{
    uint32_t target = h->part_target_ms;
    return target < 1000u ? 3000u / target : 3u;
}

enum ezr_hls_wait ezr_hls_check(const struct ezr_hls *h, const struct ezr_hls_query *q)
{
    if (h->ended)
        return EZR_HLS_READY; /* _HLS_msn and _HLS_part are ignored once the list has ended */
    uint64_t lm = 0;
    uint32_t lp = 0;
    bool any = ezr_hls_last_part(h, &lm, &lp);
    if (!q->has_msn)
        return any ? EZR_HLS_READY : EZR_HLS_WAIT;
    /* The last complete segment is next_msn - 2 while one is in progress, else next_msn - 1 (-1:
     * none yet); a client may ask two past it. */
    uint64_t msn_limit = h->next_msn + (h->in_progress ? 0u : 1u);
    if (q->msn > msn_limit)
        return EZR_HLS_TOO_FAR;
    if (!q->has_part) {
        size_t complete = ezr_hls_complete_segments(h);
        return complete && h->segs[complete - 1].msn >= q->msn ? EZR_HLS_READY : EZR_HLS_WAIT;
    }
    /* A later segment has a part: segment msn is complete, and a part index past its last is
     * part 0 of the next segment, which is there too. */
    if (any && (lm > q->msn || (lm == q->msn && q->part <= lp)))
        return EZR_HLS_READY;
    uint64_t ahead = any && lm == q->msn ? (uint64_t)q->part - lp : (uint64_t)q->part + 1u;
    return ahead > advance_part_limit(h) ? EZR_HLS_TOO_FAR : EZR_HLS_WAIT;
}
