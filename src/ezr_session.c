/* A player's RTMP conversation, sans-I/O; see ezr_session.h. Command names and replies follow
 * the RTMP 1.0 spec (7.2) and what Flash Media Server, nginx-rtmp and ffmpeg's client expect. */
#include "ezr_session.h"
#include "ezr_session_priv.h"

#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_amf0.h"
#include "ezr_bytes.h"
#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_proto.h"

/* Our chunk size is announced in the connect reply; anything sent before uses the protocol's. */
static uint32_t out_chunk_size(const struct ezr_session *s)
{
    return s->state >= EZR_SESSION_CONNECTED ? s->chunk_size : EZR_PROTO_CHUNK_SIZE;
}

void ezr_session_flush_out(struct ezr_session *s)
{
    if (ezr_buf_failed(&s->out) && s->cb->failed)
        s->cb->failed(s->ctx);
    else if (s->out.len && !ezr_buf_failed(&s->out))
        s->cb->send(s->ctx, s->out.data, s->out.len);
    /* Freed, not kept: once playing, replies are rare and every idle player's buffer counts. */
    ezr_buf_free(&s->out);
}

static void send_message(struct ezr_session *s, uint32_t csid, uint8_t type, uint32_t msid,
                         const struct ezr_buf *body)
{
    /* A body that could not be made whole is a reply missing, as when the output cannot grow:
     * the peer would wait for it (a publisher for NetStream.Unpublish.Success). */
    if (ezr_buf_failed(body)) {
        s->out.failed = true;
        return;
    }
    ezr_chunk_write(&s->out, csid, 0, type, msid, body->data, body->len, out_chunk_size(s));
}

/* name(txid, null, {level, code, description, details}): the shape of onStatus, _error and
 * notifications. Absent (NULL) fields are left out; with no code there is no object at all. */
static void send_info(struct ezr_session *s, uint32_t msid, const char *name, double txid,
                      const char *level, const char *code, const char *description,
                      const char *details)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_cstring(&b, name);
    ezr_amf0_put_number(&b, txid);
    ezr_amf0_put_null(&b);
    if (code) {
        ezr_amf0_put_object_begin(&b);
        if (level) {
            ezr_amf0_put_key(&b, "level");
            ezr_amf0_put_cstring(&b, level);
        }
        ezr_amf0_put_key(&b, "code");
        ezr_amf0_put_cstring(&b, code);
        ezr_amf0_put_key(&b, "description");
        ezr_amf0_put_cstring(&b, description);
        if (details) {
            ezr_amf0_put_key(&b, "details");
            ezr_amf0_put_cstring(&b, details);
        }
        ezr_amf0_put_object_end(&b);
    }
    send_message(s, EZR_CSID_COMMAND, EZR_MSG_COMMAND_AMF0, msid, &b);
    ezr_buf_free(&b);
}

/* onStatus on the given message stream, naming the stream played. */
void ezr_session_status(struct ezr_session *s, uint32_t msid, const char *level, const char *code,
                        const char *description)
{
    send_info(s, msid, "onStatus", 0, level, code, description, s->name[0] ? s->name : NULL);
}

/* _result or _error(txid, null, info). */
void ezr_session_reply(struct ezr_session *s, const char *name, double txid, const char *level,
                       const char *code, const char *description)
{
    send_info(s, 0, name, txid, level, code, description, NULL);
}

/* _result(txid, null, value) with a number or null value. */
void ezr_session_result_number(struct ezr_session *s, double txid, const double *value)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_cstring(&b, "_result");
    ezr_amf0_put_number(&b, txid);
    ezr_amf0_put_null(&b);
    if (value)
        ezr_amf0_put_number(&b, *value);
    else
        ezr_amf0_put_null(&b);
    send_message(s, EZR_CSID_COMMAND, EZR_MSG_COMMAND_AMF0, 0, &b);
    ezr_buf_free(&b);
}

/* A command with no transaction (onBWDone, onFCSubscribe, ...). */
void ezr_session_notify(struct ezr_session *s, const char *name, const char *code,
                        const char *description)
{
    send_info(s, 0, name, 0, NULL, code, description, NULL);
}

int ezr_session_close_with(struct ezr_session *s, int err, const char *reason)
{
    s->close_reason = reason;
    if (err == EZR_ECLOSED)
        s->state = EZR_SESSION_CLOSING;
    return err;
}

/* Copies a name the client sent into dst, refusing what does not fit. */
int ezr_session_copy_name(char *dst, size_t cap, const struct ezr_amf0_value *v)
{
    const char *str = ezr_amf0_as_string(v);
    if (!str || v->u.str.len >= cap || v->u.str.len >= EZR_MAX_NAME_LEN ||
        strlen(str) != v->u.str.len)
        return EZR_EPROTO;
    memcpy(dst, str, v->u.str.len + 1);
    return 0;
}

static int on_connect(struct ezr_session *s, double txid, const struct ezr_amf0_value *obj)
{
    if (s->state != EZR_SESSION_WAIT_CONNECT)
        return ezr_session_close_with(s, EZR_EPROTO, "connect sent twice");
    if (ezr_session_copy_name(s->app, sizeof s->app, ezr_amf0_get(obj, "app")) < 0) {
        ezr_session_reply(s, "_error", txid, "error", "NetConnection.Connect.Rejected",
                   "Connect needs an application name");
        return ezr_session_close_with(s, EZR_ECLOSED, "connect without a valid app");
    }
    /* "live/" and "live?x=y" both name the app "live". */
    char *q = strchr(s->app, '?');
    if (q)
        *q = '\0';
    for (size_t n = strlen(s->app); n && s->app[n - 1] == '/'; n--)
        s->app[n - 1] = '\0';
    if (s->cb->connect(s->ctx, s->app) != 0) {
        ezr_session_reply(s, "_error", txid, "error", "NetConnection.Connect.Rejected",
                   "No such application");
        return ezr_session_close_with(s, EZR_ECLOSED, "connect to an unknown app");
    }
    ezr_chunk_write_window_ack_size(&s->out, EZR_WINDOW_ACK_SIZE);
    ezr_chunk_write_set_peer_bw(&s->out, EZR_WINDOW_ACK_SIZE, EZR_PEER_BW_DYNAMIC);
    ezr_chunk_write_set_chunk_size(&s->out, s->chunk_size);
    s->state = EZR_SESSION_CONNECTED;

    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_cstring(&b, "_result");
    ezr_amf0_put_number(&b, txid);
    ezr_amf0_put_object_begin(&b);
    ezr_amf0_put_key(&b, "fmsVer");
    ezr_amf0_put_cstring(&b, "FMS/3,0,1,123");
    ezr_amf0_put_key(&b, "capabilities");
    ezr_amf0_put_number(&b, 31);
    ezr_amf0_put_object_end(&b);
    ezr_amf0_put_object_begin(&b);
    ezr_amf0_put_key(&b, "level");
    ezr_amf0_put_cstring(&b, "status");
    ezr_amf0_put_key(&b, "code");
    ezr_amf0_put_cstring(&b, "NetConnection.Connect.Success");
    ezr_amf0_put_key(&b, "description");
    ezr_amf0_put_cstring(&b, "Connection succeeded.");
    ezr_amf0_put_key(&b, "objectEncoding");
    ezr_amf0_put_number(&b, 0);
    ezr_amf0_put_object_end(&b);
    send_message(s, EZR_CSID_COMMAND, EZR_MSG_COMMAND_AMF0, 0, &b);
    ezr_buf_free(&b);
    return 0;
}

static int on_play(struct ezr_session *s, uint32_t msid, const struct ezr_amf0_value *name)
{
    if (!s->stream_created || msid != EZR_MEDIA_MSID)
        return ezr_session_close_with(s, EZR_EPROTO, "play before createStream");
    if (s->state == EZR_SESSION_PLAYING)
        return 0; /* a repeated play of a live stream changes nothing */
    if (s->state == EZR_SESSION_PUBLISHING)
        return ezr_session_close_with(s, EZR_EPROTO, "play while publishing");
    if (ezr_session_copy_name(s->name, sizeof s->name, name) < 0)
        return ezr_session_close_with(s, EZR_EPROTO, "play without a valid stream name");
    int allowed = s->cb->play(s->ctx, s->name);
    if (allowed == EZR_EACCES) {
        ezr_session_status(s, msid, "error", "NetStream.Play.Failed", "Access denied");
        return ezr_session_close_with(s, EZR_ECLOSED, "play refused by access control");
    }
    if (allowed == EZR_EINVAL) {
        ezr_session_status(s, msid, "error", "NetStream.Play.Failed",
                    "Unknown sync-method: latest-keyframe, next-keyframe or live-edge");
        return ezr_session_close_with(s, EZR_ECLOSED, "play refused: unknown sync-method");
    }
    if (allowed != 0) {
        ezr_session_status(s, msid, "error", "NetStream.Play.StreamNotFound", "No such stream");
        return ezr_session_close_with(s, EZR_ECLOSED, "play of an unknown stream");
    }
    ezr_chunk_write_user_control(&s->out, EZR_UC_STREAM_BEGIN, msid);
    ezr_session_status(s, msid, "status", "NetStream.Play.Reset", "Playing and resetting stream");
    ezr_session_status(s, msid, "status", "NetStream.Play.Start", "Started playing stream");

    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_cstring(&b, "|RtmpSampleAccess");
    ezr_amf0_put_bool(&b, true);
    ezr_amf0_put_bool(&b, true);
    send_message(s, EZR_CSID_DATA, EZR_MSG_DATA_AMF0, msid, &b);
    ezr_buf_free(&b);

    s->state = EZR_SESSION_PLAYING;
    ezr_session_flush_out(s); /* the replies must precede the media play_started queues */
    s->cb->play_started(s->ctx);
    return 0;
}

/* closeStream / deleteStream. NetStream.Play.Stop is what nginx-rtmp sends, and what ffmpeg's
 * and librtmp's clients read as the end of playback; it goes out before play_stopped so that it
 * follows the media already queued. Nothing is answered when nothing plays (ffmpeg sends
 * deleteStream as it closes, whatever happened before). */
static void stop_playing(struct ezr_session *s)
{
    if (s->state != EZR_SESSION_PLAYING)
        return;
    ezr_session_status(s, EZR_MEDIA_MSID, "status", "NetStream.Play.Stop", "Stopped playing stream");
    ezr_session_flush_out(s);
    s->state = EZR_SESSION_CONNECTED;
    s->paused = false;
    s->cb->play_stopped(s->ctx);
}

/* pause / pauseRaw (spec 7.2.2.8). A live stream cannot be held back at the server, so a paused
 * player is sent no media until it unpauses, then it resumes at a keyframe (the server's part).
 * The Notify is sent in every case, a repeat or before play included: librtmp and Flash act on
 * it, and no player expects an error for a pause that changes nothing. */
static void on_pause(struct ezr_session *s, bool pause)
{
    ezr_session_status(s, EZR_MEDIA_MSID, "status",
                pause ? "NetStream.Pause.Notify" : "NetStream.Unpause.Notify",
                pause ? "Paused live stream" : "Unpaused live stream");
    if (s->state != EZR_SESSION_PLAYING || s->paused == pause)
        return;
    s->paused = pause;
    ezr_session_flush_out(s); /* Unpause.Notify must precede the media the server queues from here */
    if (s->cb->pause)
        s->cb->pause(s->ctx, pause);
}

/* seek (spec 7.2.2.7) on a live stream: there is nowhere to go, playback goes on from now, and
 * the answer must say so at level "status". ffmpeg's client (rtmp_seek) drops every message it
 * receives, media included, from the moment it sends seek until an onStatus with
 * NetStream.Seek.Notify (or Play.Start); an onStatus at level "error" (Seek.Failed or
 * Seek.InvalidTime, what a live-only server might be expected to say) ends its playback with an
 * error; worse, while it is seeking it ignores even that and would hang. librtmp also leaves its
 * seeking state on Seek.Notify. Red5 answers a seek with Seek.Notify then Play.Start, and the spec
 * answers receiveAudio/receiveVideo(true) the same way, so Flash players know the pair; ffmpeg and
 * librtmp read Play.Start as "playing". So: both, and playback is not touched. */
static void send_seek_notify_and_start(struct ezr_session *s)
{
    ezr_session_status(s, EZR_MEDIA_MSID, "status", "NetStream.Seek.Notify",
                "Live stream: playing on from now");
    ezr_session_status(s, EZR_MEDIA_MSID, "status", "NetStream.Play.Start", "Started playing stream");
}

static void on_seek(struct ezr_session *s)
{
    if (s->state == EZR_SESSION_PLAYING)
        send_seek_notify_and_start(s);
    else /* nothing plays: say the seek is done, do not claim a start */
        ezr_session_status(s, EZR_MEDIA_MSID, "status", "NetStream.Seek.Notify", "Nothing is playing");
}

static bool as_bool(const struct ezr_amf0_value *v, bool fallback)
{
    if (v && v->type == EZR_AMF0_BOOLEAN)
        return v->u.boolean;
    if (v && v->type == EZR_AMF0_NUMBER)
        return v->u.number != 0;
    return fallback;
}

#define MAX_COMMAND_ARGS 6

static int on_command(struct ezr_session *s, const struct ezr_chunk_msg *m, const uint8_t *p,
                      size_t len)
{
    /* name, transaction id, command object, then up to a few arguments. */
    struct ezr_amf0_value v[MAX_COMMAND_ARGS];
    size_t n = 0;
    int rc = 0;
    while (len && n < MAX_COMMAND_ARGS) {
        int used = ezr_amf0_decode(p, len, &v[n]);
        if (used < 0) {
            rc = used;
            break;
        }
        n++;
        p += used;
        len -= (size_t)used;
    }
    const char *name = n > 0 ? ezr_amf0_as_string(&v[0]) : NULL;
    if (rc < 0 || !name || n < 2 || v[1].type != EZR_AMF0_NUMBER) {
        for (size_t i = 0; i < n; i++)
            ezr_amf0_value_clear(&v[i]);
        return rc == EZR_ELIMIT
                   ? ezr_session_close_with(s, EZR_ELIMIT, "command nested deeper than the AMF0 limit")
                   : ezr_session_close_with(s, EZR_EPROTO, "malformed command");
    }
    double txid = v[1].u.number;
    const struct ezr_amf0_value *obj = n > 2 ? &v[2] : NULL;
    const struct ezr_amf0_value *arg1 = n > 3 ? &v[3] : NULL;

    if (strcmp(name, "connect") == 0) {
        rc = on_connect(s, txid, obj);
    } else if (s->state == EZR_SESSION_WAIT_CONNECT) {
        rc = ezr_session_close_with(s, EZR_EPROTO, "command before connect");
    } else if (strcmp(name, "createStream") == 0) {
        if (++s->streams > EZR_MAX_STREAMS_PER_CONN) {
            rc = ezr_session_close_with(s, EZR_ELIMIT, "too many createStream calls");
        } else {
            double id = EZR_MEDIA_MSID;
            s->stream_created = true;
            ezr_session_result_number(s, txid, &id);
        }
    } else if (strcmp(name, "play") == 0) {
        rc = on_play(s, m->msid, arg1);
    } else if (strcmp(name, "closeStream") == 0 || strcmp(name, "deleteStream") == 0) {
        stop_playing(s);
        ezr_session_unpublish(s);
    } else if (strcmp(name, "getStreamLength") == 0) {
        double zero = 0; /* live: no length */
        ezr_session_result_number(s, txid, &zero);
    } else if (strcmp(name, "_checkbw") == 0) {
        ezr_session_notify(s, "onBWDone", NULL, NULL);
    } else if (strcmp(name, "FCSubscribe") == 0) {
        ezr_session_notify(s, "onFCSubscribe", "NetStream.Play.Start", "FCSubscribe");
    } else if (strcmp(name, "FCUnsubscribe") == 0) {
        ezr_session_notify(s, "onFCUnsubscribe", "NetStream.Play.Stop", "FCUnsubscribe");
    } else if (strcmp(name, "receiveAudio") == 0 || strcmp(name, "receiveVideo") == 0) {
        /* Spec 7.2.2.4-5: no reply to false; true is answered like a seek to now, Seek.Notify
         * and Play.Start (only while playing: before play there is nothing to start). Only a
         * change is reported: a repeated receiveVideo(true) must not make the server wait for a
         * keyframe for nothing. */
        bool on = as_bool(arg1, true);
        bool *want = name[7] == 'A' ? &s->want_audio : &s->want_video;
        if (on && s->state == EZR_SESSION_PLAYING)
            send_seek_notify_and_start(s);
        if (*want != on) {
            *want = on;
            ezr_session_flush_out(s); /* the replies precede the media the server queues from here */
            if (s->cb->receive)
                s->cb->receive(s->ctx, s->want_audio, s->want_video);
        }
    } else if (strcmp(name, "pause") == 0 || strcmp(name, "pauseRaw") == 0) {
        /* pause(0, null, paused, ms): the position means nothing for a live stream. */
        on_pause(s, as_bool(arg1, true));
    } else if (strcmp(name, "seek") == 0) {
        on_seek(s); /* seek(0, null, ms): the position is ignored, see on_seek */
    } else if (strcmp(name, "releaseStream") == 0 || strcmp(name, "FCPublish") == 0) {
        ezr_session_on_fcpublish(s, name, txid, arg1);
    } else if (strcmp(name, "publish") == 0) {
        rc = ezr_session_on_publish(s, m->msid, arg1);
    } else if (strcmp(name, "FCUnpublish") == 0) {
        ezr_session_unpublish(s);
    } else if (strcmp(name, "_result") == 0 || strcmp(name, "_error") == 0 || txid == 0) {
        /* replies to calls we never make, and notifications: nothing to answer */
    } else {
        ezr_session_reply(s, "_error", txid, "error", "NetConnection.Call.Failed", "Unknown command");
    }
    for (size_t i = 0; i < n; i++)
        ezr_amf0_value_clear(&v[i]);
    return rc;
}

static int on_message(void *ctx, const struct ezr_chunk_msg *m)
{
    struct ezr_session *s = ctx;
    switch (m->type) {
    case EZR_MSG_COMMAND_AMF0:
        return on_command(s, m, m->payload, m->length);
    case EZR_MSG_COMMAND_AMF3:
        /* An AMF3 command message is AMF0 after a leading format byte of 0. */
        if (m->length < 1 || m->payload[0] != 0)
            return ezr_session_close_with(s, EZR_EPROTO, "malformed AMF3 command");
        return on_command(s, m, m->payload + 1, m->length - 1);
    case EZR_MSG_WINDOW_ACK_SIZE:
        if (m->length < 4)
            return ezr_session_close_with(s, EZR_EPROTO, "short window acknowledgement size");
        s->peer_window = ezr_rd_be32(m->payload);
        return 0;
    case EZR_MSG_USER_CONTROL:
        if (m->length < 6)
            return ezr_session_close_with(s, EZR_EPROTO, "short user control message");
        switch (ezr_rd_be16(m->payload)) {
        case EZR_UC_PING_REQUEST:
            ezr_chunk_write_user_control(&s->out, EZR_UC_PING_RESPONSE,
                                         ezr_rd_be32(m->payload + 2));
            break;
        case EZR_UC_PING_RESPONSE:
            /* Counted only from a connected player: the server pings only those. */
            if (s->state == EZR_SESSION_CONNECTED || s->state == EZR_SESSION_PLAYING) {
                s->last_pong = ezr_rd_be32(m->payload + 2);
                s->pongs++;
            }
            break;
        case EZR_UC_SET_BUFFER_LENGTH:
            if (m->length >= 10)
                s->buffer_ms = ezr_rd_be32(m->payload + 6);
            break;
        default:
            break;
        }
        return 0;
    case EZR_MSG_AUDIO:
    case EZR_MSG_VIDEO:
    case EZR_MSG_DATA_AMF0:
    case EZR_MSG_DATA_AMF3:
    case EZR_MSG_AGGREGATE:
        return ezr_session_on_media(s, m);
    default:
        /* Acks, peer bandwidth, data, shared objects, aggregates and unknown types: a player
         * may send them, and none changes what we serve. */
        return 0;
    }
}

void ezr_session_init(struct ezr_session *s, const struct ezr_session_callbacks *cb, void *ctx,
                      uint32_t chunk_size, const uint8_t *random, uint32_t epoch)
{
    memset(s, 0, sizeof *s);
    s->state = EZR_SESSION_HANDSHAKE;
    s->cb = cb;
    s->ctx = ctx;
    s->chunk_size = chunk_size;
    s->want_audio = true;
    s->want_video = true;
    s->hs = ezr_malloc(sizeof *s->hs);
    if (s->hs)
        ezr_handshake_server_init(s->hs, random, epoch);
    ezr_chunk_reader_init(&s->reader, NULL);
    ezr_buf_init(&s->out);
}

void ezr_session_free(struct ezr_session *s)
{
    ezr_chunk_reader_free(&s->reader);
    ezr_buf_free(&s->out);
    free(s->hs);
    s->hs = NULL;
}

int ezr_session_feed(struct ezr_session *s, const uint8_t *in, size_t len)
{
    size_t used = 0;
    if (s->state == EZR_SESSION_CLOSING)
        return EZR_ECLOSED;
    if (s->state == EZR_SESSION_HANDSHAKE) {
        if (!s->hs)
            return ezr_session_close_with(s, EZR_ENOMEM, "out of memory");
        int rc = ezr_handshake_server_feed(s->hs, in, len, &s->out);
        ezr_session_flush_out(s);
        if (rc < 0)
            return ezr_session_close_with(s, rc, rc == EZR_ENOMEM ? "out of memory" : "bad handshake");
        used = (size_t)rc;
        if (!ezr_handshake_done(s->hs))
            return (int)used;
        free(s->hs);
        s->hs = NULL;
        s->state = EZR_SESSION_WAIT_CONNECT;
    }
    int rc = ezr_chunk_reader_feed(&s->reader, in + used, len - used, on_message, s);
    if (rc >= 0) {
        used += (size_t)rc;
        if (s->peer_window && s->reader.bytes_in - s->acked_at >= s->peer_window) {
            ezr_chunk_write_ack(&s->out, (uint32_t)s->reader.bytes_in);
            s->acked_at = s->reader.bytes_in;
        }
    } else if (!s->close_reason) {
        s->close_reason = s->reader.error    ? s->reader.error
                          : rc == EZR_ELIMIT ? "client exceeded a chunk stream limit"
                                             : "malformed chunk stream";
    }
    bool oom = ezr_buf_failed(&s->out);
    ezr_session_flush_out(s);
    if (oom)
        return ezr_session_close_with(s, EZR_ENOMEM, "out of memory");
    if (rc < 0)
        return rc;
    return s->state == EZR_SESSION_CLOSING ? EZR_ECLOSED : (int)used;
}

void ezr_session_send_play_end(struct ezr_session *s)
{
    if (s->state != EZR_SESSION_PLAYING)
        return;
    ezr_chunk_write_user_control(&s->out, EZR_UC_STREAM_EOF, EZR_MEDIA_MSID);
    ezr_session_status(s, EZR_MEDIA_MSID, "status", "NetStream.Play.UnpublishNotify",
                "The stream has ended");
    ezr_session_flush_out(s);
}

void ezr_session_send_play_restart(struct ezr_session *s)
{
    if (s->state != EZR_SESSION_PLAYING)
        return;
    ezr_chunk_write_user_control(&s->out, EZR_UC_STREAM_BEGIN, EZR_MEDIA_MSID);
    ezr_session_status(s, EZR_MEDIA_MSID, "status", "NetStream.Play.PublishNotify",
                "A new stream has started");
    ezr_session_flush_out(s);
}

void ezr_session_send_ping(struct ezr_session *s, uint32_t timestamp)
{
    if (s->state != EZR_SESSION_CONNECTED && s->state != EZR_SESSION_PLAYING)
        return;
    ezr_chunk_write_user_control(&s->out, EZR_UC_PING_REQUEST, timestamp);
    s->last_ping = timestamp;
    ezr_session_flush_out(s);
}
