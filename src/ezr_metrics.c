/* Prometheus text for GET /metrics; see ezr_metrics.h. The series are those of
 * ezr_stats_schema.c, from the same snapshot as ezr_stream_get_stats() takes. */
#include "ezr_metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_server_priv.h"
#include "ezr_stats_schema.h"
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

/* One stream's snapshot and its app/stream labels. */
struct stream_sample {
    struct ezr_stream_stats stats;
    char labels[4 * EZR_MAX_NAME_LEN + 32];
};

/* One sample line: counts as integers (as they are), scaled values (seconds) and ratios in %g's
 * shortest exact-enough form. */
static void sample(struct ezr_buf *b, const struct ezr_stat_field *f, const char *labels,
                   const struct ezr_stream_stats *stats)
{
    const char *sep = labels[0] && f->label ? "," : "";
    const char *open = labels[0] || f->label ? "{" : "";
    const char *close = labels[0] || f->label ? "}" : "";
    const char *lab = f->label ? f->label : "";
    if (f->type == EZR_STAT_DOUBLE || f->scale != 1)
        printf_buf(b, "%s%s%s%s%s%s %.9g\n", f->metric, open, labels, sep, lab, close,
                   ezr_stat_number(f, stats) * f->scale);
    else
        printf_buf(b, "%s%s%s%s%s%s %" PRIu64 "\n", f->metric, open, labels, sep, lab, close,
                   ezr_stat_u64(f, stats));
}

static void write_schema(struct ezr_buf *b, const struct ezr_stream_stats *server,
                         const struct stream_sample *streams, size_t n)
{
    const char *family = NULL;
    for (size_t k = 0; k < ezr_stats_stream_schema_len; k++) {
        const struct ezr_stat_field *f = &ezr_stats_stream_schema[k];
        if (!f->metric)
            continue;
        if (!family || strcmp(family, f->metric) != 0) {
            family = f->metric;
            printf_buf(b, "# HELP %s %s\n# TYPE %s %s\n", f->metric, f->help, f->metric,
                       f->kind == EZR_METRIC_COUNTER ? "counter" : "gauge");
        }
        if (f->kind == EZR_METRIC_SUM)
            continue;
        if (f->scope == EZR_STAT_SERVER)
            sample(b, f, "", server);
        else
            for (size_t i = 0; i < n; i++)
                sample(b, f, streams[i].labels, &streams[i].stats);
    }
}

void ezr_metrics_write(struct ezr_server *s, struct ezr_buf *b)
{
    struct ezr_stream_stats server = {0};
    ezr_server_fill_stats(s, &server);

    /* The registry is walked under its lock; the counters are the reactor's, and so are we. */
    pthread_mutex_lock(&s->lock);
    size_t n = 0;
    EZR_LIST_FOREACH_SAFE(it, nx, &s->streams)
        n++;
    struct stream_sample *streams = n ? ezr_calloc(n, sizeof *streams) : NULL;
    if (!streams)
        n = 0; /* out of memory: the server's series only */
    size_t i = 0;
    EZR_LIST_FOREACH_SAFE(it, nx, &s->streams) {
        if (i == n)
            break;
        const struct ezr_stream *st = ezr_stream_of_registry_link(it);
        ezr_stream_ingest_locked(st, &streams[i].stats.ingest);
        ezr_stream_fill_stats(st, &streams[i].stats);
        char app[2 * EZR_MAX_NAME_LEN + 1], key[2 * EZR_MAX_NAME_LEN + 1];
        label_value(app, sizeof app, ezr_stream_app(st));
        label_value(key, sizeof key, ezr_stream_key(st));
        snprintf(streams[i].labels, sizeof streams[i].labels, "app=\"%s\",stream=\"%s\"", app, key);
        i++;
    }
    pthread_mutex_unlock(&s->lock);
    write_schema(b, &server, streams, n);
    free(streams);
}
