/* GstHarness tests of ezrtmpserversink's location property (set, read back, rtmps, bad URLs that
 * fail READY naming the URL), of its HLS properties, of its stats against /metrics (every numeric
 * field of the stats structure is a series of a real server's /metrics answer, as the library's
 * stats schema names it), and that the library's HTTP request line reaches the debug log at
 * ezrtmp:4 (INFO). The element listens on an ephemeral port (port=0) in every test that listens. */
#include <arpa/inet.h>
#include <gst/base/gstbasesink.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ezr_stats_schema.h"
#include "flv_fixture.h"

static GstElement *new_sink(void)
{
    GstElement *e = gst_element_factory_make("ezrtmpserversink", NULL);
    fail_unless(e != NULL);
    return gst_object_ref_sink(e);
}

static gchar *get_string(GstElement *e, const gchar *prop)
{
    gchar *v = NULL;
    g_object_get(e, prop, &v, NULL);
    return v;
}

static void assert_string(GstElement *e, const gchar *prop, const gchar *want)
{
    gchar *v = get_string(e, prop);
    fail_unless(g_strcmp0(v, want) == 0, "%s is \"%s\", not \"%s\"", prop, v, want);
    g_free(v);
}

static gint get_int(GstElement *e, const gchar *prop)
{
    gint v = -1;
    g_object_get(e, prop, &v, NULL);
    return v;
}

GST_START_TEST(test_location_sets_host_port_app_and_key)
{
    GstElement *e = new_sink();
    g_object_set(e, "location", "rtmp://127.0.0.1:1940/show/camera-1", NULL);
    assert_string(e, "host", "127.0.0.1");
    fail_unless_equals_int(get_int(e, "port"), 1940);
    assert_string(e, "app", "show");
    assert_string(e, "stream-key", "camera-1");
    /* An IPv6 address in brackets, an app with a slash in it, the default port. */
    g_object_set(e, "location", "rtmp://[::1]/live/sub/key", NULL);
    assert_string(e, "host", "::1");
    fail_unless_equals_int(get_int(e, "port"), 1935);
    assert_string(e, "app", "live/sub");
    assert_string(e, "stream-key", "key");
    gst_object_unref(e);
}
GST_END_TEST;

GST_START_TEST(test_location_reads_back_the_url_players_open)
{
    GstElement *e = new_sink();
    assert_string(e, "location", "rtmp://localhost:1935/live/stream");
    g_object_set(e, "host", "::1", "port", 1941, "app", "a", "stream-key", "b", NULL);
    assert_string(e, "location", "rtmp://[::1]:1941/a/b");
    /* Listening on port 0, players open the port bound. */
    g_object_set(e, "host", "127.0.0.1", "port", 0, NULL);
    fail_unless_equals_int(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
    gint bound = get_int(e, "bound-port");
    fail_unless(bound > 0);
    gchar *want = g_strdup_printf("rtmp://127.0.0.1:%d/a/b", bound);
    assert_string(e, "location", want);
    g_free(want);
    gst_element_set_state(e, GST_STATE_NULL);
    assert_string(e, "location", "rtmp://127.0.0.1:0/a/b");
    gst_object_unref(e);
}
GST_END_TEST;

/* The text of the first error the element posts (the caller frees it), or NULL. */
static gchar *ready_error(GstElement *e)
{
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    fail_unless_equals_int(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
    GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    gchar *text = NULL;
    if (m) {
        GError *err = NULL;
        gst_message_parse_error(m, &err, NULL);
        text = g_strdup(err->message);
        g_error_free(err);
        gst_message_unref(m);
    }
    gst_element_set_state(e, GST_STATE_NULL);
    gst_element_set_bus(e, NULL);
    gst_object_unref(bus);
    return text;
}

GST_START_TEST(test_location_rtmps)
{
    GstElement *e = new_sink();
    g_object_set(e, "location", "rtmps://example.com/live/key", NULL);
    assert_string(e, "host", "example.com");
    fail_unless_equals_int(get_int(e, "port"), 443);
    /* rtmps without a certificate cannot be served: READY fails and says so. */
    g_object_set(e, "host", "127.0.0.1", "port", 0, NULL);
    gchar *why = ready_error(e);
    fail_unless(why && strstr(why, "rtmps://") && strstr(why, "tls-certificate"), "error: %s", why);
    g_free(why);
    /* With a certificate the URL read back is rtmps://, however the location was given. */
    g_object_set(e, "location", "rtmp://127.0.0.1:1942/live/key", "tls-certificate",
                 "/nonexistent/cert.pem", NULL);
    assert_string(e, "location", "rtmps://127.0.0.1:1942/live/key");
    gst_object_unref(e);
}
GST_END_TEST;

GST_START_TEST(test_bad_location_fails_ready_naming_it)
{
    static const gchar *const bad[] = {
        "127.0.0.1:1935/live/stream",   /* no scheme */
        "http://127.0.0.1/live/stream", /* not RTMP */
        "rtmp://127.0.0.1:port/live/stream", "rtmp://127.0.0.1:99999/live/stream",
        "rtmp://127.0.0.1:1935/live",                               /* no stream key */
        "rtmp://127.0.0.1:1935/live/",       "rtmp:///live/stream", /* no host */
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        GstElement *e = new_sink();
        g_object_set(e, "port", 0, "location", bad[i], NULL);
        /* The properties are left as they were. */
        assert_string(e, "host", "localhost");
        fail_unless_equals_int(get_int(e, "port"), 0);
        assert_string(e, "app", "live");
        assert_string(e, "stream-key", "stream");
        gchar *why = ready_error(e);
        fail_unless(why && strstr(why, bad[i]), "the error for %s does not name it: %s", bad[i],
                    why);
        g_free(why);
        /* A good location afterwards is served. */
        g_object_set(e, "location", "rtmp://127.0.0.1:0/live/stream", NULL);
        fail_unless_equals_int(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
        gst_element_set_state(e, GST_STATE_NULL);
        gst_object_unref(e);
    }
}
GST_END_TEST;

/* GET path from the element's port: the body of a 200 (the caller frees it). */
static gchar *http_get(gint port, const gchar *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    fail_unless(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fail_unless(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    gchar *req =
        g_strdup_printf("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    fail_unless(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    g_free(req);
    GString *got = g_string_new(NULL);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) /* the server closes after answering */
        g_string_append_len(got, buf, n);
    close(fd);
    const char *body = strstr(got->str, "\r\n\r\n");
    fail_unless(g_str_has_prefix(got->str, "HTTP/1.1 200 ") && body, "answer: %s", got->str);
    gchar *out = g_strdup(body + 4);
    g_string_free(got, TRUE);
    return out;
}

static const struct ezr_stat_field *schema_field(const gchar *name)
{
    for (size_t i = 0; i < ezr_stats_stream_schema_len; i++)
        if (strcmp(ezr_stats_stream_schema[i].name, name) == 0)
            return &ezr_stats_stream_schema[i];
    return NULL;
}

/* The start of f's sample line for the stream live/stream. */
static gchar *series(const struct ezr_stat_field *f)
{
    GString *s = g_string_new("\n");
    g_string_append(s, f->metric);
    const gchar *stream = f->scope == EZR_STAT_STREAM ? "app=\"live\",stream=\"stream\"" : NULL;
    if (stream || f->label)
        g_string_append_printf(s, "{%s%s%s}", stream ? stream : "", stream && f->label ? "," : "",
                               f->label ? f->label : "");
    g_string_append_c(s, ' ');
    return g_string_free(s, FALSE);
}

GST_START_TEST(test_every_numeric_stats_field_is_a_metric)
{
    GstElement *e = new_sink();
    g_object_set(e, "port", 0, "host", "127.0.0.1", "metrics", TRUE, "sync", FALSE, NULL);
    GstHarness *h = gst_harness_new_with_element(e, "sink", NULL);
    gst_harness_set_src_caps_str(h, "video/x-flv");
    guint8 flv[512];
    gsize n = sizeof flv_file_header;
    memcpy(flv, flv_file_header, n);
    n += flv_put_tag(flv + n, 9, 0, flv_avc_hdr, sizeof flv_avc_hdr);
    n += flv_put_tag(flv + n, 9, 0, flv_avc_key, sizeof flv_avc_key);
    fail_unless_equals_int(gst_harness_push(h, gst_buffer_new_memdup(flv, n)), GST_FLOW_OK);

    gchar *body = http_get(get_int(e, "bound-port"), "/metrics");
    GstStructure *stats = NULL;
    g_object_get(e, "stats", &stats, NULL);
    guint numeric = 0;
    for (gint i = 0; i < gst_structure_n_fields(stats); i++) {
        const gchar *name = gst_structure_nth_field_name(stats, (guint)i);
        GType t = gst_structure_get_field_type(stats, name);
        if (t != G_TYPE_UINT && t != G_TYPE_UINT64 && t != G_TYPE_DOUBLE)
            continue;
        numeric++;
        const struct ezr_stat_field *f = schema_field(name);
        fail_unless(f && f->metric, "stats field %s is no metric", name);
        gchar *family = g_strdup_printf("\n# TYPE %s %s\n", f->metric,
                                        f->kind == EZR_METRIC_COUNTER ? "counter" : "gauge");
        fail_unless(strstr(body, family), "no family %s for %s in:\n%s", f->metric, name, body);
        g_free(family);
        if (f->kind == EZR_METRIC_SUM)
            continue; /* its labelled series are fields of their own */
        gchar *line = series(f);
        fail_unless(strstr(body, line), "no series%sfor %s in:\n%s", line, name, body);
        g_free(line);
    }
    /* The 33 numeric fields the element always had, and those added with the schema. */
    fail_unless(numeric >= 35, "%u numeric fields", numeric);
    fail_unless(gst_structure_has_field(stats, "disconnects-server"));
    fail_unless(gst_structure_has_field(stats, "frame-copies"));
    /* The element's own counters reach /metrics: 2 tags, 1 keyframe. */
    fail_unless(strstr(body, "\nezrtmp_ingest_tags_total{app=\"live\",stream=\"stream\"} 2\n"),
                "%s", body);
    fail_unless(strstr(body, "\nezrtmp_ingest_keyframes_total{app=\"live\",stream=\"stream\"} 1\n"),
                "%s", body);
    gst_structure_free(stats);
    g_free(body);
    gst_harness_teardown(h);
    gst_object_unref(e);
}
GST_END_TEST;

/* The library's per-request lines seen on the ezrtmp category (the server thread logs them). */
static gint request_lines;

static void count_request_lines(GstDebugCategory *cat, GstDebugLevel level, const gchar *file,
                                const gchar *function, gint line, GObject *object,
                                GstDebugMessage *message, gpointer user_data)
{
    (void)file, (void)function, (void)line, (void)object, (void)user_data;
    if (strcmp(gst_debug_category_get_name(cat), "ezrtmp") == 0 && level == GST_LEVEL_INFO &&
        strstr(gst_debug_message_get(message), " HTTP GET \"/metrics\""))
        g_atomic_int_inc(&request_lines);
}

/* The element tells the library which levels its category lets through, so that lines nobody
 * reads are not formatted: at ezrtmp:4 (INFO) the HTTP request line must still come. */
GST_START_TEST(test_http_request_line_is_logged_at_info)
{
    gst_debug_set_active(TRUE);
    gst_debug_set_threshold_for_name("ezrtmp", GST_LEVEL_INFO);
    gst_debug_add_log_function(count_request_lines, NULL, NULL);
    GstElement *e = new_sink();
    g_object_set(e, "port", 0, "host", "127.0.0.1", "metrics", TRUE, NULL);
    fail_unless_equals_int(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
    /* The line is logged before the answer is written, so it is counted once the answer is in. */
    g_free(http_get(get_int(e, "bound-port"), "/metrics"));
    fail_unless_equals_int(g_atomic_int_get(&request_lines), 1);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(e);
    gst_debug_remove_log_function(count_request_lines);
    gst_debug_unset_threshold_for_name("ezrtmp");
}
GST_END_TEST;

GST_START_TEST(test_processing_deadline_defaults_to_zero)
{
    /* A frame is not held for processing time the sink does not spend (GstBaseSink's default
     * is 20 ms in a live pipeline). */
    GstElement *e = gst_element_factory_make("ezrtmpserversink", NULL);
    fail_unless_equals_uint64(gst_base_sink_get_processing_deadline(GST_BASE_SINK(e)), 0);
    gst_object_unref(e);
}
GST_END_TEST;

GST_START_TEST(test_hls_without_http_fails_ready_saying_so)
{
    GstElement *e = new_sink();
    g_object_set(e, "port", 0, "hls", TRUE, NULL);
    gchar *why = ready_error(e);
    fail_unless(why && strstr(why, "hls needs http=true"), "error: %s", why);
    g_free(why);
    g_object_set(e, "http", TRUE, NULL);
    fail_unless_equals_int(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(e);
}
GST_END_TEST;

GST_START_TEST(test_hls_properties_default_and_reach_the_stats)
{
    GstElement *e = new_sink();
    guint part = 0, segment = 1, window = 0;
    gboolean hls = TRUE;
    g_object_get(e, "hls", &hls, "hls-part-target", &part, "hls-segment-target", &segment,
                 "hls-window", &window, NULL);
    fail_unless(!hls);
    fail_unless_equals_int(part, 200);
    fail_unless_equals_int(segment, 0);
    fail_unless_equals_int(window, 7);
    g_object_set(e, "port", 0, "host", "127.0.0.1", "http", TRUE, "hls", TRUE, "sync", FALSE,
                 "hls-part-target", 100, "hls-window", 3, NULL);
    GstHarness *h = gst_harness_new_with_element(e, "sink", NULL);
    gst_harness_set_src_caps_str(h, "video/x-flv");
    guint8 flv[512];
    gsize n = sizeof flv_file_header;
    memcpy(flv, flv_file_header, n);
    n += flv_put_tag(flv + n, 9, 0, flv_avc_hdr, sizeof flv_avc_hdr);
    n += flv_put_tag(flv + n, 9, 0, flv_avc_key, sizeof flv_avc_key);
    fail_unless_equals_int(gst_harness_push(h, gst_buffer_new_memdup(flv, n)), GST_FLOW_OK);
    GstStructure *stats = NULL;
    g_object_get(e, "stats", &stats, NULL);
    fail_unless(gst_structure_has_field(stats, "hls-requests"));
    fail_unless(gst_structure_has_field(stats, "hls-waiting"));
    fail_unless(gst_structure_has_field(stats, "clients-hls"));
    gst_structure_free(stats);
    gst_harness_teardown(h);
    gst_object_unref(e);
}
GST_END_TEST;

GST_START_TEST(test_hls_group_defaults_to_none_and_needs_hls)
{
    GstElement *e = new_sink();
    assert_string(e, "hls-group", "");
    g_object_set(e, "port", 0, "http", TRUE, "hls-group", "abr", NULL);
    assert_string(e, "hls-group", "abr");
    gchar *why = ready_error(e);
    fail_unless(why && strstr(why, "hls-group \"abr\" needs hls=true"), "error: %s", why);
    g_free(why);
    g_object_set(e, "hls", TRUE, NULL);
    fail_unless_equals_int(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(e);
}
GST_END_TEST;

/* A sink of group "abr" on port for key, fed one second of 30 fps video and the
 * keyframe after it: one complete HLS segment. */
static GstHarness *group_sink(gint port, const gchar *key)
{
    GstElement *e = new_sink();
    g_object_set(e, "port", port, "host", "127.0.0.1", "http", TRUE, "hls", TRUE, "sync", FALSE,
                 "stream-key", key, "hls-group", "abr", NULL);
    GstHarness *h = gst_harness_new_with_element(e, "sink", NULL);
    gst_object_unref(e);
    gst_harness_set_src_caps_str(h, "video/x-flv");
    guint8 flv[4096];
    gsize n = sizeof flv_file_header;
    memcpy(flv, flv_file_header, n);
    n += flv_put_tag(flv + n, 9, 0, flv_avc_hdr_320x240, sizeof flv_avc_hdr_320x240);
    for (guint i = 0; i <= 31; i++) {
        gboolean key_frame = i % 30 == 0;
        n += flv_put_tag(flv + n, 9, i * 1000 / 30, key_frame ? flv_avc_key : flv_avc_inter,
                         key_frame ? sizeof flv_avc_key : sizeof flv_avc_inter);
    }
    fail_unless_equals_int(gst_harness_push(h, gst_buffer_new_memdup(flv, n)), GST_FLOW_OK);
    return h;
}

GST_START_TEST(test_sinks_of_one_group_share_a_multivariant_playlist)
{
    /* hi opens the server on a free port, lo joins it on the port hi bound (a port picked free
     * beforehand could be taken by a test running beside this one). */
    GstHarness *hi = group_sink(0, "hi");
    gint port = get_int(hi->element, "bound-port");
    fail_unless(port > 0);
    GstHarness *lo = group_sink(port, "lo");
    /* It waits for both renditions' first segment, then lists them in the order they joined. */
    gchar *body = http_get(port, "/live/abr.m3u8");
    fail_unless(g_str_has_prefix(body, "#EXTM3U\n"), "%s", body);
    const gchar *a = strstr(body, "RESOLUTION=320x240,FRAME-RATE=30.000\nhi/index.m3u8\n");
    const gchar *b = strstr(body, "RESOLUTION=320x240,FRAME-RATE=30.000\nlo/index.m3u8\n");
    fail_unless(a && b && a < b, "%s", body);
    fail_unless(strstr(body, "CODECS=\"avc1.42c00d\""), "%s", body);
    g_free(body);
    gst_harness_teardown(lo);
    gst_harness_teardown(hi);
}
GST_END_TEST;

/* A sink joining a server another element opened on its port asks for HTTP the server lacks:
 * it still shares the server, and a warning on its bus says its http=true does not apply. */
GST_START_TEST(test_joining_a_server_without_http_warns_that_http_does_not_apply)
{
    GstElement *opener = new_sink(), *joiner = new_sink();
    g_object_set(opener, "host", "127.0.0.1", "port", 0, "stream-key", "a", NULL);
    fail_unless_equals_int(gst_element_set_state(opener, GST_STATE_READY),
                           GST_STATE_CHANGE_SUCCESS);
    gint port = get_int(opener, "bound-port");
    fail_unless(port > 0);
    g_object_set(joiner, "host", "127.0.0.1", "port", port, "stream-key", "b", "http", TRUE,
                 NULL);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(joiner, bus);
    fail_unless_equals_int(gst_element_set_state(joiner, GST_STATE_READY),
                           GST_STATE_CHANGE_SUCCESS);
    GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_WARNING);
    fail_unless(m != NULL, "no warning from the sink that joined");
    GError *err = NULL;
    gst_message_parse_warning(m, &err, NULL);
    fail_unless(strstr(err->message, "http=true (the server has no HTTP) does not apply"), "%s",
                err->message);
    g_error_free(err);
    gst_message_unref(m);
    gst_element_set_state(joiner, GST_STATE_NULL);
    gst_element_set_state(opener, GST_STATE_NULL);
    gst_element_set_bus(joiner, NULL);
    gst_object_unref(bus);
    gst_object_unref(joiner);
    gst_object_unref(opener);
}
GST_END_TEST;

static Suite *ezrtmpserversink_props_suite(void)
{
    Suite *s = suite_create("ezrtmpserversink_props");
    TCase *tc = tcase_create("general");
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_location_sets_host_port_app_and_key);
    tcase_add_test(tc, test_location_reads_back_the_url_players_open);
    tcase_add_test(tc, test_location_rtmps);
    tcase_add_test(tc, test_bad_location_fails_ready_naming_it);
    tcase_add_test(tc, test_every_numeric_stats_field_is_a_metric);
    tcase_add_test(tc, test_http_request_line_is_logged_at_info);
    tcase_add_test(tc, test_hls_without_http_fails_ready_saying_so);
    tcase_add_test(tc, test_processing_deadline_defaults_to_zero);
    tcase_add_test(tc, test_hls_properties_default_and_reach_the_stats);
    tcase_add_test(tc, test_hls_group_defaults_to_none_and_needs_hls);
    tcase_add_test(tc, test_sinks_of_one_group_share_a_multivariant_playlist);
    tcase_add_test(tc, test_joining_a_server_without_http_warns_that_http_does_not_apply);
    return s;
}

GST_CHECK_MAIN(ezrtmpserversink_props);
