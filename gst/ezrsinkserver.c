/* The server an element serves from and its stream: opened in NULL -> READY (through the
 * process's pool, ezrserverpool.h), closed in READY -> NULL, and the library's callbacks (log
 * lines, players added and removed, a failed reactor) turned into GStreamer's. */
#include "ezr_error.h"
#include "ezr_net.h"
#include "ezrelementserver.h"
#include "ezrserverpool.h"
#include "gstezrtmpserversinkpriv.h"

#define GST_CAT_DEFAULT ezrtmp_debug

/* The library's log lines, on our debug category. Called from the server thread. A server may
 * be shared by several elements, so its lines name no element. */
static GstDebugLevel gst_level_of(enum ezr_log_level level)
{
    return level == EZR_LOG_ERROR     ? GST_LEVEL_ERROR
           : level == EZR_LOG_WARNING ? GST_LEVEL_WARNING
           : level == EZR_LOG_INFO    ? GST_LEVEL_INFO
                                      : GST_LEVEL_DEBUG;
}

void ezr_element_server_log(void *ctx, enum ezr_log_level level, const char *msg)
{
    GST_CAT_LEVEL_LOG(ezrtmp_debug, gst_level_of(level), ctx, "%s", msg);
}

/* At GStreamer's default threshold the category drops INFO lines, so the server need not
 * format its line per HTTP request; the threshold is read each time, so a change made while
 * serving (gst_debug_set_threshold_for_name) holds at once. */
bool ezr_element_server_log_wants(void *ctx, enum ezr_log_level level)
{
    (void)ctx;
    return gst_level_of(level) <= gst_debug_category_get_threshold(ezrtmp_debug);
}

void ezr_element_client_event(GstElement *self, guint added, guint removed,
                              enum ezr_client_event ev, const struct ezr_client_info *info)
{
    GstStructure *s;
    if (ev == EZR_CLIENT_ADDED) {
        GST_INFO_OBJECT(self, "client %" G_GUINT64_FORMAT " (%s) added", info->id, info->addr);
        g_signal_emit(self, added, 0, (guint64)info->id, info->addr);
        s = gst_structure_new("ezrtmp-client-added", "client-id", G_TYPE_UINT64, (guint64)info->id,
                              "address", G_TYPE_STRING, info->addr, "protocol", G_TYPE_STRING,
                              info->protocol, NULL);
    } else {
        GST_INFO_OBJECT(self, "client %" G_GUINT64_FORMAT " (%s) removed: %s", info->id, info->addr,
                        info->reason);
        g_signal_emit(self, removed, 0, (guint64)info->id, info->reason);
        s = gst_structure_new("ezrtmp-client-removed", "client-id", G_TYPE_UINT64,
                              (guint64)info->id, "address", G_TYPE_STRING, info->addr, "reason",
                              G_TYPE_STRING, info->reason, "protocol", G_TYPE_STRING,
                              info->protocol, NULL);
    }
    gst_element_post_message(self, gst_message_new_element(GST_OBJECT(self), s));
}

/* A player started or stopped playing our stream (server thread). */
static void on_client(void *ctx, enum ezr_client_event ev, const struct ezr_client_info *info)
{
    ezr_element_client_event(ctx, ezr_sink_signals[EZR_SINK_SIGNAL_CLIENT_ADDED],
                             ezr_sink_signals[EZR_SINK_SIGNAL_CLIENT_REMOVED], ev, info);
}

/* Says why and what to do, once per server opened, from whichever thread learns it first (the
 * reactor's on_failed, or render()). */
void ezr_sink_post_server_failure(GstEzrtmpServerSink *self, guint port, const gchar *why)
{
    if (!g_atomic_int_compare_and_exchange(&self->failure_posted, FALSE, TRUE))
        return;
    GST_ELEMENT_ERROR(self, RESOURCE, FAILED,
                      ("The RTMP server on port %u stopped and serves no player any more. "
                       "Restart the pipeline (set it to NULL, then to PLAYING) to serve again.",
                       port),
                      ("%s", why ? why : "the reactor thread stopped on an error"));
}

/* The server thread, when it fails: the bus hears of it at once, even if no buffer comes. */
static void on_failed(void *ctx, uint16_t port, const char *why)
{
    ezr_sink_post_server_failure(ctx, port, why);
}

/* Fails READY for a location that did not parse, or asked for TLS that is not configured. */
static gboolean check_location(GstElement *self, const struct ezr_sink_settings *set)
{
    if (set->bad_location) {
        GST_ELEMENT_ERROR(
            self, RESOURCE, SETTINGS,
            ("location \"%s\" is not a URL to serve: %s", set->bad_location, set->bad_location_why),
            ("expected rtmp://HOST:PORT/APP/STREAM-KEY or rtmps://..."));
        return FALSE;
    }
    if (set->location_tls && !(set->tls_certificate && *set->tls_certificate)) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                          ("location rtmps://%s:%d/%s/%s needs a tls-certificate", set->host,
                           set->port, set->app, set->stream_key),
                          (NULL));
        return FALSE;
    }
    return TRUE;
}

struct ezr_server *ezr_element_open_server(GstElement *self, const struct ezr_sink_settings *set,
                                           struct ezr_server_config *cfg, char *tls_error,
                                           size_t tls_error_size)
{
    char where[264];
    ezr_net_format_host_port(cfg->host ? cfg->host : "", cfg->port, where, sizeof where);
    cfg->error_msg = tls_error;
    cfg->error_msg_size = tls_error_size;
    cfg->log = ezr_element_server_log;
    cfg->log_wants = ezr_element_server_log_wants;
    cfg->log_ctx = NULL;
    if (!check_location(self, set))
        return NULL;
    if (cfg->tls_only && !(cfg->tls_certificate && *cfg->tls_certificate)) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("tls-only needs a tls-certificate"), (NULL));
        return NULL;
    }
    int rc = 0;
    gchar *ignored = NULL;
    struct ezr_server *server = ezr_server_pool_acquire(cfg, &rc, &ignored);
    if (ignored) {
        /* Joined a server another element opened (same host and port): its settings hold. */
        GST_ELEMENT_WARNING(self, RESOURCE, SETTINGS,
                            ("%s is served by a server another element opened: this element's "
                             "%s does not apply", where, ignored),
                            (NULL));
        g_free(ignored);
    }
    if (!server && rc == EZR_ETLS)
        GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ,
                          ("Could not load the TLS certificate or key: %s", tls_error),
                          ("ezr_server_new() failed with %d", rc));
    else if (!server)
        GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ_WRITE,
                          ("Could not listen on %s: %s", where, ezr_strerror(rc)),
                          ("ezr_server_new() failed with %d", rc));
    return server;
}

gboolean ezr_sink_open_server(GstEzrtmpServerSink *self)
{
    struct ezr_sink_settings set;
    GST_OBJECT_LOCK(self);
    ezr_sink_settings_copy(&set, &self->settings);
    GST_OBJECT_UNLOCK(self);
    struct ezr_server_config cfg;
    ezr_server_config_init(&cfg);
    struct ezr_stream_config sc = {0};
    ezr_sink_settings_to_config(&set, &cfg, &sc);
    char tls_error[512] = "";
    sc.on_client = on_client;
    sc.client_ctx = self;
    sc.on_failed = on_failed;
    sc.failed_ctx = self;
    const gchar *app = set.app, *key = set.stream_key, *allowed = set.allowed_clients;
    /* host:port as in a URL, "[::]:1935" for IPv6, for messages: a DNS name is at most 253
     * bytes, plus brackets, a colon and 5 digits. */
    char where[264];
    ezr_net_format_host_port(cfg.host ? cfg.host : "", cfg.port, where, sizeof where);

    struct ezr_stream *stream = NULL;
    int rc = 0;
    struct ezr_server *server = NULL;
    if (!(cfg.queue_warning_bytes < cfg.queue_high_bytes &&
          cfg.queue_high_bytes < cfg.queue_max_bytes)) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                          ("queue-warning-bytes (%u) < queue-high-bytes (%u) < queue-max-bytes "
                           "(%u) must hold",
                           cfg.queue_warning_bytes, cfg.queue_high_bytes, cfg.queue_max_bytes),
                          (NULL));
        goto out;
    }
    if (sc.hls && !cfg.http) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("hls needs http=true"),
                          ("LL-HLS is served over HTTP on the element's port"));
        goto out;
    }
    if (sc.hls_group && *sc.hls_group && (!sc.hls || strchr(sc.hls_group, '/'))) {
        GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                          ("hls-group \"%s\" needs hls=true and a name without '/'", sc.hls_group),
                          ("the group's multivariant playlist is http://HOST:PORT/APP/GROUP.m3u8"));
        goto out;
    }
    server = ezr_element_open_server(GST_ELEMENT(self), &set, &cfg, tls_error, sizeof tls_error);
    g_atomic_int_set(&self->failure_posted, FALSE); /* a new server, or a stream new to it */
    if (!server)
        goto out;
    rc = ezr_server_add_stream(server, &sc, &stream);
    if (rc < 0) {
        if (rc == EZR_EINVAL && allowed && *allowed)
            GST_ELEMENT_ERROR(
                self, RESOURCE, SETTINGS,
                ("allowed-clients \"%s\" is not a list of addresses or CIDR ranges", allowed),
                ("e.g. \"127.0.0.1/32, 10.0.0.0/8, ::1\""));
        else if (rc == EZR_EEXIST)
            GST_ELEMENT_ERROR(
                self, RESOURCE, BUSY,
                ("rtmp://%s/%s/%s is already served by another element", where, app, key),
                ("give each element on one port its own app or stream-key"));
        else
            GST_ELEMENT_ERROR(
                self, RESOURCE, SETTINGS,
                ("Cannot serve rtmp://%s/%s/%s: %s", where, app, key, ezr_strerror(rc)), (NULL));
        ezr_server_pool_release(server);
        server = NULL;
        goto out;
    }
    ezr_net_format_host_port(cfg.host ? cfg.host : "", ezr_server_port(server), where,
                             sizeof where);
    GST_INFO_OBJECT(self, "serving rtmp://%s/%s/%s", where, app, key);
    g_mutex_lock(&self->lock);
    self->server = server;
    self->stream = stream;
    self->bound_port = ezr_server_port(server);
    g_mutex_unlock(&self->lock);
out:
    ezr_sink_settings_clear(&set);
    return server != NULL;
}

struct ezr_stream *ezr_sink_stream_acquire(GstEzrtmpServerSink *self, struct ezr_server **server)
{
    g_mutex_lock(&self->lock);
    struct ezr_stream *st = self->stream;
    *server = self->server;
    if (st)
        self->users++;
    g_mutex_unlock(&self->lock);
    return st;
}

void ezr_sink_stream_release(GstEzrtmpServerSink *self)
{
    g_mutex_lock(&self->lock);
    if (--self->users == 0)
        g_cond_broadcast(&self->idle);
    g_mutex_unlock(&self->lock);
}

void ezr_sink_close_server(GstEzrtmpServerSink *self)
{
    g_mutex_lock(&self->lock);
    struct ezr_server *server = self->server;
    struct ezr_stream *stream = self->stream;
    self->server = NULL;
    self->stream = NULL;
    self->bound_port = 0;
    /* Users finish quickly: a stats query waits at most STATS_TIMEOUT_MS for the server thread,
     * and on that thread (a client handler) it answers at once. A handler run by the removal
     * below finds no stream, so it never waits here. */
    while (self->users > 0)
        g_cond_wait(&self->idle, &self->lock);
    g_mutex_unlock(&self->lock);
    if (!server)
        return;
    if (ezr_server_failed(server)) {
        /* Removing a stream waits for the reactor thread, which has stopped: the stream is
         * freed with the server instead. */
        ezr_server_pool_release_failed(server, G_OBJECT(self));
        return;
    }
    ezr_server_remove_stream(server, stream);
    ezr_server_pool_release(server);
}
