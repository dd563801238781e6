/* TLS with OpenSSL on the reactor; see ezr_tls.h.
 *
 * Writing: OpenSSL in partial-write mode sends one record per SSL_write, and a write that could
 * not finish must be retried with the same bytes. Small queued pieces (an audio frame, a reply)
 * are gathered into the server's one staging buffer, a full record at most, and written from
 * there; only when the socket is full are the bytes of that unfinished write copied aside into
 * the connection's own buffer (ACCEPT_MOVING_WRITE_BUFFER allows the retry from another
 * address). So the queue hands bytes over as it does to a kernel: once taken they are the
 * transport's, and the tiers may shed what is still queued without touching a record half sent. */
#include "ezr_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ezr_alloc.h"
#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_sniff.h"
#include "ezr_transport.h"

/* Everything TLS of one server, owned by it and given to each connection's transport. */
struct ezr_tls_ctx {
    SSL_CTX *ssl_ctx;
    uint8_t *stage; /* EZR_TLS_RECORD bytes: a record's plaintext is gathered here (one per
                     * server: the reactor writes one connection at a time) */
    bool only;      /* close connections that do not start with a TLS handshake */
    const struct ezr_log *log;
};

struct tls_conn {
    SSL *ssl;
    struct ezr_tls_ctx *ctx;
    uint8_t *unsent; /* an SSL_write that blocked: its bytes, retried until written */
    size_t unsent_len;
    size_t unsent_off;
    bool ready;  /* the handshake is done */
    bool broken; /* a fatal error: no close_notify may be sent */
};

/* OpenSSL's reason for the oldest error queued on this thread, or a fallback. */
static const char *openssl_reason(const char *fallback)
{
    unsigned long e = ERR_peek_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : fallback;
}

/* "tls-key FILE: not a PEM private key (unsupported)": what is wrong in words, then OpenSSL's
 * reason, which alone can be cryptic ("unsupported" is OpenSSL 3 finding no decoder for it).
 * EZR_ENOMEM instead when OpenSSL could not allocate on the way: the file is not to blame. */
static int load_failed(const char *what, const char *file, const char *hint, char *msg,
                       size_t msglen)
{
    unsigned long e = ERR_peek_error();
    const char *reason = openssl_reason("cannot be loaded"); /* static strings */
    bool oom = false;
    for (unsigned long x; (x = ERR_get_error()) != 0;)
        oom = oom || ERR_GET_REASON(x) == ERR_GET_REASON(ERR_R_MALLOC_FAILURE);
    if (oom) {
        snprintf(msg, msglen, "%s %s: out of memory", what, file);
        return EZR_ENOMEM;
    }
    if (e && ERR_SYSTEM_ERROR(e)) /* a missing file: say it as errno does */
        snprintf(msg, msglen, "%s %s: %s", what, file, strerror(ERR_GET_REASON(e)));
    else if (e && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
        snprintf(msg, msglen, "%s %s: not the key of the certificate (key values mismatch)", what,
                 file);
    else
        snprintf(msg, msglen, "%s %s: %s (%s)", what, file, hint, reason);
    ERR_clear_error();
    return EZR_ETLS;
}

int ezr_tls_ctx_new(const char *cert_file, const char *key_file, struct ezr_tls_ctx **out,
                    char *msg, size_t msglen)
{
    *out = NULL;
    if (msglen)
        msg[0] = '\0';
    if (!key_file || !*key_file)
        key_file = cert_file;
    struct ezr_tls_ctx *t = ezr_calloc(1, sizeof *t);
    if (!t)
        return EZR_ENOMEM;
    ERR_clear_error();
    t->ssl_ctx = SSL_CTX_new(TLS_server_method());
    if (!t->ssl_ctx) {
        free(t);
        ERR_clear_error();
        return EZR_ENOMEM;
    }
    t->stage = ezr_malloc(EZR_TLS_RECORD);
    if (!t->stage) {
        ezr_tls_ctx_free(t);
        return EZR_ENOMEM;
    }
    SSL_CTX *ctx = t->ssl_ctx;
    /* TLS 1.0 and 1.1 are deprecated (RFC 8996). */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Renegotiation lets a client make the server redo the expensive part at will; no player
     * needs it. Kernel TLS where the kernel offers it; an EOF without close_notify is an ordinary
     * end of a player (HTTP-FLV bodies end with the connection). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_ENABLE_KTLS |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
    /* Partial writes: the queue advances by what a record took. RELEASE_BUFFERS: an idle
     * connection holds no 16 KiB record buffers. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* No server-side session cache: it would grow with every handshake; TLS 1.3 tickets resume
     * without one. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        ezr_tls_ctx_free(t);
        return load_failed("tls-certificate", cert_file, "not a PEM certificate", msg, msglen);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        ezr_tls_ctx_free(t);
        return load_failed("tls-key", key_file, "not a PEM private key", msg, msglen);
    }
    *out = t;
    return 0;
}

void ezr_tls_ctx_free(struct ezr_tls_ctx *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ssl_ctx);
    free(t->stage);
    free(t);
}

void ezr_tls_ctx_set_only(struct ezr_tls_ctx *t, bool only)
{
    t->only = only;
}

void ezr_tls_ctx_set_log(struct ezr_tls_ctx *t, const struct ezr_log *log)
{
    t->log = log;
}

SSL_CTX *ezr_tls_ctx_ssl(const struct ezr_tls_ctx *t)
{
    return t->ssl_ctx;
}

/* ---- the TLS transport ------------------------------------------------------------------ */

/* Reactor-thread text for the reason of the last failure (ezr_transport.h: *why). */
static _Thread_local char why_buf[160];

/* An SSL call that did not succeed: what to wait for, or why it ends the connection. */
static ssize_t tls_outcome(struct ezr_conn *c, struct tls_conn *t, int r, bool reading,
                           const char *what, const char **why)
{
    uint8_t *wants = reading ? &c->read_wants : &c->write_wants;
    int err = SSL_get_error(t->ssl, r);
    int saved_errno = errno;
    ssize_t rc;
    switch (err) {
    case SSL_ERROR_WANT_READ:
        *wants = EZR_IO_READ;
        rc = EZR_EAGAIN;
        break;
    case SSL_ERROR_WANT_WRITE:
        *wants = EZR_IO_WRITE;
        rc = EZR_EAGAIN;
        break;
    case SSL_ERROR_ZERO_RETURN:
        *why = "player closed the TLS session";
        rc = t->ready && reading ? 0 : EZR_ECLOSED;
        break;
    case SSL_ERROR_SYSCALL:
        t->broken = true;
        *why = saved_errno == ECONNRESET || saved_errno == EPIPE ? "connection reset by player"
                                                                 : "TLS connection lost";
        rc = EZR_ECLOSED;
        break;
    default:
        t->broken = true;
        snprintf(why_buf, sizeof why_buf, "%s failed: %s", what,
                 openssl_reason("TLS protocol error"));
        *why = why_buf;
        rc = EZR_EPROTO;
        break;
    }
    ERR_clear_error();
    return rc;
}

static void handshake_done(struct ezr_conn *c, struct tls_conn *t)
{
    t->ready = true;
    c->ktls_send = BIO_get_ktls_send(SSL_get_wbio(t->ssl)) != 0;
    bool ktls_recv = BIO_get_ktls_recv(SSL_get_rbio(t->ssl)) != 0;
    ezr_log(t->ctx->log, EZR_LOG_INFO, "client %llu (%s) TLS: %s %s, kernel TLS send %s, receive %s",
            (unsigned long long)c->id, c->addr, SSL_get_version(t->ssl),
            SSL_get_cipher_name(t->ssl), c->ktls_send ? "on" : "off", ktls_recv ? "on" : "off");
}

static ssize_t tls_read(struct ezr_conn *c, uint8_t *buf, size_t len, const char **why)
{
    struct tls_conn *t = c->transport_state;
    ERR_clear_error();
    if (!t->ready) {
        int r = SSL_do_handshake(t->ssl);
        if (r != 1)
            return tls_outcome(c, t, r, true, "TLS handshake", why);
        handshake_done(c, t);
    }
    size_t got = 0;
    int r = SSL_read_ex(t->ssl, buf, len, &got);
    if (r == 1)
        return (ssize_t)got;
    return tls_outcome(c, t, r, true, "TLS read", why);
}

/* Writes the bytes of a blocked write. 0: all gone; EZR_EAGAIN or an error. */
static ssize_t write_unsent(struct ezr_conn *c, struct tls_conn *t, const char **why)
{
    while (t->unsent) {
        size_t w = 0;
        ERR_clear_error();
        int r = SSL_write_ex(t->ssl, t->unsent + t->unsent_off, t->unsent_len - t->unsent_off, &w);
        if (r != 1)
            return tls_outcome(c, t, r, false, "TLS write", why);
        t->unsent_off += w;
        if (t->unsent_off == t->unsent_len) {
            free(t->unsent);
            t->unsent = NULL;
            t->unsent_len = t->unsent_off = 0;
        }
    }
    return 0;
}

static ssize_t tls_writev(struct ezr_conn *c, const struct iovec *iov, int n, const char **why)
{
    struct tls_conn *t = c->transport_state;
    ssize_t rc = write_unsent(c, t, why);
    if (rc < 0)
        return rc;
    if (n == 0)
        return 0;
    if (!t->ready) { /* nothing is sent before the handshake has ended (no protocol replies) */
        c->write_wants = EZR_IO_READ;
        return EZR_EAGAIN;
    }
    /* Gather up to one record: the first piece may be larger (a keyframe) and is cut. */
    uint8_t *stage = t->ctx->stage;
    size_t g = 0;
    for (int i = 0; i < n && g < EZR_TLS_RECORD; i++) {
        size_t take = iov[i].iov_len < EZR_TLS_RECORD - g ? iov[i].iov_len : EZR_TLS_RECORD - g;
        memcpy(stage + g, iov[i].iov_base, take);
        g += take;
    }
    size_t w = 0;
    ERR_clear_error();
    int r = SSL_write_ex(t->ssl, stage, g, &w);
    if (r == 1)
        return (ssize_t)w;
    rc = tls_outcome(c, t, r, false, "TLS write", why);
    if (rc != EZR_EAGAIN)
        return rc;
    /* Blocked: OpenSSL holds a record made of these bytes and the retry must offer them again;
     * they become ours to keep, taken from the queue. */
    t->unsent = ezr_malloc(g);
    if (!t->unsent) {
        *why = "out of memory";
        return EZR_ENOMEM;
    }
    memcpy(t->unsent, stage, g);
    t->unsent_len = g;
    t->unsent_off = 0;
    return (ssize_t)g;
}

static bool tls_holds_output(const struct ezr_conn *c)
{
    const struct tls_conn *t = c->transport_state;
    return t->unsent != NULL;
}

static void tls_close(struct ezr_conn *c)
{
    struct tls_conn *t = c->transport_state;
    if (!t)
        return;
    /* close_notify, once, best effort: the socket is closed right after whatever happens. */
    if (t->ready && !t->broken && !t->unsent) {
        ERR_clear_error();
        SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
    SSL_free(t->ssl);
    free(t->unsent);
    free(t);
    c->transport_state = NULL;
    c->secure = false;
    c->ktls_send = false;
}

const struct ezr_transport ezr_transport_tls = {
    .name = "tls",
    .short_read_drains = false, /* a record read whole may hold more than was asked */
    .read = tls_read,
    .writev = tls_writev,
    .holds_output = tls_holds_output,
    .close = tls_close,
};

/* ---- TLS or plain: the first byte decides ----------------------------------------------- */

static int tls_start(struct ezr_conn *c, struct ezr_tls_ctx *ctx)
{
    struct tls_conn *t = ezr_calloc(1, sizeof *t);
    if (!t)
        return EZR_ENOMEM;
    ERR_clear_error();
    t->ctx = ctx;
    t->ssl = SSL_new(ctx->ssl_ctx);
    if (!t->ssl || SSL_set_fd(t->ssl, c->io.fd) != 1) {
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return EZR_ENOMEM;
    }
    SSL_set_accept_state(t->ssl);
    ezr_conn_set_transport(c, &ezr_transport_tls, t);
    c->secure = true;
    return 0;
}

/* Detection's state is the server's TLS context (not owned). */
static ssize_t detect_read(struct ezr_conn *c, uint8_t *buf, size_t len, const char **why)
{
    struct ezr_tls_ctx *ctx = c->transport_state;
    uint8_t b;
    ssize_t n;
    do
        n = recv(c->io.fd, &b, 1, MSG_PEEK);
    while (n < 0 && errno == EINTR);
    if (n <= 0) /* nothing yet, the end, or an error: as a plain read says it */
        return ezr_transport_tcp.read(c, buf, len, why);
    if (ezr_sniff_first_byte(b) == EZR_SNIFF_TLS) {
        if (tls_start(c, ctx) < 0) {
            *why = "out of memory";
            return EZR_ENOMEM;
        }
    } else if (ctx->only) {
        *why = "plain connection on a tls-only port";
        return EZR_EPROTO;
    } else {
        ezr_conn_set_transport(c, &ezr_transport_tcp, NULL);
    }
    return c->transport->read(c, buf, len, why);
}

static ssize_t detect_writev(struct ezr_conn *c, const struct iovec *iov, int n, const char **why)
{
    return ezr_transport_tcp.writev(c, iov, n, why);
}

static bool detect_holds_output(const struct ezr_conn *c)
{
    (void)c;
    return false;
}

static void detect_close(struct ezr_conn *c)
{
    (void)c;
}

const struct ezr_transport ezr_transport_detect = {
    .name = "tcp",
    .short_read_drains = false, /* the transport it hands over to decides */
    .read = detect_read,
    .writev = detect_writev,
    .holds_output = detect_holds_output,
    .close = detect_close,
};
