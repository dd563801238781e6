/* The element's FLV parser: tags out of any split of the input, classified for the server. */
#include "ezr_test.h"

#include "ezrflvparser.h"
#include "flv_fixture.h"

struct seen {
    struct ezr_flv_tag t[32];
    uint8_t body0[32];
    int n;
};

static int collect(void *ctx, const struct ezr_flv_tag *tag)
{
    struct seen *s = ctx;
    if (s->n == 32)
        return -1;
    s->t[s->n] = *tag;
    s->body0[s->n] = tag->len ? tag->body[0] : 0;
    s->t[s->n].body = NULL; /* not valid after the callback */
    s->n++;
    return 0;
}

static const uint8_t ex_seq[] = {0x90, 'h', 'v', 'c', '1', 1, 2, 3};   /* key, SequenceStart */
static const uint8_t info_frame[] = {0x57, 0};                            /* frame type 5 */

/* An FLV file as flvmux writes it. */
static size_t make_flv(uint8_t *o)
{
    size_t n = sizeof flv_file_header;
    memcpy(o, flv_file_header, n);
    n += flv_put_tag(o + n, 18, 0, flv_meta, sizeof flv_meta);
    n += flv_put_tag(o + n, 9, 0, flv_avc_hdr, sizeof flv_avc_hdr);
    n += flv_put_tag(o + n, 8, 0, flv_aac_hdr, sizeof flv_aac_hdr);
    n += flv_put_tag(o + n, 9, 0, flv_avc_key, sizeof flv_avc_key);
    n += flv_put_tag(o + n, 8, 23, flv_aac_raw, sizeof flv_aac_raw);
    n += flv_put_tag(o + n, 9, 33, flv_avc_inter, sizeof flv_avc_inter);
    n += flv_put_tag(o + n, 9, 0x12345678, flv_avc_inter, sizeof flv_avc_inter); /* extended byte */
    n += flv_put_tag(o + n, 9, 100, info_frame, sizeof info_frame);
    return n;
}

EZR_TEST(test_tags_parsed_with_times_and_flags)
{
    uint8_t flv[1024];
    size_t n = make_flv(flv);
    struct ezr_flv_parser p;
    ezr_flv_parser_init(&p);
    struct seen s = {0};
    EZR_CHECK_EQ(ezr_flv_parser_feed(&p, flv, n, collect, &s), 0);
    EZR_CHECK_EQ(s.n, 8);
    EZR_CHECK(s.t[0].type == 18 && s.t[0].flags == EZR_FLV_METADATA && s.t[0].len == sizeof flv_meta);
    EZR_CHECK(s.t[1].type == 9 && s.t[1].flags == EZR_FLV_SEQ_HEADER);
    EZR_CHECK(s.t[2].type == 8 && s.t[2].flags == EZR_FLV_SEQ_HEADER);
    EZR_CHECK(s.t[3].flags == EZR_FLV_KEYFRAME && s.t[3].len == sizeof flv_avc_key);
    EZR_CHECK(s.t[4].type == 8 && s.t[4].flags == 0 && s.t[4].timestamp == 23);
    EZR_CHECK(s.t[5].flags == 0 && s.t[5].timestamp == 33 && s.body0[5] == 0x27);
    EZR_CHECK_EQ(s.t[6].timestamp, 0x12345678);
    EZR_CHECK_EQ(s.t[7].flags, EZR_FLV_NOT_MEDIA);
    ezr_flv_parser_clear(&p);
}

EZR_TEST(test_every_split_gives_the_same_tags)
{
    uint8_t flv[1024];
    size_t n = make_flv(flv);
    struct seen whole = {0};
    struct ezr_flv_parser p;
    ezr_flv_parser_init(&p);
    ezr_flv_parser_feed(&p, flv, n, collect, &whole);
    ezr_flv_parser_clear(&p);
    for (size_t step = 1; step <= 40; step++) {
        struct seen s = {0};
        ezr_flv_parser_init(&p);
        for (size_t off = 0; off < n; off += step)
            EZR_CHECK_EQ(ezr_flv_parser_feed(&p, flv + off, n - off < step ? n - off : step,
                                             collect, &s),
                         0);
        ezr_flv_parser_clear(&p);
        EZR_CHECK_EQ(s.n, whole.n);
        for (int i = 0; i < s.n; i++) {
            EZR_CHECK_EQ(s.t[i].timestamp, whole.t[i].timestamp);
            EZR_CHECK_EQ(s.t[i].len, whole.t[i].len);
            EZR_CHECK_EQ(s.t[i].flags, whole.t[i].flags);
            EZR_CHECK_EQ(s.body0[i], whole.body0[i]);
        }
    }
}

EZR_TEST(test_tags_without_file_header)
{
    uint8_t buf[256];
    size_t n = flv_put_tag(buf, 9, 66, flv_avc_key, sizeof flv_avc_key);
    n += flv_put_tag(buf + n, 9, 99, flv_avc_inter, sizeof flv_avc_inter);
    struct ezr_flv_parser p;
    ezr_flv_parser_init(&p);
    struct seen s = {0};
    EZR_CHECK_EQ(ezr_flv_parser_feed(&p, buf, n, collect, &s), 0);
    EZR_CHECK_EQ(s.n, 2);
    EZR_CHECK_EQ(s.t[0].timestamp, 66);
    EZR_CHECK_EQ(s.t[0].flags, EZR_FLV_KEYFRAME);
    ezr_flv_parser_clear(&p);
}

EZR_TEST(test_enhanced_video_header_classified)
{
    EZR_CHECK_EQ(ezr_flv_classify(9, ex_seq, sizeof ex_seq), EZR_FLV_SEQ_HEADER);
    EZR_CHECK_EQ(ezr_flv_classify(9, flv_ex_key, sizeof flv_ex_key), EZR_FLV_KEYFRAME);
    EZR_CHECK_EQ(ezr_flv_classify(9, flv_ex_inter, sizeof flv_ex_inter), 0);
    const uint8_t ex_end[] = {0x92, 'h', 'v', 'c', '1'}; /* SequenceEnd */
    EZR_CHECK_EQ(ezr_flv_classify(9, ex_end, sizeof ex_end), EZR_FLV_NOT_MEDIA);
}

EZR_TEST(test_set_data_frame_wrapper_is_stripped)
{
    uint8_t body[64] = {0x02, 0, 13, '@', 's', 'e', 't', 'D', 'a', 't', 'a', 'F', 'r', 'a', 'm', 'e'};
    memcpy(body + 16, flv_meta, sizeof flv_meta);
    uint8_t buf[128];
    size_t n = flv_put_tag(buf, 18, 0, body, 16 + sizeof flv_meta);
    struct ezr_flv_parser p;
    ezr_flv_parser_init(&p);
    struct seen s = {0};
    EZR_CHECK_EQ(ezr_flv_parser_feed(&p, buf, n, collect, &s), 0);
    EZR_CHECK_EQ(s.n, 1);
    EZR_CHECK_EQ(s.t[0].flags, EZR_FLV_METADATA);
    EZR_CHECK_EQ(s.t[0].len, sizeof flv_meta);
    EZR_CHECK_EQ(s.body0[0], 0x02);
    ezr_flv_parser_clear(&p);
}

EZR_TEST(test_garbage_and_oversized_tags_are_errors)
{
    struct ezr_flv_parser p;
    struct seen s = {0};
    ezr_flv_parser_init(&p);
    EZR_CHECK_EQ(ezr_flv_parser_feed(&p, (const uint8_t *)"FLX\x01\x05\0\0\0\x09", 9, collect, &s),
                 EZR_FLV_EBADHEADER);
    ezr_flv_parser_reset(&p);
    const uint8_t unknown[11] = {0x07, 0, 0, 1};
    EZR_CHECK_EQ(ezr_flv_parser_feed(&p, unknown, sizeof unknown, collect, &s), EZR_FLV_EBADTAG);
    ezr_flv_parser_reset(&p);
    const uint8_t huge[11] = {0x09, 0xFF, 0xFF, 0xFF};
    EZR_CHECK_EQ(ezr_flv_parser_feed(&p, huge, sizeof huge, collect, &s), EZR_FLV_ETOOBIG);
    EZR_CHECK_EQ(s.n, 0);
    ezr_flv_parser_clear(&p);
}

EZR_TEST_MAIN(EZR_CASE(test_tags_parsed_with_times_and_flags),
              EZR_CASE(test_every_split_gives_the_same_tags),
              EZR_CASE(test_tags_without_file_header),
              EZR_CASE(test_enhanced_video_header_classified),
              EZR_CASE(test_set_data_frame_wrapper_is_stripped),
              EZR_CASE(test_garbage_and_oversized_tags_are_errors))
