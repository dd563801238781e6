/* ezrload: how a player speaks. RTMP: the simple handshake (inside TLS for rtmps://), connect,
 * createStream, play, then chunks read with the library's chunk reader, pings answered and bytes
 * acknowledged. HTTP-FLV: GET, the response head, then the FLV file, its chunked framing taken
 * out. Media messages go to ezrload_media.c. */
#include "ezrload.h"

/* Writes all of b now. Commands are a few hundred bytes on a socket that has room for them;
 * a player whose socket cannot take them is counted as failed rather than buffered. */
static void send_all(struct player *p, const struct ezr_buf *b)
{
    size_t off = 0;
    while (off < b->len) {
        ssize_t w;
        if (p->ssl) {
            size_t n = 0;
            w = SSL_write_ex(p->ssl, b->data + off, b->len - off, &n) == 1 ? (ssize_t)n : -1;
            if (w < 0) {
                ERR_clear_error();
                p->failed = true;
                return;
            }
        } else {
            w = write(p->fd, b->data + off, b->len - off);
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            p->failed = true;
            return;
        }
        off += (size_t)w;
    }
}

static void send_command(struct player *p, uint32_t msid, const char *name, double txid,
                         const char *play_name)
{
    struct ezr_buf body, out;
    ezr_buf_init(&body);
    ezr_buf_init(&out);
    ezr_amf0_put_cstring(&body, name);
    ezr_amf0_put_number(&body, txid);
    if (strcmp(name, "connect") == 0) {
        ezr_amf0_put_object_begin(&body);
        ezr_amf0_put_key(&body, "app");
        ezr_amf0_put_cstring(&body, opt.app);
        ezr_amf0_put_key(&body, "flashVer");
        ezr_amf0_put_cstring(&body, "LNX 9,0,124,2");
        ezr_amf0_put_key(&body, "tcUrl");
        ezr_amf0_put_cstring(&body, opt.tcurl);
        ezr_amf0_put_key(&body, "fpad");
        ezr_amf0_put_bool(&body, false);
        ezr_amf0_put_key(&body, "capabilities");
        ezr_amf0_put_number(&body, 15);
        ezr_amf0_put_key(&body, "audioCodecs");
        ezr_amf0_put_number(&body, 4071);
        ezr_amf0_put_key(&body, "videoCodecs");
        ezr_amf0_put_number(&body, 252);
        ezr_amf0_put_key(&body, "videoFunction");
        ezr_amf0_put_number(&body, 1);
        ezr_amf0_put_object_end(&body);
    } else {
        ezr_amf0_put_null(&body);
        if (play_name)
            ezr_amf0_put_cstring(&body, play_name);
    }
    /* Commands on chunk stream 3, plays on 8, as ffmpeg does. */
    ezr_chunk_write(&out, play_name ? 8 : 3, 0, EZR_MSG_COMMAND_AMF0, msid, body.data, body.len,
                    EZR_PROTO_CHUNK_SIZE);
    if (play_name)
        ezr_chunk_write_set_buffer_length(&out, msid, 3000);
    send_all(p, &out);
    ezr_buf_free(&body);
    ezr_buf_free(&out);
}

static void on_command(struct player *p, const uint8_t *b, size_t len)
{
    struct ezr_amf0_value v[4];
    memset(v, 0, sizeof v);
    size_t off = 0;
    int nv = 0;
    for (; nv < 4 && off < len; nv++) {
        int used = ezr_amf0_decode(b + off, len - off, &v[nv]);
        if (used < 0)
            break;
        off += (size_t)used;
    }
    const char *name = nv > 0 ? ezr_amf0_as_string(&v[0]) : NULL;
    double txid = nv > 1 && v[1].type == EZR_AMF0_NUMBER ? v[1].u.number : -1;
    if (!name) {
        /* not a command we know how to read */
    } else if (strcmp(name, "_result") == 0 && txid == 1) {
        send_command(p, 0, "createStream", 2, NULL);
    } else if (strcmp(name, "_result") == 0 && txid == 2) {
        double sid = nv > 3 && v[3].type == EZR_AMF0_NUMBER ? v[3].u.number : 1;
        p->has_live_from = has_newest_ts;
        p->live_from_ts = newest_video_ts;
        send_command(p, (uint32_t)sid, "play", 0, opt.stream);
    } else if (strcmp(name, "_error") == 0) {
        p->failed = true;
    } else if (strcmp(name, "onStatus") == 0 && nv > 3) {
        const char *code = ezr_amf0_as_string(ezr_amf0_get(&v[3], "code"));
        if (code && strcmp(code, "NetStream.Play.Start") == 0)
            p->playing = true;
        else if (code && (strstr(code, "Failed") || strstr(code, "NotFound") ||
                          strstr(code, "Rejected")))
            p->failed = true;
    }
    for (int i = 0; i < 4; i++)
        ezr_amf0_value_clear(&v[i]);
}

static int on_msg(void *ctx, const struct ezr_chunk_msg *m)
{
    struct player *p = ctx;
    uint64_t t = now_us();
    switch (m->type) {
    case EZR_MSG_WINDOW_ACK_SIZE:
        if (m->length >= 4)
            p->window = ezr_rd_be32(m->payload);
        break;
    case EZR_MSG_USER_CONTROL:
        if (m->length >= 6 && ezr_rd_be16(m->payload) == EZR_UC_PING_REQUEST) {
            struct ezr_buf out;
            ezr_buf_init(&out);
            ezr_chunk_write_user_control(&out, EZR_UC_PING_RESPONSE,
                                         ezr_rd_be32(m->payload + 2));
            send_all(p, &out);
            ezr_buf_free(&out);
        }
        break;
    case EZR_MSG_COMMAND_AMF0:
        on_command(p, m->payload, m->length);
        break;
    case EZR_MSG_VIDEO:
        on_video(p, m, t);
        break;
    case EZR_MSG_AUDIO:
        on_audio(p, m, t);
        break;
    default:
        break;
    }
    return 0;
}

void player_close(struct player *p, bool by_server)
{
    if (p->state == CLOSED)
        return;
    if (by_server && !draining) {
        p->dropped = true;
    } else if (by_server && p->stalled) {
        p->dropped = true; /* found while draining: the server had cut it */
    }
    epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd, NULL);
    SSL_free(p->ssl);
    p->ssl = NULL;
    close(p->fd);
    p->fd = -1;
    p->state = CLOSED;
    free(p->hs);
    p->hs = NULL;
    free(p->leftover);
    p->leftover = NULL;
    p->leftover_len = 0;
    ezr_chunk_reader_free(&p->r);
}

static void acknowledge(struct player *p)
{
    if (!p->window || p->bytes - p->acked < p->window)
        return;
    p->acked = p->bytes;
    struct ezr_buf out;
    ezr_buf_init(&out);
    ezr_chunk_write_ack(&out, (uint32_t)p->bytes);
    send_all(p, &out);
    ezr_buf_free(&out);
}

/* One read: bytes read (> 0), 0 when the socket is empty for now, -1 when the connection ended
 * (then p is closed). */
static ssize_t read_some(struct player *p, uint8_t *buf, size_t len)
{
    if (p->ssl) {
        size_t n = 0;
        if (SSL_read_ex(p->ssl, buf, len, &n) == 1) {
            p->bytes += n;
            return (ssize_t)n;
        }
        int e = SSL_get_error(p->ssl, 0);
        ERR_clear_error();
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        player_close(p, true);
        return -1;
    }
    for (;;) {
        ssize_t r = read(p->fd, buf, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (r <= 0) {
            player_close(p, true);
            return -1;
        }
        p->bytes += (uint64_t)r;
        return r;
    }
}

static void read_handshake(struct player *p)
{
    while (p->hs_have < HS_REPLY) {
        ssize_t r = read_some(p, p->hs + p->hs_have, HS_REPLY - p->hs_have);
        if (r <= 0)
            return;
        p->hs_have += (uint32_t)r;
    }
    /* Simple handshake: C2 echoes S1. */
    struct ezr_buf out;
    ezr_buf_init(&out);
    ezr_buf_append(&out, p->hs + 1, EZR_HANDSHAKE_SIZE); /* C2 = S1 */
    send_all(p, &out);
    ezr_buf_free(&out);
    free(p->hs);
    p->hs = NULL;
    p->state = RTMP;
    /* A player takes what a server sends: whole keyframes of a 20 Mbps stream are far over the
     * library's default limit for messages from players. 16 MiB - 1 is what a chunk header can
     * state. */
    static const struct ezr_chunk_limits player_limits = {0xFFFFFF, 64};
    ezr_chunk_reader_init(&p->r, &player_limits);
    send_command(p, 0, "connect", 1, NULL);
}

bool streaming(const struct player *p)
{
    return p->state >= RTMP && p->state < CLOSED;
}

/* http://: the response head at the start of b. Returns its length once it is all there (the
 * FLV file follows it, chunked when p->chunked is set now), 0 while more is needed, -1 when it is
 * not a 200. */
static int http_response_head(struct player *p, const uint8_t *b, size_t len)
{
    const uint8_t *end = memmem(b, len, "\r\n\r\n", 4);
    if (!end)
        return len > HTTP_HEAD_MAX ? -1 : 0;
    size_t head_len = (size_t)(end - b) + 4;
    const char *line = (const char *)b, *stop = (const char *)end + 2;
    char status_line[128]; /* NUL-terminated, for sscanf */
    snprintf(status_line, sizeof status_line, "%.*s", (int)strcspn(line, "\r"), line);
    int status = 0;
    if (sscanf(status_line, "HTTP/1.%*1[01] %3d", &status) != 1 || status != 200) {
        fprintf(stderr, "ezrload: player %td: answered \"%s\"\n", p - players, status_line);
        return -1;
    }
    /* The headers, one a line up to the blank one: only a chunked body changes how we read. */
    for (line = strchr(line, '\n') + 1; line < stop; line = strchr(line, '\n') + 1) {
        if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
            const char *v = line + 18;
            v += strspn(v, " \t");
            if (strncasecmp(v, "chunked", 7) != 0) {
                fprintf(stderr, "ezrload: player %td: a body in \"%.*s\" is not read\n",
                        p - players, (int)strcspn(v, "\r"), v);
                return -1;
            }
            p->chunked = true;
        }
    }
    p->playing = true;
    p->state = FLV_HEADER;
    return (int)head_len;
}

static int hex_digit(uint8_t c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

ssize_t http_dechunk(struct dechunker *d, uint8_t *b, size_t len, size_t *used)
{
    size_t in = 0, out = 0;
    while (in < len && d->state != CHUNK_DONE) {
        uint8_t c = b[in];
        switch (d->state) {
        case CHUNK_SIZE:
        case CHUNK_SIZE_LINE:
            in++;
            if (c == '\n') {
                d->state = d->left ? CHUNK_DATA : CHUNK_LAST;
            } else if (d->state == CHUNK_SIZE && hex_digit(c) >= 0) {
                if (d->left >= READ_BUF * 16u)
                    return -1;
                d->left = d->left * 16u + (uint32_t)hex_digit(c);
            } else {
                d->state = CHUNK_SIZE_LINE; /* CR, or a chunk extension: up to LF */
            }
            break;
        case CHUNK_DATA: {
            size_t n = len - in < d->left ? len - in : d->left;
            memmove(b + out, b + in, n);
            in += n;
            out += n;
            d->left -= (uint32_t)n;
            if (!d->left)
                d->state = CHUNK_DATA_END;
            break;
        }
        case CHUNK_DATA_END:
            in++;
            if (c == '\n')
                d->state = CHUNK_SIZE;
            break;
        case CHUNK_LAST: /* at the start of a trailer line; an empty one ends the body */
            in++;
            if (c == '\n')
                d->state = CHUNK_DONE;
            else if (c != '\r')
                d->state = CHUNK_TRAILER;
            break;
        case CHUNK_TRAILER:
            in++;
            if (c == '\n')
                d->state = CHUNK_LAST;
            break;
        }
    }
    if (used)
        *used = in;
    return (ssize_t)out;
}

/* http://: the FLV file from the start of b: its header (checked) and PreviousTagSize0, then
 * whole tags, audio and video ones measured as the RTMP messages they would be. Returns the
 * bytes used (an incomplete tag is left), or -1 for a stream that is not FLV. */
static int flv_feed(struct player *p, const uint8_t *b, size_t len)
{
    size_t off = 0;
    if (p->state == FLV_HEADER) {
        if (len < FLV_FILE_HEADER)
            return 0;
        uint32_t data_offset = ezr_rd_be32(b + 5); /* the header's own length */
        if (memcmp(b, "FLV\x01", 4) != 0 || data_offset < FLV_FILE_HEADER ||
            data_offset > HTTP_HEAD_MAX)
            return -1;
        if (len < data_offset + FLV_PREV_SIZE)
            return 0;
        off = data_offset + FLV_PREV_SIZE;
        p->state = FLV_TAGS;
    }
    uint64_t t = now_us();
    while (len - off >= FLV_TAG_HEADER) {
        const uint8_t *tag = b + off;
        uint32_t size = ezr_rd_be24(tag + 1);
        if (len - off < FLV_TAG_HEADER + (size_t)size + FLV_PREV_SIZE)
            break;
        if (ezr_rd_be32(tag + FLV_TAG_HEADER + size) != FLV_TAG_HEADER + size)
            return -1; /* PreviousTagSize does not match: we lost the tag boundaries */
        struct ezr_chunk_msg m = {
            .type = tag[0] & 0x1f, /* above: the filter (encryption) bit */
            .timestamp = ezr_rd_be24(tag + 4) | (uint32_t)tag[7] << 24,
            .length = size,
            .payload = tag + FLV_TAG_HEADER,
        };
        if (m.type == EZR_MSG_VIDEO)
            on_video(p, &m, t);
        else if (m.type == EZR_MSG_AUDIO)
            on_audio(p, &m, t);
        off += FLV_TAG_HEADER + (size_t)size + FLV_PREV_SIZE;
    }
    return (int)off;
}

/* What a player reads, to the parser of its protocol. Returns the bytes used, or < 0. A chunked
 * HTTP body (found in the response head) has its framing taken out of what follows the head,
 * which makes *len shorter. */
static int feed(struct player *p, uint8_t *b, size_t *len)
{
    if (p->state == RTMP)
        return ezr_chunk_reader_feed(&p->r, b, *len, on_msg, p);
    int head = 0;
    if (p->state == HTTP_HEAD) {
        if ((head = http_response_head(p, b, *len)) <= 0)
            return head;
        if (p->chunked) {
            ssize_t body = http_dechunk(&p->dc, b + head, *len - (size_t)head, NULL);
            if (body < 0)
                return -1;
            *len = (size_t)head + (size_t)body;
        }
    }
    int used = flv_feed(p, b + head, *len - (size_t)head);
    return used < 0 ? used : head + used;
}

/* Reads until the socket is empty (edge-triggered), feeding the player's parser from the shared
 * buffer; an incomplete message at the end is kept in p->leftover. */
void read_stream(struct player *p)
{
    while (streaming(p) && !(p->stopped && !draining)) {
        uint32_t have = p->leftover_len;
        if (have == sizeof rbuf) {
            fprintf(stderr, "ezrload: player %td: a message over %d bytes\n", p - players,
                    READ_BUF);
            p->failed = true;
            player_close(p, false);
            return;
        }
        if (have)
            memcpy(rbuf, p->leftover, have);
        ssize_t r = read_some(p, rbuf + have, sizeof rbuf - have);
        if (r <= 0)
            return;
        tot.bytes += (uint64_t)r;
        if (draining && p->stalled)
            continue; /* only looking for the end of the connection */
        /* The leftover was taken out of its chunk framing already; what was just read not yet. */
        ssize_t body = p->chunked ? http_dechunk(&p->dc, rbuf + have, (size_t)r, NULL) : r;
        size_t len = have + (size_t)(body < 0 ? 0 : body);
        int used = body < 0 ? -1 : feed(p, rbuf, &len);
        if (used < 0) {
            fprintf(stderr, "ezrload: player %td: bad %s stream\n", p - players,
                    p->state == RTMP ? "chunk" : "HTTP-FLV");
            p->failed = true;
            player_close(p, false);
            return;
        }
        size_t rest = len - (size_t)used;
        if (rest != p->leftover_len) {
            free(p->leftover);
            p->leftover = rest ? malloc(rest) : NULL;
        }
        if (rest)
            memcpy(p->leftover, rbuf + used, rest);
        p->leftover_len = (uint32_t)rest;
        if (p->state == RTMP)
            acknowledge(p);
        /* A plain socket that gave less than asked is empty now, and edge-triggered epoll
         * reports the next bytes: no read just to be told EAGAIN (half this client's reads),
         * CPU that the server under test gets instead. TLS reads a record at a time. */
        if (!p->ssl && (size_t)r < sizeof rbuf - have)
            return;
    }
}

/* http://: the request, sent once connected; the response is read by read_stream. */
static void start_http(struct player *p)
{
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: ezrload\r\nAccept: */*\r\n\r\n",
                     opt.path, opt.host, opt.port);
    struct ezr_buf out = {.data = (uint8_t *)req, .len = (size_t)n};
    /* As play does for RTMP: what was live before this point is the join burst. */
    p->has_live_from = has_newest_ts;
    p->live_from_ts = newest_video_ts;
    p->state = HTTP_HEAD;
    send_all(p, &out);
}

static void start_rtmp_handshake(struct player *p);

/* rtmps://: the TLS handshake, driven by the socket's events until it is done. */
static void continue_tls(struct player *p)
{
    int r = SSL_connect(p->ssl);
    if (r == 1) {
        start_rtmp_handshake(p);
        return;
    }
    int e = SSL_get_error(p->ssl, r);
    ERR_clear_error();
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        tot.connect_failed++;
        tot.connected--;
        player_close(p, false);
    }
}

static void start_handshake(struct player *p)
{
    int err = 0;
    socklen_t elen = sizeof err;
    getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
    if (err) {
        tot.connect_failed++;
        player_close(p, false);
        return;
    }
    tot.connected++;
    if (opt.http) {
        start_http(p);
        return;
    }
    if (opt.tls) {
        p->ssl = SSL_new(tls_ctx);
        if (!p->ssl || SSL_set_fd(p->ssl, p->fd) != 1) {
            tot.connect_failed++;
            tot.connected--;
            player_close(p, false);
            return;
        }
        SSL_set_connect_state(p->ssl);
        p->state = TLS_HANDSHAKE;
        continue_tls(p);
        return;
    }
    start_rtmp_handshake(p);
}

static void start_rtmp_handshake(struct player *p)
{
    p->state = HANDSHAKE;
    p->hs = malloc(HS_REPLY);
    uint8_t c0c1[1 + EZR_HANDSHAKE_SIZE] = {3};
    for (size_t i = 9; i < sizeof c0c1; i++)
        c0c1[i] = (uint8_t)rand();
    struct ezr_buf out = {.data = c0c1, .len = sizeof c0c1};
    send_all(p, &out);
}

void on_event(struct player *p, uint32_t ev)
{
    if (p->state == CONNECTING && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        start_handshake(p);
    else if (p->state == TLS_HANDSHAKE)
        continue_tls(p);
    if (p->state == HANDSHAKE && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)))
        read_handshake(p);
    if (streaming(p) && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)))
        read_stream(p);
}
