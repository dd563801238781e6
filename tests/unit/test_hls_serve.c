/* LL-HLS served over loopback by a real server: one keep-alive connection for the playlist, the
 * init segment, parts and segments; pipelined requests answered in order; blocking reloads parked
 * until their part exists and answered together; the hinted part streamed frame by frame (and
 * held by a flush interval); bad queries, gone and unknown names; a thousand parked requests
 * dropped; what ten thousand parked at once cost on the heap; a peer that pipelines and never
 * reads; a request sent while another waits; a peer that shuts its side down (answered, idle or
 * parked); the end of the stream. Frames are pushed as the element pushes them. */
#include "ezr_test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_server.h"
#include "hls_fixture.h"
#include "hls_serve_fixture.h"
#include "http_test_client.h"
#include "server_fixture.h"

#define PLAYLIST "/live/stream/index.m3u8"
/* A parked request's cost on the server's heap: its connection (struct ezr_client, 165 bytes
 * and its address's text: 192 with malloc's header and rounding for "127.0.0.1:NNNNN") and its
 * HTTP state (struct ezr_http_conn, 120 bytes: 128), 320 bytes in all: 10,000 of them hold
 * 3.2 MB. The poll backend (-Dreactor=poll) adds its descriptor array, 16 bytes a registration
 * in an array that doubles: 347 bytes at 10,000, 337 at 1,000. */
#define EZR_TEST_PARKED_REQUEST_BYTES 352u
/* How many parked requests the direct measure holds at once: the server and its clients cannot
 * share one process under the 20,000-descriptor limit, so the clients are a child's. */
#define EZR_TEST_MANY_PARKED 10000

/* flush_ms: the server's flush interval (EZR_FLUSH_AUTO, or ms). */
static struct ezr_server *start_hls_flushed(struct ezr_stream **st, uint32_t window,
                                           int32_t flush_ms)
{
    struct ezr_server_config cfg;
    test_server_config(&cfg);
    cfg.http = true;
    cfg.flush_interval_ms = flush_ms;
    struct ezr_server *s = NULL;
    if (ezr_server_new(&cfg, &s) < 0)
        return NULL;
    struct ezr_stream_config sc = {.app = "live", .key = "stream", .hls = true, .hls_window = window};
    if (ezr_server_add_stream(s, &sc, st) < 0) {
        ezr_server_free(s);
        return NULL;
    }
    push_headers(*st);
    return s;
}

static struct ezr_server *start_hls(struct ezr_stream **st, uint32_t window)
{
    return start_hls_flushed(st, window, EZR_DEFAULT_FLUSH_INTERVAL_MS);
}

/* The first URI in text after marker, up to the closing quote or the line's end, into out. */
static bool uri_after(const char *text, const char *marker, char *out, size_t cap)
{
    const char *p = strstr(text, marker);
    if (!p)
        return false;
    p += strlen(marker);
    size_t n = strcspn(p, "\"\r\n");
    if (n + 1 > cap)
        return false;
    snprintf(out, cap, "/live/stream/%.*s", (int)n, p);
    return true;
}

/* The playlist's preload hint as a blocking query for that part: "_HLS_msn=M&_HLS_part=P". */
static bool hinted_query(const char *playlist, char *path, size_t cap)
{
    char uri[256];
    unsigned long long msn;
    unsigned part;
    const char *p = strstr(playlist, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"");
    if (!p || !uri_after(p, "URI=\"", uri, sizeof uri))
        return false;
    const char *dot = strrchr(uri, '-');
    if (!dot || sscanf(dot + 1, "%llu.%u.m4s", &msn, &part) != 2)
        return false;
    snprintf(path, cap, PLAYLIST "?_HLS_msn=%llu&_HLS_part=%u", msn, part);
    return true;
}

EZR_TEST(test_playlist_init_part_and_segment_on_one_keep_alive_connection)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_hls(&st, 0);
    EZR_CHECK(s != NULL);
    push_media(st, 0, 2100);
    bool made = WAIT_STAT(st, hls_segments, 2, false);
    struct http_client h;
    bool opened = http_client_open(&h, ezr_server_port(s));
    struct http_answer pl = {0}, init = {0}, seg = {0}, part = {0};
    char init_uri[256] = "", seg_uri[256] = "", part_uri[256] = "";
    int rc = opened ? get(&h, PLAYLIST, &pl) : -1;
    bool found = rc == 0 && uri_after((char *)pl.body, "#EXT-X-MAP:URI=\"", init_uri, 256) &&
                 uri_after((char *)pl.body, "#EXT-X-PART:DURATION=", part_uri, 256) &&
                 uri_after(strstr((char *)pl.body, "#EXTINF:"), ",\n", seg_uri, 256);
    /* The part URI follows its DURATION attribute: take it from URI=. */
    if (found)
        found = uri_after(strstr((char *)pl.body, "#EXT-X-PART:"), "URI=\"", part_uri, 256);
    int irc = found ? get(&h, init_uri, &init) : -1;
    int src = found ? get(&h, seg_uri, &seg) : -1;
    int prc = found ? get(&h, part_uri, &part) : -1;
    http_client_close(&h);
    ezr_server_free(s);
    EZR_CHECK(made && opened);
    EZR_CHECK_EQ(rc, 0);
    EZR_CHECK_EQ(pl.status, 200);
    EZR_CHECK(strcmp(pl.content_type, "application/vnd.apple.mpegurl") == 0);
    EZR_CHECK(strcmp(pl.cache_control, "no-cache") == 0);
    EZR_CHECK(strcmp(pl.connection, "keep-alive") == 0);
    EZR_CHECK(found);
    EZR_CHECK_EQ(irc, 0);
    EZR_CHECK_EQ(init.status, 200);
    EZR_CHECK(strcmp(init.content_type, "video/mp4") == 0);
    EZR_CHECK(strstr(init.cache_control, "immutable") != NULL);
    EZR_CHECK(init.body_len > 8 && memcmp(init.body + 4, "ftyp", 4) == 0);
    EZR_CHECK_EQ(src, 0);
    EZR_CHECK_EQ(seg.status, 200);
    EZR_CHECK_EQ(seg.content_length, (long long)seg.body_len);
    EZR_CHECK(seg.body_len > 8 && memcmp(seg.body + 4, "moof", 4) == 0);
    EZR_CHECK_EQ(prc, 0);
    EZR_CHECK_EQ(part.status, 200);
    /* The segment is its parts: its first part's bytes open it. */
    EZR_CHECK(part.body_len > 0 && part.body_len <= seg.body_len);
    EZR_CHECK_MEM(part.body, seg.body, part.body_len);
    http_answer_free(&pl);
    http_answer_free(&init);
    http_answer_free(&seg);
    http_answer_free(&part);
}

EZR_TEST(test_pipelined_requests_are_answered_in_order)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_hls(&st, 0);
    EZR_CHECK(s != NULL);
    push_media(st, 0, 1100);
    bool made = WAIT_STAT(st, hls_segments, 1, false);
    struct http_client h;
    bool opened = http_client_open(&h, ezr_server_port(s));
    struct http_answer first = {0}, a[3] = {{0}};
    char init_uri[256] = "", req[2048];
    bool found = opened && get(&h, PLAYLIST, &first) == 0 &&
                 uri_after((char *)first.body, "#EXT-X-MAP:URI=\"", init_uri, 256);
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: x\r\n\r\nGET " PLAYLIST " HTTP/1.1\r\nHost: x\r\n\r\n"
             "HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n",
             init_uri, init_uri);
    bool sent = found && http_client_send(&h, req);
    uint64_t dl = mono_ms() + DEADLINE_MS;
    int r0 = sent ? http_client_answer(&h, &a[0], dl) : -1;
    int r1 = r0 == 0 ? http_client_answer(&h, &a[1], dl) : -1;
    int r2 = r1 == 0 ? http_client_head(&h, &a[2], dl) : -1;
    http_client_close(&h);
    ezr_server_free(s);
    EZR_CHECK(made && found && sent);
    EZR_CHECK(r0 == 0 && r1 == 0 && r2 == 0);
    EZR_CHECK(strcmp(a[0].content_type, "video/mp4") == 0);
    EZR_CHECK(strcmp(a[1].content_type, "application/vnd.apple.mpegurl") == 0);
    EZR_CHECK(strcmp(a[2].content_type, "video/mp4") == 0);
    EZR_CHECK_EQ(a[2].content_length, (long long)a[0].body_len); /* HEAD: the same length */
    http_answer_free(&first);
    for (int i = 0; i < 3; i++)
        http_answer_free(&a[i]);
}

EZR_TEST(test_blocked_reloads_wait_for_their_part_and_get_one_playlist)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_hls(&st, 0);
    EZR_CHECK(s != NULL);
    push_media(st, 0, 1100);
    bool made = WAIT_STAT(st, hls_segments, 1, false);
    struct http_client h[3];
    struct http_answer pl = {0}, a[3] = {{0}};
    char path[300] = "";
    bool ok = http_client_open(&h[0], ezr_server_port(s)) && get(&h[0], PLAYLIST, &pl) == 0 &&
              hinted_query((char *)pl.body, path, sizeof path);
    for (int i = 1; i < 3; i++)
        ok = http_client_open(&h[i], ezr_server_port(s)) && ok;
    for (int i = 0; ok && i < 3; i++)
        ok = http_client_get(&h[i], path);
    /* All three are parked, and nothing came back. */
    bool parked = ok && WAIT_STAT(st, hls_waiting, 3, true);
    bool quiet = http_client_pending(&h[0]) == 0;
    push_media(st, 1100, 1600);
    int rc[3];
    for (int i = 0; i < 3; i++)
        rc[i] = ok ? http_client_answer(&h[i], &a[i], mono_ms() + DEADLINE_MS) : -1;
    bool drained = WAIT_STAT(st, hls_waiting, 0, true);
    for (int i = 0; i < 3; i++)
        http_client_close(&h[i]);
    ezr_server_free(s);
    EZR_CHECK(made && ok && parked && quiet && drained);
    for (int i = 0; i < 3; i++) {
        EZR_CHECK_EQ(rc[i], 0);
        EZR_CHECK_EQ(a[i].status, 200);
        EZR_CHECK(strncmp(a[i].cache_control, "public, max-age=", 16) == 0);
        EZR_CHECK_EQ(a[i].body_len, a[0].body_len);
        EZR_CHECK_MEM(a[i].body, a[0].body, a[0].body_len);
    }
    /* The part asked for is listed now. */
    char want[64];
    const char *q = strstr(path, "_HLS_msn=");
    unsigned long long msn;
    unsigned part;
    EZR_CHECK(q && sscanf(q, "_HLS_msn=%llu&_HLS_part=%u", &msn, &part) == 2);
    snprintf(want, sizeof want, "-%llu.%u.m4s\",", msn, part);
    EZR_CHECK(strstr((char *)a[0].body, want) != NULL);
    http_answer_free(&pl);
    for (int i = 0; i < 3; i++)
        http_answer_free(&a[i]);
}

/* 1.1 s of media (a segment made), then h (opened here; the caller closes it) reads the
 * playlist into pl and its preload hint's path into hint (256 bytes). */
static bool at_the_hint(struct ezr_server *s, struct ezr_stream *st, struct http_client *h,
                        struct http_answer *pl, char *hint)
{
    h->fd = -1;
    push_media(st, 0, 1100);
    return WAIT_STAT(st, hls_segments, 1, false) && http_client_open(h, ezr_server_port(s)) &&
           get(h, PLAYLIST, pl) == 0 &&
           uri_after(strstr((char *)pl->body, "#EXT-X-PRELOAD-HINT"), "URI=\"", hint, 256);
}

EZR_TEST(test_hinted_part_streams_frame_by_frame_as_it_is_made)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_hls(&st, 0);
    EZR_CHECK(s != NULL);
    struct http_client h;
    struct http_answer pl = {0}, streamed = {0}, whole = {0};
    char hint[256] = "";
    bool made = at_the_hint(s, st, &h, &pl, hint);
    bool ok = made && http_client_get(&h, hint);
    bool parked = ok && WAIT_STAT(st, hls_waiting, 1, true);
    /* One more video frame puts the one before it into the hinted part: its head and first
     * chunk come before the part is complete. */
    push_media(st, 1100, 1140);
    uint64_t dl = mono_ms() + DEADLINE_MS;
    int head = parked ? http_client_head(&h, &streamed, dl) : -1;
    int first = head == 0 ? http_client_chunk(&h, &streamed, dl) : -1;
    push_media(st, 1140, 1700);
    int r;
    while (first == 1 && (r = http_client_chunk(&h, &streamed, dl)) == 1)
        ;
    int again = first == 1 ? get(&h, hint, &whole) : -1;
    http_client_close(&h);
    ezr_server_free(s);
    EZR_CHECK(made && ok && parked);
    EZR_CHECK_EQ(head, 0);
    EZR_CHECK_EQ(streamed.status, 200);
    EZR_CHECK(streamed.chunked);
    EZR_CHECK_EQ(first, 1);
    EZR_CHECK(streamed.chunks >= 2);
    EZR_CHECK_EQ(again, 0);
    EZR_CHECK(!whole.chunked);
    EZR_CHECK_EQ(whole.body_len, streamed.body_len); /* the same part, the same bytes */
    EZR_CHECK_MEM(whole.body, streamed.body, whole.body_len);
    http_answer_free(&pl);
    http_answer_free(&streamed);
    http_answer_free(&whole);
}

/* With a flush interval in ms the frames of a part being made, after its head, wait as a
 * player's media does (ezr_client_send_media_ref): none is lost or reordered, and the part's end
 * writes what waits, long before the interval (1 s) is up. */
EZR_TEST(test_a_part_streamed_under_a_flush_interval_arrives_whole_at_its_end)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_hls_flushed(&st, 0, EZR_FLUSH_INTERVAL_MAX_MS);
    EZR_CHECK(s != NULL);
    struct http_client h;
    struct http_answer pl = {0}, streamed = {0}, whole = {0};
    char hint[256] = "";
    bool made = at_the_hint(s, st, &h, &pl, hint);
    bool ok = made && http_client_get(&h, hint) && WAIT_STAT(st, hls_waiting, 1, true);
    /* The part begins (its head goes at once), goes on, and ends with the next part. */
    push_media(st, 1100, 1700);
    uint64_t dl = mono_ms() + DEADLINE_MS;
    int head = ok ? http_client_head(&h, &streamed, dl) : -1;
    int r = head == 0 ? 1 : -1;
    while (r == 1)
        r = http_client_chunk(&h, &streamed, dl);
    uint64_t took = mono_ms() + DEADLINE_MS - dl;
    int again = r == 0 ? get(&h, hint, &whole) : -1;
    http_client_close(&h);
    ezr_server_free(s);
    EZR_CHECK(made && ok);
    EZR_CHECK_EQ(head, 0);
    EZR_CHECK(streamed.chunked);
    EZR_CHECK_EQ(r, 0);
    EZR_CHECK(took < EZR_FLUSH_INTERVAL_MAX_MS);
    EZR_CHECK_EQ(again, 0);
    EZR_CHECK_EQ(whole.body_len, streamed.body_len);
    EZR_CHECK_MEM(whole.body, streamed.body, whole.body_len);
    http_answer_free(&pl);
    http_answer_free(&streamed);
    http_answer_free(&whole);
}

/* HEAD of the hinted part while it is being made: its head (chunked, as a GET would get) and no
 * body at all, so the next answer on the connection starts where it should. */
EZR_TEST(test_head_of_the_hinted_part_has_no_body)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_hls(&st, 0);
    EZR_CHECK(s != NULL);
    struct http_client h;
    struct http_answer pl = {0}, head = {0}, after = {0};
    char hint[256] = "", req[512];
    bool made = at_the_hint(s, st, &h, &pl, hint);
    bool ok = made;
    snprintf(req, sizeof req, "HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n", hint);
    ok = ok && http_client_send(&h, req);
    /* Answered at once if the part has begun, else parked until this frame begins it. */
    push_media(st, 1100, 1140);
    uint64_t dl = mono_ms() + DEADLINE_MS;
    int r1 = ok ? http_client_head(&h, &head, dl) : -1;
    int r2 = r1 == 0 ? get(&h, PLAYLIST, &after) : -1;
    http_client_close(&h);
    ezr_server_free(s);
    EZR_CHECK(made && ok);
    EZR_CHECK_EQ(r1, 0);
    EZR_CHECK_EQ(head.status, 200);
    EZR_CHECK(head.chunked);
    EZR_CHECK_EQ(r2, 0);
    EZR_CHECK_EQ(after.status, 200);
    EZR_CHECK(after.body_len > 0 && memcmp(after.body, "#EXTM3U", 7) == 0);
    http_answer_free(&pl);
    http_answer_free(&head);
    http_answer_free(&after);
}

EZR_TEST(test_bad_blocking_queries_are_400)
{
    static const char *const queries[] = {
        "?_HLS_msn=99999",
        "?_HLS_msn=-1",
        "?_HLS_msn=abc",
        "?_HLS_msn=123456789012345678901234567890",
        "?_HLS_part=1",
        "?_HLS_msn=1&_HLS_part=-2",
    };
    struct ezr_stream *st;
    struct ezr_server *s = start_hls(&st, 0);
    EZR_CHECK(s != NULL);
    push_media(st, 0, 1100);
    bool made = WAIT_STAT(st, hls_segments, 1, false);
    int status[6] = {0};
    for (size_t i = 0; made && i < 6; i++) {
        struct http_client h;
        struct http_answer a = {0};
        char path[200];
        snprintf(path, sizeof path, PLAYLIST "%s", queries[i]);
        if (http_client_open(&h, ezr_server_port(s)) && get(&h, path, &a) == 0)
            status[i] = a.status;
        http_answer_free(&a);
        http_client_close(&h);
    }
    ezr_server_free(s);
    EZR_CHECK(made);
    for (size_t i = 0; i < 6; i++)
        EZR_CHECK_EQ(status[i], 400);
}

EZR_TEST(test_gone_unknown_and_traversing_names_are_404)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_hls(&st, EZR_HLS_MIN_WINDOW);
    EZR_CHECK(s != NULL);
    push_media(st, 0, 6100);
    bool made = WAIT_STAT(st, hls_segments, 6, false);
    struct http_client h;
    struct http_answer pl = {0};
    char seg[256] = "";
    bool ok = http_client_open(&h, ezr_server_port(s)) && get(&h, PLAYLIST, &pl) == 0 &&
              uri_after(strstr((char *)pl.body, "#EXTINF:"), ",\n", seg, sizeof seg);
    http_client_close(&h);
    /* seg-TAG-N.m4s of the oldest segment listed: 0 is gone by now. */
    char gone[300] = "", never[300] = "", other_tag[300] = "";
    char *dash = strrchr(seg, '-');
    if (ok && dash) {
        snprintf(gone, sizeof gone, "%.*s-0.m4s", (int)(dash - seg), seg);
        snprintf(never, sizeof never, "%.*s-999.m4s", (int)(dash - seg), seg);
        snprintf(other_tag, sizeof other_tag, "/live/stream/seg-zz-1.m4s");
    }
    const char *paths[] = {gone, never, other_tag, "/live/stream/..%2f..%2fetc%2fpasswd.m4s",
                           "/live/stream/seg-../x.m4s", "/live/stream/part-0.0.m4s"};
    int status[6] = {0};
    for (size_t i = 0; ok && i < 6; i++) {
        struct http_answer a = {0};
        if (http_client_open(&h, ezr_server_port(s)) && get(&h, paths[i], &a) == 0)
            status[i] = a.status;
        http_answer_free(&a);
        http_client_close(&h);
    }
    ezr_server_free(s);
    EZR_CHECK(made && ok);
    for (size_t i = 0; i < 6; i++)
        EZR_CHECK_EQ(status[i], 404);
    http_answer_free(&pl);
}

/* The bytes malloc has handed out and not taken back, blocks it mapped on their own (a large
 * array, the poll backend's) included. */
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* 1.1 s of media (*made: a segment was), then the playlist into pl and the blocking request for
 * its hinted part into path: it waits until its deadline, since no more media comes. */
/* The playlist, and in path the hinted part's blocking reload it asks for next. */
static bool hinted_path(struct ezr_server *s, struct http_answer *pl, char *path, size_t cap)
{
    struct http_client h = {.fd = -1};
    bool ok = http_client_open(&h, ezr_server_port(s)) && get(&h, PLAYLIST, pl) == 0 &&
              hinted_query((char *)pl->body, path, cap);
    http_client_close(&h);
    return ok;
}

static bool hinted_reload(struct ezr_server *s, struct ezr_stream *st, bool *made,
                          struct http_answer *pl, char *path, size_t cap)
{
    push_media(st, 0, 1100);
    *made = WAIT_STAT(st, hls_segments, 1, false);
    return hinted_path(s, pl, path, cap);
}

/* The same with 10 s segments: a blocking request then waits three target durations, 30 s,
 * before its 503, so that 10,000 of them can be opened one after another (several seconds with
 * the poll reactor, whose every round looks at each descriptor) and all still be parked. */
static bool hinted_reload_long_wait(struct ezr_server *s, struct ezr_stream *st, bool *made,
                                    struct http_answer *pl, char *path, size_t cap)
{
    push_media_gop(st, 0, 10100, 300u);
    *made = WAIT_STAT(st, hls_segments, 1, false);
    return hinted_path(s, pl, path, cap);
}

EZR_TEST(test_a_thousand_parked_reloads_dropped_leave_nothing_waiting)
{
    enum { N = 1000 };
    struct ezr_stream *st;
    struct ezr_server *s = start_hls(&st, 0);
    EZR_CHECK(s != NULL);
    static struct http_client h[N];
    struct http_answer pl = {0};
    char path[300] = "";
    bool made = false, ok = hinted_reload(s, st, &made, &pl, path, sizeof path);
    int opened = 0;
    for (int i = 0; ok && i < N; i++)
        if (http_client_open(&h[i], ezr_server_port(s)) && http_client_get(&h[i], path))
            opened++;
    bool parked = ok && WAIT_STAT(st, hls_waiting, N, true);
    for (int i = 0; i < opened; i++)
        http_client_close(&h[i]);
    bool freed = WAIT_STAT(st, hls_waiting, 0, true);
    /* The stream goes on: a new request is answered. */
    struct http_answer after = {0};
    struct http_client c;
    int arc = http_client_open(&c, ezr_server_port(s)) ? get(&c, PLAYLIST, &after) : -1;
    http_client_close(&c);
    ezr_server_free(s);
    EZR_CHECK(made && ok);
    EZR_CHECK_EQ(opened, N);
    EZR_CHECK(parked && freed);
    EZR_CHECK_EQ(arc, 0);
    EZR_CHECK_EQ(after.status, 200);
    http_answer_free(&pl);
    http_answer_free(&after);
}

/* The child of test_ten_thousand_parked_reloads_...: opens n connections to port, sends each the
 * request, tells the parent how many it opened (on ready) and holds them until the parent closes
 * stop. Only system calls after fork (the parent has threads): no malloc. */
static int held_fds[EZR_TEST_MANY_PARKED];

_Noreturn static void hold_parked(uint16_t port, const char *req, size_t len, int n,
                                  const int ready[2], const int stop[2])
{
    close(stop[1]); /* the parent's end: closing it there is what ends the wait below */
    close(ready[0]);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int opened = 0;
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (const struct sockaddr *)&sa, sizeof sa) < 0 ||
            write(fd, req, len) != (ssize_t)len) {
            if (fd >= 0)
                close(fd);
            break;
        }
        held_fds[opened++] = fd;
    }
    if (write(ready[1], &opened, sizeof opened) != (ssize_t)sizeof opened)
        _exit(1);
    char b;
    (void)!read(stop[0], &b, 1);
    _exit(0); /* closes every connection at once */
}

EZR_TEST(test_ten_thousand_parked_reloads_cost_at_most_352_bytes_of_heap_each)
{
    enum { N = EZR_TEST_MANY_PARKED };
#ifdef __SANITIZE_ADDRESS__
    EZR_SKIP("ASan's allocator keeps no mallinfo: the heap is measured in a plain build");
#endif
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max < (rlim_t)N + 256)
        EZR_SKIP("the descriptor limit (%llu) is below %d", (unsigned long long)rl.rlim_max,
                 N + 256);
    rlim_t soft = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    EZR_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    struct ezr_stream *st;
    struct ezr_server *s = start_hls(&st, 0);
    EZR_CHECK(s != NULL);
    struct http_answer pl = {0};
    char path[300] = "", req[400] = "";
    bool made = false, ok = hinted_reload_long_wait(s, st, &made, &pl, path, sizeof path);
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    int ready[2] = {-1, -1}, stop[2] = {-1, -1};
    ok = ok && pipe(ready) == 0 && pipe(stop) == 0;
    size_t heap0 = heap_in_use();
    pid_t child = ok ? fork() : -1;
    if (child == 0)
        hold_parked(ezr_server_port(s), req, (size_t)len, N, ready, stop);
    int opened = 0;
    if (child > 0 && read(ready[0], &opened, sizeof opened) != (ssize_t)sizeof opened)
        opened = -1;
    /* Every request parked (none is answered before its deadline: the hinted part is not made). */
    bool parked = opened == N && WAIT_STAT(st, hls_waiting, N, true);
    size_t heap1 = heap_in_use();
    size_t per_request = heap1 > heap0 ? (heap1 - heap0) / N : 0;
    if (child > 0) {
        close(stop[1]);
        stop[1] = -1;
        waitpid(child, NULL, 0);
    }
    bool freed = WAIT_STAT(st, hls_waiting, 0, true);
    for (int i = 0; i < 2; i++) {
        if (ready[i] >= 0)
            close(ready[i]);
        if (stop[i] >= 0)
            close(stop[i]);
    }
    ezr_server_free(s);
    rl.rlim_cur = soft;
    setrlimit(RLIMIT_NOFILE, &rl);
    http_answer_free(&pl);
    EZR_CHECK(made && ok);
    EZR_CHECK(child > 0);
    EZR_CHECK_EQ(opened, N);
    EZR_CHECK(parked && freed);
    printf("# %zu bytes of heap per parked request, %.1f MB for %d\n", per_request,
           (double)(heap1 - heap0) / 1e6, N);
    EZR_CHECK(per_request <= EZR_TEST_PARKED_REQUEST_BYTES);
}

EZR_TEST(test_a_peer_that_pipelines_and_never_reads_holds_a_bounded_queue)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_hls(&st, 0);
    EZR_CHECK(s != NULL);
    push_media(st, 0, 1100);
    bool made = WAIT_STAT(st, hls_segments, 1, false);
    struct http_client flood, other;
    bool ok = made && http_client_open(&flood, ezr_server_port(s));
    /* 10,000 requests, written as long as the socket takes them: the server reads what its bound
     * lets it and stops, the kernel's buffers take the rest. */
    static const char req[] = "GET " PLAYLIST " HTTP/1.1\r\nHost: x\r\n\r\n";
    int sent = 0;
    if (ok)
        fcntl(flood.fd, F_SETFL, fcntl(flood.fd, F_GETFL) | O_NONBLOCK);
    for (size_t off = 0; ok && sent < 10000;) {
        ssize_t w = write(flood.fd, req + off, sizeof req - 1 - off);
        if (w < 0) {
            struct pollfd p = {.fd = flood.fd, .events = POLLOUT};
            if (poll(&p, 1, 200) <= 0)
                break; /* the server stopped reading */
            continue;
        }
        off += (size_t)w;
        if (off == sizeof req - 1) {
            off = 0;
            sent++;
        }
    }
    struct http_answer a = {0};
    int arc = ok && http_client_open(&other, ezr_server_port(s)) ? get(&other, PLAYLIST, &a) : -1;
    struct ezr_stream_stats stats = {0};
    int src = ezr_stream_get_stats(st, &stats, NULL, NULL, DEADLINE_MS);
    http_client_close(&other);
    http_client_close(&flood);
    ezr_server_free(s);
    EZR_CHECK(made && ok);
    /* Far fewer answered than asked (playlists of 1-2 KB: the socket buffers hold a few MB), and
     * what waits unwritten is the bound and an answer or two. */
    EZR_CHECK(sent > 1000);
    EZR_CHECK(stats.hls_requests < (uint64_t)sent);
    EZR_CHECK_EQ(arc, 0);
    EZR_CHECK_EQ(a.status, 200);
    EZR_CHECK_EQ(src, 0);
    EZR_CHECK(stats.connections_bytes_queued <=
              EZR_HTTP_PIPELINE_QUEUE_BYTES + 2 * a.body_len + 4096);
    http_answer_free(&a);
}

/* A second of media, then h (opened here; the caller closes it) asks for the playlist and parks a
 * blocking reload for its hinted part: true once the stream counts it waiting. */
static bool park_a_reload(struct ezr_server *s, struct ezr_stream *st, struct http_client *h)
{
    h->fd = -1;
    push_media(st, 0, 1100);
    struct http_answer pl = {0};
    char path[300] = "";
    bool ok = WAIT_STAT(st, hls_segments, 1, false) && http_client_open(h, ezr_server_port(s)) &&
              get(h, PLAYLIST, &pl) == 0 && hinted_query((char *)pl.body, path, sizeof path) &&
              http_client_get(h, path);
    http_answer_free(&pl);
    return ok && WAIT_STAT(st, hls_waiting, 1, true);
}

EZR_TEST(test_end_of_stream_ends_the_playlist_and_answers_the_parked)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_hls(&st, 0);
    EZR_CHECK(s != NULL);
    struct http_client h;
    struct http_answer a = {0};
    bool parked = park_a_reload(s, st, &h);
    int eos = ezr_stream_eos(st, 0);
    int rc = parked ? http_client_answer(&h, &a, mono_ms() + DEADLINE_MS) : -1;
    http_client_close(&h);
    ezr_server_free(s);
    EZR_CHECK(parked);
    EZR_CHECK_EQ(eos, 0);
    EZR_CHECK_EQ(rc, 0);
    EZR_CHECK_EQ(a.status, 200);
    EZR_CHECK(strstr((char *)a.body, "#EXT-X-ENDLIST") != NULL);
    http_answer_free(&a);
}

EZR_TEST(test_a_removed_stream_answers_its_parked_requests_404)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_hls(&st, 0);
    EZR_CHECK(s != NULL);
    struct http_client h;
    struct http_answer a = {0};
    bool parked = park_a_reload(s, st, &h);
    ezr_server_remove_stream(s, st);
    int rc = parked ? http_client_answer(&h, &a, mono_ms() + DEADLINE_MS) : -1;
    http_client_close(&h);
    ezr_server_free(s);
    EZR_CHECK(parked);
    EZR_CHECK_EQ(rc, 0);
    EZR_CHECK_EQ(a.status, 404);
    EZR_CHECK(strcmp(a.connection, "close") == 0);
    http_answer_free(&a);
}

/* A request is read whole without a second read that would see EOF: the FIN that comes after it
 * (a new event of its own) is still seen and closes the connection, answered, idle or parked. */
EZR_TEST(test_a_peer_that_shuts_down_after_its_requests_is_closed)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_hls(&st, 0);
    EZR_CHECK(s != NULL);
    struct http_client answered, at_once, parked;
    struct http_answer a = {0};
    bool waiting = park_a_reload(s, st, &parked);
    /* Answered, then idle on keep-alive when the FIN comes. */
    int arc = http_client_open(&answered, ezr_server_port(s)) ? get(&answered, PLAYLIST, &a) : -1;
    shutdown(answered.fd, SHUT_WR);
    bool closed_answered = arc == 0 && closed_by_server(answered.fd, mono_ms() + DEADLINE_MS);
    /* The request and the FIN in one go. */
    bool sent = http_client_open(&at_once, ezr_server_port(s)) &&
                http_client_send(&at_once, "GET " PLAYLIST " HTTP/1.1\r\nHost: x\r\n\r\n");
    shutdown(at_once.fd, SHUT_WR);
    bool closed_at_once = sent && closed_by_server(at_once.fd, mono_ms() + DEADLINE_MS);
    /* A blocking reload parked, then the FIN: the request is dropped with its connection. */
    shutdown(parked.fd, SHUT_WR);
    bool closed_parked = waiting && closed_by_server(parked.fd, mono_ms() + DEADLINE_MS);
    bool unparked = WAIT_STAT(st, hls_waiting, 0, true);
    /* closed_by_server closed the sockets it read. */
    if (arc == 0)
        answered.fd = -1;
    if (sent)
        at_once.fd = -1;
    if (waiting)
        parked.fd = -1;
    http_client_close(&answered);
    http_client_close(&at_once);
    http_client_close(&parked);
    ezr_server_free(s);
    EZR_CHECK_EQ(arc, 0);
    EZR_CHECK_EQ(a.status, 200);
    EZR_CHECK(closed_answered);
    EZR_CHECK(closed_at_once);
    EZR_CHECK(waiting && closed_parked && unparked);
    http_answer_free(&a);
}

/* A request that comes, in a write of its own, while the one before it waits is kept and
 * answered after it; and once both are, the connection reads the next one as it comes. */
EZR_TEST(test_a_request_sent_while_another_waits_is_answered_after_it)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_hls(&st, 0);
    EZR_CHECK(s != NULL);
    struct http_client h;
    struct http_answer pl = {0}, a[3] = {{0}};
    char hint[256] = "", init_uri[256] = "";
    bool ok = at_the_hint(s, st, &h, &pl, hint) &&
              uri_after((char *)pl.body, "#EXT-X-MAP:URI=\"", init_uri, sizeof init_uri) &&
              http_client_get(&h, hint) && WAIT_STAT(st, hls_waiting, 1, true) &&
              http_client_get(&h, init_uri);
    /* The hinted part is complete once the next one begins. */
    push_media(st, 1100, 1700);
    uint64_t dl = mono_ms() + DEADLINE_MS;
    int r0 = ok ? http_client_answer(&h, &a[0], dl) : -1;
    int r1 = r0 == 0 ? http_client_answer(&h, &a[1], dl) : -1;
    int r2 = r1 == 0 ? get(&h, PLAYLIST, &a[2]) : -1;
    http_client_close(&h);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK(r0 == 0 && r1 == 0 && r2 == 0);
    EZR_CHECK_EQ(a[0].status, 200);
    EZR_CHECK(a[0].body_len > 8 && memcmp(a[0].body + 4, "moof", 4) == 0); /* the part */
    EZR_CHECK_EQ(a[1].status, 200);
    EZR_CHECK(a[1].body_len > 8 && memcmp(a[1].body + 4, "ftyp", 4) == 0); /* the init */
    EZR_CHECK_EQ(a[2].status, 200);
    EZR_CHECK(a[2].body_len > 7 && memcmp(a[2].body, "#EXTM3U", 7) == 0);
    http_answer_free(&pl);
    for (int i = 0; i < 3; i++)
        http_answer_free(&a[i]);
}

EZR_TEST_MAIN(EZR_CASE(test_playlist_init_part_and_segment_on_one_keep_alive_connection),
              EZR_CASE(test_pipelined_requests_are_answered_in_order),
              EZR_CASE(test_blocked_reloads_wait_for_their_part_and_get_one_playlist),
              EZR_CASE(test_hinted_part_streams_frame_by_frame_as_it_is_made),
              EZR_CASE(test_a_part_streamed_under_a_flush_interval_arrives_whole_at_its_end),
              EZR_CASE(test_head_of_the_hinted_part_has_no_body),
              EZR_CASE(test_bad_blocking_queries_are_400),
              EZR_CASE(test_gone_unknown_and_traversing_names_are_404),
              EZR_CASE(test_a_thousand_parked_reloads_dropped_leave_nothing_waiting),
              EZR_CASE(test_ten_thousand_parked_reloads_cost_at_most_352_bytes_of_heap_each),
              EZR_CASE(test_a_peer_that_pipelines_and_never_reads_holds_a_bounded_queue),
              EZR_CASE(test_end_of_stream_ends_the_playlist_and_answers_the_parked),
              EZR_CASE(test_a_removed_stream_answers_its_parked_requests_404),
              EZR_CASE(test_a_peer_that_shuts_down_after_its_requests_is_closed),
              EZR_CASE(test_a_request_sent_while_another_waits_is_answered_after_it))
