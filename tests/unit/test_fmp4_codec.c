/* The fMP4 writer's readers: the codecs' settings read from real x264 and AAC sequence headers
 * and from hand-built ones (scaling lists, emulation prevention, field coding, escapes), malformed
 * headers refused without reading out of bounds, and where a sample starts in a tag body. */
#include "ezr_test.h"

#include <stdbool.h>
#include <stdint.h>

#include "ezr_error.h"
#include "ezr_fmp4.h"
#include "fmp4_fixture.h"

/* ---- a bit writer for hand-built headers ------------------------------------------------ */

struct bw {
    uint8_t b[512];
    size_t bits;
};

static void bw_u(struct bw *w, unsigned n, uint32_t v)
{
    while (n--) {
        if ((v >> n) & 1u)
            w->b[w->bits / 8] |= (uint8_t)(0x80u >> (w->bits % 8));
        w->bits++;
    }
}

static void bw_ue(struct bw *w, uint32_t v)
{
    uint64_t code = (uint64_t)v + 1;
    unsigned n = 0;
    while ((code >> (n + 1)) != 0)
        n++;
    bw_u(w, n, 0);
    bw_u(w, 1, 1);
    bw_u(w, n, (uint32_t)(code - (1ull << n)));
}

static void bw_se(struct bw *w, int32_t v)
{
    bw_ue(w, v > 0 ? (uint32_t)v * 2 - 1 : (uint32_t)(-(int64_t)v) * 2);
}

/* rbsp_trailing_bits */
static size_t bw_finish(struct bw *w)
{
    bw_u(w, 1, 1);
    while (w->bits % 8)
        bw_u(w, 1, 0);
    return w->bits / 8;
}

/* An FLV AVC sequence header around one SPS (header byte 0x67, emulation prevention inserted)
 * and one PPS; returns the body's length. */
static size_t avc_header_of(const uint8_t *rbsp, size_t n, uint8_t *o)
{
    static const uint8_t head[] = {0x17, 0, 0, 0, 0, 1};
    size_t k = 0;
    memcpy(o, head, sizeof head);
    k = sizeof head;
    o[k++] = rbsp[0]; /* profile, constraints, level */
    o[k++] = rbsp[1];
    o[k++] = rbsp[2];
    o[k++] = 0xFF; /* 4-byte lengths */
    o[k++] = 0xE1; /* one SPS */
    size_t len_at = k;
    k += 2;
    size_t start = k;
    o[k++] = 0x67;
    unsigned zeros = 0;
    for (size_t i = 0; i < n; i++) {
        if (zeros >= 2 && rbsp[i] <= 3) {
            o[k++] = 3;
            zeros = 0;
        }
        o[k++] = rbsp[i];
        zeros = rbsp[i] == 0 ? zeros + 1 : 0;
    }
    o[len_at] = (uint8_t)((k - start) >> 8);
    o[len_at + 1] = (uint8_t)(k - start);
    static const uint8_t pps[] = {1, 0, 4, 0x68, 0xeb, 0xec, 0xb2};
    memcpy(o + k, pps, sizeof pps);
    return k + sizeof pps;
}

static bool has_emulation_prevention(const uint8_t *p, size_t n)
{
    for (size_t i = 2; i < n; i++)
        if (p[i - 2] == 0 && p[i - 1] == 0 && p[i] == 3)
            return true;
    return false;
}

struct sps_fields {
    uint8_t profile;
    uint32_t chroma_format; /* written only for the profiles that carry it */
    bool scaling_lists;
    uint32_t poc_type;
    uint32_t width_mbs, height_units;
    bool frame_mbs_only;
    uint32_t crop[4]; /* left, right, top, bottom */
};

/* A scaling_list() whose deltas are all read: the first moves the scale, then 0s. */
static void bw_scaling_list(struct bw *w, unsigned size, int32_t first)
{
    bw_se(w, first);
    for (unsigned j = 1; j < size; j++)
        bw_se(w, 0);
}

static size_t build_sps(const struct sps_fields *f, struct bw *w)
{
    memset(w, 0, sizeof *w);
    bw_u(w, 8, f->profile);
    bw_u(w, 8, 0);  /* constraint flags */
    bw_u(w, 8, 40); /* level 4.0 */
    bw_ue(w, 0);    /* seq_parameter_set_id */
    if (f->profile == 100 || f->profile == 122 || f->profile == 244) {
        bw_ue(w, f->chroma_format);
        if (f->chroma_format == 3)
            bw_u(w, 1, 0); /* separate_colour_plane_flag */
        bw_ue(w, 2);       /* 10-bit luma */
        bw_ue(w, 2);       /* and chroma */
        bw_u(w, 1, 0);
        bw_u(w, 1, f->scaling_lists);
        if (f->scaling_lists) {
            unsigned lists = f->chroma_format != 3 ? 8 : 12;
            for (unsigned i = 0; i < lists; i++) {
                bool present = i != 1; /* one list absent: its flag alone */
                bw_u(w, 1, present);
                if (!present)
                    continue;
                if (i == 0)
                    bw_se(w, -8); /* next scale 0: the rest of the list is not coded */
                else
                    bw_scaling_list(w, i < 6 ? 16 : 64, (int32_t)i - 5);
            }
        }
    }
    bw_ue(w, 0); /* log2_max_frame_num_minus4 */
    bw_ue(w, f->poc_type);
    if (f->poc_type == 0) {
        bw_ue(w, 2);
    } else if (f->poc_type == 1) {
        bw_u(w, 1, 0);
        bw_se(w, 1 << 30); /* 30 leading zero bits: emulation prevention is needed */
        bw_se(w, -5);
        bw_ue(w, 2);
        bw_se(w, 1);
        bw_se(w, -1);
    }
    bw_ue(w, 4); /* max_num_ref_frames */
    bw_u(w, 1, 0);
    bw_ue(w, f->width_mbs - 1);
    bw_ue(w, f->height_units - 1);
    bw_u(w, 1, f->frame_mbs_only);
    if (!f->frame_mbs_only)
        bw_u(w, 1, 1); /* mb_adaptive_frame_field_flag */
    bw_u(w, 1, 1);     /* direct_8x8_inference_flag */
    bool crop = f->crop[0] || f->crop[1] || f->crop[2] || f->crop[3];
    bw_u(w, 1, crop);
    if (crop)
        for (int i = 0; i < 4; i++)
            bw_ue(w, f->crop[i]);
    bw_u(w, 1, 0); /* no VUI */
    return bw_finish(w);
}

/* Each parses a copy in a heap block of exactly len bytes, so that AddressSanitizer sees any read
 * past it. Only the return code and the plain fields of out are valid afterwards. */
static uint8_t *exact_copy(const uint8_t *p, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, p, len);
    return copy;
}

static int parse_avc_exact(const uint8_t *body, size_t len, struct ezr_fmp4_video *out)
{
    uint8_t *copy = exact_copy(body, len);
    int rc = ezr_fmp4_parse_avc_header(copy, len, out);
    free(copy);
    return rc;
}

static int parse_aac_exact(const uint8_t *body, size_t len, struct ezr_fmp4_audio *out)
{
    uint8_t *copy = exact_copy(body, len);
    int rc = ezr_fmp4_parse_aac_header(copy, len, out);
    free(copy);
    return rc;
}

/* An AVC sequence header parses to that picture size and CODECS string. */
#define CHECK_AVC_HEADER(body, len, w, h, codecs_)                                                 \
    do {                                                                                           \
        struct ezr_fmp4_video v_;                                                                  \
        EZR_CHECK_EQ(parse_avc_exact((body), (len), &v_), 0);                                      \
        EZR_CHECK_EQ(v_.width, (w));                                                               \
        EZR_CHECK_EQ(v_.height, (h));                                                              \
        EZR_CHECK(strcmp(v_.codecs, (codecs_)) == 0);                                              \
    } while (0)

/* ---- H.264 ---------------------------------------------------------------------------- */

EZR_TEST(test_x264_720p_sequence_header_gives_size_codecs_and_record)
{
    CHECK_AVC_HEADER(x264_720p, sizeof x264_720p, 1280, 720, "avc1.f4001f");
    struct ezr_fmp4_video v;
    EZR_CHECK_EQ(ezr_fmp4_parse_avc_header(x264_720p, sizeof x264_720p, &v), 0);
    EZR_CHECK(v.avcc == x264_720p + 5);
    EZR_CHECK_EQ(v.avcc_len, sizeof x264_720p - 5);
}

/* x264enc from a 320x240 I420 30/1 source (GStreamer 1.22, tune=zerolatency, ultrafast): its
 * VUI says timing 1/60, fixed. */
static const uint8_t x264_240p30[] = {
    0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x42, 0xc0, 0x15, 0xff, 0xe1, 0x00, 0x1b, 0x67, 0x42, 0xc0,
    0x15, 0xda, 0x05, 0x07, 0xec, 0x05, 0xa8, 0x30, 0x30, 0x35, 0x28, 0x00, 0x00, 0x03, 0x00, 0x08,
    0x00, 0x00, 0x03, 0x01, 0xe4, 0x78, 0xb1, 0x75, 0x01, 0x00, 0x04, 0x68, 0xce, 0x3c, 0x80,
};

EZR_TEST(test_sps_vui_timing_gives_the_frame_rate)
{
    CHECK_AVC_HEADER(x264_240p30, sizeof x264_240p30, 320, 240, "avc1.42c015");
    struct ezr_fmp4_video v;
    EZR_CHECK_EQ(parse_avc_exact(x264_240p30, sizeof x264_240p30, &v), 0);
    EZR_CHECK_EQ(v.frame_rate_milli, 30000);
    /* Without a VUI (build_sps), nothing is said: the rate is counted elsewhere. */
    struct sps_fields f = {
        .profile = 66, .poc_type = 2, .width_mbs = 20, .height_units = 15, .frame_mbs_only = true};
    struct bw w;
    uint8_t body[600];
    size_t len = avc_header_of(w.b, build_sps(&f, &w), body);
    EZR_CHECK_EQ(parse_avc_exact(body, len, &v), 0);
    EZR_CHECK_EQ(v.frame_rate_milli, 0);
}

EZR_TEST(test_x264_1080p_is_cropped_from_1088_coded_lines)
{
    CHECK_AVC_HEADER(x264_1080p_high, sizeof x264_1080p_high, 1920, 1080, "avc1.640028");
    CHECK_AVC_HEADER(x264_1080p_baseline, sizeof x264_1080p_baseline, 1920, 1080, "avc1.42c028");
}

EZR_TEST(test_x264_interlaced_1080_counts_field_map_units_twice)
{
    CHECK_AVC_HEADER(x264_1080i_high, sizeof x264_1080i_high, 1920, 1080, "avc1.640028");
}

EZR_TEST(test_x264_444_crops_whole_lines)
{
    /* 4:4:4: the crop unit is one line, not two (368 coded lines, 8 cropped). */
    CHECK_AVC_HEADER(x264_360p_444, sizeof x264_360p_444, 640, 360, "avc1.f4001e");
}

EZR_TEST(test_sps_with_scaling_lists_and_emulation_prevention)
{
    /* High 10 4:2:0 with eight scaling lists, picture order type 1 with a large offset (whose
     * zero bits need emulation prevention before the size fields), 1088 lines cropped to 1080. */
    struct sps_fields f = {.profile = 100,
                           .chroma_format = 1,
                           .scaling_lists = true,
                           .poc_type = 1,
                           .width_mbs = 120,
                           .height_units = 68,
                           .frame_mbs_only = true,
                           .crop = {0, 0, 0, 4}};
    struct bw w;
    uint8_t body[600];
    size_t len = avc_header_of(w.b, build_sps(&f, &w), body);
    EZR_CHECK(has_emulation_prevention(body + 13, len - 13));
    CHECK_AVC_HEADER(body, len, 1920, 1080, "avc1.640028");

    /* 4:4:4 (profile 244): twelve lists, and a crop unit of one pixel each way. */
    f = (struct sps_fields){.profile = 244,
                            .chroma_format = 3,
                            .scaling_lists = true,
                            .poc_type = 0,
                            .width_mbs = 80,
                            .height_units = 45,
                            .frame_mbs_only = true,
                            .crop = {2, 6, 1, 3}};
    len = avc_header_of(w.b, build_sps(&f, &w), body);
    CHECK_AVC_HEADER(body, len, 1280 - 8, 720 - 4, "avc1.f40028");

    /* 4:2:2 fields (profile 122): crop units 2 across and 1 * 2 down (the chroma has every
     * line; a field's line is two of the frame's). */
    f = (struct sps_fields){.profile = 122,
                            .chroma_format = 2,
                            .poc_type = 2,
                            .width_mbs = 45,
                            .height_units = 18,
                            .frame_mbs_only = false,
                            .crop = {0, 4, 0, 2}};
    len = avc_header_of(w.b, build_sps(&f, &w), body);
    CHECK_AVC_HEADER(body, len, 720 - 8, 576 - 4, "avc1.7a0028");

    /* Main profile carries no chroma fields: 4:2:0 is implied. */
    f = (struct sps_fields){.profile = 77,
                            .poc_type = 0,
                            .width_mbs = 40,
                            .height_units = 30,
                            .frame_mbs_only = true,
                            .crop = {0, 0, 0, 0}};
    len = avc_header_of(w.b, build_sps(&f, &w), body);
    CHECK_AVC_HEADER(body, len, 640, 480, "avc1.4d0028");
}

EZR_TEST(test_other_video_is_no_avc_header)
{
    struct ezr_fmp4_video v;
    static const uint8_t nalu[] = {0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65};
    static const uint8_t vp6[] = {0x14, 0, 0, 0, 0, 1};
    static const uint8_t info[] = {0x57, 0, 0, 0, 0};
    static const uint8_t enhanced[] = {0x90, 'a', 'v', 'c', '1', 1, 0x64, 0, 0x1f};
    EZR_CHECK_EQ(ezr_fmp4_parse_avc_header(nalu, sizeof nalu, &v), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_fmp4_parse_avc_header(vp6, sizeof vp6, &v), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_fmp4_parse_avc_header(info, sizeof info, &v), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_fmp4_parse_avc_header(enhanced, sizeof enhanced, &v), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_fmp4_parse_avc_header(x264_720p, 1, &v), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_fmp4_parse_avc_header(NULL, 0, &v), EZR_EINVAL);
}

EZR_TEST(test_truncated_avc_records_are_eproto)
{
    struct ezr_fmp4_video v;
    /* Every prefix of a real header that still says "AVC sequence header". */
    for (size_t n = 2; n < sizeof x264_720p; n++)
        EZR_CHECK_EQ(parse_avc_exact(x264_720p, n, &v), EZR_EPROTO);
    /* The SPS cut short with its length field to match: refused until it holds the cropping
     * fields, then read right (the VUI after them is not needed). */
    static const size_t sps_at = 13, sps_len = 0x1e;
    uint8_t body[sizeof x264_720p];
    size_t first_ok = 0;
    for (size_t k = 0; k <= sps_len; k++) {
        memcpy(body, x264_720p, sps_at);
        body[sps_at - 1] = (uint8_t)k;
        memcpy(body + sps_at, x264_720p + sps_at, k);
        memcpy(body + sps_at + k, x264_720p + sps_at + sps_len, 9); /* the PPS */
        int rc = parse_avc_exact(body, sps_at + k + 9, &v);
        if (rc == 0) {
            EZR_CHECK_EQ(v.width, 1280);
            EZR_CHECK_EQ(v.height, 720);
            if (!first_ok)
                first_ok = k;
        } else {
            EZR_CHECK_EQ(rc, EZR_EPROTO);
            EZR_CHECK_EQ(first_ok, 0); /* never refused again once enough is there */
        }
    }
    EZR_CHECK(first_ok > 4 && first_ok < sps_len);
}

EZR_TEST(test_malformed_avc_records_are_eproto)
{
    struct ezr_fmp4_video v;
    uint8_t b[sizeof x264_720p];
    /* a zero-length SPS */
    static const uint8_t empty_sps[] = {0x17, 0,    0, 0, 0, 1, 0x64, 0,   0x1f,
                                        0xff, 0xe1, 0, 0, 1, 0, 1,    0x68};
    EZR_CHECK_EQ(parse_avc_exact(empty_sps, sizeof empty_sps, &v), EZR_EPROTO);
    /* no SPS */
    static const uint8_t no_sps[] = {0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe0, 0};
    EZR_CHECK_EQ(parse_avc_exact(no_sps, sizeof no_sps, &v), EZR_EPROTO);
    /* configurationVersion 0 */
    memcpy(b, x264_720p, sizeof b);
    b[5] = 0;
    EZR_CHECK_EQ(parse_avc_exact(b, sizeof b, &v), EZR_EPROTO);
    /* 3-byte NAL lengths, which 14496-15 does not allow */
    memcpy(b, x264_720p, sizeof b);
    b[9] = 0xFE;
    EZR_CHECK_EQ(parse_avc_exact(b, sizeof b, &v), EZR_EPROTO);
    /* the SPS slot holds a PPS */
    memcpy(b, x264_720p, sizeof b);
    b[13] = 0x68;
    EZR_CHECK_EQ(parse_avc_exact(b, sizeof b, &v), EZR_EPROTO);
    /* a PPS count larger than what follows */
    memcpy(b, x264_720p, sizeof b);
    b[43] = 2;
    EZR_CHECK_EQ(parse_avc_exact(b, sizeof b, &v), EZR_EPROTO);
    /* an SPS of ones: every exp-Golomb code is 0, and then the size is never reached... */
    uint8_t ones[40] = {0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 20, 0x67};
    memset(ones + 14, 0xFF, 19);
    ones[33] = 1;
    ones[34] = 0;
    ones[35] = 1;
    ones[36] = 0x68;
    EZR_CHECK_EQ(parse_avc_exact(ones, 37, &v), 0);
    /* ...and an SPS of zeros has a code of more than 32 bits */
    memset(ones + 14, 0, 19);
    EZR_CHECK_EQ(parse_avc_exact(ones, 37, &v), EZR_EPROTO);

    /* Garbage after a valid tag header: refused or read, never out of bounds (ASan). */
    uint32_t seed = 12345;
    for (int i = 0; i < 20000; i++) {
        uint8_t g[64];
        size_t n = 2 + (seed >> 8) % 60;
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            g[k] = (uint8_t)(seed >> 16);
        }
        g[0] = 0x17;
        g[1] = 0;
        if (i & 1) { /* the record's fixed fields right, so that the SPS is read */
            g[5] = 1;
            g[9] = 0xFF;
            g[10] = 0xE1;
            g[11] = 0;
            g[13] = 0x67;
        }
        int rc = parse_avc_exact(g, n, &v);
        EZR_CHECK(rc == EZR_EPROTO || (rc == 0 && v.width > 0 && v.height > 0));
    }
}

/* ---- AAC ------------------------------------------------------------------------------ */

EZR_TEST(test_aac_44100_and_48000_stereo)
{
    struct ezr_fmp4_audio a;
    EZR_CHECK_EQ(ezr_fmp4_parse_aac_header(aac_44100_stereo, sizeof aac_44100_stereo, &a), 0);
    EZR_CHECK_EQ(a.sample_rate, 44100);
    EZR_CHECK_EQ(a.channels, 2);
    EZR_CHECK_EQ(a.object_type, 2);
    EZR_CHECK(strcmp(a.codecs, "mp4a.40.2") == 0);
    EZR_CHECK(a.asc == aac_44100_stereo + 2);
    EZR_CHECK_EQ(a.asc_len, 5);
    EZR_CHECK_EQ(ezr_fmp4_parse_aac_header(aac_48000_stereo, sizeof aac_48000_stereo, &a), 0);
    EZR_CHECK_EQ(a.sample_rate, 48000);
    EZR_CHECK_EQ(a.channels, 2);
    EZR_CHECK(strcmp(a.codecs, "mp4a.40.2") == 0);
}

/* An FLV AAC sequence header whose config w holds. */
static size_t aac_header_of(struct bw *w, uint8_t *o)
{
    o[0] = 0xAF;
    o[1] = 0;
    size_t n = (w->bits + 7) / 8;
    memcpy(o + 2, w->b, n);
    return 2 + n;
}

EZR_TEST(test_aac_escapes_for_frequency_and_object_type)
{
    struct ezr_fmp4_audio a;
    uint8_t body[16];
    /* explicit frequency: index 15, then 24 bits */
    struct bw w = {0};
    bw_u(&w, 5, 2);
    bw_u(&w, 4, 15);
    bw_u(&w, 24, 22000);
    bw_u(&w, 4, 1);
    EZR_CHECK_EQ(parse_aac_exact(body, aac_header_of(&w, body), &a), 0);
    EZR_CHECK_EQ(a.sample_rate, 22000);
    EZR_CHECK_EQ(a.channels, 1);
    EZR_CHECK(strcmp(a.codecs, "mp4a.40.2") == 0);
    /* object type 31: 32 + the next 6 bits (42, USAC) */
    w = (struct bw){0};
    bw_u(&w, 5, 31);
    bw_u(&w, 6, 10);
    bw_u(&w, 4, 3);
    bw_u(&w, 4, 7); /* 7.1 */
    EZR_CHECK_EQ(parse_aac_exact(body, aac_header_of(&w, body), &a), 0);
    EZR_CHECK_EQ(a.object_type, 42);
    EZR_CHECK_EQ(a.sample_rate, 48000);
    EZR_CHECK_EQ(a.channels, 8);
    EZR_CHECK(strcmp(a.codecs, "mp4a.40.42") == 0);
    /* HE-AAC signalled explicitly: the core rate (24 kHz) is the timescale, SBR's 48 kHz not */
    w = (struct bw){0};
    bw_u(&w, 5, 5);
    bw_u(&w, 4, 6);
    bw_u(&w, 4, 2);
    bw_u(&w, 4, 3);
    bw_u(&w, 5, 2);
    EZR_CHECK_EQ(parse_aac_exact(body, aac_header_of(&w, body), &a), 0);
    EZR_CHECK_EQ(a.sample_rate, 24000);
    EZR_CHECK_EQ(a.object_type, 5);
    EZR_CHECK(strcmp(a.codecs, "mp4a.40.5") == 0);
}

EZR_TEST(test_malformed_aac_configs_are_eproto)
{
    struct ezr_fmp4_audio a;
    static const uint8_t one_byte[] = {0xAF, 0, 0x12};
    static const uint8_t reserved_rate[] = {0xAF, 0, 0x16, 0x90};     /* index 13 */
    static const uint8_t object_zero[] = {0xAF, 0, 0x02, 0x10};       /* object type 0 */
    static const uint8_t reserved_layout[] = {0xAF, 0, 0x12, 0x78};   /* channels 15 */
    static const uint8_t short_explicit[] = {0xAF, 0, 0x17, 0x80, 0}; /* 24-bit rate cut */
    static const uint8_t zero_rate[] = {0xAF, 0, 0x17, 0x80, 0, 0, 0x08};
    static const uint8_t short_escape[] = {0xAF, 0, 0xF8};
    EZR_CHECK_EQ(parse_aac_exact(one_byte, sizeof one_byte, &a), EZR_EPROTO);
    EZR_CHECK_EQ(parse_aac_exact(reserved_rate, sizeof reserved_rate, &a), EZR_EPROTO);
    EZR_CHECK_EQ(parse_aac_exact(object_zero, sizeof object_zero, &a), EZR_EPROTO);
    EZR_CHECK_EQ(parse_aac_exact(reserved_layout, sizeof reserved_layout, &a), EZR_EPROTO);
    EZR_CHECK_EQ(parse_aac_exact(short_explicit, sizeof short_explicit, &a), EZR_EPROTO);
    EZR_CHECK_EQ(parse_aac_exact(zero_rate, sizeof zero_rate, &a), EZR_EPROTO);
    EZR_CHECK_EQ(parse_aac_exact(short_escape, sizeof short_escape, &a), EZR_EPROTO);
    /* not AAC, or no config */
    static const uint8_t mp3[] = {0x2F, 0, 0x12, 0x10};
    static const uint8_t raw[] = {0xAF, 1, 0x21, 0x00};
    EZR_CHECK_EQ(parse_aac_exact(mp3, sizeof mp3, &a), EZR_EINVAL);
    EZR_CHECK_EQ(parse_aac_exact(raw, sizeof raw, &a), EZR_EINVAL);
    EZR_CHECK_EQ(parse_aac_exact(raw, 1, &a), EZR_EINVAL);
    /* Every 2- and 3-byte config: refused or read, never out of bounds. */
    for (uint32_t c = 0; c < 1u << 24; c += 97) {
        uint8_t b[5] = {0xAF, 0, (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
        for (size_t n = 4; n <= 5; n++) {
            int rc = parse_aac_exact(b, n, &a);
            EZR_CHECK(rc == EZR_EPROTO || (rc == 0 && a.sample_rate > 0));
        }
    }
}

/* ---- samples ------------------------------------------------------------------------- */

EZR_TEST(test_sample_of_skips_the_flv_headers_and_signs_the_composition_time)
{
    size_t off = 99;
    int32_t cts = 99;
    static const uint8_t key[] = {0x17, 1, 0, 0, 0x50, 0, 0, 0, 1, 0x65};
    static const uint8_t neg[] = {0x27, 1, 0xFF, 0xFF, 0xDE, 0, 0, 0, 1, 0x41};
    static const uint8_t most_neg[] = {0x27, 1, 0x80, 0, 0, 0, 0, 0, 1, 0x41};
    static const uint8_t aac[] = {0xAF, 1, 0x21, 0x00, 0x49};
    EZR_CHECK_EQ(ezr_fmp4_sample_of(9, key, sizeof key, &off, &cts), 0);
    EZR_CHECK_EQ(off, 5);
    EZR_CHECK_EQ(cts, 80);
    EZR_CHECK_EQ(ezr_fmp4_sample_of(9, neg, sizeof neg, &off, &cts), 0);
    EZR_CHECK_EQ(cts, -34);
    EZR_CHECK_EQ(ezr_fmp4_sample_of(9, most_neg, sizeof most_neg, &off, &cts), 0);
    EZR_CHECK_EQ(cts, -8388608);
    EZR_CHECK_EQ(ezr_fmp4_sample_of(8, aac, sizeof aac, &off, &cts), 0);
    EZR_CHECK_EQ(off, 2);
    EZR_CHECK_EQ(cts, 0);

    static const uint8_t eos[] = {0x17, 2, 0, 0, 0};
    static const uint8_t empty_nalu[] = {0x17, 1, 0, 0, 0};
    static const uint8_t info[] = {0x57, 1, 0, 0, 0, 0};
    static const uint8_t hevc_ex[] = {0x91, 'h', 'v', 'c', '1', 0, 0, 0, 9};
    static const uint8_t mp3[] = {0x2F, 0xFF, 0xFB};
    EZR_CHECK_EQ(ezr_fmp4_sample_of(9, x264_720p, sizeof x264_720p, &off, &cts), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_fmp4_sample_of(9, eos, sizeof eos, &off, &cts), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_fmp4_sample_of(9, empty_nalu, sizeof empty_nalu, &off, &cts), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_fmp4_sample_of(9, info, sizeof info, &off, &cts), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_fmp4_sample_of(9, hevc_ex, sizeof hevc_ex, &off, &cts), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_fmp4_sample_of(8, aac_44100_stereo, sizeof aac_44100_stereo, &off, &cts),
                 EZR_EINVAL);
    EZR_CHECK_EQ(ezr_fmp4_sample_of(8, mp3, sizeof mp3, &off, &cts), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_fmp4_sample_of(8, aac, 2, &off, &cts), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_fmp4_sample_of(18, aac, sizeof aac, &off, &cts), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_fmp4_sample_of(9, key, 0, &off, &cts), EZR_EINVAL);
}

EZR_TEST_MAIN(EZR_CASE(test_x264_720p_sequence_header_gives_size_codecs_and_record),
              EZR_CASE(test_sps_vui_timing_gives_the_frame_rate),
              EZR_CASE(test_x264_1080p_is_cropped_from_1088_coded_lines),
              EZR_CASE(test_x264_interlaced_1080_counts_field_map_units_twice),
              EZR_CASE(test_x264_444_crops_whole_lines),
              EZR_CASE(test_sps_with_scaling_lists_and_emulation_prevention),
              EZR_CASE(test_other_video_is_no_avc_header),
              EZR_CASE(test_truncated_avc_records_are_eproto),
              EZR_CASE(test_malformed_avc_records_are_eproto),
              EZR_CASE(test_aac_44100_and_48000_stereo),
              EZR_CASE(test_aac_escapes_for_frequency_and_object_type),
              EZR_CASE(test_malformed_aac_configs_are_eproto),
              EZR_CASE(test_sample_of_skips_the_flv_headers_and_signs_the_composition_time))
