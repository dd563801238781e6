/* The public calls on one stream of a server (its handle from ezr_server_add_stream, in
 * ezr_server.h, which includes this): its config and callbacks, pushing frames, EOS, stop, reset,
 * stats and removing a player. Apart from ezr_server.h so that the stream (ezr_stream.c), which
 * implements them, sits below the server that registers it (docs/layers.md). Threads and
 * ownership: as ezr_server.h says. */
#ifndef EZR_STREAM_API_H
#define EZR_STREAM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_frame.h" /* enum ezr_frame_kind, enum ezr_frame_flags */
#include "ezr_join.h"  /* enum ezr_sync_method */
#include "ezr_types.h"

struct ezr_stream;

enum ezr_client_event {
    EZR_CLIENT_ADDED,   /* a player started playing the stream */
    EZR_CLIENT_REMOVED, /* it stopped, or its connection closed */
};
struct ezr_client_info {
    uint64_t id;          /* unique per server, from 1 */
    const char *addr;     /* the player, "a.b.c.d:port" or "[v6]:port" (see ezr_net_accept) */
    const char *reason;   /* why it was removed; NULL for ADDED */
    const char *protocol; /* ezr_protocol_name(): "rtmp", "http-flv" or "ws-flv" */
};
/* Called on the reactor thread; info is valid only during the call. It may call
 * ezr_stream_get_stats() and ezr_stream_remove_client() (answered at once on this thread), but not
 * ezr_stream_eos() with a timeout or ezr_server_remove_stream(). */
typedef void (*ezr_client_fn)(void *ctx, enum ezr_client_event ev,
                              const struct ezr_client_info *info);

/* The server's reactor thread stopped on an error (ezr_server_failed() is true from then on):
 * port is the server's, why the cause as logged at EZR_LOG_ERROR. Called once per stream, on the
 * reactor thread, at once (a stream added to a failed server is told when added), so that the
 * application can act without waiting for its next ezr_stream_push(). why is valid only during
 * the call; the same calls as from an ezr_client_fn may be made. */
typedef void (*ezr_failed_fn)(void *ctx, uint16_t port, const char *why);

struct ezr_stream_config {
    const char *app;         /* the application name players connect to, e.g. "live" */
    const char *key;         /* the stream name players play, e.g. "stream" */
    uint32_t max_gops;       /* GOPs kept for late joiners; 0 = EZR_DEFAULT_MAX_GOPS */
    ezr_client_fn on_client; /* may be NULL */
    void *client_ctx;
    ezr_failed_fn on_failed; /* may be NULL */
    void *failed_ctx;
    /* Who may play: CIDR ranges ("127.0.0.1/32, 10.0.0.0/8, ::1, fd00::/8"); an IPv4 player of
     * a dual-stack listener matches IPv4 ranges. NULL or "" = anyone. */
    const char *allowed_clients;
    /* If set, players must play "key?token=THIS"; compared in constant time. */
    const char *play_token;
    /* How a player joining mid-stream starts (0: EZR_SYNC_LIVE_EDGE); a player may ask for
     * another with "key?sync-method=NICK" (RTMP play name, HTTP-FLV and WebSocket-FLV query). */
    enum ezr_sync_method sync_method;
    /* Low-latency HLS from the same frames, on the server's HTTP port (needs http): parts of
     * hls_part_ms (0: 200), segments cut at the first keyframe after hls_segment_ms (0: one per
     * GOP), hls_window complete segments kept (0: 7). See ezr_hls.h. */
    bool hls;
    uint32_t hls_part_ms;
    uint32_t hls_segment_ms;
    uint32_t hls_window;
    /* A rendition of this group (NULL or "": none): the streams of the server with hls on, the
     * same app and the same hls_group are listed in the multivariant playlist APP/GROUP.m3u8
     * and report each other in their media playlists (EXT-X-RENDITION-REPORT), so players
     * switch between them. At most EZR_MAX_NAME_LEN characters. */
    const char *hls_group;
};

/* Queues one FLV tag body (the RTMP message payload: an FLV tag without its 11-byte header)
 * for every player. Script data is cached as the stream's metadata (and sent at time 0, as
 * players expect) unless flagged EZR_FRAME_LIVE (cue points, captions: sent at their time,
 * never cached); headers replace the cached sequence header of their kind. Copies data once;
 * returns 0, EZR_ENOMEM, or EZR_EINVAL (a bad kind, or a body over 16 MiB). */
int ezr_stream_push(struct ezr_stream *st, enum ezr_frame_kind kind, uint32_t flags,
                    uint32_t timestamp_ms, const uint8_t *data, size_t len);
/* End of stream: players get StreamEOF and NetStream.Play.UnpublishNotify. Waits at most
 * timeout_ms for what players have queued to be written (0: do not wait). The cache is cleared,
 * so a later push starts a new stream. Returns 0, or EZR_EAGAIN if the wait timed out. */
int ezr_stream_eos(struct ezr_stream *st, int timeout_ms);
/* The pipeline stopped (PAUSED -> READY), which is not an end of its stream's codecs: players
 * get StreamEOF and NetStream.Play.UnpublishNotify at once, the cached frames go, and the
 * metadata and sequence headers are kept for the stream that starts again (a restarted flvmux
 * does not always send them anew); with its first frame players get StreamBegin,
 * NetStream.Play.PublishNotify, the headers and video from a keyframe. Returns 0 or EZR_ENOMEM. */
int ezr_stream_stop(struct ezr_stream *st);
/* While flushing, ezr_stream_eos() does not wait for players: a thread waiting in it returns
 * EZR_EAGAIN at once, and so does a later call (GstBaseSink's unlock/unlock_stop: a state change
 * must not wait for slow players). Any thread. */
void ezr_stream_set_flushing(struct ezr_stream *st, bool flushing);
/* After a flush (a seek upstream): forgets the cached frames but keeps the metadata and sequence
 * headers, so a player joining later gets them and starts at the next keyframe. Players already
 * connected get what a publisher restart gives them, less the UnpublishNotify that would end
 * playback in librtmp: StreamEOF now, then with the next frame StreamBegin,
 * NetStream.Play.PublishNotify, the metadata and headers again, and video from a keyframe. */
int ezr_stream_reset(struct ezr_stream *st);

/* The fields of the two structs below are listed once more in ezr_stats_schema.c, with the
 * names the element and /metrics give them; a field added here and not there fails the build.
 * So that the check can see a missing field, each struct is ordered by size, widest first (the
 * only padding is at the end). */
struct ezr_client_stats {
    uint64_t id;
    uint64_t bytes_sent;
    uint64_t bytes_queued;
    uint64_t frames_dropped; /* by backpressure and the keyframe rule */
    uint64_t connected_ms;   /* how long it has been connected */
    uint64_t lag_ms;         /* how long its oldest queued data has waited (0: all written) */
    char addr[64];
    char protocol[16]; /* "rtmp", "http-flv" or "ws-flv" */
    bool tls;          /* over TLS (rtmps, https, wss) */
    bool ktls;         /* TLS records sent by the kernel (kernel TLS) */
};

/* What the application counts of its input before ezr_stream_push() (the element: the FLV it
 * parses and its render() calls), told to the library with ezr_stream_report_ingest() so that
 * /metrics shows it beside the server's counters. */
struct ezr_ingest_stats {
    uint64_t tags;             /* FLV tags parsed */
    uint64_t video_frames;     /* video tags other than sequence headers */
    uint64_t audio_frames;     /* audio tags other than sequence headers */
    uint64_t keyframes;        /* video keyframes (sequence headers included) */
    uint64_t script_tags;      /* metadata and other script data */
    uint64_t tags_refused;     /* enhanced RTMP tags that cannot be relayed (multitrack, ...) */
    uint64_t sequence_headers; /* audio and video */
    uint64_t bytes_in;         /* tag bodies */
    uint64_t renders;          /* input buffers that fed the parser */
    uint64_t render_ns;        /* their total time */
    uint64_t render_max_ns;    /* the longest */
};

struct ezr_stream_stats {
    uint64_t clients_total; /* players ever added */
    uint64_t bytes_sent;    /* to this stream's players */
    uint64_t frames_in;     /* pushed */
    /* Frames not sent to a player, by the queue level at the time: [0] normal (waiting for a
     * keyframe, or receiveVideo false), [1] warning, [2] high. */
    uint64_t frames_dropped[3];
    uint64_t disconnects[EZR_CLOSE_NREASONS];
    /* A frame's serialisations in an output's own format, its views (ezr_frame.h: RTMP chunks,
     * an FLV tag, a WebSocket-FLV message, a CMAF fragment header): once per frame and format
     * however many players take it, never once per player. */
    uint64_t frame_copies;
    /* Live-edge replays built: one per join moment (the newest cached video frame), shared by
     * every player joining then, never one per player (ezr_replay.h). */
    uint64_t replays_built;
    /* LL-HLS (hls on): requests answered or waiting, and the bytes of their answers (heads and
     * bodies); parts and segments made; blocking requests parked now. Its viewers (one per
     * connection that asked for the stream's HLS) are clients_by_protocol[EZR_PROTOCOL_HLS]. */
    uint64_t hls_requests;
    uint64_t hls_bytes_sent;
    uint64_t hls_parts;
    uint64_t hls_segments;
    uint64_t hls_waiting;
    uint64_t gop_frames; /* in the cache now */
    uint64_t gop_bytes;
    /* As last told by ezr_stream_report_ingest() (zero if never). */
    struct ezr_ingest_stats ingest;
    /* Server-wide */
    /* Bytes queued to all connections (replies and media), not yet taken by their sockets. */
    uint64_t connections_bytes_queued;
    uint64_t connections_accepted;
    uint64_t connections_refused; /* over max-connections */
    /* Over the last one to two seconds: the fraction of wall time the reactor thread was busy
     * (not waiting for events), 0..1 (near 1 it is the bottleneck and writes gather more frames
     * each, see flush_interval_ms); and the time frames took from ezr_stream_push() to the
     * socket, median and 99th percentile in microseconds (0: none written). */
    double reactor_busy;
    uint64_t send_latency_p50_us;
    uint64_t send_latency_p99_us;
    /* 32-bit fields last (see above). */
    uint32_t clients;                             /* playing now */
    uint32_t clients_by_protocol[EZR_NPROTOCOLS]; /* by enum ezr_protocol (HLS: its viewers) */
    uint32_t clients_peak;
    /* The age limit its players' lag meets now: queue_max_age_ms as configured or, when that is
     * 0, by what the stream carries (5 s once it has audio and no video, 10 s otherwise). */
    uint32_t queue_max_age_ms;
    uint32_t connections; /* server-wide: open now, playing or not */
};

/* A consistent snapshot taken on the reactor thread; waits at most timeout_ms for it (called on
 * the reactor thread itself, from a client callback, it answers at once). With
 * clients != NULL, *clients receives a malloc'd array of *nclients entries (free() it).
 * Returns 0, EZR_EAGAIN on timeout, EZR_ENOMEM. */
int ezr_stream_get_stats(struct ezr_stream *st, struct ezr_stream_stats *out,
                         struct ezr_client_stats **clients, size_t *nclients, int timeout_ms);
/* Disconnects the player with that id if it plays this stream. Asynchronous. */
int ezr_stream_remove_client(struct ezr_stream *st, uint64_t id);
/* The application's input counters, for /metrics and ezr_stream_get_stats(); copied. Any thread;
 * cheap enough for once per input buffer (one mutex). */
void ezr_stream_report_ingest(struct ezr_stream *st, const struct ezr_ingest_stats *in);

#endif
