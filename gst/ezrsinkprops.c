/* The property table of both elements (the sink's, and the source's share of it); see
 * ezrsinkprops.h. Each entry is a property as gst-inspect-1.0 shows it
 * (name, nick, blurb, range, default, flags), where its value lives, and where the library's
 * config takes it. The few whose value is computed (bound-port, stats, location) have get/set
 * functions instead of a field. */
#include "ezrsinkprops.h"

#include <stdbool.h>
#include <string.h>

#include "ezr_limits.h"
#include "gstezrtmpserversinkpriv.h"
#include "gstezrtmpserversrcpriv.h"

enum prop_type { P_STRING, P_INT, P_UINT, P_BOOLEAN, P_ENUM, P_STRUCTURE };
enum prop_target { TO_NONE, TO_SERVER, TO_STREAM }; /* struct ezr_server/stream_config */
enum cfg_type { C_STR, C_U16, C_U32, C_I32, C_BOOL, C_ENUM };
/* C_I32 and C_ENUM copy an int: the library's enums are int-sized. */
_Static_assert(sizeof(enum ezr_sync_method) == sizeof(int), "sync_method is an int");
_Static_assert(sizeof(int32_t) == sizeof(int), "flush_interval_ms is an int");

struct prop {
    const char *name, *nick, *blurb;
    enum prop_type type;
    GParamFlags flags;
    gssize field; /* offset in struct ezr_sink_settings, or -1 */
    gint64 min, max, def;
    const char *def_str; /* a string's default, also what setting it to NULL restores */
    enum prop_target to;
    size_t cfg_offset;
    enum cfg_type cfg_type;
    guint scale; /* cfg value = property value * scale (seconds to ms) */
    GType (*enum_type)(void); /* P_ENUM */
    void (*get)(GObject *self, GValue *v);                    /* without the object lock */
    void (*set)(struct ezr_sink_settings *s, const GValue *v); /* with the object lock */
    guint on;               /* EZR_PROPS_SINK, EZR_PROPS_SRC or both: the elements that have it */
    const char *src_blurb;  /* the source's blurb where it differs */
};

#define RW_READY (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)
#define BOTH .on = EZR_PROPS_SINK | EZR_PROPS_SRC
#define SRC_ONLY .on = EZR_PROPS_SRC
#define FIELD(f) .field = offsetof(struct ezr_sink_settings, f)
#define NO_FIELD .field = -1
#define TO_SRV(f, t)                                                                               \
    .to = TO_SERVER, .cfg_offset = offsetof(struct ezr_server_config, f), .cfg_type = t
#define TO_ST(f, t)                                                                                \
    .to = TO_STREAM, .cfg_offset = offsetof(struct ezr_stream_config, f), .cfg_type = t
#define UINT_RANGE(lo, hi, d) .type = P_UINT, .min = (lo), .max = (hi), .def = (d)

/* The nicks are GstMultiHandleSink's sync-method ones where the meaning is the same; the type
 * has its own name, as tcpserversink's GstSyncMethod may be loaded beside it. See docs/join.md. */
static GType sync_method_get_type(void)
{
    static gsize type = 0;
    static const GEnumValue values[] = {
        {EZR_SYNC_LIVE_EDGE,
         "Metadata, headers and the video from the newest keyframe, retimed so that playback is "
         "at the live edge at once (a brief fast-forward)",
         "live-edge"},
        {EZR_SYNC_LATEST_KEYFRAME,
         "Metadata, headers and the cached GOP at its own timestamps (a player pacing by "
         "timestamps stays up to a GOP behind live; what a recorder wants)",
         "latest-keyframe"},
        {EZR_SYNC_NEXT_KEYFRAME,
         "Metadata and headers at once, then audio and video from the next keyframe",
         "next-keyframe"},
        {0, NULL, NULL},
    };
    if (g_once_init_enter(&type))
        g_once_init_leave(&type, g_enum_register_static("GstEzrtmpServerSinkSyncMethod", values));
    return (GType)type;
}

/* The element's settings: the sink's or the source's. */
static struct ezr_sink_settings *settings_of(GObject *o)
{
    return GST_IS_EZRTMP_SERVER_SINK(o) ? &GST_EZRTMP_SERVER_SINK(o)->settings
                                        : &GST_EZRTMP_SERVER_SRC(o)->settings;
}

static guint bound_port_of(GObject *o)
{
    return ezr_element_server_bound_port(GST_IS_EZRTMP_SERVER_SINK(o)
                                             ? &GST_EZRTMP_SERVER_SINK(o)->serving
                                             : &GST_EZRTMP_SERVER_SRC(o)->serving);
}

static void get_bound_port(GObject *self, GValue *v)
{
    g_value_set_int(v, (gint)bound_port_of(self));
}

static void get_stats(GObject *self, GValue *v)
{
    g_value_take_boxed(v, GST_IS_EZRTMP_SERVER_SINK(self)
                              ? ezr_sink_make_stats(GST_EZRTMP_SERVER_SINK(self))
                              : ezr_src_make_stats(GST_EZRTMP_SERVER_SRC(self)));
}

static void get_location(GObject *self, GValue *v)
{
    GST_OBJECT_LOCK(self);
    guint bound = bound_port_of(self);
    g_value_take_string(v, ezr_sink_location_get(settings_of(self), bound));
    GST_OBJECT_UNLOCK(self);
}

static void set_location(struct ezr_sink_settings *s, const GValue *v)
{
    ezr_sink_location_set(s, g_value_get_string(v));
}

enum {
    PROP_0,
    PROP_HOST,
    PROP_PORT,
    PROP_BOUND_PORT,
    PROP_APP,
    PROP_STREAM_KEY,
    PROP_LOCATION,
    PROP_CHUNK_SIZE,
    PROP_MAX_GOPS,
    PROP_SYNC_METHOD,
    PROP_MAX_CONNECTIONS,
    PROP_QUEUE_WARNING_BYTES,
    PROP_QUEUE_HIGH_BYTES,
    PROP_QUEUE_MAX_BYTES,
    PROP_QUEUE_MAX_AGE,
    PROP_HANDSHAKE_TIMEOUT,
    PROP_CLIENT_TIMEOUT,
    PROP_SEND_BUFFER_SIZE,
    PROP_FLUSH_INTERVAL,
    PROP_ALLOWED_CLIENTS,
    PROP_PLAY_TOKEN,
    PROP_HTTP,
    PROP_HTTP_CORS_ORIGIN,
    PROP_HLS,
    PROP_HLS_PART_TARGET,
    PROP_HLS_SEGMENT_TARGET,
    PROP_HLS_WINDOW,
    PROP_HLS_GROUP,
    PROP_METRICS,
    PROP_TLS_CERTIFICATE,
    PROP_TLS_KEY,
    PROP_TLS_ONLY,
    PROP_STATS,
    PROP_PUBLISH_TOKEN,
    PROP_MAX_BYTES,
    PROP_TIMEOUT,
    PROP_PUBLISH_TIMEOUT,
    PROP_EOS_ON_UNPUBLISH,
    N_PROPS,
};

static const struct prop props[N_PROPS] = {
    [PROP_HOST] = {"host", "Host",
                   "Address or host name to listen on (\"0.0.0.0\" for every IPv4 interface, "
                   "\"::\" for every IPv4 and IPv6 one, \"::1\" for IPv6 loopback); applied when "
                   "the element goes to READY",
                   .type = P_STRING, .flags = RW_READY, FIELD(host), .def_str = "localhost",
                   TO_SRV(host, C_STR),
        BOTH},
    [PROP_PORT] = {"port", "Port", "TCP port to listen on; 0 picks a free port (see bound-port)",
                   .type = P_INT, .flags = RW_READY, FIELD(port), .min = 0, .max = 65535,
                   .def = 1935, TO_SRV(port, C_U16),
        BOTH},
    [PROP_BOUND_PORT] = {"bound-port", "Bound port",
                         "The TCP port actually listened on from READY on; 0 when not listening",
                         .type = P_INT, .flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS,
                         NO_FIELD, .min = 0, .max = 65535, .def = 0, .get = get_bound_port,
        BOTH},
    [PROP_APP] = {"app", "Application",
                  "RTMP application name players connect to (rtmp://host:port/APP/stream-key)",
                  .type = P_STRING, .flags = RW_READY, FIELD(app), .def_str = "live",
                  TO_ST(app, C_STR),
        BOTH,
        .src_blurb = "RTMP application name the publisher connects to (rtmp://host:port/APP/stream-key)"},
    [PROP_STREAM_KEY] = {"stream-key", "Stream key",
                         "Stream name players play (rtmp://host:port/app/STREAM-KEY)",
                         .type = P_STRING, .flags = RW_READY, FIELD(stream_key),
                         .def_str = "stream", TO_ST(key, C_STR),
        BOTH,
        .src_blurb = "Stream name the publisher publishes (rtmp://host:port/app/STREAM-KEY)"},
    [PROP_LOCATION] = {"location", "Location",
                       "The URL players open, rtmp://HOST:PORT/APP/STREAM-KEY (as rtmp2sink's "
                       "location): setting it sets host, port (1935 if left out, 443 for "
                       "rtmps://), app and stream-key at once; rtmps:// also needs "
                       "tls-certificate. Read back, it is built from those properties (the bound "
                       "port once listening; rtmps:// with a certificate). A URL that does not "
                       "parse fails the change to READY",
                       .type = P_STRING, .flags = RW_READY, NO_FIELD, .get = get_location,
                       .set = set_location,
        BOTH,
        .src_blurb = "The URL the publisher publishes to, rtmp://HOST:PORT/APP/STREAM-KEY: setting it "
                     "sets host, port (1935 if left out, 443 for rtmps://), app and stream-key at "
                     "once; rtmps:// also needs tls-certificate. A URL that does not parse fails "
                     "the change to READY"},
    [PROP_CHUNK_SIZE] = {"chunk-size", "Chunk size", "RTMP chunk size sent to players, in bytes",
                         UINT_RANGE(EZR_PROTO_CHUNK_SIZE, EZR_MAX_CHUNK_SIZE,
                                    EZR_DEFAULT_CHUNK_SIZE),
                         .flags = RW_READY, FIELD(chunk_size), TO_SRV(chunk_size, C_U32)},
    [PROP_MAX_GOPS] = {"max-gops", "Max GOPs",
                       "Groups of pictures kept for players that join late (each starts at a "
                       "keyframe)",
                       UINT_RANGE(1, 100, EZR_DEFAULT_MAX_GOPS), .flags = RW_READY, FIELD(max_gops),
                       TO_ST(max_gops, C_U32)},
    [PROP_SYNC_METHOD] = {"sync-method", "Sync method",
                          "How a player joining mid-stream starts; a player may ask for another "
                          "with ?sync-method=NICK after the stream key (RTMP play name, HTTP-FLV "
                          "and WebSocket-FLV URL)",
                          .type = P_ENUM, .enum_type = sync_method_get_type,
                          .def = EZR_SYNC_LIVE_EDGE, .flags = RW_READY, FIELD(sync_method),
                          TO_ST(sync_method, C_ENUM)},
    [PROP_MAX_CONNECTIONS] = {"max-connections", "Max connections",
                              "Most simultaneous connections (RTMP, HTTP and WebSocket, TLS or "
                              "not); further ones are closed at once. Capped at 80% of the "
                              "process's file descriptor limit",
                              UINT_RANGE(1, 1000000, EZR_DEFAULT_MAX_CONNECTIONS),
                              .flags = RW_READY, FIELD(max_connections),
                              TO_SRV(max_connections, C_U32)},
    [PROP_QUEUE_WARNING_BYTES] = {"queue-warning-bytes", "Queue warning level",
                                  "Bytes queued for a player from which its non-key video frames "
                                  "are dropped (audio, keyframes and headers still go)",
                                  UINT_RANGE(1, G_MAXUINT32 - 2, EZR_DEFAULT_QUEUE_WARNING_BYTES),
                                  .flags = RW_READY, FIELD(queue_warning_bytes),
                                  TO_SRV(queue_warning_bytes, C_U32)},
    [PROP_QUEUE_HIGH_BYTES] = {"queue-high-bytes", "Queue high level",
                               "Bytes queued for a player from which only keyframes and headers "
                               "are sent; must be above queue-warning-bytes",
                               UINT_RANGE(2, G_MAXUINT32 - 1, EZR_DEFAULT_QUEUE_HIGH_BYTES),
                               .flags = RW_READY, FIELD(queue_high_bytes),
                               TO_SRV(queue_high_bytes, C_U32)},
    [PROP_QUEUE_MAX_BYTES] = {"queue-max-bytes", "Queue maximum",
                              "Bytes queued for a player at which it is disconnected; must be "
                              "above queue-high-bytes",
                              UINT_RANGE(3, G_MAXUINT32, EZR_DEFAULT_QUEUE_MAX_BYTES),
                              .flags = RW_READY, FIELD(queue_max_bytes),
                              TO_SRV(queue_max_bytes, C_U32)},
    /* 0: by stream kind, 10 s, or 5 s audio-only. */
    [PROP_QUEUE_MAX_AGE] = {"queue-max-age", "Queue maximum age",
                            "Milliseconds a player's oldest queued live data may wait before it "
                            "gets only keyframes, headers and metadata until it catches up (its "
                            "lag bounded in time, not only in bytes); 0 = 10000, or 5000 on an "
                            "audio-only stream",
                            UINT_RANGE(0, 600000, 0), .flags = RW_READY, FIELD(queue_max_age),
                            TO_SRV(queue_max_age_ms, C_U32)},
    [PROP_HANDSHAKE_TIMEOUT] = {"handshake-timeout", "Handshake timeout",
                                "Seconds a connection may take to finish the handshake and start "
                                "playing before it is closed (0 = no limit)",
                                UINT_RANGE(0, 3600, EZR_DEFAULT_HANDSHAKE_TIMEOUT_S),
                                .flags = RW_READY, FIELD(handshake_timeout),
                                TO_SRV(handshake_timeout_ms, C_U32), .scale = 1000},
    [PROP_CLIENT_TIMEOUT] = {"client-timeout", "Client timeout",
                             "Seconds a player may read nothing while data waits for it before "
                             "it is closed (0 = no limit)",
                             UINT_RANGE(0, 3600, EZR_DEFAULT_CLIENT_TIMEOUT_S), .flags = RW_READY,
                             FIELD(client_timeout), TO_SRV(client_timeout_ms, C_U32),
                             .scale = 1000},
    [PROP_SEND_BUFFER_SIZE] = {"send-buffer-size", "Send buffer size",
                               "Kernel send buffer of each player socket in bytes (SO_SNDBUF); 0 "
                               "keeps the kernel's autotuning. A small value makes the queue "
                               "levels react sooner to a slow player",
                               UINT_RANGE(0, G_MAXINT32, 0), .flags = RW_READY,
                               FIELD(send_buffer_size), TO_SRV(send_buffer_bytes, C_U32)},
    [PROP_FLUSH_INTERVAL] = {"flush-interval", "Flush interval",
                             "The most milliseconds that any of a player's media, video too, may "
                             "wait so that more of it goes out in one write: latency for CPU (a "
                             "write costs far more than its bytes). -1 = auto: video is written "
                             "as it comes, audio and data wait for the next video frame, at most "
                             "100 ms. 0 = write every frame at once. Protocol replies and a new "
                             "player's first frames are written at once at every value",
                             .type = P_INT, .min = EZR_FLUSH_AUTO, .max = EZR_FLUSH_INTERVAL_MAX_MS,
                             .def = EZR_DEFAULT_FLUSH_INTERVAL_MS, .flags = RW_READY,
                             FIELD(flush_interval), TO_SRV(flush_interval_ms, C_I32)},
    [PROP_ALLOWED_CLIENTS] = {"allowed-clients", "Allowed clients",
                              "Addresses or CIDR ranges that may play, separated by commas "
                              "(\"127.0.0.1, 10.0.0.0/8, ::1, fd00::/8\"); an IPv4 player on a "
                              "dual-stack host=:: matches IPv4 ranges. Empty: anyone. Others get "
                              "NetStream.Play.Failed and are closed",
                              .type = P_STRING, .flags = RW_READY, FIELD(allowed_clients),
                              .def_str = "", TO_ST(allowed_clients, C_STR),
        BOTH,
        .src_blurb = "Addresses or CIDR ranges that may publish, separated by commas "
                     "(\"127.0.0.1, 10.0.0.0/8, ::1, fd00::/8\"). Empty: anyone. Others get "
                     "NetStream.Publish.BadName and are closed"},
    [PROP_PLAY_TOKEN] = {"play-token", "Play token",
                         "If not empty, players must play STREAM-KEY?token=THIS; others get "
                         "NetStream.Play.Failed and are closed. Empty: no token needed. "
                         "Write-only, so that property notifications (gst-launch-1.0 -v) and "
                         "pipeline dumps never show it",
                         .type = P_STRING,
                         .flags =
                             G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY,
                         FIELD(play_token), .def_str = "", TO_ST(play_token, C_STR)},
    /* Off: with HTTP on, any web page open in a browser that can reach the port may read the
     * stream (CORS), which an RTMP-only port never allowed; turn it on to serve browsers. */
    [PROP_HTTP] = {"http", "HTTP-FLV and WebSocket-FLV",
                   "Also serve browsers on the same port: http://HOST:PORT/APP/STREAM-KEY.flv "
                   "(HTTP-FLV) and ws://HOST:PORT/APP/STREAM-KEY.flv (WebSocket-FLV), with the "
                   "same allowed-clients and play-token (?token=). Off by default because it lets "
                   "a web page in any browser that reaches the port read the stream (see "
                   "http-cors-origin), which an RTMP-only port never allowed",
                   .type = P_BOOLEAN, .flags = RW_READY, FIELD(http), .def = FALSE,
                   TO_SRV(http, C_BOOL)},
    [PROP_HTTP_CORS_ORIGIN] = {"http-cors-origin", "HTTP CORS origin",
                               "Access-Control-Allow-Origin of HTTP answers: \"*\" lets any web "
                               "page play; an origin (\"https://example.com\") lets only that "
                               "one play, and WebSockets from another Origin are refused (403)",
                               .type = P_STRING, .flags = RW_READY, FIELD(http_cors_origin),
                               .def_str = "*", TO_SRV(http_cors_origin, C_STR)},
    [PROP_HLS] = {"hls", "Low-latency HLS",
                  "Also serve the stream as Low-Latency HLS (CMAF parts, blocking playlist "
                  "reload) on the same port: http://HOST:PORT/APP/STREAM-KEY/index.m3u8, for "
                  "Safari, TVs, ExoPlayer, hls.js and CDNs. Needs http=true",
                  .type = P_BOOLEAN, .flags = RW_READY, FIELD(hls), .def = FALSE,
                  TO_ST(hls, C_BOOL)},
    [PROP_HLS_PART_TARGET] = {"hls-part-target", "HLS part target",
                              "Duration of an LL-HLS part in ms (EXT-X-PART-INF:PART-TARGET); a "
                              "part ends on the first frame boundary past it",
                              UINT_RANGE(EZR_HLS_MIN_PART_MS, EZR_HLS_MAX_PART_MS,
                                         EZR_HLS_DEFAULT_PART_MS),
                              .flags = RW_READY, FIELD(hls_part_target),
                              TO_ST(hls_part_ms, C_U32)},
    [PROP_HLS_SEGMENT_TARGET] = {"hls-segment-target", "HLS segment target",
                                 "Least duration of an HLS segment in ms: a segment ends at the "
                                 "first keyframe past it. 0: one segment per GOP, GOPs under "
                                 "750 ms joined to about 1 s (2 s for a stream without video)",
                                 UINT_RANGE(0, EZR_HLS_MAX_SEGMENT_MS, 0), .flags = RW_READY,
                                 FIELD(hls_segment_target), TO_ST(hls_segment_ms, C_U32)},
    [PROP_HLS_WINDOW] = {"hls-window", "HLS window",
                         "Complete HLS segments kept in the playlist and in memory",
                         UINT_RANGE(EZR_HLS_MIN_WINDOW, EZR_HLS_MAX_WINDOW,
                                    EZR_HLS_DEFAULT_WINDOW),
                         .flags = RW_READY, FIELD(hls_window), TO_ST(hls_window, C_U32)},
    [PROP_HLS_GROUP] = {"hls-group", "HLS group",
                        "Renditions: the sinks on one port with the same app and this group are "
                        "listed in the multivariant playlist http://HOST:PORT/APP/GROUP.m3u8 "
                        "(BANDWIDTH, RESOLUTION, CODECS and FRAME-RATE as served) and report "
                        "each other in their media playlists, so players switch between them. "
                        "Empty: none. Needs hls=true",
                        .type = P_STRING, .flags = RW_READY, FIELD(hls_group), .def_str = "",
                        TO_ST(hls_group, C_STR)},
    [PROP_METRICS] = {"metrics", "Prometheus metrics",
                      "Serve GET /metrics on the port: the server's and its streams' counters "
                      "(ezrtmp_*) in Prometheus text format",
                      .type = P_BOOLEAN, .flags = RW_READY, FIELD(metrics), .def = FALSE,
                      TO_SRV(metrics, C_BOOL)},
    [PROP_TLS_CERTIFICATE] = {"tls-certificate", "TLS certificate",
                              "PEM file with the server's certificate, then any intermediate "
                              "certificates (a chain). Set, the port also speaks TLS: "
                              "rtmps://HOST:PORT/APP/STREAM-KEY, and with http https:// and "
                              "wss://; a file that does not load fails the change to READY. "
                              "Unset: no TLS",
                              .type = P_STRING, .flags = RW_READY, FIELD(tls_certificate),
                              TO_SRV(tls_certificate, C_STR),
        BOTH},
    [PROP_TLS_KEY] = {"tls-key", "TLS private key",
                      "PEM file with the private key of tls-certificate (empty: the key is in "
                      "the certificate file)",
                      .type = P_STRING, .flags = RW_READY, FIELD(tls_key), TO_SRV(tls_key, C_STR),
        BOTH},
    [PROP_TLS_ONLY] = {"tls-only", "TLS only",
                       "With tls-certificate, close connections that do not start a TLS "
                       "handshake (plain rtmp://, http://, ws://)",
                       .type = P_BOOLEAN, .flags = RW_READY, FIELD(tls_only), .def = FALSE,
                       TO_SRV(tls_only, C_BOOL),
        BOTH},
    /* The blurb is made from the stats schema (ezr_sink_stats_blurb). */
    [PROP_STATS] = {"stats", "Statistics", NULL, .type = P_STRUCTURE,
                    .src_blurb = "The publisher and the queue: publishing, publisher-id, "
                                 "publisher-address, bytes-in, tags, video-frames, audio-frames, "
                                 "keyframes, bitrate (bit/s over the last second or two), "
                                 "connected-ms, publishes, publishes-refused, held (times its "
                                 "socket was not read because the queue was full), queued-bytes, "
                                 "max-bytes",
                    .flags = G_PARAM_READABLE | G_PARAM_STATIC_NAME | G_PARAM_STATIC_NICK, NO_FIELD,
                    .get = get_stats,
        BOTH},
    [PROP_PUBLISH_TOKEN] = {"publish-token", "Publish token",
                            "If not empty, the publisher must publish STREAM-KEY?token=THIS; "
                            "others get NetStream.Publish.BadName and are closed. Write-only, so "
                            "that property notifications and pipeline dumps never show it",
                            .type = P_STRING,
                            .flags = G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS |
                                     GST_PARAM_MUTABLE_READY,
                            FIELD(publish_token), .def_str = "", SRC_ONLY},
    [PROP_MAX_BYTES] = {"max-bytes", "Max bytes",
                        "Bytes of the publisher's FLV tags queued for the pipeline before the "
                        "server stops reading its socket (TCP then holds the publisher back "
                        "until the pipeline has taken half of them); nothing is dropped",
                        UINT_RANGE(64 * 1024, G_MAXINT32, EZR_DEFAULT_INGEST_MAX_BYTES),
                        .flags = RW_READY, FIELD(max_bytes), SRC_ONLY},
    [PROP_TIMEOUT] = {"timeout", "Timeout",
                      "Seconds a publisher may send nothing before it is closed (0 = no limit); "
                      "time its socket is not read because the pipeline is behind does not count",
                      UINT_RANGE(0, 3600, EZR_DEFAULT_PUBLISHER_TIMEOUT_S), .flags = RW_READY,
                      FIELD(timeout), SRC_ONLY},
    [PROP_PUBLISH_TIMEOUT] = {"publish-timeout", "Publish timeout",
                              "Seconds after start without a publisher before a warning is "
                              "posted on the bus, once per start (the element keeps waiting; "
                              "0 = never warn)",
                              UINT_RANGE(0, 3600, EZR_DEFAULT_PUBLISH_TIMEOUT_S),
                              .flags = RW_READY, FIELD(publish_timeout), SRC_ONLY},
    [PROP_EOS_ON_UNPUBLISH] = {"eos-on-unpublish", "EOS on unpublish",
                               "When the publisher stops (unpublish, deleteStream, disconnect, "
                               "timeout), send EOS. Off: wait for the next publisher and carry on "
                               "the same stream, timestamps still rising",
                               .type = P_BOOLEAN, .flags = RW_READY, FIELD(eos_on_unpublish),
                               .def = FALSE, SRC_ONLY},
};
static void *field_of(const struct ezr_sink_settings *s, const struct prop *p)
{
    return (char *)s + p->field;
}

void ezr_sink_settings_init(struct ezr_sink_settings *s)
{
    memset(s, 0, sizeof *s);
    for (guint id = 1; id < N_PROPS; id++) {
        const struct prop *p = &props[id];
        if (p->field < 0)
            continue;
        void *f = field_of(s, p);
        if (p->type == P_STRING)
            *(gchar **)f = g_strdup(p->def_str);
        else if (p->type == P_INT || p->type == P_ENUM)
            *(gint *)f = (gint)p->def;
        else if (p->type == P_UINT)
            *(guint *)f = (guint)p->def;
        else if (p->type == P_BOOLEAN)
            *(gboolean *)f = (gboolean)p->def;
    }
}

void ezr_sink_settings_clear(struct ezr_sink_settings *s)
{
    for (guint id = 1; id < N_PROPS; id++)
        if (props[id].field >= 0 && props[id].type == P_STRING)
            g_clear_pointer((gchar **)field_of(s, &props[id]), g_free);
    g_clear_pointer(&s->bad_location, g_free);
    g_clear_pointer(&s->bad_location_why, g_free);
}

void ezr_sink_settings_copy(struct ezr_sink_settings *dst, const struct ezr_sink_settings *src)
{
    *dst = *src;
    for (guint id = 1; id < N_PROPS; id++)
        if (props[id].field >= 0 && props[id].type == P_STRING) {
            gchar **f = field_of(dst, &props[id]);
            *f = g_strdup(*f);
        }
    dst->bad_location = g_strdup(src->bad_location);
    dst->bad_location_why = g_strdup(src->bad_location_why);
}

void ezr_sink_settings_to_config(const struct ezr_sink_settings *s, struct ezr_server_config *cfg,
                                 struct ezr_stream_config *sc)
{
    for (guint id = 1; id < N_PROPS; id++) {
        const struct prop *p = &props[id];
        if (p->to == TO_NONE)
            continue;
        char *dst = (p->to == TO_SERVER ? (char *)cfg : (char *)sc) + p->cfg_offset;
        const void *f = field_of(s, p);
        guint scale = p->scale ? p->scale : 1;
        if (p->cfg_type == C_STR) {
            const char *v = *(gchar *const *)f;
            memcpy(dst, &v, sizeof v);
        } else if (p->cfg_type == C_U16) {
            uint16_t v = (uint16_t) * (const gint *)f;
            memcpy(dst, &v, sizeof v);
        } else if (p->cfg_type == C_U32) {
            uint32_t v = *(const guint *)f * scale;
            memcpy(dst, &v, sizeof v);
        } else if (p->cfg_type == C_I32 || p->cfg_type == C_ENUM) {
            int v = *(const gint *)f;
            memcpy(dst, &v, sizeof v);
        } else {
            bool v = *(const gboolean *)f;
            memcpy(dst, &v, sizeof v);
        }
    }
}

static void set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
    GstObject *self = GST_OBJECT(object);
    struct ezr_sink_settings *settings = settings_of(object);
    if (id == 0 || id >= N_PROPS) {
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
        return;
    }
    const struct prop *p = &props[id];
    GST_OBJECT_LOCK(self);
    if (p->set) {
        p->set(settings, value);
    } else {
        void *f = field_of(settings, p);
        if (p->type == P_STRING) {
            g_free(*(gchar **)f);
            *(gchar **)f = g_value_dup_string(value);
            if (!*(gchar **)f)
                *(gchar **)f = g_strdup(p->def_str);
        } else if (p->type == P_INT) {
            *(gint *)f = g_value_get_int(value);
        } else if (p->type == P_UINT) {
            *(guint *)f = g_value_get_uint(value);
        } else if (p->type == P_BOOLEAN) {
            *(gboolean *)f = g_value_get_boolean(value);
        } else if (p->type == P_ENUM) {
            *(gint *)f = g_value_get_enum(value);
        }
    }
    GST_OBJECT_UNLOCK(self);
}

static void get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
    GstObject *self = GST_OBJECT(object);
    if (id == 0 || id >= N_PROPS) {
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
        return;
    }
    const struct prop *p = &props[id];
    if (p->get) {
        p->get(object, value);
        return;
    }
    GST_OBJECT_LOCK(self);
    const void *f = field_of(settings_of(object), p);
    if (p->type == P_STRING)
        g_value_set_string(value, *(gchar *const *)f);
    else if (p->type == P_INT)
        g_value_set_int(value, *(const gint *)f);
    else if (p->type == P_UINT)
        g_value_set_uint(value, *(const guint *)f);
    else if (p->type == P_BOOLEAN)
        g_value_set_boolean(value, *(const gboolean *)f);
    else if (p->type == P_ENUM)
        g_value_set_enum(value, *(const gint *)f);
    GST_OBJECT_UNLOCK(self);
}

static GParamSpec *make_pspec(const struct prop *p, guint which)
{
    const char *blurb = which == EZR_PROPS_SRC && p->src_blurb ? p->src_blurb : p->blurb;
    switch (p->type) {
    case P_STRING:
        return g_param_spec_string(p->name, p->nick, blurb, p->def_str, p->flags);
    case P_INT:
        return g_param_spec_int(p->name, p->nick, blurb, (gint)p->min, (gint)p->max,
                                (gint)p->def, p->flags);
    case P_UINT:
        return g_param_spec_uint(p->name, p->nick, blurb, (guint)p->min, (guint)p->max,
                                 (guint)p->def, p->flags);
    case P_BOOLEAN:
        return g_param_spec_boolean(p->name, p->nick, blurb, (gboolean)p->def, p->flags);
    case P_ENUM:
        gst_type_mark_as_plugin_api(p->enum_type(), 0);
        return g_param_spec_enum(p->name, p->nick, blurb, p->enum_type(), (gint)p->def,
                                 p->flags);
    case P_STRUCTURE: {
        /* Copied: the flags do not say the blurb is static. */
        gchar *made = which == EZR_PROPS_SRC ? g_strdup(blurb) : ezr_sink_stats_blurb();
        GParamSpec *ps = g_param_spec_boxed(p->name, p->nick, made, GST_TYPE_STRUCTURE, p->flags);
        g_free(made);
        return ps;
    }
    }
    return NULL;
}

void ezr_props_install(GObjectClass *klass, guint which)
{
    klass->set_property = set_property;
    klass->get_property = get_property;
    for (guint id = 1; id < N_PROPS; id++)
        if ((props[id].on ? props[id].on : EZR_PROPS_SINK) & which)
            g_object_class_install_property(klass, id, make_pspec(&props[id], which));
}
