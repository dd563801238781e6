/* The server's and its streams' counters in the Prometheus text exposition format (version
 * 0.0.4), for GET /metrics. Every name starts with ezrtmp_; per-stream series carry app and
 * stream labels. Reactor thread only (it reads the streams' counters as they are). */
#ifndef EZR_METRICS_H
#define EZR_METRICS_H

#include "ezr_buf.h"

struct ezr_server;

void ezr_metrics_write(struct ezr_server *s, struct ezr_buf *out);

#endif
