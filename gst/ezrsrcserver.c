/* The server the source takes its publisher on, shared with sinks of the same host and port
 * through the pool (one port for both directions), and its publish point: registered in
 * NULL -> READY, removed in READY -> NULL; the publisher's arrival and departure as signals, and
 * the stats property. */
#include "ezr_error.h"
#include "ezr_net.h"
#include "ezrelementserver.h"
#include "ezrserverpool.h"
#include "gstezrtmpserversrcpriv.h"

#define GST_CAT_DEFAULT ezrtmp_debug

/* The publisher came or went (server thread). */
static void on_client(void *ctx, enum ezr_client_event ev, const struct ezr_client_info *info)
{
    ezr_element_client_event(ctx, ezr_src_signals[EZR_SRC_SIGNAL_CLIENT_ADDED],
                             ezr_src_signals[EZR_SRC_SIGNAL_CLIENT_REMOVED], ev, info);
}

gboolean ezr_src_open_server(GstEzrtmpServerSrc *self)
{
    struct ezr_sink_settings set;
    GST_OBJECT_LOCK(self);
    ezr_sink_settings_copy(&set, &self->settings);
    GST_OBJECT_UNLOCK(self);
    struct ezr_server_config cfg;
    ezr_server_config_init(&cfg);
    struct ezr_stream_config unused = {0};
    ezr_sink_settings_to_config(&set, &cfg, &unused);
    struct ezr_ingest_config ic = {
        .app = set.app,
        .key = set.stream_key,
        .allowed_clients = set.allowed_clients,
        .publish_token = set.publish_token,
        .max_bytes = set.max_bytes,
        .timeout_ms = set.timeout * 1000u,
        .on_client = on_client,
        .client_ctx = self,
    };
    char tls_error[512] = "", where[264];
    struct ezr_ingest *ing = NULL;
    struct ezr_server *server =
        ezr_element_open_server(GST_ELEMENT(self), &set, &cfg, tls_error, sizeof tls_error);
    if (!server)
        goto out;
    ezr_net_format_host_port(cfg.host ? cfg.host : "", ezr_server_port(server), where,
                             sizeof where);
    int rc = ezr_server_add_ingest(server, &ic, &ing);
    if (rc < 0) {
        if (rc == EZR_EINVAL && set.allowed_clients && *set.allowed_clients)
            GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                              ("allowed-clients \"%s\" is not a list of addresses or CIDR ranges",
                               set.allowed_clients),
                              ("e.g. \"127.0.0.1/32, 10.0.0.0/8, ::1\""));
        else if (rc == EZR_EEXIST)
            GST_ELEMENT_ERROR(self, RESOURCE, BUSY,
                              ("rtmp://%s/%s/%s already takes a publisher for another element",
                               where, set.app, set.stream_key),
                              ("give each ezrtmpserversrc on one port its own app or stream-key"));
        else
            GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                              ("Cannot take publishers on rtmp://%s/%s/%s: %s", where, set.app,
                               set.stream_key, ezr_strerror(rc)),
                              (NULL));
        ezr_server_pool_release(server);
        server = NULL;
        goto out;
    }
    GST_INFO_OBJECT(self, "publishers publish to rtmp://%s/%s/%s", where, set.app,
                    set.stream_key);
    ezr_element_server_set(&self->serving, server, ing);
out:
    ezr_sink_settings_clear(&set);
    return server != NULL;
}

/* The source's point is its publish point. */
static void remove_ingest(struct ezr_server *server, void *ing)
{
    ezr_server_remove_ingest(server, ing);
}

void ezr_src_close_server(GstEzrtmpServerSrc *self)
{
    ezr_element_server_close(&self->serving, G_OBJECT(self), remove_ingest);
}

GstStructure *ezr_src_make_stats(GstEzrtmpServerSrc *self)
{
    struct ezr_publisher_stats st = {0};
    struct ezr_server *server;
    struct ezr_ingest *ing = ezr_element_server_acquire(&self->serving, &server);
    if (ing) {
        ezr_ingest_get_stats(ing, &st);
        ezr_element_server_release(&self->serving);
    }
    return gst_structure_new(
        "ezrtmpserversrc-stats", "publishing", G_TYPE_BOOLEAN, (gboolean)st.publishing,
        "publisher-id", G_TYPE_UINT64, (guint64)st.id, "publisher-address", G_TYPE_STRING, st.addr,
        "bytes-in", G_TYPE_UINT64, (guint64)st.bytes_in, "tags", G_TYPE_UINT64, (guint64)st.tags,
        "video-frames", G_TYPE_UINT64, (guint64)st.video_frames, "audio-frames", G_TYPE_UINT64,
        (guint64)st.audio_frames, "keyframes", G_TYPE_UINT64, (guint64)st.keyframes, "bitrate",
        G_TYPE_UINT64, (guint64)st.bitrate, "connected-ms", G_TYPE_UINT64,
        (guint64)st.connected_ms, "publishes", G_TYPE_UINT64, (guint64)st.publishes,
        "publishes-refused", G_TYPE_UINT64, (guint64)st.refused, "held", G_TYPE_UINT64,
        (guint64)st.held, "queued-bytes", G_TYPE_UINT64, (guint64)st.queued_bytes, "max-bytes",
        G_TYPE_UINT64, (guint64)st.max_bytes, NULL);
}
