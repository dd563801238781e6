/* GstHarness tests of ezrtmpserversink: FLV in any buffer layout, streamheader from caps, keyframe
 * detection, EOS, the listening socket's lifecycle and a busy port. The element listens on an
 * ephemeral port (port=0) in every test. */
#include <arpa/inet.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ezr_amf0.h"
#include "ezr_chunk.h"
#include "flv_fixture.h"

/* header, metadata, AVC and AAC headers, keyframe, audio, 2 inter frames: 8 tags after the
 * file header, of which 1 keyframe and 2 sequence headers. */
static gsize make_flv(guint8 *o)
{
    gsize n = sizeof flv_file_header;
    memcpy(o, flv_file_header, n);
    n += flv_put_tag(o + n, 18, 0, flv_meta, sizeof flv_meta);
    n += flv_put_tag(o + n, 9, 0, flv_avc_hdr, sizeof flv_avc_hdr);
    n += flv_put_tag(o + n, 8, 0, flv_aac_hdr, sizeof flv_aac_hdr);
    n += flv_put_tag(o + n, 9, 0, flv_avc_key, sizeof flv_avc_key);
    n += flv_put_tag(o + n, 8, 23, flv_aac_raw, sizeof flv_aac_raw);
    n += flv_put_tag(o + n, 9, 33, flv_avc_inter, sizeof flv_avc_inter);
    n += flv_put_tag(o + n, 9, 66, flv_avc_inter, sizeof flv_avc_inter);
    return n;
}

/* The element itself (not wrapped in a bin), on an ephemeral port, not syncing to a clock. */
static GstHarness *new_harness_no_caps(void)
{
    GstElement *e = gst_element_factory_make("ezrtmpserversink", NULL);
    g_object_set(e, "port", 0, "sync", FALSE, NULL);
    GstHarness *h = gst_harness_new_with_element(e, "sink", NULL);
    gst_object_unref(e);
    return h;
}

static GstHarness *new_harness(void)
{
    GstHarness *h = new_harness_no_caps();
    gst_harness_set_src_caps_str(h, "video/x-flv");
    return h;
}

static guint64 stat(GstElement *e, const gchar *field)
{
    GstStructure *s = NULL;
    guint64 v = G_MAXUINT64;
    g_object_get(e, "stats", &s, NULL);
    fail_unless(s != NULL);
    fail_unless(gst_structure_get_uint64(s, field, &v), "no field %s", field);
    gst_structure_free(s);
    return v;
}

static void push_bytes(GstHarness *h, const guint8 *p, gsize n, guint flags)
{
    GstBuffer *b = gst_buffer_new_memdup(p, n);
    GST_BUFFER_FLAG_SET(b, flags);
    fail_unless_equals_int(gst_harness_push(h, b), GST_FLOW_OK);
}

GST_START_TEST(test_flv_split_across_buffers)
{
    guint8 flv[1024];
    gsize n = make_flv(flv);
    GstHarness *h = new_harness();
    for (gsize off = 0; off < n; off += 7)
        push_bytes(h, flv + off, MIN(7, n - off), 0);
    fail_unless_equals_uint64(stat(h->element, "tags-parsed"), 7);
    fail_unless_equals_uint64(stat(h->element, "keyframes"), 1);
    fail_unless_equals_uint64(stat(h->element, "sequence-headers"), 2);
    fail_unless_equals_uint64(stat(h->element, "video-frames"), 3);
    fail_unless_equals_uint64(stat(h->element, "audio-frames"), 1);
    fail_unless_equals_uint64(stat(h->element, "script-tags"), 1);
    gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_several_tags_in_one_buffer)
{
    guint8 flv[1024];
    gsize n = make_flv(flv);
    GstHarness *h = new_harness();
    push_bytes(h, flv, n, 0);
    fail_unless_equals_uint64(stat(h->element, "tags-parsed"), 7);
    fail_unless_equals_uint64(stat(h->element, "bytes-in"),
                              sizeof flv_meta + sizeof flv_avc_hdr + sizeof flv_aac_hdr + sizeof flv_avc_key +
                                  sizeof flv_aac_raw + 2 * sizeof flv_avc_inter);
    gst_harness_teardown(h);
}
GST_END_TEST;

static GstCaps *caps_with_streamheader(GstBuffer **bufs, guint n)
{
    GstCaps *caps = gst_caps_new_empty_simple("video/x-flv");
    GValue array = G_VALUE_INIT;
    g_value_init(&array, GST_TYPE_ARRAY);
    for (guint i = 0; i < n; i++) {
        GValue v = G_VALUE_INIT;
        g_value_init(&v, GST_TYPE_BUFFER);
        gst_value_set_buffer(&v, bufs[i]);
        gst_value_array_append_value(&array, &v);
        g_value_unset(&v);
    }
    gst_caps_set_value(caps, "streamheader", &array);
    g_value_unset(&array);
    return caps;
}

GST_START_TEST(test_streamheader_in_caps_is_parsed_once)
{
    guint8 t[256];
    gsize n;
    /* As flvmux does: file header + metadata, then the AVC header, each also pushed as a
     * HEADER buffer after the caps. */
    memcpy(t, flv_file_header, sizeof flv_file_header);
    n = sizeof flv_file_header + flv_put_tag(t + sizeof flv_file_header, 18, 0, flv_meta, sizeof flv_meta);
    GstBuffer *hb[2];
    hb[0] = gst_buffer_new_memdup(t, n);
    n = flv_put_tag(t, 9, 0, flv_avc_hdr, sizeof flv_avc_hdr);
    hb[1] = gst_buffer_new_memdup(t, n);
    for (int i = 0; i < 2; i++)
        GST_BUFFER_FLAG_SET(hb[i], GST_BUFFER_FLAG_HEADER);

    GstHarness *h = new_harness_no_caps();
    gst_harness_set_src_caps(h, caps_with_streamheader(hb, 2));
    /* The caps deliver the headers once, when the first buffer arrives... */
    for (int i = 0; i < 2; i++)
        fail_unless_equals_int(gst_harness_push(h, gst_buffer_ref(hb[i])), GST_FLOW_OK);
    n = flv_put_tag(t, 9, 0, flv_avc_key, sizeof flv_avc_key);
    push_bytes(h, t, n, 0);
    /* ...and the repeated HEADER buffers are not counted again. */
    fail_unless_equals_uint64(stat(h->element, "script-tags"), 1);
    fail_unless_equals_uint64(stat(h->element, "sequence-headers"), 1);
    fail_unless_equals_uint64(stat(h->element, "tags-parsed"), 3);
    gst_buffer_unref(hb[0]);
    gst_buffer_unref(hb[1]);
    gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_keyframes_detected_legacy_and_enhanced)
{
    guint8 t[256];
    gsize n = 0;
    GstHarness *h = new_harness();
    n += flv_put_tag(t + n, 9, 0, flv_avc_key, sizeof flv_avc_key);
    n += flv_put_tag(t + n, 9, 33, flv_avc_inter, sizeof flv_avc_inter);
    n += flv_put_tag(t + n, 9, 66, flv_ex_key, sizeof flv_ex_key);
    n += flv_put_tag(t + n, 9, 99, flv_ex_inter, sizeof flv_ex_inter);
    push_bytes(h, t, n, 0);
    fail_unless_equals_uint64(stat(h->element, "video-frames"), 4);
    fail_unless_equals_uint64(stat(h->element, "keyframes"), 2);
    gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_eos_is_posted)
{
    GstHarness *h = new_harness();
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(h->element, bus);
    guint8 flv[1024];
    push_bytes(h, flv, make_flv(flv), 0);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    GstMessage *m = gst_bus_timed_pop_filtered(bus, 5 * GST_SECOND, GST_MESSAGE_EOS);
    fail_unless(m != NULL, "no EOS message");
    gst_message_unref(m);
    gst_element_set_bus(h->element, NULL);
    gst_object_unref(bus);
    gst_harness_teardown(h);
}
GST_END_TEST;

/* The stream's GOP cache as the server thread sees it (ops are processed in order, so every
 * buffer and event pushed before is reflected). */
static guint64 cached_frames(GstElement *e)
{
    return stat(e, "gop-cache-frames");
}

/* After a flush that resets time, a stream needs its segment again before data. */
static void push_segment(GstHarness *h)
{
    GstSegment seg;
    gst_segment_init(&seg, GST_FORMAT_TIME);
    fail_unless(gst_harness_push_event(h, gst_event_new_segment(&seg)));
}

GST_START_TEST(test_flush_clears_the_cache)
{
    guint8 flv[1024];
    GstHarness *h = new_harness();
    push_bytes(h, flv, make_flv(flv), 0);
    /* keyframe, audio, two inter frames: the GOP from the keyframe on */
    fail_unless_equals_uint64(cached_frames(h->element), 4);
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_start()));
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
    fail_unless_equals_uint64(cached_frames(h->element), 0);
    /* After a seek the stream starts again with a file header. */
    push_segment(h);
    push_bytes(h, flv, make_flv(flv), 0);
    fail_unless_equals_uint64(cached_frames(h->element), 4);
    gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_eos_then_a_new_stream)
{
    guint8 flv[1024];
    GstHarness *h = new_harness();
    push_bytes(h, flv, make_flv(flv), 0);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    /* EOS empties the cache: a player joining now waits for the next stream. */
    fail_unless_equals_uint64(cached_frames(h->element), 0);
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_start()));
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
    fail_unless(gst_harness_push_event(h, gst_event_new_stream_start("second")));
    GstCaps *caps = gst_caps_new_empty_simple("video/x-flv");
    fail_unless(gst_harness_push_event(h, gst_event_new_caps(caps)));
    gst_caps_unref(caps);
    push_segment(h);
    push_bytes(h, flv, make_flv(flv), 0);
    fail_unless_equals_uint64(cached_frames(h->element), 4);
    fail_unless_equals_uint64(stat(h->element, "keyframes"), 2);
    gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_cue_point_counted_as_script_and_not_cached)
{
    guint8 flv[1024];
    GstHarness *h = new_harness();
    gsize n = make_flv(flv);
    n += flv_put_tag(flv + n, 18, 80, flv_cue_point, sizeof flv_cue_point);
    n += flv_put_tag(flv + n, 9, 90, flv_ex_metadata, sizeof flv_ex_metadata);
    push_bytes(h, flv, n, 0);
    fail_unless_equals_uint64(stat(h->element, "script-tags"), 2);
    fail_unless_equals_uint64(stat(h->element, "sequence-headers"), 2);
    fail_unless_equals_uint64(stat(h->element, "keyframes"), 1);
    fail_unless_equals_uint64(stat(h->element, "tags-refused"), 0);
    /* The GOP of make_flv (4 frames) and the video metadata packet; the cue point is live only. */
    fail_unless_equals_uint64(cached_frames(h->element), 5);
    gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_multitrack_refused_with_one_warning)
{
    /* key + Multitrack; OneTrack + CodedFrames; hvc1; track 0; composition time 0; data. */
    static const guint8 multitrack[] = {0x96, 0x01, 'h', 'v', 'c', '1', 0, 0, 0, 0, 0x26};
    guint8 t[256];
    gsize n = 0;
    GstHarness *h = new_harness();
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(h->element, bus);
    n += flv_put_tag(t + n, 9, 0, multitrack, sizeof multitrack);
    n += flv_put_tag(t + n, 9, 33, multitrack, sizeof multitrack);
    push_bytes(h, t, n, 0);
    fail_unless_equals_uint64(stat(h->element, "tags-refused"), 2);
    fail_unless_equals_uint64(stat(h->element, "video-frames"), 0);
    fail_unless_equals_uint64(stat(h->element, "keyframes"), 0);
    fail_unless_equals_uint64(cached_frames(h->element), 0);
    /* Posted from the streaming thread during the push, so it is on the bus already. */
    GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_WARNING);
    fail_unless(m != NULL, "no warning");
    GError *err = NULL;
    gst_message_parse_warning(m, &err, NULL);
    fail_unless(strstr(err->message, "multitrack video") != NULL, "warning says: %s", err->message);
    g_error_free(err);
    gst_message_unref(m);
    fail_unless(gst_bus_pop_filtered(bus, GST_MESSAGE_WARNING) == NULL, "warned twice");
    gst_element_set_bus(h->element, NULL);
    gst_object_unref(bus);
    gst_harness_teardown(h);
}
GST_END_TEST;

/* A player that gets as far as play: handshake, connect, createStream, play. Returns the socket
 * once the server answered the play, or -1. */
static int play(guint16 port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    struct ezr_buf out, body;
    ezr_buf_init(&out);
    ezr_buf_init(&body);
    guint8 c0c1[1537] = {3};
    ezr_buf_append(&out, c0c1, sizeof c0c1);
    ezr_buf_append(&out, c0c1 + 1, 1536); /* C2: the server does not check it */
    const char *cmds[3] = {"connect", "createStream", "play"};
    for (int i = 0; i < 3; i++) {
        ezr_buf_reset(&body);
        ezr_amf0_put_cstring(&body, cmds[i]);
        ezr_amf0_put_number(&body, i + 1);
        if (i == 0) {
            ezr_amf0_put_object_begin(&body);
            ezr_amf0_put_key(&body, "app");
            ezr_amf0_put_cstring(&body, "live");
            ezr_amf0_put_object_end(&body);
        } else {
            ezr_amf0_put_null(&body);
        }
        if (i == 2)
            ezr_amf0_put_cstring(&body, "stream");
        ezr_chunk_write(&out, 3, 0, 20, i == 2 ? 1 : 0, body.data, body.len, 128);
    }
    gboolean ok = write(fd, out.data, out.len) == (ssize_t)out.len;
    ezr_buf_free(&out);
    ezr_buf_free(&body);
    /* Read until the server has sent well past the handshake (the play replies). */
    guint8 buf[8192];
    size_t got = 0;
    while (ok && got < 3073 + 400) {
        ssize_t n = read(fd, buf, sizeof buf);
        ok = n > 0;
        got += ok ? (size_t)n : 0;
    }
    if (!ok) {
        close(fd);
        return -1;
    }
    return fd;
}

GST_START_TEST(test_null_with_a_hundred_players_frees_everything)
{
    /* The leak check (LeakSanitizer in the sanitizer build) is the assertion that matters:
     * going to NULL with players connected must free every client, frame and queue. */
    guint8 flv[1024];
    GstHarness *h = new_harness();
    push_bytes(h, flv, make_flv(flv), 0);
    gint port = 0;
    g_object_get(h->element, "bound-port", &port, NULL);
    int fds[100];
    for (int i = 0; i < 100; i++) {
        fds[i] = play((guint16)port);
        fail_unless(fds[i] >= 0, "player %d could not play", i);
    }
    fail_unless_equals_uint64(stat(h->element, "clients-total"), 100);
    gst_harness_teardown(h); /* to NULL with the 100 still connected */
    for (int i = 0; i < 100; i++) {
        guint8 b[65536];
        ssize_t n;
        while ((n = read(fds[i], b, sizeof b)) > 0)
            ;
        fail_unless_equals_int(n, 0); /* the server closed it */
        close(fds[i]);
    }
}
GST_END_TEST;

GST_START_TEST(test_bound_port_set_in_ready_and_cleared_in_null)
{
    GstElement *e = gst_element_factory_make("ezrtmpserversink", NULL);
    gint port = -1;
    g_object_set(e, "port", 0, NULL);
    g_object_get(e, "bound-port", &port, NULL);
    fail_unless_equals_int(port, 0);
    fail_unless_equals_int(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
    g_object_get(e, "bound-port", &port, NULL);
    fail_unless(port > 0);
    /* The port really listens. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((guint16)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fail_unless_equals_int(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    close(fd);
    fail_unless_equals_int(gst_element_set_state(e, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
    g_object_get(e, "bound-port", &port, NULL);
    fail_unless_equals_int(port, 0);
    gst_object_unref(e);
}
GST_END_TEST;

GST_START_TEST(test_busy_port_is_a_resource_error)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof a;
    fail_unless_equals_int(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    fail_unless_equals_int(listen(fd, 1), 0);
    fail_unless_equals_int(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
    gint busy = ntohs(a.sin_port);

    GstElement *e = gst_element_factory_make("ezrtmpserversink", NULL);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(e, bus);
    g_object_set(e, "host", "127.0.0.1", "port", busy, NULL);
    fail_unless_equals_int(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
    GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    fail_unless(m != NULL, "no error message");
    GError *err = NULL;
    gst_message_parse_error(m, &err, NULL);
    fail_unless(g_error_matches(err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE));
    gchar *want = g_strdup_printf("127.0.0.1:%d", busy);
    fail_unless(strstr(err->message, want) != NULL, "message \"%s\" does not name %s",
                err->message, want);
    g_free(want);
    g_error_free(err);
    gst_message_unref(m);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_element_set_bus(e, NULL);
    gst_object_unref(bus);
    gst_object_unref(e);
    close(fd);
}
GST_END_TEST;

static Suite *ezrtmpserversink_suite(void)
{
    Suite *s = suite_create("ezrtmpserversink");
    TCase *tc = tcase_create("general");
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_flv_split_across_buffers);
    tcase_add_test(tc, test_several_tags_in_one_buffer);
    tcase_add_test(tc, test_streamheader_in_caps_is_parsed_once);
    tcase_add_test(tc, test_keyframes_detected_legacy_and_enhanced);
    tcase_add_test(tc, test_eos_is_posted);
    tcase_add_test(tc, test_flush_clears_the_cache);
    tcase_add_test(tc, test_eos_then_a_new_stream);
    tcase_add_test(tc, test_cue_point_counted_as_script_and_not_cached);
    tcase_add_test(tc, test_multitrack_refused_with_one_warning);
    tcase_add_test(tc, test_null_with_a_hundred_players_frees_everything);
    tcase_add_test(tc, test_bound_port_set_in_ready_and_cleared_in_null);
    tcase_add_test(tc, test_busy_port_is_a_resource_error);
    return s;
}

GST_CHECK_MAIN(ezrtmpserversink);
