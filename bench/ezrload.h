/* The load client's shared parts: one player's state, the options, the totals, and what its
 * files call across: ezrload.c (options, the loop, main), ezrload_proto.c (how a player speaks
 * RTMP, RTMPS and HTTP-FLV), ezrload_media.c (what a player measures of the media it gets, and
 * the report) and ezrload_hls*.c (HLS viewers, their own figures and report). See ezrload.c for
 * what it does. */
#ifndef EZRLOAD_H
#define EZRLOAD_H

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
enum state { CONNECTING, TLS_HANDSHAKE, HANDSHAKE, RTMP, HTTP_HEAD, FLV_HEADER, FLV_TAGS,
             HLS_VIEWER /* its connections are ezrload_hls.c's */, CLOSED };

/* Where a chunked body's next byte is: the chunk-size line (hex digits, then anything up to LF),
 * the chunk's data, the CRLF after it; after the last chunk (size 0) the trailer lines up to an
 * empty one, and then the body is done (a keep-alive connection's next answer follows). */
enum chunk_state { CHUNK_SIZE, CHUNK_SIZE_LINE, CHUNK_DATA, CHUNK_DATA_END, CHUNK_LAST,
                   CHUNK_TRAILER, CHUNK_DONE };

/* A chunked body's framing as it is taken out (http_dechunk). */
struct dechunker {
    uint8_t state;  /* enum chunk_state: where in the chunk framing the next byte is */
    uint32_t left;  /* bytes of the current chunk's data still to come, or its size so far */
};

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
    struct dechunker dc; /* http://, a chunked body: its framing */
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
    bool hls;       /* http://...m3u8: HLS viewers (ezrload_hls.c) */
    bool hls_plain; /* -P: whole segments only, even from an LL-HLS playlist */
    bool hls_listed; /* -L: LL-HLS parts only once a playlist lists them (hls.js 1.7.4's way) */
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

extern struct options opt;
extern struct totals tot;
extern struct lags video_lags, audio_lags;
extern uint64_t lag_from_us;  /* frames arriving before this are not counted */
extern bool has_newest_ts;
extern uint32_t newest_video_ts; /* over every player */
extern struct player *players;
extern int epfd;
extern bool draining; /* the run is over; only stalled players still read */
extern uint8_t rbuf[READ_BUF]; /* the one read buffer every player reads into */
extern SSL_CTX *tls_ctx;

/* ezrload.c */
uint64_t now_us(void);

/* ezrload_proto.c: how a player speaks RTMP (plain or inside TLS) and HTTP-FLV. */
void player_close(struct player *p, bool by_server);
bool streaming(const struct player *p);
void read_stream(struct player *p);
void on_event(struct player *p, uint32_t ev);
/* Takes the chunk framing out of the len bytes at b, in place (the data only moves down).
 * Returns how many bytes of the body are now at b, or -1 for a chunk too large to be one of ours
 * (a framing we misread); *used (if not NULL) is how many of the len bytes were framing or data,
 * less than len once the body ended (d->state CHUNK_DONE). The framing may be split anywhere
 * between calls: d carries it over. */
ssize_t http_dechunk(struct dechunker *d, uint8_t *b, size_t len, size_t *used);

/* ezrload_hls.c: HLS viewers. */
int hls_setup(const struct addrinfo *ai);
void hls_open(struct player *p);
void hls_event(void *conn, uint32_t ev);
void hls_tick(void);
void hls_close_all(void);
void hls_report(double duration_s);

/* ezrload_media.c: what a player measures of the media it gets, and the report. */
void on_video(struct player *p, const struct ezr_chunk_msg *m, uint64_t t);
void on_audio(struct player *p, const struct ezr_chunk_msg *m, uint64_t t);
void note_end_gaps(void);
void report(double duration_s);

#endif
