/* Fragmented MP4 for HLS, the reading half (see ezr_fmp4.h): the codecs' settings from the FLV
 * sequence headers (the avcC and its first SPS, the AudioSpecificConfig) and where a sample starts
 * in a tag body. Every read is checked against the end of the caller's bytes (the SPS through a
 * bit reader that stops at the end and says so), so a hostile sequence header costs nothing but
 * EZR_EPROTO. The boxes are written in ezr_fmp4.c. */
#include "ezr_fmp4.h"

#include <string.h>

#include "ezr_bytes.h"
#include "ezr_error.h"
#include "ezr_fmp4_priv.h"

#define FLV_CODEC_AVC 7u
#define FLV_SOUND_AAC 10u
#define FLV_VIDEO_INFO_FRAME 5u
#define H264_NAL_SPS 7u

/* ---- a bit reader over an RBSP (emulation prevention removed as it reads) ---------------- */

struct bits {
    const uint8_t *p;
    size_t len, pos;
    bool unescape; /* a NAL unit's payload: drop each 0x03 after two zero bytes */
    unsigned zeros;
    uint8_t cur;
    unsigned left; /* bits of cur not read yet */
    bool overrun;  /* a read went past the end; everything read since is 0 */
};

static void bits_init(struct bits *b, const uint8_t *p, size_t len, bool unescape)
{
    memset(b, 0, sizeof *b);
    b->p = p;
    b->len = len;
    b->unescape = unescape;
}

static bool bits_load(struct bits *b)
{
    if (b->pos >= b->len) {
        b->overrun = true;
        return false;
    }
    uint8_t v = b->p[b->pos++];
    if (b->unescape && b->zeros >= 2 && v == 3) {
        b->zeros = 0;
        if (b->pos >= b->len) {
            b->overrun = true;
            return false;
        }
        v = b->p[b->pos++];
    }
    if (b->unescape)
        b->zeros = v == 0 ? b->zeros + 1 : 0;
    b->cur = v;
    b->left = 8;
    return true;
}

static unsigned bits_u1(struct bits *b)
{
    if (b->left == 0 && !bits_load(b))
        return 0;
    b->left--;
    return (b->cur >> b->left) & 1u;
}

/* n <= 32 */
static uint32_t bits_u(struct bits *b, unsigned n)
{
    uint32_t v = 0;
    while (n--)
        v = (v << 1) | bits_u1(b);
    return v;
}

/* ue(v) (H.264 9.1): at most 31 leading zeros, so the value fits 32 bits; more is malformed. */
static uint32_t bits_ue(struct bits *b)
{
    unsigned lz = 0;
    while (!bits_u1(b)) {
        if (b->overrun || ++lz > 31) {
            b->overrun = true;
            return 0;
        }
    }
    return (uint32_t)((1ull << lz) - 1 + bits_u(b, lz));
}

static int64_t bits_se(struct bits *b)
{
    uint32_t k = bits_ue(b);
    return (k & 1u) ? (int64_t)(k / 2) + 1 : -(int64_t)(k / 2);
}

/* ---- H.264 ----------------------------------------------------------------------------- */

/* The profiles whose SPS carries chroma_format_idc, bit depths and scaling matrices
 * (H.264 7.3.2.1.1). */
static bool sps_has_chroma_info(uint32_t profile)
{
    static const uint8_t profiles[] = {100, 110, 122, 244, 44,  83, 86,
                                       118, 128, 138, 139, 134, 135};
    return memchr(profiles, (int)profile, sizeof profiles) != NULL;
}

/* scaling_list() (7.3.2.1.1.1): only read past; each delta is in -128..127. */
static bool skip_scaling_list(struct bits *b, unsigned size)
{
    int64_t last = 8, next = 8;
    for (unsigned j = 0; j < size; j++) {
        if (next != 0) {
            int64_t delta = bits_se(b);
            if (delta < -128 || delta > 127)
                return false;
            next = (last + delta + 256) % 256;
        }
        last = next == 0 ? last : next;
    }
    return !b->overrun;
}

/* The frame rate (x 1000) of the VUI's timing info (E.1.1), when it is there and says the rate
 * is fixed: time_scale / (2 num_units_in_tick) frames a second (x264 writes 60 and 1 for 30 fps).
 * 0 otherwise, or for a rate no stream has (over 300), or when the VUI does not parse: the SPS
 * is good without it, the rate is then counted (ezr_hls_variant.c). */
static uint32_t vui_frame_rate_milli(struct bits *b)
{
    if (bits_u1(b) && bits_u(b, 8) == 255) /* aspect_ratio_info: Extended_SAR */
        bits_u(b, 32);                     /* sar_width, sar_height */
    if (bits_u1(b))                        /* overscan_info_present_flag */
        bits_u1(b);
    if (bits_u1(b) && (bits_u(b, 4), bits_u1(b))) /* video_signal_type, colour_description */
        bits_u(b, 24);
    if (bits_u1(b)) { /* chroma_loc_info_present_flag */
        bits_ue(b);
        bits_ue(b);
    }
    if (!bits_u1(b)) /* timing_info_present_flag */
        return 0;
    uint64_t units = bits_u(b, 32), scale = bits_u(b, 32);
    bool fixed = bits_u1(b);
    if (b->overrun || !fixed || !units)
        return 0;
    uint64_t milli = (scale * 1000u + units) / (2u * units);
    return milli && milli <= 300000u ? (uint32_t)milli : 0;
}

/* The picture size of an SPS NAL unit (header byte included), cropping applied (7.4.2.1.1), and
 * its frame rate when its VUI says it (0: it does not). */
static int parse_sps(const uint8_t *nal, size_t len, uint16_t *width, uint16_t *height,
                     uint32_t *frame_rate_milli)
{
    if (len < 4 || (nal[0] & 0x80) || (nal[0] & 0x1F) != H264_NAL_SPS)
        return EZR_EPROTO;
    struct bits b;
    bits_init(&b, nal + 1, len - 1, true);
    uint32_t profile = bits_u(&b, 8);
    bits_u(&b, 16);       /* constraint flags, level_idc */
    if (bits_ue(&b) > 31) /* seq_parameter_set_id */
        return EZR_EPROTO;
    uint32_t chroma_format = 1;
    bool separate_planes = false;
    if (sps_has_chroma_info(profile)) {
        chroma_format = bits_ue(&b);
        if (chroma_format > 3)
            return EZR_EPROTO;
        if (chroma_format == 3)
            separate_planes = bits_u1(&b);
        if (bits_ue(&b) > 6 || bits_ue(&b) > 6) /* bit depths, luma and chroma, minus 8 */
            return EZR_EPROTO;
        bits_u1(&b); /* qpprime_y_zero_transform_bypass_flag */
        if (bits_u1(&b)) {
            unsigned lists = chroma_format != 3 ? 8 : 12;
            for (unsigned i = 0; i < lists; i++)
                if (bits_u1(&b) && !skip_scaling_list(&b, i < 6 ? 16 : 64))
                    return EZR_EPROTO;
        }
    }
    if (bits_ue(&b) > 12) /* log2_max_frame_num_minus4 */
        return EZR_EPROTO;
    uint32_t poc_type = bits_ue(&b);
    if (poc_type == 0) {
        if (bits_ue(&b) > 12) /* log2_max_pic_order_cnt_lsb_minus4 */
            return EZR_EPROTO;
    } else if (poc_type == 1) {
        bits_u1(&b); /* delta_pic_order_always_zero_flag */
        bits_se(&b); /* offset_for_non_ref_pic */
        bits_se(&b); /* offset_for_top_to_bottom_field */
        uint32_t cycle = bits_ue(&b);
        if (cycle > 255)
            return EZR_EPROTO;
        for (uint32_t i = 0; i < cycle && !b.overrun; i++)
            bits_se(&b); /* offset_for_ref_frame */
    } else if (poc_type != 2) {
        return EZR_EPROTO;
    }
    bits_ue(&b); /* max_num_ref_frames */
    bits_u1(&b); /* gaps_in_frame_num_value_allowed_flag */
    uint64_t width_mbs = (uint64_t)bits_ue(&b) + 1;
    uint64_t height_units = (uint64_t)bits_ue(&b) + 1;
    unsigned frame_mbs_only = bits_u1(&b);
    if (!frame_mbs_only)
        bits_u1(&b); /* mb_adaptive_frame_field_flag */
    bits_u1(&b);     /* direct_8x8_inference_flag */
    uint64_t crop_l = 0, crop_r = 0, crop_t = 0, crop_b = 0;
    if (bits_u1(&b)) {
        crop_l = bits_ue(&b);
        crop_r = bits_ue(&b);
        crop_t = bits_ue(&b);
        crop_b = bits_ue(&b);
    }
    if (b.overrun)
        return EZR_EPROTO;
    *frame_rate_milli = bits_u1(&b) ? vui_frame_rate_milli(&b) : 0; /* vui_parameters_present */
    /* CropUnitX/Y from ChromaArrayType (0 with separate colour planes): 4:2:0 halves both, 4:2:2
     * the width, monochrome and 4:4:4 neither; a field picture doubles the vertical unit. */
    uint32_t chroma_array = separate_planes ? 0 : chroma_format;
    uint64_t unit_x = (chroma_array == 1 || chroma_array == 2) ? 2 : 1;
    uint64_t unit_y = (chroma_array == 1 ? 2 : 1) * (2 - frame_mbs_only);
    uint64_t w = width_mbs * 16, h = height_units * 16 * (2 - frame_mbs_only);
    uint64_t cw = unit_x * (crop_l + crop_r), ch = unit_y * (crop_t + crop_b);
    if (cw >= w || ch >= h || w - cw > UINT16_MAX || h - ch > UINT16_MAX)
        return EZR_EPROTO;
    *width = (uint16_t)(w - cw);
    *height = (uint16_t)(h - ch);
    return 0;
}

static void put_hex2(char *o, uint8_t v)
{
    static const char hex[] = "0123456789abcdef";
    o[0] = hex[v >> 4];
    o[1] = hex[v & 15];
}

/* A parameter set of the record at *pos: its 16-bit length, then that many bytes (none is
 * malformed). Moves *pos past it. */
static bool next_parameter_set(const uint8_t *rec, size_t n, size_t *pos, const uint8_t **nal,
                               size_t *len)
{
    if (n - *pos < 2)
        return false;
    size_t l = ezr_rd_be16(rec + *pos);
    if (l == 0 || n - *pos - 2 < l)
        return false;
    *nal = rec + *pos + 2;
    *len = l;
    *pos += 2 + l;
    return true;
}

int ezr_fmp4_parse_avc_header(const uint8_t *body, size_t len, struct ezr_fmp4_video *out)
{
    if (!body || !out || len < 2)
        return EZR_EINVAL;
    unsigned frame_type = body[0] >> 4;
    if ((body[0] & 0x0F) != FLV_CODEC_AVC || frame_type == 0 ||
        frame_type >= FLV_VIDEO_INFO_FRAME || body[1] != 0)
        return EZR_EINVAL;
    /* The 3-byte composition time (0 here), then the AVCDecoderConfigurationRecord
     * (14496-15 5.3.3.1). */
    if (len < 5 || len - 5 > EZR_FMP4_FLV_BODY_MAX)
        return EZR_EPROTO;
    const uint8_t *rec = body + 5;
    size_t n = len - 5;
    /* version, profile, compatibility, level, lengthSizeMinusOne, numOfSequenceParameterSets */
    if (n < 6 || rec[0] != 1 || (rec[4] & 3) == 2)
        return EZR_EPROTO;
    size_t nsps = rec[5] & 0x1F, pos = 6;
    if (nsps == 0)
        return EZR_EPROTO;
    uint16_t width = 0, height = 0;
    uint32_t rate = 0;
    for (size_t i = 0; i < nsps; i++) {
        const uint8_t *nal;
        size_t l;
        if (!next_parameter_set(rec, n, &pos, &nal, &l))
            return EZR_EPROTO;
        if (i == 0) {
            int rc = parse_sps(nal, l, &width, &height, &rate);
            if (rc < 0)
                return rc;
        }
    }
    if (n - pos < 1)
        return EZR_EPROTO;
    size_t npps = rec[pos++];
    for (size_t i = 0; i < npps; i++) {
        const uint8_t *nal;
        size_t l;
        if (!next_parameter_set(rec, n, &pos, &nal, &l))
            return EZR_EPROTO;
    }
    /* Bytes after the PPS (High profiles' chroma and bit-depth fields) go on as they are. */
    memset(out, 0, sizeof *out);
    out->avcc = rec;
    out->avcc_len = n;
    out->width = width;
    out->height = height;
    out->frame_rate_milli = rate;
    memcpy(out->codecs, "avc1.", 5);
    put_hex2(out->codecs + 5, rec[1]);
    put_hex2(out->codecs + 7, rec[2]);
    put_hex2(out->codecs + 9, rec[3]);
    out->codecs[11] = '\0';
    return 0;
}

/* ---- AAC ------------------------------------------------------------------------------- */

static const uint32_t aac_rates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                       22050, 16000, 12000, 11025, 8000,  7350};

/* channelConfiguration (14496-3 1.6.3.4, and 23001-8 for 11 to 14) to a count; 0 is "in the
 * program config element", -1 reserved. */
static const int8_t aac_channels[16] = {0, 1, 2, 3, 4, 5, 6, 8, -1, -1, -1, 7, 8, 24, 8, -1};

int ezr_fmp4_parse_aac_header(const uint8_t *body, size_t len, struct ezr_fmp4_audio *out)
{
    if (!body || !out || len < 2)
        return EZR_EINVAL;
    if (body[0] >> 4 != FLV_SOUND_AAC || body[1] != 0)
        return EZR_EINVAL;
    /* AudioSpecificConfig (14496-3 1.6.2.1): the first fields are all we need. With explicit
     * SBR or PS signalling (object type 5 or 29) the frequency read is the core's, the timescale
     * of the track, and the object type the one CODECS names (mp4a.40.5, mp4a.40.29). */
    if (len - 2 < 2 || len - 2 > EZR_FMP4_FLV_BODY_MAX)
        return EZR_EPROTO;
    struct bits b;
    bits_init(&b, body + 2, len - 2, false);
    uint32_t object_type = bits_u(&b, 5);
    if (object_type == 31)
        object_type = 32 + bits_u(&b, 6);
    uint32_t sfi = bits_u(&b, 4), rate;
    if (sfi == 15)
        rate = bits_u(&b, 24);
    else if (sfi < 13)
        rate = aac_rates[sfi];
    else
        return EZR_EPROTO;
    int channels = aac_channels[bits_u(&b, 4)];
    if (b.overrun || object_type == 0 || rate == 0 || channels < 0)
        return EZR_EPROTO;
    memset(out, 0, sizeof *out);
    out->asc = body + 2;
    out->asc_len = len - 2;
    out->sample_rate = rate;
    out->channels = (uint8_t)channels;
    out->object_type = (uint8_t)object_type;
    char *c = out->codecs;
    memcpy(c, "mp4a.40.", 8);
    c += 8;
    if (object_type >= 10)
        *c++ = (char)('0' + object_type / 10);
    *c++ = (char)('0' + object_type % 10);
    *c = '\0';
    return 0;
}

/* ---- samples --------------------------------------------------------------------------- */

int ezr_fmp4_sample_of(uint8_t kind, const uint8_t *body, size_t len, size_t *offset,
                       int32_t *cts_ms)
{
    if (!body || !offset || !cts_ms)
        return EZR_EINVAL;
    if (kind == 9) {
        unsigned frame_type = len ? body[0] >> 4 : 0;
        if (len <= 5 || (body[0] & 0x0F) != FLV_CODEC_AVC || frame_type == 0 ||
            frame_type >= FLV_VIDEO_INFO_FRAME || body[1] != 1)
            return EZR_EINVAL;
        uint32_t cts = ezr_rd_be24(body + 2);
        /* sign-extend 24 bits */
        *cts_ms = (int32_t)(cts ^ 0x800000u) - 0x800000;
        *offset = 5;
        return 0;
    }
    if (kind == 8) {
        if (len <= 2 || body[0] >> 4 != FLV_SOUND_AAC || body[1] != 1)
            return EZR_EINVAL;
        *cts_ms = 0;
        *offset = 2;
        return 0;
    }
    return EZR_EINVAL;
}
