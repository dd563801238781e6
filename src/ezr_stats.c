/* Stats snapshots from the reactor's state; see ezr_stats.h. */
#include "ezr_stats.h"

#include <string.h>

#include "ezr_client.h"
#include "ezr_clock.h"
#include "ezr_server_priv.h"
#include "ezr_stream.h"

static const char *const protocol_names[EZR_STATS_NPROTOCOLS] = {"rtmp", "http-flv", "ws-flv"};

void ezr_stats_fill_stream(const struct ezr_stream *st, struct ezr_stream_stats *out)
{
    struct ezr_ingest_stats ingest = out->ingest;
    *out = st->stats;
    out->ingest = ingest;
    out->gop_frames = st->gop.count;
    out->gop_bytes = st->gop.bytes;
    out->queue_max_age_ms = st->limits.max_age_ms;
    EZR_LIST_FOREACH_SAFE(it, nx, &st->players) {
        const char *p = EZR_CONTAINER_OF(it, struct ezr_client, player_link)->proto->name;
        for (size_t i = 0; i < EZR_STATS_NPROTOCOLS; i++)
            out->clients_by_protocol[i] += strcmp(p, protocol_names[i]) == 0;
    }
}

void ezr_stats_fill_server(struct ezr_server *s, struct ezr_stream_stats *out)
{
    out->connections = (uint32_t)s->nclients;
    out->connections_bytes_queued = 0;
    EZR_LIST_FOREACH_SAFE(it, nx, &s->clients) {
        const struct ezr_client *c = EZR_CONTAINER_OF(it, struct ezr_client, conn_link);
        out->connections_bytes_queued += c->q.bytes;
    }
    out->connections_accepted = s->accepted;
    out->connections_refused = s->refused;
    out->reactor_busy = ezr_meter_busy(&s->meter, ezr_now_us());
    out->send_latency_p50_us = ezr_meter_latency_percentile(&s->meter, 50);
    out->send_latency_p99_us = ezr_meter_latency_percentile(&s->meter, 99);
}

void ezr_stream_report_ingest(struct ezr_stream *st, const struct ezr_ingest_stats *in)
{
    pthread_mutex_lock(&st->srv->lock);
    st->ingest = *in;
    pthread_mutex_unlock(&st->srv->lock);
}
