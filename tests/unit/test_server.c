/* The server over real loopback sockets: ports, late joiners, fan-out, end of stream, limits and
 * timeouts. The player here is built from the library's client-side handshake and chunk code;
 * the end-to-end tests check the same against independent players. */
#include "ezr_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ezr_amf0.h"
#include "ezr_bytes.h"
#include "ezr_chunk.h"
#include "ezr_error.h"
#include "ezr_handshake.h"
#include "ezr_limits.h"
#include "ezr_proto.h"
#include "ezr_server.h"

#define DEADLINE_MS 5000

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct ezr_server *start_server(uint32_t max_conn, uint32_t hs_timeout_ms,
                                       struct ezr_stream **st)
{
    struct ezr_server_config cfg;
    ezr_server_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.max_connections = max_conn;
    cfg.handshake_timeout_ms = hs_timeout_ms;
    struct ezr_server *s = NULL;
    if (ezr_server_new(&cfg, &s) < 0)
        return NULL;
    struct ezr_stream_config sc = {.app = "live", .key = "stream", .max_gops = 1};
    if (ezr_server_add_stream(s, &sc, st) < 0) {
        ezr_server_free(s);
        return NULL;
    }
    return s;
}

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads exactly n bytes before the deadline; returns n, 0 on EOF, -1 on timeout/error. */
static ssize_t read_full(int fd, uint8_t *p, size_t n, uint64_t deadline)
{
    size_t got = 0;
    while (got < n) {
        int left = (int)(deadline > mono_ms() ? deadline - mono_ms() : 0);
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, left) <= 0)
            return -1;
        ssize_t r = read(fd, p + got, n - got);
        if (r == 0)
            return 0;
        if (r < 0)
            return -1;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* A player: handshake, connect, createStream, play; then messages through a chunk reader. */
#define PENDING_MAX 512

struct pending {
    uint8_t type;
    uint32_t ts;
    uint8_t *payload;
    size_t len;
};

struct player {
    int fd;
    struct ezr_chunk_reader r;
    struct ezr_chunk_writer w;
    struct ezr_buf in;
    struct pending q[PENDING_MAX]; /* parsed, not yet taken by next_msg() */
    size_t qhead, qlen;
    /* the message next_msg() took last */
    uint8_t type;
    uint32_t ts;
    uint8_t payload[65536];
    size_t len;
};

static int on_msg(void *ctx, const struct ezr_chunk_msg *m)
{
    struct player *p = ctx;
    if (p->qlen == PENDING_MAX)
        return EZR_ELIMIT;
    struct pending *e = &p->q[(p->qhead + p->qlen++) % PENDING_MAX];
    e->type = m->type;
    e->ts = m->timestamp;
    e->len = m->length;
    e->payload = malloc(m->length ? m->length : 1);
    memcpy(e->payload, m->payload, m->length);
    return 0;
}

/* Next message from the server, or -1 on timeout/close. */
static int next_msg(struct player *p, uint64_t deadline)
{
    while (p->qlen == 0) {
        uint8_t buf[16384];
        int left = (int)(deadline > mono_ms() ? deadline - mono_ms() : 0);
        struct pollfd pfd = {p->fd, POLLIN, 0};
        if (poll(&pfd, 1, left) <= 0)
            return -1;
        ssize_t r = read(p->fd, buf, sizeof buf);
        if (r <= 0)
            return -1;
        ezr_buf_append(&p->in, buf, (size_t)r);
        int used = ezr_chunk_reader_feed(&p->r, p->in.data, p->in.len, on_msg, p);
        if (used < 0)
            return -1;
        ezr_buf_consume(&p->in, (size_t)used);
    }
    struct pending *e = &p->q[p->qhead];
    p->qhead = (p->qhead + 1) % PENDING_MAX;
    p->qlen--;
    p->type = e->type;
    p->ts = e->ts;
    p->len = e->len < sizeof p->payload ? e->len : sizeof p->payload;
    memcpy(p->payload, e->payload, p->len);
    free(e->payload);
    return 0;
}

static void send_cmd(struct player *p, uint32_t msid, const char *name, double txid,
                     const char *app, const char *arg)
{
    struct ezr_buf b, out;
    ezr_buf_init(&b);
    ezr_buf_init(&out);
    ezr_amf0_put_cstring(&b, name);
    ezr_amf0_put_number(&b, txid);
    if (app) {
        ezr_amf0_put_object_begin(&b);
        ezr_amf0_put_key(&b, "app");
        ezr_amf0_put_cstring(&b, app);
        ezr_amf0_put_object_end(&b);
    } else {
        ezr_amf0_put_null(&b);
    }
    if (arg)
        ezr_amf0_put_cstring(&b, arg);
    ezr_chunk_writer_write(&p->w, &out, 3, 0, EZR_MSG_COMMAND_AMF0, msid, b.data, b.len);
    ssize_t w = write(p->fd, out.data, out.len);
    (void)w;
    ezr_buf_free(&b);
    ezr_buf_free(&out);
}

static int player_open(struct player *p, uint16_t port, const char *app, const char *name)
{
    memset(p, 0, sizeof *p);
    ezr_chunk_reader_init(&p->r, &(struct ezr_chunk_limits){1 << 24, 64});
    ezr_chunk_writer_init(&p->w, EZR_PROTO_CHUNK_SIZE);
    ezr_buf_init(&p->in);
    p->fd = dial(port);
    if (p->fd < 0)
        return -1;
    uint8_t random[EZR_HANDSHAKE_SIZE] = {1, 2, 3};
    struct ezr_handshake_client hc;
    struct ezr_buf out;
    ezr_buf_init(&out);
    ezr_handshake_client_start(&hc, true, 0, random, &out);
    uint8_t s[1 + 2 * EZR_HANDSHAKE_SIZE];
    int ok = write(p->fd, out.data, out.len) == (ssize_t)out.len &&
             read_full(p->fd, s, sizeof s, mono_ms() + DEADLINE_MS) == (ssize_t)sizeof s;
    ezr_buf_reset(&out);
    ok = ok && ezr_handshake_client_finish(&hc, s, &out) == 0 &&
         write(p->fd, out.data, out.len) == (ssize_t)out.len;
    ezr_buf_free(&out);
    if (!ok)
        return -1;
    send_cmd(p, 0, "connect", 1, app, NULL);
    send_cmd(p, 0, "createStream", 2, NULL, NULL);
    if (name)
        send_cmd(p, 1, "play", 0, NULL, name);
    return 0;
}

static void player_close(struct player *p)
{
    if (p->fd >= 0)
        close(p->fd);
    for (; p->qlen; p->qlen--, p->qhead = (p->qhead + 1) % PENDING_MAX)
        free(p->q[p->qhead].payload);
    ezr_chunk_reader_free(&p->r);
    ezr_chunk_writer_free(&p->w);
    ezr_buf_free(&p->in);
}

/* Skips to the next media message (audio/video/data), or -1. */
static int next_media(struct player *p, uint64_t deadline)
{
    while (next_msg(p, deadline) == 0)
        if (p->type == EZR_MSG_VIDEO || p->type == EZR_MSG_AUDIO || p->type == EZR_MSG_DATA_AMF0)
            return 0;
    return -1;
}

static void push_video(struct ezr_stream *st, uint32_t flags, uint32_t ts, uint8_t tag)
{
    /* byte0: frame type (1 key, 2 inter) | codec 7 (AVC); byte1: AVC packet type. */
    uint8_t body[64] = {(uint8_t)(((flags & EZR_FRAME_KEY) ? 0x10 : 0x20) | 7),
                        (uint8_t)((flags & EZR_FRAME_HEADER) ? 0 : 1), 0, 0, 0, tag};
    if (flags & EZR_FRAME_HEADER)
        body[0] = 0x17;
    ezr_stream_push(st, EZR_FRAME_VIDEO, flags, ts, body, sizeof body);
}

EZR_TEST(test_ephemeral_port_is_bound_and_busy_port_is_reported)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_server(0, 0, &st);
    EZR_CHECK(s != NULL);
    uint16_t port = ezr_server_port(s);
    EZR_CHECK(port != 0);
    struct ezr_server_config cfg;
    ezr_server_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = port;
    struct ezr_server *s2 = NULL;
    int rc = ezr_server_new(&cfg, &s2);
    ezr_server_free(s);
    EZR_CHECK_EQ(rc, EZR_EADDRINUSE);
    EZR_CHECK(s2 == NULL);
}

EZR_TEST(test_late_joiner_gets_headers_then_keyframe_first)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_server(0, 0, &st);
    EZR_CHECK(s != NULL);
    push_video(st, EZR_FRAME_HEADER, 0, 0xAA);
    push_video(st, 0, 10, 1);             /* before any keyframe */
    push_video(st, EZR_FRAME_KEY, 40, 2); /* the GOP */
    push_video(st, 0, 73, 3);
    struct player p;
    int ok = player_open(&p, ezr_server_port(s), "live", "stream") == 0;
    uint64_t dl = mono_ms() + DEADLINE_MS;
    int seq_ok = ok && next_media(&p, dl) == 0; /* |RtmpSampleAccess */
    seq_ok = seq_ok && p.type == EZR_MSG_DATA_AMF0;
    seq_ok = seq_ok && next_media(&p, dl) == 0 && p.type == EZR_MSG_VIDEO &&
             p.payload[0] == 0x17 && p.payload[1] == 0 && p.payload[5] == 0xAA;
    seq_ok = seq_ok && next_media(&p, dl) == 0 && p.payload[0] == 0x17 && p.payload[5] == 2 &&
             p.ts == 40;
    seq_ok = seq_ok && next_media(&p, dl) == 0 && p.payload[0] == 0x27 && p.payload[5] == 3;
    /* Live frames follow. */
    push_video(st, 0, 106, 4);
    seq_ok = seq_ok && next_media(&p, dl) == 0 && p.payload[5] == 4 && p.ts == 106;
    player_close(&p);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK(seq_ok);
}

EZR_TEST(test_two_players_receive_identical_frames)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_server(0, 0, &st);
    EZR_CHECK(s != NULL);
    struct player a, b;
    int ok = player_open(&a, ezr_server_port(s), "live", "stream") == 0 &&
             player_open(&b, ezr_server_port(s), "live", "stream") == 0;
    uint64_t dl = mono_ms() + DEADLINE_MS;
    /* Wait until both are playing: each has its |RtmpSampleAccess. */
    ok = ok && next_media(&a, dl) == 0 && next_media(&b, dl) == 0;
    int same = ok;
    for (uint32_t i = 0; i < 20 && same; i++) {
        push_video(st, i % 10 == 0 ? EZR_FRAME_KEY : 0, i * 33, (uint8_t)i);
        same = next_media(&a, dl) == 0 && next_media(&b, dl) == 0 && a.len == b.len &&
               memcmp(a.payload, b.payload, a.len) == 0 && a.ts == b.ts && a.ts == i * 33;
    }
    player_close(&a);
    player_close(&b);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK(same);
}

EZR_TEST(test_eos_sends_stream_eof_and_waits_for_drain)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_server(0, 0, &st);
    EZR_CHECK(s != NULL);
    struct player p;
    int ok = player_open(&p, ezr_server_port(s), "live", "stream") == 0;
    uint64_t dl = mono_ms() + DEADLINE_MS;
    ok = ok && next_media(&p, dl) == 0;
    push_video(st, EZR_FRAME_KEY, 0, 1);
    int rc = ezr_stream_eos(st, DEADLINE_MS);
    int eof = 0;
    while (ok && next_msg(&p, dl) == 0)
        if (p.type == EZR_MSG_USER_CONTROL && ezr_rd_be16(p.payload) == EZR_UC_STREAM_EOF) {
            eof = 1;
            break;
        }
    player_close(&p);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK_EQ(rc, 0);
    EZR_CHECK(eof);
}

EZR_TEST(test_connection_over_limit_is_closed_at_once)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_server(1, 0, &st);
    EZR_CHECK(s != NULL);
    struct player a;
    int ok = player_open(&a, ezr_server_port(s), "live", "stream") == 0;
    uint64_t dl = mono_ms() + DEADLINE_MS;
    ok = ok && next_media(&a, dl) == 0; /* a is playing */
    int fd = dial(ezr_server_port(s));
    uint8_t c = 0;
    /* The server closes the second connection without a word: EOF before the deadline. */
    ssize_t r = fd >= 0 ? read_full(fd, &c, 1, dl) : -1;
    if (fd >= 0)
        close(fd);
    /* The first player is undisturbed. */
    push_video(st, EZR_FRAME_KEY, 0, 9);
    int still = ok && next_media(&a, dl) == 0 && a.payload[5] == 9;
    player_close(&a);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK_EQ(r, 0);
    EZR_CHECK(still);
}

EZR_TEST(test_silent_client_closed_after_handshake_timeout)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_server(0, 300, &st);
    EZR_CHECK(s != NULL);
    int fd = dial(ezr_server_port(s));
    uint64_t t0 = mono_ms();
    uint8_t c;
    ssize_t r = read_full(fd, &c, 1, t0 + DEADLINE_MS);
    uint64_t waited = mono_ms() - t0;
    close(fd);
    ezr_server_free(s);
    EZR_CHECK_EQ(r, 0);
    EZR_CHECK(waited >= 300);
}

EZR_TEST(test_duplicate_stream_is_refused)
{
    struct ezr_stream *st, *st2 = NULL;
    struct ezr_server *s = start_server(0, 0, &st);
    EZR_CHECK(s != NULL);
    struct ezr_stream_config sc = {.app = "live", .key = "stream", .max_gops = 1};
    int rc = ezr_server_add_stream(s, &sc, &st2);
    ezr_server_free(s);
    EZR_CHECK_EQ(rc, EZR_EEXIST);
}

struct events {
    int added, removed;
    uint64_t last_id;
    char reason[128];
};

static void on_client(void *ctx, enum ezr_client_event ev, const struct ezr_client_info *info)
{
    struct events *e = ctx;
    if (ev == EZR_CLIENT_ADDED)
        e->added++;
    else {
        e->removed++;
        snprintf(e->reason, sizeof e->reason, "%s", info->reason);
    }
    e->last_id = info->id;
}

EZR_TEST(test_client_events_stats_and_removal)
{
    struct ezr_server_config cfg;
    ezr_server_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    struct ezr_server *s = NULL;
    EZR_CHECK_EQ(ezr_server_new(&cfg, &s), 0);
    struct events ev = {0};
    struct ezr_stream *st;
    struct ezr_stream_config sc = {
        .app = "live", .key = "stream", .max_gops = 1, .on_client = on_client, .client_ctx = &ev};
    EZR_CHECK_EQ(ezr_server_add_stream(s, &sc, &st), 0);
    struct player p;
    int ok = player_open(&p, ezr_server_port(s), "live", "stream") == 0;
    uint64_t dl = mono_ms() + DEADLINE_MS;
    ok = ok && next_media(&p, dl) == 0; /* playing */
    push_video(st, EZR_FRAME_KEY, 0, 1);
    ok = ok && next_media(&p, dl) == 0;
    struct ezr_stream_stats stats;
    struct ezr_client_stats *list = NULL;
    size_t n = 0;
    int rc = ezr_stream_get_stats(st, &stats, &list, &n, DEADLINE_MS);
    uint64_t id = n == 1 ? list[0].id : 0;
    int list_ok = n == 1 && list[0].bytes_sent > 0 && list[0].bytes_queued == 0;
    free(list);
    int kicked = ok && ezr_stream_remove_client(st, id) == 0 && next_msg(&p, dl) < 0;
    struct ezr_stream_stats after;
    int rc2 = ezr_stream_get_stats(st, &after, NULL, NULL, DEADLINE_MS);
    player_close(&p);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK_EQ(rc, 0);
    EZR_CHECK_EQ(stats.clients, 1);
    EZR_CHECK_EQ(stats.frames_in, 1);
    EZR_CHECK_EQ(stats.connections, 1);
    EZR_CHECK(list_ok);
    EZR_CHECK(kicked);
    EZR_CHECK_EQ(rc2, 0);
    EZR_CHECK_EQ(after.clients, 0);
    EZR_CHECK_EQ(after.clients_peak, 1);
    EZR_CHECK_EQ(after.disconnects[EZR_CLOSE_REMOVED], 1);
    EZR_CHECK_EQ(ev.added, 1);
    EZR_CHECK_EQ(ev.removed, 1);
    EZR_CHECK_EQ(ev.last_id, id);
    EZR_CHECK(strcmp(ev.reason, "removed by the application") == 0);
}

/* In a child process (the descriptor limit is process-wide): with every descriptor taken, a
 * pending connection waits in the backlog; once some are freed the server accepts it. */
static int fd_exhaustion_child(void)
{
    struct rlimit lim = {64, 64};
    if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
        return 10;
    struct ezr_stream *st;
    struct ezr_server *s = start_server(0, 0, &st);
    if (!s)
        return 11;
    uint16_t port = ezr_server_port(s);
    int dummies[64], nd = 0, fd;
    while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        dummies[nd++] = fd;
    /* Two free: our client socket takes one, the server's accept would need the other... */
    close(dummies[--nd]);
    close(dummies[--nd]);
    int a = dial(port); /* ...and gets it */
    uint8_t hs[1 + EZR_HANDSHAKE_SIZE] = {3};
    uint8_t reply[1 + 2 * EZR_HANDSHAKE_SIZE];
    if (a < 0 || write(a, hs, sizeof hs) != (ssize_t)sizeof hs ||
        read_full(a, reply, sizeof reply, mono_ms() + DEADLINE_MS) != (ssize_t)sizeof reply)
        return 12;
    close(dummies[--nd]);
    int b = dial(port); /* the server has no descriptor left for this one */
    if (b < 0 || write(b, hs, sizeof hs) != (ssize_t)sizeof hs)
        return 13;
    struct pollfd pfd = {b, POLLIN, 0};
    if (poll(&pfd, 1, 600) != 0)
        return 14; /* answered without a descriptor? */
    /* Players leave: descriptors come back and the waiting connection is served. */
    close(a);
    close(dummies[--nd]);
    if (read_full(b, reply, sizeof reply, mono_ms() + DEADLINE_MS) != (ssize_t)sizeof reply)
        return 15;
    close(b);
    while (nd)
        close(dummies[--nd]);
    ezr_server_free(s);
    return 0;
}

EZR_TEST(test_accept_recovers_after_descriptor_exhaustion)
{
    pid_t pid = fork();
    EZR_CHECK(pid >= 0);
    if (pid == 0)
        _exit(fd_exhaustion_child());
    int status = 0;
    EZR_CHECK_EQ(waitpid(pid, &status, 0), pid);
    EZR_CHECK(WIFEXITED(status));
    EZR_CHECK_EQ(WEXITSTATUS(status), 0);
}

EZR_TEST_MAIN(EZR_CASE(test_ephemeral_port_is_bound_and_busy_port_is_reported),
              EZR_CASE(test_late_joiner_gets_headers_then_keyframe_first),
              EZR_CASE(test_two_players_receive_identical_frames),
              EZR_CASE(test_eos_sends_stream_eof_and_waits_for_drain),
              EZR_CASE(test_connection_over_limit_is_closed_at_once),
              EZR_CASE(test_silent_client_closed_after_handshake_timeout),
              EZR_CASE(test_duplicate_stream_is_refused),
              EZR_CASE(test_client_events_stats_and_removal),
              EZR_CASE(test_accept_recovers_after_descriptor_exhaustion))
