/* GstHarness tests of ezrtmpserversrc with a publisher over a real loopback socket
 * (rtmp_test_publisher.h): caps and the FLV header, metadata and sequence headers first, the
 * tags' times, a second publisher refused, a publisher that comes back continuing the timeline,
 * eos-on-unpublish, the publish token, a state change while create() waits, a flush, and two
 * sources of one name. The element
 * listens on an ephemeral port (port=0) in every test; the harness's test clock stands at 0, so
 * a publication starts at running time 0. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <string.h>

#include "flv_fixture.h"
#include "rtmp_test_publisher.h"

static GstHarness *new_harness(const gchar *props)
{
    gchar *desc = g_strdup_printf("ezrtmpserversrc port=0 stream-key=obs %s", props ? props : "");
    GstElement *e = gst_parse_launch(desc, NULL);
    g_free(desc);
    fail_unless(e != NULL);
    GstHarness *h = gst_harness_new_with_element(e, NULL, "src");
    gst_object_unref(e);
    gst_harness_play(h);
    return h;
}

static guint16 port_of(GstHarness *h)
{
    gint port = 0;
    g_object_get(h->element, "bound-port", &port, NULL);
    fail_unless(port > 0);
    return (guint16)port;
}

/* Metadata, both sequence headers, a keyframe at 0 and an inter frame at ts. */
static void publish_start(struct player *p, guint32 ts)
{
    fail_unless(publisher_send_metadata(p) == 0);
    fail_unless(publisher_send(p, 9, 0, flv_avc_hdr, sizeof flv_avc_hdr) == 0);
    fail_unless(publisher_send(p, 8, 0, flv_aac_hdr, sizeof flv_aac_hdr) == 0);
    fail_unless(publisher_send(p, 9, 0, flv_avc_key, sizeof flv_avc_key) == 0);
    fail_unless(publisher_send(p, 9, ts, flv_avc_inter, sizeof flv_avc_inter) == 0);
}

/* A tag's type and time from a buffer that holds one (after the FLV header if skip_header). */
static void tag_of(GstBuffer *b, gboolean skip_header, guint8 *type, guint32 *ts, gsize *size)
{
    GstMapInfo m;
    fail_unless(gst_buffer_map(b, &m, GST_MAP_READ));
    const guint8 *t = m.data + (skip_header ? 13 : 0);
    gsize body = (gsize)t[1] << 16 | (gsize)t[2] << 8 | t[3];
    fail_unless_equals_int(m.size, (skip_header ? 13 : 0) + 11 + body + 4);
    *type = t[0];
    *ts = (guint32)t[4] << 16 | (guint32)t[5] << 8 | t[6] | (guint32)t[7] << 24;
    if (size)
        *size = body;
    gst_buffer_unmap(b, &m);
}

GST_START_TEST(test_header_metadata_and_sequence_headers_come_first)
{
    GstHarness *h = new_harness(NULL);
    struct player p;
    fail_unless(publisher_open(&p, port_of(h), "live", "obs", NULL, 0) == 0);
    publish_start(&p, 33);
    GstBuffer *b = gst_harness_pull(h);
    GstMapInfo m;
    fail_unless(gst_buffer_map(b, &m, GST_MAP_READ));
    /* FLV, version 1, audio and video (from onMetaData's codec ids), header size 9, size 0. */
    fail_unless(memcmp(m.data, "FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00", 13) == 0);
    fail_unless_equals_int(m.data[13], 18);
    fail_unless(memcmp(m.data + 13 + 11, "\x02\x00\x0aonMetaData", 13) == 0);
    gst_buffer_unmap(b, &m);
    gst_buffer_unref(b);
    GstCaps *caps = gst_pad_get_current_caps(h->sinkpad);
    fail_unless(caps && gst_caps_is_equal(caps, gst_caps_from_string("video/x-flv")));
    gst_caps_unref(caps);
    guint8 type;
    guint32 ts;
    gsize size;
    const guint8 want[] = {9, 8, 9, 9};
    const guint32 want_ts[] = {0, 0, 0, 33};
    for (int i = 0; i < 4; i++) {
        b = gst_harness_pull(h);
        tag_of(b, FALSE, &type, &ts, &size);
        fail_unless_equals_int(type, want[i]);
        fail_unless_equals_int(ts, want_ts[i]);
        fail_unless_equals_uint64(GST_BUFFER_DTS(b), want_ts[i] * GST_MSECOND);
        gst_buffer_unref(b);
    }
    player_close(&p);
    gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_second_publisher_gets_bad_name)
{
    GstHarness *h = new_harness(NULL);
    struct player p1, p2;
    char code[64];
    fail_unless(publisher_open(&p1, port_of(h), "live", "obs", NULL, 0) == 0);
    fail_unless(publisher_open(&p2, port_of(h), "live", "obs", code, sizeof code) < 0);
    fail_unless_equals_string(code, "NetStream.Publish.BadName");
    fail_unless(closed_by_server(p2.fd, mono_ms() + DEADLINE_MS));
    p2.fd = -1;
    player_close(&p2);
    /* The first still publishes. */
    publish_start(&p1, 40);
    GstBuffer *b = gst_harness_pull(h);
    gst_buffer_unref(b);
    GstStructure *s = NULL;
    g_object_get(h->element, "stats", &s, NULL);
    guint64 refused = 0;
    gboolean publishing = FALSE;
    fail_unless(gst_structure_get_uint64(s, "publishes-refused", &refused));
    fail_unless(gst_structure_get_boolean(s, "publishing", &publishing));
    fail_unless_equals_uint64(refused, 1);
    fail_unless(publishing);
    gst_structure_free(s);
    player_close(&p1);
    gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_reconnected_publisher_continues_past_the_last_time)
{
    GstHarness *h = new_harness(NULL);
    struct player p;
    fail_unless(publisher_open(&p, port_of(h), "live", "obs", NULL, 0) == 0);
    publish_start(&p, 1000);
    for (int i = 0; i < 5; i++)
        gst_buffer_unref(gst_harness_pull(h));
    player_close(&p);
    /* The next publisher's clock starts at 0 again, with new sequence headers. */
    fail_unless(publisher_open(&p, port_of(h), "live", "obs", NULL, 0) == 0);
    fail_unless(publisher_send(&p, 9, 0, flv_avc_hdr, sizeof flv_avc_hdr) == 0);
    fail_unless(publisher_send(&p, 9, 0, flv_avc_key, sizeof flv_avc_key) == 0);
    fail_unless(publisher_send(&p, 9, 40, flv_avc_inter, sizeof flv_avc_inter) == 0);
    guint8 type;
    guint32 ts[3];
    for (int i = 0; i < 3; i++) {
        GstBuffer *b = gst_harness_pull(h);
        tag_of(b, FALSE, &type, &ts[i], NULL);
        fail_unless_equals_int(type, 9);
        gst_buffer_unref(b);
    }
    fail_unless_equals_int(ts[0], 1001); /* just past the last tag sent */
    fail_unless_equals_int(ts[1], 1001);
    fail_unless_equals_int(ts[2], 1041);
    player_close(&p);
    gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_eos_on_unpublish_sends_eos)
{
    GstHarness *h = new_harness("eos-on-unpublish=true");
    struct player p;
    fail_unless(publisher_open(&p, port_of(h), "live", "obs", NULL, 0) == 0);
    publish_start(&p, 33);
    publisher_unpublish(&p);
    for (int i = 0; i < 5; i++)
        gst_buffer_unref(gst_harness_pull(h));
    GstEvent *ev;
    gboolean eos = FALSE;
    while (!eos && (ev = gst_harness_pull_event(h))) {
        eos = GST_EVENT_TYPE(ev) == GST_EVENT_EOS;
        gst_event_unref(ev);
    }
    fail_unless(eos);
    player_close(&p);
    gst_harness_teardown(h);
}
GST_END_TEST;

static void count_added(GstElement *e, guint64 id, const gchar *addr, gint *n)
{
    g_atomic_int_inc(n);
}

GST_START_TEST(test_publish_token_is_required_and_client_added_fires)
{
    GstHarness *h = new_harness("publish-token=s3cret");
    gint added = 0;
    g_signal_connect(h->element, "client-added", G_CALLBACK(count_added), &added);
    struct player p;
    char code[64];
    fail_unless(publisher_open(&p, port_of(h), "live", "obs", code, sizeof code) < 0);
    fail_unless_equals_string(code, "NetStream.Publish.BadName");
    player_close(&p);
    fail_unless(publisher_open(&p, port_of(h), "live", "obs?token=s3cret", NULL, 0) == 0);
    publish_start(&p, 33);
    gst_buffer_unref(gst_harness_pull(h));
    fail_unless_equals_int(g_atomic_int_get(&added), 1);
    player_close(&p);
    gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_state_change_while_waiting_for_a_publisher_does_not_hang)
{
    GstHarness *h = new_harness(NULL);
    /* create() waits for a publisher that never comes; NULL must unlock it at once. */
    g_usleep(300 * 1000);
    gint64 t0 = g_get_monotonic_time();
    fail_unless_equals_int(gst_element_set_state(h->element, GST_STATE_NULL),
                           GST_STATE_CHANGE_SUCCESS);
    fail_unless(g_get_monotonic_time() - t0 < 2 * G_USEC_PER_SEC);
    gst_harness_teardown(h);
}
GST_END_TEST;

static guint64 queued_bytes(GstHarness *h)
{
    GstStructure *st = NULL;
    guint64 q = 0;
    g_object_get(h->element, "stats", &st, NULL);
    fail_unless(st && gst_structure_get_uint64(st, "queued-bytes", &q));
    gst_structure_free(st);
    return q;
}

/* A flush (FLUSH_START/STOP sent to the element, as a flushing seek upstream does) wakes
 * create() and keeps what the publisher sent meanwhile: it comes out after FLUSH_STOP, in
 * order, with no second FLV header. A flushing seek itself is refused (live, not seekable) and
 * changes nothing. */
GST_START_TEST(test_flush_keeps_what_is_queued_and_the_stream_goes_on)
{
    GstHarness *h = new_harness(NULL);
    struct player p;
    fail_unless(publisher_open(&p, port_of(h), "live", "obs", NULL, 0) == 0);
    publish_start(&p, 33);
    for (int i = 0; i < 5; i++) /* the header with onMetaData, the two headers, two frames */
        gst_buffer_unref(gst_harness_pull(h));
    fail_if(gst_harness_push_upstream_event(
        h, gst_event_new_seek(1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH, GST_SEEK_TYPE_SET, 0,
                              GST_SEEK_TYPE_NONE, -1)));
    /* create() waits for the next tag: the flush must wake it. */
    fail_unless(gst_element_send_event(h->element, gst_event_new_flush_start()));
    fail_unless(publisher_send(&p, 9, 66, flv_avc_inter, sizeof flv_avc_inter) == 0);
    fail_unless(publisher_send(&p, 8, 70, flv_aac_raw, sizeof flv_aac_raw) == 0);
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (queued_bytes(h) < 2 * 15 + sizeof flv_avc_inter + sizeof flv_aac_raw &&
           g_get_monotonic_time() < deadline)
        g_usleep(2000);
    fail_unless_equals_uint64(queued_bytes(h),
                              2 * 15 + sizeof flv_avc_inter + sizeof flv_aac_raw);
    fail_unless(gst_element_send_event(h->element, gst_event_new_flush_stop(FALSE)));
    const guint8 want[] = {9, 8};
    const guint32 want_ts[] = {66, 70};
    for (int i = 0; i < 2; i++) {
        GstBuffer *b = gst_harness_pull(h);
        guint8 type;
        guint32 ts;
        tag_of(b, FALSE, &type, &ts, NULL);
        fail_unless_equals_int(type, want[i]);
        fail_unless_equals_int(ts, want_ts[i]);
        gst_buffer_unref(b);
    }
    player_close(&p);
    gst_harness_teardown(h);
}
GST_END_TEST;

/* Two sources of one server for one name: the second fails to start, saying why. */
GST_START_TEST(test_second_source_of_the_same_key_fails_with_a_clear_error)
{
    /* The first opens a server on a free port; the second asks for the port it bound, so
     * shares that server (two asking for port 0 would get one each). */
    GstHarness *h = new_harness("host=127.0.0.1");
    guint port = port_of(h);
    gchar *desc = g_strdup_printf("ezrtmpserversrc host=127.0.0.1 port=%u stream-key=obs", port);
    GstElement *e = gst_parse_launch(desc, NULL);
    g_free(desc);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    fail_unless_equals_int(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
    GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    fail_unless(m != NULL);
    GError *err = NULL;
    gst_message_parse_error(m, &err, NULL);
    fail_unless(err && err->code == GST_RESOURCE_ERROR_BUSY);
    fail_unless(strstr(err->message, "already takes a publisher") != NULL, "%s", err->message);
    g_error_free(err);
    gst_message_unref(m);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_element_set_bus(e, NULL);
    gst_object_unref(bus);
    gst_object_unref(e);
    gst_harness_teardown(h);
}
GST_END_TEST;

static Suite *ezrtmpserversrc_suite(void)
{
    Suite *s = suite_create("ezrtmpserversrc");
    TCase *tc = tcase_create("general");
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_header_metadata_and_sequence_headers_come_first);
    tcase_add_test(tc, test_second_publisher_gets_bad_name);
    tcase_add_test(tc, test_reconnected_publisher_continues_past_the_last_time);
    tcase_add_test(tc, test_eos_on_unpublish_sends_eos);
    tcase_add_test(tc, test_publish_token_is_required_and_client_added_fires);
    tcase_add_test(tc, test_state_change_while_waiting_for_a_publisher_does_not_hang);
    tcase_add_test(tc, test_flush_keeps_what_is_queued_and_the_stream_goes_on);
    tcase_add_test(tc, test_second_source_of_the_same_key_fails_with_a_clear_error);
    return s;
}

GST_CHECK_MAIN(ezrtmpserversrc);
