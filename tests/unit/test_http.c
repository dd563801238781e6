/* HTTP requests and their answers: the sans-I/O request parser and WebSocket reader, then the
 * server over loopback answering byte for byte (errors, HEAD, the preflight, 426, 431), a
 * slowloris request, http off and /metrics. Players over HTTP are in test_http_players.c. */
#include "ezr_test.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ezr_error.h"
#include "ezr_http.h"
#include "ezr_limits.h"
#include "ezr_server.h"
#include "ezr_ws.h"
#include "http_fixture.h"
#include "server_fixture.h"

/* ---- the parser ------------------------------------------------------------------------- */

static const char upgrade_req[] = "GET /live/stream.flv?token=abc HTTP/1.1\r\n"
                                  "Host: 127.0.0.1:1935\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: keep-alive, Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n"
                                  "Origin: http://example.com\r\n"
                                  "\r\n";

EZR_TEST(test_request_split_byte_by_byte_parses_when_complete)
{
    struct ezr_http_parser p;
    struct ezr_http_request req;
    ezr_http_parser_init(&p);
    size_t n = strlen(upgrade_req);
    for (size_t i = 1; i < n; i++)
        EZR_CHECK_EQ(ezr_http_parse(&p, (const uint8_t *)upgrade_req, i, &req), EZR_EAGAIN);
    EZR_CHECK_EQ(ezr_http_parse(&p, (const uint8_t *)upgrade_req, n, &req), (int)n);
    EZR_CHECK_EQ(req.method, EZR_HTTP_GET);
    EZR_CHECK(strcmp(req.path, "/live/stream.flv") == 0);
    EZR_CHECK(strcmp(req.query, "token=abc") == 0);
    EZR_CHECK(req.upgrade_websocket && req.connection_upgrade);
    EZR_CHECK(strcmp(req.ws_key, "dGhlIHNhbXBsZSBub25jZQ==") == 0);
    EZR_CHECK_EQ(req.ws_version, 13);
    EZR_CHECK(strcmp(req.origin, "http://example.com") == 0);
    EZR_CHECK(strcmp(req.host, "127.0.0.1:1935") == 0);
}

EZR_TEST(test_oversized_head_is_431_and_the_error_sticks)
{
    static uint8_t big[EZR_HTTP_MAX_HEAD + 100];
    size_t n = 0;
    n += (size_t)sprintf((char *)big, "GET / HTTP/1.1\r\nHost: x\r\n");
    while (n + 12 < sizeof big)
        n += (size_t)sprintf((char *)big + n, "X-Pad: aa\r\n");
    struct ezr_http_parser p;
    struct ezr_http_request req;
    ezr_http_parser_init(&p);
    EZR_CHECK_EQ(ezr_http_parse(&p, big, n, &req), EZR_ELIMIT);
    EZR_CHECK_EQ(p.status, 431);
    /* Sticky: even a valid request afterwards gets the same answer. */
    EZR_CHECK_EQ(ezr_http_parse(&p, (const uint8_t *)upgrade_req, strlen(upgrade_req), &req),
                 EZR_ELIMIT);
}

EZR_TEST(test_malformed_requests_are_400_or_505)
{
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"GET /a HTTP/1.1\nHost: x\r\n\r\n", 400},  /* bare LF */
        {"GET a HTTP/1.1\r\nHost: x\r\n\r\n", 400}, /* not an absolute path */
        {"GET /a HTTP/2.0\r\nHost: x\r\n\r\n", 505},
        {"GET /a HTTP/1.1\r\n\r\n", 400},           /* no Host */
        {"GET /a HTTP/1.1\r\nHost x\r\n\r\n", 400}, /* no colon */
        {"GET /a HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
        {"G(T /a HTTP/1.1\r\nHost: x\r\n\r\n", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ezr_http_parser p;
        struct ezr_http_request req;
        ezr_http_parser_init(&p);
        int rc = ezr_http_parse(&p, (const uint8_t *)cases[i].req, strlen(cases[i].req), &req);
        EZR_CHECK(rc == EZR_EPROTO);
        EZR_CHECK_EQ(p.status, cases[i].status);
    }
}

/* ---- WebSocket -------------------------------------------------------------------------- */

EZR_TEST(test_websocket_accept_key_of_the_rfc_sample)
{
    char out[EZR_WS_ACCEPT_LEN + 1];
    EZR_CHECK_EQ(ezr_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    EZR_CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
    EZR_CHECK_EQ(ezr_ws_accept_key("short==", out), EZR_EINVAL);
}

EZR_TEST(test_masked_frames_then_unmasked_frame_closes_with_1002)
{
    uint8_t in[256];
    size_t n = 0;
    n += ws_client_frame(in + n, EZR_WS_BINARY, true, true, (const uint8_t *)"ignored", 7);
    n += ws_client_frame(in + n, EZR_WS_PING, true, true, (const uint8_t *)"Hello", 5);
    n += ws_client_frame(in + n, EZR_WS_PONG, true, true, NULL, 0);
    size_t first = n;
    n += ws_client_frame(in + n, EZR_WS_TEXT, true, false, (const uint8_t *)"plain", 5);
    struct ezr_ws_reader r;
    struct ezr_buf out;
    ezr_ws_reader_init(&r);
    ezr_buf_init(&out);
    /* Everything up to the unmasked frame, fed in two pieces that split a header. */
    int rc = ezr_ws_feed(&r, in, 10, &out);
    EZR_CHECK_EQ(rc, 10);
    rc = ezr_ws_feed(&r, in + 10, first - 10, &out);
    EZR_CHECK_EQ(rc, (int)(first - 10));
    static const uint8_t pong[] = {0x8A, 0x05, 'H', 'e', 'l', 'l', 'o'};
    EZR_CHECK_EQ(out.len, sizeof pong);
    EZR_CHECK_MEM(out.data, pong, sizeof pong);
    EZR_CHECK_EQ(r.pongs, 1);
    ezr_buf_reset(&out);
    EZR_CHECK_EQ(ezr_ws_feed(&r, in + first, n - first, &out), EZR_ECLOSED);
    static const uint8_t close1002[] = {0x88, 0x02, 0x03, 0xEA};
    EZR_CHECK_EQ(out.len, sizeof close1002);
    EZR_CHECK_MEM(out.data, close1002, sizeof close1002);
    EZR_CHECK_EQ(r.close_code, 1002);
    ezr_buf_free(&out);
}

EZR_TEST(test_close_frame_gets_a_close_reply_with_its_code)
{
    uint8_t in[64];
    static const uint8_t going_away[] = {0x03, 0xE9}; /* 1001 */
    size_t n = ws_client_frame(in, EZR_WS_CLOSE, true, true, going_away, 2);
    struct ezr_ws_reader r;
    struct ezr_buf out;
    ezr_ws_reader_init(&r);
    ezr_buf_init(&out);
    EZR_CHECK_EQ(ezr_ws_feed(&r, in, n, &out), EZR_ECLOSED);
    static const uint8_t reply[] = {0x88, 0x02, 0x03, 0xE9};
    EZR_CHECK_EQ(out.len, sizeof reply);
    EZR_CHECK_MEM(out.data, reply, sizeof reply);
    ezr_buf_free(&out);
}

EZR_TEST(test_fragmented_ping_and_oversized_frame_are_refused)
{
    uint8_t in[64];
    size_t n = ws_client_frame(in, EZR_WS_PING, false, true, (const uint8_t *)"x", 1);
    struct ezr_ws_reader r;
    struct ezr_buf out;
    ezr_ws_reader_init(&r);
    ezr_buf_init(&out);
    EZR_CHECK_EQ(ezr_ws_feed(&r, in, n, &out), EZR_ECLOSED);
    EZR_CHECK_EQ(r.close_code, EZR_WS_CLOSE_PROTOCOL);
    /* A binary frame claiming 1 MiB: refused with 1009 before any of it is read. */
    static const uint8_t huge[] = {0x82, 0xFF, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 2, 3, 4};
    ezr_ws_reader_init(&r);
    ezr_buf_reset(&out);
    EZR_CHECK_EQ(ezr_ws_feed(&r, huge, sizeof huge, &out), EZR_ECLOSED);
    EZR_CHECK_EQ(r.close_code, EZR_WS_CLOSE_TOO_BIG);
    ezr_buf_free(&out);
}

/* ---- over loopback ---------------------------------------------------------------------- */

/* Sends req and reads until the server closes; returns the bytes read, -1 on timeout. */
static ssize_t exchange(uint16_t port, const char *req, uint8_t *out, size_t cap)
{
    int fd = dial(port, 0);
    if (fd < 0)
        return -1;
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    uint64_t deadline = mono_ms() + DEADLINE_MS;
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int left = (int)(deadline > mono_ms() ? deadline - mono_ms() : 0);
        if (poll(&pfd, 1, left) <= 0)
            break;
        ssize_t r = read(fd, out + got, cap - 1 - got);
        if (r <= 0) {
            close(fd);
            out[got] = 0;
            return r == 0 ? (ssize_t)got : -1;
        }
        got += (size_t)r;
    }
    close(fd);
    return -1;
}

EZR_TEST(test_error_answers_are_exact)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_http(true, false, 0, &st);
    EZR_CHECK(s != NULL);
    uint16_t port = ezr_server_port(s);
    static const struct {
        const char *req, *answer;
    } cases[] = {
        {"GET /live/nope.flv HTTP/1.1\r\nHost: h\r\n\r\n",
         "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n"
         "Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n404 Not Found\n"},
        {"POST /live/stream.flv HTTP/1.1\r\nHost: h\r\n\r\n",
         "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 23\r\n"
         "Allow: GET, HEAD, OPTIONS\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n"
         "\r\n405 Method Not Allowed\n"},
        {"GET live HTTP/1.1\r\nHost: h\r\n\r\n",
         "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n"
         "Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n400 Bad Request\n"},
        {"GET /live/stream.flv?sync-method=fastest HTTP/1.1\r\nHost: h\r\n\r\n",
         "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 82\r\n"
         "Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n400 Bad Request: unknown "
         "sync-method: latest-keyframe, next-keyframe or live-edge\n"},
        {"HEAD /live/stream.flv HTTP/1.1\r\nHost: h\r\n\r\n",
         "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nCache-Control: no-cache\r\n"
         "Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n"},
        {"OPTIONS /live/stream.flv HTTP/1.1\r\nHost: h\r\nOrigin: http://a.example\r\n"
         "Access-Control-Request-Method: GET\r\nConnection: close\r\n\r\n",
         "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n"
         "Access-Control-Allow-Headers: Range, Accept, Content-Type\r\n"
         "Access-Control-Max-Age: 86400\r\nContent-Length: 0\r\n"
         "Access-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n"},
        {"GET /live/stream.flv HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "Sec-WebSocket-Version: 8\r\n\r\n",
         "HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n"
         "Sec-WebSocket-Version: 13\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n"
         "\r\n426 Upgrade Required\n"},
    };
    uint8_t buf[4096];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ssize_t n = exchange(port, cases[i].req, buf, sizeof buf);
        if (n != (ssize_t)strlen(cases[i].answer) || memcmp(buf, cases[i].answer, (size_t)n))
            printf("# case %zu got: %s\n", i, n > 0 ? (char *)buf : "(nothing)");
        EZR_CHECK_EQ(n, (ssize_t)strlen(cases[i].answer));
        EZR_CHECK_MEM(buf, cases[i].answer, (size_t)n);
    }
    ezr_server_free(s);
}

EZR_TEST(test_oversized_request_answered_431_over_the_socket)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_http(true, false, 0, &st);
    EZR_CHECK(s != NULL);
    static char req[EZR_HTTP_MAX_HEAD + 200];
    size_t n = (size_t)sprintf(req, "GET /live/stream.flv HTTP/1.1\r\nHost: h\r\n");
    while (n + 20 < sizeof req)
        n += (size_t)sprintf(req + n, "X-Pad: aaaaaaaaaa\r\n");
    uint8_t buf[4096];
    ssize_t got = exchange(ezr_server_port(s), req, buf, sizeof buf);
    ezr_server_free(s);
    static const char want[] = "HTTP/1.1 431 Request Header Fields Too Large\r\n";
    EZR_CHECK(got > (ssize_t)strlen(want));
    EZR_CHECK_MEM(buf, want, strlen(want));
}

EZR_TEST(test_slowloris_request_closed_by_handshake_timeout)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_http(true, false, 600, &st);
    EZR_CHECK(s != NULL);
    int fd = dial(ezr_server_port(s), 0);
    EZR_CHECK(fd >= 0);
    /* 100 bytes: 10 s at this pace, far past the timeout. */
    static const char req[] = "GET /live/stream.flv HTTP/1.1\r\nHost: h\r\nX-Slow: "
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    uint64_t start = mono_ms();
    bool closed = false;
    /* One byte every 100 ms (the pace is the test's subject, not a stand-in for a condition):
     * the request never ends, and the server must close the connection on its own. */
    for (size_t i = 0; i < strlen(req) && !closed; i++) {
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1) {
            closed = true;
            break;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0) {
            uint8_t b[64];
            closed = read(fd, b, sizeof b) <= 0;
        }
    }
    uint64_t took = mono_ms() - start;
    close(fd);
    ezr_server_free(s);
    EZR_CHECK(closed);
    /* The 600 ms timeout, checked on the reactor's 250 ms tick (and a loaded machine's delay);
     * never the end of the request, which would take 10 s. */
    EZR_CHECK(took >= 600 && took < 5000);
}

EZR_TEST(test_http_off_makes_the_port_rtmp_only)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_http(false, false, 0, &st);
    EZR_CHECK(s != NULL);
    uint8_t buf[256];
    ssize_t n = exchange(ezr_server_port(s), "GET /live/stream.flv HTTP/1.1\r\nHost: h\r\n\r\n",
                         buf, sizeof buf);
    struct player p;
    int rc = player_open(&p, ezr_server_port(s), "live", "stream", 0);
    push_video(st, EZR_FRAME_KEY, 0, 7);
    int mrc = rc == 0 ? next_media(&p, mono_ms() + DEADLINE_MS) : -1;
    player_close(&p);
    ezr_server_free(s);
    EZR_CHECK_EQ(n, 0); /* closed without an answer */
    EZR_CHECK_EQ(mrc, 0);
}

EZR_TEST(test_metrics_answer_prometheus_text)
{
    struct ezr_stream *st;
    struct ezr_server *s = start_http(false, true, 0, &st);
    EZR_CHECK(s != NULL);
    push_video(st, EZR_FRAME_KEY, 0, 7);
    static uint8_t buf[16384];
    ssize_t n = 0;
    /* Poll until the pushed frame is counted (it reaches the reactor asynchronously). */
    for (uint64_t deadline = mono_ms() + DEADLINE_MS; mono_ms() < deadline;) {
        n = exchange(ezr_server_port(s), "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", buf,
                     sizeof buf);
        if (n > 0 &&
            strstr((char *)buf, "ezrtmp_frames_in_total{app=\"live\",stream=\"stream\"} 1\n"))
            break;
    }
    ezr_server_free(s);
    EZR_CHECK(n > 0);
    const char *b = (const char *)buf;
    EZR_CHECK(strncmp(b, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4", 56) == 0);
    EZR_CHECK(strstr(b, "# TYPE ezrtmp_connections gauge\nezrtmp_connections 1\n"));
    EZR_CHECK(strstr(b, "ezrtmp_frames_in_total{app=\"live\",stream=\"stream\"} 1\n"));
    EZR_CHECK(strstr(b, "ezrtmp_clients{app=\"live\",stream=\"stream\",protocol=\"ws-flv\"} 0\n"));
    EZR_CHECK(
        strstr(b, "ezrtmp_frames_dropped_total{app=\"live\",stream=\"stream\",tier=\"high\"} 0\n"));
    EZR_CHECK(
        strstr(b, "ezrtmp_disconnects_total{app=\"live\",stream=\"stream\",reason=\"slow\"} 0\n"));
    EZR_CHECK(strstr(b, "# HELP ezrtmp_gop_cache_bytes "));
    EZR_CHECK(strstr(b, "ezrtmp_replays_built_total{app=\"live\",stream=\"stream\"} 0\n"));
}

EZR_TEST_MAIN(EZR_CASE(test_request_split_byte_by_byte_parses_when_complete),
              EZR_CASE(test_oversized_head_is_431_and_the_error_sticks),
              EZR_CASE(test_malformed_requests_are_400_or_505),
              EZR_CASE(test_websocket_accept_key_of_the_rfc_sample),
              EZR_CASE(test_masked_frames_then_unmasked_frame_closes_with_1002),
              EZR_CASE(test_close_frame_gets_a_close_reply_with_its_code),
              EZR_CASE(test_fragmented_ping_and_oversized_frame_are_refused),
              EZR_CASE(test_error_answers_are_exact),
              EZR_CASE(test_oversized_request_answered_431_over_the_socket),
              EZR_CASE(test_slowloris_request_closed_by_handshake_timeout),
              EZR_CASE(test_http_off_makes_the_port_rtmp_only),
              EZR_CASE(test_metrics_answer_prometheus_text))
