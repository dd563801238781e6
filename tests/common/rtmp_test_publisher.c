/* The tests' RTMP publisher: see rtmp_test_publisher.h. */
#include "rtmp_test_publisher.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ezr_amf0.h"
#include "ezr_proto.h"

const char *rtmp_status_code(const uint8_t *payload, size_t len, char *out, size_t cap)
{
    out[0] = '\0';
    struct ezr_amf0_value v[4];
    int n = 0;
    while (n < 4 && len) {
        int used = ezr_amf0_decode(payload, len, &v[n]);
        if (used <= 0)
            break;
        n++;
        payload += used;
        len -= (size_t)used;
    }
    if (n == 4) {
        const char *code = ezr_amf0_as_string(ezr_amf0_get(&v[3], "code"));
        if (code)
            snprintf(out, cap, "%s", code);
    }
    for (int i = 0; i < n; i++)
        ezr_amf0_value_clear(&v[i]);
    return out;
}

int publisher_open(struct player *p, uint16_t port, const char *app, const char *name, char *code,
                   size_t cap)
{
    char buf[128];
    if (!code) {
        code = buf;
        cap = sizeof buf;
    }
    code[0] = '\0';
    uint64_t deadline = mono_ms() + DEADLINE_MS;
    if (player_handshake(p, port, 0, deadline) < 0)
        return -1;
    send_cmd(p, 0, "connect", 1, app, NULL);
    send_cmd(p, 0, "releaseStream", 2, NULL, name);
    send_cmd(p, 0, "FCPublish", 3, NULL, name);
    send_cmd(p, 0, "createStream", 4, NULL, NULL);
    send_cmd(p, 1, "publish", 5, NULL, name);
    while (next_msg(p, deadline) == 0) {
        if (p->type != EZR_MSG_COMMAND_AMF0)
            continue;
        char name_buf[32];
        struct ezr_amf0_value v;
        int used = ezr_amf0_decode(p->payload, p->len, &v);
        snprintf(name_buf, sizeof name_buf, "%s",
                 used > 0 && ezr_amf0_as_string(&v) ? ezr_amf0_as_string(&v) : "");
        if (used > 0)
            ezr_amf0_value_clear(&v);
        if (strcmp(name_buf, "onStatus") != 0)
            continue;
        rtmp_status_code(p->payload, p->len, code, cap);
        return strcmp(code, "NetStream.Publish.Start") == 0 ? 0 : -1;
    }
    return -1;
}

int publisher_send(struct player *p, uint8_t type, uint32_t ts, const uint8_t *body, size_t len)
{
    struct ezr_buf out;
    ezr_buf_init(&out);
    uint32_t csid = type == EZR_MSG_AUDIO ? 4 : type == EZR_MSG_VIDEO ? 6 : 5;
    ezr_chunk_writer_write(&p->w, &out, csid, ts, type, 1, body, len);
    size_t off = 0;
    while (off < out.len) {
        ssize_t w = write(p->fd, out.data + off, out.len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int ok = off == out.len;
    ezr_buf_free(&out);
    return ok ? 0 : -1;
}

int publisher_send_metadata(struct player *p)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_cstring(&b, "@setDataFrame");
    ezr_amf0_put_cstring(&b, "onMetaData");
    ezr_amf0_put_object_begin(&b);
    ezr_amf0_put_key(&b, "width");
    ezr_amf0_put_number(&b, 1280);
    ezr_amf0_put_key(&b, "videocodecid");
    ezr_amf0_put_number(&b, 7);
    ezr_amf0_put_key(&b, "audiocodecid");
    ezr_amf0_put_number(&b, 10);
    ezr_amf0_put_object_end(&b);
    int rc = publisher_send(p, EZR_MSG_DATA_AMF0, 0, b.data, b.len);
    ezr_buf_free(&b);
    return rc;
}

void publisher_unpublish(struct player *p)
{
    send_cmd(p, 0, "FCUnpublish", 6, NULL, "x");
    publisher_delete_stream(p);
}

void publisher_delete_stream(struct player *p)
{
    struct ezr_buf b, out;
    ezr_buf_init(&b);
    ezr_buf_init(&out);
    ezr_amf0_put_cstring(&b, "deleteStream");
    ezr_amf0_put_number(&b, 7);
    ezr_amf0_put_null(&b);
    ezr_amf0_put_number(&b, 1);
    ezr_chunk_writer_write(&p->w, &out, 3, 0, EZR_MSG_COMMAND_AMF0, 0, b.data, b.len);
    ssize_t w = write(p->fd, out.data, out.len);
    (void)w;
    ezr_buf_free(&b);
    ezr_buf_free(&out);
}
