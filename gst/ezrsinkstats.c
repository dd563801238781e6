/* The element's stats: the library's snapshot of its stream (ezr_stream_get_stats) and the
 * element's own input counters, marshalled into GstStructures field by field as the library's
 * stats schema (ezr_stats_schema.h) names them, the same schema /metrics prints. */
#include <stdlib.h>
#include <string.h>

#include "ezr_stats_schema.h"
#include "gstezrtmpserversinkpriv.h"

/* How long a stats query waits for the server thread. */
#define STATS_TIMEOUT_MS 1000

static void set_field(GstStructure *s, const struct ezr_stat_field *f, const void *stats)
{
    switch (f->type) {
    case EZR_STAT_U32:
        gst_structure_set(s, f->name, G_TYPE_UINT, (guint)ezr_stat_u64(f, stats), NULL);
        break;
    case EZR_STAT_U64:
        gst_structure_set(s, f->name, G_TYPE_UINT64, (guint64)ezr_stat_u64(f, stats), NULL);
        break;
    case EZR_STAT_DOUBLE:
        gst_structure_set(s, f->name, G_TYPE_DOUBLE, ezr_stat_number(f, stats), NULL);
        break;
    case EZR_STAT_BOOL:
        gst_structure_set(s, f->name, G_TYPE_BOOLEAN, (gboolean)ezr_stat_u64(f, stats), NULL);
        break;
    case EZR_STAT_STRING:
        gst_structure_set(s, f->name, G_TYPE_STRING, ezr_stat_string(f, stats), NULL);
        break;
    }
}

static GstStructure *client_structure(const struct ezr_client_stats *c)
{
    GstStructure *s = gst_structure_new_empty("ezrtmp-client");
    for (size_t i = 0; i < ezr_stats_client_schema_len; i++)
        set_field(s, &ezr_stats_client_schema[i], c);
    return s;
}

/* The stream's counters from the server thread; FALSE when not serving (or while the stream is
 * being removed: a client-removed handler then gets no server counters). */
static gboolean query_stream(GstEzrtmpServerSink *self, struct ezr_stream_stats *out,
                             struct ezr_client_stats **clients, size_t *n)
{
    gboolean ok = FALSE;
    struct ezr_server *server;
    struct ezr_stream *st = ezr_element_server_acquire(&self->serving, &server);
    if (!st)
        return FALSE;
    /* A stopped reactor would make us wait the whole timeout for nothing. */
    if (!ezr_server_failed(server))
        ok = ezr_stream_get_stats(st, out, clients, n, STATS_TIMEOUT_MS) == 0;
    ezr_element_server_release(&self->serving);
    return ok;
}

GstStructure *ezr_sink_make_stats(GstEzrtmpServerSink *self)
{
    struct ezr_stream_stats st = {0};
    struct ezr_client_stats *clients = NULL;
    size_t n = 0;
    if (!query_stream(self, &st, &clients, &n))
        memset(&st, 0, sizeof st);
    /* Ours, not the library's copy: they are there when not serving, and always current. */
    GST_OBJECT_LOCK(self);
    st.ingest = self->ingest;
    GST_OBJECT_UNLOCK(self);

    GstStructure *s = gst_structure_new_empty("ezrtmpserversink-stats");
    for (size_t i = 0; i < ezr_stats_stream_schema_len; i++)
        set_field(s, &ezr_stats_stream_schema[i], &st);
    GValue list = G_VALUE_INIT;
    g_value_init(&list, GST_TYPE_ARRAY);
    for (size_t i = 0; i < n; i++) {
        GValue v = G_VALUE_INIT;
        g_value_init(&v, GST_TYPE_STRUCTURE);
        g_value_take_boxed(&v, client_structure(&clients[i]));
        gst_value_array_append_and_take_value(&list, &v);
    }
    gst_structure_take_value(s, "client-list", &list);
    free(clients);
    return s;
}

GstStructure *ezr_sink_get_client_stats(GstEzrtmpServerSink *self, guint64 id)
{
    struct ezr_stream_stats st;
    struct ezr_client_stats *clients = NULL;
    size_t n = 0;
    GstStructure *s = NULL;
    if (query_stream(self, &st, &clients, &n))
        for (size_t i = 0; i < n && !s; i++)
            if (clients[i].id == id)
                s = client_structure(&clients[i]);
    free(clients);
    return s;
}

gchar *ezr_sink_stats_blurb(void)
{
    GString *b = g_string_new("The element's and its server's counters, a field each (on "
                              "/metrics too, see the metrics property): ");
    const char *family = NULL;
    for (size_t i = 0; i < ezr_stats_stream_schema_len; i++) {
        const struct ezr_stat_field *f = &ezr_stats_stream_schema[i];
        if (i > 0)
            g_string_append(b, "; ");
        family = f->metric;
        g_string_append(b, f->name);
        /* The help of the family follows its last field. */
        const char *help = f->help;
        size_t j = i + 1;
        while (j < ezr_stats_stream_schema_len && ezr_stats_stream_schema[j].metric &&
               g_strcmp0(ezr_stats_stream_schema[j].metric, family) == 0)
            g_string_append_printf(b, ", %s", ezr_stats_stream_schema[j++].name);
        i = j - 1;
        if (help) {
            g_string_append(b, ": ");
            g_string_append_len(b, help, (gssize)strlen(help) - 1); /* without its full stop */
        }
    }
    g_string_append(b, " (the server-wide ones from connections on count every stream of the "
                       "port); and client-list, an array of per-player structures (client-id, "
                       "address, protocol: rtmp, http-flv or ws-flv, bytes-sent, bytes-queued, "
                       "frames-dropped, connected-ms, lag-ms, tls: over TLS, ktls: its TLS "
                       "records sent by the kernel)");
    return g_string_free(b, FALSE);
}
