/* TLS on the server's one port: the TLS context (the certificate and settings in an OpenSSL
 * SSL_CTX, loaded once when the server starts, tls-only, the staging buffer), which the server
 * owns, and the TLS transport of a connection (ezr_conn.h) that ezr_transport_detect switches to
 * when a ClientHello comes. Non-blocking on the edge-triggered
 * reactor: what OpenSSL waits for (WANT_READ, WANT_WRITE) becomes the client's reactor interest. */
#ifndef EZR_TLS_H
#define EZR_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "ezr_conn.h"

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

/* With only: connections that do not start with a TLS handshake are closed (tls-only). */
void ezr_tls_ctx_set_only(struct ezr_tls_ctx *t, bool only);
/* Where a session says how its handshake ended (version, cipher, kernel TLS): the server's log,
 * which the context's sessions share (a connection does not keep one). NULL: nowhere. */
void ezr_tls_ctx_set_log(struct ezr_tls_ctx *t, const struct ezr_log *log);

/* A TLS session on an accepted socket, server side. While it runs, c->secure is true and
 * c->ktls_send says whether the kernel sends its records (known once the handshake ended). */
extern const struct ezr_transport ezr_transport_tls;
/* What a connection starts with on a port with TLS configured, its state the server's TLS
 * context (not owned): its first byte, peeked and left in the socket, picks TLS (a handshake
 * record, 0x16) or, unless the context is tls-only, plain TCP (ezr_transport_tcp); the protocol
 * sniffer (ezr_proto_sniff.c) then sees the same first bytes either way. */
extern const struct ezr_transport ezr_transport_detect;

#endif
