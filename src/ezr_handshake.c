/* The RTMP handshake, sans-I/O; see ezr_handshake.h.
 *
 * The digest ("complex") form is not in the published spec; its layout is what Flash Player,
 * Flash Media Server, ffmpeg and rtmpdump agree on: a 1536-byte C1/S1 is time(4) + version(4) +
 * two 764-byte blocks. In scheme 0 the digest block comes first (at 8), in scheme 1 second (at
 * 772). A digest block starts with 4 offset bytes whose sum mod 728 places the 32-byte
 * HMAC-SHA256 digest inside the block after them. */
#include "ezr_handshake.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "ezr_bytes.h"
#include "ezr_error.h"

#define DIGEST_LEN 32u
#define BLOCK_LEN 764u
#define S2_SIG_OFFSET (EZR_HANDSHAKE_SIZE - DIGEST_LEN)

/* The well-known keys: a text prefix (used to sign C1/S1) followed by 32 constant bytes (the
 * whole key derives the key that signs S2/C2). */
static const uint8_t fp_key[62] = {
    'G', 'e', 'n', 'u', 'i', 'n', 'e', ' ', 'A', 'd', 'o', 'b', 'e', ' ', 'F', 'l',
    'a', 's', 'h', ' ', 'P', 'l', 'a', 'y', 'e', 'r', ' ', '0', '0', '1', 0xF0, 0xEE,
    0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB,
    0x31, 0xAE};
#define FP_KEY_TEXT 30u
static const uint8_t fms_key[68] = {
    'G', 'e', 'n', 'u', 'i', 'n', 'e', ' ', 'A', 'd', 'o', 'b', 'e', ' ', 'F', 'l', 'a',
    's', 'h', ' ', 'M', 'e', 'd', 'i', 'a', ' ', 'S', 'e', 'r', 'v', 'e', 'r', ' ', '0',
    '0', '1', 0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1,
    0x02, 0x9E, 0x7E, 0x57, 0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8,
    0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};
#define FMS_KEY_TEXT 36u

/* Our S1 version field: any non-zero value tells the client we speak the digest form. */
#define SERVER_VERSION 0x0D0E0A0Du
#define CLIENT_VERSION 0x09007C02u /* 9.0.124.2, what Flash Player 9 sent */

/* False when OpenSSL could not compute it (it allocates): out is then not a digest. */
static bool hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *a, size_t alen,
                        const uint8_t *b, size_t blen, uint8_t out[DIGEST_LEN])
{
    /* The message is a (and optionally b) concatenated: C1 with its digest cut out. */
    uint8_t msg[EZR_HANDSHAKE_SIZE];
    memcpy(msg, a, alen);
    if (blen)
        memcpy(msg + alen, b, blen);
    unsigned int len = DIGEST_LEN;
    return HMAC(EVP_sha256(), key, (int)keylen, msg, alen + blen, out, &len) != NULL;
}

static size_t digest_offset(const uint8_t *p, int scheme)
{
    size_t base = scheme == 0 ? 8 : 8 + BLOCK_LEN;
    size_t sum = (size_t)p[base] + p[base + 1] + p[base + 2] + p[base + 3];
    return sum % (BLOCK_LEN - DIGEST_LEN - 4) + base + 4;
}

/* The digest over the packet without the 32 bytes at off. */
static bool packet_digest(const uint8_t *p, size_t off, const uint8_t *key, size_t keylen,
                          uint8_t out[DIGEST_LEN])
{
    return hmac_sha256(key, keylen, p, off, p + off + DIGEST_LEN, EZR_HANDSHAKE_SIZE - off - DIGEST_LEN,
                out);
}

int ezr_handshake_find_digest(const uint8_t *c1, int scheme, const uint8_t *key, size_t keylen)
{
    size_t off = digest_offset(c1, scheme);
    uint8_t d[DIGEST_LEN];
    if (!packet_digest(c1, off, key, keylen, d))
        return EZR_ENOMEM;
    return CRYPTO_memcmp(d, c1 + off, DIGEST_LEN) == 0 ? (int)off : -1;
}

/* Places a digest in p by the scheme. */
static bool sign_packet(uint8_t *p, int scheme, const uint8_t *key, size_t keylen)
{
    size_t off = digest_offset(p, scheme);
    return packet_digest(p, off, key, keylen, p + off);
}

/* S2/C2 in the digest form: random bytes, then an HMAC of them keyed with
 * HMAC(full key, the peer's digest). */
static bool sign_response(uint8_t *p, const uint8_t *peer_digest, const uint8_t *key,
                          size_t keylen)
{
    uint8_t k[DIGEST_LEN];
    return hmac_sha256(key, keylen, peer_digest, DIGEST_LEN, NULL, 0, k) &&
           hmac_sha256(k, DIGEST_LEN, p, S2_SIG_OFFSET, NULL, 0, p + S2_SIG_OFFSET);
}

static bool response_valid(const uint8_t *p, const uint8_t *my_digest, const uint8_t *key,
                           size_t keylen)
{
    uint8_t k[DIGEST_LEN], sig[DIGEST_LEN];
    return hmac_sha256(key, keylen, my_digest, DIGEST_LEN, NULL, 0, k) &&
           hmac_sha256(k, DIGEST_LEN, p, S2_SIG_OFFSET, NULL, 0, sig) &&
           CRYPTO_memcmp(sig, p + S2_SIG_OFFSET, DIGEST_LEN) == 0;
}

void ezr_handshake_server_init(struct ezr_handshake *hs, const uint8_t *random, uint32_t epoch)
{
    memset(hs, 0, sizeof *hs);
    hs->state = EZR_HS_WAIT_C0C1;
    hs->epoch = epoch;
    memcpy(hs->random, random, EZR_HANDSHAKE_SIZE);
}

/* Appends S0 S1 S2 answering C1 (hs->in + 1); 0, or EZR_ENOMEM if a digest could not be made
 * (then nothing is appended: a wrong digest would only make the client give up later). */
static int answer(struct ezr_handshake *hs, struct ezr_buf *out)
{
    const uint8_t *c1 = hs->in + 1;
    uint8_t s1[EZR_HANDSHAKE_SIZE], s2[EZR_HANDSHAKE_SIZE];
    int off = -1;
    if (ezr_rd_be32(c1 + 4) != 0) {
        for (int scheme = 0; scheme < 2 && off < 0; scheme++) {
            off = ezr_handshake_find_digest(c1, scheme, fp_key, FP_KEY_TEXT);
            if (off == EZR_ENOMEM)
                return EZR_ENOMEM;
            hs->scheme = scheme;
        }
    }
    memcpy(s1, hs->random, EZR_HANDSHAKE_SIZE);
    ezr_wr_be32(s1, hs->epoch);
    if (off >= 0) {
        hs->complex = true;
        ezr_wr_be32(s1 + 4, SERVER_VERSION);
        if (!sign_packet(s1, hs->scheme, fms_key, FMS_KEY_TEXT))
            return EZR_ENOMEM;
        /* S2's random part: S1's bytes reversed, cheap and not equal to anything sent. */
        for (size_t i = 0; i < EZR_HANDSHAKE_SIZE; i++)
            s2[i] = hs->random[EZR_HANDSHAKE_SIZE - 1 - i];
        if (!sign_response(s2, c1 + off, fms_key, sizeof fms_key))
            return EZR_ENOMEM;
    } else {
        /* Simple form (spec 5.2.3): S1 time + zero + random, S2 echoes C1. */
        memset(s1 + 4, 0, 4);
        memcpy(s2, c1, EZR_HANDSHAKE_SIZE);
    }
    ezr_buf_put_u8(out, EZR_RTMP_VERSION);
    ezr_buf_append(out, s1, sizeof s1);
    ezr_buf_append(out, s2, sizeof s2);
    return 0;
}

int ezr_handshake_server_feed(struct ezr_handshake *hs, const uint8_t *in, size_t len,
                              struct ezr_buf *out)
{
    size_t used = 0;
    if (hs->state == EZR_HS_WAIT_C0C1 && len) {
        if (hs->in_len == 0 && in[0] != EZR_RTMP_VERSION)
            return EZR_EPROTO;
        size_t need = 1 + EZR_HANDSHAKE_SIZE - hs->in_len;
        size_t n = len < need ? len : need;
        memcpy(hs->in + hs->in_len, in, n);
        hs->in_len += n;
        used += n;
        if (hs->in_len < 1 + EZR_HANDSHAKE_SIZE)
            return (int)used;
        int rc = answer(hs, out);
        if (rc < 0)
            return rc;
        hs->state = EZR_HS_WAIT_C2;
        hs->in_len = 0;
    }
    if (hs->state == EZR_HS_WAIT_C2 && len > used) {
        /* C2's content is not checked: clients fill it in different ways and nothing
         * depends on it. */
        size_t need = EZR_HANDSHAKE_SIZE - hs->in_len;
        size_t n = len - used < need ? len - used : need;
        hs->in_len += n;
        used += n;
        if (hs->in_len == EZR_HANDSHAKE_SIZE)
            hs->state = EZR_HS_DONE;
    }
    return (int)used;
}

void ezr_handshake_client_start(struct ezr_handshake_client *hc, bool digest, int scheme,
                                const uint8_t *random, struct ezr_buf *out)
{
    hc->digest = digest;
    hc->scheme = scheme ? 1 : 0;
    memcpy(hc->c1, random, EZR_HANDSHAKE_SIZE);
    ezr_wr_be32(hc->c1, 0);
    ezr_wr_be32(hc->c1 + 4, digest ? CLIENT_VERSION : 0);
    if (digest)
        sign_packet(hc->c1, hc->scheme, fp_key, FP_KEY_TEXT);
    ezr_buf_put_u8(out, EZR_RTMP_VERSION);
    ezr_buf_append(out, hc->c1, EZR_HANDSHAKE_SIZE);
}

int ezr_handshake_client_finish(struct ezr_handshake_client *hc, const uint8_t *s0s1s2,
                                struct ezr_buf *out)
{
    const uint8_t *s1 = s0s1s2 + 1, *s2 = s1 + EZR_HANDSHAKE_SIZE;
    if (s0s1s2[0] != EZR_RTMP_VERSION)
        return EZR_EPROTO;
    if (!hc->digest) {
        if (memcmp(s2, hc->c1, EZR_HANDSHAKE_SIZE) != 0)
            return EZR_EPROTO;
        ezr_buf_append(out, s1, EZR_HANDSHAKE_SIZE);
        return 0;
    }
    int off = ezr_handshake_find_digest(s1, hc->scheme, fms_key, FMS_KEY_TEXT);
    if (off < 0)
        off = ezr_handshake_find_digest(s1, !hc->scheme, fms_key, FMS_KEY_TEXT);
    size_t my = digest_offset(hc->c1, hc->scheme);
    if (off < 0 || !response_valid(s2, hc->c1 + my, fms_key, sizeof fms_key))
        return EZR_EPROTO;
    uint8_t c2[EZR_HANDSHAKE_SIZE];
    for (size_t i = 0; i < EZR_HANDSHAKE_SIZE; i++)
        c2[i] = hc->c1[i] ^ 0x5A;
    sign_response(c2, s1 + off, fp_key, sizeof fp_key);
    ezr_buf_append(out, c2, sizeof c2);
    return 0;
}
