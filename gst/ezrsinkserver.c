/* The server an element serves from and its stream: opened in NULL -> READY (through the
 * process's pool, ezrserverpool.h), closed in READY -> NULL, and the library's callbacks (log
 * lines, players added and removed, a failed reactor) turned into GStreamer's. */
#include "ezr_error.h"
#include "ezr_net.h"
#include "ezrelementserver.h"
#include "ezrserverpool.h"
#include "gstezrtmpserversinkpriv.h"

#define GST_CAT_DEFAULT ezrtmp_debug

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
    ezr_element_server_set(&self->serving, server, stream);
out:
    ezr_sink_settings_clear(&set);
    return server != NULL;
}

/* The sink's point is its stream. */
static void remove_stream(struct ezr_server *server, void *stream)
{
    ezr_server_remove_stream(server, stream);
}

void ezr_sink_close_server(GstEzrtmpServerSink *self)
{
    ezr_element_server_close(&self->serving, G_OBJECT(self), remove_stream);
}
