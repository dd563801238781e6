/* The element's FLV parser: tags out of any split of the input, classified for the server. */
#include "ezr_test.h"

#include "ezr_flv_parser.h"
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
    EZR_CHECK_EQ(ezr_flv_classify(9, ex_seq, sizeof ex_seq, NULL), EZR_FLV_SEQ_HEADER);
    EZR_CHECK_EQ(ezr_flv_classify(9, flv_ex_key, sizeof flv_ex_key, NULL), EZR_FLV_KEYFRAME);
    EZR_CHECK_EQ(ezr_flv_classify(9, flv_ex_inter, sizeof flv_ex_inter, NULL), 0);
    const uint8_t ex_end[] = {0x92, 'h', 'v', 'c', '1'}; /* SequenceEnd */
    EZR_CHECK_EQ(ezr_flv_classify(9, ex_end, sizeof ex_end, NULL), EZR_FLV_NOT_MEDIA);
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

/* Classifies one tag as the parser emits it: the flags, the refusal and the body handed on. */
static struct ezr_flv_tag parse_one(uint8_t type, const uint8_t *body, size_t len, uint8_t *body0)
{
    uint8_t buf[1024];
    size_t n = flv_put_tag(buf, type, 40, body, len);
    struct ezr_flv_parser p;
    ezr_flv_parser_init(&p);
    struct seen s = {0};
    int rc = ezr_flv_parser_feed(&p, buf, n, collect, &s);
    ezr_flv_parser_clear(&p);
    struct ezr_flv_tag t = {0};
    if (rc == 0 && s.n == 1) {
        t = s.t[0];
        *body0 = s.body0[0];
    } else {
        t.flags = 0xFFFFFFFF;
    }
    return t;
}

EZR_TEST(test_video_metadata_packet_is_neither_header_nor_keyframe)
{
    uint8_t body0 = 0;
    struct ezr_flv_tag t = parse_one(9, flv_ex_metadata, sizeof flv_ex_metadata, &body0);
    EZR_CHECK_EQ(t.flags, 0);
    EZR_CHECK_EQ(t.refusal, EZR_FLV_REFUSAL_NONE);
    EZR_CHECK_EQ(t.len, sizeof flv_ex_metadata);
    EZR_CHECK_EQ(body0, 0x94);
    /* The frame type is ignored for Metadata, a Command frame type included. */
    uint8_t as_command[sizeof flv_ex_metadata];
    memcpy(as_command, flv_ex_metadata, sizeof as_command);
    as_command[0] = 0xD4;
    EZR_CHECK_EQ(ezr_flv_classify(9, as_command, sizeof as_command, NULL), 0);
}

EZR_TEST(test_mpeg2ts_sequence_start_is_a_header)
{
    /* key, MPEG2TSSequenceStart, av01, then an AV1VideoDescriptor. */
    const uint8_t body[] = {0x95, 'a', 'v', '0', '1', 0x80, 0x04, 0x81, 0x08, 0x0C, 0x00};
    uint8_t refusal = 0xFF;
    EZR_CHECK_EQ(ezr_flv_classify(9, body, sizeof body, &refusal), EZR_FLV_SEQ_HEADER);
    EZR_CHECK_EQ(refusal, EZR_FLV_REFUSAL_NONE);
}

EZR_TEST(test_modex_wrapping_coded_frames_keyframe_is_a_keyframe)
{
    /* key + ModEx; 3 bytes of TimestampOffsetNano (500 ns); modifier 0 + CodedFrames; hvc1;
     * composition time 0; data. */
    const uint8_t key[] = {0x97, 2, 0x00, 0x01, 0xF4, 0x01, 'h', 'v', 'c', '1', 0, 0, 0, 0x26};
    uint8_t body0 = 0;
    struct ezr_flv_tag t = parse_one(9, key, sizeof key, &body0);
    EZR_CHECK_EQ(t.flags, EZR_FLV_KEYFRAME);
    EZR_CHECK_EQ(t.len, sizeof key); /* relayed unchanged */
    EZR_CHECK_EQ(body0, 0x97);
    /* inter + ModEx wrapping CodedFramesX */
    const uint8_t inter[] = {0xA7, 2, 0x00, 0x01, 0xF4, 0x03, 'h', 'v', 'c', '1', 0x02};
    EZR_CHECK_EQ(ezr_flv_classify(9, inter, sizeof inter, NULL), 0);
    /* key + ModEx wrapping SequenceStart */
    const uint8_t seq[] = {0x97, 2, 0x00, 0x01, 0xF4, 0x00, 'h', 'v', 'c', '1', 0x01};
    EZR_CHECK_EQ(ezr_flv_classify(9, seq, sizeof seq, NULL), EZR_FLV_SEQ_HEADER);
    /* Two ModEx in a row, then CodedFrames */
    const uint8_t twice[] = {0x97, 0, 0xAA, 0x07, 0, 0xBB, 0x01, 'h', 'v', 'c', '1', 0, 0, 0};
    EZR_CHECK_EQ(ezr_flv_classify(9, twice, sizeof twice, NULL), EZR_FLV_KEYFRAME);
}

EZR_TEST(test_modex_with_a_16_bit_size_is_followed)
{
    /* UI8 255 means a UI16 size follows: 0x0100 + 1 = 257 bytes of modifier data. */
    uint8_t body[4 + 257 + 1 + 4 + 3] = {0x97, 0xFF, 0x01, 0x00};
    body[4 + 257] = 0x01; /* CodedFrames */
    memcpy(body + 4 + 257 + 1, "hvc1", 4);
    EZR_CHECK_EQ(ezr_flv_classify(9, body, sizeof body, NULL), EZR_FLV_KEYFRAME);
    /* One byte short of the packet type byte: refused, not guessed. */
    uint8_t refusal = 0;
    EZR_CHECK_EQ(ezr_flv_classify(9, body, 4 + 257, &refusal), EZR_FLV_REFUSED);
    EZR_CHECK_EQ(refusal, EZR_FLV_REFUSAL_TRUNCATED);
}

EZR_TEST(test_truncated_modex_is_refused)
{
    const uint8_t body[] = {0x97, 2, 0, 1, 0xF4, 0x01, 'h', 'v', 'c', '1'};
    /* Cut after: the ModEx flag (no size), part of the data, the data (no packet type byte), the
     * packet type (no FourCC), part of the FourCC. */
    const size_t cuts[] = {1, 4, 5, 6, 8};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        uint8_t refusal = 0;
        EZR_CHECK_EQ(ezr_flv_classify(9, body, cuts[i], &refusal), EZR_FLV_REFUSED);
        EZR_CHECK_EQ(refusal, EZR_FLV_REFUSAL_TRUNCATED);
    }
    EZR_CHECK_EQ(ezr_flv_classify(9, body, sizeof body, NULL), EZR_FLV_KEYFRAME);
}

EZR_TEST(test_multitrack_video_and_audio_are_refused)
{
    /* key + Multitrack; ManyTracks + CodedFrames; hvc1; track 0, 4 bytes; track 1, 4 bytes. */
    const uint8_t video[] = {0x96, 0x11, 'h',  'v', 'c', '1', 0, 0, 0, 4, 0,
                             0,    0,    0x26, 1,   0,   0,   4, 0, 0, 0, 0x26};
    uint8_t body0 = 0;
    struct ezr_flv_tag t = parse_one(9, video, sizeof video, &body0);
    EZR_CHECK_EQ(t.flags, EZR_FLV_REFUSED);
    EZR_CHECK_EQ(t.refusal, EZR_FLV_REFUSAL_MULTITRACK);
    /* ModEx wrapping Multitrack: the real packet type decides. */
    const uint8_t wrapped[] = {0x97, 0, 0, 0x06, 0x00, 'h', 'v', 'c', '1', 0, 0, 0, 0};
    uint8_t refusal = 0;
    EZR_CHECK_EQ(ezr_flv_classify(9, wrapped, sizeof wrapped, &refusal), EZR_FLV_REFUSED);
    EZR_CHECK_EQ(refusal, EZR_FLV_REFUSAL_MULTITRACK);
    /* ExHeader + Multitrack; OneTrack + SequenceStart; Opus; track 0; an ID header. */
    const uint8_t audio[] = {0x95, 0x00, 'O', 'p', 'u', 's', 0, 'O', 'p', 'u', 's'};
    t = parse_one(8, audio, sizeof audio, &body0);
    EZR_CHECK_EQ(t.flags, EZR_FLV_REFUSED);
    EZR_CHECK_EQ(t.refusal, EZR_FLV_REFUSAL_MULTITRACK);
}

EZR_TEST(test_enhanced_audio_modex_and_reserved_types)
{
    /* ExHeader + ModEx (3 bytes of nano offset) wrapping SequenceStart, Opus */
    const uint8_t seq[] = {0x97, 2, 0, 1, 0xF4, 0x00, 'O', 'p', 'u', 's', 'O'};
    EZR_CHECK_EQ(ezr_flv_classify(8, seq, sizeof seq, NULL), EZR_FLV_SEQ_HEADER);
    const uint8_t frames[] = {0x97, 2, 0, 1, 0xF4, 0x01, 'O', 'p', 'u', 's', 0xFC};
    EZR_CHECK_EQ(ezr_flv_classify(8, frames, sizeof frames, NULL), 0);
    const uint8_t plain_seq[] = {0x90, 'O', 'p', 'u', 's', 'O'};
    EZR_CHECK_EQ(ezr_flv_classify(8, plain_seq, sizeof plain_seq, NULL), EZR_FLV_SEQ_HEADER);
    /* MultichannelConfig is relayed as audio: the one cached audio header stays the config. */
    const uint8_t channels[] = {0x94, 'O', 'p', 'u', 's', 1, 2};
    EZR_CHECK_EQ(ezr_flv_classify(8, channels, sizeof channels, NULL), 0);
    const uint8_t reserved_audio[] = {0x93, 'O', 'p', 'u', 's'};
    uint8_t refusal = 0;
    EZR_CHECK_EQ(ezr_flv_classify(8, reserved_audio, sizeof reserved_audio, &refusal),
                 EZR_FLV_REFUSED);
    EZR_CHECK_EQ(refusal, EZR_FLV_REFUSAL_PACKET_TYPE);
    const uint8_t reserved_video[] = {0x98, 'h', 'v', 'c', '1'};
    EZR_CHECK_EQ(ezr_flv_classify(9, reserved_video, sizeof reserved_video, &refusal),
                 EZR_FLV_REFUSED);
    EZR_CHECK_EQ(refusal, EZR_FLV_REFUSAL_PACKET_TYPE);
}

EZR_TEST(test_script_tags_other_than_metadata_are_live_data)
{
    uint8_t body0 = 0;
    struct ezr_flv_tag t = parse_one(18, flv_cue_point, sizeof flv_cue_point, &body0);
    EZR_CHECK_EQ(t.flags, EZR_FLV_LIVE_DATA);
    EZR_CHECK_EQ(t.len, sizeof flv_cue_point);
    EZR_CHECK_EQ(t.timestamp, 40);
    const uint8_t text[] = {0x02, 0, 10, 'o', 'n', 'T', 'e', 'x', 't', 'D', 'a', 't', 'a', 0x05};
    EZR_CHECK_EQ(ezr_flv_classify(18, text, sizeof text, NULL), EZR_FLV_LIVE_DATA);
    /* Not even an AMF0 string: still relayed, players skip what they do not understand. */
    const uint8_t odd[] = {0x00, 0, 0, 0, 0, 0, 0, 0, 0};
    EZR_CHECK_EQ(ezr_flv_classify(18, odd, sizeof odd, NULL), EZR_FLV_LIVE_DATA);
    /* onMetaData stays the stream's metadata. */
    t = parse_one(18, flv_meta, sizeof flv_meta, &body0);
    EZR_CHECK_EQ(t.flags, EZR_FLV_METADATA);
    EZR_CHECK_EQ(t.len, sizeof flv_meta);
}

EZR_TEST(test_set_data_frame_wrapper_is_stripped_from_live_data)
{
    uint8_t body[64] = {0x02, 0,   13,  '@', 's', 'e', 't',  'D', 'a', 't',
                        'a',  'F', 'r', 'a', 'm', 'e', 0x02, 0,   10,  'o',
                        'n',  'C', 'u', 'e', 'P', 'o', 'i',  'n', 't', 0x05};
    uint8_t body0 = 0;
    struct ezr_flv_tag t = parse_one(18, body, 30, &body0);
    EZR_CHECK_EQ(t.flags, EZR_FLV_LIVE_DATA);
    EZR_CHECK_EQ(t.len, 14);
    EZR_CHECK_EQ(body0, 0x02);
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
              EZR_CASE(test_video_metadata_packet_is_neither_header_nor_keyframe),
              EZR_CASE(test_mpeg2ts_sequence_start_is_a_header),
              EZR_CASE(test_modex_wrapping_coded_frames_keyframe_is_a_keyframe),
              EZR_CASE(test_modex_with_a_16_bit_size_is_followed),
              EZR_CASE(test_truncated_modex_is_refused),
              EZR_CASE(test_multitrack_video_and_audio_are_refused),
              EZR_CASE(test_enhanced_audio_modex_and_reserved_types),
              EZR_CASE(test_script_tags_other_than_metadata_are_live_data),
              EZR_CASE(test_set_data_frame_wrapper_is_stripped_from_live_data),
              EZR_CASE(test_garbage_and_oversized_tags_are_errors))
