/* Filling a struct ezr_stream_stats on the reactor thread, for ezr_stream_get_stats() and
 * /metrics alike, so that both answer the same numbers. */
#ifndef EZR_STATS_H
#define EZR_STATS_H

#include "ezr_server.h"

/* The stream's own fields; out->ingest is left as it is (the stream's copy is under srv->lock).
 * Reactor thread. */
void ezr_stats_fill_stream(const struct ezr_stream *st, struct ezr_stream_stats *out);
/* The server-wide fields. Reactor thread. */
void ezr_stats_fill_server(struct ezr_server *s, struct ezr_stream_stats *out);

#endif
