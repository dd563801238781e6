/* RTMP as a client protocol (ezr_client_proto.h): the sans-I/O session (ezr_session.h) fed from
 * the client's socket, its decisions asked of the server and the stream, its replies queued on
 * the client, and media sent as the frame's shared RTMP chunks. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ezr_alloc.h"
#include "ezr_client.h"
#include "ezr_clock.h"
#include "ezr_error.h"
#include "ezr_frame.h"
#include "ezr_ingest.h"
#include "ezr_limits.h"
#include "ezr_proto.h"
#include "ezr_server_priv.h"
#include "ezr_session.h"
#include "ezr_stream.h"
#include "ezr_text.h"

/* An RTMP connection's state: its session, the stream a play admitted until it starts, and the
 * publish point it publishes to (only while c->publishing: the point may detach it). */
struct rtmp_state {
    struct ezr_session sess;
    struct ezr_stream *pending;
    struct ezr_ingest *ingest;
};

static struct rtmp_state *state_of(struct ezr_client *c)
{
    return c->proto_state;
}

static struct ezr_session *session_of(struct ezr_client *c)
{
    return &state_of(c)->sess;
}

static struct ezr_ingest *ingest_of(struct ezr_client *c)
{
    return c->publishing ? state_of(c)->ingest : NULL;
}

static void cb_send(void *ctx, const uint8_t *data, size_t len)
{
    ezr_client_send(ctx, data, len);
}

static void cb_failed(void *ctx)
{
    ezr_client_fail(ctx);
}

static int cb_connect(void *ctx, const char *app)
{
    struct ezr_client *c = ctx;
    char esc[128];
    bool found = ezr_server_serves_app(c->set->srv, app);
    ezr_log(c->set->log, EZR_LOG_INFO, "client %llu (%s) connect app \"%s\"%s",
            (unsigned long long)c->conn.id, c->conn.addr,
            ezr_text_escape(esc, sizeof esc, app, strlen(app)),
            found ? "" : ": no such app, rejected");
    return found ? 0 : EZR_ENOTFOUND;
}

static int cb_play(void *ctx, const char *name)
{
    struct ezr_client *c = ctx;
    char esc[128];
    /* "stream?token=..." plays "stream": the query is for access control, not the name, and it
     * may hold a secret, so it is never logged. */
    size_t keylen = strcspn(name, "?");
    struct ezr_stream *st = ezr_server_find_stream(c->set->srv, session_of(c)->app, name, keylen);
    /* "KEY.flv" plays KEY when no stream has that name: an SRS edge asks its origin for the
     * stream of its HTTP-FLV players (/APP/KEY.flv) by the HTTP name. */
    if (!st && keylen > 4 && memcmp(name + keylen - 4, ".flv", 4) == 0)
        st = ezr_server_find_stream(c->set->srv, session_of(c)->app, name, keylen - 4);
    ezr_log(c->set->log, EZR_LOG_INFO, "client %llu (%s) play \"%s\"%s%s",
            (unsigned long long)c->conn.id, c->conn.addr,
            ezr_text_escape(esc, sizeof esc, name, keylen),
            name[keylen] ? " (query not shown)" : "", st ? "" : ": no such stream");
    if (!st)
        return EZR_ENOTFOUND;
    int rc = ezr_stream_admit(st, c, name);
    if (rc < 0)
        return rc;
    state_of(c)->pending = st;
    return 0;
}

static void cb_play_started(void *ctx)
{
    struct ezr_client *c = ctx;
    struct ezr_stream *st = state_of(c)->pending;
    state_of(c)->pending = NULL;
    if (st)
        ezr_stream_add_player(st, c);
}

static void cb_play_stopped(void *ctx)
{
    struct ezr_client *c = ctx;
    ezr_log(c->set->log, EZR_LOG_INFO, "client %llu (%s) stopped playing",
            (unsigned long long)c->conn.id, c->conn.addr);
    ezr_stream_remove_player(c, "stopped playing");
}

static void cb_receive(void *ctx, bool audio, bool video)
{
    struct ezr_client *c = ctx;
    /* The queue drops what is not wanted; video dropped so resumes at a keyframe. */
    struct ezr_client_out *o = ezr_client_out(c);
    if (!o) {
        ezr_client_fail(c);
        return;
    }
    o->q.want_audio = audio;
    o->q.want_video = video;
}

static void cb_pause(void *ctx, bool paused)
{
    struct ezr_client *c = ctx;
    /* Nothing is queued while paused (so it is never cut as slow); video resumes at a
     * keyframe. */
    struct ezr_client_out *o = ezr_client_out(c);
    if (!o) {
        ezr_client_fail(c);
        return;
    }
    o->q.paused = paused;
}

/* ---- publishing (ezr_ingest.h) ----------------------------------------------------------- */

static bool cb_can_publish(void *ctx, const char *name)
{
    struct ezr_client *c = ctx;
    return ezr_server_find_ingest(c->set->srv, session_of(c)->app, name, strlen(name)) != NULL;
}

/* The connection closes: its publication ends with the reason. */
static void publisher_closed(struct ezr_client *c, const char *reason)
{
    if (ingest_of(c))
        ezr_ingest_detach(ingest_of(c), c, reason);
}

static int cb_publish(void *ctx, const char *name)
{
    struct ezr_client *c = ctx;
    char esc[128];
    size_t keylen = strcspn(name, "?");
    struct ezr_ingest *ing = ezr_server_find_ingest(c->set->srv, session_of(c)->app, name, keylen);
    ezr_log(c->set->log, EZR_LOG_INFO, "client %llu (%s) publish \"%s\"%s%s",
            (unsigned long long)c->conn.id, c->conn.addr,
            ezr_text_escape(esc, sizeof esc, name, keylen),
            name[keylen] ? " (query not shown)" : "", ing ? "" : ": no publish point, refused");
    if (!ing)
        return EZR_ENOTFOUND;
    int rc = ezr_ingest_admit(ing, c, name);
    if (rc < 0)
        return rc;
    rc = ezr_ingest_attach(ing, c);
    if (rc == 0)
        state_of(c)->ingest = ing;
    return rc;
}

static int cb_media(void *ctx, uint8_t type, uint32_t timestamp, const uint8_t *body, size_t len)
{
    struct ezr_client *c = ctx;
    struct ezr_ingest *ing = ingest_of(c);
    return ing ? ezr_ingest_push(ing, c, type, timestamp, body, len) : 0;
}

static void cb_unpublish(void *ctx)
{
    struct ezr_client *c = ctx;
    if (ingest_of(c))
        ezr_ingest_detach(ingest_of(c), c, "stopped publishing");
    c->idle_since_ms = ezr_now_ms(); /* the handshake timeout counts again */
}

static const struct ezr_session_callbacks session_cb = {
    .can_publish = cb_can_publish,
    .publish = cb_publish,
    .media = cb_media,
    .unpublish = cb_unpublish,
    .send = cb_send,
    .failed = cb_failed,
    .connect = cb_connect,
    .play = cb_play,
    .play_started = cb_play_started,
    .play_stopped = cb_play_stopped,
    .receive = cb_receive,
    .pause = cb_pause,
};

static int rtmp_open(struct ezr_client *c)
{
    uint8_t random[EZR_HANDSHAKE_SIZE];
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) {
        c->close_reason = "no random bytes for the handshake (getrandom failed)";
        return EZR_ESYS;
    }
    struct rtmp_state *st = ezr_malloc(sizeof *st);
    if (!st)
        return EZR_ENOMEM;
    st->pending = NULL;
    st->ingest = NULL;
    struct ezr_session *sess = &st->sess;
    ezr_session_init(sess, &session_cb, c, c->set->srv->chunk_size, random,
                     (uint32_t)(c->accepted_ms - c->set->srv->start_ms));
    c->proto_state = st;
    return 0;
}

static int rtmp_feed(struct ezr_client *c, const uint8_t *in, size_t len)
{
    int rc = ezr_session_feed(session_of(c), in, len);
    c->close_reason = session_of(c)->close_reason;
    return rc;
}

static void rtmp_stream_ended(struct ezr_client *c, bool final)
{
    if (final) {
        ezr_session_send_play_end(session_of(c));
        return;
    }
    /* A seek upstream: StreamEOF alone. NetStream.Play.UnpublishNotify would end playback in
     * librtmp (rtmpdump) and others, and the stream goes on; the restart that follows with the
     * next frame (StreamBegin, PublishNotify, headers, a keyframe) tells players the rest. */
    if (session_of(c)->state != EZR_SESSION_PLAYING)
        return;
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_chunk_write_user_control(&b, EZR_UC_STREAM_EOF, EZR_MEDIA_MSID);
    if (!ezr_buf_failed(&b))
        ezr_client_send(c, b.data, b.len);
    else
        ezr_client_fail(c);
    ezr_buf_free(&b);
}

static void rtmp_stream_restarted(struct ezr_client *c)
{
    ezr_session_send_play_restart(session_of(c));
}

static void rtmp_ping(struct ezr_client *c, uint32_t timestamp)
{
    ezr_session_send_ping(session_of(c), timestamp);
}

static uint64_t rtmp_pongs(const struct ezr_client *c)
{
    return ((const struct ezr_session *)c->proto_state)->pongs;
}

static void rtmp_close(struct ezr_client *c)
{
    if (c->proto_state) {
        ezr_session_free(session_of(c));
        free(c->proto_state);
        c->proto_state = NULL;
    }
}

const struct ezr_client_proto ezr_proto_rtmp = {
    .id = EZR_PROTOCOL_RTMP,
    .ack_each_read = true,
    .open = rtmp_open,
    .feed = rtmp_feed,
    .view = EZR_VIEW_RTMP,
    .make_view = ezr_frame_make_rtmp,
    .stream_ended = rtmp_stream_ended,
    .stream_restarted = rtmp_stream_restarted,
    .ping = rtmp_ping,
    .pongs = rtmp_pongs,
    .closing = publisher_closed,
    .close = rtmp_close,
};
