/* ezrload: HLS viewers (a URL ending in .m3u8), for the element's LL-HLS and for the peers' plain
 * HLS (MPEG-TS or fMP4 segments), played as the players do.
 *
 * LL-HLS (the playlist has EXT-X-PART-INF and CAN-BLOCK-RELOAD=YES, and -P is not given), as
 * players in low-latency mode play it: GET the playlist; then blocking reloads, each asking for
 * the part after the last one listed (_HLS_msn=M&_HLS_part=P, and _HLS_skip=YES when the playlist
 * offers delta updates, CAN-SKIP-UNTIL); the init segment once (EXT-X-MAP); and every part from
 * the one the first playlist hints at (EXT-X-PRELOAD-HINT) on, each hinted part asked for before
 * it is complete, the rest as soon as a playlist lists them. hls.js 1.7.4 reads the hint but never
 * asks for it: it asks for a part once a blocking reload's answer lists it (seen in its request
 * log, bench/hls_peers.py --verbose). -L plays so: every part once listed, from the newest listed
 * in the first playlist on; a part then goes out whole, where a hinted part is written frame by
 * frame as it is made. A viewer has two HTTP/1.1 keep-alive connections, as a browser gives
 * hls.js's playlist and fragment loaders: one for the playlist, one for the media, each with one
 * request at a time. Two matter behind a cache: the blocking reload and the hinted part of one
 * part are both asked for before the part exists, so a cache that holds the many requests for one
 * URL behind the first (nginx's proxy_cache_lock) has both in flight for the same time, not one
 * after the other.
 *
 * Plain HLS (a playlist without parts, or -P): one keep-alive connection; the playlist every half
 * target duration (as hls.js reloads a live playlist that did not change), the init segment once
 * if there is one, and every segment from the last one the first playlist lists on, in order.
 *
 * A response is counted when its last byte is in (its arrival): the kernel's receive time of the
 * last bytes read (SO_TIMESTAMPNS), so that a burst of answers is timed as it reached the viewers'
 * sockets, not as this one thread got round to reading a thousand of them (in a burst of 1,000
 * blocking reloads answered within 13-17 ms, reading them took 30-50 ms). Each viewer counts
 * requests, errors (an answer other than 200, a connection that failed) and bytes (heads
 * included), and every part or segment it received with when it arrived; see
 * ezrload_hls_report.c for the figures made of them. A connection the server closes between
 * answers (keep-alive ends) is opened again and the request sent again (a reconnect, not an
 * error). */
#include "ezrload_hls.h"

#include <ctype.h>

#define HLS_MAX_ITEMS 48    /* the tail of the newest playlist a viewer keeps: ~20 s of 200 ms
                             * parts listed, more than the spec lists (3 target durations) */
#define HLS_URI_MAX 160     /* a URI in a playlist (ours are ~30 bytes, the peers' under 100) */
#define HLS_HEAD_MAX 2048   /* a response head (nginx's and ours are ~300 bytes) */
#define HLS_PLAYLIST_MAX (1u << 20)
#define HLS_RETRY_MS 200    /* after an error, the playlist is asked for again this much later */
#define HLS_TICK_US 2000    /* how often timed actions (plain reloads, retries) are looked at */

enum hc_state { HC_CLOSED, HC_CONNECTING, HC_IDLE, HC_HEAD, HC_BODY };
enum hc_req { HR_NONE, HR_PLAYLIST, HR_INIT, HR_MEDIA };

struct item {
    uint64_t msn;
    uint32_t index; /* HLS_SEGMENT for a segment */
    char uri[HLS_URI_MAX];
};

struct viewer;

/* One HTTP/1.1 connection of a viewer, one request at a time. */
struct hconn {
    struct viewer *v;
    int fd;
    uint8_t state, req; /* enum hc_state, enum hc_req */
    bool chunked, until_close, close_after, blocking, connected_once;
    int status;
    uint64_t msn;   /* what the request is for: a part or segment, or the part a reload asks for */
    uint32_t index;
    int64_t sent_us, wake_us; /* wake_us: when an idle connection acts next (0: when told) */
    uint64_t body_left;
    struct dechunker dc;
    struct ezr_buf body; /* a playlist's body */
    uint32_t head_len;
    char head[HLS_HEAD_MAX];
    char target[HLS_URI_MAX + 700]; /* the request in flight, sent again after a reconnect */
};

struct viewer {
    int id;
    struct hconn pl, media; /* plain HLS: pl only */
    bool decided, started, have_init, ended, can_skip, has_hint;
    uint32_t target_ms;
    uint64_t last_msn, hint_msn; /* last_*: the last part or segment asked for */
    uint32_t last_index, hint_index;
    char hint_uri[HLS_URI_MAX], map_uri[HLS_URI_MAX];
    struct item items[HLS_MAX_ITEMS]; /* listed in the newest playlist, in order */
    int nitems;
    int64_t next_poll_us, start_us;
    struct hls_counts c;
};

static struct viewer *viewers;
static const struct addrinfo *hls_ai;
static char base_dir[600]; /* the playlist's directory, with its '/' */
static int64_t last_tick_us;

int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const struct hls_counts *hls_counts_of(int viewer)
{
    return &viewers[viewer].c;
}

static int key_cmp(uint64_t am, uint32_t ai, uint64_t bm, uint32_t bi)
{
    return am != bm ? (am < bm ? -1 : 1) : ai != bi ? (ai < bi ? -1 : 1) : 0;
}

/* ---- connections -------------------------------------------------------------------------- */

static void act(struct viewer *v);

static void hc_close(struct hconn *h)
{
    if (h->state == HC_CLOSED)
        return;
    epoll_ctl(epfd, EPOLL_CTL_DEL, h->fd, NULL);
    close(h->fd);
    h->fd = -1;
    h->state = HC_CLOSED;
}

static void hc_open(struct hconn *h)
{
    h->fd = socket(hls_ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (h->fd < 0) {
        h->v->c.errors++;
        h->wake_us = wall_us() + HLS_RETRY_MS * 1000;
        return;
    }
    int one = 1;
    setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(h->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one); /* see read_stamped */
    h->state = HC_CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = h};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, h->fd, &ev) < 0 ||
        (connect(h->fd, hls_ai->ai_addr, hls_ai->ai_addrlen) < 0 && errno != EINPROGRESS)) {
        close(h->fd);
        h->fd = -1;
        h->state = HC_CLOSED;
        h->v->c.errors++;
        h->wake_us = wall_us() + HLS_RETRY_MS * 1000;
    }
}

/* Writes the request in h->target; a socket that cannot take a few hundred bytes at once has
 * failed. */
static void hc_write(struct hconn *h)
{
    char req[sizeof h->target + 200];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: ezrload\r\nAccept: */*\r\n\r\n",
                     h->target, opt.host, opt.port);
    ssize_t w;
    do
        w = write(h->fd, req, (size_t)n);
    while (w < 0 && errno == EINTR);
    h->state = HC_HEAD;
    h->head_len = 0;
    if (w != n) {
        h->v->c.errors++;
        hc_close(h);
        h->wake_us = wall_us() + HLS_RETRY_MS * 1000;
    }
}

/* Starts a request on h (opening the connection if it is closed); req and target say what. */
static void hc_request(struct hconn *h, uint8_t req, const char *target, uint64_t msn,
                       uint32_t index, bool blocking)
{
    h->req = req;
    h->msn = msn;
    h->index = index;
    h->blocking = blocking;
    h->wake_us = 0;
    snprintf(h->target, sizeof h->target, "%s", target);
    h->sent_us = wall_us();
    h->v->c.requests++;
    if (h->state == HC_CLOSED)
        hc_open(h);
    else if (h->state == HC_IDLE)
        hc_write(h);
}

/* The path to ask for a URI of the playlist: absolute ones as they are (a full URL's path: the
 * load goes to the one server), relative ones from the playlist's directory. */
static void resolve(const char *uri, char *out, size_t cap)
{
    if (strncmp(uri, "http://", 7) == 0) {
        const char *path = strchr(uri + 7, '/');
        snprintf(out, cap, "%s", path ? path : "/");
    } else if (uri[0] == '/') {
        snprintf(out, cap, "%s", uri);
    } else {
        snprintf(out, cap, "%s%s", base_dir, uri);
    }
}

static void request_media(struct viewer *v, struct hconn *h, uint8_t req, const char *uri,
                          uint64_t msn, uint32_t index, bool blocking)
{
    char target[sizeof h->target];
    resolve(uri, target, sizeof target);
    hc_request(h, req, target, msn, index, blocking);
    if (req == HR_MEDIA) {
        v->last_msn = msn;
        v->last_index = index;
        v->started = true;
    }
}

/* The playlist; with a part to wait for (blocking), a blocking reload for it. */
static void request_playlist(struct viewer *v, bool blocking)
{
    char target[sizeof v->pl.target];
    char sep = strchr(opt.path, '?') ? '&' : '?';
    if (blocking)
        snprintf(target, sizeof target, "%s%c_HLS_msn=%" PRIu64 "&_HLS_part=%u%s", opt.path, sep,
                 v->hint_msn, v->hint_index, v->can_skip ? "&_HLS_skip=YES" : "");
    else
        snprintf(target, sizeof target, "%s", opt.path);
    hc_request(&v->pl, HR_PLAYLIST, target, v->hint_msn, v->hint_index, blocking);
}

/* ---- playlists ---------------------------------------------------------------------------- */

/* An attribute's value in a tag line (quotes taken off), copied into out; false if absent. */
static bool attr(const char *line, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *s = strchr(line, ':'); s && *s; s++) {
        if ((*s == ':' || *s == ',') && strncmp(s + 1, name, nl) == 0 && s[1 + nl] == '=') {
            const char *val = s + 2 + nl;
            size_t len = *val == '"' ? strcspn(++val, "\"") : strcspn(val, ",");
            snprintf(out, cap, "%.*s", (int)len, val);
            return true;
        }
    }
    return false;
}

/* EXT-X-PROGRAM-DATE-TIME (2026-12-06T19:35:12.345Z, or with +hh:mm) in Unix us; -1 if not. */
static int64_t parse_date(const char *s)
{
    struct tm tm = {0};
    double sec = 0;
    int consumed = 0;
    if (sscanf(s, "%d-%d-%dT%d:%d:%lf%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &sec, &consumed) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t t = (int64_t)timegm(&tm) * 1000000 + (int64_t)(sec * 1e6 + 0.5);
    const char *z = s + consumed;
    int zh = 0, zm = 0;
    if ((*z == '+' || *z == '-') && sscanf(z + 1, "%2d:%2d", &zh, &zm) >= 1)
        t -= (*z == '+' ? 1 : -1) * ((int64_t)zh * 3600 + zm * 60) * 1000000;
    return t;
}

static void add_item(struct viewer *v, uint64_t msn, uint32_t index, const char *uri)
{
    if (v->nitems == HLS_MAX_ITEMS) {
        memmove(&v->items[0], &v->items[1], sizeof v->items[0] * (HLS_MAX_ITEMS - 1));
        v->nitems--;
    }
    struct item *it = &v->items[v->nitems++];
    it->msn = msn;
    it->index = index;
    snprintf(it->uri, sizeof it->uri, "%s", uri);
}

/* Reads a playlist that arrived at at_us into v: what it lists (parts for LL-HLS, segments for
 * plain HLS), the preload hint, the map, whether it ended; and notes every part and segment's end
 * by date and that it was listed by now. */
static void parse_playlist(struct viewer *v, char *text, int64_t at_us)
{
    bool part_inf = false, can_block = false;
    uint64_t msn = 0;
    uint32_t index = 0;
    int64_t pdt = -1, offset = 0, seg_dur = 0;
    char val[HLS_URI_MAX];
    v->nitems = 0;
    v->has_hint = false;
    for (char *line = strtok(text, "\r\n"); line; line = strtok(NULL, "\r\n")) {
        if (strncmp(line, "#EXT-X-TARGETDURATION:", 22) == 0) {
            v->target_ms = (uint32_t)atoi(line + 22) * 1000u;
        } else if (strncmp(line, "#EXT-X-PART-INF:", 16) == 0) {
            part_inf = true;
        } else if (strncmp(line, "#EXT-X-SERVER-CONTROL:", 22) == 0) {
            can_block = strstr(line, "CAN-BLOCK-RELOAD=YES") != NULL;
            v->can_skip = strstr(line, "CAN-SKIP-UNTIL=") != NULL;
        } else if (strncmp(line, "#EXT-X-MEDIA-SEQUENCE:", 22) == 0) {
            msn = strtoull(line + 22, NULL, 10);
        } else if (strncmp(line, "#EXT-X-SKIP:", 12) == 0 && attr(line, "SKIPPED-SEGMENTS", val,
                                                                    sizeof val)) {
            msn += strtoull(val, NULL, 10);
        } else if (strncmp(line, "#EXT-X-MAP:", 11) == 0 && attr(line, "URI", val, sizeof val)) {
            snprintf(v->map_uri, sizeof v->map_uri, "%s", val);
        } else if (strncmp(line, "#EXT-X-PROGRAM-DATE-TIME:", 25) == 0) {
            pdt = parse_date(line + 25);
            offset = 0;
        } else if (strncmp(line, "#EXT-X-PART:", 12) == 0) {
            int64_t dur = attr(line, "DURATION", val, sizeof val) ? (int64_t)(atof(val) * 1e6)
                                                                  : 0;
            offset += dur;
            if (attr(line, "URI", val, sizeof val) && !opt.hls_plain) {
                if (pdt >= 0)
                    hls_note_end(msn, index, pdt + offset);
                hls_note_announced(msn, index, at_us);
                add_item(v, msn, index, val);
            }
            index++;
        } else if (strncmp(line, "#EXTINF:", 8) == 0) {
            seg_dur = (int64_t)(atof(line + 8) * 1e6);
        } else if (strncmp(line, "#EXT-X-PRELOAD-HINT:", 20) == 0) {
            if (strstr(line, "TYPE=PART") && attr(line, "URI", val, sizeof val)) {
                v->has_hint = true;
                v->hint_msn = msn;
                v->hint_index = index;
                snprintf(v->hint_uri, sizeof v->hint_uri, "%s", val);
            }
        } else if (strncmp(line, "#EXT-X-ENDLIST", 14) == 0) {
            v->ended = true;
        } else if (line[0] != '#' && !isspace((unsigned char)line[0])) {
            if (pdt >= 0)
                hls_note_end(msn, HLS_SEGMENT, pdt + seg_dur);
            hls_note_announced(msn, HLS_SEGMENT, at_us);
            if (!part_inf || opt.hls_plain)
                add_item(v, msn, HLS_SEGMENT, line);
            msn++;
            index = 0;
            pdt = pdt >= 0 ? pdt + seg_dur : -1;
            offset = 0;
        }
    }
    if (!v->decided) {
        v->decided = true;
        v->c.ll = part_inf && can_block && !opt.hls_plain;
        if (!v->c.ll && v->nitems) { /* from the newest segment on */
            v->last_msn = v->items[v->nitems - 1].msn - 1;
            v->last_index = HLS_SEGMENT;
            v->started = v->items[v->nitems - 1].msn > 0;
        }
    }
    if (!v->c.ll)
        v->has_hint = false;
}

/* ---- what a viewer does next -------------------------------------------------------------- */

/* The first listed item after the last one asked for, or NULL. */
static const struct item *next_item(const struct viewer *v)
{
    for (int i = 0; i < v->nitems; i++)
        if (!v->started ||
            key_cmp(v->items[i].msn, v->items[i].index, v->last_msn, v->last_index) > 0)
            return &v->items[i];
    return NULL;
}

static bool idle(const struct hconn *h)
{
    return (h->state == HC_IDLE || h->state == HC_CLOSED) && h->req == HR_NONE && !h->wake_us;
}

/* LL-HLS: the media connection, when it has nothing to do: the init segment, then the next part
 * listed, else the hinted part (not with -L: the newest listed part to begin with). */
static void act_ll_media(struct viewer *v)
{
    struct hconn *h = &v->media;
    if (!idle(h))
        return;
    if (!v->have_init && v->map_uri[0]) {
        request_media(v, h, HR_INIT, v->map_uri, 0, 0, false);
        return;
    }
    const struct item *it = v->started ? next_item(v) : NULL;
    if (!v->started && opt.hls_listed && v->nitems)
        it = &v->items[v->nitems - 1];
    if (it)
        request_media(v, h, HR_MEDIA, it->uri, it->msn, it->index, false);
    else if (!opt.hls_listed && v->has_hint &&
             (!v->started ||
              key_cmp(v->hint_msn, v->hint_index, v->last_msn, v->last_index) > 0))
        request_media(v, h, HR_MEDIA, v->hint_uri, v->hint_msn, v->hint_index, true);
}

/* Plain HLS, on its one connection: the playlist when its reload is due, else the init segment,
 * else the next segment; else it waits for the reload. */
static void act_plain(struct viewer *v)
{
    struct hconn *h = &v->pl;
    if ((h->state != HC_IDLE && h->state != HC_CLOSED) || h->req != HR_NONE)
        return;
    int64_t now = wall_us();
    if (h->wake_us && now < h->wake_us)
        return;
    const struct item *it = next_item(v);
    if (now >= v->next_poll_us && !v->ended)
        request_playlist(v, false);
    else if (!v->have_init && v->map_uri[0])
        request_media(v, h, HR_INIT, v->map_uri, 0, 0, false);
    else if (it)
        request_media(v, h, HR_MEDIA, it->uri, it->msn, it->index, false);
    else if (!v->ended)
        h->wake_us = v->next_poll_us;
}

static void act(struct viewer *v)
{
    if (!v->decided)
        return;
    if (!v->c.ll) {
        act_plain(v);
        return;
    }
    if (idle(&v->pl) && !v->ended) {
        if (v->has_hint)
            request_playlist(v, true);
        else /* a live playlist without a hint: asked for again a while later */
            v->pl.wake_us = wall_us() + HLS_RETRY_MS * 1000;
    }
    act_ll_media(v);
}

/* ---- responses ---------------------------------------------------------------------------- */

static void on_playlist(struct viewer *v, struct hconn *h, int64_t at)
{
    if (h->status != 200) {
        v->c.errors++;
        v->has_hint = false; /* the next is a plain request, a while later */
        h->wake_us = at + HLS_RETRY_MS * 1000;
        return;
    }
    if (!v->c.playing) {
        v->c.playing = true;
        players[v->id].playing = true;
    }
    if (h->blocking)
        hls_note_received(v->id, REC_PLAYLIST, h->msn, h->index, h->sent_us, at, true);
    ezr_buf_append(&h->body, "", 1); /* NUL-terminated */
    if (!ezr_buf_failed(&h->body))
        parse_playlist(v, (char *)h->body.data, at);
    if (!v->c.ll) /* half a target duration from this request, as a player reloads */
        v->next_poll_us = h->sent_us + (int64_t)(v->target_ms ? v->target_ms : 2000) * 500;
}

/* When the bytes being fed arrived (read_stamped). */
static int64_t read_at_us;

/* read(), noting in read_at_us when the last of the bytes read reached the socket: TCP gives the
 * receive time of the last segment a recvmsg takes from the queue. Without it, the time now. */
static ssize_t read_stamped(int fd, void *buf, size_t cap)
{
    struct iovec iov = {.iov_base = buf, .iov_len = cap};
    union {
        char buf[CMSG_SPACE(sizeof(struct timespec))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    ssize_t r = recvmsg(fd, &msg, 0);
    if (r == 0)
        read_at_us = wall_us(); /* an answer ended by the close ends now */
    if (r <= 0)
        return r;
    int64_t at = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            at = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        }
    }
    read_at_us = at ? at : wall_us();
    return r;
}

static void on_response(struct hconn *h)
{
    struct viewer *v = h->v;
    int64_t at = read_at_us ? read_at_us : wall_us();
    uint8_t req = h->req;
    if (getenv("EZRLOAD_TRACE"))
        fprintf(stderr, "trace %d %s %d %.1f %.1f\n", v->id, h->target, h->status,
                (double)(h->sent_us - v->start_us) / 1000.0, (double)(at - v->start_us) / 1000.0);
    h->req = HR_NONE;
    h->state = HC_IDLE;
    if (h->close_after || h->until_close)
        hc_close(h);
    if (req == HR_PLAYLIST) {
        on_playlist(v, h, at);
    } else if (h->status != 200) {
        v->c.errors++; /* that part or segment is skipped */
    } else if (req == HR_INIT) {
        v->have_init = true;
    } else {
        hls_note_received(v->id, REC_MEDIA, h->msn, h->index, h->sent_us, at, h->blocking);
        if (h->index != HLS_SEGMENT)
            hls_note_announced(h->msn, h->index, at);
        if (v->c.first_media_ms < 0)
            v->c.first_media_ms = (at - v->start_us) / 1000;
    }
    ezr_buf_free(&h->body);
    act(v);
}

/* The head in h->head (head_len bytes, ending in the blank line): status and body framing. */
static void on_head(struct hconn *h)
{
    h->head[h->head_len - 1] = '\0';
    h->status = 0;
    sscanf(h->head, "HTTP/1.%*1[01] %3d", &h->status);
    h->chunked = h->close_after = false;
    h->until_close = true;
    h->body_left = 0;
    memset(&h->dc, 0, sizeof h->dc);
    ezr_buf_init(&h->body);
    for (char *line = strchr(h->head, '\n'); line; line = strchr(line, '\n')) {
        line++;
        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            h->body_left = strtoull(line + 15, NULL, 10);
            h->until_close = false;
        } else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 && strstr(line, "chunked")) {
            h->chunked = true;
            h->until_close = false;
        } else if (strncasecmp(line, "Connection:", 11) == 0 && strstr(line, "close")) {
            h->close_after = true;
        }
    }
    h->state = HC_BODY;
}

/* What was read on h: heads and bodies, possibly several answers' worth, or fewer. Returns false
 * when the bytes cannot be read as answers (the connection is closed then). */
static bool feed(struct hconn *h, uint8_t *b, size_t len)
{
    size_t off = 0;
    while (off < len) {
        if (h->state == HC_HEAD) {
            size_t room = sizeof h->head - h->head_len, n = len - off < room ? len - off : room;
            memcpy(h->head + h->head_len, b + off, n);
            size_t from = h->head_len > 3 ? h->head_len - 3 : 0;
            h->head_len += (uint32_t)n;
            char *end = memmem(h->head + from, h->head_len - from, "\r\n\r\n", 4);
            if (!end) {
                if (h->head_len == sizeof h->head)
                    return false;
                return true;
            }
            size_t head_len = (size_t)(end - h->head) + 4;
            off += head_len - (h->head_len - n);
            h->head_len = (uint32_t)head_len;
            on_head(h);
            if (!h->chunked && !h->until_close && !h->body_left)
                on_response(h);
        } else if (h->state == HC_BODY) {
            size_t used, n;
            if (h->chunked) {
                ssize_t got = http_dechunk(&h->dc, b + off, len - off, &used);
                if (got < 0)
                    return false;
                n = (size_t)got;
            } else {
                n = used = h->until_close || len - off < h->body_left ? len - off
                                                                      : (size_t)h->body_left;
                h->body_left -= n;
            }
            if (h->req == HR_PLAYLIST && h->body.len + n <= HLS_PLAYLIST_MAX)
                ezr_buf_append(&h->body, b + off, n);
            off += used;
            if (h->chunked ? h->dc.state == CHUNK_DONE : !h->until_close && !h->body_left)
                on_response(h);
        } else {
            return false; /* bytes nobody asked for */
        }
        if (h->state == HC_CLOSED)
            return true;
    }
    return true;
}

/* The connection ended (or failed) while h->req was in flight, or idle. */
static void on_ended(struct hconn *h)
{
    struct viewer *v = h->v;
    if (h->state == HC_BODY && h->until_close) {
        on_response(h);
        return;
    }
    bool quiet = h->state == HC_IDLE || (h->state == HC_HEAD && h->head_len == 0);
    hc_close(h);
    if (h->req == HR_NONE)
        return;
    ezr_buf_free(&h->body);
    if (quiet && h->connected_once) {
        v->c.reconnects++; /* keep-alive ended before the answer began: ask again */
        hc_open(h);
    } else {
        v->c.errors++;
        h->wake_us = wall_us() + HLS_RETRY_MS * 1000;
    }
}

void hls_event(void *ptr, uint32_t ev)
{
    struct hconn *h = ptr;
    if (h->state == HC_CONNECTING && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t elen = sizeof err;
        getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
        bool first = h == &h->v->pl && !h->connected_once;
        if (err) {
            if (first)
                tot.connect_failed++;
            h->v->c.errors++;
            hc_close(h);
            h->wake_us = wall_us() + HLS_RETRY_MS * 1000;
            return;
        }
        if (first)
            tot.connected++;
        h->connected_once = true;
        h->state = HC_IDLE;
        if (h->req != HR_NONE)
            hc_write(h);
    }
    if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) || h->state == HC_CLOSED ||
        h->state == HC_CONNECTING)
        return;
    for (;;) {
        ssize_t r = read_stamped(h->fd, rbuf, sizeof rbuf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            on_ended(h);
            return;
        }
        tot.bytes += (uint64_t)r;
        if (!feed(h, rbuf, (size_t)r)) {
            fprintf(stderr, "ezrload: viewer %d: an answer that is not HTTP/1.1\n", h->v->id);
            h->state = HC_HEAD; /* not quiet: an error, asked again later */
            h->head_len = 1;
            on_ended(h);
            return;
        }
        if (h->state == HC_CLOSED || (size_t)r < sizeof rbuf)
            return; /* edge-triggered: a short read emptied the socket */
    }
}

/* ---- the viewers -------------------------------------------------------------------------- */

int hls_setup(const struct addrinfo *ai)
{
    hls_ai = ai;
    const char *q = strchr(opt.path, '?');
    size_t path_len = q ? (size_t)(q - opt.path) : strlen(opt.path);
    const char *slash = memrchr(opt.path, '/', path_len);
    snprintf(base_dir, sizeof base_dir, "%.*s", (int)(slash - opt.path) + 1, opt.path);
    viewers = calloc((size_t)opt.n, sizeof *viewers);
    return viewers ? 0 : -1;
}

void hls_open(struct player *p)
{
    struct viewer *v = &viewers[p - players];
    v->id = (int)(p - players);
    v->start_us = wall_us();
    v->c.first_media_ms = -1;
    v->pl = (struct hconn){.v = v, .fd = -1};
    v->media = (struct hconn){.v = v, .fd = -1};
    p->state = HLS_VIEWER;
    p->fd = -1;
    request_playlist(v, false);
}

void hls_tick(void)
{
    int64_t now = wall_us();
    if (now - last_tick_us < HLS_TICK_US)
        return;
    last_tick_us = now;
    for (int i = 0; i < opt.n; i++) {
        struct viewer *v = &viewers[i];
        if (players[i].state != HLS_VIEWER)
            continue;
        bool due = false;
        for (struct hconn *h = &v->pl; h <= &v->media; h++) {
            if (!h->wake_us || now < h->wake_us)
                continue;
            h->wake_us = 0;
            due = true;
            if (h->req != HR_NONE && h->state == HC_CLOSED) { /* after an error: again */
                char target[sizeof h->target];
                memcpy(target, h->target, sizeof target);
                hc_request(h, h->req, target, h->msn, h->index, h->blocking);
            } else if (h == &v->pl && (!v->decided || v->c.ll)) {
                request_playlist(v, v->decided && v->has_hint);
            }
        }
        if (due)
            act(v);
    }
}

void hls_close_all(void)
{
    for (int i = 0; viewers && i < opt.n; i++) {
        hc_close(&viewers[i].pl);
        hc_close(&viewers[i].media);
        ezr_buf_free(&viewers[i].pl.body);
        ezr_buf_free(&viewers[i].media.body);
        players[i].state = CLOSED;
    }
    free(viewers);
    viewers = NULL;
}
