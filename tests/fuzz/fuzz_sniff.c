/* libFuzzer target: the first-bytes sniffer every connection goes through (ezr_sniff.h), on every
 * byte of the input as a connection's first, checked against what it must say: 0x03 is RTMP, a
 * letter HTTP, 0x16 a TLS handshake record, anything else unknown (closed). Inputs that a ClientHello
 * starts then go to an OpenSSL server object over memory BIOs with the server's protocol limits,
 * as the TLS transport hands them over (a certificate is not needed to parse a ClientHello). */
#include <stddef.h>
#include <stdint.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ezr_sniff.h"

static enum ezr_sniff expected(uint8_t b)
{
    if (b == 0x03)
        return EZR_SNIFF_RTMP;
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z'))
        return EZR_SNIFF_HTTP;
    return b == 0x16 ? EZR_SNIFF_TLS : EZR_SNIFF_UNKNOWN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (ezr_sniff_first_byte(data[i]) != expected(data[i]))
            __builtin_trap();
    if (size == 0 || ezr_sniff_first_byte(data[0]) != EZR_SNIFF_TLS)
        return 0;
    static SSL_CTX *ctx;
    if (!ctx) {
        ctx = SSL_CTX_new(TLS_server_method());
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    }
    SSL *ssl = SSL_new(ctx);
    BIO *in = BIO_new_mem_buf(data, (int)(size > 1 << 20 ? 1 << 20 : size));
    BIO *out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, in, out);
    SSL_set_accept_state(ssl);
    SSL_do_handshake(ssl);
    SSL_free(ssl);
    ERR_clear_error();
    return 0;
}
