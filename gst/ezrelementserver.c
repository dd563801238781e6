/* What both elements (the sink and the source) do alike with the server they share through the
 * pool: open it with the errors a person can act on, its log lines on the debug category, a
 * client's arrival and departure as signals and bus messages, and the handle they hold it by
 * (struct ezr_element_server); see ezrelementserver.h. */
#include "ezrelementserver.h"

#include "ezr_error.h"
#include "ezr_net.h"
#include "ezrserverpool.h"

#define GST_CAT_DEFAULT ezrtmp_debug

/* The library's levels as GStreamer's, for the lines and for the filter alike. */
static GstDebugLevel gst_level_of(enum ezr_log_level level)
{
    return level == EZR_LOG_ERROR     ? GST_LEVEL_ERROR
           : level == EZR_LOG_WARNING ? GST_LEVEL_WARNING
           : level == EZR_LOG_INFO    ? GST_LEVEL_INFO
                                      : GST_LEVEL_DEBUG;
}

/* The library's log lines, on our debug category. Called from the server thread. A server may
 * be shared by several elements, so its lines name no element. */
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

void ezr_element_server_init(struct ezr_element_server *es)
{
    g_mutex_init(&es->lock);
    g_cond_init(&es->idle);
    es->users = 0;
    es->server = NULL;
    es->point = NULL;
    es->bound_port = 0;
}

void ezr_element_server_clear(struct ezr_element_server *es)
{
    g_cond_clear(&es->idle);
    g_mutex_clear(&es->lock);
}

void ezr_element_server_set(struct ezr_element_server *es, struct ezr_server *server, void *point)
{
    g_mutex_lock(&es->lock);
    es->server = server;
    es->point = point;
    es->bound_port = ezr_server_port(server);
    g_mutex_unlock(&es->lock);
}

void *ezr_element_server_acquire(struct ezr_element_server *es, struct ezr_server **server)
{
    g_mutex_lock(&es->lock);
    void *point = es->point;
    *server = es->server;
    if (point)
        es->users++;
    g_mutex_unlock(&es->lock);
    return point;
}

void ezr_element_server_release(struct ezr_element_server *es)
{
    g_mutex_lock(&es->lock);
    if (--es->users == 0)
        g_cond_broadcast(&es->idle);
    g_mutex_unlock(&es->lock);
}

guint ezr_element_server_bound_port(struct ezr_element_server *es)
{
    g_mutex_lock(&es->lock);
    guint port = es->bound_port;
    g_mutex_unlock(&es->lock);
    return port;
}

void ezr_element_server_close(struct ezr_element_server *es, GObject *owner,
                              void (*remove)(struct ezr_server *server, void *point))
{
    g_mutex_lock(&es->lock);
    struct ezr_server *server = es->server;
    void *point = es->point;
    es->server = NULL;
    es->point = NULL;
    es->bound_port = 0;
    /* Users finish quickly: a stats query waits at most the sink's STATS_TIMEOUT_MS for the
     * server thread, and on that thread (a client handler) it answers at once. A handler run by
     * the removal below finds no point, so it never waits here. */
    while (es->users > 0)
        g_cond_wait(&es->idle, &es->lock);
    g_mutex_unlock(&es->lock);
    if (!server)
        return;
    if (ezr_server_failed(server)) {
        /* Removing a stream or a publish point waits for the reactor thread, which has stopped:
         * the point is freed with the server instead. */
        ezr_server_pool_release_failed(server, owner);
        return;
    }
    remove(server, point);
    ezr_server_pool_release(server);
}
