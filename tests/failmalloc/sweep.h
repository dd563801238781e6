/* The failing-allocator sweep: scenarios that drive a real server over loopback sockets, run
 * again and again with one allocation of the library made to fail (sweep.c), and the players
 * they use (viewer.c). The test's own thread is exempt from the injector; it enters the library
 * through LIB(), which counts the call's allocations as the library's. */
#ifndef FM_SWEEP_H
#define FM_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "ezr_alloc.h"
#include "ezr_server.h"
#include "server_fixture.h"

/* ---- entering the library --------------------------------------------------------------- */

static inline void lib_enter(void)
{
    ezr_failmalloc_exempt_thread(false);
}
static inline int lib_leave(int rc)
{
    ezr_failmalloc_exempt_thread(true);
    return rc;
}
/* An int-returning library call whose allocations count. */
#define LIB(call) (lib_enter(), lib_leave(call))

/* ---- players ---------------------------------------------------------------------------- */

enum viewer_kind { VIEW_RTMP, VIEW_HTTP_FLV, VIEW_WS_FLV, VIEW_HTTPS_FLV };

/* What a wait ended with. */
enum view_result { VIEW_TIMEOUT = -1, VIEW_CLOSED = 0, VIEW_GOT = 1 };

struct viewer {
    enum viewer_kind kind;
    bool open;             /* neither closed by the server nor by us */
    bool closed_by_server; /* seen closed (EOF, reset, an HTTP refusal, a close frame) */
    struct player rtmp;
    int fd;
    SSL *ssl;
    uint8_t raw[1 << 17]; /* bytes read, not yet parsed (HTTP head, WebSocket frames) */
    size_t rawlen;
    uint8_t flv[1 << 17]; /* the FLV byte stream */
    size_t flvlen;
    int stage; /* HTTP: 0 head, 1 FLV header, 2 tags */
};

/* Connects and asks to play live/NAME (rtmp, http-flv, ws-flv or https-flv). Returns VIEW_GOT
 * once asked (TLS: after the handshake), VIEW_CLOSED if the server closed it first, VIEW_TIMEOUT
 * if it neither answered nor closed by the deadline. viewer_close() is needed in every case. */
int viewer_open(struct viewer *v, enum viewer_kind kind, uint16_t port, const char *name,
                uint64_t deadline);
/* Waits for the next video frame (its push mark in *mark). */
int viewer_video(struct viewer *v, uint8_t *mark, uint64_t deadline);
/* Skips to the video frame marked mark. */
int viewer_until(struct viewer *v, uint8_t mark, uint64_t deadline);
void viewer_close(struct viewer *v);
/* A viewer not opened, which viewer_close() leaves alone. */
void viewer_init(struct viewer *v);
/* SSL_CTX for the TLS viewers (made once, exempt). */
void viewer_tls_init(void);
void viewer_tls_free(void);
/* GET path over plain HTTP: the answer up to the close into out (NUL-terminated); its length,
 * or -1 on timeout. */
long http_get(uint16_t port, const char *path, char *out, size_t cap, uint64_t deadline);

/* ---- an LL-HLS viewer (hls_viewer.c) ----------------------------------------------------- */

/* An answer as far as it came: its head, its body (chunked bodies joined), its chunks. */
struct hls_answer {
    int status; /* 0: not an HTTP answer */
    char type[64];
    bool chunked;
    long long length; /* Content-Length, -1: none */
    size_t chunks;
    uint8_t body[1 << 16]; /* the first bytes of a longer body, NUL-terminated */
    size_t body_len;       /* the whole body's */
};

/* What a request must be answered with: 200 and its Content-Type, and the body's first box
 * (box), or a playlist listing a part (part: "-MSN.INDEX.m4s"), or a body that came chunked. */
struct hls_expect {
    char path[160];
    const char *box;
    char part[32];
    bool chunked;
};

#define HLS_MAX_ASKED 8

/* One keep-alive HTTP connection asking for a stream's LL-HLS files. */
struct hls_viewer {
    int fd;
    bool open;             /* neither closed by the server nor by us */
    bool closed_by_server; /* seen closed (EOF, reset) */
    char out[2048];        /* requests asked, not yet sent (pipelined in one write) */
    size_t outlen;
    struct hls_expect asked[HLS_MAX_ASKED];
    size_t nasked, nanswered;
    uint8_t raw[1 << 17]; /* read, not yet taken as an answer */
    size_t rawlen;
    struct hls_answer last; /* the last answer taken */
};

void hls_viewer_init(struct hls_viewer *v);
/* Connects: VIEW_GOT, or VIEW_CLOSED. */
int hls_viewer_open(struct hls_viewer *v, uint16_t port);
/* Asks GET path (keep-alive) and what its answer must be; hls_viewer_send() sends what was
 * asked since the last send in one write. */
void hls_viewer_ask(struct hls_viewer *v, const char *path, const char *box, const char *part,
                    bool chunked);
int hls_viewer_send(struct hls_viewer *v);
/* Waits until the next answer's head and at least chunks chunks of its body came (not taking
 * it): VIEW_GOT, VIEW_CLOSED or VIEW_TIMEOUT. */
int hls_viewer_started(struct hls_viewer *v, size_t chunks, uint64_t deadline);
/* Takes the answers of every request asked, in order, checking each. False with why when one is
 * not what was asked for; true otherwise, also when the server closed (v->closed_by_server) or
 * nothing more came by the deadline (v->nanswered < v->nasked). */
bool hls_viewer_collect(struct hls_viewer *v, uint64_t deadline, char *why, size_t cap);
void hls_viewer_close(struct hls_viewer *v);

/* The URI of the last tag marker in a playlist (its URI="...", else the line after it, as for
 * EXTINF), as the path /live/stream/URI. */
bool hls_uri(const char *text, const char *marker, char *out, size_t cap);
/* The playlist's preload hint: the part's path, msn and index. */
bool hls_hint(const char *text, char *uri, size_t cap, unsigned long long *msn, unsigned *index);
/* Pushes the stream's AVC and AAC sequence headers, then video at 30 fps (a keyframe a second)
 * and AAC frames (23 ms) of [from, to) ms in time order, through LIB(): 0, or the first error. */
int hls_push_headers(struct ezr_stream *st);
int hls_push_media(struct ezr_stream *st, uint32_t from, uint32_t to);

/* ---- scenarios -------------------------------------------------------------------------- */

/* One run of a scenario; false with why filled in when something it checks failed. */
struct run {
    char why[512];
    /* Set by fm_disarm(): what the armed part counted and failed. */
    uint64_t calls, failures;
    uint64_t site_calls[4096]; /* per injector site (ezr_failmalloc_sites): calls armed */
};
typedef bool (*scenario_fn)(struct run *r);

struct scenario {
    const char *name;
    scenario_fn fn;
};
extern const struct scenario scenarios[];
/* publish.c: a publish point, its publishers and the application popping their tags. */
bool publish_session(struct run *r);
extern const size_t nscenarios;

/* ---- what the scenarios share (scenarios.c) ---------------------------------------------- */

/* A run's server: live/stream, its AVC header and keyframe 1 pushed. */
struct fixture {
    struct ezr_server *s;
    struct ezr_stream *st;
    uint16_t port;
};
/* Starts it with the injector idle (TLS on if tls); false with why filled in. */
bool fm_setup(struct fixture *fx, bool tls, struct run *r);
/* After the armed part: a keyframe reaches every viewer of vs still open (or it is closed now),
 * the closes are accounted for, a new player plays; then everything is released. Returns ok
 * and what it checked. */
bool fm_finish(struct fixture *fx, struct run *r, struct viewer *vs, size_t n, bool ok);
/* The server closed `closed` connections only for failed allocations, with a warning logged,
 * at most one per failure. */
bool fm_closes_accounted(struct fixture *fx, struct run *r, size_t closed);
/* Records why (the first reason of a run only); false. */
bool fm_fail(struct run *r, const char *what, int a);
/* A library call's answer: 0 always when nothing failed, else 0 or EZR_ENOMEM. */
bool fm_answered(struct run *r, const char *call, int rc);
/* A deadline for a wait in the armed part: shorter once something failed. */
uint64_t fm_armed_deadline(void);

/* The injector's mode for the armed part of the next run (set by the sweep). */
void fm_set_plan(enum ezr_failmalloc_mode mode, uint64_t n, uint64_t seed);
/* Start and end of a scenario's armed part. */
void fm_arm(void);
void fm_disarm(struct run *r);

/* Whether the last failure of the run was one of OpenSSL's allocations. */
bool fm_last_failure_in_openssl(void);

/* The test certificate and key files (sweep.c makes them). */
extern char fm_cert_path[], fm_key_path[];

#endif
