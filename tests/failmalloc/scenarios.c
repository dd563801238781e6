/* The sweep's scenarios (see sweep.h). Each run starts its own server with the injector idle,
 * arms it for the part under test, disarms it, then checks what must hold whatever failed:
 *   - a library call answered 0 or EZR_ENOMEM (never another error, never a crash);
 *   - every player either played on (it gets the keyframe pushed after the armed part) or was
 *     closed by the server, and a server close happened only when an allocation failed, with a
 *     warning logged, and at most one connection per failed allocation;
 *   - a new player of the same server plays;
 * and after the server is freed LeakSanitizer finds nothing (sweep.c). */
#include "sweep.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ezr_error.h"
#include "ezr_flv_parser.h"
#include "ezr_proto.h"
#include "flv_fixture.h"

#define FINAL_MARK 0xEE  /* the keyframe pushed after the armed part */
#define HEADER_MARK 0xAA /* the AVC sequence header */
#define WAIT_MS 3000u

/* ---- what the server told us ------------------------------------------------------------ */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned log_warnings;
static char log_last[256];
static uint64_t first_client_id;

/* On the reactor thread: it must not allocate (it would count as the library's). */
static void on_log(void *ctx, enum ezr_log_level level, const char *msg)
{
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

/* ---- the server of a run ---------------------------------------------------------------- */

struct fixture {
    struct ezr_server *s;
    struct ezr_stream *st;
    uint16_t port;
};

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
static bool setup(struct fixture *fx, bool tls, struct run *r)
{
    memset(fx, 0, sizeof *fx);
    pthread_mutex_lock(&log_lock);
    log_warnings = 0;
    first_client_id = 0;
    pthread_mutex_unlock(&log_lock);
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

static bool fail(struct run *r, const char *what, int a)
{
    if (!r->why[0])
        snprintf(r->why, sizeof r->why, "%s (%d)", what, a);
    return false;
}

/* A library call's answer: 0 always when nothing failed, else 0 or EZR_ENOMEM. */
static bool answered(struct run *r, const char *call, int rc)
{
    if (rc == 0 || (rc == EZR_ENOMEM && ezr_failmalloc_failures() > 0))
        return true;
    char what[128];
    snprintf(what, sizeof what, "%s answered %s", call, ezr_strerror(rc));
    return fail(r, what, rc);
}

/* The armed part waits this long for what it expects: less once something failed (the frame
 * may be gone; whether the player plays on is checked after the armed part). */
static uint64_t armed_deadline(void)
{
    return mono_ms() + (ezr_failmalloc_failures() ? 300u : WAIT_MS);
}

/* After the armed part: a keyframe reaches every player still open (or it is closed now), the
 * closes are accounted for, a new player plays; then everything is released. */
static bool finish(struct fixture *fx, struct run *r, struct viewer *vs, size_t n, bool ok)
{
    if (ok && push_video_of(fx, EZR_FRAME_KEY, 9000, FINAL_MARK, 64) < 0)
        ok = fail(r, "push after the armed part failed", 0);
    size_t closed = 0;
    for (size_t i = 0; ok && i < n; i++) {
        if (vs[i].open && viewer_until(&vs[i], FINAL_MARK, mono_ms() + WAIT_MS) == VIEW_TIMEOUT)
            ok = fail(r, "a player neither plays nor was closed: viewer", (int)i);
        closed += vs[i].closed_by_server;
    }
    if (ok && closed && !settled(fx)) /* a close may be logged after the socket closed */
        ok = fail(r, "no stats after the armed part", 0);
    if (ok && closed && !r->failures)
        ok = fail(r, "players closed with no allocation failed:", (int)closed);
    if (ok && closed && !warnings()) {
        char what[400];
        snprintf(what, sizeof what, "%zu players closed with no warning logged (last: \"%s\")",
                 closed, log_last);
        ok = fail(r, what, 0);
    }
    if (ok && closed > r->failures) {
        char what[400];
        snprintf(what, sizeof what, "%zu players closed for %llu failed allocations, last log \"%s\"",
                 closed, (unsigned long long)r->failures, log_last);
        ok = fail(r, what, 0);
    }
    static struct viewer fresh;
    if (ok) {
        int w = viewer_open(&fresh, VIEW_RTMP, fx->port, "stream", mono_ms() + WAIT_MS);
        if (w == VIEW_GOT)
            w = viewer_until(&fresh, FINAL_MARK, mono_ms() + WAIT_MS);
        viewer_close(&fresh);
        if (w != VIEW_GOT)
            ok = fail(r, "a new player after the armed part does not play", w);
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
            return fail(r, "setup: a player does not play:", (int)i);
    }
    return true;
}

/* setup() and play_all(); when either fails, finish() has released everything. */
static bool start_playing(struct fixture *fx, struct viewer *v, size_t n, size_t rtmp,
                          size_t http, struct run *r)
{
    if (!setup(fx, false, r))
        return finish(fx, r, NULL, 0, false);
    return play_all(fx, v, n, rtmp, http, r) || finish(fx, r, v, n, false);
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
    bool ok = answered(r, "ezr_server_new", rc) && answered(r, "ezr_server_add_stream", src);
    if (!ok && msg[0])
        snprintf(r->why + strlen(r->why), sizeof r->why - strlen(r->why), ": %s", msg);
    struct fixture fx;
    ok = setup(&fx, false, r) && ok;
    return finish(&fx, r, NULL, 0, ok);
}

/* One player of kind plays from the cache, then a live frame, then leaves. */
static bool one_player(struct run *r, enum viewer_kind kind)
{
    struct fixture fx;
    static struct viewer v;
    if (!setup(&fx, kind == VIEW_HTTPS_FLV, r))
        return finish(&fx, r, NULL, 0, false);
    fm_arm();
    bool ok = true, played = false;
    if (viewer_open(&v, kind, fx.port, "stream", armed_deadline()) == VIEW_GOT &&
        viewer_until(&v, 1, armed_deadline()) == VIEW_GOT) {
        int a = push_other(&fx, EZR_FRAME_AUDIO, 0, 30);
        int b = push_video_of(&fx, 0, 40, 2, 64);
        ok = answered(r, "ezr_stream_push", a) && answered(r, "ezr_stream_push", b);
        played = ok && (b < 0 || viewer_until(&v, 2, armed_deadline()) == VIEW_GOT);
    }
    /* The player leaves once it played; one that did not must still play or be closed. */
    if (played)
        viewer_close(&v);
    fm_disarm(r);
    return finish(&fx, r, &v, 1, ok);
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
    if (!setup(&fx, true, r))
        return finish(&fx, r, NULL, 0, false);
    fm_arm();
    bool ok = true;
    int opened = viewer_open(&v, VIEW_HTTPS_FLV, fx.port, "stream", armed_deadline());
    if (opened == VIEW_GOT && viewer_until(&v, 1, armed_deadline()) == VIEW_GOT) {
        int last = 0;
        for (int i = 10; i < 34 && ok; i++) {
            int rc = push_video_of(&fx, 0, (uint32_t)i * 40, (uint8_t)i, sizeof body);
            ok = answered(r, "ezr_stream_push", rc);
            last = rc == 0 ? i : last;
        }
        if (ok && last)
            viewer_until(&v, (uint8_t)last, armed_deadline());
    }
    fm_disarm(r);
    return finish(&fx, r, &v, 1, ok);
}

/* A GOP of 19 frames with audio and metadata cached; an RTMP and a WebSocket player join. It
 * starts at keyframe 2, later than the sequence header, which joiners get restamped. */
static bool gop_joiner(struct run *r)
{
    struct fixture fx;
    static struct viewer v[2];
    if (!setup(&fx, false, r))
        return finish(&fx, r, NULL, 0, false);
    bool ok = push_other(&fx, EZR_FRAME_SCRIPT, 0, 0) == 0;
    for (int i = 2; i <= 20 && ok; i++)
        ok = push_video_of(&fx, i == 2 ? EZR_FRAME_KEY : 0, (uint32_t)i * 40, (uint8_t)i, 600) == 0 &&
             push_other(&fx, EZR_FRAME_AUDIO, 0, (uint32_t)i * 40 + 20) == 0;
    if (!ok || !settled(&fx))
        return finish(&fx, r, NULL, 0, fail(r, "setup: push failed", 0));
    fm_arm();
    static const enum viewer_kind kinds[2] = {VIEW_RTMP, VIEW_WS_FLV};
    for (int i = 0; i < 2; i++)
        if (viewer_open(&v[i], kinds[i], fx.port, "stream", armed_deadline()) == VIEW_GOT)
            viewer_until(&v[i], 20, armed_deadline());
    fm_disarm(r);
    return finish(&fx, r, v, 2, true);
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
        ok = answered(r, "ezr_stream_push", rc) && answered(r, "ezr_stream_push", a) &&
             answered(r, "ezr_stream_push", d);
        last = rc == 0 ? i : last;
    }
    for (int i = 0; i < PLAYERS && ok && last; i++)
        viewer_until(&v[i], (uint8_t)last, armed_deadline());
    fm_disarm(r);
    return finish(&fx, r, v, PLAYERS, ok);
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
    bool ok = answered(r, "ezr_stream_get_stats", rc) && answered(r, "ezr_stream_get_stats", rc2);
    if (ok && rc == 0 && nlist != 3)
        ok = fail(r, "ezr_stream_get_stats answered 0 with players missing:", (int)nlist);
    if (ok && n < 0)
        ok = fail(r, "/metrics neither answered nor closed", 0);
    bool metrics_ok = n > 0 && strncmp(answer, "HTTP/1.1 200 ", 13) == 0 &&
                      strstr(answer, "\nezrtmp_connections ") != NULL;
    if (ok && !metrics_ok && !r->failures)
        ok = fail(r, "/metrics not answered with nothing failed", (int)n);
    if (ok && n > 0 && !metrics_ok && strncmp(answer, "HTTP/1.1 503 ", 13) != 0)
        ok = fail(r, "/metrics answered neither 200 with the counters nor 503", (int)n);
    return finish(&fx, r, v, 3, ok);
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
        return finish(&fx, r, v, 2, fail(r, "setup: two players do not play", 0));
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
    viewer_until(&v[1], 5, armed_deadline());
    fm_disarm(r);
    for (int i = 0; i < k && ok; i++)
        ok = answered(r, "a stream control or push", rc[i]);
    if (ok && eos == EZR_EAGAIN && !r->failures)
        ok = fail(r, "ezr_stream_eos timed out with nothing failed", eos);
    else if (ok && eos != EZR_EAGAIN)
        ok = answered(r, "ezr_stream_eos", eos);
    /* The removed player is the application's doing, not a failure's. */
    viewer_close(&v[0]);
    return finish(&fx, r, v + 1, 1, ok);
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
        viewer_until(&v, 62, armed_deadline());
    fm_disarm(r);
    ezr_flv_parser_clear(&p);
    bool ok = rc == 0 || (rc == EZR_FLV_ENOMEM && r->failures) ||
              fail(r, "ezr_flv_parser_feed answered", rc);
    return finish(&fx, r, &v, 1, ok);
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
        ok = fail(r, "the writer's output says failed, allocations failed:", (int)r->failures);
    else if (!failed && len < 17 * sizeof payload)
        ok = fail(r, "the writer wrote less than the messages:", (int)len);
    struct fixture fx;
    ok = setup(&fx, false, r) && ok;
    return finish(&fx, r, NULL, 0, ok);
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
};
const size_t nscenarios = sizeof scenarios / sizeof scenarios[0];
