/* ezrload: N RTMP or HTTP-FLV players on one epoll loop, for benchmarking RTMP servers.
 *
 *   ezrload [-n N] [-r PER_SECOND] [-d SECONDS] [-k STALLED] [-g GAP_MS] [-f FPS] [-j] [-t] URL
 *
 * URL is rtmp://HOST:PORT/APP/STREAM, rtmps://... (or -t) for RTMP inside TLS, or
 * http://HOST:PORT/APP/STREAM.flv for HTTP-FLV players (see below).
 *
 * Each player connects (non-blocking), does the simple handshake, connect, createStream after
 * connect's _result, play with the stream id createStream returned and a SetBufferLength, then
 * reads media until the end: it answers pings and acknowledges bytes at the server's window, as
 * ffmpeg does. It measures the time from starting the TCP connect to the first video keyframe
 * (not a sequence header), checks that the first video frame is a keyframe, that video
 * timestamps never go back, and the longest wall-clock gap between media messages (up to the
 * run's end for a player still open then).
 *
 * Delivery lag: for each video frame, its arrival time minus its timestamp, relative to the
 * best-served frame of the run (the smallest such difference over every player): how much later
 * than the best case a frame reached a player, whatever the server's timestamps start from. Only
 * live frames count: those that arrive from one second after the last player started (LAG_SETTLE_MS)
 * and are newer than the newest frame any player had when this one asked to play, so that a GOP
 * cache's join burst (old frames on purpose) is not taken for lag. Audio frames get the same
 * measure apart (audio_lag_ms).
 * Join burst: the bytes of audio and video messages (sequence headers aside) that are not live
 * in that sense, the frames a GOP cache sends a player when it joins, against those of every
 * media message (burst_bytes, media_bytes): a server that sends each joiner a GOP at once
 * delivers more bytes in the same play time than one that waits for the next keyframe. The
 * first player has no player before it to tell it what was live, so its burst is not counted.
 * With -f FPS (the stream's video frame rate) it counts the video frames missing after each
 * player's first keyframe: a timestamp step of k frame durations is k - 1 frames missing.
 *
 * With -k K the last K players are stalled: after their first keyframe they stop reading their
 * socket, as a player on a dead network would. At the end they read what is left, to learn
 * whether the server closed them.
 *
 * SIGTERM or SIGINT ends the run early (once every player is started) with the same report: a
 * test runs one player for as long as it needs (-d as an upper bound) and stops it.
 *
 * HTTP-FLV (http://): a player sends GET /APP/STREAM.flv, reads the response head (a 200 makes it
 * "playing"; any other status counts it as refused) and then the FLV file as it comes: the 9-byte
 * header and PreviousTagSize0, then tags (11-byte header, body, 4-byte PreviousTagSize). A body
 * sent with Transfer-Encoding: chunked (SRS does) has its chunk framing taken out as it arrives. Audio and video tags go to the same per-player accounting as RTMP messages
 * (FLV tag types are RTMP message types, tag timestamps RTMP timestamps), so every figure above
 * means the same for both. A tag must fit in the read buffer (256 KiB): plenty for the
 * benchmark's streams.
 *
 * One thread, one epoll set (edge-triggered), one 256 KiB read buffer shared by every player;
 * per player only its state and the chunk reader's (see struct player). The library's chunk
 * reader and AMF0 code parse what comes in. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ezr_amf0.h"
#include "ezr_buf.h"
#include "ezr_bytes.h"
#include "ezr_chunk.h"
#include "ezr_error.h"
#include "ezr_handshake.h"
#include "ezr_limits.h"
#include "ezr_proto.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#define READ_BUF (256 * 1024)
#define HS_REPLY (1 + 2 * EZR_HANDSHAKE_SIZE)
#define DRAIN_MS 3000 /* how long stalled players get to find their connection's end */
#define LAG_SETTLE_MS 1000 /* lag counts from this long after the last player started */
#define HTTP_HEAD_MAX 8192 /* a response head longer than this is not one we can read */
#define FLV_FILE_HEADER 9
#define FLV_TAG_HEADER 11
#define FLV_PREV_SIZE 4

/* From RTMP on, the player reads a media stream (see streaming()). */
enum state { CONNECTING, TLS_HANDSHAKE, HANDSHAKE, RTMP, HTTP_HEAD, FLV_HEADER, FLV_TAGS, CLOSED };

/* Where a chunked body's next byte is: the chunk-size line (hex digits, then anything up to LF),
 * the chunk's data, the CRLF after it; after the last chunk (size 0) nothing is read. */
enum chunk_state { CHUNK_SIZE, CHUNK_SIZE_LINE, CHUNK_DATA, CHUNK_DATA_END, CHUNK_LAST };

/* About 170 bytes plus the chunk reader's per-stream state and any partial chunk (leftover). */
struct player {
    int fd;
    SSL *ssl;          /* rtmps:// (-t): the TLS session on fd */
    uint8_t state;
    bool stalled;      /* stops reading after its first keyframe */
    bool stopped;      /* stalled and has stopped */
    bool playing;      /* got NetStream.Play.Start */
    bool got_key;
    bool saw_video;    /* a non-header video frame arrived */
    bool dropped;      /* the server closed it before the end */
    bool failed;       /* refused (_error, Rejected, StreamNotFound, ...) */
    bool has_ts;
    bool has_live_from; /* live_from_ts is set */
    bool chunked;      /* http://: the body comes in chunks (Transfer-Encoding: chunked) */
    uint8_t chunk_state; /* enum chunk_state: where in the chunk framing the next byte is */
    uint32_t chunk_left; /* bytes of the current chunk's data still to come, or its size so far */
    uint32_t last_video_ts;
    uint32_t live_from_ts; /* the newest video timestamp any player had when this one played */
    uint32_t window;   /* the server's Window Acknowledgement Size */
    uint64_t bytes, acked;
    uint64_t t_start_us, last_media_us;
    uint32_t ttfk_ms, max_gap_ms, max_ts_step;
    uint32_t missing;  /* video frames missing after the first keyframe (-f) */
    uint8_t *hs;       /* S0S1S2 as it arrives, during the handshake only */
    uint32_t hs_have;
    uint8_t *leftover; /* an incomplete chunk kept between reads */
    uint32_t leftover_len;
    struct ezr_chunk_reader r;
};

struct options {
    int n, rate, seconds, stalled, gap_ms, fps;
    bool json;
    bool tls; /* rtmps:// or -t: RTMP inside TLS, the certificate not verified */
    bool http; /* http://: HTTP-FLV players */
    char host[256], port[16], app[256], stream[256], tcurl[600];
    char path[600]; /* http://: the request target, "/APP/STREAM.flv" */
};

struct totals {
    int connected, playing, got_key, dropped, dropped_stalled, dropped_healthy, failed;
    int connect_failed, first_video_not_key, gaps_over;
    uint64_t bytes, video_msgs, audio_msgs, ts_regressions, video_missing;
    uint64_t media_bytes, burst_bytes; /* audio and video payloads; those of join bursts */
    int players_missing;
    uint32_t max_gap_ms, max_ts_step;
};

/* Arrival (us) minus timestamp (ms, as us) of every live frame counted, for the lag. */
struct lags {
    int64_t *v;
    size_t n, cap;
};

static struct options opt;
static struct totals tot;
static struct lags video_lags, audio_lags;
static uint64_t lag_from_us;  /* frames arriving before this are not counted */
static bool has_newest_ts;
static uint32_t newest_video_ts; /* over every player */
static struct player *players;
static int epfd;
static bool draining; /* the run is over; only stalled players still read */
static uint8_t rbuf[READ_BUF];
static SSL_CTX *tls_ctx;
static volatile sig_atomic_t stop_requested; /* SIGTERM or SIGINT: end the run now */

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int parse_url(const char *url)
{
    const char *p = url;
    if (strncmp(p, "rtmps://", 8) == 0) {
        opt.tls = true;
        p += 8;
    } else if (strncmp(p, "rtmp://", 7) == 0) {
        p += 7;
    } else if (strncmp(p, "http://", 7) == 0) {
        opt.http = true;
        p += 7;
    } else {
        return -1;
    }
    const char *slash = strchr(p, '/');
    if (!slash)
        return -1;
    const char *colon = memchr(p, ':', (size_t)(slash - p));
    const char *host_end = colon ? colon : slash;
    snprintf(opt.host, sizeof opt.host, "%.*s", (int)(host_end - p), p);
    if (colon)
        snprintf(opt.port, sizeof opt.port, "%.*s", (int)(slash - colon - 1), colon + 1);
    else
        snprintf(opt.port, sizeof opt.port, opt.http ? "80" : opt.tls ? "443" : "1935");
    const char *app = slash + 1;
    const char *stream = strrchr(app, '/');
    if (!stream || stream == app || !stream[1])
        return -1;
    snprintf(opt.app, sizeof opt.app, "%.*s", (int)(stream - app), app);
    snprintf(opt.stream, sizeof opt.stream, "%s", stream + 1);
    snprintf(opt.tcurl, sizeof opt.tcurl, "%.*s", (int)(stream - url), url);
    snprintf(opt.path, sizeof opt.path, "%s", slash);
    return 0;
}

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

static void lag_add(struct lags *l, int64_t x)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 65536;
        int64_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
}

/* A live frame (not part of a join burst) arriving at t within the measured time. */
static void lag_sample(struct lags *l, const struct player *p, uint32_t ts, uint64_t t)
{
    if (!lag_from_us || t < lag_from_us || !p->got_key ||
        (p->has_live_from && ts <= p->live_from_ts))
        return;
    lag_add(l, (int64_t)t - (int64_t)ts * 1000);
}

/* A media payload: part of the join burst when it is no newer than what was live when the
 * player asked to play. */
static void count_media(const struct player *p, uint32_t ts, uint32_t len)
{
    tot.media_bytes += len;
    if (p->has_live_from && ts <= p->live_from_ts)
        tot.burst_bytes += len;
}

/* Wall-clock gap between media messages, once the player is under way. */
static void on_media(struct player *p, uint64_t t)
{
    if (p->got_key && p->last_media_us) {
        uint32_t gap = (uint32_t)((t - p->last_media_us) / 1000u);
        if (gap > p->max_gap_ms)
            p->max_gap_ms = gap;
    }
    p->last_media_us = t;
}

/* FLV video tag body: is it a codec configuration (sequence header), a keyframe? Legacy form:
 * frame type in the top nibble, codec id below, then for AVC/HEVC a packet type (0 = config).
 * Enhanced RTMP (top bit set): frame type in bits 4-6, packet type in the low nibble
 * (0 = SequenceStart). */
static void classify_video(const uint8_t *b, size_t len, bool *header, bool *key)
{
    *header = *key = false;
    if (len < 1)
        return;
    if (b[0] & 0x80) {
        *key = ((b[0] >> 4) & 7) == 1;
        *header = (b[0] & 0x0f) == 0;
        return;
    }
    unsigned codec = b[0] & 0x0f;
    *key = (b[0] >> 4) == 1;
    if ((codec == 7 || codec == 12) && len >= 2)
        *header = b[1] == 0;
}

static void on_video(struct player *p, const struct ezr_chunk_msg *m, uint64_t t)
{
    bool header, key;
    classify_video(m->payload, m->length, &header, &key);
    if (header)
        return;
    tot.video_msgs++;
    count_media(p, m->timestamp, m->length);
    if (!p->saw_video) {
        p->saw_video = true;
        if (!key)
            tot.first_video_not_key++;
    }
    bool key_now = key && !p->got_key; /* the first keyframe: nothing before it counts */
    if (key_now) {
        p->got_key = true;
        p->ttfk_ms = (uint32_t)((t - p->t_start_us) / 1000u);
        if (p->stalled)
            p->stopped = true;
    }
    if (p->has_ts) {
        if (m->timestamp < p->last_video_ts)
            tot.ts_regressions++;
        else if (p->got_key && m->timestamp - p->last_video_ts > p->max_ts_step)
            p->max_ts_step = m->timestamp - p->last_video_ts;
        if (opt.fps && p->got_key && !key_now && m->timestamp > p->last_video_ts) {
            /* Whole frame durations in the step, rounded: FLV stamps whole milliseconds. */
            uint64_t frames = ((uint64_t)(m->timestamp - p->last_video_ts) * (uint64_t)opt.fps +
                               500u) / 1000u;
            if (frames > 1)
                p->missing += (uint32_t)(frames - 1);
        }
    }
    p->has_ts = true;
    p->last_video_ts = m->timestamp;
    if (!has_newest_ts || m->timestamp > newest_video_ts) {
        has_newest_ts = true;
        newest_video_ts = m->timestamp;
    }
    lag_sample(&video_lags, p, m->timestamp, t);
    on_media(p, t);
}

static void on_audio(struct player *p, const struct ezr_chunk_msg *m, uint64_t t)
{
    tot.audio_msgs++;
    if (m->length >= 2 && !((m->payload[0] >> 4) == 10 && m->payload[1] == 0))
        count_media(p, m->timestamp, m->length); /* not an AAC sequence header */
    lag_sample(&audio_lags, p, m->timestamp, t);
    on_media(p, t);
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

static void player_close(struct player *p, bool by_server)
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

static bool streaming(const struct player *p)
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

/* http://, a chunked body: takes the chunk framing out of the len bytes at b, in place (the data
 * only moves down). Returns how many bytes of the body are now at b, or -1 for a chunk too large
 * to be one of ours (a framing we misread). The framing may be split anywhere between reads:
 * p->chunk_state and p->chunk_left carry it over. */
static ssize_t dechunk(struct player *p, uint8_t *b, size_t len)
{
    size_t in = 0, out = 0;
    while (in < len) {
        uint8_t c = b[in];
        switch (p->chunk_state) {
        case CHUNK_SIZE:
        case CHUNK_SIZE_LINE:
            in++;
            if (c == '\n') {
                p->chunk_state = p->chunk_left ? CHUNK_DATA : CHUNK_LAST;
            } else if (p->chunk_state == CHUNK_SIZE && hex_digit(c) >= 0) {
                if (p->chunk_left >= READ_BUF * 16u)
                    return -1;
                p->chunk_left = p->chunk_left * 16u + (uint32_t)hex_digit(c);
            } else {
                p->chunk_state = CHUNK_SIZE_LINE; /* CR, or a chunk extension: up to LF */
            }
            break;
        case CHUNK_DATA: {
            size_t n = len - in < p->chunk_left ? len - in : p->chunk_left;
            memmove(b + out, b + in, n);
            in += n;
            out += n;
            p->chunk_left -= (uint32_t)n;
            if (!p->chunk_left)
                p->chunk_state = CHUNK_DATA_END;
            break;
        }
        case CHUNK_DATA_END:
            in++;
            if (c == '\n')
                p->chunk_state = CHUNK_SIZE;
            break;
        case CHUNK_LAST:
            in = len;
            break;
        }
    }
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
            ssize_t body = dechunk(p, b + head, *len - (size_t)head);
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
static void read_stream(struct player *p)
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
        ssize_t body = p->chunked ? dechunk(p, rbuf + have, (size_t)r) : r;
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

static void on_event(struct player *p, uint32_t ev)
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

static struct addrinfo *resolve(void)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(opt.host, opt.port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "ezrload: %s:%s: %s\n", opt.host, opt.port, gai_strerror(rc));
        return NULL;
    }
    return ai;
}

static void open_player(struct player *p, const struct addrinfo *ai, bool stalled)
{
    memset(p, 0, sizeof *p);
    p->stalled = stalled;
    p->t_start_us = now_us();
    p->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        tot.connect_failed++;
        p->state = CLOSED;
        return;
    }
    int one = 1;
    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    p->state = CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = p};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, p->fd, &ev) < 0 ||
        (connect(p->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)) {
        tot.connect_failed++;
        close(p->fd);
        p->fd = -1;
        p->state = CLOSED;
    }
}

static void run_loop(uint64_t until_us, int *opened, const struct addrinfo *ai, uint64_t t0)
{
    struct epoll_event evs[1024];
    uint64_t next_report = now_us() + 1000000u;
    for (;;) {
        uint64_t t = now_us();
        if (*opened < opt.n) {
            /* Open players at the requested rate since t0. */
            long due = (long)((t - t0) * (uint64_t)opt.rate / 1000000u) + 1;
            while (*opened < opt.n && *opened < due) {
                open_player(&players[*opened], ai, *opened >= opt.n - opt.stalled);
                (*opened)++;
            }
        } else if (t >= until_us || stop_requested) {
            return;
        }
        int k = epoll_wait(epfd, evs, 1024, 5);
        for (int i = 0; i < k; i++)
            on_event(evs[i].data.ptr, evs[i].events);
        if (now_us() >= next_report) {
            next_report += 1000000u;
            int playing = 0, dropped = 0;
            for (int i = 0; i < *opened; i++) {
                playing += players[i].playing && players[i].state != CLOSED;
                dropped += players[i].dropped;
            }
            fprintf(stderr, "opened %d playing %d dropped %d bytes %" PRIu64 "\n", *opened,
                    playing, dropped, tot.bytes);
        }
        if (draining) {
            bool left = false;
            for (int i = 0; i < opt.n && !left; i++)
                left = players[i].stalled && players[i].state != CLOSED;
            if (!left)
                return;
        }
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint32_t percentile(const uint32_t *v, size_t n, double pct)
{
    size_t rank = (size_t)(pct / 100.0 * (double)n + 0.999999);
    return v[rank ? rank - 1 : 0];
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* {"p50": ms, "p99": ms, "max": ms, "frames": n, "base_ms": ms} of the lags relative to their
 * minimum, base_ms: CLOCK_MONOTONIC is the machine's, so two ezrload runs at the same time
 * (one per protocol) can put their lags on one baseline. */
static void lag_json(struct lags *l, char *out, size_t outlen)
{
    if (!l->n) {
        snprintf(out, outlen, "{\"p50\": null, \"p99\": null, \"max\": null, \"frames\": 0, "
                              "\"base_ms\": null}");
        return;
    }
    qsort(l->v, l->n, sizeof *l->v, cmp_i64);
    int64_t base = l->v[0];
    size_t r50 = (size_t)(0.50 * (double)l->n + 0.999999), r99 = (size_t)(0.99 * (double)l->n + 0.999999);
    snprintf(out, outlen,
             "{\"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f, \"frames\": %zu, \"base_ms\": %.3f}",
             (double)(l->v[r50 ? r50 - 1 : 0] - base) / 1000.0,
             (double)(l->v[r99 ? r99 - 1 : 0] - base) / 1000.0,
             (double)(l->v[l->n - 1] - base) / 1000.0, l->n, (double)base / 1000.0);
}

/* The gap a player is in when the run ends counts too: one that stopped getting media
 * before the end does not read as gapless. Taken when the play time ends, before stalled
 * players drain. */
static void note_end_gaps(void)
{
    uint64_t end = now_us();
    for (int i = 0; i < opt.n; i++) {
        struct player *p = &players[i];
        if (p->got_key && p->last_media_us && p->state != CLOSED &&
            (uint32_t)((end - p->last_media_us) / 1000u) > p->max_gap_ms)
            p->max_gap_ms = (uint32_t)((end - p->last_media_us) / 1000u);
    }
}

static void report(double duration_s)
{
    uint32_t *ttfk = malloc(sizeof *ttfk * (size_t)opt.n);
    size_t nk = 0;
    for (int i = 0; i < opt.n; i++) {
        struct player *p = &players[i];
        tot.playing += p->playing;
        tot.failed += p->failed;
        if (p->got_key)
            ttfk[nk++] = p->ttfk_ms;
        if (p->dropped) {
            tot.dropped++;
            if (p->stalled)
                tot.dropped_stalled++;
            else
                tot.dropped_healthy++;
        }
        tot.video_missing += p->missing;
        tot.players_missing += p->missing > 0;
        if (!p->stalled) {
            if (p->max_gap_ms > (uint32_t)opt.gap_ms)
                tot.gaps_over++;
            if (p->max_gap_ms > tot.max_gap_ms)
                tot.max_gap_ms = p->max_gap_ms;
            if (p->max_ts_step > tot.max_ts_step)
                tot.max_ts_step = p->max_ts_step;
        }
    }
    tot.got_key = (int)nk;
    qsort(ttfk, nk, sizeof *ttfk, cmp_u32);
    char p50[16] = "null", p99[16] = "null", pmax[16] = "null";
    if (nk) {
        snprintf(p50, sizeof p50, "%u", percentile(ttfk, nk, 50));
        snprintf(p99, sizeof p99, "%u", percentile(ttfk, nk, 99));
        snprintf(pmax, sizeof pmax, "%u", ttfk[nk - 1]);
    }
    free(ttfk);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    char vlag[200], alag[200];
    lag_json(&video_lags, vlag, sizeof vlag);
    lag_json(&audio_lags, alag, sizeof alag);
    if (opt.json)
        printf("{\"players\": %d, \"stalled\": %d, \"connected\": %d, \"connect_failed\": %d, "
               "\"playing\": %d, \"failed\": %d, \"got_keyframe\": %d, \"dropped\": %d, "
               "\"dropped_stalled\": %d, \"dropped_healthy\": %d, \"bytes\": %" PRIu64 ", "
               "\"ttfk_ms\": {\"p50\": %s, \"p99\": %s, \"max\": %s}, "
               "\"first_video_not_key\": %d, \"ts_regressions\": %" PRIu64 ", "
               "\"gaps_over\": %d, \"gap_threshold_ms\": %d, \"max_gap_ms\": %u, "
               "\"max_video_ts_step_ms\": %u, \"video_msgs\": %" PRIu64 ", "
               "\"audio_msgs\": %" PRIu64 ", \"lag_ms\": %s, \"audio_lag_ms\": %s, "
               "\"video_missing\": %" PRIu64 ", \"players_missing\": %d, "
               "\"media_bytes\": %" PRIu64 ", \"burst_bytes\": %" PRIu64 ", "
               "\"duration_s\": %.1f, \"client_cpu_s\": %.2f}\n",
               opt.n, opt.stalled, tot.connected, tot.connect_failed, tot.playing, tot.failed,
               tot.got_key, tot.dropped, tot.dropped_stalled, tot.dropped_healthy, tot.bytes,
               p50, p99, pmax, tot.first_video_not_key, tot.ts_regressions, tot.gaps_over,
               opt.gap_ms, tot.max_gap_ms, tot.max_ts_step, tot.video_msgs, tot.audio_msgs,
               vlag, alag, tot.video_missing, tot.players_missing, tot.media_bytes,
               tot.burst_bytes, duration_s, cpu);
    else
        printf("players %d (stalled %d)\nconnected %d (connect failed %d)\n"
               "playing %d (refused %d)\ngot keyframe %d\ndropped %d (stalled %d, healthy %d)\n"
               "bytes %" PRIu64 "\ntime to first keyframe ms: p50 %s p99 %s max %s\n"
               "first video not a keyframe %d\ntimestamp regressions %" PRIu64 "\n"
               "healthy players with a gap over %d ms: %d, longest gap %u ms\n"
               "longest video timestamp step %u ms\n"
               "video messages %" PRIu64 ", audio messages %" PRIu64 "\n"
               "video lag ms %s\naudio lag ms %s\n"
               "video frames missing %" PRIu64 " (in %d players)\n"
               "media bytes %" PRIu64 ", of them join bursts %" PRIu64 "\n"
               "duration %.1f s, client CPU %.2f s\n",
               opt.n, opt.stalled, tot.connected, tot.connect_failed, tot.playing, tot.failed,
               tot.got_key, tot.dropped, tot.dropped_stalled, tot.dropped_healthy, tot.bytes,
               p50, p99, pmax, tot.first_video_not_key, tot.ts_regressions, opt.gap_ms,
               tot.gaps_over, tot.max_gap_ms, tot.max_ts_step, tot.video_msgs, tot.audio_msgs,
               vlag, alag, tot.video_missing, tot.players_missing, tot.media_bytes,
               tot.burst_bytes, duration_s, cpu);
}

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: ezrload [-n PLAYERS] [-r PER_SECOND] [-d SECONDS] [-k STALLED] "
                    "[-g GAP_MS] [-f FPS] [-j] [-t] URL\n"
                    "  URL: rtmp[s]://HOST:PORT/APP/STREAM, or http://HOST:PORT/APP/STREAM.flv "
                    "(HTTP-FLV)\n"
                    "  -t or rtmps://: RTMP inside TLS (the certificate is not verified)\n");
    return 2;
}

int main(int argc, char **argv)
{
    opt.n = 100;
    opt.rate = 2000;
    opt.seconds = 10;
    opt.gap_ms = 500;
    int c;
    while ((c = getopt(argc, argv, "n:r:d:k:g:f:jt")) != -1) {
        switch (c) {
        case 'n': opt.n = atoi(optarg); break;
        case 'r': opt.rate = atoi(optarg); break;
        case 'd': opt.seconds = atoi(optarg); break;
        case 'k': opt.stalled = atoi(optarg); break;
        case 'g': opt.gap_ms = atoi(optarg); break;
        case 'f': opt.fps = atoi(optarg); break;
        case 'j': opt.json = true; break;
        case 't': opt.tls = true; break;
        default: return usage();
        }
    }
    if (optind != argc - 1 || opt.n < 1 || opt.rate < 1 || opt.seconds < 0 || opt.stalled < 0 ||
        opt.stalled > opt.n || opt.gap_ms < 1 || opt.fps < 0 || parse_url(argv[optind]) < 0 ||
        (opt.http && opt.tls))
        return usage();

    /* One descriptor per player, and some. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct addrinfo *ai = resolve();
    epfd = epoll_create1(EPOLL_CLOEXEC);
    players = calloc((size_t)opt.n, sizeof *players);
    if (!ai || epfd < 0 || !players) {
        fprintf(stderr, "ezrload: cannot set up: %s\n", strerror(errno));
        return 1;
    }
    srand((unsigned)now_us());
    if (opt.tls) {
        tls_ctx = SSL_CTX_new(TLS_client_method());
        if (!tls_ctx) {
            fprintf(stderr, "ezrload: cannot set up TLS\n");
            return 1;
        }
        /* Like the players measured: TLS 1.3 when offered; no verification (a test certificate). */
        SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_mode(tls_ctx, SSL_MODE_RELEASE_BUFFERS);
    }

    /* No SA_RESTART: the signal ends the epoll_wait it interrupts. */
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    uint64_t t0 = now_us();
    int opened = 0;
    lag_from_us = t0 + (uint64_t)opt.n * 1000000u / (uint64_t)opt.rate + LAG_SETTLE_MS * 1000u;
    /* The play time counts from when the last player was started. */
    run_loop(t0 + (uint64_t)opt.n * 1000000u / (uint64_t)opt.rate +
                 (uint64_t)opt.seconds * 1000000u, &opened, ai, t0);
    double duration = (double)(now_us() - t0) / 1e6;
    note_end_gaps();
    if (opt.stalled) {
        /* Stalled players now read what is left, to find out whether the server closed them. */
        draining = true;
        for (int i = 0; i < opt.n; i++)
            if (players[i].stalled && streaming(&players[i]))
                read_stream(&players[i]);
        run_loop(now_us() + DRAIN_MS * 1000u, &opened, ai, t0);
    }
    report(duration);
    for (int i = 0; i < opt.n; i++)
        player_close(&players[i], false);
    free(players);
    free(video_lags.v);
    free(audio_lags.v);
    freeaddrinfo(ai);
    close(epfd);
    SSL_CTX_free(tls_ctx);
    return 0;
}
