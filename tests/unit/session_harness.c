/* The sans-I/O session tests' client: see session_harness.h. */
#include "session_harness.h"

#include <stdio.h>
#include <string.h>

#include "ezr_amf0.h"
#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_proto.h"
#include "rtmp_test_cmd.h"

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

static bool cb_can_publish(void *ctx, const char *name)
{
    return strcmp(name, "obs") == 0;
}

static int cb_publish(void *ctx, const char *name)
{
    struct harness *h = ctx;
    h->publishes++;
    if (strncmp(name, "obs", 3) != 0 || (name[3] && name[3] != '?'))
        return EZR_ENOTFOUND;
    return h->publish_rc;
}

static int cb_media(void *ctx, uint8_t type, uint32_t ts, const uint8_t *body, size_t len)
{
    struct harness *h = ctx;
    if (h->nmedia < MAX_MSGS) {
        struct media *m = &h->media[h->nmedia++];
        m->type = type;
        m->ts = ts;
        m->len = len;
        memcpy(m->head, body, len < sizeof m->head ? len : sizeof m->head);
    }
    return 0;
}

static void cb_unpublish(void *ctx)
{
    struct harness *h = ctx;
    h->unpublishes++;
}

const struct ezr_session_callbacks harness_callbacks = {
    cb_send,   cb_connect,     cb_play,    cb_started, cb_stopped, cb_receive, cb_pause, NULL,
    cb_can_publish, cb_publish, cb_media, cb_unpublish};

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
void harness_drain(struct harness *h)
{
    int rc = ezr_chunk_reader_feed(&h->r, h->sent.data + h->parsed, h->sent.len - h->parsed,
                                   on_reply, h);
    if (rc > 0)
        h->parsed += (size_t)rc;
}

void harness_setup(struct harness *h)
{
    memset(h, 0, sizeof *h);
    uint8_t random[EZR_HANDSHAKE_SIZE] = {0};
    ezr_session_init(&h->s, &harness_callbacks, h, 4096, random, 0);
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

void harness_teardown(struct harness *h)
{
    ezr_session_free(&h->s);
    ezr_buf_free(&h->sent);
    ezr_chunk_reader_free(&h->r);
    ezr_chunk_writer_free(&h->w);
}

int send_raw(struct harness *h, uint8_t type, uint32_t csid, uint32_t msid,
             const struct ezr_buf *body)
{
    struct ezr_buf out;
    ezr_buf_init(&out);
    ezr_chunk_writer_write(&h->w, &out, csid, 0, type, msid, body->data, body->len);
    int rc = ezr_session_feed(&h->s, out.data, out.len);
    ezr_buf_free(&out);
    harness_drain(h);
    return rc;
}

/* Sends name(txid, {app} or null, [string arg]). */
int send_cmd(struct harness *h, uint32_t msid, const char *name, double txid, const char *app,
             const char *arg)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    rtmp_test_put_cmd(&b, name, txid, app, "rtmp://127.0.0.1/live", arg);
    int rc = send_raw(h, EZR_MSG_COMMAND_AMF0, 3, msid, &b);
    ezr_buf_free(&b);
    return rc;
}

/* The command name of message i, or "" when it is not a command. */
const char *cmd_name(struct harness *h, int i, char *buf, size_t cap)
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
const char *status_code(struct harness *h, int i, char *buf, size_t cap)
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

int connect_ok(struct harness *h)
{
    return send_cmd(h, 0, "connect", 1, "live", NULL);
}

void create_stream_ok(struct harness *h)
{
    connect_ok(h);
    send_cmd(h, 0, "createStream", 2, NULL, NULL);
    h->nmsgs = 0;
}

/* Handshake, connect, createStream and play "stream"; h->msgs then starts empty. */
void play_ok(struct harness *h)
{
    connect_ok(h);
    send_cmd(h, 0, "createStream", 2, NULL, NULL);
    send_cmd(h, 1, "play", 0, NULL, "stream");
    h->nmsgs = 0;
}

/* Sends name(0, null, flag[, ms]) on msid: pause, pauseRaw, receiveVideo, receiveAudio. */
int send_flag_cmd(struct harness *h, uint32_t msid, const char *name, bool flag, bool with_ms)
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
int send_number_cmd(struct harness *h, uint32_t msid, const char *name, double txid, double number)
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
bool is_status(struct harness *h, int i, const char *level, const char *code)
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

int send_user_control(struct harness *h, uint16_t event, uint32_t value)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_buf_put_be16(&b, event);
    ezr_buf_put_be32(&b, value);
    int rc = send_raw(h, EZR_MSG_USER_CONTROL, 2, 0, &b);
    ezr_buf_free(&b);
    return rc;
}
