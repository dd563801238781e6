/* Embedding ezrtmpserversink in an application: serve a test stream, print players as they come
 * and go (from the element's signals) and the server's counters every two seconds.
 *
 *   GST_PLUGIN_PATH=build/gst build/examples/ezrtmp-embed [--port N] [--seconds S]
 *
 * --port 0 picks a free port; --seconds stops after that long (default: run until Ctrl-C). */
#include <gst/gst.h>
#include <stdlib.h>
#include <string.h>

static void on_added(GstElement *sink, guint64 id, const gchar *address, gpointer data)
{
    /* The server thread emits this: keep it short. */
    g_print("client-added id=%" G_GUINT64_FORMAT " address=%s\n", id, address);
}

static void on_removed(GstElement *sink, guint64 id, const gchar *reason, gpointer data)
{
    g_print("client-removed id=%" G_GUINT64_FORMAT " reason=\"%s\"\n", id, reason);
}

static gboolean print_stats(gpointer data)
{
    GstStructure *s = NULL;
    g_object_get(data, "stats", &s, NULL);
    guint clients = 0;
    guint64 sent = 0, frames = 0;
    gst_structure_get_uint(s, "clients", &clients);
    gst_structure_get_uint64(s, "bytes-sent", &sent);
    gst_structure_get_uint64(s, "video-frames", &frames);
    g_print("stats: clients=%u bytes-sent=%" G_GUINT64_FORMAT " video-frames-in=%" G_GUINT64_FORMAT
            "\n",
            clients, sent, frames);
    gst_structure_free(s);
    return G_SOURCE_CONTINUE;
}

static gboolean on_bus(GstBus *bus, GstMessage *msg, gpointer loop)
{
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
        GError *err = NULL;
        gst_message_parse_error(msg, &err, NULL);
        g_printerr("error: %s\n", err->message);
        g_error_free(err);
        g_main_loop_quit(loop);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean quit(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    gint port = 1935, seconds = 0;
    GOptionEntry entries[] = {
        {"port", 'p', 0, G_OPTION_ARG_INT, &port, "TCP port (0: any free port)", "N"},
        {"seconds", 's', 0, G_OPTION_ARG_INT, &seconds, "Stop after S seconds", "S"},
        {NULL}};
    GOptionContext *ctx = g_option_context_new("- serve a test stream over RTMP");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_add_group(ctx, gst_init_get_option_group());
    GError *err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        g_printerr("%s\n", err->message);
        return 2;
    }
    g_option_context_free(ctx);

    gchar *desc = g_strdup_printf(
        "videotestsrc is-live=true ! video/x-raw,width=640,height=360,framerate=30/1 "
        "! x264enc tune=zerolatency speed-preset=veryfast key-int-max=30 ! h264parse "
        "! flvmux streamable=true ! ezrtmpserversink name=sink host=127.0.0.1 port=%d",
        port);
    GstElement *pipeline = gst_parse_launch(desc, &err);
    g_free(desc);
    if (!pipeline) {
        g_printerr("%s\n", err->message);
        return 1;
    }
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    g_signal_connect(sink, "client-added", G_CALLBACK(on_added), NULL);
    g_signal_connect(sink, "client-removed", G_CALLBACK(on_removed), NULL);

    GMainLoop *loop = g_main_loop_new(NULL, FALSE);
    GstBus *bus = gst_element_get_bus(pipeline);
    gst_bus_add_watch(bus, on_bus, loop);
    int status = 0;
    if (gst_element_set_state(pipeline, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE) {
        GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
        if (m) {
            on_bus(bus, m, loop);
            gst_message_unref(m);
        }
        status = 1;
    } else {
        gint bound = 0;
        g_object_get(sink, "bound-port", &bound, NULL);
        g_print("serving rtmp://127.0.0.1:%d/live/stream\n", bound);
        gst_element_set_state(pipeline, GST_STATE_PLAYING);
        g_timeout_add_seconds(2, print_stats, sink);
        if (seconds > 0)
            g_timeout_add_seconds((guint)seconds, quit, loop);
        g_main_loop_run(loop);
    }
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_bus_remove_watch(bus);
    gst_object_unref(bus);
    gst_object_unref(sink);
    gst_object_unref(pipeline);
    g_main_loop_unref(loop);
    return status;
}
