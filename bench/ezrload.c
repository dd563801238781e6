/* ezrload: N RTMP, HTTP-FLV or HLS players on one epoll loop, for benchmarking media servers.
 *
 *   ezrload [-n N] [-r PER_SECOND] [-d SECONDS] [-k STALLED] [-g GAP_MS] [-f FPS] [-j] [-t]
 *           [-P | -L]
 *           URL
 *
 * URL is rtmp://HOST:PORT/APP/STREAM, rtmps://... (or -t) for RTMP inside TLS, or
 * http://HOST:PORT/APP/STREAM.flv for HTTP-FLV players, or http://HOST:PORT/PATH.m3u8 for HLS
 * viewers (see below).
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
 * HLS (http://HOST:PORT/PATH.m3u8[?QUERY], ezrload_hls.c): N viewers of the playlist. LL-HLS when
 * the playlist has parts and blocking reloads (the element's): blocking reloads and every part
 * from the hinted one on, each hinted part asked for before it is complete (as the spec's
 * EXT-X-PRELOAD-HINT invites; hls.js 1.7.4 does not: -L asks for a part only once a playlist lists
 * it, as hls.js does), on two keep-alive connections per viewer (playlist, media). Plain HLS (a
 * playlist of segments: nginx-rtmp's hls, SRS, hlssink2's files behind a web server; or -P for
 * any): one keep-alive connection per viewer, the playlist every half target duration and every
 * new segment. The report is one JSON object (ezrload_hls_report.c: bytes, requests, errors,
 * latency of each part or segment by its program date-time, the blocked viewers' delays, per
 * viewer figures).
 * EZRLOAD_TRACE=1 in the environment prints every answer (viewer, target, status, sent and
 * arrived ms from the viewer's start) on stderr. -k (stalled) is for RTMP and HTTP-FLV only.
 *
 *   ezrload -n 1000 -d 30 -j http://127.0.0.1:8080/live/stream/index.m3u8      (LL-HLS)
 *   ezrload -n 1000 -d 30 -j http://127.0.0.1:8080/hls/stream.m3u8             (plain HLS)
 *
 * One thread, one epoll set (edge-triggered), one 256 KiB read buffer shared by every player;
 * per player only its state and the chunk reader's (see struct player). The library's chunk
 * reader and AMF0 code parse what comes in. */
#include "ezrload.h"

struct options opt;
struct totals tot;
struct lags video_lags, audio_lags;
uint64_t lag_from_us;
bool has_newest_ts;
uint32_t newest_video_ts;
struct player *players;
int epfd;
bool draining;
uint8_t rbuf[READ_BUF];
SSL_CTX *tls_ctx;
static volatile sig_atomic_t stop_requested; /* SIGTERM or SIGINT: end the run now */

uint64_t now_us(void)
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
    size_t path_len = strcspn(opt.path, "?");
    opt.hls = opt.http && path_len >= 5 && strncmp(opt.path + path_len - 5, ".m3u8", 5) == 0;
    return 0;
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
    if (opt.hls) {
        hls_open(p);
        return;
    }
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
        int k = epoll_wait(epfd, evs, 1024, opt.hls ? 1 : 5);
        for (int i = 0; i < k; i++) {
            if (opt.hls)
                hls_event(evs[i].data.ptr, evs[i].events);
            else
                on_event(evs[i].data.ptr, evs[i].events);
        }
        if (opt.hls)
            hls_tick();
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

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: ezrload [-n PLAYERS] [-r PER_SECOND] [-d SECONDS] [-k STALLED] "
                    "[-g GAP_MS] [-f FPS] [-j] [-t] [-P | -L] URL\n"
                    "  URL: rtmp[s]://HOST:PORT/APP/STREAM, or http://HOST:PORT/APP/STREAM.flv "
                    "(HTTP-FLV), or http://HOST:PORT/PATH.m3u8[?QUERY] (HLS: LL-HLS when the "
                    "playlist has parts and blocking reloads, else plain HLS)\n"
                    "  -t or rtmps://: RTMP inside TLS (the certificate is not verified)\n"
                    "  -P: HLS viewers play whole segments, polling the playlist, even from an "
                    "LL-HLS playlist\n"
                    "  -L: LL-HLS viewers ask for a part only once a playlist lists it, as hls.js "
                    "1.7.4 does (by default each hinted part is asked for before it is "
                    "complete)\n");
    return 2;
}

int main(int argc, char **argv)
{
    opt.n = 100;
    opt.rate = 2000;
    opt.seconds = 10;
    opt.gap_ms = 500;
    int c;
    while ((c = getopt(argc, argv, "n:r:d:k:g:f:jtPL")) != -1) {
        switch (c) {
        case 'n': opt.n = atoi(optarg); break;
        case 'r': opt.rate = atoi(optarg); break;
        case 'd': opt.seconds = atoi(optarg); break;
        case 'k': opt.stalled = atoi(optarg); break;
        case 'g': opt.gap_ms = atoi(optarg); break;
        case 'f': opt.fps = atoi(optarg); break;
        case 'j': opt.json = true; break;
        case 't': opt.tls = true; break;
        case 'P': opt.hls_plain = true; break;
        case 'L': opt.hls_listed = true; break;
        default: return usage();
        }
    }
    if (optind != argc - 1 || opt.n < 1 || opt.rate < 1 || opt.seconds < 0 || opt.stalled < 0 ||
        opt.stalled > opt.n || opt.gap_ms < 1 || opt.fps < 0 || parse_url(argv[optind]) < 0 ||
        (opt.http && opt.tls) || (opt.hls && opt.stalled) ||
        ((opt.hls_plain || opt.hls_listed) && !opt.hls) || (opt.hls_plain && opt.hls_listed))
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
    if (!ai || epfd < 0 || !players || (opt.hls && hls_setup(ai) < 0)) {
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
    if (opt.hls) {
        hls_report(duration);
        hls_close_all();
    } else {
        report(duration);
    }
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
