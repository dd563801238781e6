/* The RTMP handshake, sans-I/O, both sides.
 *
 * Server: feed the client's bytes; S0+S1+S2 are appended to `out` once C0+C1 are in; the
 * handshake is done when C2 has been read. Two forms are answered:
 *  - simple (spec 5.2): C1 carries time + zero + random; S2 echoes C1.
 *  - complex (the Flash-era "digest" handshake; ffmpeg, rtmpdump and Flash send it when C1's
 *    version field is non-zero): C1 carries an HMAC-SHA256 digest keyed with the Genuine Flash
 *    Player key, at an offset given by scheme 0 or 1. The server answers with S1 carrying its own
 *    digest (Genuine Adobe Flash Media Server key) in the same scheme and S2 signed with a key
 *    derived from the client's digest, which clients verify.
 * If C1's version is non-zero but no valid digest is found under either scheme, the server falls
 * back to the simple form (as nginx-rtmp and SRS do).
 *
 * Client: builds C0+C1 (with or without digest) and checks S1/S2; used by unit tests and the load
 * client. */
#ifndef EZR_HANDSHAKE_H
#define EZR_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_buf.h"

#define EZR_HANDSHAKE_SIZE 1536u
#define EZR_RTMP_VERSION 3u

enum ezr_handshake_state {
    EZR_HS_WAIT_C0C1,
    EZR_HS_WAIT_C2,
    EZR_HS_DONE,
};

struct ezr_handshake {
    enum ezr_handshake_state state;
    bool complex;     /* the client sent a valid digest and was answered in kind */
    int scheme;       /* 0 or 1 when complex */
    uint32_t epoch;   /* our time field in S1 */
    uint8_t random[EZR_HANDSHAKE_SIZE]; /* caller-provided randomness for S1 */
    uint8_t in[1 + EZR_HANDSHAKE_SIZE]; /* partial C0+C1 or C2 */
    size_t in_len;
};

/* random: EZR_HANDSHAKE_SIZE bytes of randomness for S1 (e.g. from getrandom); copied. */
void ezr_handshake_server_init(struct ezr_handshake *hs, const uint8_t *random, uint32_t epoch);
/* Consumes handshake bytes from in[0..len). Returns bytes consumed (it stops right after C2, so
 * any following bytes are chunk data for the caller), or EZR_EPROTO (C0 is not version 3).
 * S0+S1+S2 are appended to out when C0+C1 are complete. */
int ezr_handshake_server_feed(struct ezr_handshake *hs, const uint8_t *in, size_t len,
                              struct ezr_buf *out);
static inline bool ezr_handshake_done(const struct ezr_handshake *hs)
{
    return hs->state == EZR_HS_DONE;
}

/* Client side. */
struct ezr_handshake_client {
    bool digest;   /* C1 was built with a digest (complex) */
    int scheme;    /* scheme used for C1's digest */
    uint8_t c1[EZR_HANDSHAKE_SIZE];
};
/* Writes C0+C1 (1537 bytes) to out. digest: build a complex C1 (version 9.0.124.2, scheme 0 or 1)
 * instead of a simple one. random: EZR_HANDSHAKE_SIZE random bytes. */
void ezr_handshake_client_start(struct ezr_handshake_client *hc, bool digest, int scheme,
                                const uint8_t *random, struct ezr_buf *out);
/* Checks S0+S1+S2 (3073 bytes) and appends C2 to out. For a digest handshake it verifies S1's
 * server digest and S2's signature; for a simple one that S2 echoes C1. Returns 0 or
 * EZR_EPROTO. */
int ezr_handshake_client_finish(struct ezr_handshake_client *hc, const uint8_t *s0s1s2,
                                struct ezr_buf *out);

/* Exposed for tests: find a valid client digest in C1 (1536 bytes) under `scheme`; returns the
 * digest offset, -1, or EZR_ENOMEM when OpenSSL could not compute the digest. */
int ezr_handshake_find_digest(const uint8_t *c1, int scheme, const uint8_t *key, size_t keylen);

#endif
