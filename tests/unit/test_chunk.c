/* The chunk stream: exact bytes of what we write, and the reader against every header form,
 * extended timestamps, interleaving, split input and malformed input. */
#include "ezr_test.h"

#include "ezr_bytes.h"
#include "ezr_chunk.h"
#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_proto.h"

#define MAXM 16

struct got {
    struct ezr_chunk_msg m[MAXM];
    uint8_t data[MAXM][70000];
    int n;
    int fail_at; /* return an error on this message index, or -1 */
};

static int collect(void *ctx, const struct ezr_chunk_msg *m)
{
    struct got *g = ctx;
    if (g->n == g->fail_at)
        return EZR_EPROTO;
    if (g->n == MAXM)
        return EZR_ELIMIT;
    memcpy(g->data[g->n], m->payload, m->length);
    g->m[g->n] = *m;
    g->m[g->n].payload = g->data[g->n];
    g->n++;
    return 0;
}

static struct got *got_new(void)
{
    struct got *g = calloc(1, sizeof *g);
    g->fail_at = -1;
    return g;
}

/* Feeds all of b in slices of `step`, keeping unconsumed bytes as a socket reader would. */
static int feed_all(struct ezr_chunk_reader *r, const struct ezr_buf *b, size_t step, struct got *g)
{
    struct ezr_buf pend;
    ezr_buf_init(&pend);
    int rc = 0;
    for (size_t off = 0; off < b->len && rc >= 0; off += step) {
        size_t n = b->len - off < step ? b->len - off : step;
        ezr_buf_append(&pend, b->data + off, n);
        rc = ezr_chunk_reader_feed(r, pend.data, pend.len, collect, g);
        if (rc >= 0)
            ezr_buf_consume(&pend, (size_t)rc);
    }
    size_t left = pend.len;
    ezr_buf_free(&pend);
    return rc < 0 ? rc : (int)left;
}

static uint8_t payload[70000];

static void init_payload(void)
{
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 31 + 7);
}

EZR_TEST(test_small_message_exact_bytes)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_chunk_write(&b, 3, 0x010203, EZR_MSG_COMMAND_AMF0, 1, (const uint8_t *)"abc", 3, 128);
    const uint8_t want[] = {0x03, 0x01, 0x02, 0x03, 0, 0, 3, 20, 1, 0, 0, 0, 'a', 'b', 'c'};
    EZR_CHECK_EQ(b.len, sizeof want);
    EZR_CHECK_MEM(b.data, want, sizeof want);
    EZR_CHECK_EQ(ezr_chunk_write_size(3, 0x010203, 3, 128), sizeof want);
    ezr_buf_free(&b);
}

EZR_TEST(test_control_messages_exact_bytes)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_chunk_write_set_chunk_size(&b, 4096);
    const uint8_t scs[] = {0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0};
    EZR_CHECK_MEM(b.data, scs, sizeof scs);
    ezr_buf_reset(&b);
    ezr_chunk_write_set_peer_bw(&b, 2500000, EZR_PEER_BW_DYNAMIC);
    const uint8_t bw[] = {0x02, 0, 0, 0, 0, 0, 5, 6, 0, 0, 0, 0, 0x00, 0x26, 0x25, 0xA0, 2};
    EZR_CHECK_EQ(b.len, sizeof bw);
    EZR_CHECK_MEM(b.data, bw, sizeof bw);
    ezr_buf_reset(&b);
    ezr_chunk_write_user_control(&b, EZR_UC_STREAM_BEGIN, 1);
    const uint8_t uc[] = {0x02, 0, 0, 0, 0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    EZR_CHECK_MEM(b.data, uc, sizeof uc);
    ezr_buf_free(&b);
}

EZR_TEST(test_round_trip_around_chunk_size)
{
    init_payload();
    size_t sizes[] = {0, 1, 127, 128, 129, 256, 1000, 4096, 65536};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct ezr_buf b;
        ezr_buf_init(&b);
        ezr_chunk_write(&b, 6, 40, EZR_MSG_VIDEO, 1, payload, sizes[i], 128);
        EZR_CHECK_EQ(b.len, ezr_chunk_write_size(6, 40, sizes[i], 128));
        struct ezr_chunk_reader r;
        ezr_chunk_reader_init(&r, &(struct ezr_chunk_limits){1 << 20, 8});
        struct got *g = got_new();
        EZR_CHECK_EQ(feed_all(&r, &b, b.len, g), 0);
        EZR_CHECK_EQ(g->n, 1);
        EZR_CHECK_EQ(g->m[0].length, sizes[i]);
        EZR_CHECK_EQ(g->m[0].timestamp, 40);
        EZR_CHECK_EQ(g->m[0].type, EZR_MSG_VIDEO);
        EZR_CHECK_EQ(g->m[0].msid, 1);
        EZR_CHECK_MEM(g->data[0], payload, sizes[i]);
        EZR_CHECK_EQ(r.bytes_in, b.len);
        free(g);
        ezr_chunk_reader_free(&r);
        ezr_buf_free(&b);
    }
}

EZR_TEST(test_basic_header_forms)
{
    uint32_t ids[] = {2, 63, 64, 319, 320, 65599};
    size_t hdr[] = {1, 1, 2, 2, 3, 3};
    for (size_t i = 0; i < 6; i++) {
        struct ezr_buf b;
        ezr_buf_init(&b);
        ezr_chunk_write(&b, ids[i], 0, EZR_MSG_AUDIO, 1, (const uint8_t *)"x", 1, 128);
        EZR_CHECK_EQ(b.len, hdr[i] + 11 + 1);
        struct ezr_chunk_reader r;
        ezr_chunk_reader_init(&r, NULL);
        struct got *g = got_new();
        EZR_CHECK_EQ(feed_all(&r, &b, b.len, g), 0);
        EZR_CHECK_EQ(g->n, 1);
        EZR_CHECK_EQ(g->m[0].csid, ids[i]);
        free(g);
        ezr_chunk_reader_free(&r);
        ezr_buf_free(&b);
    }
}

EZR_TEST(test_compressed_headers_round_trip)
{
    /* fmt 0, then fmt 1 (length changes), fmt 2 (delta changes), fmt 3 (all repeats). */
    struct ezr_chunk_writer w;
    ezr_chunk_writer_init(&w, 128);
    struct ezr_buf b;
    ezr_buf_init(&b);
    uint32_t ts[] = {100, 133, 166, 200, 234, 268};
    size_t len[] = {10, 20, 20, 20, 20, 300};
    for (int i = 0; i < 6; i++)
        ezr_chunk_writer_write(&w, &b, 4, ts[i], EZR_MSG_AUDIO, 1, payload, len[i]);
    EZR_CHECK_EQ(b.data[0] >> 6, 0);
    struct ezr_chunk_reader r;
    ezr_chunk_reader_init(&r, NULL);
    struct got *g = got_new();
    EZR_CHECK_EQ(feed_all(&r, &b, b.len, g), 0);
    EZR_CHECK_EQ(g->n, 6);
    for (int i = 0; i < 6; i++) {
        EZR_CHECK_EQ(g->m[i].timestamp, ts[i]);
        EZR_CHECK_EQ(g->m[i].length, len[i]);
        EZR_CHECK_MEM(g->data[i], payload, len[i]);
    }
    free(g);
    ezr_chunk_reader_free(&r);
    ezr_chunk_writer_free(&w);
    ezr_buf_free(&b);
}

EZR_TEST(test_extended_timestamp_on_continuation_chunks)
{
    uint32_t stamps[] = {0xFFFFFF, 0x1000000, 0xFFFFFFF0u};
    for (int i = 0; i < 3; i++) {
        struct ezr_buf b;
        ezr_buf_init(&b);
        ezr_chunk_write(&b, 6, stamps[i], EZR_MSG_VIDEO, 1, payload, 300, 128);
        /* 3 chunks: 1+11+4 header, then two of 1+4 (type 3 with the timestamp again). */
        EZR_CHECK_EQ(b.len, 16 + 300 + 2 * 5);
        EZR_CHECK_EQ(b.data[16 + 128], 0xC6);
        EZR_CHECK_EQ(ezr_rd_be32(b.data + 16 + 128 + 1), stamps[i]);
        struct ezr_chunk_reader r;
        ezr_chunk_reader_init(&r, NULL);
        struct got *g = got_new();
        EZR_CHECK_EQ(feed_all(&r, &b, b.len, g), 0);
        EZR_CHECK_EQ(g->n, 1);
        EZR_CHECK_EQ(g->m[0].timestamp, stamps[i]);
        EZR_CHECK_MEM(g->data[0], payload, 300);
        free(g);
        ezr_chunk_reader_free(&r);
        ezr_buf_free(&b);
    }
}

EZR_TEST(test_extended_delta_on_fmt3_new_message)
{
    struct ezr_chunk_writer w;
    ezr_chunk_writer_init(&w, 128);
    struct ezr_buf b;
    ezr_buf_init(&b);
    /* Deltas of 0x1000000 (extended) repeated: the third message is a bare fmt 3 chunk that
     * still carries the extended delta. */
    for (uint32_t i = 0; i < 3; i++)
        ezr_chunk_writer_write(&w, &b, 4, i * 0x1000000u, EZR_MSG_AUDIO, 1, payload, 5);
    struct ezr_chunk_reader r;
    ezr_chunk_reader_init(&r, NULL);
    struct got *g = got_new();
    EZR_CHECK_EQ(feed_all(&r, &b, b.len, g), 0);
    EZR_CHECK_EQ(g->n, 3);
    EZR_CHECK_EQ(g->m[1].timestamp, 0x1000000);
    EZR_CHECK_EQ(g->m[2].timestamp, 0x2000000);
    free(g);
    ezr_chunk_reader_free(&r);
    ezr_chunk_writer_free(&w);
    ezr_buf_free(&b);
}

EZR_TEST(test_interleaved_chunk_streams_reassemble)
{
    struct ezr_buf a, v, b;
    ezr_buf_init(&a);
    ezr_buf_init(&v);
    ezr_buf_init(&b);
    ezr_chunk_write(&a, 4, 10, EZR_MSG_AUDIO, 1, payload, 200, 128);     /* 140 + 77 */
    ezr_chunk_write(&v, 6, 20, EZR_MSG_VIDEO, 1, payload + 1, 200, 128); /* 140 + 73 */
    /* audio chunk 1, video chunk 1, audio chunk 2, video chunk 2 */
    ezr_buf_append(&b, a.data, 140);
    ezr_buf_append(&b, v.data, 140);
    ezr_buf_append(&b, a.data + 140, a.len - 140);
    ezr_buf_append(&b, v.data + 140, v.len - 140);
    struct ezr_chunk_reader r;
    ezr_chunk_reader_init(&r, NULL);
    struct got *g = got_new();
    EZR_CHECK_EQ(feed_all(&r, &b, 1, g), 0); /* and one byte at a time */
    EZR_CHECK_EQ(g->n, 2);
    EZR_CHECK_EQ(g->m[0].csid, 4);
    EZR_CHECK_MEM(g->data[0], payload, 200);
    EZR_CHECK_EQ(g->m[1].csid, 6);
    EZR_CHECK_MEM(g->data[1], payload + 1, 200);
    free(g);
    ezr_chunk_reader_free(&r);
    ezr_buf_free(&a);
    ezr_buf_free(&v);
    ezr_buf_free(&b);
}

EZR_TEST(test_set_chunk_size_applies_to_next_chunk)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_chunk_write_set_chunk_size(&b, 256);
    ezr_chunk_write(&b, 6, 0, EZR_MSG_VIDEO, 1, payload, 300, 256);
    struct ezr_chunk_reader r;
    ezr_chunk_reader_init(&r, NULL);
    struct got *g = got_new();
    EZR_CHECK_EQ(feed_all(&r, &b, b.len, g), 0);
    EZR_CHECK_EQ(r.chunk_size, 256);
    EZR_CHECK_EQ(g->n, 2);
    EZR_CHECK_EQ(g->m[0].type, EZR_MSG_SET_CHUNK_SIZE);
    EZR_CHECK_MEM(g->data[1], payload, 300);
    free(g);
    ezr_chunk_reader_free(&r);
    ezr_buf_free(&b);
}

EZR_TEST(test_abort_drops_partial_message)
{
    struct ezr_buf m, b;
    ezr_buf_init(&m);
    ezr_buf_init(&b);
    ezr_chunk_write(&m, 6, 0, EZR_MSG_VIDEO, 1, payload, 200, 128);
    ezr_buf_append(&b, m.data, 140); /* first chunk only */
    ezr_chunk_write_abort(&b, 6);
    ezr_chunk_write(&b, 6, 5, EZR_MSG_VIDEO, 1, payload + 9, 20, 128);
    struct ezr_chunk_reader r;
    ezr_chunk_reader_init(&r, NULL);
    struct got *g = got_new();
    EZR_CHECK_EQ(feed_all(&r, &b, b.len, g), 0);
    EZR_CHECK_EQ(g->n, 2);
    EZR_CHECK_EQ(g->m[0].type, EZR_MSG_ABORT);
    EZR_CHECK_EQ(g->m[1].length, 20);
    EZR_CHECK_MEM(g->data[1], payload + 9, 20);
    free(g);
    ezr_chunk_reader_free(&r);
    ezr_buf_free(&m);
    ezr_buf_free(&b);
}

/* Feeds one buffer to a new reader; *why gets the reason it gave (NULL: none). */
static int feed_bytes(const uint8_t *p, size_t n, const struct ezr_chunk_limits *lim,
                      const char **why)
{
    struct ezr_chunk_reader r;
    ezr_chunk_reader_init(&r, lim);
    struct got *g = got_new();
    int rc = ezr_chunk_reader_feed(&r, p, n, collect, g);
    *why = r.error;
    free(g);
    ezr_chunk_reader_free(&r);
    return rc;
}

static bool same_text(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

EZR_TEST(test_malformed_input_is_refused_with_the_reason)
{
    const char *why;
    /* fmt 1 on a chunk stream never started */
    const uint8_t fmt1[] = {0x44, 0, 0, 0, 0, 0, 1, 8, 'x'};
    EZR_CHECK_EQ(feed_bytes(fmt1, sizeof fmt1, NULL, &why), EZR_EPROTO);
    EZR_CHECK(same_text(why, "chunk continuing a chunk stream that never started"));
    /* Set Chunk Size 0 and with the top bit set */
    const uint8_t scs0[] = {0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    EZR_CHECK_EQ(feed_bytes(scs0, sizeof scs0, NULL, &why), EZR_EPROTO);
    EZR_CHECK(same_text(why, "Set Chunk Size of 0 or with the top bit set"));
    const uint8_t scs31[] = {0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0x80, 0, 0, 0};
    EZR_CHECK_EQ(feed_bytes(scs31, sizeof scs31, NULL, &why), EZR_EPROTO);
    EZR_CHECK(same_text(why, "Set Chunk Size of 0 or with the top bit set"));
    /* A 16 MB message is refused from its header, before any payload */
    const uint8_t big[] = {0x03, 0, 0, 0, 0xFF, 0xFF, 0xFF, 20, 0, 0, 0, 0};
    EZR_CHECK_EQ(feed_bytes(big, sizeof big, NULL, &why), EZR_ELIMIT);
    EZR_CHECK(same_text(why, "message over the size limit for messages from a player"));
}

EZR_TEST(test_too_many_chunk_streams_is_a_limit)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    for (uint32_t id = 3; id < 3 + 10; id++)
        ezr_chunk_write(&b, id, 0, EZR_MSG_AUDIO, 1, payload, 1, 128);
    struct ezr_chunk_reader r;
    ezr_chunk_reader_init(&r, &(struct ezr_chunk_limits){1024, 8});
    struct got *g = got_new();
    EZR_CHECK_EQ(ezr_chunk_reader_feed(&r, b.data, b.len, collect, g), EZR_ELIMIT);
    EZR_CHECK(same_text(r.error, "too many chunk streams in use at once"));
    EZR_CHECK_EQ(g->n, 8);
    free(g);
    ezr_chunk_reader_free(&r);
    ezr_buf_free(&b);
}

/* The first chunk (128 bytes of payload) of a message of len bytes on chunk stream csid. */
static void first_chunk(struct ezr_buf *b, uint32_t csid, size_t len)
{
    struct ezr_buf m;
    ezr_buf_init(&m);
    ezr_chunk_write(&m, csid, 0, EZR_MSG_VIDEO, 1, payload, len, 128);
    ezr_buf_append(b, m.data, 12 + 128);
    ezr_buf_free(&m);
}

EZR_TEST(test_messages_in_progress_are_bounded_in_sum)
{
    /* Each 64,000 bytes, under the 64 KiB a message may have: five begun at once are 320,000
     * bytes held, within one largest message and EZR_MAX_IN_PENDING_EXTRA; a sixth is not. */
    struct ezr_buf b;
    ezr_buf_init(&b);
    for (uint32_t id = 4; id < 4 + 6; id++)
        first_chunk(&b, id, 64000);
    struct ezr_chunk_reader r;
    ezr_chunk_reader_init(&r, NULL);
    struct got *g = got_new();
    EZR_CHECK_EQ(ezr_chunk_reader_feed(&r, b.data, b.len, collect, g), EZR_ELIMIT);
    EZR_CHECK(same_text(r.error, "too many bytes of messages in progress at once"));
    EZR_CHECK_EQ(r.pending, 5u * 64000u);
    free(g);
    ezr_chunk_reader_free(&r);
    EZR_CHECK_EQ(r.pending, 0);

    /* A message that completes, or is aborted, gives its room back. */
    ezr_buf_reset(&b);
    for (uint32_t id = 4; id < 4 + 5; id++)
        first_chunk(&b, id, 64000);
    struct ezr_buf rest;
    ezr_buf_init(&rest);
    ezr_chunk_write(&rest, 4, 0, EZR_MSG_VIDEO, 1, payload, 64000, 128);
    for (size_t off = 12 + 128; off < rest.len; off += 1 + 128) /* fmt 3 chunks of csid 4 */
        ezr_buf_append(&b, rest.data + off, rest.len - off < 129 ? rest.len - off : 129);
    ezr_chunk_write_abort(&b, 5);
    first_chunk(&b, 10, 64000);
    first_chunk(&b, 11, 64000);
    ezr_chunk_reader_init(&r, NULL);
    g = got_new();
    EZR_CHECK_EQ(feed_all(&r, &b, b.len, g), 0);
    EZR_CHECK_EQ(g->n, 2); /* the message of csid 4, then the Abort Message */
    EZR_CHECK_EQ(g->m[0].length, 64000);
    EZR_CHECK_MEM(g->data[0], payload, 64000);
    EZR_CHECK_EQ(r.pending, 5u * 64000u);
    free(g);
    ezr_chunk_reader_free(&r);
    ezr_buf_free(&rest);
    ezr_buf_free(&b);
}

EZR_TEST(test_callback_error_stops_the_reader)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    for (int i = 0; i < 3; i++)
        ezr_chunk_write(&b, 3, 0, EZR_MSG_COMMAND_AMF0, 0, payload, 5, 128);
    struct ezr_chunk_reader r;
    ezr_chunk_reader_init(&r, NULL);
    struct got *g = got_new();
    g->fail_at = 1;
    EZR_CHECK_EQ(ezr_chunk_reader_feed(&r, b.data, b.len, collect, g), EZR_EPROTO);
    EZR_CHECK(r.error == NULL); /* the callback's error: it gives its own reason */
    EZR_CHECK_EQ(g->n, 1);
    free(g);
    ezr_chunk_reader_free(&r);
    ezr_buf_free(&b);
}

EZR_TEST_MAIN(EZR_CASE(test_small_message_exact_bytes), EZR_CASE(test_control_messages_exact_bytes),
              EZR_CASE(test_round_trip_around_chunk_size), EZR_CASE(test_basic_header_forms),
              EZR_CASE(test_compressed_headers_round_trip),
              EZR_CASE(test_extended_timestamp_on_continuation_chunks),
              EZR_CASE(test_extended_delta_on_fmt3_new_message),
              EZR_CASE(test_interleaved_chunk_streams_reassemble),
              EZR_CASE(test_set_chunk_size_applies_to_next_chunk),
              EZR_CASE(test_abort_drops_partial_message),
              EZR_CASE(test_malformed_input_is_refused_with_the_reason),
              EZR_CASE(test_too_many_chunk_streams_is_a_limit),
              EZR_CASE(test_messages_in_progress_are_bounded_in_sum),
              EZR_CASE(test_callback_error_stops_the_reader))
