/* The stats tables; see ezr_stats_schema.h. Each list below is an X-macro so that the build can
 * check it against its struct: every field's type is read from the struct (_Generic), and the
 * sizes of the fields listed must add up to the struct's size less its tail padding, so a field
 * missing here (or listed twice) is a compile error. */
#include "ezr_stats_schema.h"

#include <stdbool.h>
#include <string.h>

#define STAT_TYPE(T, field)                                                                        \
    _Generic(((T *)0)->field,                                                                     \
        uint32_t: EZR_STAT_U32,                                                                   \
        uint64_t: EZR_STAT_U64,                                                                   \
        double: EZR_STAT_DOUBLE,                                                                  \
        bool: EZR_STAT_BOOL,                                                                      \
        char *: EZR_STAT_STRING)

#define US 1e-6 /* microseconds to seconds */
#define MS 1e-3
#define NS 1e-9

/* X(field, scope, element name, metric kind, metric, label, scale, help). Counters are named
 * _total, units are in the name (_bytes, _seconds), variants of one quantity are labels. */
#define STREAM_FIELDS(X)                                                                           \
    X(clients, STREAM, "clients", SUM, "ezrtmp_clients", NULL, 1,                                  \
      "Players playing now, by protocol.")                                                         \
    X(clients_by_protocol[EZR_PROTOCOL_RTMP], STREAM, "clients-rtmp", GAUGE, "ezrtmp_clients",     \
      "protocol=\"rtmp\"", 1, NULL)                                                                \
    X(clients_by_protocol[EZR_PROTOCOL_HTTP_FLV], STREAM, "clients-http-flv", GAUGE,               \
      "ezrtmp_clients", "protocol=\"http-flv\"", 1, NULL)                                          \
    X(clients_by_protocol[EZR_PROTOCOL_WS_FLV], STREAM, "clients-ws-flv", GAUGE, "ezrtmp_clients", \
      "protocol=\"ws-flv\"", 1, NULL)                                                              \
    X(clients_by_protocol[EZR_PROTOCOL_HLS], STREAM, "clients-hls", GAUGE, "ezrtmp_clients",       \
      "protocol=\"hls\"", 1, NULL)                                                                 \
    X(clients_peak, STREAM, "clients-peak", GAUGE, "ezrtmp_clients_peak", NULL, 1,                 \
      "Most players at once.")                                                                     \
    X(clients_total, STREAM, "clients-total", COUNTER, "ezrtmp_clients_total", NULL, 1,            \
      "Players ever added.")                                                                       \
    X(bytes_sent, STREAM, "bytes-sent", COUNTER, "ezrtmp_bytes_sent_total", NULL, 1,               \
      "Bytes written to players.")                                                                 \
    X(frames_in, STREAM, "frames-in", COUNTER, "ezrtmp_frames_in_total", NULL, 1,                  \
      "Frames pushed by the pipeline.")                                                            \
    X(frames_dropped[0], STREAM, "frames-dropped-normal", COUNTER, "ezrtmp_frames_dropped_total",  \
      "tier=\"normal\"", 1, "Frames not sent to a player, by the queue tier at the time.")         \
    X(frames_dropped[1], STREAM, "frames-dropped-warning", COUNTER, "ezrtmp_frames_dropped_total", \
      "tier=\"warning\"", 1, NULL)                                                                 \
    X(frames_dropped[2], STREAM, "frames-dropped-high", COUNTER, "ezrtmp_frames_dropped_total",    \
      "tier=\"high\"", 1, NULL)                                                                    \
    X(disconnects[EZR_CLOSE_PLAYER], STREAM, "disconnects-player", COUNTER,                        \
      "ezrtmp_disconnects_total", "reason=\"player\"", 1, "Players disconnected, by reason.")      \
    X(disconnects[EZR_CLOSE_SLOW], STREAM, "disconnects-slow", COUNTER,                            \
      "ezrtmp_disconnects_total", "reason=\"slow\"", 1, NULL)                                      \
    X(disconnects[EZR_CLOSE_TIMEOUT], STREAM, "disconnects-timeout", COUNTER,                      \
      "ezrtmp_disconnects_total", "reason=\"timeout\"", 1, NULL)                                   \
    X(disconnects[EZR_CLOSE_PROTOCOL], STREAM, "disconnects-protocol", COUNTER,                    \
      "ezrtmp_disconnects_total", "reason=\"protocol\"", 1, NULL)                                  \
    X(disconnects[EZR_CLOSE_REMOVED], STREAM, "disconnects-removed", COUNTER,                      \
      "ezrtmp_disconnects_total", "reason=\"removed\"", 1, NULL)                                   \
    X(disconnects[EZR_CLOSE_SERVER], STREAM, "disconnects-server", COUNTER,                        \
      "ezrtmp_disconnects_total", "reason=\"server\"", 1, NULL)                                    \
    X(frame_copies, STREAM, "frame-copies", COUNTER, "ezrtmp_frame_copies_total", NULL, 1,         \
      "Frame views made: serialisations in an output's format, once per frame and format.")        \
    X(replays_built, STREAM, "replays-built", COUNTER, "ezrtmp_replays_built_total", NULL, 1,      \
      "Live-edge replays built: one per join moment, shared by its joiners.")                      \
    X(hls_requests, STREAM, "hls-requests", COUNTER, "ezrtmp_hls_requests_total", NULL, 1,         \
      "LL-HLS requests (playlists, init segments, parts, segments).")                              \
    X(hls_bytes_sent, STREAM, "hls-bytes-sent", COUNTER, "ezrtmp_hls_bytes_sent_total", NULL, 1,   \
      "Bytes of LL-HLS answers, heads and bodies.")                                                \
    X(hls_parts, STREAM, "hls-parts", COUNTER, "ezrtmp_hls_parts_total", NULL, 1,                  \
      "LL-HLS parts made.")                                                                        \
    X(hls_segments, STREAM, "hls-segments", COUNTER, "ezrtmp_hls_segments_total", NULL, 1,         \
      "LL-HLS segments made.")                                                                     \
    X(hls_waiting, STREAM, "hls-waiting", GAUGE, "ezrtmp_hls_waiting_requests", NULL, 1,           \
      "LL-HLS requests parked until their part exists (blocking reloads, hinted parts).")          \
    X(gop_frames, STREAM, "gop-cache-frames", GAUGE, "ezrtmp_gop_cache_frames", NULL, 1,           \
      "Frames in the GOP cache.")                                                                  \
    X(gop_bytes, STREAM, "gop-cache-bytes", GAUGE, "ezrtmp_gop_cache_bytes", NULL, 1,              \
      "Bytes in the GOP cache.")                                                                   \
    X(queue_max_age_ms, STREAM, "queue-max-age-ms", GAUGE, "ezrtmp_queue_max_age_seconds", NULL,   \
      MS, "The age a player's oldest queued data may reach before it gets only keyframes.")        \
    X(ingest.tags, STREAM, "tags-parsed", COUNTER, "ezrtmp_ingest_tags_total", NULL, 1,            \
      "FLV tags parsed from the pipeline.")                                                        \
    X(ingest.video_frames, STREAM, "video-frames", COUNTER, "ezrtmp_ingest_video_frames_total",    \
      NULL, 1, "Video frames from the pipeline (sequence headers not counted).")                   \
    X(ingest.audio_frames, STREAM, "audio-frames", COUNTER, "ezrtmp_ingest_audio_frames_total",    \
      NULL, 1, "Audio frames from the pipeline (sequence headers not counted).")                   \
    X(ingest.keyframes, STREAM, "keyframes", COUNTER, "ezrtmp_ingest_keyframes_total", NULL, 1,    \
      "Video keyframes from the pipeline.")                                                        \
    X(ingest.script_tags, STREAM, "script-tags", COUNTER, "ezrtmp_ingest_script_tags_total", NULL, \
      1, "Script data tags (metadata, cue points) from the pipeline.")                             \
    X(ingest.tags_refused, STREAM, "tags-refused", COUNTER, "ezrtmp_ingest_tags_refused_total",    \
      NULL, 1, "Enhanced RTMP tags dropped because they cannot be relayed (multitrack, ...).")     \
    X(ingest.sequence_headers, STREAM, "sequence-headers", COUNTER,                                \
      "ezrtmp_ingest_sequence_headers_total", NULL, 1, "Audio and video sequence headers.")        \
    X(ingest.bytes_in, STREAM, "bytes-in", COUNTER, "ezrtmp_ingest_bytes_total", NULL, 1,          \
      "Bytes of FLV tag bodies from the pipeline.")                                                \
    X(ingest.renders, STREAM, "renders", COUNTER, "ezrtmp_ingest_renders_total", NULL, 1,          \
      "Input buffers parsed (the element's render() calls).")                                      \
    X(ingest.render_ns, STREAM, "render-time-ns", COUNTER, "ezrtmp_ingest_render_seconds_total",   \
      NULL, NS, "Time spent parsing and queueing input buffers.")                                  \
    X(ingest.render_max_ns, STREAM, "render-time-max-ns", GAUGE,                                   \
      "ezrtmp_ingest_render_max_seconds", NULL, NS, "The longest time one input buffer took.")     \
    X(connections, SERVER, "connections", GAUGE, "ezrtmp_connections", NULL, 1,                    \
      "Connections open now, playing or not.")                                                     \
    X(connections_bytes_queued, SERVER, "connections-bytes-queued", GAUGE,                         \
      "ezrtmp_connections_queued_bytes", NULL, 1,                                                  \
      "Bytes queued to all connections, not yet taken by their sockets.")                          \
    X(connections_accepted, SERVER, "connections-accepted", COUNTER,                               \
      "ezrtmp_connections_accepted_total", NULL, 1, "Connections accepted.")                       \
    X(connections_refused, SERVER, "connections-refused", COUNTER,                                 \
      "ezrtmp_connections_refused_total", NULL, 1, "Connections refused over max-connections.")    \
    X(reactor_busy, SERVER, "reactor-busy", GAUGE, "ezrtmp_reactor_busy_ratio", NULL, 1,           \
      "Fraction of the last seconds the server thread was busy (0..1).")                           \
    X(send_latency_p50_us, SERVER, "send-latency-p50-us", GAUGE,                                   \
      "ezrtmp_send_latency_p50_seconds", NULL, US,                                                 \
      "Median time frames took from the pipeline to the socket over the last seconds.")            \
    X(send_latency_p99_us, SERVER, "send-latency-p99-us", GAUGE,                                   \
      "ezrtmp_send_latency_p99_seconds", NULL, US,                                                 \
      "99th percentile of the time frames took from the pipeline to the socket.")

#define CLIENT_FIELDS(X)                                                                           \
    X(id, STREAM, "client-id", NONE, NULL, NULL, 1, NULL)                                          \
    X(addr, STREAM, "address", NONE, NULL, NULL, 1, NULL)                                          \
    X(bytes_sent, STREAM, "bytes-sent", NONE, NULL, NULL, 1, NULL)                                 \
    X(bytes_queued, STREAM, "bytes-queued", NONE, NULL, NULL, 1, NULL)                             \
    X(frames_dropped, STREAM, "frames-dropped", NONE, NULL, NULL, 1, NULL)                         \
    X(connected_ms, STREAM, "connected-ms", NONE, NULL, NULL, 1, NULL)                             \
    X(lag_ms, STREAM, "lag-ms", NONE, NULL, NULL, 1, NULL)                                         \
    X(protocol, STREAM, "protocol", NONE, NULL, NULL, 1, NULL)                                     \
    X(tls, STREAM, "tls", NONE, NULL, NULL, 1, NULL)                                               \
    X(ktls, STREAM, "ktls", NONE, NULL, NULL, 1, NULL)

#define ENTRY(T, field, scope, name, kind, metric, label, scale, help)                             \
    {name,                                                                                         \
     offsetof(T, field),                                                                           \
     STAT_TYPE(T, field),                                                                          \
     EZR_STAT_##scope,                                                                             \
     EZR_METRIC_##kind,                                                                            \
     metric,                                                                                       \
     label,                                                                                        \
     scale,                                                                                        \
     help},
#define STREAM_ENTRY(...) ENTRY(struct ezr_stream_stats, __VA_ARGS__)
#define CLIENT_ENTRY(...) ENTRY(struct ezr_client_stats, __VA_ARGS__)
#define STREAM_SIZE(field, ...) +sizeof(((struct ezr_stream_stats *)0)->field)
#define CLIENT_SIZE(field, ...) +sizeof(((struct ezr_client_stats *)0)->field)

/* Fields in size order leave padding only at the end, less than the widest field (8). */
_Static_assert(
    sizeof(struct ezr_stream_stats) - (0 STREAM_FIELDS(STREAM_SIZE)) < 8,
    "a field of struct ezr_stream_stats is missing from STREAM_FIELDS (or is there twice)");
_Static_assert(
    sizeof(struct ezr_client_stats) - (0 CLIENT_FIELDS(CLIENT_SIZE)) < 8,
    "a field of struct ezr_client_stats is missing from CLIENT_FIELDS (or is there twice)");

const struct ezr_stat_field ezr_stats_stream_schema[] = {STREAM_FIELDS(STREAM_ENTRY)};
const size_t ezr_stats_stream_schema_len =
    sizeof ezr_stats_stream_schema / sizeof ezr_stats_stream_schema[0];
const struct ezr_stat_field ezr_stats_client_schema[] = {CLIENT_FIELDS(CLIENT_ENTRY)};
const size_t ezr_stats_client_schema_len =
    sizeof ezr_stats_client_schema / sizeof ezr_stats_client_schema[0];

uint64_t ezr_stat_u64(const struct ezr_stat_field *f, const void *stats)
{
    const unsigned char *p = (const unsigned char *)stats + f->offset;
    uint32_t u32;
    uint64_t u64;
    bool b;
    switch (f->type) {
    case EZR_STAT_U32:
        memcpy(&u32, p, sizeof u32);
        return u32;
    case EZR_STAT_U64:
        memcpy(&u64, p, sizeof u64);
        return u64;
    case EZR_STAT_BOOL:
        memcpy(&b, p, sizeof b);
        return b;
    default:
        return 0;
    }
}

double ezr_stat_number(const struct ezr_stat_field *f, const void *stats)
{
    if (f->type == EZR_STAT_DOUBLE) {
        double d;
        memcpy(&d, (const unsigned char *)stats + f->offset, sizeof d);
        return d;
    }
    return (double)ezr_stat_u64(f, stats);
}

const char *ezr_stat_string(const struct ezr_stat_field *f, const void *stats)
{
    return f->type == EZR_STAT_STRING ? (const char *)stats + f->offset : "";
}
