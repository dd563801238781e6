/* A publisher's side of the RTMP session, sans-I/O (see ezr_session.h): releaseStream, FCPublish,
 * publish and its end, and the media it then sends, handed up as FLV tag bodies. The replies are
 * those nginx-rtmp and SRS give, which OBS (librtmp), ffmpeg and GStreamer's rtmp2sink wait for:
 * _result to releaseStream, onFCPublish to FCPublish, StreamBegin and NetStream.Publish.Start to
 * publish, NetStream.Unpublish.Success to its end. */
#include <string.h>

#include "ezr_bytes.h"
#include "ezr_error.h"
#include "ezr_flv_parser.h"
#include "ezr_limits.h"
#include "ezr_proto.h"
#include "ezr_session_priv.h"

_Static_assert(EZR_MAX_PUBLISH_MSG_SIZE <= EZR_FLV_MAX_TAG_SIZE,
               "a message a publisher may send must fit in an FLV tag a sink takes");

/* The name a release, FCPublish or publish names, without its query. */
static bool publish_point_exists(struct ezr_session *s, const struct ezr_amf0_value *name)
{
    char n[EZR_MAX_NAME_LEN + 1];
    if (!s->cb->can_publish || ezr_session_copy_name(n, sizeof n, name) < 0)
        return false;
    n[strcspn(n, "?")] = '\0';
    return s->cb->can_publish(s->ctx, n);
}

void ezr_session_on_fcpublish(struct ezr_session *s, const char *command, double txid,
                              const struct ezr_amf0_value *name)
{
    if (!publish_point_exists(s, name)) {
        ezr_session_reply(s, "_error", txid, "error", "NetConnection.Call.Failed",
                          "Publishing is not allowed: the pipeline is the only publisher");
        return;
    }
    if (strcmp(command, "releaseStream") == 0)
        ezr_session_result_number(s, txid, NULL);
    else
        ezr_session_notify(s, "onFCPublish", "NetStream.Publish.Start", "FCPublish");
}

int ezr_session_on_publish(struct ezr_session *s, uint32_t msid, const struct ezr_amf0_value *name)
{
    if (!msid)
        msid = EZR_MEDIA_MSID;
    if (!s->stream_created)
        return ezr_session_close_with(s, EZR_EPROTO, "publish before createStream");
    if (s->state == EZR_SESSION_PUBLISHING || s->state == EZR_SESSION_PLAYING)
        return ezr_session_close_with(s, EZR_EPROTO, "publish while publishing or playing");
    if (ezr_session_copy_name(s->name, sizeof s->name, name) < 0)
        return ezr_session_close_with(s, EZR_EPROTO, "publish without a valid stream name");
    int rc = s->cb->publish ? s->cb->publish(s->ctx, s->name) : EZR_ENOTFOUND;
    if (rc == EZR_ENOMEM) /* ours, not the publisher's: no refusal, the connection closes */
        return ezr_session_close_with(s, rc, "out of memory for a publication");
    if (rc != 0) {
        const char *why =
            rc == EZR_EEXIST   ? "The stream is already being published"
            : rc == EZR_EACCES ? "Publishing refused: not allowed, or a wrong or missing token"
                               : "Publishing is not allowed: the pipeline is the only publisher";
        /* The name goes no further than the refusal: its query may hold a token. */
        s->name[strcspn(s->name, "?")] = '\0';
        ezr_session_status(s, msid, "error", "NetStream.Publish.BadName", why);
        return ezr_session_close_with(s, EZR_ECLOSED,
                                      rc == EZR_EEXIST ? "publish refused: already published"
                                      : rc == EZR_EACCES ? "publish refused by access control"
                                                         : "publish refused: no publish point");
    }
    s->name[strcspn(s->name, "?")] = '\0';
    /* Media messages may now be as large as a tag (a keyframe, a large sequence header). */
    s->reader.limits.max_msg_size = EZR_MAX_PUBLISH_MSG_SIZE;
    s->state = EZR_SESSION_PUBLISHING;
    ezr_chunk_write_user_control(&s->out, EZR_UC_STREAM_BEGIN, msid);
    ezr_session_status(s, msid, "status", "NetStream.Publish.Start", "Start publishing");
    return 0;
}

void ezr_session_unpublish(struct ezr_session *s)
{
    if (s->state != EZR_SESSION_PUBLISHING)
        return;
    s->state = EZR_SESSION_CONNECTED;
    s->reader.limits.max_msg_size = EZR_MAX_IN_MSG_SIZE;
    ezr_session_status(s, EZR_MEDIA_MSID, "status", "NetStream.Unpublish.Success",
                       "Stop publishing");
    ezr_session_flush_out(s);
    if (s->cb->unpublish)
        s->cb->unpublish(s->ctx);
}

/* "@setDataFrame" as AMF0 (string marker, 16-bit length, the name): what a publisher puts before
 * onMetaData so that the server keeps it; the FLV a reader gets has onMetaData first. */
static const uint8_t set_data_frame[] = {0x02, 0x00, 0x0d, '@', 's', 'e', 't', 'D',
                                         'a',  't',  'a',  'F', 'r', 'a', 'm', 'e'};

static int media_out(struct ezr_session *s, uint8_t type, uint32_t ts, const uint8_t *p,
                     size_t len)
{
    if (type == EZR_MSG_DATA_AMF0 && len >= sizeof set_data_frame &&
        memcmp(p, set_data_frame, sizeof set_data_frame) == 0) {
        p += sizeof set_data_frame;
        len -= sizeof set_data_frame;
    }
    int rc = s->cb->media(s->ctx, type, ts, p, len);
    if (rc == EZR_EPROTO)
        return ezr_session_close_with(s, rc, "no video keyframe in its first frames");
    return rc < 0 ? ezr_session_close_with(s, rc, "out of memory for a published message") : 0;
}

/* An aggregate message: FLV tags back to back (header, body, previous tag size), their times
 * relative to the first's, which is the message's own (FMS and Wowza send them). */
static int split_aggregate(struct ezr_session *s, const struct ezr_chunk_msg *m)
{
    const uint8_t *p = m->payload;
    size_t left = m->length;
    bool first = true;
    uint32_t base = 0;
    while (left) {
        if (left < 11 + 4)
            return ezr_session_close_with(s, EZR_EPROTO, "truncated aggregate message");
        uint8_t type = p[0] & 0x1f;
        size_t len = ezr_rd_be24(p + 1);
        uint32_t ts = ezr_rd_be24(p + 4) | (uint32_t)p[7] << 24;
        if (len > left - 11 - 4)
            return ezr_session_close_with(s, EZR_EPROTO, "truncated aggregate message");
        if (first)
            base = ts;
        first = false;
        if (type == EZR_MSG_AUDIO || type == EZR_MSG_VIDEO || type == EZR_MSG_DATA_AMF0) {
            int rc = media_out(s, type, m->timestamp + (ts - base), p + 11, len);
            if (rc < 0)
                return rc;
        }
        p += 11 + len + 4;
        left -= 11 + len + 4;
    }
    return 0;
}

int ezr_session_on_media(struct ezr_session *s, const struct ezr_chunk_msg *m)
{
    if (s->state != EZR_SESSION_PUBLISHING) {
        /* Data and aggregates from a player change nothing we serve; media does not belong. */
        if (m->type == EZR_MSG_AUDIO || m->type == EZR_MSG_VIDEO)
            return ezr_session_close_with(s, EZR_EPROTO, "media from a client that is not publishing");
        return 0;
    }
    switch (m->type) {
    case EZR_MSG_AUDIO:
    case EZR_MSG_VIDEO:
    case EZR_MSG_DATA_AMF0:
        return media_out(s, m->type, m->timestamp, m->payload, m->length);
    case EZR_MSG_DATA_AMF3:
        /* AMF3 data: a format byte of 0, then AMF0 (what FMS clients send). */
        if (m->length < 1 || m->payload[0] != 0)
            return 0;
        return media_out(s, EZR_MSG_DATA_AMF0, m->timestamp, m->payload + 1, m->length - 1);
    default:
        return split_aggregate(s, m);
    }
}
