/* The sans-I/O RTMP session: the replies a player gets for each command, in order, driven by a
 * client built from the library's own client-side handshake and chunk writer. */
#include "ezr_test.h"

#include "ezr_amf0.h"
#include "ezr_bytes.h"
#include "ezr_chunk.h"
#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_proto.h"
#include "ezr_session.h"

#define MAX_MSGS 64

struct msg {
    uint8_t type;
    uint32_t csid, msid;
    uint8_t payload[8192];
    size_t len;
};

struct harness {
    struct ezr_session s;
    struct ezr_buf sent;
    size_t parsed;
    struct ezr_chunk_reader r;
    struct ezr_chunk_writer w;
    struct msg msgs[MAX_MSGS];
    int nmsgs;
    int connects, plays, started, stopped;
    size_t sent_when_started;
    bool audio, video;
    int receives;
};

static void cb_send(void *ctx, const uint8_t *d, size_t n)
{
    struct harness *h = ctx;
    ezr_buf_append(&h->sent, d, n);
}
static int cb_connect(void *ctx, const char *app)
{
    struct harness *h = ctx;
    h->connects++;
    return strcmp(app, "live") == 0 ? 0 : EZR_ENOTFOUND;
}
static int cb_play(void *ctx, const char *name)
{
    struct harness *h = ctx;
    h->plays++;
    return strcmp(name, "stream") == 0 ? 0 : EZR_ENOTFOUND;
}
static void cb_started(void *ctx)
{
    struct harness *h = ctx;
    h->started++;
    h->sent_when_started = h->sent.len;
}
static void cb_stopped(void *ctx)
{
    struct harness *h = ctx;
    h->stopped++;
}
static void cb_receive(void *ctx, bool audio, bool video)
{
    struct harness *h = ctx;
    h->audio = audio;
    h->video = video;
    h->receives++;
}

static const struct ezr_session_callbacks cbs = {cb_send,    cb_connect, cb_play,
                                                 cb_started, cb_stopped, cb_receive};

static int on_reply(void *ctx, const struct ezr_chunk_msg *m)
{
    struct harness *h = ctx;
    if (h->nmsgs == MAX_MSGS || m->length > sizeof h->msgs[0].payload)
        return EZR_ELIMIT;
    struct msg *o = &h->msgs[h->nmsgs++];
    o->type = m->type;
    o->csid = m->csid;
    o->msid = m->msid;
    o->len = m->length;
    memcpy(o->payload, m->payload, m->length);
    return 0;
}

/* Parses what the session sent since last time into h->msgs. */
static void drain(struct harness *h)
{
    int rc = ezr_chunk_reader_feed(&h->r, h->sent.data + h->parsed, h->sent.len - h->parsed,
                                   on_reply, h);
    if (rc > 0)
        h->parsed += (size_t)rc;
}

static void setup(struct harness *h)
{
    memset(h, 0, sizeof *h);
    uint8_t random[EZR_HANDSHAKE_SIZE] = {0};
    ezr_session_init(&h->s, &cbs, h, 4096, random, 0);
    ezr_buf_init(&h->sent);
    ezr_chunk_reader_init(&h->r, &(struct ezr_chunk_limits){1 << 20, 64});
    ezr_chunk_writer_init(&h->w, EZR_PROTO_CHUNK_SIZE);
    /* Simple handshake. */
    struct ezr_handshake_client hc;
    struct ezr_buf c;
    ezr_buf_init(&c);
    ezr_handshake_client_start(&hc, false, 0, random, &c);
    ezr_session_feed(&h->s, c.data, c.len);
    ezr_buf_reset(&c);
    ezr_handshake_client_finish(&hc, h->sent.data, &c);
    ezr_session_feed(&h->s, c.data, c.len);
    ezr_buf_free(&c);
    h->parsed = 1 + 2 * EZR_HANDSHAKE_SIZE;
}

static void teardown(struct harness *h)
{
    ezr_session_free(&h->s);
    ezr_buf_free(&h->sent);
    ezr_chunk_reader_free(&h->r);
    ezr_chunk_writer_free(&h->w);
}

static int send_raw(struct harness *h, uint8_t type, uint32_t csid, uint32_t msid,
                    const struct ezr_buf *body)
{
    struct ezr_buf out;
    ezr_buf_init(&out);
    ezr_chunk_writer_write(&h->w, &out, csid, 0, type, msid, body->data, body->len);
    int rc = ezr_session_feed(&h->s, out.data, out.len);
    ezr_buf_free(&out);
    drain(h);
    return rc;
}

/* Sends name(txid, {app} or null, [string arg]). */
static int send_cmd(struct harness *h, uint32_t msid, const char *name, double txid,
                    const char *app, const char *arg)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_cstring(&b, name);
    ezr_amf0_put_number(&b, txid);
    if (app) {
        ezr_amf0_put_object_begin(&b);
        ezr_amf0_put_key(&b, "app");
        ezr_amf0_put_cstring(&b, app);
        ezr_amf0_put_key(&b, "tcUrl");
        ezr_amf0_put_cstring(&b, "rtmp://127.0.0.1/live");
        ezr_amf0_put_object_end(&b);
    } else {
        ezr_amf0_put_null(&b);
    }
    if (arg)
        ezr_amf0_put_cstring(&b, arg);
    int rc = send_raw(h, EZR_MSG_COMMAND_AMF0, 3, msid, &b);
    ezr_buf_free(&b);
    return rc;
}

/* The command name of message i, or "" when it is not a command. */
static const char *cmd_name(struct harness *h, int i, char *buf, size_t cap)
{
    struct ezr_amf0_value v;
    buf[0] = '\0';
    if (h->msgs[i].type != EZR_MSG_COMMAND_AMF0 && h->msgs[i].type != EZR_MSG_DATA_AMF0)
        return buf;
    if (ezr_amf0_decode(h->msgs[i].payload, h->msgs[i].len, &v) > 0 && ezr_amf0_as_string(&v))
        snprintf(buf, cap, "%s", ezr_amf0_as_string(&v));
    ezr_amf0_value_clear(&v);
    return buf;
}

/* The "code" property of the info object of a reply/onStatus message i. */
static const char *status_code(struct harness *h, int i, char *buf, size_t cap)
{
    const uint8_t *p = h->msgs[i].payload;
    size_t len = h->msgs[i].len;
    buf[0] = '\0';
    for (int k = 0; k < 4 && len; k++) {
        struct ezr_amf0_value v;
        int used = ezr_amf0_decode(p, len, &v);
        if (used <= 0)
            break;
        const char *code = ezr_amf0_as_string(ezr_amf0_get(&v, "code"));
        if (code)
            snprintf(buf, cap, "%s", code);
        ezr_amf0_value_clear(&v);
        p += used;
        len -= (size_t)used;
    }
    return buf;
}

static int connect_ok(struct harness *h)
{
    return send_cmd(h, 0, "connect", 1, "live", NULL);
}

EZR_TEST(test_connect_answers_window_bandwidth_chunk_size_and_success)
{
    struct harness h;
    setup(&h);
    char a[64], b[64];
    EZR_CHECK(connect_ok(&h) >= 0);
    EZR_CHECK_EQ(h.connects, 1);
    EZR_CHECK_EQ(h.nmsgs, 4);
    EZR_CHECK_EQ(h.msgs[0].type, EZR_MSG_WINDOW_ACK_SIZE);
    EZR_CHECK_EQ(ezr_rd_be32(h.msgs[0].payload), EZR_WINDOW_ACK_SIZE);
    EZR_CHECK_EQ(h.msgs[1].type, EZR_MSG_SET_PEER_BW);
    EZR_CHECK_EQ(h.msgs[2].type, EZR_MSG_SET_CHUNK_SIZE);
    EZR_CHECK_EQ(ezr_rd_be32(h.msgs[2].payload), 4096);
    EZR_CHECK(strcmp(cmd_name(&h, 3, a, sizeof a), "_result") == 0);
    EZR_CHECK(strcmp(status_code(&h, 3, b, sizeof b), "NetConnection.Connect.Success") == 0);
    teardown(&h);
}

EZR_TEST(test_wrong_app_is_rejected_and_closed)
{
    struct harness h;
    setup(&h);
    char a[64], b[64];
    EZR_CHECK_EQ(send_cmd(&h, 0, "connect", 1, "nosuchapp", NULL), EZR_ECLOSED);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(strcmp(cmd_name(&h, 0, a, sizeof a), "_error") == 0);
    EZR_CHECK(strcmp(status_code(&h, 0, b, sizeof b), "NetConnection.Connect.Rejected") == 0);
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_CLOSING);
    teardown(&h);
}

EZR_TEST(test_create_stream_returns_stream_one)
{
    struct harness h;
    setup(&h);
    connect_ok(&h);
    h.nmsgs = 0;
    EZR_CHECK(send_cmd(&h, 0, "createStream", 2, NULL, NULL) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    struct ezr_amf0_value v[4];
    const uint8_t *p = h.msgs[0].payload;
    size_t len = h.msgs[0].len;
    for (int i = 0; i < 4; i++) {
        int used = ezr_amf0_decode(p, len, &v[i]);
        EZR_CHECK(used > 0);
        p += used;
        len -= (size_t)used;
    }
    EZR_CHECK(strcmp(ezr_amf0_as_string(&v[0]), "_result") == 0);
    EZR_CHECK(v[1].type == EZR_AMF0_NUMBER && v[1].u.number == 2);
    EZR_CHECK(v[3].type == EZR_AMF0_NUMBER && v[3].u.number == EZR_MEDIA_MSID);
    for (int i = 0; i < 4; i++)
        ezr_amf0_value_clear(&v[i]);
    teardown(&h);
}

EZR_TEST(test_play_sends_begin_reset_start_sample_access_before_media)
{
    struct harness h;
    setup(&h);
    char a[64], b[64];
    connect_ok(&h);
    send_cmd(&h, 0, "createStream", 2, NULL, NULL);
    h.nmsgs = 0;
    EZR_CHECK(send_cmd(&h, 1, "play", 0, NULL, "stream") >= 0);
    EZR_CHECK_EQ(h.plays, 1);
    EZR_CHECK_EQ(h.started, 1);
    /* Everything was sent before play_started let the server queue media. */
    EZR_CHECK_EQ(h.sent_when_started, h.sent.len);
    EZR_CHECK_EQ(h.nmsgs, 4);
    EZR_CHECK_EQ(h.msgs[0].type, EZR_MSG_USER_CONTROL);
    EZR_CHECK_EQ(ezr_rd_be16(h.msgs[0].payload), EZR_UC_STREAM_BEGIN);
    EZR_CHECK_EQ(ezr_rd_be32(h.msgs[0].payload + 2), 1);
    EZR_CHECK(strcmp(status_code(&h, 1, b, sizeof b), "NetStream.Play.Reset") == 0);
    EZR_CHECK(strcmp(status_code(&h, 2, b, sizeof b), "NetStream.Play.Start") == 0);
    EZR_CHECK_EQ(h.msgs[2].msid, 1);
    EZR_CHECK(strcmp(cmd_name(&h, 3, a, sizeof a), "|RtmpSampleAccess") == 0);
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_PLAYING);
    teardown(&h);
}

EZR_TEST(test_unknown_stream_gets_stream_not_found_and_closes)
{
    struct harness h;
    setup(&h);
    char b[64];
    connect_ok(&h);
    send_cmd(&h, 0, "createStream", 2, NULL, NULL);
    h.nmsgs = 0;
    EZR_CHECK_EQ(send_cmd(&h, 1, "play", 0, NULL, "other"), EZR_ECLOSED);
    EZR_CHECK_EQ(h.started, 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(strcmp(status_code(&h, 0, b, sizeof b), "NetStream.Play.StreamNotFound") == 0);
    teardown(&h);
}

EZR_TEST(test_publish_is_refused)
{
    struct harness h;
    setup(&h);
    char a[64], b[64];
    connect_ok(&h);
    h.nmsgs = 0;
    EZR_CHECK(send_cmd(&h, 0, "releaseStream", 2, NULL, "stream") >= 0);
    EZR_CHECK(strcmp(cmd_name(&h, 0, a, sizeof a), "_error") == 0);
    send_cmd(&h, 0, "createStream", 3, NULL, NULL);
    h.nmsgs = 0;
    EZR_CHECK_EQ(send_cmd(&h, 1, "publish", 4, NULL, "stream"), EZR_ECLOSED);
    EZR_CHECK(strcmp(status_code(&h, 0, b, sizeof b), "NetStream.Publish.BadName") == 0);
    teardown(&h);
}

EZR_TEST(test_command_before_connect_is_an_error)
{
    struct harness h;
    setup(&h);
    EZR_CHECK_EQ(send_cmd(&h, 0, "createStream", 2, NULL, NULL), EZR_EPROTO);
    EZR_CHECK(h.s.close_reason != NULL);
    teardown(&h);
}

EZR_TEST(test_play_before_create_stream_is_an_error)
{
    struct harness h;
    setup(&h);
    connect_ok(&h);
    EZR_CHECK_EQ(send_cmd(&h, 0, "play", 0, NULL, "stream"), EZR_EPROTO);
    EZR_CHECK_EQ(h.plays, 0);
    teardown(&h);
}

EZR_TEST(test_ping_request_gets_ping_response)
{
    struct harness h;
    setup(&h);
    connect_ok(&h);
    h.nmsgs = 0;
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_buf_put_be16(&b, EZR_UC_PING_REQUEST);
    ezr_buf_put_be32(&b, 0xCAFE);
    EZR_CHECK(send_raw(&h, EZR_MSG_USER_CONTROL, 2, 0, &b) >= 0);
    ezr_buf_free(&b);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK_EQ(ezr_rd_be16(h.msgs[0].payload), EZR_UC_PING_RESPONSE);
    EZR_CHECK_EQ(ezr_rd_be32(h.msgs[0].payload + 2), 0xCAFE);
    teardown(&h);
}

EZR_TEST(test_acknowledges_when_client_window_is_reached)
{
    struct harness h;
    setup(&h);
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_buf_put_be32(&b, 50);
    send_raw(&h, EZR_MSG_WINDOW_ACK_SIZE, 2, 0, &b);
    ezr_buf_free(&b);
    EZR_CHECK(h.s.reader.bytes_in < 50);
    connect_ok(&h); /* over 50 bytes in all, under 100 */
    EZR_CHECK(h.s.reader.bytes_in >= 50 && h.s.reader.bytes_in < 100);
    int acks = 0;
    for (int i = 0; i < h.nmsgs; i++)
        if (h.msgs[i].type == EZR_MSG_ACK) {
            acks++;
            EZR_CHECK_EQ(ezr_rd_be32(h.msgs[i].payload), h.s.reader.bytes_in);
        }
    EZR_CHECK_EQ(acks, 1);
    teardown(&h);
}

EZR_TEST(test_close_stream_stops_playing_and_receive_video_is_reported)
{
    struct harness h;
    setup(&h);
    connect_ok(&h);
    send_cmd(&h, 0, "createStream", 2, NULL, NULL);
    send_cmd(&h, 1, "play", 0, NULL, "stream");
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_cstring(&b, "receiveVideo");
    ezr_amf0_put_number(&b, 0);
    ezr_amf0_put_null(&b);
    ezr_amf0_put_bool(&b, false);
    EZR_CHECK(send_raw(&h, EZR_MSG_COMMAND_AMF0, 3, 1, &b) >= 0);
    ezr_buf_free(&b);
    EZR_CHECK_EQ(h.receives, 1);
    EZR_CHECK(h.audio && !h.video);
    EZR_CHECK(send_cmd(&h, 1, "closeStream", 0, NULL, NULL) >= 0);
    EZR_CHECK_EQ(h.stopped, 1);
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_CONNECTED);
    teardown(&h);
}

EZR_TEST(test_media_from_player_closes)
{
    struct harness h;
    setup(&h);
    connect_ok(&h);
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_buf_put_u8(&b, 0x17);
    EZR_CHECK_EQ(send_raw(&h, EZR_MSG_VIDEO, 6, 1, &b), EZR_EPROTO);
    ezr_buf_free(&b);
    teardown(&h);
}

EZR_TEST(test_play_end_sends_stream_eof_and_unpublish_notify)
{
    struct harness h;
    setup(&h);
    char b[64];
    connect_ok(&h);
    send_cmd(&h, 0, "createStream", 2, NULL, NULL);
    send_cmd(&h, 1, "play", 0, NULL, "stream");
    h.nmsgs = 0;
    ezr_session_send_play_end(&h.s);
    drain(&h);
    EZR_CHECK_EQ(h.nmsgs, 2);
    EZR_CHECK_EQ(ezr_rd_be16(h.msgs[0].payload), EZR_UC_STREAM_EOF);
    EZR_CHECK(strcmp(status_code(&h, 1, b, sizeof b), "NetStream.Play.UnpublishNotify") == 0);
    teardown(&h);
}

EZR_TEST(test_bad_handshake_version_is_refused)
{
    struct ezr_session s;
    uint8_t random[EZR_HANDSHAKE_SIZE] = {0};
    struct harness h;
    memset(&h, 0, sizeof h);
    ezr_buf_init(&h.sent);
    ezr_session_init(&s, &cbs, &h, 4096, random, 0);
    const char *get = "GET / HTTP/1.1\r\n";
    EZR_CHECK(ezr_session_feed(&s, (const uint8_t *)get, strlen(get)) < 0);
    EZR_CHECK(s.close_reason != NULL);
    ezr_session_free(&s);
    ezr_buf_free(&h.sent);
}

EZR_TEST_MAIN(EZR_CASE(test_connect_answers_window_bandwidth_chunk_size_and_success),
              EZR_CASE(test_wrong_app_is_rejected_and_closed),
              EZR_CASE(test_create_stream_returns_stream_one),
              EZR_CASE(test_play_sends_begin_reset_start_sample_access_before_media),
              EZR_CASE(test_unknown_stream_gets_stream_not_found_and_closes),
              EZR_CASE(test_publish_is_refused), EZR_CASE(test_command_before_connect_is_an_error),
              EZR_CASE(test_play_before_create_stream_is_an_error),
              EZR_CASE(test_ping_request_gets_ping_response),
              EZR_CASE(test_acknowledges_when_client_window_is_reached),
              EZR_CASE(test_close_stream_stops_playing_and_receive_video_is_reported),
              EZR_CASE(test_media_from_player_closes),
              EZR_CASE(test_play_end_sends_stream_eof_and_unpublish_notify),
              EZR_CASE(test_bad_handshake_version_is_refused))
