/* The one description of the stats: for each field of struct ezr_stream_stats and struct
 * ezr_client_stats, the name the element gives it (its `stats` structure, client-list entries and
 * get-stats) and the Prometheus series /metrics prints it as. The element's marshalling and
 * ezr_metrics.c both walk these tables, so a field is named in one place. GLib-free, no state. */
#ifndef EZR_STATS_SCHEMA_H
#define EZR_STATS_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "ezr_server.h"

enum ezr_stat_type {
    EZR_STAT_U32,
    EZR_STAT_U64,
    EZR_STAT_DOUBLE,
    EZR_STAT_BOOL,   /* client stats only */
    EZR_STAT_STRING, /* client stats only: a NUL-terminated char array */
};

enum ezr_stat_kind {
    EZR_METRIC_NONE,    /* not on /metrics */
    EZR_METRIC_COUNTER, /* only rises while the stream lives; its name ends in _total */
    EZR_METRIC_GAUGE,
    /* The sum of the family's labelled series (clients over protocols): printed as those series,
     * not by itself, as Prometheus' sum() gives it back. */
    EZR_METRIC_SUM,
};

/* Where /metrics prints a field: once for the server (no labels), or once per stream (labelled
 * app and stream). */
enum ezr_stat_scope {
    EZR_STAT_SERVER,
    EZR_STAT_STREAM,
};

struct ezr_stat_field {
    const char *name; /* the element's field name, e.g. "frames-dropped-high" */
    size_t offset;    /* in its struct */
    enum ezr_stat_type type;
    enum ezr_stat_scope scope;
    enum ezr_stat_kind kind;
    const char *metric; /* the Prometheus family, e.g. "ezrtmp_frames_dropped_total"; or NULL */
    const char *label;  /* this field's series of the family, e.g. "tier=\"high\""; or NULL */
    double scale;       /* metric value = field * scale: to Prometheus' base units (seconds) */
    const char *help;   /* the family's HELP line (the first field of a family gives it) */
};

/* The fields of struct ezr_stream_stats, the server-wide ones included. Fields of one family are
 * next to each other. */
extern const struct ezr_stat_field ezr_stats_stream_schema[];
extern const size_t ezr_stats_stream_schema_len;
/* The fields of struct ezr_client_stats (none is a metric: one series per player would grow
 * without bound; the stream's series sum them). */
extern const struct ezr_stat_field ezr_stats_client_schema[];
extern const size_t ezr_stats_client_schema_len;

/* A numeric field's value (U32, U64, DOUBLE, BOOL) in the struct at stats. */
double ezr_stat_number(const struct ezr_stat_field *f, const void *stats);
/* A U32, U64 or BOOL field exactly. */
uint64_t ezr_stat_u64(const struct ezr_stat_field *f, const void *stats);
/* A STRING field. */
const char *ezr_stat_string(const struct ezr_stat_field *f, const void *stats);

#endif
