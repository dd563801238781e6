/* TLS on the server's one port: the certificate and settings (an OpenSSL SSL_CTX, loaded once
 * when the server starts) and the TLS transport of a connection (ezr_transport.h) that
 * ezr_transport_detect switches to when a ClientHello comes. Non-blocking on the edge-triggered
 * reactor: what OpenSSL waits for (WANT_READ, WANT_WRITE) becomes the client's reactor interest. */
#ifndef EZR_TLS_H
#define EZR_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "ezr_transport.h"

struct ezr_tls_ctx;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

/* Loads a PEM certificate chain (leaf first, then intermediates) and its PEM private key
 * (key_file NULL or "": the key is in cert_file). Returns 0 and *out, or EZR_ETLS with msg
 * naming the file and OpenSSL's reason ("tls-key /x.pem: key values mismatch"), or EZR_ENOMEM. */
int ezr_tls_ctx_new(const char *cert_file, const char *key_file, struct ezr_tls_ctx **out,
                    char *msg, size_t msglen);
void ezr_tls_ctx_free(struct ezr_tls_ctx *t);

/* The OpenSSL SSL_CTX with the server's settings, owned by t: the fuzzer hands ClientHellos to
 * exactly what a connection would get. */
struct ssl_ctx_st *ezr_tls_ctx_ssl(const struct ezr_tls_ctx *t);

/* Was kernel TLS used for this connection's sending and receiving? (false before the handshake
 * ended, or on a plain connection) */
bool ezr_tls_ktls_send(const struct ezr_client *c);
bool ezr_tls_ktls_recv(const struct ezr_client *c);

/* A TLS session on an accepted socket, server side. */
extern const struct ezr_transport ezr_transport_tls;

#endif
