/* ezrload: what a player measures of the media it gets (time to first keyframe, delivery lag,
 * gaps, frames missing, join-burst bytes), and the report of the run. */
#include "ezrload.h"

static void lag_add(struct lags *l, int64_t x)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 65536;
        int64_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
}

/* A live frame (not part of a join burst) arriving at t within the measured time. */
static void lag_sample(struct lags *l, const struct player *p, uint32_t ts, uint64_t t)
{
    if (!lag_from_us || t < lag_from_us || !p->got_key ||
        (p->has_live_from && ts <= p->live_from_ts))
        return;
    lag_add(l, (int64_t)t - (int64_t)ts * 1000);
}

/* A media payload: part of the join burst when it is no newer than what was live when the
 * player asked to play. */
static void count_media(const struct player *p, uint32_t ts, uint32_t len)
{
    tot.media_bytes += len;
    if (p->has_live_from && ts <= p->live_from_ts)
        tot.burst_bytes += len;
}

/* Wall-clock gap between media messages, once the player is under way. */
static void on_media(struct player *p, uint64_t t)
{
    if (p->got_key && p->last_media_us) {
        uint32_t gap = (uint32_t)((t - p->last_media_us) / 1000u);
        if (gap > p->max_gap_ms)
            p->max_gap_ms = gap;
    }
    p->last_media_us = t;
}

/* FLV video tag body: is it a codec configuration (sequence header), a keyframe? Legacy form:
 * frame type in the top nibble, codec id below, then for AVC/HEVC a packet type (0 = config).
 * Enhanced RTMP (top bit set): frame type in bits 4-6, packet type in the low nibble
 * (0 = SequenceStart). */
static void classify_video(const uint8_t *b, size_t len, bool *header, bool *key)
{
    *header = *key = false;
    if (len < 1)
        return;
    if (b[0] & 0x80) {
        *key = ((b[0] >> 4) & 7) == 1;
        *header = (b[0] & 0x0f) == 0;
        return;
    }
    unsigned codec = b[0] & 0x0f;
    *key = (b[0] >> 4) == 1;
    if ((codec == 7 || codec == 12) && len >= 2)
        *header = b[1] == 0;
}

void on_video(struct player *p, const struct ezr_chunk_msg *m, uint64_t t)
{
    bool header, key;
    classify_video(m->payload, m->length, &header, &key);
    if (header)
        return;
    tot.video_msgs++;
    count_media(p, m->timestamp, m->length);
    if (!p->saw_video) {
        p->saw_video = true;
        if (!key)
            tot.first_video_not_key++;
    }
    bool key_now = key && !p->got_key; /* the first keyframe: nothing before it counts */
    if (key_now) {
        p->got_key = true;
        p->ttfk_ms = (uint32_t)((t - p->t_start_us) / 1000u);
        if (p->stalled)
            p->stopped = true;
    }
    if (p->has_ts) {
        if (m->timestamp < p->last_video_ts)
            tot.ts_regressions++;
        else if (p->got_key && m->timestamp - p->last_video_ts > p->max_ts_step)
            p->max_ts_step = m->timestamp - p->last_video_ts;
        if (opt.fps && p->got_key && !key_now && m->timestamp > p->last_video_ts) {
            /* Whole frame durations in the step, rounded: FLV stamps whole milliseconds. */
            uint64_t frames = ((uint64_t)(m->timestamp - p->last_video_ts) * (uint64_t)opt.fps +
                               500u) / 1000u;
            if (frames > 1)
                p->missing += (uint32_t)(frames - 1);
        }
    }
    p->has_ts = true;
    p->last_video_ts = m->timestamp;
    if (!has_newest_ts || m->timestamp > newest_video_ts) {
        has_newest_ts = true;
        newest_video_ts = m->timestamp;
    }
    lag_sample(&video_lags, p, m->timestamp, t);
    on_media(p, t);
}

void on_audio(struct player *p, const struct ezr_chunk_msg *m, uint64_t t)
{
    tot.audio_msgs++;
    if (m->length >= 2 && !((m->payload[0] >> 4) == 10 && m->payload[1] == 0))
        count_media(p, m->timestamp, m->length); /* not an AAC sequence header */
    lag_sample(&audio_lags, p, m->timestamp, t);
    on_media(p, t);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint32_t percentile(const uint32_t *v, size_t n, double pct)
{
    size_t rank = (size_t)(pct / 100.0 * (double)n + 0.999999);
    return v[rank ? rank - 1 : 0];
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* {"p50": ms, "p99": ms, "max": ms, "frames": n, "base_ms": ms} of the lags relative to their
 * minimum, base_ms: CLOCK_MONOTONIC is the machine's, so two ezrload runs at the same time
 * (one per protocol) can put their lags on one baseline. */
static void lag_json(struct lags *l, char *out, size_t outlen)
{
    if (!l->n) {
        snprintf(out, outlen, "{\"p50\": null, \"p99\": null, \"max\": null, \"frames\": 0, "
                              "\"base_ms\": null}");
        return;
    }
    qsort(l->v, l->n, sizeof *l->v, cmp_i64);
    int64_t base = l->v[0];
    size_t r50 = (size_t)(0.50 * (double)l->n + 0.999999), r99 = (size_t)(0.99 * (double)l->n + 0.999999);
    snprintf(out, outlen,
             "{\"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f, \"frames\": %zu, \"base_ms\": %.3f}",
             (double)(l->v[r50 ? r50 - 1 : 0] - base) / 1000.0,
             (double)(l->v[r99 ? r99 - 1 : 0] - base) / 1000.0,
             (double)(l->v[l->n - 1] - base) / 1000.0, l->n, (double)base / 1000.0);
}

/* The gap a player is in when the run ends counts too: one that stopped getting media
 * before the end does not read as gapless. Taken when the play time ends, before stalled
 * players drain. */
void note_end_gaps(void)
{
    uint64_t end = now_us();
    for (int i = 0; i < opt.n; i++) {
        struct player *p = &players[i];
        if (p->got_key && p->last_media_us && p->state != CLOSED &&
            (uint32_t)((end - p->last_media_us) / 1000u) > p->max_gap_ms)
            p->max_gap_ms = (uint32_t)((end - p->last_media_us) / 1000u);
    }
}

void report(double duration_s)
{
    uint32_t *ttfk = malloc(sizeof *ttfk * (size_t)opt.n);
    size_t nk = 0;
    for (int i = 0; i < opt.n; i++) {
        struct player *p = &players[i];
        tot.playing += p->playing;
        tot.failed += p->failed;
        if (p->got_key)
            ttfk[nk++] = p->ttfk_ms;
        if (p->dropped) {
            tot.dropped++;
            if (p->stalled)
                tot.dropped_stalled++;
            else
                tot.dropped_healthy++;
        }
        tot.video_missing += p->missing;
        tot.players_missing += p->missing > 0;
        if (!p->stalled) {
            if (p->max_gap_ms > (uint32_t)opt.gap_ms)
                tot.gaps_over++;
            if (p->max_gap_ms > tot.max_gap_ms)
                tot.max_gap_ms = p->max_gap_ms;
            if (p->max_ts_step > tot.max_ts_step)
                tot.max_ts_step = p->max_ts_step;
        }
    }
    tot.got_key = (int)nk;
    qsort(ttfk, nk, sizeof *ttfk, cmp_u32);
    char p50[16] = "null", p99[16] = "null", pmax[16] = "null";
    if (nk) {
        snprintf(p50, sizeof p50, "%u", percentile(ttfk, nk, 50));
        snprintf(p99, sizeof p99, "%u", percentile(ttfk, nk, 99));
        snprintf(pmax, sizeof pmax, "%u", ttfk[nk - 1]);
    }
    free(ttfk);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    char vlag[200], alag[200];
    lag_json(&video_lags, vlag, sizeof vlag);
    lag_json(&audio_lags, alag, sizeof alag);
    if (opt.json)
        printf("{\"players\": %d, \"stalled\": %d, \"connected\": %d, \"connect_failed\": %d, "
               "\"playing\": %d, \"failed\": %d, \"got_keyframe\": %d, \"dropped\": %d, "
               "\"dropped_stalled\": %d, \"dropped_healthy\": %d, \"bytes\": %" PRIu64 ", "
               "\"ttfk_ms\": {\"p50\": %s, \"p99\": %s, \"max\": %s}, "
               "\"first_video_not_key\": %d, \"ts_regressions\": %" PRIu64 ", "
               "\"gaps_over\": %d, \"gap_threshold_ms\": %d, \"max_gap_ms\": %u, "
               "\"max_video_ts_step_ms\": %u, \"video_msgs\": %" PRIu64 ", "
               "\"audio_msgs\": %" PRIu64 ", \"lag_ms\": %s, \"audio_lag_ms\": %s, "
               "\"video_missing\": %" PRIu64 ", \"players_missing\": %d, "
               "\"media_bytes\": %" PRIu64 ", \"burst_bytes\": %" PRIu64 ", "
               "\"duration_s\": %.1f, \"client_cpu_s\": %.2f}\n",
               opt.n, opt.stalled, tot.connected, tot.connect_failed, tot.playing, tot.failed,
               tot.got_key, tot.dropped, tot.dropped_stalled, tot.dropped_healthy, tot.bytes,
               p50, p99, pmax, tot.first_video_not_key, tot.ts_regressions, tot.gaps_over,
               opt.gap_ms, tot.max_gap_ms, tot.max_ts_step, tot.video_msgs, tot.audio_msgs,
               vlag, alag, tot.video_missing, tot.players_missing, tot.media_bytes,
               tot.burst_bytes, duration_s, cpu);
    else
        printf("players %d (stalled %d)\nconnected %d (connect failed %d)\n"
               "playing %d (refused %d)\ngot keyframe %d\ndropped %d (stalled %d, healthy %d)\n"
               "bytes %" PRIu64 "\ntime to first keyframe ms: p50 %s p99 %s max %s\n"
               "first video not a keyframe %d\ntimestamp regressions %" PRIu64 "\n"
               "healthy players with a gap over %d ms: %d, longest gap %u ms\n"
               "longest video timestamp step %u ms\n"
               "video messages %" PRIu64 ", audio messages %" PRIu64 "\n"
               "video lag ms %s\naudio lag ms %s\n"
               "video frames missing %" PRIu64 " (in %d players)\n"
               "media bytes %" PRIu64 ", of them join bursts %" PRIu64 "\n"
               "duration %.1f s, client CPU %.2f s\n",
               opt.n, opt.stalled, tot.connected, tot.connect_failed, tot.playing, tot.failed,
               tot.got_key, tot.dropped, tot.dropped_stalled, tot.dropped_healthy, tot.bytes,
               p50, p99, pmax, tot.first_video_not_key, tot.ts_regressions, opt.gap_ms,
               tot.gaps_over, tot.max_gap_ms, tot.max_ts_step, tot.video_msgs, tot.audio_msgs,
               vlag, alag, tot.video_missing, tot.players_missing, tot.media_bytes,
               tot.burst_bytes, duration_s, cpu);
}
