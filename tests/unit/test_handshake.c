/* The handshake: the simple and digest forms, answered by the server and checked by the client
 * side, byte-exact where the spec fixes the bytes. */
#include "ezr_test.h"

#include "ezr_bytes.h"
#include "ezr_error.h"
#include "ezr_handshake.h"

#define HS EZR_HANDSHAKE_SIZE

static void fill(uint8_t *p, uint8_t seed)
{
    for (size_t i = 0; i < HS; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

/* Runs server and client to the end; returns the server's state for inspection. */
static int run(bool digest, int scheme, struct ezr_handshake *hs, struct ezr_buf *s_out,
               size_t step)
{
    uint8_t srv_random[HS], cli_random[HS];
    fill(srv_random, 1);
    fill(cli_random, 99);
    ezr_handshake_server_init(hs, srv_random, 1234);
    struct ezr_handshake_client hc;
    struct ezr_buf c;
    ezr_buf_init(&c);
    ezr_handshake_client_start(&hc, digest, scheme, cli_random, &c);
    if (c.len != 1 + HS)
        return -100;
    for (size_t off = 0; off < c.len;) {
        size_t n = c.len - off < step ? c.len - off : step;
        int used = ezr_handshake_server_feed(hs, c.data + off, n, s_out);
        if (used != (int)n)
            return -101;
        off += n;
    }
    if (s_out->len != 1 + 2 * HS)
        return -102;
    struct ezr_buf c2;
    ezr_buf_init(&c2);
    int rc = ezr_handshake_client_finish(&hc, s_out->data, &c2);
    if (rc == 0) {
        /* C2 followed by chunk data: only C2 is consumed. */
        ezr_buf_append(&c2, "\x03rest", 5);
        int used = ezr_handshake_server_feed(hs, c2.data, c2.len, s_out);
        rc = used == (int)HS && ezr_handshake_done(hs) ? 0 : -103;
    }
    ezr_buf_free(&c);
    ezr_buf_free(&c2);
    return rc;
}

EZR_TEST(test_simple_handshake_echoes_c1_in_s2)
{
    struct ezr_handshake hs;
    struct ezr_buf out;
    ezr_buf_init(&out);
    EZR_CHECK_EQ(run(false, 0, &hs, &out, HS + 1), 0);
    EZR_CHECK(!hs.complex);
    EZR_CHECK_EQ(out.data[0], 3);
    EZR_CHECK_EQ(ezr_rd_be32(out.data + 1), 1234);     /* S1 time */
    EZR_CHECK_EQ(ezr_rd_be32(out.data + 5), 0);        /* S1 zero */
    uint8_t c1[HS];
    fill(c1, 99);
    ezr_wr_be32(c1, 0);
    ezr_wr_be32(c1 + 4, 0);
    EZR_CHECK_MEM(out.data + 1 + HS, c1, HS); /* S2 == C1 */
    ezr_buf_free(&out);
}

EZR_TEST(test_handshake_fed_one_byte_at_a_time)
{
    struct ezr_handshake hs;
    struct ezr_buf out;
    ezr_buf_init(&out);
    EZR_CHECK_EQ(run(true, 0, &hs, &out, 1), 0);
    EZR_CHECK(hs.complex);
    ezr_buf_free(&out);
}

EZR_TEST(test_digest_handshake_scheme0_verified_by_client)
{
    struct ezr_handshake hs;
    struct ezr_buf out;
    ezr_buf_init(&out);
    EZR_CHECK_EQ(run(true, 0, &hs, &out, 4096), 0);
    EZR_CHECK(hs.complex);
    EZR_CHECK_EQ(hs.scheme, 0);
    EZR_CHECK(ezr_rd_be32(out.data + 5) != 0); /* S1 announces a version */
    ezr_buf_free(&out);
}

EZR_TEST(test_digest_handshake_scheme1_verified_by_client)
{
    struct ezr_handshake hs;
    struct ezr_buf out;
    ezr_buf_init(&out);
    EZR_CHECK_EQ(run(true, 1, &hs, &out, 4096), 0);
    EZR_CHECK(hs.complex);
    EZR_CHECK_EQ(hs.scheme, 1);
    ezr_buf_free(&out);
}

EZR_TEST(test_version_without_valid_digest_falls_back_to_simple)
{
    uint8_t random[HS], c0c1[1 + HS];
    fill(random, 5);
    struct ezr_handshake hs;
    ezr_handshake_server_init(&hs, random, 0);
    c0c1[0] = 3;
    fill(c0c1 + 1, 42);
    ezr_wr_be32(c0c1 + 5, 0x09007C02); /* claims Flash 9, but no digest anywhere */
    struct ezr_buf out;
    ezr_buf_init(&out);
    EZR_CHECK_EQ(ezr_handshake_server_feed(&hs, c0c1, sizeof c0c1, &out), (int)sizeof c0c1);
    EZR_CHECK(!hs.complex);
    EZR_CHECK_MEM(out.data + 1 + HS, c0c1 + 1, HS);
    ezr_buf_free(&out);
}

EZR_TEST(test_wrong_version_byte_is_refused)
{
    uint8_t random[HS] = {0};
    struct ezr_handshake hs;
    struct ezr_buf out;
    ezr_buf_init(&out);
    ezr_handshake_server_init(&hs, random, 0);
    EZR_CHECK_EQ(ezr_handshake_server_feed(&hs, (const uint8_t *)"\x06", 1, &out), EZR_EPROTO);
    ezr_handshake_server_init(&hs, random, 0);
    EZR_CHECK_EQ(ezr_handshake_server_feed(&hs, (const uint8_t *)"GET / HTTP/1.1", 14, &out),
                 EZR_EPROTO);
    EZR_CHECK_EQ(out.len, 0);
    ezr_buf_free(&out);
}

EZR_TEST(test_find_digest_rejects_a_tampered_packet)
{
    static const uint8_t fp_text[] = "Genuine Adobe Flash Player 001";
    uint8_t random[HS];
    fill(random, 7);
    struct ezr_handshake_client hc;
    struct ezr_buf c;
    ezr_buf_init(&c);
    ezr_handshake_client_start(&hc, true, 0, random, &c);
    int off = ezr_handshake_find_digest(hc.c1, 0, fp_text, 30);
    EZR_CHECK(off >= 12 && off <= 8 + 764 - 32);
    EZR_CHECK_EQ(ezr_handshake_find_digest(hc.c1, 1, fp_text, 30), -1);
    hc.c1[HS - 1] ^= 1; /* a byte outside the digest */
    EZR_CHECK_EQ(ezr_handshake_find_digest(hc.c1, 0, fp_text, 30), -1);
    ezr_buf_free(&c);
}

EZR_TEST(test_client_rejects_a_server_without_digest)
{
    uint8_t random[HS];
    fill(random, 3);
    struct ezr_handshake_client hc;
    struct ezr_buf c, c2;
    ezr_buf_init(&c);
    ezr_buf_init(&c2);
    ezr_handshake_client_start(&hc, true, 0, random, &c);
    uint8_t s[1 + 2 * HS];
    s[0] = 3;
    memcpy(s + 1, random, HS);      /* S1 with no digest */
    memcpy(s + 1 + HS, hc.c1, HS);  /* S2 echo */
    EZR_CHECK_EQ(ezr_handshake_client_finish(&hc, s, &c2), EZR_EPROTO);
    ezr_buf_free(&c);
    ezr_buf_free(&c2);
}

EZR_TEST_MAIN(EZR_CASE(test_simple_handshake_echoes_c1_in_s2),
              EZR_CASE(test_handshake_fed_one_byte_at_a_time),
              EZR_CASE(test_digest_handshake_scheme0_verified_by_client),
              EZR_CASE(test_digest_handshake_scheme1_verified_by_client),
              EZR_CASE(test_version_without_valid_digest_falls_back_to_simple),
              EZR_CASE(test_wrong_version_byte_is_refused),
              EZR_CASE(test_find_digest_rejects_a_tampered_packet),
              EZR_CASE(test_client_rejects_a_server_without_digest))
