/* GstHarness tests of ezrtmpserversink: registration, FLV in any buffer layout, streamheader from
 * caps, keyframe detection, EOS, the listening socket's lifecycle, a busy port, and state changes
 * that must not wait for players or for handlers. The element listens on an ephemeral port
 * (port=0) in every test. */
#include <arpa/inet.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flv_fixture.h"
#include "rtmp_test_player.h"

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

/* The element's stats structure now; the caller frees it. */
static GstStructure *stats_of(GstElement *e)
{
    GstStructure *s = NULL;
    g_object_get(e, "stats", &s, NULL);
    fail_unless(s != NULL);
    return s;
}

static guint64 stat(GstElement *e, const gchar *field)
{
    GstStructure *s = stats_of(e);
    guint64 v = G_MAXUINT64;
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
    for (int i = 0; i < 100; i++)
        fail_unless(closed_by_server(fds[i], mono_ms() + DEADLINE_MS),
                    "the server did not close the player");
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

GST_START_TEST(test_element_registered_by_the_plugin)
{
    GstElementFactory *f = gst_element_factory_find("ezrtmpserversink");
    fail_unless(f != NULL, "no factory ezrtmpserversink");
    fail_unless_equals_string(gst_plugin_feature_get_plugin_name(GST_PLUGIN_FEATURE(f)), "ezrtmp");
    fail_unless_equals_int(gst_plugin_feature_get_rank(GST_PLUGIN_FEATURE(f)), GST_RANK_NONE);
    fail_unless_equals_string(gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_KLASS),
                              "Sink/Network");
    /* Creating it loads the plugin, whose plugin_init registers the element. */
    GstElement *e = gst_element_factory_create(f, NULL);
    fail_unless(e != NULL);
    fail_unless_equals_string(G_OBJECT_TYPE_NAME(e), "GstEzrtmpServerSink");
    fail_unless(gst_element_get_factory(e) == f);
    gst_object_unref(e);
    gst_object_unref(f);
}
GST_END_TEST;

/* Set once by another thread; waited for with a deadline. */
struct flag {
    GMutex lock;
    GCond cond;
    gboolean set;
};

static void flag_init(struct flag *f)
{
    g_mutex_init(&f->lock);
    g_cond_init(&f->cond);
    f->set = FALSE;
}

static void flag_clear(struct flag *f)
{
    g_cond_clear(&f->cond);
    g_mutex_clear(&f->lock);
}

static void flag_raise(struct flag *f)
{
    g_mutex_lock(&f->lock);
    f->set = TRUE;
    g_cond_broadcast(&f->cond);
    g_mutex_unlock(&f->lock);
}

/* TRUE if the flag is up by end_us (g_get_monotonic_time() clock); 0 = do not wait. */
static gboolean flag_wait_until(struct flag *f, gint64 end_us)
{
    g_mutex_lock(&f->lock);
    while (!f->set && end_us && g_cond_wait_until(&f->cond, &f->lock, end_us))
        ;
    gboolean set = f->set;
    g_mutex_unlock(&f->lock);
    return set;
}

/* Polls the element's stats until field reaches at least min, for at most 5 s. */
static void wait_stat_at_least(GstElement *e, const gchar *field, guint64 min)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (stat(e, field) < min && g_get_monotonic_time() < end)
        g_usleep(5000);
    fail_unless(stat(e, field) >= min, "%s stayed below %" G_GUINT64_FORMAT, field, min);
}

/* Bytes queued for the first player in the stats' client-list, 0 if none. */
static guint64 first_player_queued(GstElement *e)
{
    GstStructure *s = stats_of(e);
    guint64 queued = 0;
    const GValue *list = gst_structure_get_value(s, "client-list");
    if (list && gst_value_array_get_size(list) > 0)
        gst_structure_get_uint64(gst_value_get_structure(gst_value_array_get_value(list, 0)),
                                 "bytes-queued", &queued);
    gst_structure_free(s);
    return queued;
}

/* A 64 KiB AVC keyframe tag at ts. */
static void push_big_keyframe(GstHarness *h, guint32 ts)
{
    enum { BODY = 64 * 1024 };
    static guint8 body[BODY], tag[BODY + 15];
    memcpy(body, flv_avc_key, sizeof flv_avc_key);
    guint32 nal = BODY - 9;
    body[5] = (guint8)(nal >> 24);
    body[6] = (guint8)(nal >> 16);
    body[7] = (guint8)(nal >> 8);
    body[8] = (guint8)nal;
    push_bytes(h, tag, flv_put_tag(tag, 9, ts, body, BODY), 0);
}

struct eos_push {
    GstHarness *h;
    struct flag done;
};

static gpointer push_eos(gpointer data)
{
    struct eos_push *p = data;
    gst_harness_push_event(p->h, gst_event_new_eos());
    flag_raise(&p->done);
    return NULL;
}

/* Far below EOS_DRAIN_TIMEOUT_MS (2 s): going to NULL must not wait for the drain. */
#define PROMPT_US (500 * 1000)
#define DRAIN_MIN_QUEUED (256 * 1024)

GST_START_TEST(test_null_during_eos_drain_does_not_wait_for_players)
{
    GstElement *e = gst_element_factory_make("ezrtmpserversink", NULL);
    /* Small socket buffers and no client timeout: a player that reads nothing keeps its
     * queue, so the drain at EOS would wait its whole 2 s. */
    g_object_set(e, "port", 0, "sync", FALSE, "send-buffer-size", 4096, "client-timeout", 0,
                 NULL);
    GstHarness *h = gst_harness_new_with_element(e, "sink", NULL);
    gst_harness_set_src_caps_str(h, "video/x-flv");
    guint8 flv[1024];
    push_bytes(h, flv, make_flv(flv), 0);
    gint port = 0;
    g_object_get(e, "bound-port", &port, NULL);
    int fd = play_rcvbuf((guint16)port, 4096);
    fail_unless(fd >= 0, "the player could not play");
    wait_stat_at_least(e, "clients-total", 1);
    for (guint32 i = 0; i < 8; i++)
        push_big_keyframe(h, 100 + 33 * i);
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (first_player_queued(e) < DRAIN_MIN_QUEUED && g_get_monotonic_time() < end)
        g_usleep(5000);
    fail_unless(first_player_queued(e) >= DRAIN_MIN_QUEUED, "only %" G_GUINT64_FORMAT
                " bytes queued for the player", first_player_queued(e));

    struct eos_push p = {.h = h};
    flag_init(&p.done);
    GThread *t = g_thread_new("eos", push_eos, &p);
    /* The server has the EOS once it emptied the cache; the sink then waits for the drain. */
    end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (cached_frames(e) != 0 && g_get_monotonic_time() < end)
        g_usleep(5000);
    fail_unless_equals_uint64(cached_frames(e), 0);
    fail_if(flag_wait_until(&p.done, 0), "EOS returned at once: the drain did not wait");

    gint64 t0 = g_get_monotonic_time();
    fail_unless_equals_int(gst_element_set_state(e, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
    gint64 took = g_get_monotonic_time() - t0;
    fail_unless(took < PROMPT_US, "going to NULL took %" G_GINT64_FORMAT " us", took);
    fail_unless(flag_wait_until(&p.done, t0 + PROMPT_US), "the EOS push is still waiting");
    g_thread_join(t);
    flag_clear(&p.done);
    gst_harness_teardown(h);
    gst_object_unref(e);
    fail_unless(closed_by_server(fd, mono_ms() + DEADLINE_MS),
                "the server did not close the player");
}
GST_END_TEST;

/* What a client handler saw, on the server thread. */
struct handler_seen {
    gint calls;
    guint64 tags;
    guint clients;
    gboolean got_player_stats;
    gint64 longest_us; /* the longest handler */
};

static void read_stats_in_handler(GstElement *e, guint64 id, struct handler_seen *seen)
{
    gint64 t0 = g_get_monotonic_time();
    GstStructure *s = NULL;
    g_object_get(e, "stats", &s, NULL);
    gst_structure_get_uint64(s, "tags-parsed", &seen->tags);
    gst_structure_get_uint(s, "clients", &seen->clients);
    gst_structure_free(s);
    GstStructure *one = NULL;
    g_signal_emit_by_name(e, "get-stats", id, &one);
    seen->got_player_stats = one != NULL;
    if (one)
        gst_structure_free(one);
    g_signal_emit_by_name(e, "remove-client", id + 1000); /* no such player: nothing happens */
    seen->longest_us = MAX(seen->longest_us, g_get_monotonic_time() - t0);
    g_atomic_int_inc(&seen->calls);
}

static void on_added(GstElement *e, guint64 id, const gchar *addr, gpointer data)
{
    read_stats_in_handler(e, id, data);
}

static void on_removed(GstElement *e, guint64 id, const gchar *reason, gpointer data)
{
    read_stats_in_handler(e, id, data);
}

GST_START_TEST(test_client_added_handler_reads_stats_at_once)
{
    guint8 flv[1024];
    struct handler_seen seen = {0};
    GstHarness *h = new_harness();
    g_signal_connect(h->element, "client-added", G_CALLBACK(on_added), &seen);
    push_bytes(h, flv, make_flv(flv), 0);
    gint port = 0;
    g_object_get(h->element, "bound-port", &port, NULL);
    int fd = play((guint16)port);
    fail_unless(fd >= 0, "the player could not play");
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (g_atomic_int_get(&seen.calls) == 0 && g_get_monotonic_time() < end)
        g_usleep(5000);
    fail_unless_equals_int(g_atomic_int_get(&seen.calls), 1);
    /* On the server thread the queries are answered at once, not after their 1 s timeout. */
    fail_unless(seen.longest_us < PROMPT_US, "the handler took %" G_GINT64_FORMAT " us",
                seen.longest_us);
    fail_unless_equals_uint64(seen.tags, 7);
    fail_unless_equals_int(seen.clients, 1);
    fail_unless(seen.got_player_stats, "get-stats of the new player returned NULL");
    gst_harness_teardown(h);
    fail_unless(closed_by_server(fd, mono_ms() + DEADLINE_MS),
                "the server did not close the player");
}
GST_END_TEST;

struct null_in_thread {
    GstElement *e;
    GstStateChangeReturn ret;
    struct flag done;
};

static gpointer set_null(gpointer data)
{
    struct null_in_thread *n = data;
    n->ret = gst_element_set_state(n->e, GST_STATE_NULL);
    flag_raise(&n->done);
    return NULL;
}

GST_START_TEST(test_client_removed_handler_reads_stats_while_going_to_null)
{
    guint8 flv[1024];
    struct handler_seen seen = {0};
    GstHarness *h = new_harness();
    g_signal_connect(h->element, "client-removed", G_CALLBACK(on_removed), &seen);
    push_bytes(h, flv, make_flv(flv), 0);
    gint port = 0;
    g_object_get(h->element, "bound-port", &port, NULL);
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = play((guint16)port);
        fail_unless(fds[i] >= 0, "player %d could not play", i);
    }
    wait_stat_at_least(h->element, "clients-total", 3);
    /* In a thread, so that a hang fails the test instead of stopping it. */
    struct null_in_thread n = {.e = h->element};
    flag_init(&n.done);
    GThread *t = g_thread_new("to-null", set_null, &n);
    fail_unless(flag_wait_until(&n.done, g_get_monotonic_time() + 5 * G_USEC_PER_SEC),
                "set_state(NULL) hangs while client-removed handlers read stats");
    g_thread_join(t);
    flag_clear(&n.done);
    fail_unless_equals_int(n.ret, GST_STATE_CHANGE_SUCCESS);
    /* Each player's removal was signalled during the state change, and each handler's reads
     * returned: the element's own counters, no server counters (the stream is gone). */
    fail_unless_equals_int(g_atomic_int_get(&seen.calls), 3);
    fail_unless(seen.longest_us < PROMPT_US, "a handler took %" G_GINT64_FORMAT " us",
                seen.longest_us);
    fail_unless_equals_uint64(seen.tags, 7);
    fail_unless_equals_int(seen.clients, 0);
    fail_if(seen.got_player_stats, "get-stats answered for a stream being removed");
    gst_harness_teardown(h);
    for (int i = 0; i < 3; i++)
        fail_unless(closed_by_server(fds[i], mono_ms() + DEADLINE_MS),
                    "the server did not close the player");
}
GST_END_TEST;

/* Each string property owns its own copy: setting one never frees another's (the TLS paths once
 * went with every change of http-cors-origin), and the defaults read back as documented. */
GST_START_TEST(test_string_properties_keep_their_own_values)
{
    GstElement *e = gst_element_factory_make("ezrtmpserversink", NULL);
    gboolean http = TRUE, metrics = TRUE;
    gchar *origin = NULL;
    g_object_get(e, "http", &http, "metrics", &metrics, "http-cors-origin", &origin, NULL);
    fail_if(http);
    fail_if(metrics);
    fail_unless_equals_string(origin, "*");
    g_free(origin);
    g_object_set(e, "tls-certificate", "/srv/cert.pem", "tls-key", "/srv/key.pem", NULL);
    g_object_set(e, "http-cors-origin", "https://example.com", NULL);
    g_object_set(e, "http-cors-origin", "https://example.org", NULL);
    gchar *cert = NULL, *key = NULL;
    g_object_get(e, "tls-certificate", &cert, "tls-key", &key, "http-cors-origin", &origin, NULL);
    fail_unless_equals_string(cert, "/srv/cert.pem");
    fail_unless_equals_string(key, "/srv/key.pem");
    fail_unless_equals_string(origin, "https://example.org");
    g_free(cert);
    g_free(key);
    g_free(origin);
    gst_object_unref(e); /* LeakSanitizer: finalize frees the TLS paths too */
}
GST_END_TEST;

/* sync-method: live-edge by default, GstMultiHandleSink's nicks for the methods it shares, and
 * a counter of the replays built in the stats (the joins themselves are in tests/e2e). */
GST_START_TEST(test_sync_method_defaults_to_live_edge)
{
    GstElement *e = gst_element_factory_make("ezrtmpserversink", NULL);
    GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "sync-method");
    fail_unless(ps != NULL && G_IS_PARAM_SPEC_ENUM(ps));
    GEnumClass *ec = G_PARAM_SPEC_ENUM(ps)->enum_class;
    gint m = -1;
    g_object_get(e, "sync-method", &m, NULL);
    fail_unless_equals_string(g_enum_get_value(ec, m)->value_nick, "live-edge");
    fail_unless(g_enum_get_value_by_nick(ec, "next-keyframe") != NULL);
    gst_util_set_object_arg(G_OBJECT(e), "sync-method", "latest-keyframe");
    g_object_get(e, "sync-method", &m, NULL);
    fail_unless_equals_string(g_enum_get_value(ec, m)->value_nick, "latest-keyframe");
    gst_object_unref(e);
    GstHarness *h = new_harness();
    fail_unless_equals_int(stat(h->element, "replays-built"), 0);
    gst_harness_teardown(h);
}
GST_END_TEST;

/* flush-interval: -1 (auto) by default, and every value from -1 to 1000 reads back as set; the
 * server the element starts takes it (the stats do not show it, but a value the library refused
 * would fail the start). */
GST_START_TEST(test_flush_interval_defaults_to_auto_and_round_trips)
{
    GstElement *e = gst_element_factory_make("ezrtmpserversink", NULL);
    gint v = 0;
    g_object_get(e, "flush-interval", &v, NULL);
    fail_unless_equals_int(v, -1);
    GParamSpecInt *spec = G_PARAM_SPEC_INT(
        g_object_class_find_property(G_OBJECT_GET_CLASS(e), "flush-interval"));
    fail_unless_equals_int(spec->minimum, -1);
    fail_unless_equals_int(spec->maximum, 1000);
    fail_unless_equals_int(spec->default_value, -1);
    const gint values[] = {0, 40, 350, 1000, -1};
    for (gsize i = 0; i < G_N_ELEMENTS(values); i++) {
        g_object_set(e, "flush-interval", values[i], NULL);
        g_object_get(e, "flush-interval", &v, NULL);
        fail_unless_equals_int(v, values[i]);
    }
    g_object_set(e, "port", 0, "flush-interval", 350, NULL);
    fail_unless_equals_int(gst_element_set_state(e, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
    gint port = 0;
    g_object_get(e, "bound-port", &port, NULL);
    fail_unless(port > 0);
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(e);
}
GST_END_TEST;

static guint stat_uint(GstElement *e, const gchar *field)
{
    GstStructure *s = stats_of(e);
    guint v = G_MAXUINT;
    fail_unless(gst_structure_get_uint(s, field, &v), "no field %s", field);
    gst_structure_free(s);
    return v;
}

/* Pushes an FLV file header and, audio-only, an AAC header and frame; then a keyframe. Returns
 * the age limit in force after each (the stats read back what the server decided). */
static void age_limits(guint queue_max_age, guint *audio_only, guint *with_video)
{
    GstElement *e = gst_element_factory_make("ezrtmpserversink", NULL);
    g_object_set(e, "port", 0, "sync", FALSE, "queue-max-age", queue_max_age, NULL);
    GstHarness *h = gst_harness_new_with_element(e, "sink", NULL);
    gst_object_unref(e);
    gst_harness_set_src_caps_str(h, "video/x-flv");
    guint8 t[512];
    gsize n = sizeof flv_file_header;
    memcpy(t, flv_file_header, n);
    n += flv_put_tag(t + n, 8, 0, flv_aac_hdr, sizeof flv_aac_hdr);
    n += flv_put_tag(t + n, 8, 23, flv_aac_raw, sizeof flv_aac_raw);
    push_bytes(h, t, n, 0);
    *audio_only = stat_uint(h->element, "queue-max-age-ms");
    n = flv_put_tag(t, 9, 40, flv_avc_key, sizeof flv_avc_key);
    push_bytes(h, t, n, 0);
    *with_video = stat_uint(h->element, "queue-max-age-ms");
    gst_harness_teardown(h);
}

/* queue-max-age reaches the server: 0 leaves the default by stream kind (5 s audio-only, 10 s
 * once video comes), another value holds for every kind. */
GST_START_TEST(test_queue_max_age_property_sets_the_age_limit)
{
    guint audio_only = 0, with_video = 0;
    age_limits(0, &audio_only, &with_video);
    fail_unless_equals_int(audio_only, 5000);
    fail_unless_equals_int(with_video, 10000);
    age_limits(700, &audio_only, &with_video);
    fail_unless_equals_int(audio_only, 700);
    fail_unless_equals_int(with_video, 700);
}
GST_END_TEST;

static Suite *ezrtmpserversink_suite(void)
{
    Suite *s = suite_create("ezrtmpserversink");
    TCase *tc = tcase_create("general");
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_element_registered_by_the_plugin);
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
    tcase_add_test(tc, test_string_properties_keep_their_own_values);
    tcase_add_test(tc, test_flush_interval_defaults_to_auto_and_round_trips);
    tcase_add_test(tc, test_queue_max_age_property_sets_the_age_limit);
    tcase_add_test(tc, test_sync_method_defaults_to_live_edge);
    tcase_add_test(tc, test_busy_port_is_a_resource_error);
    tcase_add_test(tc, test_null_during_eos_drain_does_not_wait_for_players);
    tcase_add_test(tc, test_client_added_handler_reads_stats_at_once);
    tcase_add_test(tc, test_client_removed_handler_reads_stats_while_going_to_null);
    return s;
}

GST_CHECK_MAIN(ezrtmpserversink);
