/* GstHarness test of ezrtmpserversink when its server's reactor thread fails: the pipeline gets
 * an error it can act on, at once and once, instead of serving nobody in silence. The failure is
 * real, not a hook, with either backend (reactor_break.h); it comes at the reactor's next wait,
 * with no buffer. Under LeakSanitizer these also check that a failed server is freed with all
 * it holds. */
#include <arpa/inet.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flv_fixture.h"
#include "reactor_break.h"
#include "rtmp_test_player.h"

static void break_reactor(struct reactor_break *b)
{
    fail_unless_equals_int(reactor_break(b), 0);
}

static void restore_reactor(struct reactor_break *b)
{
    fail_unless_equals_int(reactor_break_restore(b), 0);
}

/* The first error message on bus within 5 s, or NULL. Polls: with the limit lowered a blocking
 * pop is best avoided (it polls descriptors of its own). */
static GstMessage *wait_error(GstBus *bus)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    GstMessage *m;
    while (!(m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) && g_get_monotonic_time() < end)
        g_usleep(5000);
    return m;
}

/* Pushes inter frames until the element refuses one; the reactor stops at its next wake-up
 * (a frame or its tick). Returns the last flow return, after at most 5 s. */
static GstFlowReturn push_until_refused(GstHarness *h)
{
    GstFlowReturn ret;
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    guint32 ts = 33;
    do {
        guint8 t[256];
        gsize n = flv_put_tag(t, 9, ts, flv_avc_inter, sizeof flv_avc_inter);
        ret = gst_harness_push(h, gst_buffer_new_memdup(t, n));
        ts += 33;
        if (ret == GST_FLOW_OK)
            g_usleep(10000);
    } while (ret == GST_FLOW_OK && g_get_monotonic_time() < end);
    return ret;
}

static void push_tag(GstHarness *h, guint8 type, guint32 ts, const guint8 *body, gsize len,
                     GstFlowReturn *ret)
{
    guint8 t[256];
    gsize n = flv_put_tag(t, type, ts, body, len);
    *ret = gst_harness_push(h, gst_buffer_new_memdup(t, n));
}

/* The port e listens on, read back in READY or later: elements that share a server ask the first
 * for port 0 and give the others the port it bound (a port picked free beforehand could be
 * taken by a test running beside this one). */
static gint bound_port(GstElement *e)
{
    gint port = 0;
    g_object_get(e, "bound-port", &port, NULL);
    fail_unless(port > 0, "bound-port is %d", port);
    return port;
}

/* The error as the element posts it: RESOURCE/FAILED, naming the port, what to do, and the
 * library's own words on the cause. */
static void check_failure_message(GstMessage *m, GstElement *e, gint port)
{
    fail_unless(m != NULL, "no error message on the bus");
    fail_unless(GST_MESSAGE_SRC(m) == GST_OBJECT(e));
    GError *err = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error(m, &err, &dbg);
    fail_unless(g_error_matches(err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED), "error %s",
                err->message);
    gchar *want = g_strdup_printf("The RTMP server on port %d stopped", port);
    fail_unless(g_str_has_prefix(err->message, want), "message: %s", err->message);
    fail_unless(strstr(err->message, "Restart the pipeline") != NULL, "message: %s", err->message);
    fail_unless(dbg && strstr(dbg, "the reactor failed (Invalid argument)") != NULL, "details: %s",
                dbg);
    g_free(want);
    g_free(dbg);
    g_error_free(err);
}

GST_START_TEST(test_reactor_failure_is_a_resource_error_at_once)
{
    struct reactor_break br;
    reactor_break_init(&br);
    GstElement *e = gst_element_factory_make("ezrtmpserversink", NULL);
    g_object_set(e, "port", 0, "sync", FALSE, NULL);
    GstHarness *h = gst_harness_new_with_element(e, "sink", NULL);
    gst_harness_set_src_caps_str(h, "video/x-flv");
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    GstFlowReturn ret;
    guint8 head[sizeof flv_file_header];
    memcpy(head, flv_file_header, sizeof head);
    fail_unless_equals_int(gst_harness_push(h, gst_buffer_new_memdup(head, sizeof head)),
                           GST_FLOW_OK);
    push_tag(h, 9, 0, flv_avc_key, sizeof flv_avc_key, &ret);
    fail_unless_equals_int(ret, GST_FLOW_OK);
    gint port = bound_port(e);

    /* No buffer from here on: the server thread itself tells the bus. */
    break_reactor(&br);
    GstMessage *m = wait_error(bus);
    restore_reactor(&br);
    check_failure_message(m, e, port);
    gst_message_unref(m);

    /* The next buffer fails too, without a second error message. */
    push_tag(h, 9, 33, flv_avc_inter, sizeof flv_avc_inter, &ret);
    fail_unless_equals_int(ret, GST_FLOW_ERROR);
    m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    fail_unless(m == NULL, "the failure was posted twice");

    /* Going to NULL does not wait for the stopped reactor thread. */
    gint64 t0 = g_get_monotonic_time();
    fail_unless_equals_int(gst_element_set_state(e, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
    fail_unless(g_get_monotonic_time() - t0 < G_USEC_PER_SEC / 2);
    gst_element_set_bus(e, NULL);
    gst_object_unref(bus);
    gst_harness_teardown(h);
    gst_object_unref(e);
}
GST_END_TEST;

static void count_removed(GstElement *e, guint64 id, const gchar *reason, gpointer data)
{
    GstStructure *s = NULL;
    g_object_get(e, "stats", &s, NULL); /* the element is alive: this must not crash */
    gst_structure_free(s);
    g_atomic_int_inc((gint *)data);
}

GST_START_TEST(test_failed_shared_server_keeps_element_until_freed)
{
    /* Two elements on one port share a server. After its reactor fails, sink_a goes to NULL
     * first and cannot remove its stream (that waits for the stopped thread): the stream stays
     * in the server until sink_b releases it, and freeing it then calls sink_a's
     * client-removed handler. So sink_a must outlive the server. */
    struct reactor_break br;
    reactor_break_init(&br);
    GstElement *sink_a = gst_element_factory_make("ezrtmpserversink", NULL);
    GstElement *sink_b = gst_element_factory_make("ezrtmpserversink", NULL);
    /* sink_b opens the server on a free port, sink_a joins it on the port sink_b bound. */
    g_object_set(sink_b, "host", "127.0.0.1", "port", 0, "stream-key", "other", NULL);
    fail_unless_equals_int(gst_element_set_state(sink_b, GST_STATE_READY),
                           GST_STATE_CHANGE_SUCCESS);
    gint port = bound_port(sink_b);
    g_object_set(sink_a, "host", "127.0.0.1", "port", port, "sync", FALSE, NULL);
    gint removed = 0;
    g_signal_connect(sink_a, "client-removed", G_CALLBACK(count_removed), &removed);
    GstHarness *h = gst_harness_new_with_element(sink_a, "sink", NULL);
    gst_harness_set_src_caps_str(h, "video/x-flv");
    guint8 head[sizeof flv_file_header];
    memcpy(head, flv_file_header, sizeof head);
    fail_unless_equals_int(gst_harness_push(h, gst_buffer_new_memdup(head, sizeof head)),
                           GST_FLOW_OK);
    GstFlowReturn ret;
    push_tag(h, 9, 0, flv_avc_key, sizeof flv_avc_key, &ret);
    fail_unless_equals_int(ret, GST_FLOW_OK);
    int fd = play(port); /* plays sink_a's stream */
    fail_unless(fd >= 0, "the player could not play");

    break_reactor(&br);
    fail_unless_equals_int(push_until_refused(h), GST_FLOW_ERROR);
    restore_reactor(&br);

    gpointer alive = sink_a;
    g_object_add_weak_pointer(G_OBJECT(sink_a), &alive);
    gst_harness_teardown(h); /* to NULL, and the harness drops its reference */
    gst_object_unref(sink_a);
    fail_unless(alive != NULL, "sink_a was freed while its stream is in the server");
    fail_unless_equals_int(g_atomic_int_get(&removed), 0);

    /* The last release frees the server, its streams and their players. */
    fail_unless_equals_int(gst_element_set_state(sink_b, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
    fail_unless_equals_int(g_atomic_int_get(&removed), 1);
    fail_unless(alive == NULL, "sink_a outlived the server");
    gst_object_unref(sink_b);
    fail_unless(closed_by_server(fd, mono_ms() + DEADLINE_MS),
                "the server did not close the player");
}
GST_END_TEST;

GST_START_TEST(test_every_element_of_a_failed_server_is_told_once)
{
    /* Two elements share a server; a third joins it after it failed. Each one's bus gets the
     * error, once, with no buffer pushed. */
    struct reactor_break br;
    reactor_break_init(&br);
    GstElement *sinks[3];
    GstBus *buses[3];
    for (int i = 0; i < 3; i++) {
        sinks[i] = gst_element_factory_make("ezrtmpserversink", NULL);
        gchar *key = g_strdup_printf("s%d", i);
        g_object_set(sinks[i], "host", "127.0.0.1", "port", 0, "stream-key", key, NULL);
        g_free(key);
        buses[i] = gst_bus_new();
        gst_element_set_bus(sinks[i], buses[i]);
    }
    /* The first opens the server on a free port, the others join it on the port it bound. */
    fail_unless_equals_int(gst_element_set_state(sinks[0], GST_STATE_READY),
                           GST_STATE_CHANGE_SUCCESS);
    gint port = bound_port(sinks[0]);
    g_object_set(sinks[1], "port", port, NULL);
    g_object_set(sinks[2], "port", port, NULL);
    fail_unless_equals_int(gst_element_set_state(sinks[1], GST_STATE_READY),
                           GST_STATE_CHANGE_SUCCESS);
    break_reactor(&br);
    for (int i = 0; i < 2; i++) {
        GstMessage *m = wait_error(buses[i]);
        if (i == 0)
            restore_reactor(&br);
        check_failure_message(m, sinks[i], port);
        gst_message_unref(m);
    }
    /* The failed server is still the port's (the first two hold it): the third shares it. */
    fail_unless_equals_int(gst_element_set_state(sinks[2], GST_STATE_READY),
                           GST_STATE_CHANGE_SUCCESS);
    GstMessage *m = wait_error(buses[2]);
    check_failure_message(m, sinks[2], port);
    gst_message_unref(m);
    for (int i = 0; i < 3; i++) {
        fail_unless(gst_bus_pop_filtered(buses[i], GST_MESSAGE_ERROR) == NULL,
                    "element %d was told twice", i);
        fail_unless_equals_int(gst_element_set_state(sinks[i], GST_STATE_NULL),
                               GST_STATE_CHANGE_SUCCESS);
    }
    for (int i = 0; i < 3; i++) {
        gst_element_set_bus(sinks[i], NULL);
        gst_object_unref(buses[i]);
        gst_object_unref(sinks[i]);
    }
}
GST_END_TEST;

static Suite *reactor_failure_suite(void)
{
    Suite *s = suite_create("ezrtmpserversink_reactor_failure");
    TCase *tc = tcase_create("general");
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_reactor_failure_is_a_resource_error_at_once);
    tcase_add_test(tc, test_failed_shared_server_keeps_element_until_freed);
    tcase_add_test(tc, test_every_element_of_a_failed_server_is_told_once);
    return s;
}

int main(int argc, char **argv)
{
    gst_check_init(&argc, &argv);
    return gst_check_run_suite(reactor_failure_suite(), "ezrtmpserversink_reactor_failure",
                               __FILE__);
}
