/* libFuzzer target: the first-bytes sniffer every connection goes through (ezr_sniff.h), on every
 * byte of the input as a connection's first, checked against what it must say: 0x03 is RTMP, a
 * letter HTTP, 0x16 a TLS handshake record, anything else unknown (closed). Inputs that a
 * ClientHello starts then go to an OpenSSL server object over memory BIOs made from the server's
 * own context (ezr_tls_ctx_new: its versions, options, modes and a certificate), as the TLS
 * transport hands them over, so a hello that gets far enough is answered and signed for. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ezr_sniff.h"
#include "ezr_tls.h"
#include "test_cert.h"

static enum ezr_sniff expected(uint8_t b)
{
    if (b == 0x03)
        return EZR_SNIFF_RTMP;
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z'))
        return EZR_SNIFF_HTTP;
    return b == 0x16 ? EZR_SNIFF_TLS : EZR_SNIFF_UNKNOWN;
}

/* A P-256 key and a self-signed certificate for it, as PEM files. */
static bool write_cert(const char *cert_path, const char *key_path)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = test_self_signed_cert(k);
    bool ok = x != NULL;
    FILE *f = ok ? fopen(key_path, "w") : NULL;
    ok = f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
    if (f)
        fclose(f);
    f = ok ? fopen(cert_path, "w") : NULL;
    ok = f && PEM_write_X509(f, x) == 1;
    if (f)
        fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
    return ok;
}

/* The server's TLS context, made once; the files it was loaded from are gone after. */
static struct ezr_tls_ctx *server_ctx(void)
{
    static struct ezr_tls_ctx *t;
    if (t)
        return t;
    char dir[] = "/tmp/ezrtmp-fuzz-sniff-XXXXXX";
    char cert[64], key[64], msg[256] = "cannot write a test certificate";
    if (!mkdtemp(dir))
        abort();
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    bool ok = write_cert(cert, key) && ezr_tls_ctx_new(cert, key, &t, msg, sizeof msg) == 0;
    unlink(cert);
    unlink(key);
    rmdir(dir);
    if (!ok) {
        fprintf(stderr, "fuzz_sniff: no server TLS context: %s\n", msg);
        abort();
    }
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (ezr_sniff_first_byte(data[i]) != expected(data[i]))
            __builtin_trap();
    if (size == 0 || ezr_sniff_first_byte(data[0]) != EZR_SNIFF_TLS)
        return 0;
    SSL *ssl = SSL_new(ezr_tls_ctx_ssl(server_ctx()));
    BIO *in = BIO_new_mem_buf(data, (int)(size > 1 << 20 ? 1 << 20 : size));
    BIO *out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, in, out);
    SSL_set_accept_state(ssl);
    SSL_do_handshake(ssl);
    SSL_free(ssl);
    ERR_clear_error();
    return 0;
}
