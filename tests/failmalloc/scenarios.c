/* The sweep's scenarios (see sweep.h). Each run starts its own server with the injector idle,
 * arms it for the part under test, disarms it, then checks what must hold whatever failed:
 *   - a library call answered 0 or EZR_ENOMEM (never another error, never a crash);
 *   - every player either played on (it gets the keyframe pushed after the armed part) or was
 *     closed by the server, and a server close happened only when an allocation failed, with a
 *     warning logged, and at most one connection per failed allocation (an HLS viewer: every
 *     request answered as asked, or closed by the server, hls_viewer.c);
 *   - a new player of the same server plays (HLS: gets the playlist);
 * and after the server is freed LeakSanitizer finds nothing (sweep.c). */
#include "sweep.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ezr_error.h"
#include "ezr_flv_parser.h"
#include "ezr_proto.h"
#include "flv_fixture.h"

#define FINAL_MARK 0xEE  /* the keyframe pushed after the armed part */
#define HEADER_MARK 0xAA /* the AVC sequence header */
#define WAIT_MS 3000u

/* ---- what the server told us ------------------------------------------------------------ */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned log_warnings, log_routed;
static char log_last[256];
static uint64_t first_client_id;

/* On the reactor thread: it must not allocate (it would count as the library's). */
static void on_log(void *ctx, enum ezr_log_level level, const char *msg)
{
    if (level == EZR_LOG_INFO && strstr(msg, ") HTTP GET ")) { /* a request routed */
        pthread_mutex_lock(&log_lock);
        log_routed++;
        pthread_mutex_unlock(&log_lock);
    }
    if (level > EZR_LOG_WARNING)
        return;
    pthread_mutex_lock(&log_lock);
    log_warnings++;
    snprintf(log_last, sizeof log_last, "%s", msg);
    pthread_mutex_unlock(&log_lock);
}

static void on_client(void *ctx, enum ezr_client_event ev, const struct ezr_client_info *info)
{
    pthread_mutex_lock(&log_lock);
    if (ev == EZR_CLIENT_ADDED && !first_client_id)
        first_client_id = info->id;
    pthread_mutex_unlock(&log_lock);
}

static unsigned warnings(void)
{
    pthread_mutex_lock(&log_lock);
    unsigned n = log_warnings;
    pthread_mutex_unlock(&log_lock);
    return n;
}

/* Waits until n HTTP requests of the run have been routed (the reactor logs each as it takes
 * it up): what a request does then comes before what is pushed after. */
static void wait_routed(unsigned n, uint64_t deadline)
{
    for (;;) {
        pthread_mutex_lock(&log_lock);
        unsigned got = log_routed;
        pthread_mutex_unlock(&log_lock);
        if (got >= n || mono_ms() >= deadline)
            return;
        usleep(1000);
    }
}

static void reset_log(void)
{
    pthread_mutex_lock(&log_lock);
    log_warnings = log_routed = 0;
    first_client_id = 0;
    pthread_mutex_unlock(&log_lock);
}

/* ---- the server of a run ---------------------------------------------------------------- */

static void config(struct ezr_server_config *cfg, bool tls)
{
    test_server_config(cfg);
    cfg->http = true;
    cfg->metrics = true;
    cfg->flush_interval_ms = 0; /* every frame written as offered: fewer timings in a run */
    cfg->log = on_log;
    if (tls) {
        cfg->tls_certificate = fm_cert_path;
        cfg->tls_key = fm_key_path;
        cfg->send_buffer_bytes = 8192; /* a player that stops reading fills it soon */
    }
}

static void stream_config(struct ezr_stream_config *sc)
{
    *sc = (struct ezr_stream_config){.app = "live", .key = "stream", .max_gops = 1,
                                     .on_client = on_client};
}

static uint8_t body[16384];

/* Pushes a video frame marked mark (body[5]) of size bytes; the library's answer. */
static int push_video_of(struct fixture *fx, uint32_t flags, uint32_t ts, uint8_t mark,
                         size_t size)
{
    memset(body, 0x5a, size);
    body[0] = (flags & (EZR_FRAME_KEY | EZR_FRAME_HEADER)) ? 0x17 : 0x27;
    body[1] = (flags & EZR_FRAME_HEADER) ? 0 : 1;
    body[2] = body[3] = body[4] = 0;
    body[5] = mark;
    return LIB(ezr_stream_push(fx->st, EZR_FRAME_VIDEO, flags, ts, body, size));
}

static int push_other(struct fixture *fx, enum ezr_frame_kind kind, uint32_t flags, uint32_t ts)
{
    static const uint8_t audio[32] = {0xAF, 1};
    static const uint8_t meta[] = {0x02, 0x00, 0x0a, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a',
                                   't', 'a', 0x08, 0, 0, 0, 0, 0, 0, 9};
    return kind == EZR_FRAME_AUDIO ? LIB(ezr_stream_push(fx->st, kind, flags, ts, audio, 32))
                                   : LIB(ezr_stream_push(fx->st, kind, flags, ts, meta,
                                                         sizeof meta));
}

/* Returns once the reactor has run everything posted so far (the stats op queues behind it), so
 * that none of it runs in the armed part. */
static bool settled(struct fixture *fx)
{
    struct ezr_stream_stats stats;
    return ezr_stream_get_stats(fx->st, &stats, NULL, NULL, WAIT_MS) == 0;
}

/* A server with live/stream, its header and keyframe 1 pushed; the injector idle. The keyframe
 * is later than the header: a joiner gets the header restamped to it. */
bool fm_setup(struct fixture *fx, bool tls, struct run *r)
{
    memset(fx, 0, sizeof *fx);
    reset_log();
    struct ezr_server_config cfg;
    config(&cfg, tls);
    struct ezr_stream_config sc;
    stream_config(&sc);
    if (ezr_server_new(&cfg, &fx->s) < 0 || ezr_server_add_stream(fx->s, &sc, &fx->st) < 0) {
        snprintf(r->why, sizeof r->why, "setup: no server");
        return false;
    }
    fx->port = ezr_server_port(fx->s);
    if (push_video_of(fx, EZR_FRAME_HEADER, 0, HEADER_MARK, 64) < 0 ||
        push_video_of(fx, EZR_FRAME_KEY, 20, 1, 64) < 0 || !settled(fx)) {
        snprintf(r->why, sizeof r->why, "setup: push failed");
        return false;
    }
    return true;
}

bool fm_fail(struct run *r, const char *what, int a)
{
    if (!r->why[0])
        snprintf(r->why, sizeof r->why, "%s (%d)", what, a);
    return false;
}

/* A library call's answer: 0 always when nothing failed, else 0 or EZR_ENOMEM. */
bool fm_answered(struct run *r, const char *call, int rc)
{
    if (rc == 0 || (rc == EZR_ENOMEM && ezr_failmalloc_failures() > 0))
        return true;
    char what[128];
    snprintf(what, sizeof what, "%s answered %s", call, ezr_strerror(rc));
    return fm_fail(r, what, rc);
}

/* The armed part waits this long for what it expects: less once something failed (the frame
 * may be gone; whether the player plays on is checked after the armed part). */
uint64_t fm_armed_deadline(void)
{
    return mono_ms() + (ezr_failmalloc_failures() ? 300u : WAIT_MS);
}

/* The server closed players only for failed allocations, with a warning logged, at most one
 * per failure. */
bool fm_closes_accounted(struct fixture *fx, struct run *r, size_t closed)
{
    char what[400];
    if (!closed)
        return true;
    if (!settled(fx)) /* a close may be logged after the socket closed */
        return fm_fail(r, "no stats after the armed part", 0);
    if (!r->failures)
        return fm_fail(r, "players closed with no allocation failed:", (int)closed);
    if (!warnings()) {
        snprintf(what, sizeof what, "%zu players closed with no warning logged (last: \"%s\")",
                 closed, log_last);
        return fm_fail(r, what, 0);
    }
    if (closed > r->failures) {
        snprintf(what, sizeof what,
                 "%zu players closed for %llu failed allocations, last log \"%s\"", closed,
                 (unsigned long long)r->failures, log_last);
        return fm_fail(r, what, 0);
    }
    return true;
}

/* After the armed part: a keyframe reaches every player still open (or it is closed now), the
 * closes are accounted for, a new player plays; then everything is released. */
bool fm_finish(struct fixture *fx, struct run *r, struct viewer *vs, size_t n, bool ok)
{
    if (ok && push_video_of(fx, EZR_FRAME_KEY, 9000, FINAL_MARK, 64) < 0)
        ok = fm_fail(r, "push after the armed part failed", 0);
    size_t closed = 0;
    for (size_t i = 0; ok && i < n; i++) {
        if (vs[i].open && viewer_until(&vs[i], FINAL_MARK, mono_ms() + WAIT_MS) == VIEW_TIMEOUT)
            ok = fm_fail(r, "a player neither plays nor was closed: viewer", (int)i);
        closed += vs[i].closed_by_server;
    }
    ok = ok && fm_closes_accounted(fx, r, closed);
    static struct viewer fresh;
    if (ok) {
        int w = viewer_open(&fresh, VIEW_RTMP, fx->port, "stream", mono_ms() + WAIT_MS);
        if (w == VIEW_GOT)
            w = viewer_until(&fresh, FINAL_MARK, mono_ms() + WAIT_MS);
        viewer_close(&fresh);
        if (w != VIEW_GOT)
            ok = fm_fail(r, "a new player after the armed part does not play", w);
    }
    for (size_t i = 0; i < n; i++)
        viewer_close(&vs[i]);
    ezr_server_free(fx->s);
    fx->s = NULL;
    return ok;
}

/* Before the armed part: n players that play (keyframe 1), the first rtmp of them RTMP, the
 * next http HTTP-FLV, the rest WebSocket-FLV. */
static bool play_all(struct fixture *fx, struct viewer *v, size_t n, size_t rtmp, size_t http,
                     struct run *r)
{
    for (size_t i = 0; i < n; i++)
        viewer_init(&v[i]); /* finish() may release them all whatever happens below */
    for (size_t i = 0; i < n; i++) {
        enum viewer_kind k = i < rtmp ? VIEW_RTMP : i < rtmp + http ? VIEW_HTTP_FLV : VIEW_WS_FLV;
        if (viewer_open(&v[i], k, fx->port, "stream", mono_ms() + WAIT_MS) != VIEW_GOT ||
            viewer_until(&v[i], 1, mono_ms() + WAIT_MS) != VIEW_GOT)
            return fm_fail(r, "setup: a player does not play:", (int)i);
    }
    return true;
}

/* setup() and play_all(); when either fails, finish() has released everything. */
static bool start_playing(struct fixture *fx, struct viewer *v, size_t n, size_t rtmp,
                          size_t http, struct run *r)
{
    if (!fm_setup(fx, false, r))
        return fm_finish(fx, r, NULL, 0, false);
    return play_all(fx, v, n, rtmp, http, r) || fm_finish(fx, r, v, n, false);
}

/* ---- the scenarios ---------------------------------------------------------------------- */

static bool start_and_stop(struct run *r)
{
    struct ezr_server_config cfg;
    config(&cfg, true);
    cfg.http_cors_origin = "http://example.com";
    struct ezr_stream_config sc;
    stream_config(&sc);
    sc.play_token = "secret";
    sc.allowed_clients = "127.0.0.1/32, ::1";
    char msg[512] = "";
    cfg.error_msg = msg;
    cfg.error_msg_size = sizeof msg;
    struct ezr_server *s = NULL;
    struct ezr_stream *st = NULL;
    fm_arm();
    int rc = LIB(ezr_server_new(&cfg, &s));
    int src = 0;
    if (rc == 0) {
        src = LIB(ezr_server_add_stream(s, &sc, &st));
        lib_enter();
        if (src == 0)
            ezr_server_remove_stream(s, st);
        ezr_server_free(s);
        lib_leave(0);
    }
    fm_disarm(r);
    /* OpenSSL 3.0 loses some of its malloc failures while it reads PEM (it tries each decoder
     * under an error mark and pops what they queued; PEM_read_bio reports its own reason): the
     * library is told the file is bad, EZR_ETLS. Accepted only when the failure was OpenSSL's. */
    if (rc == EZR_ETLS && fm_last_failure_in_openssl())
        rc = EZR_ENOMEM;
    bool ok = fm_answered(r, "ezr_server_new", rc) && fm_answered(r, "ezr_server_add_stream", src);
    if (!ok && msg[0])
        snprintf(r->why + strlen(r->why), sizeof r->why - strlen(r->why), ": %s", msg);
    struct fixture fx;
    ok = fm_setup(&fx, false, r) && ok;
    return fm_finish(&fx, r, NULL, 0, ok);
}

/* One player of kind plays from the cache, then a live frame, then leaves. */
static bool one_player(struct run *r, enum viewer_kind kind)
{
    struct fixture fx;
    static struct viewer v;
    if (!fm_setup(&fx, kind == VIEW_HTTPS_FLV, r))
        return fm_finish(&fx, r, NULL, 0, false);
    fm_arm();
    bool ok = true, played = false;
    if (viewer_open(&v, kind, fx.port, "stream", fm_armed_deadline()) == VIEW_GOT &&
        viewer_until(&v, 1, fm_armed_deadline()) == VIEW_GOT) {
        int a = push_other(&fx, EZR_FRAME_AUDIO, 0, 30);
        int b = push_video_of(&fx, 0, 40, 2, 64);
        ok = fm_answered(r, "ezr_stream_push", a) && fm_answered(r, "ezr_stream_push", b);
        played = ok && (b < 0 || viewer_until(&v, 2, fm_armed_deadline()) == VIEW_GOT);
    }
    /* The player leaves once it played; one that did not must still play or be closed. */
    if (played)
        viewer_close(&v);
    fm_disarm(r);
    return fm_finish(&fx, r, &v, 1, ok);
}

static bool rtmp_session(struct run *r)
{
    return one_player(r, VIEW_RTMP);
}

static bool http_flv_player(struct run *r)
{
    return one_player(r, VIEW_HTTP_FLV);
}

static bool ws_flv_player(struct run *r)
{
    return one_player(r, VIEW_WS_FLV);
}

/* Over TLS, and the player stops reading while frames larger than the socket's buffer come: the
 * writes block halfway through records, and resume. */
static bool tls_player(struct run *r)
{
    struct fixture fx;
    static struct viewer v;
    if (!fm_setup(&fx, true, r))
        return fm_finish(&fx, r, NULL, 0, false);
    fm_arm();
    bool ok = true;
    int opened = viewer_open(&v, VIEW_HTTPS_FLV, fx.port, "stream", fm_armed_deadline());
    if (opened == VIEW_GOT && viewer_until(&v, 1, fm_armed_deadline()) == VIEW_GOT) {
        int last = 0;
        for (int i = 10; i < 34 && ok; i++) {
            int rc = push_video_of(&fx, 0, (uint32_t)i * 40, (uint8_t)i, sizeof body);
            ok = fm_answered(r, "ezr_stream_push", rc);
            last = rc == 0 ? i : last;
        }
        if (ok && last)
            viewer_until(&v, (uint8_t)last, fm_armed_deadline());
    }
    fm_disarm(r);
    return fm_finish(&fx, r, &v, 1, ok);
}

/* A GOP of 19 frames with audio and metadata cached; an RTMP and a WebSocket player join. It
 * starts at keyframe 2, later than the sequence header, which joiners get restamped. */
static bool gop_joiner(struct run *r)
{
    struct fixture fx;
    static struct viewer v[2];
    if (!fm_setup(&fx, false, r))
        return fm_finish(&fx, r, NULL, 0, false);
    bool ok = push_other(&fx, EZR_FRAME_SCRIPT, 0, 0) == 0;
    for (int i = 2; i <= 20 && ok; i++)
        ok = push_video_of(&fx, i == 2 ? EZR_FRAME_KEY : 0, (uint32_t)i * 40, (uint8_t)i, 600) == 0 &&
             push_other(&fx, EZR_FRAME_AUDIO, 0, (uint32_t)i * 40 + 20) == 0;
    if (!ok || !settled(&fx))
        return fm_finish(&fx, r, NULL, 0, fm_fail(r, "setup: push failed", 0));
    fm_arm();
    static const enum viewer_kind kinds[2] = {VIEW_RTMP, VIEW_WS_FLV};
    for (int i = 0; i < 2; i++)
        if (viewer_open(&v[i], kinds[i], fx.port, "stream", fm_armed_deadline()) == VIEW_GOT)
            viewer_until(&v[i], 20, fm_armed_deadline());
    fm_disarm(r);
    return fm_finish(&fx, r, v, 2, true);
}

#define PLAYERS 10

/* Ten players of the three protocols attached; 30 frames (keyframes, audio, live data) pushed. */
static bool push_to_ten(struct run *r)
{
    struct fixture fx;
    static struct viewer v[PLAYERS];
    if (!start_playing(&fx, v, PLAYERS, 6, 2, r))
        return false;
    bool ok = true;
    fm_arm();
    int last = 0;
    for (int i = 10; i < 40 && ok; i++) {
        int rc = push_video_of(&fx, i % 10 == 0 ? EZR_FRAME_KEY : 0, (uint32_t)i * 40,
                               (uint8_t)i, 800);
        int a = push_other(&fx, EZR_FRAME_AUDIO, 0, (uint32_t)i * 40 + 20);
        int d = i == 25 ? push_other(&fx, EZR_FRAME_SCRIPT, EZR_FRAME_LIVE, (uint32_t)i * 40) : 0;
        ok = fm_answered(r, "ezr_stream_push", rc) && fm_answered(r, "ezr_stream_push", a) &&
             fm_answered(r, "ezr_stream_push", d);
        last = rc == 0 ? i : last;
    }
    for (int i = 0; i < PLAYERS && ok && last; i++)
        viewer_until(&v[i], (uint8_t)last, fm_armed_deadline());
    fm_disarm(r);
    return fm_finish(&fx, r, v, PLAYERS, ok);
}

/* The stats with the list of players, and /metrics, with two RTMP and an HTTP-FLV player. */
static bool stats_and_metrics(struct run *r)
{
    struct fixture fx;
    static struct viewer v[3];
    if (!start_playing(&fx, v, 3, 2, 1, r))
        return false;
    fm_arm();
    struct ezr_stream_stats stats;
    struct ezr_client_stats *list = NULL;
    size_t nlist = 0;
    int rc = LIB(ezr_stream_get_stats(fx.st, &stats, &list, &nlist, WAIT_MS));
    int rc2 = LIB(ezr_stream_get_stats(fx.st, &stats, NULL, NULL, WAIT_MS));
    static char answer[65536];
    long n = http_get(fx.port, "/metrics", answer, sizeof answer, mono_ms() + WAIT_MS);
    fm_disarm(r);
    free(list);
    bool ok =
        fm_answered(r, "ezr_stream_get_stats", rc) && fm_answered(r, "ezr_stream_get_stats", rc2);
    if (ok && rc == 0 && nlist != 3)
        ok = fm_fail(r, "ezr_stream_get_stats answered 0 with players missing:", (int)nlist);
    if (ok && n < 0)
        ok = fm_fail(r, "/metrics neither answered nor closed", 0);
    bool metrics_ok = n > 0 && strncmp(answer, "HTTP/1.1 200 ", 13) == 0 &&
                      strstr(answer, "\nezrtmp_connections ") != NULL;
    if (ok && !metrics_ok && !r->failures)
        ok = fm_fail(r, "/metrics not answered with nothing failed", (int)n);
    if (ok && n > 0 && !metrics_ok && strncmp(answer, "HTTP/1.1 503 ", 13) != 0)
        ok = fm_fail(r, "/metrics answered neither 200 with the counters nor 503", (int)n);
    return fm_finish(&fx, r, v, 3, ok);
}

/* The application's controls: remove a player, reset, stop, end of stream. */
static bool stream_controls(struct run *r)
{
    struct fixture fx;
    static struct viewer v[2];
    if (!start_playing(&fx, v, 2, 2, 0, r))
        return false;
    pthread_mutex_lock(&log_lock);
    uint64_t id = first_client_id;
    pthread_mutex_unlock(&log_lock);
    bool ok = true;
    if (!id)
        return fm_finish(&fx, r, v, 2, fm_fail(r, "setup: two players do not play", 0));
    fm_arm();
    int rc[8], k = 0;
    rc[k++] = LIB(ezr_stream_remove_client(fx.st, id));
    rc[k++] = push_video_of(&fx, EZR_FRAME_KEY, 100, 2, 64);
    rc[k++] = LIB(ezr_stream_reset(fx.st));
    rc[k++] = push_video_of(&fx, EZR_FRAME_KEY, 200, 3, 64);
    rc[k++] = LIB(ezr_stream_stop(fx.st));
    rc[k++] = push_video_of(&fx, EZR_FRAME_KEY, 300, 4, 64);
    int eos = LIB(ezr_stream_eos(fx.st, WAIT_MS));
    rc[k++] = push_video_of(&fx, EZR_FRAME_KEY, 400, 5, 64);
    viewer_until(&v[1], 5, fm_armed_deadline());
    fm_disarm(r);
    for (int i = 0; i < k && ok; i++)
        ok = fm_answered(r, "a stream control or push", rc[i]);
    if (ok && eos == EZR_EAGAIN && !r->failures)
        ok = fm_fail(r, "ezr_stream_eos timed out with nothing failed", eos);
    else if (ok && eos != EZR_EAGAIN)
        ok = fm_answered(r, "ezr_stream_eos", eos);
    /* The removed player is the application's doing, not a failure's. */
    viewer_close(&v[0]);
    return fm_finish(&fx, r, v + 1, 1, ok);
}

/* What the element does with flvmux's output: FLV bytes in slices through the library's parser
 * (a keyframe spans slices and is gathered), each tag pushed, one RTMP player watching. */
static int ingest_tag(void *ctx, const struct ezr_flv_tag *t)
{
    struct ezr_stream *st = ctx;
    if (t->flags & (EZR_FLV_NOT_MEDIA | EZR_FLV_REFUSED))
        return 0;
    uint32_t flags = ((t->flags & EZR_FLV_KEYFRAME) ? EZR_FRAME_KEY : 0) |
                     ((t->flags & EZR_FLV_SEQ_HEADER) ? EZR_FRAME_HEADER : 0) |
                     ((t->flags & EZR_FLV_LIVE_DATA) ? EZR_FRAME_LIVE : 0);
    int rc = ezr_stream_push(st, (enum ezr_frame_kind)t->type, flags, t->timestamp, t->body,
                             t->len);
    return rc == EZR_ENOMEM ? EZR_FLV_ENOMEM : rc; /* the element stops on an error */
}

static size_t flv_tag_of(uint8_t *o, uint8_t type, uint32_t ts, uint8_t b0, uint8_t mark,
                         size_t len)
{
    memset(body, 0x33, len);
    body[0] = b0;
    body[1] = 1; /* AVC NALU (not a sequence header) */
    body[2] = body[3] = body[4] = 0;
    body[5] = mark;
    return flv_put_tag(o, type, ts, body, len);
}

static bool flv_ingest(struct run *r)
{
    struct fixture fx;
    static struct viewer v;
    if (!start_playing(&fx, &v, 1, 1, 0, r))
        return false;
    static uint8_t flv[32768];
    size_t n = 0;
    memcpy(flv, flv_file_header, sizeof flv_file_header);
    n += sizeof flv_file_header;
    n += flv_put_tag(flv + n, EZR_FLV_SCRIPT, 0, flv_meta, sizeof flv_meta);
    n += flv_put_tag(flv + n, EZR_FLV_AUDIO, 0, flv_aac_hdr, sizeof flv_aac_hdr);
    n += flv_tag_of(flv + n, EZR_FLV_VIDEO, 1000, 0x17, 60, 6000);
    n += flv_put_tag(flv + n, EZR_FLV_AUDIO, 1010, flv_aac_raw, sizeof flv_aac_raw);
    n += flv_tag_of(flv + n, EZR_FLV_VIDEO, 1040, 0x27, 61, 3000);
    n += flv_put_tag(flv + n, EZR_FLV_SCRIPT, 1050, flv_cue_point, sizeof flv_cue_point);
    n += flv_tag_of(flv + n, EZR_FLV_VIDEO, 1080, 0x27, 62, 3000);
    struct ezr_flv_parser p;
    ezr_flv_parser_init(&p);
    fm_arm();
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += 1000)
        rc = LIB(ezr_flv_parser_feed(&p, flv + off, n - off < 1000 ? n - off : 1000, ingest_tag,
                                     fx.st));
    if (rc == 0)
        viewer_until(&v, 62, fm_armed_deadline());
    fm_disarm(r);
    ezr_flv_parser_clear(&p);
    bool ok = rc == 0 || (rc == EZR_FLV_ENOMEM && r->failures) ||
              fm_fail(r, "ezr_flv_parser_feed answered", rc);
    return fm_finish(&fx, r, &v, 1, ok);
}

/* The player side of the library, which the server never runs (the load client and the test
 * players use it): the chunk writer's state per chunk stream, one stream after another. A
 * failure must show in the output buffer, which the caller checks. */
static bool player_side_writer(struct run *r)
{
    static const uint8_t payload[300] = {1};
    struct ezr_chunk_writer w;
    struct ezr_buf out;
    fm_arm();
    lib_enter();
    ezr_chunk_writer_init(&w, 128);
    ezr_buf_init(&out);
    for (uint32_t csid = 3; csid < 20; csid++)
        ezr_chunk_writer_write(&w, &out, csid, 0, EZR_MSG_VIDEO, 1, payload, sizeof payload);
    bool failed = ezr_buf_failed(&out);
    size_t len = out.len;
    ezr_chunk_writer_free(&w);
    ezr_buf_free(&out);
    lib_leave(0);
    fm_disarm(r);
    bool ok = true;
    if (failed != (r->failures > 0))
        ok = fm_fail(r, "the writer's output says failed, allocations failed:", (int)r->failures);
    else if (!failed && len < 17 * sizeof payload)
        ok = fm_fail(r, "the writer wrote less than the messages:", (int)len);
    struct fixture fx;
    ok = fm_setup(&fx, false, r) && ok;
    return fm_finish(&fx, r, NULL, 0, ok);
}

/* ---- LL-HLS --------------------------------------------------------------------------------- */

#define HLS_PLAYLIST "/live/stream/index.m3u8"

static void hls_stream_config(struct ezr_stream_config *sc)
{
    stream_config(sc);
    sc->hls = true;
    sc->hls_window = 3; /* the least: segments leave the window within a run */
    sc->hls_group = "abr"; /* its multivariant playlist: /live/abr.m3u8 */
}

/* A server, and unless !stream its HLS stream with the headers and media of [0, to) ms. */
static bool hls_setup(struct fixture *fx, bool stream, uint32_t to, struct run *r)
{
    memset(fx, 0, sizeof *fx);
    reset_log();
    struct ezr_server_config cfg;
    config(&cfg, false);
    struct ezr_stream_config sc;
    hls_stream_config(&sc);
    sc.hls_group = NULL; /* a lone stream: its hinted part streams as it is made */
    if (ezr_server_new(&cfg, &fx->s) < 0 ||
        (stream && ezr_server_add_stream(fx->s, &sc, &fx->st) < 0))
        return fm_fail(r, "setup: no server", 0);
    fx->port = ezr_server_port(fx->s);
    if (stream &&
        (hls_push_headers(fx->st) < 0 || hls_push_media(fx->st, 0, to) < 0 || !settled(fx)))
        return fm_fail(r, "setup: push failed", 0);
    return true;
}

/* Polls the stream's stats until it has made parts HLS parts. */
static bool wait_parts(struct fixture *fx, uint64_t parts)
{
    for (uint64_t dl = mono_ms() + WAIT_MS;; usleep(10000)) {
        struct ezr_stream_stats s;
        if (ezr_stream_get_stats(fx->st, &s, NULL, NULL, WAIT_MS) < 0)
            return false;
        if (s.hls_parts >= parts)
            return true;
        if (mono_ms() >= dl)
            return false;
    }
}

/* After the armed part of an HLS scenario: the headers again (for a push that was refused) and a
 * new GOP's media from ms from; every request not answered yet is answered, or its connection was
 * closed by the server, and the closes are accounted for; the muxer makes parts again and a new
 * viewer gets the playlist. Then everything is released. */
/* After the armed part: 2.2 s of media from `from`, so that a whole segment is made even when the
 * stream starts again (a first playlist waits for its first segment). */
static bool hls_finish(struct fixture *fx, struct run *r, struct hls_viewer *vs, size_t n, bool ok,
                       uint32_t from)
{
    struct ezr_stream_config sc;
    hls_stream_config(&sc);
    struct ezr_stream_stats s0;
    if (ok && !fx->st && ezr_server_add_stream(fx->s, &sc, &fx->st) < 0)
        ok = fm_fail(r, "the HLS stream cannot be added after the armed part", 0);
    if (ok && (ezr_stream_get_stats(fx->st, &s0, NULL, NULL, WAIT_MS) < 0 ||
               hls_push_headers(fx->st) < 0 || hls_push_media(fx->st, from, from + 2200) < 0))
        ok = fm_fail(r, "push after the armed part failed", 0);
    size_t closed = 0;
    for (size_t i = 0; ok && i < n; i++) {
        ok = hls_viewer_collect(&vs[i], mono_ms() + WAIT_MS, r->why, sizeof r->why);
        if (ok && vs[i].open && vs[i].nanswered < vs[i].nasked)
            ok = fm_fail(r, "an HLS request neither answered nor closed: viewer", (int)i);
        closed += vs[i].closed_by_server;
    }
    ok = ok && fm_closes_accounted(fx, r, closed);
    if (ok && !wait_parts(fx, s0.hls_parts + 2))
        ok = fm_fail(r, "no HLS parts made after the armed part", 0);
    static struct hls_viewer fresh;
    hls_viewer_init(&fresh);
    if (ok) {
        hls_viewer_open(&fresh, fx->port);
        hls_viewer_ask(&fresh, HLS_PLAYLIST, NULL, NULL, false);
        if (hls_viewer_send(&fresh) != VIEW_GOT ||
            !hls_viewer_collect(&fresh, mono_ms() + WAIT_MS, r->why, sizeof r->why) ||
            fresh.nanswered != 1)
            ok = fm_fail(r, "a new HLS viewer after the armed part gets no playlist", 0);
    }
    hls_viewer_close(&fresh);
    for (size_t i = 0; i < n; i++)
        hls_viewer_close(&vs[i]);
    ezr_server_free(fx->s);
    fx->s = NULL;
    return ok;
}

/* The stream is added and its headers pushed with the injector armed; a viewer asks for the
 * playlist before there is any part (it waits for the first segment), then for the init segment
 * and the first part, pipelined; another for its group's multivariant playlist with a query
 * (it waits too, keeping the query). */
static bool hls_start(struct run *r)
{
    struct fixture fx;
    static struct hls_viewer vs[2], *const v = &vs[0];
    hls_viewer_init(&vs[0]);
    hls_viewer_init(&vs[1]);
    if (!hls_setup(&fx, false, 0, r))
        return hls_finish(&fx, r, vs, 2, false, 0);
    struct ezr_stream_config sc;
    hls_stream_config(&sc);
    char init[160], part[160];
    fm_arm();
    int a = LIB(ezr_server_add_stream(fx.s, &sc, &fx.st)), h = 0, m = 0;
    bool ok = true;
    if (fx.st) {
        h = hls_push_headers(fx.st);
        hls_viewer_open(v, fx.port);
        hls_viewer_ask(v, HLS_PLAYLIST, NULL, NULL, false);
        hls_viewer_send(v);
        hls_viewer_open(&vs[1], fx.port);
        hls_viewer_ask(&vs[1], "/live/abr.m3u8?t=1", NULL, NULL, false);
        hls_viewer_send(&vs[1]);
        wait_routed(2, fm_armed_deadline());
        m = hls_push_media(fx.st, 0, 1300);
        ok = hls_viewer_collect(v, fm_armed_deadline(), r->why, sizeof r->why) &&
             hls_viewer_collect(&vs[1], fm_armed_deadline(), r->why, sizeof r->why);
        if (ok && v->nanswered == 1 && hls_uri((char *)v->last.body, "#EXT-X-MAP:", init, 160) &&
            hls_uri((char *)v->last.body, "#EXT-X-PART:", part, sizeof part)) {
            hls_viewer_ask(v, init, "ftyp", NULL, false);
            hls_viewer_ask(v, part, "moof", NULL, false);
            hls_viewer_send(v);
            ok = hls_viewer_collect(v, fm_armed_deadline(), r->why, sizeof r->why);
        }
    }
    fm_disarm(r);
    ok = ok && fm_answered(r, "ezr_server_add_stream", a) && fm_answered(r, "ezr_stream_push", h) &&
         fm_answered(r, "ezr_stream_push", m);
    return hls_finish(&fx, r, vs, 2, ok, 1300);
}

/* A live HLS stream (two segments made, the third in progress) and three viewers: one asks for
 * the part the playlist hints at, which streams frame by frame as it is made; one for the
 * playlist, the init segment, a segment, a part and a blocking reload for the hinted part,
 * pipelined on one connection; one for a blocking reload of the next segment's first part. Then
 * the media that makes them. */
static bool hls_viewers(struct run *r)
{
    struct fixture fx;
    static struct hls_viewer v[3];
    static char init[160], seg[160], part[160], hinted[160], next[160];
    char want[2][32];
    unsigned long long msn = 0;
    unsigned index = 0;
    for (int i = 0; i < 3; i++)
        hls_viewer_init(&v[i]);
    if (!hls_setup(&fx, true, 2100, r))
        return hls_finish(&fx, r, v, 3, false, 2100);
    /* The names, from a playlist the test asks for with the injector idle. */
    hls_viewer_open(&v[0], fx.port);
    hls_viewer_ask(&v[0], HLS_PLAYLIST, NULL, NULL, false);
    bool ok = hls_viewer_send(&v[0]) == VIEW_GOT &&
              hls_viewer_collect(&v[0], mono_ms() + WAIT_MS, r->why, sizeof r->why) &&
              v[0].nanswered == 1;
    const char *pl = (const char *)v[0].last.body;
    ok = ok && hls_uri(pl, "#EXT-X-MAP:", init, sizeof init) &&
         hls_uri(pl, "#EXTINF:", seg, sizeof seg) && hls_uri(pl, "#EXT-X-PART:", part, 160) &&
         hls_hint(pl, hinted, sizeof hinted, &msn, &index);
    hls_viewer_close(&v[0]);
    if (!ok)
        return hls_finish(&fx, r, v, 3, fm_fail(r, "setup: no HLS playlist with names", 0), 2100);
    snprintf(want[0], sizeof want[0], "-%llu.%u.m4s", msn, index);
    snprintf(want[1], sizeof want[1], "-%llu.0.m4s", msn + 1);
    fm_arm();
    /* The hinted part first, alone, so that it is asked while the part is being made. */
    hls_viewer_open(&v[1], fx.port);
    hls_viewer_ask(&v[1], hinted, "moof", NULL, true);
    hls_viewer_send(&v[1]);
    wait_routed(1, fm_armed_deadline());
    hls_viewer_open(&v[0], fx.port);
    hls_viewer_ask(&v[0], HLS_PLAYLIST, NULL, NULL, false);
    hls_viewer_ask(&v[0], init, "ftyp", NULL, false);
    hls_viewer_ask(&v[0], seg, "moof", NULL, false);
    hls_viewer_ask(&v[0], part, "moof", NULL, false);
    snprintf(next, sizeof next, HLS_PLAYLIST "?_HLS_msn=%llu&_HLS_part=%u", msn, index);
    hls_viewer_ask(&v[0], next, NULL, want[0], false);
    hls_viewer_send(&v[0]);
    hls_viewer_open(&v[2], fx.port);
    snprintf(next, sizeof next, HLS_PLAYLIST "?_HLS_msn=%llu&_HLS_part=0", msn + 1);
    hls_viewer_ask(&v[2], next, NULL, want[1], false);
    hls_viewer_send(&v[2]);
    wait_routed(7, fm_armed_deadline());
    /* One video frame more puts the one before it into the hinted part: a chunk of its own. */
    size_t had =
        hls_viewer_started(&v[1], 1, fm_armed_deadline()) == VIEW_GOT ? v[1].last.chunks : 0;
    int m1 = hls_push_media(fx.st, 2100, 2101);
    bool streamed = had && hls_viewer_started(&v[1], had + 1, fm_armed_deadline()) == VIEW_GOT &&
                    v[1].last.chunks > had;
    int m2 = hls_push_media(fx.st, 2101, 3300);
    for (int i = 0; ok && i < 3; i++)
        ok = hls_viewer_collect(&v[i], fm_armed_deadline(), r->why, sizeof r->why);
    fm_disarm(r);
    ok = ok && fm_answered(r, "ezr_stream_push", m1) && fm_answered(r, "ezr_stream_push", m2);
    if (ok && !streamed && !r->failures)
        ok = fm_fail(r, "the hinted part did not come frame by frame: chunks before", (int)had);
    return hls_finish(&fx, r, v, 3, ok, 3300);
}

const struct scenario scenarios[] = {
    {"server_start_and_stop", start_and_stop},
    {"rtmp_session", rtmp_session},
    {"http_flv_player", http_flv_player},
    {"ws_flv_player", ws_flv_player},
    {"tls_player", tls_player},
    {"gop_joiner", gop_joiner},
    {"push_to_ten_players", push_to_ten},
    {"stats_and_metrics", stats_and_metrics},
    {"stream_controls", stream_controls},
    {"flv_ingest", flv_ingest},
    {"player_side_chunk_writer", player_side_writer},
    {"hls_start", hls_start},
    {"hls_viewers", hls_viewers},
    {"publish_session", publish_session},
};
const size_t nscenarios = sizeof scenarios / sizeof scenarios[0];
