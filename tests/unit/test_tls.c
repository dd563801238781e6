/* TLS: loading the certificate and key (the exact message for each bad file), and the server's
 * TLS transport over loopback with an OpenSSL client in this process: /metrics answered inside
 * TLS, a plain client beside it, tls-only refusing plain, TLS 1.0 and 1.1 refused by the
 * server's alert, a renegotiation refused with the connection kept, two requests in two records
 * read (a short TLS read has not drained the socket). The certificate is made here
 * with the OpenSSL API (an EC key, self-signed for 127.0.0.1) into a temporary directory. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ezr_error.h"
#include "ezr_server.h"
#include "ezr_test.h"
#include "ezr_tls.h"
#include "test_cert.h"

static char dir[64];
static char cert_path[128], key_path[128], other_key_path[128], not_pem_path[128],
    missing_path[128];

static EVP_PKEY *write_key(const char *path)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    FILE *f = fopen(path, "w");
    if (!k || !f || PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1) {
        if (f)
            fclose(f);
        EVP_PKEY_free(k);
        return NULL;
    }
    fclose(f);
    return k;
}

/* Once: a key, a self-signed certificate for it, another key, a file that is not PEM. */
static bool make_files(void)
{
    if (dir[0])
        return true;
    snprintf(dir, sizeof dir, "/tmp/ezrtmp-tls-unit-XXXXXX");
    if (!mkdtemp(dir))
        return false;
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", dir);
    snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
    snprintf(other_key_path, sizeof other_key_path, "%s/other.pem", dir);
    snprintf(not_pem_path, sizeof not_pem_path, "%s/not.pem", dir);
    snprintf(missing_path, sizeof missing_path, "%s/missing.pem", dir);
    EVP_PKEY *k = write_key(key_path);
    EVP_PKEY *other = write_key(other_key_path);
    X509 *x = test_self_signed_cert(k);
    bool ok = other && x;
    FILE *f = ok ? fopen(cert_path, "w") : NULL;
    ok = f && PEM_write_X509(f, x) == 1;
    if (f)
        fclose(f);
    f = fopen(not_pem_path, "w");
    ok = ok && f && fputs("this is not a certificate\n", f) >= 0;
    if (f)
        fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
    return ok;
}

static int load(const char *cert, const char *key, char *msg, size_t len)
{
    struct ezr_tls_ctx *t = NULL;
    int rc = ezr_tls_ctx_new(cert, key, &t, msg, len);
    ezr_tls_ctx_free(t);
    return rc;
}

EZR_TEST(test_certificate_and_key_load)
{
    EZR_CHECK(make_files());
    char msg[512];
    EZR_CHECK_EQ(load(cert_path, key_path, msg, sizeof msg), 0);
    EZR_CHECK_EQ(msg[0], 0);
}

EZR_TEST(test_bad_files_are_named_with_the_reason)
{
    EZR_CHECK(make_files());
    struct {
        const char *cert, *key, *file, *reason;
    } cases[] = {
        {missing_path, key_path, missing_path, "No such file or directory"},
        {not_pem_path, key_path, not_pem_path, "not a PEM certificate (no start line)"},
        {cert_path, missing_path, missing_path, "No such file or directory"},
        {cert_path, not_pem_path, not_pem_path, "not a PEM private key (unsupported)"},
        {cert_path, other_key_path, other_key_path,
         "not the key of the certificate (key values mismatch)"},
        /* No key file: the key is looked for in the certificate file. */
        {cert_path, NULL, cert_path, "not a PEM private key (unsupported)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[512], want[512];
        EZR_CHECK_EQ(load(cases[i].cert, cases[i].key, msg, sizeof msg), EZR_ETLS);
        snprintf(want, sizeof want, "%s %s: %s",
                 cases[i].file == cases[i].cert && cases[i].key ? "tls-certificate" : "tls-key",
                 cases[i].file, cases[i].reason);
        if (strcmp(msg, want) != 0)
            printf("# got \"%s\"\n# want \"%s\"\n", msg, want);
        EZR_CHECK(strcmp(msg, want) == 0);
    }
}

EZR_TEST(test_server_with_a_bad_key_fails_with_the_message)
{
    EZR_CHECK(make_files());
    struct ezr_server_config cfg;
    ezr_server_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.tls_certificate = cert_path;
    cfg.tls_key = other_key_path;
    char msg[512];
    cfg.error_msg = msg;
    cfg.error_msg_size = sizeof msg;
    struct ezr_server *s = NULL;
    EZR_CHECK_EQ(ezr_server_new(&cfg, &s), EZR_ETLS);
    EZR_CHECK(s == NULL);
    EZR_CHECK(strstr(msg, other_key_path) && strstr(msg, "key values mismatch"));
    /* tls-only without a certificate is a mistake, not a plain server. */
    cfg.tls_certificate = NULL;
    cfg.tls_only = true;
    EZR_CHECK_EQ(ezr_server_new(&cfg, &s), EZR_EINVAL);
}

static struct ezr_server *start_tls(bool tls_only)
{
    struct ezr_server_config cfg;
    ezr_server_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.metrics = true;
    cfg.tls_certificate = cert_path;
    cfg.tls_key = key_path;
    cfg.tls_only = tls_only;
    struct ezr_server *s = NULL;
    return ezr_server_new(&cfg, &s) == 0 ? s : NULL;
}

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0}; /* a test never hangs: reads give up after 10 s */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Connection: close: the answer ends with the server's close (on keep-alive the reads would
 * wait for their 10 s timeout). */
static const char METRICS_REQ[] =
    "GET /metrics HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";

/* GET /metrics over TLS with a blocking OpenSSL client; the answer up to the server's close. */
static ssize_t tls_metrics(uint16_t port, char *out, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    int fd = dial(port);
    ssize_t got = -1;
    if (ssl && fd >= 0 && SSL_set_fd(ssl, fd) == 1 && SSL_connect(ssl) == 1 &&
        SSL_write(ssl, METRICS_REQ, (int)strlen(METRICS_REQ)) == (int)strlen(METRICS_REQ)) {
        got = 0;
        int r;
        while ((size_t)got < cap - 1 && (r = SSL_read(ssl, out + got, (int)(cap - 1 - got))) > 0)
            got += r;
        out[got] = 0;
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (fd >= 0)
        close(fd);
    ERR_clear_error();
    return got;
}

/* The same in plain text; the answer up to the server's close (0 bytes: closed unanswered). */
static ssize_t plain_metrics(uint16_t port, char *out, size_t cap)
{
    int fd = dial(port);
    if (fd < 0 || write(fd, METRICS_REQ, strlen(METRICS_REQ)) < 0)
        return -1;
    ssize_t got = 0, r;
    while ((size_t)got < cap - 1 && (r = read(fd, out + got, cap - 1 - (size_t)got)) > 0)
        got += r;
    out[got] = 0;
    close(fd);
    return r < 0 && got == 0 ? -1 : got;
}

EZR_TEST(test_metrics_over_tls_and_plain_on_one_port)
{
    EZR_CHECK(make_files());
    struct ezr_server *s = start_tls(false);
    EZR_CHECK(s != NULL);
    char buf[16384];
    ssize_t n = tls_metrics(ezr_server_port(s), buf, sizeof buf);
    bool tls_ok = n > 0 && strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0 &&
                  strstr(buf, "\nezrtmp_connections 1\n") != NULL;
    n = plain_metrics(ezr_server_port(s), buf, sizeof buf);
    bool plain_ok = n > 0 && strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0;
    ezr_server_free(s);
    EZR_CHECK(tls_ok);
    EZR_CHECK(plain_ok);
}

EZR_TEST(test_tls_only_closes_plain_unanswered)
{
    EZR_CHECK(make_files());
    struct ezr_server *s = start_tls(true);
    EZR_CHECK(s != NULL);
    char buf[16384];
    ssize_t plain = plain_metrics(ezr_server_port(s), buf, sizeof buf);
    ssize_t tls = tls_metrics(ezr_server_port(s), buf, sizeof buf);
    bool tls_ok = tls > 0 && strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0;
    ezr_server_free(s);
    EZR_CHECK(plain == 0 || plain == -1); /* closed (or reset) with nothing sent */
    EZR_CHECK(tls_ok);
}

/* A blocking OpenSSL client limited to versions lo..hi. SECLEVEL 0: OpenSSL 3 otherwise refuses
 * on its own to offer TLS 1.0 and 1.1 (their signatures are SHA-1), and the refusal to test is
 * the server's. Returns the handshake's result (1: done) and the SSL in *out, or -1. */
static int tls_dial(uint16_t port, int lo, int hi, SSL **out, int *fd_out)
{
    *out = NULL;
    *fd_out = -1;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return -1;
    SSL_CTX_set_min_proto_version(ctx, lo);
    SSL_CTX_set_max_proto_version(ctx, hi);
    SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
    SSL *ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL holds its own reference */
    int fd = dial(port);
    if (!ssl || fd < 0 || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *out = ssl;
    *fd_out = fd;
    ERR_clear_error();
    return SSL_connect(ssl);
}

static void tls_hangup(SSL *ssl, int fd)
{
    SSL_free(ssl);
    if (fd >= 0)
        close(fd);
    ERR_clear_error();
}

EZR_TEST(test_tls_below_1_2_refused_by_the_server)
{
    EZR_CHECK(make_files());
    struct ezr_server *s = start_tls(false);
    EZR_CHECK(s != NULL);
    uint16_t port = ezr_server_port(s);
    const int old[] = {TLS1_VERSION, TLS1_1_VERSION};
    unsigned long reason[2];
    for (int i = 0; i < 2; i++) {
        SSL *ssl;
        int fd;
        int r = tls_dial(port, old[i], old[i], &ssl, &fd);
        /* The server's protocol_version alert, received: a client that refused by itself (no
         * protocols, no ciphers) would fail with another reason and without sending anything. */
        reason[i] = r == 1 ? 0 : ERR_GET_REASON(ERR_peek_last_error());
        tls_hangup(ssl, fd);
    }
    SSL *ssl;
    int fd;
    int r12 = tls_dial(port, TLS1_2_VERSION, TLS1_2_VERSION, &ssl, &fd);
    int v12 = r12 == 1 ? SSL_version(ssl) : 0;
    tls_hangup(ssl, fd);
    /* The default client still gets TLS 1.3, and the server answers it. */
    char buf[16384];
    ssize_t n = tls_metrics(port, buf, sizeof buf);
    ezr_server_free(s);
    EZR_CHECK_EQ(reason[0], SSL_R_TLSV1_ALERT_PROTOCOL_VERSION);
    EZR_CHECK_EQ(reason[1], SSL_R_TLSV1_ALERT_PROTOCOL_VERSION);
    EZR_CHECK_EQ(r12, 1);
    EZR_CHECK_EQ(v12, TLS1_2_VERSION);
    EZR_CHECK(n > 0 && strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
}

/* A TLS client on memory BIOs whose bytes this test carries to and from the socket, so it sees
 * the server's answer record by record and can keep its own reply to itself. */
struct mem_client {
    SSL *ssl;
    BIO *in, *out; /* owned by ssl */
    int fd;
};

/* What the client has written, onto the socket. */
static bool mem_flush(struct mem_client *m)
{
    char b[16384];
    int n;
    while ((n = BIO_read(m->out, b, sizeof b)) > 0)
        if (write(m->fd, b, (size_t)n) != n)
            return false;
    return true;
}

/* One whole TLS record from the socket (header in rec[0..4]); its length, or -1. */
static int read_record(int fd, uint8_t *rec, size_t cap)
{
    size_t got = 0, want = 5;
    while (got < want) {
        ssize_t r = read(fd, rec + got, want - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
        if (got == 5) {
            want = 5 + ((size_t)rec[3] << 8 | rec[4]);
            if (want > cap)
                return -1;
        }
    }
    return (int)got;
}

/* The full handshake, carrying records both ways until it is done. */
static bool mem_connect(struct mem_client *m, uint16_t port)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return false;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION); /* 1.3 has no renegotiation */
    m->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx);
    m->in = BIO_new(BIO_s_mem());
    m->out = BIO_new(BIO_s_mem());
    m->fd = dial(port);
    if (!m->ssl || !m->in || !m->out || m->fd < 0)
        return false;
    SSL_set_bio(m->ssl, m->in, m->out);
    SSL_set_connect_state(m->ssl);
    uint8_t rec[17000];
    int r;
    while ((r = SSL_do_handshake(m->ssl)) != 1) {
        int n;
        if (SSL_get_error(m->ssl, r) != SSL_ERROR_WANT_READ || !mem_flush(m) ||
            (n = read_record(m->fd, rec, sizeof rec)) < 0 || BIO_write(m->in, rec, n) != n)
            return false;
    }
    return mem_flush(m);
}

static void mem_close(struct mem_client *m)
{
    SSL_free(m->ssl);
    if (m->fd >= 0)
        close(m->fd);
    ERR_clear_error();
}

/* The value of "ezrtmp_connections N" in a /metrics answer, or -1. */
static long metrics_connections(const char *buf)
{
    const char *p = strstr(buf, "\nezrtmp_connections ");
    return p ? strtol(p + 20, NULL, 10) : -1;
}

EZR_TEST(test_renegotiation_refused_and_the_connection_kept)
{
    EZR_CHECK(make_files());
    struct ezr_server *s = start_tls(false);
    EZR_CHECK(s != NULL);
    uint16_t port = ezr_server_port(s);
    struct mem_client m = {.fd = -1};
    bool connected = mem_connect(&m, port);
    int version = connected ? SSL_version(m.ssl) : 0;
    /* A renegotiation: a new ClientHello on the established session. (OpenSSL 3 servers refuse
     * one from a client by default too; SSL_OP_ALLOW_CLIENT_RENEGOTIATION makes this fail.) */
    bool sent = connected && SSL_renegotiate(m.ssl) == 1 && SSL_do_handshake(m.ssl) != 1 &&
                SSL_get_error(m.ssl, -1) == SSL_ERROR_WANT_READ && mem_flush(&m);
    uint8_t rec[17000];
    int n = sent ? read_record(m.fd, rec, sizeof rec) : -1;
    /* The answer is an alert record (21), not a ServerHello (22); inside, once decrypted,
     * OpenSSL finds the no_renegotiation warning. */
    int type = n > 0 ? rec[0] : -1;
    unsigned long reason = 0;
    if (n > 0 && BIO_write(m.in, rec, n) == n && SSL_do_handshake(m.ssl) != 1)
        reason = ERR_GET_REASON(ERR_peek_last_error());
    /* OpenSSL's client now writes a fatal alert of its own; it is kept from the server, which
     * sent only a warning: the connection is still open and counted, beside a new one. */
    char buf[16384];
    ssize_t got = tls_metrics(port, buf, sizeof buf);
    long conns = got > 0 ? metrics_connections(buf) : -1;
    mem_close(&m);
    ezr_server_free(s);
    EZR_CHECK(connected);
    EZR_CHECK_EQ(version, TLS1_2_VERSION);
    EZR_CHECK(sent);
    EZR_CHECK_EQ(type, SSL3_RT_ALERT);
    EZR_CHECK_EQ(reason, SSL_R_NO_RENEGOTIATION);
    EZR_CHECK(got > 0 && strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    EZR_CHECK_EQ(conns, 2);
}

/* Two requests in two TLS records that reach the socket together: OpenSSL reads one record per
 * read, so a read that comes back short has not drained the socket (the second record is still
 * there, and no new event will come for it): both must be answered. */
EZR_TEST(test_two_requests_in_two_records_are_both_answered)
{
    EZR_CHECK(make_files());
    struct ezr_server *s = start_tls(false);
    EZR_CHECK(s != NULL);
    struct mem_client m = {.fd = -1};
    static const char first[] = "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n"; /* keep-alive */
    bool sent = mem_connect(&m, ezr_server_port(s)) &&
                SSL_write(m.ssl, first, (int)strlen(first)) > 0 &&
                SSL_write(m.ssl, METRICS_REQ, (int)strlen(METRICS_REQ)) > 0 && mem_flush(&m);
    /* Every record up to the server's close (reads give up after 10 s: dial). */
    static char out[262144];
    static uint8_t rec[17000];
    size_t got = 0;
    int n, r;
    while (sent && (n = read_record(m.fd, rec, sizeof rec)) > 0 && BIO_write(m.in, rec, n) == n)
        while (got < sizeof out - 1 && (r = SSL_read(m.ssl, out + got, (int)(sizeof out - 1 - got))) > 0)
            got += (size_t)r;
    out[got] = 0;
    int answers = 0;
    for (const char *p = out; (p = strstr(p, "HTTP/1.1 200 OK\r\n")) != NULL; p++)
        answers++;
    mem_close(&m);
    ezr_server_free(s);
    EZR_CHECK(sent);
    EZR_CHECK_EQ(answers, 2);
}

static void cleanup(void)
{
    if (!dir[0])
        return;
    const char *files[] = {cert_path, key_path, other_key_path, not_pem_path};
    for (size_t i = 0; i < 4; i++)
        unlink(files[i]);
    rmdir(dir);
}

static const struct ezr_test_case_ cases[] = {
    EZR_CASE(test_certificate_and_key_load),
    EZR_CASE(test_bad_files_are_named_with_the_reason),
    EZR_CASE(test_server_with_a_bad_key_fails_with_the_message),
    EZR_CASE(test_metrics_over_tls_and_plain_on_one_port),
    EZR_CASE(test_tls_only_closes_plain_unanswered),
    EZR_CASE(test_tls_below_1_2_refused_by_the_server),
    EZR_CASE(test_renegotiation_refused_and_the_connection_kept),
    EZR_CASE(test_two_requests_in_two_records_are_both_answered),
};

int main(void)
{
    int rc = ezr_test_run_(cases, sizeof cases / sizeof cases[0]);
    cleanup();
    return rc;
}
