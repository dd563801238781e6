/* HTTP-FLV and WebSocket-FLV players over loopback: an HTTP and an RTMP player on one port, the
 * WebSocket player's messages and close, the end of stream, and HTTP players as players:
 * max-connections, the tiers, client-timeout and one shared FLV tag per frame. Requests and their
 * answers are in test_http.c. */
#include "ezr_test.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ezr_error.h"
#include "ezr_proto.h"
#include "ezr_server.h"
#include "ezr_ws.h"
#include "http_fixture.h"
#include "server_fixture.h"

/* ---- one port, three protocols ---------------------------------------------------------- */

/* Reads an HTTP-FLV body: the response head, then FLV bytes on demand. */
struct flv_reader {
    int fd;
    uint8_t buf[1 << 16];
    size_t len;
};

static bool need(struct flv_reader *r, size_t n, uint64_t deadline)
{
    while (r->len < n) {
        struct pollfd pfd = {r->fd, POLLIN, 0};
        int left = (int)(deadline > mono_ms() ? deadline - mono_ms() : 0);
        if (poll(&pfd, 1, left) <= 0)
            return false;
        ssize_t got = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
        if (got <= 0)
            return false;
        r->len += (size_t)got;
    }
    return true;
}

static void take(struct flv_reader *r, size_t n)
{
    memmove(r->buf, r->buf + n, r->len - n);
    r->len -= n;
}

/* Skips the head; returns its length or 0. */
static size_t read_head(struct flv_reader *r, uint64_t deadline)
{
    for (size_t want = 4; need(r, want, deadline); want = r->len + 1) {
        uint8_t *end = memmem(r->buf, r->len, "\r\n\r\n", 4);
        if (end) {
            size_t n = (size_t)(end - r->buf) + 4;
            take(r, n);
            return n;
        }
    }
    return 0;
}

/* The next FLV tag: its type and body[5] (push_video's tag byte). */
static int next_tag(struct flv_reader *r, uint8_t *type, uint8_t *mark, uint64_t deadline)
{
    if (!need(r, 11, deadline))
        return -1;
    size_t size = (size_t)r->buf[1] << 16 | (size_t)r->buf[2] << 8 | r->buf[3];
    if (!need(r, 11 + size + 4, deadline))
        return -1;
    *type = r->buf[0];
    *mark = size > 5 ? r->buf[11 + 5] : 0;
    uint32_t prev = (uint32_t)r->buf[11 + size] << 24 | (uint32_t)r->buf[12 + size] << 16 |
                    (uint32_t)r->buf[13 + size] << 8 | r->buf[14 + size];
    take(r, 11 + size + 4);
    return prev == 11 + size ? 0 : -1;
}

static struct flv_reader hr;

EZR_TEST(test_http_flv_and_rtmp_players_on_one_port_both_receive_frames)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_http(true, false, 0, &st);
    EZR_CHECK(s != NULL);
    uint16_t port = ezr_server_port(s);
    push_video(st, EZR_FRAME_HEADER, 0, 0xAA);
    push_video(st, EZR_FRAME_KEY, 40, 1);
    struct player p;
    int prc = player_open(&p, port, "live", "stream", 0);
    memset(&hr, 0, sizeof hr);
    hr.fd = dial(port, 0);
    static const char req[] = "GET /live/stream.flv HTTP/1.1\r\nHost: h\r\n\r\n";
    ssize_t w = write(hr.fd, req, strlen(req));
    uint64_t deadline = mono_ms() + DEADLINE_MS;
    size_t head = read_head(&hr, deadline);
    bool flv_ok = need(&hr, 13, deadline) &&
                  memcmp(hr.buf, "FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00", 13) == 0;
    take(&hr, flv_ok ? 13 : 0);
    uint8_t marks[3] = {0}, types[3] = {0};
    int trc = 0;
    /* The join burst: the video header, the keyframe; then a live frame. */
    for (int i = 0; i < 2 && trc == 0; i++)
        trc = next_tag(&hr, &types[i], &marks[i], deadline);
    push_video(st, 0, 80, 2);
    if (trc == 0)
        trc = next_tag(&hr, &types[2], &marks[2], deadline);
    /* The RTMP player on the same port got the same frames. */
    uint8_t rtmp_marks[3] = {0};
    int rrc = prc;
    for (int i = 0; i < 3 && rrc == 0; i++) {
        while ((rrc = next_media(&p, deadline)) == 0 && p.type != EZR_MSG_VIDEO)
            ; /* |RtmpSampleAccess */
        rtmp_marks[i] = p.len > 5 ? p.payload[5] : 0;
    }
    struct ezr_stream_stats stats;
    struct ezr_client_stats *clients = NULL;
    size_t nclients = 0;
    int src = ezr_stream_get_stats(st, &stats, &clients, &nclients, 1000);
    bool protos = nclients == 2 && ((strcmp(clients[0].protocol, "rtmp") == 0 &&
                                     strcmp(clients[1].protocol, "http-flv") == 0) ||
                                    (strcmp(clients[1].protocol, "rtmp") == 0 &&
                                     strcmp(clients[0].protocol, "http-flv") == 0));
    free(clients);
    close(hr.fd);
    player_close(&p);
    ezr_server_free(s);
    EZR_CHECK(w == (ssize_t)strlen(req));
    EZR_CHECK(head > 0);
    EZR_CHECK(flv_ok); /* flags: video only (the stream carried video) */
    EZR_CHECK_EQ(trc, 0);
    EZR_CHECK_EQ(types[0], 9);
    EZR_CHECK_EQ(marks[0], 0xAA);
    EZR_CHECK_EQ(marks[1], 1);
    EZR_CHECK_EQ(marks[2], 2);
    EZR_CHECK_EQ(rrc, 0);
    EZR_CHECK_EQ(rtmp_marks[0], 0xAA);
    EZR_CHECK_EQ(rtmp_marks[1], 1);
    EZR_CHECK_EQ(rtmp_marks[2], 2);
    EZR_CHECK_EQ(src, 0);
    EZR_CHECK(protos);
}

EZR_TEST(test_websocket_player_gets_flv_as_binary_messages_and_answers_close)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_http(true, false, 0, &st);
    EZR_CHECK(s != NULL);
    push_video(st, EZR_FRAME_HEADER, 0, 0xAA);
    push_video(st, EZR_FRAME_KEY, 40, 1);
    memset(&hr, 0, sizeof hr);
    hr.fd = dial(ezr_server_port(s), 0);
    static const char req[] =
        "GET /live/stream.flv HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    ssize_t w = write(hr.fd, req, strlen(req));
    uint64_t deadline = mono_ms() + DEADLINE_MS;
    bool head_ok = need(&hr, 129, deadline) &&
                   memcmp(hr.buf,
                          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                          "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                          129) == 0;
    take(&hr, head_ok ? 129 : 0);
    /* Message 1: the FLV header (13 bytes); then one message per tag. */
    bool first_ok = need(&hr, 15, deadline) && hr.buf[0] == 0x82 && hr.buf[1] == 13 &&
                    memcmp(hr.buf + 2, "FLV\x01\x01", 5) == 0;
    take(&hr, first_ok ? 15 : 0);
    bool tag_ok = need(&hr, 2, deadline) && hr.buf[0] == 0x82 && hr.buf[1] == 11 + 64 + 4 &&
                  need(&hr, 2 + 11 + 64 + 4, deadline) && hr.buf[2] == 9 &&
                  hr.buf[2 + 11 + 5] == 0xAA;
    take(&hr, tag_ok ? 2 + 11 + 64 + 4 : 0);
    /* The client closes: the server answers with a close frame and ends the connection. */
    uint8_t cf[8];
    static const uint8_t code[] = {0x03, 0xE8};
    size_t n = ws_client_frame(cf, EZR_WS_CLOSE, true, true, code, 2);
    ssize_t w2 = write(hr.fd, cf, n);
    /* Skip the keyframe's message, then the close reply. */
    bool close_ok = need(&hr, 2, deadline) && hr.buf[1] == 11 + 64 + 4 &&
                    need(&hr, 2 + 79 + 4, deadline) &&
                    memcmp(hr.buf + 81, "\x88\x02\x03\xE8", 4) == 0;
    take(&hr, close_ok ? 85 : 0);
    bool eof = !need(&hr, 1, deadline);
    close(hr.fd);
    ezr_server_free(s);
    EZR_CHECK(w == (ssize_t)strlen(req) && w2 == (ssize_t)n);
    EZR_CHECK(head_ok);
    EZR_CHECK(first_ok);
    EZR_CHECK(tag_ok);
    EZR_CHECK(close_ok);
    EZR_CHECK(eof);
}

EZR_TEST(test_end_of_stream_ends_the_http_flv_body)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_http(true, false, 0, &st);
    EZR_CHECK(s != NULL);
    push_video(st, EZR_FRAME_KEY, 0, 1);
    memset(&hr, 0, sizeof hr);
    hr.fd = dial(ezr_server_port(s), 0);
    static const char req[] = "GET /live/stream.flv HTTP/1.1\r\nHost: h\r\n\r\n";
    ssize_t w = write(hr.fd, req, strlen(req));
    uint64_t deadline = mono_ms() + DEADLINE_MS;
    size_t head = read_head(&hr, deadline);
    bool got_header = need(&hr, 13, deadline);
    take(&hr, got_header ? 13 : 0);
    uint8_t type = 0, mark = 0;
    int trc = next_tag(&hr, &type, &mark, deadline);
    /* EOS waits for the body to be written, then the server ends it. */
    int erc = ezr_stream_eos(st, 2000);
    bool eof = !need(&hr, hr.len + 1, deadline);
    struct ezr_stream_stats stats;
    int src = ezr_stream_get_stats(st, &stats, NULL, NULL, 1000);
    close(hr.fd);
    ezr_server_free(s);
    EZR_CHECK(w == (ssize_t)strlen(req) && head > 0 && got_header);
    EZR_CHECK_EQ(trc, 0);
    EZR_CHECK_EQ(mark, 1);
    EZR_CHECK_EQ(erc, 0);
    EZR_CHECK(eof);
    EZR_CHECK_EQ(src, 0);
    EZR_CHECK_EQ(stats.clients, 0);
    EZR_CHECK_EQ(stats.disconnects[EZR_CLOSE_SERVER], 1);
}

/* ---- HTTP players are players ------------------------------------------------------------ */

static const char flv_get[] = "GET /live/stream.flv HTTP/1.1\r\nHost: h\r\n\r\n";
static const char ws_get[] =
    "GET /live/stream.flv HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";

/* Dials, asks for the stream (WebSocket-FLV with ws) and reads the answer's head and the FLV
 * header. rcvbuf as for dial(). Returns 0, or -1 (r->fd is closed by the caller either way). */
static int http_player_open(struct flv_reader *r, uint16_t port, bool ws, int rcvbuf)
{
    memset(r, 0, sizeof *r);
    r->fd = dial(port, rcvbuf);
    const char *req = ws ? ws_get : flv_get;
    if (r->fd < 0 || write(r->fd, req, strlen(req)) != (ssize_t)strlen(req))
        return -1;
    uint64_t deadline = mono_ms() + DEADLINE_MS;
    if (read_head(r, deadline) == 0)
        return -1;
    size_t skip = ws ? 2 : 0; /* the header is the first binary message (13 bytes) */
    if (!need(r, skip + 13, deadline) || memcmp(r->buf + skip, "FLV\x01", 4) != 0)
        return -1;
    take(r, skip + 13);
    return 0;
}

/* The next whole FLV tag (header, body, PreviousTagSize) into out; its length, or -1. */
static ssize_t take_tag(struct flv_reader *r, uint8_t *out, size_t cap, uint64_t deadline)
{
    if (!need(r, 11, deadline))
        return -1;
    size_t n = 11 + ((size_t)r->buf[1] << 16 | (size_t)r->buf[2] << 8 | r->buf[3]) + 4;
    if (n > cap || !need(r, n, deadline))
        return -1;
    memcpy(out, r->buf, n);
    take(r, n);
    return (ssize_t)n;
}

/* The payload of the next WebSocket binary message (one tag, under 126 bytes here); its length,
 * or -1. */
static ssize_t take_ws_message(struct flv_reader *r, uint8_t *out, size_t cap, uint64_t deadline)
{
    if (!need(r, 2, deadline) || r->buf[0] != 0x82 || r->buf[1] >= 126)
        return -1;
    size_t n = r->buf[1];
    if (n > cap || !need(r, 2 + n, deadline))
        return -1;
    memcpy(out, r->buf + 2, n);
    take(r, 2 + n);
    return (ssize_t)n;
}

static uint32_t tag_timestamp(const uint8_t *t)
{
    return (uint32_t)t[7] << 24 | (uint32_t)t[4] << 16 | (uint32_t)t[5] << 8 | t[6];
}

static struct flv_reader hp[3];

EZR_TEST(test_over_limit_websocket_player_refused_beside_an_http_flv_one)
{
    struct ezr_server_config cfg;
    test_server_config(&cfg);
    cfg.http = true;
    cfg.max_connections = 1;
    struct ezr_stream *st;
    struct ezr_server *s = start_live_stream(&cfg, &st);
    EZR_CHECK(s != NULL);
    uint16_t port = ezr_server_port(s);
    push_video(st, EZR_FRAME_KEY, 0, 1);
    uint8_t tag[256];
    uint64_t dl = mono_ms() + DEADLINE_MS;
    /* The one connection allowed: an HTTP-FLV player, playing. */
    int ok = http_player_open(&hp[0], port, false, 0) == 0 &&
             take_tag(&hp[0], tag, sizeof tag, dl) > 0 && tag[11 + 5] == 1;
    /* One over the limit, asking for WebSocket-FLV: closed at once, no answer at all (an end of
     * file, or a reset since the request it sent was never read). */
    int fd = dial(port, 0);
    ssize_t w = fd >= 0 ? send(fd, ws_get, strlen(ws_get), MSG_NOSIGNAL) : -1;
    (void)w; /* the server may have closed it before the request went */
    uint8_t c = 0;
    struct pollfd pfd = {fd, POLLIN, 0};
    ssize_t r = fd >= 0 && poll(&pfd, 1, DEADLINE_MS) == 1 ? read(fd, &c, 1) : 1;
    bool refused = r == 0 || (r < 0 && errno == ECONNRESET);
    if (fd >= 0)
        close(fd);
    /* The HTTP-FLV player is undisturbed. */
    push_video(st, EZR_FRAME_KEY, 40, 9);
    int still = ok && take_tag(&hp[0], tag, sizeof tag, dl) > 0 && tag[11 + 5] == 9;
    struct ezr_stream_stats stats = {0};
    int src = ezr_stream_get_stats(st, &stats, NULL, NULL, DEADLINE_MS);
    close(hp[0].fd);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK(refused);
    EZR_CHECK(still);
    EZR_CHECK_EQ(src, 0);
    EZR_CHECK_EQ(stats.connections_refused, 1);
    EZR_CHECK_EQ(stats.clients, 1);
}

/* Small tiers and socket buffers, as in unit/backpressure, so that a stalled player goes through
 * them with a few hundred KiB. */
#define SLOW_WARNING (64u * 1024)
#define SLOW_HIGH (128u * 1024)
#define SLOW_MAX (256u * 1024)
#define SLOW_FRAME 8192
#define SLOW_TINY 4096

static struct ezr_server *start_tiered(uint32_t client_timeout_ms, struct ezr_stream **st)
{
    struct ezr_server_config cfg;
    test_tiered_config(&cfg, SLOW_WARNING, SLOW_HIGH, SLOW_MAX, SLOW_TINY, client_timeout_ms);
    cfg.http = true;
    return start_live_stream(&cfg, st);
}

/* An 8 KiB video frame with timestamp ts (how the players tell frames apart). */
static void push_big(struct ezr_stream *st, bool key, uint32_t ts)
{
    static uint8_t body[SLOW_FRAME];
    body[0] = key ? 0x17 : 0x27;
    body[1] = 1; /* AVC NALU */
    ezr_stream_push(st, EZR_FRAME_VIDEO, key ? EZR_FRAME_KEY : 0, ts, body, sizeof body);
}

/* Two HTTP-FLV players of the keyframe at 0: [0] with a tiny receive buffer (to be stalled), [1]
 * reading; both have its tag. */
static int open_slow_and_good_http(uint16_t port, struct ezr_stream *st)
{
    static uint8_t tag[SLOW_FRAME + 64];
    push_big(st, true, 0);
    uint64_t dl = mono_ms() + DEADLINE_MS;
    return http_player_open(&hp[0], port, false, SLOW_TINY) == 0 &&
           http_player_open(&hp[1], port, false, 0) == 0 &&
           take_tag(&hp[0], tag, sizeof tag, dl) > 0 && take_tag(&hp[1], tag, sizeof tag, dl) > 0;
}

/* Reads until the server ends the connection (after what the kernel held); true if it did. */
static bool reads_to_the_end(int fd)
{
    uint64_t end = mono_ms() + DEADLINE_MS;
    while (mono_ms() < end) {
        uint8_t buf[16384];
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)(end - mono_ms())) <= 0)
            return false;
        ssize_t r = read(fd, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return true;
        if (r < 0)
            return false;
    }
    return false;
}

EZR_TEST(test_stalled_http_flv_player_cut_by_the_tiers_another_reads_on)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_tiered(0, &st);
    EZR_CHECK(s != NULL);
    int ok = open_slow_and_good_http(ezr_server_port(s), st);
    static uint8_t tag[SLOW_FRAME + 64];
    struct ezr_stream_stats stats = {0};
    uint32_t ts = 1;
    int every = ok, cut = 0;
    /* One keyframe in six: the stalled player's queue climbs through warning (inter frames
     * dropped) and high (keyframes only) to the maximum. The good player reads each frame. */
    for (int i = 0; every && !cut && i < 400; i++, ts++) {
        bool key = i % 6 == 5;
        push_big(st, key, ts);
        every = take_tag(&hp[1], tag, sizeof tag, mono_ms() + DEADLINE_MS) > 0 &&
                tag_timestamp(tag) == ts && tag[11] == (key ? 0x17 : 0x27);
        every = every && ezr_stream_get_stats(st, &stats, NULL, NULL, DEADLINE_MS) == 0;
        cut = stats.disconnects[EZR_CLOSE_SLOW] == 1;
    }
    bool eof = cut && reads_to_the_end(hp[0].fd);
    push_big(st, true, ts);
    int still = every && take_tag(&hp[1], tag, sizeof tag, mono_ms() + DEADLINE_MS) > 0 &&
                tag_timestamp(tag) == ts;
    int src = ezr_stream_get_stats(st, &stats, NULL, NULL, DEADLINE_MS);
    close(hp[0].fd);
    close(hp[1].fd);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK(every);
    EZR_CHECK(cut);
    EZR_CHECK(eof);
    EZR_CHECK(still);
    EZR_CHECK_EQ(src, 0);
    EZR_CHECK_EQ(stats.clients, 1);
    EZR_CHECK_EQ(stats.disconnects[EZR_CLOSE_SLOW], 1);
    EZR_CHECK(stats.frames_dropped[1] > 0); /* inter frames at the warning tier */
    EZR_CHECK(stats.frames_dropped[2] > 0); /* everything but keyframes at the high tier */
}

EZR_TEST(test_http_flv_player_reading_nothing_closed_after_client_timeout)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_tiered(600, &st);
    EZR_CHECK(s != NULL);
    int ok = open_slow_and_good_http(ezr_server_port(s), st);
    static uint8_t tag[SLOW_FRAME + 64];
    /* Fill the stalled player's kernel buffers until more than they hold waits in our queue,
     * then push nothing: its queue (below the warning tier) stays and only the timeout acts. */
    uint32_t ts = 1;
    long q = 0;
    while (ok && q < (long)SLOW_WARNING / 2 && ts < 200) {
        push_big(st, ts % 5 == 0, ts);
        ok = take_tag(&hp[1], tag, sizeof tag, mono_ms() + DEADLINE_MS) > 0 &&
             tag_timestamp(tag) == ts;
        ts++;
        q = ok ? largest_queue(st, NULL, 2) : -1;
        ok = q >= 0;
    }
    uint64_t stalled_at = mono_ms();
    struct ezr_stream_stats stats = {0};
    bool closed = ok && wait_disconnect(st, EZR_CLOSE_TIMEOUT, stalled_at + DEADLINE_MS, &stats);
    uint64_t waited = mono_ms() - stalled_at;
    bool eof = closed && reads_to_the_end(hp[0].fd);
    push_big(st, true, ts);
    int still = ok && take_tag(&hp[1], tag, sizeof tag, mono_ms() + DEADLINE_MS) > 0 &&
                tag_timestamp(tag) == ts;
    close(hp[0].fd);
    close(hp[1].fd);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK(q >= (long)SLOW_WARNING / 2 && q < (long)SLOW_WARNING);
    EZR_CHECK(closed);
    EZR_CHECK(eof);
    EZR_CHECK(waited >= 500); /* not before its time (progress may predate the stall by a write) */
    EZR_CHECK(still);
    EZR_CHECK_EQ(stats.clients, 1);
    EZR_CHECK_EQ(stats.disconnects[EZR_CLOSE_SLOW], 0);
}

/* Two HTTP-FLV players and a WebSocket-FLV one take the same frames: each frame's FLV view is
 * made once and its WebSocket-FLV view once (the stream's frame_copies counts one per frame and
 * format, not one per player) and all three receive the very same tag bytes. */
EZR_TEST(test_flv_views_made_once_per_format_for_two_http_flv_players_and_a_ws_player)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_http(true, false, 0, &st);
    EZR_CHECK(s != NULL);
    uint16_t port = ezr_server_port(s);
    push_video(st, EZR_FRAME_HEADER, 0, 0xAA);
    push_video(st, EZR_FRAME_KEY, 40, 1);
    static const bool ws[3] = {false, false, true};
    uint8_t got[3][128];
    ssize_t n[3];
    uint64_t dl = mono_ms() + DEADLINE_MS;
    int ok = 1;
    /* The join burst: the header (restamped once to the GOP's start, shared) and the
     * keyframe. */
    for (int i = 0; i < 3; i++) {
        ok = ok && http_player_open(&hp[i], port, ws[i], 0) == 0;
        for (int k = 0; ok && k < 2; k++) {
            n[i] = ws[i] ? take_ws_message(&hp[i], got[i], sizeof got[i], dl)
                         : take_tag(&hp[i], got[i], sizeof got[i], dl);
            ok = n[i] > 0;
        }
    }
    struct ezr_stream_stats joined = {0}, after = {0};
    struct ezr_client_stats *list = NULL;
    size_t nclients = 0;
    int jrc = ezr_stream_get_stats(st, &joined, &list, &nclients, DEADLINE_MS);
    int wsplayers = 0;
    for (size_t i = 0; i < nclients; i++)
        wsplayers += strcmp(list[i].protocol, "ws-flv") == 0;
    free(list);
    /* Five live frames, video and audio: every player gets each, byte for byte the same. */
    int same = ok;
    for (uint32_t i = 0; same && i < 5; i++) {
        if (i % 2)
            push_audio(st, 80 + 20 * i, (uint8_t)(10 + i));
        else
            push_video(st, 0, 80 + 20 * i, (uint8_t)(10 + i));
        for (int p = 0; same && p < 3; p++) {
            n[p] = ws[p] ? take_ws_message(&hp[p], got[p], sizeof got[p], dl)
                         : take_tag(&hp[p], got[p], sizeof got[p], dl);
            same = n[p] > 0 && n[p] == n[0] && memcmp(got[p], got[0], (size_t)n[0]) == 0 &&
                   tag_timestamp(got[p]) == 80 + 20 * i;
        }
    }
    int arc = ezr_stream_get_stats(st, &after, NULL, NULL, DEADLINE_MS);
    for (int i = 0; i < 3; i++)
        close(hp[i].fd);
    ezr_server_free(s);
    EZR_CHECK(ok);
    EZR_CHECK_EQ(jrc, 0);
    EZR_CHECK_EQ(nclients, 3);
    EZR_CHECK_EQ(wsplayers, 1);
    /* The header's joiner copy and the keyframe, as FLV and as WebSocket-FLV. */
    EZR_CHECK_EQ(joined.frame_copies, 2 * 2);
    EZR_CHECK(same);
    EZR_CHECK_EQ(arc, 0);
    EZR_CHECK_EQ(after.frame_copies, 2 * (2 + 5)); /* two formats per frame, not three players */
}

EZR_TEST_MAIN(
    EZR_CASE(test_http_flv_and_rtmp_players_on_one_port_both_receive_frames),
    EZR_CASE(test_websocket_player_gets_flv_as_binary_messages_and_answers_close),
    EZR_CASE(test_end_of_stream_ends_the_http_flv_body),
    EZR_CASE(test_over_limit_websocket_player_refused_beside_an_http_flv_one),
    EZR_CASE(test_stalled_http_flv_player_cut_by_the_tiers_another_reads_on),
    EZR_CASE(test_http_flv_player_reading_nothing_closed_after_client_timeout),
    EZR_CASE(test_flv_views_made_once_per_format_for_two_http_flv_players_and_a_ws_player))
