/* RTMP chunk stream reader and writer; see ezr_chunk.h. */
#include "ezr_chunk.h"

#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_bytes.h"
#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_proto.h"

struct ezr_chunk_stream_state {
    uint32_t csid;
    bool started;      /* a fmt 0 header was seen */
    bool ext;          /* the last header carried an extended timestamp */
    uint32_t ts;       /* absolute timestamp of the current/last message */
    uint32_t delta;    /* last delta (fmt 1/2), repeated by fmt 3 new messages */
    uint32_t ts_field; /* the last raw timestamp field (for ext on fmt 3) */
    uint32_t length;
    uint8_t type;
    uint32_t msid;
    uint8_t *buf;      /* partial message */
    uint32_t buf_size; /* what buf holds room for: its share of the reader's pending */
    uint32_t have;
};

/* Frees a chunk stream's partial message buffer, if any. */
static void drop_partial(struct ezr_chunk_reader *r, struct ezr_chunk_stream_state *s)
{
    if (s->buf) {
        free(s->buf);
        s->buf = NULL;
        r->pending -= s->buf_size;
        s->buf_size = 0;
    }
}

void ezr_chunk_reader_init(struct ezr_chunk_reader *r, const struct ezr_chunk_limits *limits)
{
    memset(r, 0, sizeof *r);
    r->chunk_size = EZR_PROTO_CHUNK_SIZE;
    if (limits)
        r->limits = *limits;
    else
        r->limits = (struct ezr_chunk_limits){EZR_MAX_IN_MSG_SIZE, EZR_MAX_IN_CHUNK_STREAMS};
}

void ezr_chunk_reader_free(struct ezr_chunk_reader *r)
{
    for (size_t i = 0; i < r->nstreams; i++)
        drop_partial(r, &r->streams[i]);
    free(r->streams);
    r->streams = NULL;
    r->nstreams = r->cap_streams = 0;
}

/* Refuses the input: rc with the reason the session logs. */
static int refuse(struct ezr_chunk_reader *r, int rc, const char *why)
{
    r->error = why;
    return rc;
}

static struct ezr_chunk_stream_state *find(struct ezr_chunk_reader *r, uint32_t csid)
{
    for (size_t i = 0; i < r->nstreams; i++)
        if (r->streams[i].csid == csid)
            return &r->streams[i];
    return NULL;
}

static int add(struct ezr_chunk_reader *r, uint32_t csid, struct ezr_chunk_stream_state **out)
{
    if (r->nstreams >= r->limits.max_chunk_streams)
        return refuse(r, EZR_ELIMIT, "too many chunk streams in use at once");
    if (r->nstreams == r->cap_streams) {
        size_t cap = r->cap_streams ? r->cap_streams * 2 : 8;
        struct ezr_chunk_stream_state *p = ezr_realloc(r->streams, cap * sizeof *p);
        if (!p)
            return EZR_ENOMEM;
        r->streams = p;
        r->cap_streams = cap;
    }
    struct ezr_chunk_stream_state *s = &r->streams[r->nstreams++];
    memset(s, 0, sizeof *s);
    s->csid = csid;
    *out = s;
    return 0;
}

/* Applies the chunk-layer control messages before the next chunk is read. */
static int apply_control(struct ezr_chunk_reader *r, const struct ezr_chunk_msg *m)
{
    if (m->type == EZR_MSG_SET_CHUNK_SIZE) {
        if (m->length < 4)
            return refuse(r, EZR_EPROTO, "Set Chunk Size shorter than 4 bytes");
        uint32_t size = ezr_rd_be32(m->payload);
        if (size == 0 || (size & 0x80000000u))
            return refuse(r, EZR_EPROTO, "Set Chunk Size of 0 or with the top bit set");
        r->chunk_size = size;
    } else if (m->type == EZR_MSG_ABORT) {
        if (m->length < 4)
            return refuse(r, EZR_EPROTO, "Abort Message shorter than 4 bytes");
        struct ezr_chunk_stream_state *s = find(r, ezr_rd_be32(m->payload));
        if (s) {
            s->have = 0;
            drop_partial(r, s);
        }
    }
    return 0;
}

int ezr_chunk_reader_feed(struct ezr_chunk_reader *r, const uint8_t *in, size_t len,
                          ezr_chunk_msg_fn fn, void *ctx)
{
    size_t pos = 0;
    for (;;) {
        const uint8_t *p = in + pos;
        size_t avail = len - pos, h = 1;
        if (avail < 1)
            break;
        unsigned fmt = p[0] >> 6;
        uint32_t csid = p[0] & 0x3F;
        if (csid == 0) {
            if (avail < 2)
                break;
            csid = 64u + p[1];
            h = 2;
        } else if (csid == 1) {
            if (avail < 3)
                break;
            csid = 64u + p[1] + 256u * p[2];
            h = 3;
        }
        static const size_t mh_size[4] = {11, 7, 3, 0};
        if (avail < h + mh_size[fmt])
            break;
        struct ezr_chunk_stream_state *s = find(r, csid);
        if ((!s || !s->started) && fmt != 0)
            return refuse(r, EZR_EPROTO, "chunk continuing a chunk stream that never started");
        if (!s) {
            int rc = add(r, csid, &s);
            if (rc < 0)
                return rc;
        }
        const uint8_t *mh = p + h;
        uint32_t ts_field = fmt < 3 ? ezr_rd_be24(mh) : s->ts_field;
        bool ext = fmt < 3 ? ts_field == 0xFFFFFF : s->ext;
        size_t hdr = h + mh_size[fmt] + (ext ? 4 : 0);
        if (avail < hdr)
            break;
        uint32_t tsv = ts_field;
        if (ext)
            tsv = ezr_rd_be32(p + h + mh_size[fmt]);
        uint32_t length = s->length;
        if (fmt <= 1) {
            length = ezr_rd_be24(mh + 3);
            if (length > r->limits.max_msg_size)
                return refuse(r, EZR_ELIMIT,
                              "message over the size limit for messages from a player");
        }
        /* A fmt 3 chunk continues the partial message, or starts a new one like the last. */
        bool starts = fmt < 3 || s->have == 0;
        uint32_t remaining = starts ? length : s->length - s->have;
        size_t take = remaining < r->chunk_size ? remaining : r->chunk_size;
        if (avail < hdr + take)
            break;
        /* The whole chunk is here: commit its header. */
        if (fmt < 3 && s->have) {
            /* A new header while a message is incomplete: the partial is abandoned, as
             * ffmpeg and nginx-rtmp do. */
            s->have = 0;
        }
        s->ts_field = ts_field;
        s->ext = ext;
        if (fmt == 0) {
            s->ts = tsv;
            s->delta = 0;
            s->length = length;
            s->type = mh[6];
            s->msid = ezr_rd_le32(mh + 7);
            s->started = true;
        } else if (fmt == 1 || fmt == 2) {
            s->delta = tsv;
            s->ts += tsv;
            if (fmt == 1) {
                s->length = length;
                s->type = mh[6];
            }
        } else if (starts) {
            s->ts += s->delta;
        }
        if (starts) {
            drop_partial(r, s);
            if (s->length > take) {
                /* Each message is bounded by max_msg_size, and all those in progress at once
                 * by one of that size and EZR_MAX_IN_PENDING_EXTRA: a client on 32 chunk
                 * streams would otherwise hold 32 of its largest messages at once. */
                if (r->pending + s->length >
                    (size_t)r->limits.max_msg_size + EZR_MAX_IN_PENDING_EXTRA)
                    return refuse(r, EZR_ELIMIT, "too many bytes of messages in progress at once");
                s->buf = ezr_malloc(s->length);
                if (!s->buf)
                    return EZR_ENOMEM;
                s->buf_size = s->length;
                r->pending += s->length;
            }
        }
        pos += hdr + take;
        r->bytes_in += hdr + take;
        const uint8_t *payload = p + hdr;
        if (s->buf) {
            memcpy(s->buf + s->have, payload, take);
            s->have += (uint32_t)take;
            payload = s->buf;
        } else {
            s->have = (uint32_t)take;
        }
        if (s->have < s->length)
            continue;
        struct ezr_chunk_msg m = {csid, s->ts, s->type, s->msid, s->length, payload};
        s->have = 0;
        int rc = apply_control(r, &m);
        if (rc == 0)
            rc = fn(ctx, &m);
        drop_partial(r, s);
        if (rc < 0)
            return rc;
    }
    return (int)pos;
}

static size_t basic_size(uint32_t csid)
{
    return csid < 64 ? 1 : csid < 320 ? 2 : 3;
}

static void put_basic(struct ezr_buf *out, unsigned fmt, uint32_t csid)
{
    if (csid < 64) {
        ezr_buf_put_u8(out, (uint8_t)(fmt << 6 | csid));
    } else if (csid < 320) {
        ezr_buf_put_u8(out, (uint8_t)(fmt << 6));
        ezr_buf_put_u8(out, (uint8_t)(csid - 64));
    } else {
        ezr_buf_put_u8(out, (uint8_t)(fmt << 6 | 1));
        ezr_buf_put_u8(out, (uint8_t)((csid - 64) & 0xFF));
        ezr_buf_put_u8(out, (uint8_t)((csid - 64) >> 8));
    }
}

size_t ezr_chunk_write_size(uint32_t csid, uint32_t timestamp, size_t len, uint32_t chunk_size)
{
    size_t ext = timestamp >= 0xFFFFFF ? 4 : 0;
    size_t chunks = len ? (len + chunk_size - 1) / chunk_size : 1;
    return basic_size(csid) + 11 + ext + len + (chunks - 1) * (basic_size(csid) + ext);
}

/* Payload in chunk_size pieces, each after the first behind a fmt 3 header. */
static void put_payload(struct ezr_buf *out, uint32_t csid, bool ext, uint32_t ts,
                        const uint8_t *payload, size_t len, uint32_t chunk_size)
{
    for (size_t off = 0; off < len;) {
        if (off) {
            put_basic(out, 3, csid);
            if (ext)
                ezr_buf_put_be32(out, ts);
        }
        size_t n = len - off < chunk_size ? len - off : chunk_size;
        ezr_buf_append(out, payload + off, n);
        off += n;
    }
}

void ezr_chunk_write(struct ezr_buf *out, uint32_t csid, uint32_t timestamp, uint8_t type,
                     uint32_t msid, const uint8_t *payload, size_t len, uint32_t chunk_size)
{
    bool ext = timestamp >= 0xFFFFFF;
    put_basic(out, 0, csid);
    ezr_buf_put_be24(out, ext ? 0xFFFFFF : timestamp);
    ezr_buf_put_be24(out, (uint32_t)len);
    ezr_buf_put_u8(out, type);
    ezr_buf_put_le32(out, msid);
    if (ext)
        ezr_buf_put_be32(out, timestamp);
    put_payload(out, csid, ext, timestamp, payload, len, chunk_size);
}

static void write_control(struct ezr_buf *out, uint8_t type, const uint8_t *p, size_t n)
{
    ezr_chunk_write(out, EZR_CSID_PROTOCOL, 0, type, 0, p, n, EZR_PROTO_CHUNK_SIZE);
}

void ezr_chunk_write_set_chunk_size(struct ezr_buf *out, uint32_t size)
{
    uint8_t p[4];
    ezr_wr_be32(p, size & 0x7FFFFFFFu);
    write_control(out, EZR_MSG_SET_CHUNK_SIZE, p, 4);
}

void ezr_chunk_write_abort(struct ezr_buf *out, uint32_t csid)
{
    uint8_t p[4];
    ezr_wr_be32(p, csid);
    write_control(out, EZR_MSG_ABORT, p, 4);
}

void ezr_chunk_write_ack(struct ezr_buf *out, uint32_t sequence)
{
    uint8_t p[4];
    ezr_wr_be32(p, sequence);
    write_control(out, EZR_MSG_ACK, p, 4);
}

void ezr_chunk_write_window_ack_size(struct ezr_buf *out, uint32_t size)
{
    uint8_t p[4];
    ezr_wr_be32(p, size);
    write_control(out, EZR_MSG_WINDOW_ACK_SIZE, p, 4);
}

void ezr_chunk_write_set_peer_bw(struct ezr_buf *out, uint32_t size, uint8_t limit_type)
{
    uint8_t p[5];
    ezr_wr_be32(p, size);
    p[4] = limit_type;
    write_control(out, EZR_MSG_SET_PEER_BW, p, 5);
}

void ezr_chunk_write_user_control(struct ezr_buf *out, uint16_t event, uint32_t arg)
{
    uint8_t p[6];
    ezr_wr_be16(p, event);
    ezr_wr_be32(p + 2, arg);
    write_control(out, EZR_MSG_USER_CONTROL, p, 6);
}

void ezr_chunk_write_set_buffer_length(struct ezr_buf *out, uint32_t msid, uint32_t ms)
{
    uint8_t p[10];
    ezr_wr_be16(p, EZR_UC_SET_BUFFER_LENGTH);
    ezr_wr_be32(p + 2, msid);
    ezr_wr_be32(p + 6, ms);
    write_control(out, EZR_MSG_USER_CONTROL, p, 10);
}

struct ezr_chunk_writer_stream {
    uint32_t csid;
    uint32_t ts, delta, length, msid;
    uint8_t type;
};

void ezr_chunk_writer_init(struct ezr_chunk_writer *w, uint32_t chunk_size)
{
    memset(w, 0, sizeof *w);
    w->chunk_size = chunk_size;
}

void ezr_chunk_writer_free(struct ezr_chunk_writer *w)
{
    free(w->streams);
    memset(w, 0, sizeof *w);
}

void ezr_chunk_writer_write(struct ezr_chunk_writer *w, struct ezr_buf *out, uint32_t csid,
                            uint32_t timestamp, uint8_t type, uint32_t msid, const uint8_t *payload,
                            size_t len)
{
    struct ezr_chunk_writer_stream *s = NULL;
    for (size_t i = 0; i < w->nstreams; i++)
        if (w->streams[i].csid == csid)
            s = &w->streams[i];
    if (!s) {
        if (w->nstreams == w->cap_streams) {
            size_t cap = w->cap_streams ? w->cap_streams * 2 : 8;
            struct ezr_chunk_writer_stream *p = ezr_realloc(w->streams, cap * sizeof *p);
            if (!p) {
                out->failed = true;
                return;
            }
            w->streams = p;
            w->cap_streams = cap;
        }
        s = &w->streams[w->nstreams++];
        s->csid = csid;
        ezr_chunk_write(out, csid, timestamp, type, msid, payload, len, w->chunk_size);
        *s = (struct ezr_chunk_writer_stream){csid, timestamp, 0, (uint32_t)len, msid, type};
        return;
    }
    if (msid != s->msid || timestamp < s->ts) {
        ezr_chunk_write(out, csid, timestamp, type, msid, payload, len, w->chunk_size);
        *s = (struct ezr_chunk_writer_stream){csid, timestamp, 0, (uint32_t)len, msid, type};
        return;
    }
    uint32_t delta = timestamp - s->ts;
    bool ext = delta >= 0xFFFFFF;
    unsigned fmt = (len != s->length || type != s->type) ? 1 : delta != s->delta ? 2 : 3;
    put_basic(out, fmt, csid);
    if (fmt <= 2)
        ezr_buf_put_be24(out, ext ? 0xFFFFFF : delta);
    if (fmt == 1) {
        ezr_buf_put_be24(out, (uint32_t)len);
        ezr_buf_put_u8(out, type);
    }
    if (ext)
        ezr_buf_put_be32(out, delta);
    put_payload(out, csid, ext, delta, payload, len, w->chunk_size);
    s->ts = timestamp;
    s->delta = delta;
    s->length = (uint32_t)len;
    s->type = type;
}
