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
extern const size_t nscenarios;

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
