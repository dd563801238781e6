/* GstHarness test of ezrtmpserversink when its server's reactor thread fails: the pipeline gets
 * an error it can act on instead of serving nobody in silence. The failure is real, not a hook:
 * the reactor's epoll descriptor is replaced under it, so its next epoll_wait fails. That needs
 * the epoll backend; with another one the whole program reports itself skipped (exit 77).
 * Under LeakSanitizer these also check that a failed server is freed with all it holds. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <string.h>
#include <unistd.h>

#include "flv_fixture.h"
#include "rtmp_test_player.h"

#define MAX_EPOLL_FDS 16

/* The process's epoll descriptors (readlink of /proc/self/fd/N is "anon_inode:[eventpoll]");
 * returns how many, at most max. */
static int epoll_fds(int *out, int max)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < max) {
        char target[64];
        ssize_t len = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
        if (len < 0)
            continue;
        target[len] = '\0';
        if (strcmp(target, "anon_inode:[eventpoll]") == 0)
            out[n++] = atoi(de->d_name);
    }
    closedir(d);
    return n;
}

static gboolean contains(const int *fds, int n, int fd)
{
    for (int i = 0; i < n; i++)
        if (fds[i] == fd)
            return TRUE;
    return FALSE;
}

/* Replaces the descriptor with /dev/null: the reactor's next epoll_wait fails (EINVAL), and the
 * number stays taken, so the server's own close() later closes our copy and nothing else. */
static void break_epoll(int epfd)
{
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fail_unless(null_fd >= 0);
    fail_unless_equals_int(dup2(null_fd, epfd), epfd);
    close(null_fd);
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

/* The epoll descriptor the element's server opened: the one that was not there before. */
static int server_epoll_fd(const int *before, int nbefore)
{
    int now[MAX_EPOLL_FDS];
    int n = epoll_fds(now, MAX_EPOLL_FDS);
    int found = -1;
    for (int i = 0; i < n; i++) {
        if (contains(before, nbefore, now[i]))
            continue;
        if (found >= 0)
            return -2; /* more than one: cannot tell which */
        found = now[i];
    }
    return found;
}

/* Whether the server's reactor uses epoll at all, asked of a real element. */
static gboolean reactor_uses_epoll(void)
{
    int before[MAX_EPOLL_FDS];
    int nbefore = epoll_fds(before, MAX_EPOLL_FDS);
    GstElement *e = gst_element_factory_make("ezrtmpserversink", NULL);
    g_object_set(e, "port", 0, NULL);
    gboolean ready = gst_element_set_state(e, GST_STATE_READY) == GST_STATE_CHANGE_SUCCESS;
    gboolean epoll = ready && server_epoll_fd(before, nbefore) >= 0;
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(e);
    return epoll;
}

static void push_tag(GstHarness *h, guint8 type, guint32 ts, const guint8 *body, gsize len,
                     GstFlowReturn *ret)
{
    guint8 t[256];
    gsize n = flv_put_tag(t, type, ts, body, len);
    *ret = gst_harness_push(h, gst_buffer_new_memdup(t, n));
}

GST_START_TEST(test_reactor_failure_is_a_resource_error)
{
    int before[MAX_EPOLL_FDS];
    int nbefore = epoll_fds(before, MAX_EPOLL_FDS);
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

    int epfd = server_epoll_fd(before, nbefore);
    fail_unless(epfd >= 0, "the server's epoll descriptor was not found (%d)", epfd);
    break_epoll(epfd);
    fail_unless_equals_int(push_until_refused(h), GST_FLOW_ERROR);

    GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    fail_unless(m != NULL, "no error message on the bus");
    GError *err = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error(m, &err, &dbg);
    fail_unless(g_error_matches(err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED),
                "error %s", err->message);
    gint port = 0;
    g_object_get(e, "bound-port", &port, NULL);
    gchar *want = g_strdup_printf("The RTMP server on port %d stopped", port);
    fail_unless(g_str_has_prefix(err->message, want), "message: %s", err->message);
    fail_unless(strstr(err->message, "Restart the pipeline") != NULL, "message: %s",
                err->message);
    /* The details carry the library's own words on the cause. */
    fail_unless(dbg && strstr(dbg, "the reactor failed (Invalid argument)") != NULL,
                "details: %s", dbg);
    g_free(want);
    g_free(dbg);
    g_error_free(err);
    gst_message_unref(m);

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

/* A free TCP port on 127.0.0.1 (bound, read back, released). */
static guint16 free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof a;
    fail_unless_equals_int(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    fail_unless_equals_int(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
    close(fd);
    return ntohs(a.sin_port);
}

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
    guint16 port = free_port();
    int before[MAX_EPOLL_FDS];
    int nbefore = epoll_fds(before, MAX_EPOLL_FDS);
    GstElement *sink_a = gst_element_factory_make("ezrtmpserversink", NULL);
    GstElement *sink_b = gst_element_factory_make("ezrtmpserversink", NULL);
    g_object_set(sink_a, "host", "127.0.0.1", "port", port, "sync", FALSE, NULL);
    g_object_set(sink_b, "host", "127.0.0.1", "port", port, "stream-key", "other", NULL);
    gint removed = 0;
    g_signal_connect(sink_a, "client-removed", G_CALLBACK(count_removed), &removed);
    GstHarness *h = gst_harness_new_with_element(sink_a, "sink", NULL);
    gst_harness_set_src_caps_str(h, "video/x-flv");
    fail_unless_equals_int(gst_element_set_state(sink_b, GST_STATE_READY),
                           GST_STATE_CHANGE_SUCCESS);
    guint8 head[sizeof flv_file_header];
    memcpy(head, flv_file_header, sizeof head);
    fail_unless_equals_int(gst_harness_push(h, gst_buffer_new_memdup(head, sizeof head)),
                           GST_FLOW_OK);
    GstFlowReturn ret;
    push_tag(h, 9, 0, flv_avc_key, sizeof flv_avc_key, &ret);
    fail_unless_equals_int(ret, GST_FLOW_OK);
    int fd = play(port); /* plays sink_a's stream */
    fail_unless(fd >= 0, "the player could not play");

    int epfd = server_epoll_fd(before, nbefore);
    fail_unless(epfd >= 0, "one epoll descriptor for the shared server, found %d", epfd);
    break_epoll(epfd);
    fail_unless_equals_int(push_until_refused(h), GST_FLOW_ERROR);

    gpointer alive = sink_a;
    g_object_add_weak_pointer(G_OBJECT(sink_a), &alive);
    gst_harness_teardown(h); /* to NULL, and the harness drops its reference */
    gst_object_unref(sink_a);
    fail_unless(alive != NULL, "sink_a was freed while its stream is in the server");
    fail_unless_equals_int(g_atomic_int_get(&removed), 0);

    /* The last release frees the server, its streams and their players. */
    fail_unless_equals_int(gst_element_set_state(sink_b, GST_STATE_NULL),
                           GST_STATE_CHANGE_SUCCESS);
    fail_unless_equals_int(g_atomic_int_get(&removed), 1);
    fail_unless(alive == NULL, "sink_a outlived the server");
    gst_object_unref(sink_b);
    expect_closed_by_server(fd);
}
GST_END_TEST;

static Suite *reactor_failure_suite(void)
{
    Suite *s = suite_create("ezrtmpserversink_reactor_failure");
    TCase *tc = tcase_create("general");
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_reactor_failure_is_a_resource_error);
    tcase_add_test(tc, test_failed_shared_server_keeps_element_until_freed);
    return s;
}

int main(int argc, char **argv)
{
    gst_check_init(&argc, &argv);
    if (!reactor_uses_epoll()) {
        g_print("SKIP: the server's reactor does not use epoll; this failure cannot be made\n");
        return 77;
    }
    return gst_check_run_suite(reactor_failure_suite(), "ezrtmpserversink_reactor_failure",
                               __FILE__);
}
