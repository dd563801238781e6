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
#include "rtmp_test_cmd.h"

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
    size_t sent_when_stopped;
    bool audio, video;
    int receives;
    int pauses; /* pause callback calls */
    bool paused;
    size_t sent_when_paused;
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
    h->sent_when_stopped = h->sent.len;
}
static void cb_receive(void *ctx, bool audio, bool video)
{
    struct harness *h = ctx;
    h->audio = audio;
    h->video = video;
    h->receives++;
}

static void cb_pause(void *ctx, bool paused)
{
    struct harness *h = ctx;
    h->pauses++;
    h->paused = paused;
    h->sent_when_paused = h->sent.len;
}

static const struct ezr_session_callbacks cbs = {cb_send,    cb_connect, cb_play, cb_started,
                                                 cb_stopped, cb_receive, cb_pause, NULL};

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
    rtmp_test_put_cmd(&b, name, txid, app, "rtmp://127.0.0.1/live", arg);
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

/* Handshake, connect, createStream and play "stream"; h->msgs then starts empty. */
static void play_ok(struct harness *h)
{
    connect_ok(h);
    send_cmd(h, 0, "createStream", 2, NULL, NULL);
    send_cmd(h, 1, "play", 0, NULL, "stream");
    h->nmsgs = 0;
}

/* Sends name(0, null, flag[, ms]) on msid: pause, pauseRaw, receiveVideo, receiveAudio. */
static int send_flag_cmd(struct harness *h, uint32_t msid, const char *name, bool flag,
                         bool with_ms)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_cstring(&b, name);
    ezr_amf0_put_number(&b, 0);
    ezr_amf0_put_null(&b);
    ezr_amf0_put_bool(&b, flag);
    if (with_ms)
        ezr_amf0_put_number(&b, 1234);
    int rc = send_raw(h, EZR_MSG_COMMAND_AMF0, 8, msid, &b);
    ezr_buf_free(&b);
    return rc;
}

/* Sends name(txid, null, number) on msid: seek(0, null, ms), deleteStream(txid, null, id). */
static int send_number_cmd(struct harness *h, uint32_t msid, const char *name, double txid,
                           double number)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_cstring(&b, name);
    ezr_amf0_put_number(&b, txid);
    ezr_amf0_put_null(&b);
    ezr_amf0_put_number(&b, number);
    int rc = send_raw(h, EZR_MSG_COMMAND_AMF0, 8, msid, &b);
    ezr_buf_free(&b);
    return rc;
}

/* True when message i is onStatus(0, null, {level, code, description, details}) on the media
 * stream's command chunk stream, with exactly this level and code and the stream name as
 * details. */
static bool is_status(struct harness *h, int i, const char *level, const char *code)
{
    if (i >= h->nmsgs)
        return false;
    const struct msg *m = &h->msgs[i];
    if (m->type != EZR_MSG_COMMAND_AMF0 || m->csid != EZR_CSID_COMMAND || m->msid != EZR_MEDIA_MSID)
        return false;
    struct ezr_amf0_value v[4];
    const uint8_t *p = m->payload;
    size_t len = m->len;
    int n = 0;
    while (n < 4 && len) {
        int used = ezr_amf0_decode(p, len, &v[n]);
        if (used <= 0)
            break;
        n++;
        p += used;
        len -= (size_t)used;
    }
    bool ok = n == 4 && len == 0 && ezr_amf0_as_string(&v[0]) &&
              strcmp(ezr_amf0_as_string(&v[0]), "onStatus") == 0 && v[1].type == EZR_AMF0_NUMBER &&
              v[1].u.number == 0 && v[2].type == EZR_AMF0_NULL;
    if (ok) {
        const char *lv = ezr_amf0_as_string(ezr_amf0_get(&v[3], "level"));
        const char *cd = ezr_amf0_as_string(ezr_amf0_get(&v[3], "code"));
        const char *dt = ezr_amf0_as_string(ezr_amf0_get(&v[3], "details"));
        const char *ds = ezr_amf0_as_string(ezr_amf0_get(&v[3], "description"));
        ok = lv && strcmp(lv, level) == 0 && cd && strcmp(cd, code) == 0 && dt &&
             strcmp(dt, "stream") == 0 && ds && ds[0];
    }
    for (int k = 0; k < n; k++)
        ezr_amf0_value_clear(&v[k]);
    return ok;
}

static int send_user_control(struct harness *h, uint16_t event, uint32_t value)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_buf_put_be16(&b, event);
    ezr_buf_put_be32(&b, value);
    int rc = send_raw(h, EZR_MSG_USER_CONTROL, 2, 0, &b);
    ezr_buf_free(&b);
    return rc;
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

EZR_TEST(test_pause_true_while_playing_sends_pause_notify_then_calls_pause)
{
    struct harness h;
    setup(&h);
    play_ok(&h);
    EZR_CHECK(send_flag_cmd(&h, 1, "pause", true, true) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Pause.Notify"));
    EZR_CHECK_EQ(h.pauses, 1);
    EZR_CHECK(h.paused);
    EZR_CHECK(h.s.paused);
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_PLAYING);
    EZR_CHECK_EQ(h.stopped, 0);
    teardown(&h);
}

EZR_TEST(test_repeated_pause_true_is_answered_and_changes_nothing)
{
    struct harness h;
    setup(&h);
    play_ok(&h);
    send_flag_cmd(&h, 1, "pause", true, true);
    h.nmsgs = 0;
    EZR_CHECK(send_flag_cmd(&h, 1, "pause", true, true) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Pause.Notify"));
    EZR_CHECK_EQ(h.pauses, 1);
    EZR_CHECK(h.s.paused);
    teardown(&h);
}

EZR_TEST(test_pause_false_sends_unpause_notify_before_calling_pause_false)
{
    struct harness h;
    setup(&h);
    play_ok(&h);
    send_flag_cmd(&h, 1, "pause", true, true);
    h.nmsgs = 0;
    EZR_CHECK(send_flag_cmd(&h, 1, "pause", false, true) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Unpause.Notify"));
    EZR_CHECK_EQ(h.pauses, 2);
    EZR_CHECK(!h.paused);
    EZR_CHECK(!h.s.paused);
    /* The Notify was handed out before the server was told to queue media again. */
    EZR_CHECK_EQ(h.sent_when_paused, h.sent.len);
    /* Unpausing what is not paused is answered and changes nothing. */
    h.nmsgs = 0;
    EZR_CHECK(send_flag_cmd(&h, 1, "pause", false, true) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Unpause.Notify"));
    EZR_CHECK_EQ(h.pauses, 2);
    teardown(&h);
}

EZR_TEST(test_pause_raw_pauses_like_pause)
{
    struct harness h;
    setup(&h);
    play_ok(&h);
    EZR_CHECK(send_flag_cmd(&h, 1, "pauseRaw", true, true) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Pause.Notify"));
    EZR_CHECK_EQ(h.pauses, 1);
    EZR_CHECK(h.paused);
    teardown(&h);
}

EZR_TEST(test_pause_before_play_is_answered_without_callback)
{
    struct harness h;
    setup(&h);
    char b[64];
    connect_ok(&h);
    send_cmd(&h, 0, "createStream", 2, NULL, NULL);
    h.nmsgs = 0;
    EZR_CHECK(send_flag_cmd(&h, 1, "pause", true, true) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(strcmp(status_code(&h, 0, b, sizeof b), "NetStream.Pause.Notify") == 0);
    EZR_CHECK_EQ(h.pauses, 0);
    EZR_CHECK(!h.s.paused);
    /* A later play is not paused. */
    send_cmd(&h, 1, "play", 0, NULL, "stream");
    EZR_CHECK_EQ(h.started, 1);
    EZR_CHECK(!h.s.paused);
    teardown(&h);
}

EZR_TEST(test_seek_while_playing_answers_seek_notify_and_play_start_and_keeps_playing)
{
    struct harness h;
    setup(&h);
    play_ok(&h);
    /* As ffmpeg sends it: seek(0, null, ms) on the media stream. */
    EZR_CHECK(send_number_cmd(&h, 1, "seek", 0, 5000) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 2);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Seek.Notify"));
    EZR_CHECK(is_status(&h, 1, "status", "NetStream.Play.Start"));
    EZR_CHECK_EQ(h.stopped, 0);
    EZR_CHECK_EQ(h.started, 1);
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_PLAYING);
    /* With a transaction id it is answered the same way, never with _error. */
    h.nmsgs = 0;
    EZR_CHECK(send_number_cmd(&h, 1, "seek", 7, 0) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 2);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Seek.Notify"));
    EZR_CHECK(is_status(&h, 1, "status", "NetStream.Play.Start"));
    EZR_CHECK_EQ(h.stopped, 0);
    teardown(&h);
}

EZR_TEST(test_close_stream_sends_play_stop_then_play_stopped_once)
{
    struct harness h;
    setup(&h);
    play_ok(&h);
    EZR_CHECK(send_cmd(&h, 1, "closeStream", 0, NULL, NULL) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Play.Stop"));
    EZR_CHECK_EQ(h.stopped, 1);
    EZR_CHECK_EQ(h.sent_when_stopped, h.sent.len); /* Play.Stop went out first */
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_CONNECTED);
    h.nmsgs = 0;
    EZR_CHECK(send_cmd(&h, 1, "closeStream", 0, NULL, NULL) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 0);
    EZR_CHECK_EQ(h.stopped, 1);
    teardown(&h);
}

EZR_TEST(test_delete_stream_sends_play_stop_then_play_stopped_once)
{
    struct harness h;
    setup(&h);
    play_ok(&h);
    /* As ffmpeg sends it on close: deleteStream(txid, null, stream id) on message stream 0. */
    EZR_CHECK(send_number_cmd(&h, 0, "deleteStream", 5, EZR_MEDIA_MSID) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Play.Stop"));
    EZR_CHECK_EQ(h.stopped, 1);
    EZR_CHECK_EQ(h.sent_when_stopped, h.sent.len);
    h.nmsgs = 0;
    EZR_CHECK(send_number_cmd(&h, 0, "deleteStream", 6, EZR_MEDIA_MSID) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 0);
    EZR_CHECK_EQ(h.stopped, 1);
    teardown(&h);
}

EZR_TEST(test_close_stream_while_paused_clears_paused)
{
    struct harness h;
    setup(&h);
    play_ok(&h);
    send_flag_cmd(&h, 1, "pause", true, true);
    send_cmd(&h, 1, "closeStream", 0, NULL, NULL);
    EZR_CHECK_EQ(h.stopped, 1);
    EZR_CHECK(!h.s.paused);
    teardown(&h);
}

EZR_TEST(test_receive_video_back_on_is_reported_once_and_answered_like_a_seek)
{
    struct harness h;
    setup(&h);
    play_ok(&h);
    EZR_CHECK(send_flag_cmd(&h, 1, "receiveVideo", false, false) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 0);
    EZR_CHECK_EQ(h.receives, 1);
    EZR_CHECK(h.audio && !h.video);
    EZR_CHECK(send_flag_cmd(&h, 1, "receiveVideo", true, false) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 2);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Seek.Notify"));
    EZR_CHECK(is_status(&h, 1, "status", "NetStream.Play.Start"));
    EZR_CHECK_EQ(h.receives, 2);
    EZR_CHECK(h.audio && h.video);
    /* Already on: answered, not reported again (no needless wait for a keyframe). */
    h.nmsgs = 0;
    EZR_CHECK(send_flag_cmd(&h, 1, "receiveVideo", true, false) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 2);
    EZR_CHECK_EQ(h.receives, 2);
    /* receiveAudio works the same way. */
    h.nmsgs = 0;
    EZR_CHECK(send_flag_cmd(&h, 1, "receiveAudio", false, false) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 0);
    EZR_CHECK_EQ(h.receives, 3);
    EZR_CHECK(!h.audio && h.video);
    EZR_CHECK_EQ(h.stopped, 0);
    teardown(&h);
}

EZR_TEST(test_send_ping_writes_ping_request_on_csid_2_with_the_timestamp)
{
    struct harness h;
    setup(&h);
    connect_ok(&h);
    size_t before = h.sent.len;
    ezr_session_send_ping(&h.s, 0x01020304);
    /* Type-0 chunk on csid 2: timestamp 0, length 6, type 4 (User Control), message stream 0;
     * then event 6 (PingRequest) and the timestamp, big-endian. */
    static const uint8_t want[] = {0x02, 0, 0, 0,    0,    0,    6,    4,    0,
                                   0,    0, 0, 0x00, 0x06, 0x01, 0x02, 0x03, 0x04};
    EZR_CHECK_EQ(h.sent.len - before, sizeof want);
    EZR_CHECK_MEM(h.sent.data + before, want, sizeof want);
    EZR_CHECK_EQ(h.s.last_ping, 0x01020304);
    /* While playing too. */
    send_cmd(&h, 0, "createStream", 2, NULL, NULL);
    send_cmd(&h, 1, "play", 0, NULL, "stream");
    before = h.sent.len;
    ezr_session_send_ping(&h.s, 7);
    EZR_CHECK_EQ(h.sent.len - before, sizeof want);
    EZR_CHECK_EQ(ezr_rd_be32(h.sent.data + before + 14), 7);
    teardown(&h);
}

EZR_TEST(test_ping_response_is_recorded_as_pong)
{
    struct harness h;
    setup(&h);
    play_ok(&h);
    ezr_session_send_ping(&h.s, 1000);
    drain(&h);
    h.nmsgs = 0;
    EZR_CHECK(send_user_control(&h, EZR_UC_PING_RESPONSE, 1000) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 0); /* a pong is not answered */
    EZR_CHECK_EQ(h.s.pongs, 1);
    EZR_CHECK_EQ(h.s.last_pong, 1000);
    EZR_CHECK_EQ(h.s.last_pong, h.s.last_ping);
    EZR_CHECK(send_user_control(&h, EZR_UC_PING_RESPONSE, 2000) >= 0);
    EZR_CHECK_EQ(h.s.pongs, 2);
    EZR_CHECK_EQ(h.s.last_pong, 2000);
    teardown(&h);
}

EZR_TEST(test_ping_and_pong_before_connect_are_ignored)
{
    struct harness h;
    setup(&h);
    /* Handshake done, no connect yet. */
    size_t before = h.sent.len;
    ezr_session_send_ping(&h.s, 5);
    EZR_CHECK_EQ(h.sent.len, before);
    EZR_CHECK_EQ(h.s.last_ping, 0);
    EZR_CHECK(send_user_control(&h, EZR_UC_PING_RESPONSE, 5) >= 0);
    EZR_CHECK_EQ(h.s.pongs, 0);
    EZR_CHECK_EQ(h.s.last_pong, 0);
    teardown(&h);
}

EZR_TEST_MAIN(
    EZR_CASE(test_connect_answers_window_bandwidth_chunk_size_and_success),
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
    EZR_CASE(test_bad_handshake_version_is_refused),
    EZR_CASE(test_pause_true_while_playing_sends_pause_notify_then_calls_pause),
    EZR_CASE(test_repeated_pause_true_is_answered_and_changes_nothing),
    EZR_CASE(test_pause_false_sends_unpause_notify_before_calling_pause_false),
    EZR_CASE(test_pause_raw_pauses_like_pause),
    EZR_CASE(test_pause_before_play_is_answered_without_callback),
    EZR_CASE(test_seek_while_playing_answers_seek_notify_and_play_start_and_keeps_playing),
    EZR_CASE(test_close_stream_sends_play_stop_then_play_stopped_once),
    EZR_CASE(test_delete_stream_sends_play_stop_then_play_stopped_once),
    EZR_CASE(test_close_stream_while_paused_clears_paused),
    EZR_CASE(test_receive_video_back_on_is_reported_once_and_answered_like_a_seek),
    EZR_CASE(test_send_ping_writes_ping_request_on_csid_2_with_the_timestamp),
    EZR_CASE(test_ping_response_is_recorded_as_pong),
    EZR_CASE(test_ping_and_pong_before_connect_are_ignored))
