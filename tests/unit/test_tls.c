/* TLS: loading the certificate and key (the exact message for each bad file), and the server's
 * TLS transport over loopback with an OpenSSL client in this process: /metrics answered inside
 * TLS, a plain client beside it, tls-only refusing plain. The certificate is made here with the
 * OpenSSL API (an EC key, self-signed for 127.0.0.1) into a temporary directory. */
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
    X509 *x = X509_new();
    bool ok = k && other && x;
    if (ok) {
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_gmtime_adj(X509_getm_notBefore(x), -60);
        X509_gmtime_adj(X509_getm_notAfter(x), 86400);
        X509_NAME *n = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1",
                                   -1, -1, 0);
        X509_set_issuer_name(x, n);
        X509_set_pubkey(x, k);
        ok = X509_sign(x, k, EVP_sha256()) > 0;
    }
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

static const char METRICS_REQ[] = "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n";

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
};

int main(void)
{
    int rc = ezr_test_run_(cases, sizeof cases / sizeof cases[0]);
    cleanup();
    return rc;
}
