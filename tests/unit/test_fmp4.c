/* The fMP4 writer: the codecs' settings read from real x264 and AAC sequence headers and from
 * hand-built ones (scaling lists, emulation prevention, field coding, escapes), malformed headers
 * refused without reading out of bounds, and the init segment and fragment headers parsed back
 * box by box. */
#include "ezr_test.h"

#include <stdbool.h>
#include <stdint.h>

#include "ezr_alloc.h"
#include "ezr_buf.h"
#include "ezr_error.h"
#include "ezr_fmp4.h"

/* Sequence header tag bodies (AVCPacketType 0) of flvmux output, from these pipelines (each
 * "... ! filesink location=x.flv"; the video/x-raw formats other than the first pin down the
 * chroma format, which videotestsrc otherwise picks: 4:4:4 for the first, as x264enc offers it
 * first). */
/* gst-launch-1.0 videotestsrc num-buffers=2 ! video/x-raw,width=1280,height=720 ! x264enc !
 * h264parse ! flvmux */
static const uint8_t x264_720p[] = {
    0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0xf4, 0x00, 0x1f, 0xff, 0xe1, 0x00, 0x1e,
    0x67, 0xf4, 0x00, 0x1f, 0x90, 0xd9, 0xb2, 0x80, 0xa0, 0x0b, 0x76, 0x02, 0xd4,
    0x04, 0x04, 0x05, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x3c,
    0x8f, 0x18, 0x31, 0x96, 0x01, 0x00, 0x06, 0x68, 0xeb, 0xec, 0x44, 0x84, 0x40,
};
/* gst-launch-1.0 videotestsrc num-buffers=2 ! video/x-raw,width=1920,height=1080 ! x264enc !
 * video/x-h264,profile=high ! h264parse ! flvmux */
static const uint8_t x264_1080p_high[] = {
    0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x28, 0xff, 0xe1, 0x00, 0x1e,
    0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x02, 0x27, 0xe5, 0xc0, 0x5a,
    0x80, 0x80, 0x80, 0xa0, 0x00, 0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x07, 0x91,
    0xe3, 0x06, 0x32, 0xc0, 0x01, 0x00, 0x05, 0x68, 0xeb, 0xec, 0xb2, 0x2c,
};
/* gst-launch-1.0 videotestsrc num-buffers=2 ! video/x-raw,width=1920,height=1080 ! x264enc !
 * video/x-h264,profile=baseline ! h264parse ! flvmux */
static const uint8_t x264_1080p_baseline[] = {
    0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x42, 0xc0, 0x28, 0xff, 0xe1, 0x00, 0x1c, 0x67, 0x42, 0xc0,
    0x28, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5, 0xc0, 0x5a, 0x80, 0x80, 0x80, 0xa0, 0x00, 0x00, 0x03,
    0x00, 0x20, 0x00, 0x00, 0x07, 0x91, 0xe3, 0x06, 0x49, 0x01, 0x00, 0x04, 0x68, 0xcb, 0x8c, 0xb2,
};
/* gst-launch-1.0 videotestsrc num-buffers=2 !
 * video/x-raw,width=1920,height=1080,format=I420,interlace-mode=interleaved ! x264enc
 * interlaced=true ! h264parse ! flvmux */
static const uint8_t x264_1080i_high[] = {
    0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x28, 0xff, 0xe1, 0x00, 0x1e,
    0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x04, 0x4f, 0xde, 0x02, 0xd4,
    0x04, 0x04, 0x05, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x3c,
    0x9f, 0x16, 0x2d, 0x96, 0x01, 0x00, 0x05, 0x68, 0xfb, 0xac, 0xb2, 0x2c,
};
/* gst-launch-1.0 videotestsrc num-buffers=2 ! video/x-raw,width=640,height=360,format=Y444 !
 * x264enc ! video/x-h264,profile=high-4:4:4 ! h264parse ! flvmux */
static const uint8_t x264_360p_444[] = {
    0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0xf4, 0x00, 0x1e, 0xff, 0xe1, 0x00, 0x1e,
    0x67, 0xf4, 0x00, 0x1e, 0x91, 0x9b, 0x28, 0x14, 0x05, 0xff, 0x13, 0x80, 0xb5,
    0x06, 0x06, 0x06, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0f, 0x23,
    0xc5, 0x8b, 0x65, 0x80, 0x01, 0x00, 0x06, 0x68, 0xeb, 0xec, 0x44, 0x84, 0x40,
};

/* AAC sequence headers: avenc_aac at 44100 Hz stereo (flvmux output; AAC-LC with the
 * backward-compatible SBR-absent extension after the first two bytes), and at 48000 Hz. */
static const uint8_t aac_44100_stereo[] = {0xaf, 0x00, 0x12, 0x10, 0x56, 0xe5, 0x00};
static const uint8_t aac_48000_stereo[] = {0xaf, 0x00, 0x11, 0x90, 0x56, 0xe5, 0x00};

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

/* ---- boxes read back ------------------------------------------------------------------ */

struct box {
    const uint8_t *body; /* after the 8-byte header */
    size_t len;
};

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* The nth box of that type among the boxes that fill [p, p + len) exactly; false if there is no
 * such box or the sizes do not add up to len. */
static bool child(const uint8_t *p, size_t len, const char *type, int nth, struct box *out)
{
    bool found = false;
    size_t pos = 0;
    while (pos < len) {
        if (len - pos < 8)
            return false;
        size_t size = rd32(p + pos);
        if (size < 8 || size > len - pos)
            return false;
        if (!found && memcmp(p + pos + 4, type, 4) == 0 && nth-- == 0) {
            out->body = p + pos + 8;
            out->len = size - 8;
            found = true;
        }
        pos += size;
    }
    return found;
}

/* Children of a box are at a path "moov/trak#1/mdia"; #n picks the nth of that type. The first
 * skip bytes of each box named with a trailing '+' are its own fields (full box: 4, stsd: 8). */
static bool path(const uint8_t *p, size_t len, const char *spec, struct box *out)
{
    struct box b = {p, len};
    char name[5];
    while (*spec) {
        memcpy(name, spec, 4);
        name[4] = '\0';
        spec += 4;
        int nth = 0;
        if (*spec == '#') {
            nth = spec[1] - '0';
            spec += 2;
        }
        size_t skip = 0;
        while (*spec == '+') {
            skip += 4;
            spec++;
        }
        if (*spec == '/')
            spec++;
        if (!child(b.body, b.len, name, nth, &b) || b.len < skip)
            return false;
        b.body += skip;
        b.len -= skip;
    }
    *out = b;
    return true;
}

EZR_TEST(test_init_segment_boxes_read_back)
{
    struct ezr_fmp4_video v;
    struct ezr_fmp4_audio a;
    EZR_CHECK_EQ(ezr_fmp4_parse_avc_header(x264_720p, sizeof x264_720p, &v), 0);
    EZR_CHECK_EQ(ezr_fmp4_parse_aac_header(aac_44100_stereo, sizeof aac_44100_stereo, &a), 0);
    struct ezr_buf o;
    ezr_buf_init(&o);
    EZR_CHECK_EQ(ezr_fmp4_write_init(&o, &v, &a), 0);
    const uint8_t *p = o.data;
    size_t n = o.len;
    struct box b;

    EZR_CHECK(path(p, n, "ftyp", &b));
    EZR_CHECK_EQ(b.len, 16);
    EZR_CHECK_MEM(b.body, "iso6\0\0\0\0iso6mp41", 16);
    EZR_CHECK(path(p, n, "moov/mvhd", &b)); /* and the top level is ftyp + moov exactly */
    EZR_CHECK_EQ(rd32(p), 24);
    EZR_CHECK_EQ(rd32(p + 24) + 24, n);
    EZR_CHECK_EQ(b.len, 100);
    EZR_CHECK_EQ(rd32(b.body + 12), 1000); /* timescale */
    EZR_CHECK_EQ(rd32(b.body + 16), 0);    /* duration */
    EZR_CHECK_EQ(rd32(b.body + 96), 3);    /* next_track_ID */

    /* video: track 1 */
    EZR_CHECK(path(p, n, "moov/trak#0/tkhd", &b));
    EZR_CHECK_EQ(b.len, 84);
    EZR_CHECK_EQ(rd32(b.body), 3); /* version 0, enabled | in movie */
    EZR_CHECK_EQ(rd32(b.body + 12), 1);
    EZR_CHECK_EQ(rd16(b.body + 36), 0); /* volume */
    EZR_CHECK_EQ(rd32(b.body + 76), 1280u << 16);
    EZR_CHECK_EQ(rd32(b.body + 80), 720u << 16);
    EZR_CHECK(path(p, n, "moov/trak#0/mdia/mdhd", &b));
    EZR_CHECK_EQ(rd32(b.body + 12), 90000);
    EZR_CHECK_EQ(rd16(b.body + 20), 0x55C4); /* und */
    EZR_CHECK(path(p, n, "moov/trak#0/mdia/hdlr", &b));
    EZR_CHECK_MEM(b.body + 8, "vide", 4);
    EZR_CHECK(path(p, n, "moov/trak#0/mdia/minf/vmhd", &b));
    EZR_CHECK_EQ(rd32(b.body), 1);
    EZR_CHECK(path(p, n, "moov/trak#0/mdia/minf/dinf/dref++/url ", &b));
    EZR_CHECK_EQ(b.len, 4);
    EZR_CHECK_EQ(rd32(b.body), 1); /* self-contained */
    EZR_CHECK(path(p, n, "moov/trak#0/mdia/minf/stbl/stsd", &b));
    EZR_CHECK_EQ(rd32(b.body + 4), 1); /* entry_count */
    EZR_CHECK(path(p, n, "moov/trak#0/mdia/minf/stbl/stsd++/avc1", &b));
    EZR_CHECK_EQ(rd16(b.body + 6), 1); /* data_reference_index */
    EZR_CHECK_EQ(rd16(b.body + 24), 1280);
    EZR_CHECK_EQ(rd16(b.body + 26), 720);
    EZR_CHECK_EQ(rd16(b.body + 74), 0x18);
    EZR_CHECK_EQ(rd16(b.body + 76), 0xFFFF);
    EZR_CHECK(child(b.body + 78, b.len - 78, "avcC", 0, &b));
    EZR_CHECK_EQ(b.len, sizeof x264_720p - 5);
    EZR_CHECK_MEM(b.body, x264_720p + 5, b.len);
    static const char *const empty[] = {"stts", "stsc", "stco"};
    for (int i = 0; i < 3; i++) {
        char spec[64];
        snprintf(spec, sizeof spec, "moov/trak#0/mdia/minf/stbl/%s", empty[i]);
        EZR_CHECK(path(p, n, spec, &b));
        EZR_CHECK_EQ(b.len, 8);
        EZR_CHECK_EQ(rd32(b.body + 4), 0);
    }
    EZR_CHECK(path(p, n, "moov/trak#0/mdia/minf/stbl/stsz", &b));
    EZR_CHECK_EQ(b.len, 12);

    /* audio: track 2 */
    EZR_CHECK(path(p, n, "moov/trak#1/tkhd", &b));
    EZR_CHECK_EQ(rd32(b.body + 12), 2);
    EZR_CHECK_EQ(rd16(b.body + 36), 0x0100);
    EZR_CHECK_EQ(rd32(b.body + 76), 0);
    EZR_CHECK(path(p, n, "moov/trak#1/mdia/mdhd", &b));
    EZR_CHECK_EQ(rd32(b.body + 12), 44100);
    EZR_CHECK(path(p, n, "moov/trak#1/mdia/hdlr", &b));
    EZR_CHECK_MEM(b.body + 8, "soun", 4);
    EZR_CHECK(path(p, n, "moov/trak#1/mdia/minf/smhd", &b));
    EZR_CHECK(path(p, n, "moov/trak#1/mdia/minf/stbl/stsd++/mp4a", &b));
    EZR_CHECK_EQ(rd16(b.body + 16), 2);  /* channelcount */
    EZR_CHECK_EQ(rd16(b.body + 18), 16); /* samplesize */
    EZR_CHECK_EQ(rd32(b.body + 24), 44100u << 16);
    EZR_CHECK(child(b.body + 28, b.len - 28, "esds", 0, &b));
    /* ES_Descriptor { DecoderConfigDescriptor { DecoderSpecificInfo }, SLConfigDescriptor } */
    static const uint8_t esds[] = {
        0,    0,    0,    0,                       /* version, flags */
        0x03, 0x80, 0x80, 0x80, 37, 0,    0,    0, /* ES_Descriptor, ES_ID 0 */
        0x04, 0x80, 0x80, 0x80, 23, 0x40, 0x15,    /* MPEG-4 audio, audio stream */
        0,    0,    0,    0,    0,  0,    0,    0,    0,    0,    0, /* buffer size, bit rates */
        0x05, 0x80, 0x80, 0x80, 5,  0x12, 0x10, 0x56, 0xe5, 0x00,    /* the config */
        0x06, 0x80, 0x80, 0x80, 1,  2};
    EZR_CHECK_EQ(b.len, sizeof esds);
    EZR_CHECK_MEM(b.body, esds, sizeof esds);

    /* mvex: a trex per track */
    for (int t = 0; t < 2; t++) {
        char spec[32];
        snprintf(spec, sizeof spec, "moov/mvex/trex#%d", t);
        EZR_CHECK(path(p, n, spec, &b));
        EZR_CHECK_EQ(b.len, 24);
        EZR_CHECK_EQ(rd32(b.body + 4), (uint32_t)t + 1);
        EZR_CHECK_EQ(rd32(b.body + 8), 1); /* default_sample_description_index */
    }
    EZR_CHECK(!path(p, n, "moov/trak#2", &b));
    ezr_buf_free(&o);
}

EZR_TEST(test_init_segment_of_one_track)
{
    struct ezr_fmp4_video v;
    struct ezr_fmp4_audio a;
    struct box b;
    EZR_CHECK_EQ(ezr_fmp4_parse_avc_header(x264_1080p_high, sizeof x264_1080p_high, &v), 0);
    EZR_CHECK_EQ(ezr_fmp4_parse_aac_header(aac_48000_stereo, sizeof aac_48000_stereo, &a), 0);
    struct ezr_buf o;
    ezr_buf_init(&o);
    EZR_CHECK_EQ(ezr_fmp4_write_init(&o, &v, NULL), 0);
    EZR_CHECK(path(o.data, o.len, "moov/mvhd", &b));
    EZR_CHECK_EQ(rd32(b.body + 96), 2);
    EZR_CHECK(path(o.data, o.len, "moov/trak/mdia/hdlr", &b));
    EZR_CHECK_MEM(b.body + 8, "vide", 4);
    EZR_CHECK(!path(o.data, o.len, "moov/trak#1", &b));
    EZR_CHECK(path(o.data, o.len, "moov/mvex/trex", &b));
    EZR_CHECK_EQ(rd32(b.body + 4), 1);

    ezr_buf_reset(&o);
    EZR_CHECK_EQ(ezr_fmp4_write_init(&o, NULL, &a), 0);
    EZR_CHECK(path(o.data, o.len, "moov/trak/mdia/mdhd", &b));
    EZR_CHECK_EQ(rd32(b.body + 12), 48000);
    EZR_CHECK(path(o.data, o.len, "moov/trak/tkhd", &b));
    EZR_CHECK_EQ(rd32(b.body + 12), 2);
    EZR_CHECK(!path(o.data, o.len, "moov/trak#1", &b));
    EZR_CHECK(path(o.data, o.len, "moov/mvex/trex", &b));
    EZR_CHECK_EQ(rd32(b.body + 4), 2);

    size_t before = o.len;
    EZR_CHECK_EQ(ezr_fmp4_write_init(&o, NULL, NULL), EZR_EINVAL);
    struct ezr_fmp4_audio no_config = a;
    no_config.asc = NULL;
    EZR_CHECK_EQ(ezr_fmp4_write_init(&o, NULL, &no_config), EZR_EINVAL);
    EZR_CHECK_EQ(o.len, before);
    ezr_buf_free(&o);
}

EZR_TEST(test_init_segment_reports_a_failed_buffer)
{
    struct ezr_fmp4_video v;
    EZR_CHECK_EQ(ezr_fmp4_parse_avc_header(x264_720p, sizeof x264_720p, &v), 0);
    struct ezr_buf o;
    ezr_buf_init(&o);
    o.failed = true; /* an earlier append to the same buffer failed */
    EZR_CHECK_EQ(ezr_fmp4_write_init(&o, &v, NULL), EZR_ENOMEM);
#ifdef EZR_FAILMALLOC
    /* Built with the failing allocator: the buffer's own growth fails. */
    ezr_buf_reset(&o);
    ezr_failmalloc_arm(EZR_FAILMALLOC_AFTER, 1, 0);
    int rc = ezr_fmp4_write_init(&o, &v, NULL);
    ezr_failmalloc_disarm();
    EZR_CHECK_EQ(rc, EZR_ENOMEM);
    EZR_CHECK(ezr_failmalloc_failures() > 0);
#endif
    ezr_buf_free(&o);
}

/* A fragment header parsed back; the sample's bytes would follow. */
struct frag {
    uint32_t moof_size, sequence, tfhd_flags, track, trun_flags, count, data_offset;
    uint32_t duration, size, flags, mdat_size;
    uint8_t tfdt_version, trun_version;
    uint64_t decode_time;
    int32_t cto;
};

static bool read_fragment(const uint8_t *p, size_t n, struct frag *f)
{
    struct box b;
    if (n < 16 || !child(p, rd32(p), "moof", 0, &b))
        return false;
    f->moof_size = rd32(p);
    struct box mfhd, tfhd, tfdt, trun;
    if (!path(p, f->moof_size, "moof/mfhd", &mfhd) ||
        !path(p, f->moof_size, "moof/traf/tfhd", &tfhd) ||
        !path(p, f->moof_size, "moof/traf/tfdt", &tfdt) ||
        !path(p, f->moof_size, "moof/traf/trun", &trun))
        return false;
    if (mfhd.len != 8 || tfhd.len != 8 || tfdt.len != 12 || trun.len != 28)
        return false;
    f->sequence = rd32(mfhd.body + 4);
    f->tfhd_flags = rd32(tfhd.body);
    f->track = rd32(tfhd.body + 4);
    f->tfdt_version = tfdt.body[0];
    f->decode_time = (uint64_t)rd32(tfdt.body + 4) << 32 | rd32(tfdt.body + 8);
    f->trun_version = trun.body[0];
    f->trun_flags = rd32(trun.body) & 0xFFFFFF;
    f->count = rd32(trun.body + 4);
    f->data_offset = rd32(trun.body + 8);
    f->duration = rd32(trun.body + 12);
    f->size = rd32(trun.body + 16);
    f->flags = rd32(trun.body + 20);
    f->cto = (int32_t)rd32(trun.body + 24);
    if (n - f->moof_size < 8 || memcmp(p + f->moof_size + 4, "mdat", 4) != 0)
        return false;
    f->mdat_size = rd32(p + f->moof_size);
    return true;
}

EZR_TEST(test_fragment_of_a_sync_sample_reads_back)
{
    uint8_t out[EZR_FMP4_FRAGMENT_MAX + 16];
    memset(out, 0xEE, sizeof out);
    struct ezr_fmp4_sample s = {.track_id = EZR_FMP4_VIDEO_TRACK,
                                .sequence = 7,
                                .decode_time = 0x123456789ull,
                                .duration = 3000,
                                .composition_offset = 6000,
                                .size = 5000,
                                .sync = true};
    size_t n = ezr_fmp4_write_fragment(out, &s);
    EZR_CHECK_EQ(n, 112);
    EZR_CHECK(n <= EZR_FMP4_FRAGMENT_MAX);
    EZR_CHECK_EQ(out[EZR_FMP4_FRAGMENT_MAX], 0xEE); /* nothing past the limit */
    struct frag f;
    EZR_CHECK(read_fragment(out, n, &f));
    EZR_CHECK_EQ(f.moof_size + 8, n); /* moof, then the mdat header, then the sample */
    EZR_CHECK_EQ(f.sequence, 7);
    EZR_CHECK_EQ(f.tfhd_flags, 0x020000);
    EZR_CHECK_EQ(f.track, 1);
    EZR_CHECK_EQ(f.tfdt_version, 1);
    EZR_CHECK_EQ(f.decode_time, 0x123456789ull);
    EZR_CHECK_EQ(f.trun_version, 1);
    EZR_CHECK_EQ(f.trun_flags, 0x000F01);
    EZR_CHECK_EQ(f.count, 1);
    EZR_CHECK_EQ(f.data_offset, f.moof_size + 8);
    EZR_CHECK_EQ(f.duration, 3000);
    EZR_CHECK_EQ(f.size, 5000);
    EZR_CHECK_EQ(f.flags, 0x02000000);
    EZR_CHECK_EQ(f.cto, 6000);
    EZR_CHECK_EQ(f.mdat_size, 8 + 5000);
}

EZR_TEST(test_fragment_of_a_non_sync_sample_keeps_a_negative_offset)
{
    uint8_t out[EZR_FMP4_FRAGMENT_MAX];
    struct ezr_fmp4_sample s = {.track_id = EZR_FMP4_VIDEO_TRACK,
                                .sequence = 0xFFFFFFFF,
                                .decode_time = (1ull << 40) + 1,
                                .duration = 3003,
                                .composition_offset = -3003,
                                .size = 1,
                                .sync = false};
    size_t n = ezr_fmp4_write_fragment(out, &s);
    EZR_CHECK_EQ(n, 112);
    struct frag f;
    EZR_CHECK(read_fragment(out, n, &f));
    EZR_CHECK_EQ(f.sequence, 0xFFFFFFFF);
    EZR_CHECK_EQ(f.decode_time, (1ull << 40) + 1);
    EZR_CHECK_EQ(f.flags, 0x01010000);
    EZR_CHECK_EQ(f.cto, -3003);
    EZR_CHECK_EQ(f.data_offset, 112);
    EZR_CHECK_EQ(f.mdat_size, 9);

    /* an audio sample is sync whatever the caller says */
    s = (struct ezr_fmp4_sample){.track_id = EZR_FMP4_AUDIO_TRACK,
                                 .sequence = 2,
                                 .decode_time = 1024,
                                 .duration = EZR_FMP4_AAC_FRAME_SAMPLES,
                                 .size = 371};
    EZR_CHECK_EQ(ezr_fmp4_write_fragment(out, &s), 112);
    EZR_CHECK(read_fragment(out, 112, &f));
    EZR_CHECK_EQ(f.track, 2);
    EZR_CHECK_EQ(f.flags, 0x02000000);
    EZR_CHECK_EQ(f.duration, 1024);
    EZR_CHECK_EQ(f.cto, 0);

    /* a sample a 32-bit mdat cannot hold */
    s.size = UINT32_MAX - 7;
    EZR_CHECK_EQ(ezr_fmp4_write_fragment(out, &s), 0);
}

EZR_TEST_MAIN(EZR_CASE(test_x264_720p_sequence_header_gives_size_codecs_and_record),
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
              EZR_CASE(test_sample_of_skips_the_flv_headers_and_signs_the_composition_time),
              EZR_CASE(test_init_segment_boxes_read_back), EZR_CASE(test_init_segment_of_one_track),
              EZR_CASE(test_init_segment_reports_a_failed_buffer),
              EZR_CASE(test_fragment_of_a_sync_sample_reads_back),
              EZR_CASE(test_fragment_of_a_non_sync_sample_keeps_a_negative_offset))
