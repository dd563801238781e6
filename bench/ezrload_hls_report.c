/* ezrload: what the HLS viewers received and when, and the report of it.
 *
 * Every part or segment a viewer receives is a record (when it was asked for, when its last byte
 * came in), and so is every blocking playlist reload answered. Parts and segments are known by
 * (msn, index): for each, its end by the playlist's date-time (EXT-X-PROGRAM-DATE-TIME plus the
 * durations before it and its own) and its first announcement, the earliest moment any viewer
 * had it (a playlist listing it, or its body). The figures:
 *
 *   latency_ms: per part or segment received, its arrival minus its end by date-time (the
 *     server's and the player's clocks are this machine's): how long after the last frame of it
 *     was made a viewer had it. Pooled over every viewer, and per viewer (per_viewer).
 *   blocked_part_ms: per hinted part a viewer asked for before it was announced (a request that
 *     waited for the part to be made), its arrival minus the part's first announcement: the
 *     part's completion at the server as its quickest viewer saw it. blocked_part_last_ms: per
 *     part, the same for the last of those viewers to have it (the p99 of this is the issue's
 *     "part completion to the last blocked viewer"). blocked_reload_ms and
 *     blocked_reload_last_ms: the same for the blocking playlist reloads.
 *   completion_after_pdt_end_ms: per part some viewer waited for, its first announcement minus
 *     its end by date-time: how the announcement the figures above count from stands to the
 *     date-times.
 *   media_missing: per viewer, the parts (segments) any viewer received between the first and the
 *     last this one received, that this one did not; viewers_missing: viewers with any.
 */
#include "ezrload_hls.h"

#define PART_TABLE_SIZE (1u << 16) /* parts and segments of one run: 5 a second for an hour */

struct part_info {
    uint64_t key; /* 0: empty */
    int64_t end_us, first_us; /* -1: not known */
};

struct rec {
    uint32_t slot;
    int32_t viewer;
    int64_t sent_us, at_us;
    uint8_t kind;
    bool blocking;
};

static struct part_info *table;
static struct rec *recs;
static size_t nrecs, recs_cap;
static bool table_full;

static uint64_t key_of(uint64_t msn, uint32_t index)
{
    return (msn + 1) << 8 | ((index + 1) & 0xffu);
}

/* The slot of a part (made if new), or UINT32_MAX when the table is full. */
static uint32_t slot_of(uint64_t msn, uint32_t index)
{
    if (!table) {
        table = calloc(PART_TABLE_SIZE, sizeof *table);
        if (!table)
            return UINT32_MAX;
    }
    uint64_t key = key_of(msn, index);
    uint32_t i = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 48) & (PART_TABLE_SIZE - 1);
    for (uint32_t n = 0; n < PART_TABLE_SIZE; n++, i = (i + 1) & (PART_TABLE_SIZE - 1)) {
        if (table[i].key == key)
            return i;
        if (!table[i].key) {
            table[i] = (struct part_info){.key = key, .end_us = -1, .first_us = -1};
            return i;
        }
    }
    table_full = true;
    return UINT32_MAX;
}

void hls_note_end(uint64_t msn, uint32_t index, int64_t end_us)
{
    uint32_t s = slot_of(msn, index);
    if (s != UINT32_MAX && table[s].end_us < 0)
        table[s].end_us = end_us;
}

void hls_note_announced(uint64_t msn, uint32_t index, int64_t at_us)
{
    uint32_t s = slot_of(msn, index);
    if (s != UINT32_MAX && (table[s].first_us < 0 || at_us < table[s].first_us))
        table[s].first_us = at_us;
}

void hls_note_received(int viewer, enum hls_rec_kind kind, uint64_t msn, uint32_t index,
                       int64_t sent_us, int64_t at_us, bool blocking)
{
    uint32_t s = slot_of(msn, index);
    if (s == UINT32_MAX)
        return;
    if (nrecs == recs_cap) {
        size_t cap = recs_cap ? recs_cap * 2 : 65536;
        struct rec *r = realloc(recs, cap * sizeof *r);
        if (!r) {
            table_full = true;
            return;
        }
        recs = r;
        recs_cap = cap;
    }
    recs[nrecs++] = (struct rec){.slot = s, .viewer = viewer, .sent_us = sent_us,
                                 .at_us = at_us, .kind = (uint8_t)kind, .blocking = blocking};
}

/* ---- the report --------------------------------------------------------------------------- */

struct vals {
    int64_t *v;
    size_t n;
};

static void push(struct vals *a, int64_t x)
{
    a->v[a->n++] = x; /* sized for every record beforehand */
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const int64_t *v, size_t n, double pct)
{
    size_t r = (size_t)(pct / 100.0 * (double)n + 0.999999);
    return (double)v[r ? r - 1 : 0] / 1000.0;
}

/* {"p50": .., "p99": .., "max": .., "n": ..} of a (sorted here) set of us, in ms. */
static void put_dist(FILE *f, const char *name, struct vals *a)
{
    if (!a->n) {
        fprintf(f, "\"%s\": {\"p50\": null, \"p99\": null, \"max\": null, \"n\": 0}", name);
        return;
    }
    qsort(a->v, a->n, sizeof *a->v, cmp_i64);
    fprintf(f, "\"%s\": {\"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f, \"n\": %zu}", name,
            pct_ms(a->v, a->n, 50), pct_ms(a->v, a->n, 99), (double)a->v[a->n - 1] / 1000.0,
            a->n);
}

/* Per part: the largest delay of any record of it (a slot-indexed array, -1 none), gathered. */
static void gather_last(const int64_t *per_slot, struct vals *out)
{
    for (uint32_t s = 0; s < PART_TABLE_SIZE; s++)
        if (per_slot[s] >= 0)
            push(out, per_slot[s]);
}

struct viewer_sum {
    uint64_t first_key, last_key;
    uint32_t got;
    struct vals lat;
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Keys received by anyone, sorted, distinct; returns how many. */
static size_t received_keys(uint64_t *keys)
{
    size_t n = 0;
    for (size_t i = 0; i < nrecs; i++)
        if (recs[i].kind == REC_MEDIA)
            keys[n++] = table[recs[i].slot].key;
    qsort(keys, n, sizeof *keys, cmp_u64);
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        if (!d || keys[i] != keys[d - 1])
            keys[d++] = keys[i];
    return d;
}

static size_t keys_between(const uint64_t *keys, size_t n, uint64_t lo, uint64_t hi)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) /* a few hundred keys: no need to search */
        c += keys[i] >= lo && keys[i] <= hi;
    return c;
}

void hls_report(double duration_s)
{
    size_t cap = nrecs + 1;
    struct vals lat = {calloc(cap, 8), 0}, bpart = {calloc(cap, 8), 0},
                breload = {calloc(cap, 8), 0}, bpart_last = {calloc(PART_TABLE_SIZE, 8), 0},
                breload_last = {calloc(PART_TABLE_SIZE, 8), 0},
                completion = {calloc(PART_TABLE_SIZE, 8), 0}, first = {calloc(opt.n + 1u, 8), 0};
    int64_t *last_part = malloc(PART_TABLE_SIZE * 8), *last_reload = malloc(PART_TABLE_SIZE * 8);
    struct viewer_sum *vs = calloc((size_t)opt.n, sizeof *vs);
    uint64_t *keys = malloc(cap * sizeof *keys);
    int64_t *vlat = malloc(cap * 8);
    if (!lat.v || !bpart.v || !breload.v || !bpart_last.v || !breload_last.v || !completion.v ||
        !first.v || !last_part || !last_reload || !vs || !keys || !vlat) {
        fprintf(stderr, "ezrload: out of memory for the report\n");
        exit(1);
    }
    for (uint32_t s = 0; s < PART_TABLE_SIZE; s++)
        last_part[s] = last_reload[s] = -1;
    /* Per viewer, its records' latencies side by side: counted first, then placed. */
    size_t *vat = calloc((size_t)opt.n + 1, sizeof *vat);
    for (size_t i = 0; i < nrecs; i++)
        if (recs[i].kind == REC_MEDIA)
            vat[recs[i].viewer + 1]++;
    for (int i = 0; i < opt.n; i++) {
        vs[i].lat.v = vlat + vat[i];
        vat[i + 1] += vat[i];
    }
    for (size_t i = 0; i < nrecs; i++) {
        const struct rec *r = &recs[i];
        const struct part_info *p = &table[r->slot];
        if (r->blocking && p->first_us >= 0 && r->sent_us < p->first_us) {
            int64_t d = r->at_us - p->first_us;
            int64_t *last = r->kind == REC_MEDIA ? last_part : last_reload;
            push(r->kind == REC_MEDIA ? &bpart : &breload, d);
            if (d > last[r->slot])
                last[r->slot] = d;
        }
        if (r->kind != REC_MEDIA)
            continue;
        struct viewer_sum *v = &vs[r->viewer];
        if (!v->got || p->key < v->first_key)
            v->first_key = p->key;
        if (!v->got || p->key > v->last_key)
            v->last_key = p->key;
        v->got++;
        if (p->end_us >= 0) {
            push(&lat, r->at_us - p->end_us);
            push(&v->lat, r->at_us - p->end_us);
        }
    }
    /* Only parts some viewer waited for: one listed in a viewer's first playlist was made long
     * before anyone was told of it. */
    for (uint32_t s = 0; s < PART_TABLE_SIZE; s++)
        if ((last_part[s] >= 0 || last_reload[s] >= 0) && table[s].end_us >= 0)
            push(&completion, table[s].first_us - table[s].end_us);
    gather_last(last_part, &bpart_last);
    gather_last(last_reload, &breload_last);
    size_t nkeys = received_keys(keys);
    uint64_t requests = 0, errors = 0, reconnects = 0, missing = 0, received = 0;
    int playing = 0, ll = 0, viewers_missing = 0;
    for (int i = 0; i < opt.n; i++) {
        const struct hls_counts *c = hls_counts_of(i);
        requests += c->requests;
        errors += c->errors;
        reconnects += c->reconnects;
        playing += c->playing;
        ll += c->ll;
        received += vs[i].got;
        if (c->first_media_ms >= 0)
            push(&first, c->first_media_ms * 1000);
        if (vs[i].got) {
            size_t want = keys_between(keys, nkeys, vs[i].first_key, vs[i].last_key);
            missing += want > vs[i].got ? want - vs[i].got : 0;
            viewers_missing += want > vs[i].got;
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    FILE *f = stdout;
    fprintf(f, "{\"viewers\": %d, \"mode\": \"%s\", \"connected\": %d, \"connect_failed\": %d, "
               "\"playing\": %d, \"bytes\": %" PRIu64 ", \"requests\": %" PRIu64 ", "
               "\"errors\": %" PRIu64 ", \"reconnects\": %" PRIu64 ", "
               "\"media_received\": %" PRIu64 ", \"media_distinct\": %zu, "
               "\"media_missing\": %" PRIu64 ", \"viewers_missing\": %d, \"records_lost\": %s, ",
            opt.n, ll == opt.n ? "ll-hls" : ll ? "mixed" : "hls", tot.connected,
            tot.connect_failed, playing, tot.bytes, requests, errors, reconnects, received, nkeys,
            missing, viewers_missing, table_full ? "true" : "false");
    struct {
        const char *name;
        struct vals *v;
    } dists[] = {{"latency_ms", &lat}, {"first_media_ms", &first}, {"blocked_part_ms", &bpart},
                 {"blocked_part_last_ms", &bpart_last}, {"blocked_reload_ms", &breload},
                 {"blocked_reload_last_ms", &breload_last},
                 {"completion_after_pdt_end_ms", &completion}};
    for (size_t i = 0; i < sizeof dists / sizeof dists[0]; i++) {
        fprintf(f, i ? ", " : "");
        put_dist(f, dists[i].name, dists[i].v);
    }
    fprintf(f, ", \"duration_s\": %.1f, \"client_cpu_s\": %.2f, \"per_viewer_fields\": "
               "[\"received\", \"missing\", \"latency_p50_ms\", \"latency_max_ms\", "
               "\"requests\", \"errors\"], \"per_viewer\": [",
            duration_s, cpu);
    for (int i = 0; i < opt.n; i++) {
        struct viewer_sum *v = &vs[i];
        const struct hls_counts *c = hls_counts_of(i);
        size_t want = v->got ? keys_between(keys, nkeys, v->first_key, v->last_key) : 0;
        if (v->lat.n)
            qsort(v->lat.v, v->lat.n, sizeof *v->lat.v, cmp_i64);
        fprintf(f, "%s[%u, %zu, ", i ? ", " : "", v->got, want > v->got ? want - v->got : 0);
        if (v->lat.n)
            fprintf(f, "%.1f, %.1f, ", pct_ms(v->lat.v, v->lat.n, 50),
                    (double)v->lat.v[v->lat.n - 1] / 1000.0);
        else
            fprintf(f, "null, null, ");
        fprintf(f, "%u, %u]", c->requests, c->errors);
    }
    fprintf(f, "]}\n");
    if (!opt.json)
        fprintf(stderr, "(HLS viewers report in JSON only)\n");
    free(lat.v), free(bpart.v), free(breload.v), free(bpart_last.v), free(breload_last.v);
    free(completion.v), free(first.v), free(last_part), free(last_reload), free(vs), free(keys);
    free(vlat), free(vat), free(recs), free(table);
    recs = NULL;
    table = NULL;
}
