/* Prometheus text for GET /metrics; see ezr_metrics.h. */
#include "ezr_metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ezr_client.h"
#include "ezr_server_priv.h"
#include "ezr_stream.h"

static void printf_buf(struct ezr_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void printf_buf(struct ezr_buf *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        ezr_buf_append(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void family(struct ezr_buf *b, const char *name, const char *type, const char *help)
{
    printf_buf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, quote and newline escaped (exposition format). */
static void label_value(char *out, size_t cap, const char *v)
{
    size_t n = 0;
    for (; *v && n + 3 < cap; v++) {
        if (*v == '\\' || *v == '"') {
            out[n++] = '\\';
            out[n++] = *v;
        } else if (*v == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = *v;
        }
    }
    out[n] = '\0';
}

static void labels(const struct ezr_stream *st, char *out, size_t cap)
{
    char app[2 * EZR_MAX_NAME_LEN + 1], key[2 * EZR_MAX_NAME_LEN + 1];
    label_value(app, sizeof app, st->app);
    label_value(key, sizeof key, st->key);
    snprintf(out, cap, "app=\"%s\",stream=\"%s\"", app, key);
}

static const char *const protocols[] = {"rtmp", "http-flv", "ws-flv"};
static const char *const tiers[] = {"normal", "warning", "high"};
static const char *const reasons[EZR_CLOSE_NREASONS] = {"player",   "slow",    "timeout",
                                                        "protocol", "removed", "server"};

enum stream_counter {
    SC_CLIENTS_PEAK,
    SC_CLIENTS_TOTAL,
    SC_BYTES_SENT,
    SC_FRAMES_IN,
    SC_GOP_FRAMES,
    SC_GOP_BYTES,
};

static uint64_t counter(const struct ezr_stream *st, enum stream_counter which)
{
    switch (which) {
    case SC_CLIENTS_PEAK:
        return st->stats.clients_peak;
    case SC_CLIENTS_TOTAL:
        return st->stats.clients_total;
    case SC_BYTES_SENT:
        return st->stats.bytes_sent;
    case SC_FRAMES_IN:
        return st->stats.frames_in;
    case SC_GOP_FRAMES:
        return st->gop.count;
    case SC_GOP_BYTES:
        return st->gop.bytes;
    }
    return 0;
}

void ezr_metrics_write(struct ezr_server *s, struct ezr_buf *b)
{
    static const struct {
        enum stream_counter which;
        const char *name, *type, *help;
    } simple[] = {
        {SC_CLIENTS_PEAK, "ezrtmp_clients_peak", "gauge", "Most players at once."},
        {SC_CLIENTS_TOTAL, "ezrtmp_clients_total", "counter", "Players ever added."},
        {SC_BYTES_SENT, "ezrtmp_bytes_sent_total", "counter", "Bytes written to players."},
        {SC_FRAMES_IN, "ezrtmp_frames_in_total", "counter", "Frames pushed by the pipeline."},
        {SC_GOP_FRAMES, "ezrtmp_gop_cache_frames", "gauge", "Frames in the GOP cache."},
        {SC_GOP_BYTES, "ezrtmp_gop_cache_bytes", "gauge", "Bytes in the GOP cache."},
    };
    char lab[4 * EZR_MAX_NAME_LEN + 32];

    family(b, "ezrtmp_connections", "gauge", "Connections open now, playing or not.");
    printf_buf(b, "ezrtmp_connections %zu\n", s->nclients);
    family(b, "ezrtmp_connections_accepted_total", "counter", "Connections accepted.");
    printf_buf(b, "ezrtmp_connections_accepted_total %" PRIu64 "\n", s->accepted);
    family(b, "ezrtmp_connections_refused_total", "counter",
           "Connections refused over max-connections.");
    printf_buf(b, "ezrtmp_connections_refused_total %" PRIu64 "\n", s->refused);

    /* The registry is walked under its lock; the counters are the reactor's, and so are we. */
    pthread_mutex_lock(&s->lock);
    family(b, "ezrtmp_clients", "gauge", "Players playing now, by protocol.");
    EZR_LIST_FOREACH_SAFE(sit, snx, &s->streams) {
        const struct ezr_stream *st = EZR_CONTAINER_OF(sit, struct ezr_stream, registry_link);
        uint64_t by_proto[3] = {0};
        EZR_LIST_FOREACH_SAFE(it, nx, &st->players) {
            const char *p = EZR_CONTAINER_OF(it, struct ezr_client, player_link)->proto->name;
            for (size_t i = 0; i < 3; i++)
                by_proto[i] += strcmp(p, protocols[i]) == 0;
        }
        labels(st, lab, sizeof lab);
        for (size_t i = 0; i < 3; i++)
            printf_buf(b, "ezrtmp_clients{%s,protocol=\"%s\"} %" PRIu64 "\n", lab, protocols[i],
                       by_proto[i]);
    }
    for (size_t k = 0; k < sizeof simple / sizeof simple[0]; k++) {
        family(b, simple[k].name, simple[k].type, simple[k].help);
        EZR_LIST_FOREACH_SAFE(sit, snx, &s->streams) {
            const struct ezr_stream *st = EZR_CONTAINER_OF(sit, struct ezr_stream, registry_link);
            labels(st, lab, sizeof lab);
            printf_buf(b, "%s{%s} %" PRIu64 "\n", simple[k].name, lab,
                       counter(st, simple[k].which));
        }
    }
    family(b, "ezrtmp_frames_dropped_total", "counter",
           "Frames not sent to a player, by the queue tier at the time.");
    EZR_LIST_FOREACH_SAFE(sit, snx, &s->streams) {
        const struct ezr_stream *st = EZR_CONTAINER_OF(sit, struct ezr_stream, registry_link);
        labels(st, lab, sizeof lab);
        for (size_t i = 0; i < 3; i++)
            printf_buf(b, "ezrtmp_frames_dropped_total{%s,tier=\"%s\"} %" PRIu64 "\n", lab,
                       tiers[i], st->stats.frames_dropped[i]);
    }
    family(b, "ezrtmp_disconnects_total", "counter", "Players disconnected, by reason.");
    EZR_LIST_FOREACH_SAFE(sit, snx, &s->streams) {
        const struct ezr_stream *st = EZR_CONTAINER_OF(sit, struct ezr_stream, registry_link);
        labels(st, lab, sizeof lab);
        for (size_t i = 0; i < EZR_CLOSE_NREASONS; i++)
            printf_buf(b, "ezrtmp_disconnects_total{%s,reason=\"%s\"} %" PRIu64 "\n", lab,
                       reasons[i], st->stats.disconnects[i]);
    }
    pthread_mutex_unlock(&s->lock);
}
