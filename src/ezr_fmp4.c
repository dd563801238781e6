/* Fragmented MP4 for HLS; see ezr_fmp4.h. The two header parsers check every read against the
 * end of the caller's bytes (the SPS through a bit reader that stops at the end and says so), so
 * a hostile sequence header costs nothing but EZR_EPROTO. The writers lay boxes out as
 * ISO/IEC 14496-12 defines them; sizes are patched in when a box closes. */
#include "ezr_fmp4.h"

#include <string.h>

#include "ezr_bytes.h"
#include "ezr_error.h"

/* FLV's DataSize is 24 bits: no tag body, so no record or config from one, is longer. Also keeps
 * every box and descriptor length of the init segment far from its field's limit. */
#define FMP4_FLV_BODY_MAX 0xFFFFFFu

#define FLV_CODEC_AVC 7u
#define FLV_SOUND_AAC 10u
#define FLV_VIDEO_INFO_FRAME 5u
#define H264_NAL_SPS 7u

/* tfhd: sample data offsets are from the start of the moof (no base data offset). */
#define TFHD_DEFAULT_BASE_IS_MOOF 0x020000u
/* trun: data-offset, sample-duration, sample-size, sample-flags, sample-composition-time-offset
 * present. */
#define TRUN_FLAGS 0x000F01u
/* Sample flags (14496-12 8.8.3.1): a sync sample depends on no other (sample_depends_on 2); any
 * other depends on others (1) and is sample_is_non_sync_sample. */
#define SAMPLE_FLAGS_SYNC 0x02000000u
#define SAMPLE_FLAGS_NON_SYNC 0x01010000u

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

/* The picture size of an SPS NAL unit (header byte included), cropping applied (7.4.2.1.1). */
static int parse_sps(const uint8_t *nal, size_t len, uint16_t *width, uint16_t *height)
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
    if (len < 5 || len - 5 > FMP4_FLV_BODY_MAX)
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
    for (size_t i = 0; i < nsps; i++) {
        const uint8_t *nal;
        size_t l;
        if (!next_parameter_set(rec, n, &pos, &nal, &l))
            return EZR_EPROTO;
        if (i == 0) {
            int rc = parse_sps(nal, l, &width, &height);
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
    if (len - 2 < 2 || len - 2 > FMP4_FLV_BODY_MAX)
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

/* ---- the init segment ------------------------------------------------------------------ */

static size_t box_open(struct ezr_buf *o, const char *type)
{
    size_t at = o->len;
    ezr_buf_put_be32(o, 0);
    ezr_buf_append(o, type, 4);
    return at;
}

static size_t full_box_open(struct ezr_buf *o, const char *type, uint8_t version, uint32_t flags)
{
    size_t at = box_open(o, type);
    ezr_buf_put_be32(o, (uint32_t)version << 24 | flags);
    return at;
}

static void box_close(struct ezr_buf *o, size_t at)
{
    if (!ezr_buf_failed(o))
        ezr_wr_be32(o->data + at, (uint32_t)(o->len - at));
}

static void put_zeros(struct ezr_buf *o, size_t n)
{
    static const uint8_t zeros[32];
    ezr_buf_append(o, zeros, n);
}

/* The unity matrix of mvhd and tkhd (16.16, 16.16, 2.30). */
static void put_matrix(struct ezr_buf *o)
{
    static const uint32_t m[9] = {0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000};
    for (int i = 0; i < 9; i++)
        ezr_buf_put_be32(o, m[i]);
}

static void put_ftyp(struct ezr_buf *o)
{
    /* iso6: tfdt and trun version 1 (signed composition offsets), as ffmpeg marks them; mp41 for
     * players that look for an MP4 brand. Not cmfc: a CMAF header holds one track, ours two. */
    size_t at = box_open(o, "ftyp");
    ezr_buf_append(o, "iso6", 4);
    ezr_buf_put_be32(o, 0);
    ezr_buf_append(o, "iso6mp41", 8);
    box_close(o, at);
}

static void put_mvhd(struct ezr_buf *o, uint32_t next_track)
{
    size_t at = full_box_open(o, "mvhd", 0, 0);
    ezr_buf_put_be32(o, 0);          /* creation_time */
    ezr_buf_put_be32(o, 0);          /* modification_time */
    ezr_buf_put_be32(o, 1000);       /* timescale */
    ezr_buf_put_be32(o, 0);          /* duration: unknown, it is live */
    ezr_buf_put_be32(o, 0x00010000); /* rate 1.0 */
    ezr_buf_put_be16(o, 0x0100);     /* volume 1.0 */
    put_zeros(o, 10);
    put_matrix(o);
    put_zeros(o, 24); /* pre_defined */
    ezr_buf_put_be32(o, next_track);
    box_close(o, at);
}

static void put_tkhd(struct ezr_buf *o, uint32_t track, bool audio, uint16_t w, uint16_t h)
{
    size_t at = full_box_open(o, "tkhd", 0, 3); /* track_enabled | track_in_movie */
    ezr_buf_put_be32(o, 0);                     /* creation_time */
    ezr_buf_put_be32(o, 0);                     /* modification_time */
    ezr_buf_put_be32(o, track);
    ezr_buf_put_be32(o, 0); /* reserved */
    ezr_buf_put_be32(o, 0); /* duration */
    put_zeros(o, 8);
    ezr_buf_put_be16(o, 0); /* layer */
    ezr_buf_put_be16(o, 0); /* alternate_group */
    ezr_buf_put_be16(o, audio ? 0x0100 : 0);
    ezr_buf_put_be16(o, 0);
    put_matrix(o);
    ezr_buf_put_be32(o, (uint32_t)w << 16);
    ezr_buf_put_be32(o, (uint32_t)h << 16);
    box_close(o, at);
}

static void put_mdhd(struct ezr_buf *o, uint32_t timescale)
{
    size_t at = full_box_open(o, "mdhd", 0, 0);
    ezr_buf_put_be32(o, 0);
    ezr_buf_put_be32(o, 0);
    ezr_buf_put_be32(o, timescale);
    ezr_buf_put_be32(o, 0);
    /* "und", three 5-bit letters less 0x60 */
    ezr_buf_put_be16(o, ('u' - 0x60) << 10 | ('n' - 0x60) << 5 | ('d' - 0x60));
    ezr_buf_put_be16(o, 0);
    box_close(o, at);
}

static void put_hdlr(struct ezr_buf *o, const char *type, const char *name)
{
    size_t at = full_box_open(o, "hdlr", 0, 0);
    ezr_buf_put_be32(o, 0); /* pre_defined */
    ezr_buf_append(o, type, 4);
    put_zeros(o, 12);
    ezr_buf_append(o, name, strlen(name) + 1);
    box_close(o, at);
}

static void put_dinf(struct ezr_buf *o)
{
    size_t dinf = box_open(o, "dinf");
    size_t dref = full_box_open(o, "dref", 0, 0);
    ezr_buf_put_be32(o, 1);
    size_t url = full_box_open(o, "url ", 0, 1); /* the media is in this file */
    box_close(o, url);
    box_close(o, dref);
    box_close(o, dinf);
}

/* SampleEntry's reserved bytes and data_reference_index. */
static void put_sample_entry_head(struct ezr_buf *o)
{
    put_zeros(o, 6);
    ezr_buf_put_be16(o, 1);
}

static void put_avc1(struct ezr_buf *o, const struct ezr_fmp4_video *v)
{
    size_t at = box_open(o, "avc1");
    put_sample_entry_head(o);
    put_zeros(o, 16); /* pre_defined, reserved */
    ezr_buf_put_be16(o, v->width);
    ezr_buf_put_be16(o, v->height);
    ezr_buf_put_be32(o, 0x00480000); /* 72 dpi */
    ezr_buf_put_be32(o, 0x00480000);
    ezr_buf_put_be32(o, 0);
    ezr_buf_put_be16(o, 1); /* frame_count */
    put_zeros(o, 32);       /* compressorname */
    ezr_buf_put_be16(o, 0x0018);
    ezr_buf_put_be16(o, 0xFFFF); /* pre_defined -1 */
    size_t avcc = box_open(o, "avcC");
    ezr_buf_append(o, v->avcc, v->avcc_len);
    box_close(o, avcc);
    box_close(o, at);
}

/* An MPEG-4 descriptor's tag and length (14496-1 8.3.3), the length always in four bytes as
 * most muxers write it. */
static void put_descr(struct ezr_buf *o, uint8_t tag, size_t len)
{
    ezr_buf_put_u8(o, tag);
    ezr_buf_put_u8(o, (uint8_t)(0x80 | (len >> 21 & 0x7F)));
    ezr_buf_put_u8(o, (uint8_t)(0x80 | (len >> 14 & 0x7F)));
    ezr_buf_put_u8(o, (uint8_t)(0x80 | (len >> 7 & 0x7F)));
    ezr_buf_put_u8(o, (uint8_t)(len & 0x7F));
}

static void put_mp4a(struct ezr_buf *o, const struct ezr_fmp4_audio *a)
{
    size_t at = box_open(o, "mp4a");
    put_sample_entry_head(o);
    put_zeros(o, 8);
    /* The decoder takes the layout from the AudioSpecificConfig; 0 (a program config element)
     * is written as stereo. */
    ezr_buf_put_be16(o, a->channels ? a->channels : 2);
    ezr_buf_put_be16(o, 16); /* samplesize */
    ezr_buf_put_be32(o, 0);  /* pre_defined, reserved */
    /* 16.16: a rate past 65535 (88.2, 96 kHz) does not fit, and is left to the config. */
    ezr_buf_put_be32(o, a->sample_rate <= 0xFFFF ? a->sample_rate << 16 : 0);

    size_t esds = full_box_open(o, "esds", 0, 0);
    size_t dsi = 5 + a->asc_len, dcd = 13 + dsi, es = 3 + 5 + dcd + 5 + 1;
    put_descr(o, 0x03, es);           /* ES_Descriptor */
    ezr_buf_put_be16(o, 0);           /* ES_ID */
    ezr_buf_put_u8(o, 0);             /* no dependency, URL or OCR stream */
    put_descr(o, 0x04, dcd);          /* DecoderConfigDescriptor */
    ezr_buf_put_u8(o, 0x40);          /* objectTypeIndication: MPEG-4 Audio */
    ezr_buf_put_u8(o, 0x05 << 2 | 1); /* streamType audio, upStream 0, reserved 1 */
    ezr_buf_put_be24(o, 0);           /* bufferSizeDB */
    ezr_buf_put_be32(o, 0);           /* maxBitrate */
    ezr_buf_put_be32(o, 0);           /* avgBitrate */
    put_descr(o, 0x05, a->asc_len);   /* DecoderSpecificInfo */
    ezr_buf_append(o, a->asc, a->asc_len);
    put_descr(o, 0x06, 1); /* SLConfigDescriptor */
    ezr_buf_put_u8(o, 2);  /* predefined: MP4 */
    box_close(o, esds);
    box_close(o, at);
}

/* stsd with its one entry, and the sample tables a fragmented file leaves empty. */
static void put_stbl(struct ezr_buf *o, const struct ezr_fmp4_video *v,
                     const struct ezr_fmp4_audio *a)
{
    size_t stbl = box_open(o, "stbl");
    size_t stsd = full_box_open(o, "stsd", 0, 0);
    ezr_buf_put_be32(o, 1);
    if (v)
        put_avc1(o, v);
    else
        put_mp4a(o, a);
    box_close(o, stsd);
    static const char *const empty[] = {"stts", "stsc", "stco"};
    for (int i = 0; i < 3; i++) {
        size_t at = full_box_open(o, empty[i], 0, 0);
        ezr_buf_put_be32(o, 0); /* entry_count */
        box_close(o, at);
    }
    size_t stsz = full_box_open(o, "stsz", 0, 0);
    ezr_buf_put_be32(o, 0); /* sample_size */
    ezr_buf_put_be32(o, 0); /* sample_count */
    box_close(o, stsz);
    box_close(o, stbl);
}

/* One of v and a. */
static void put_trak(struct ezr_buf *o, const struct ezr_fmp4_video *v,
                     const struct ezr_fmp4_audio *a)
{
    uint32_t track = v ? EZR_FMP4_VIDEO_TRACK : EZR_FMP4_AUDIO_TRACK;
    size_t trak = box_open(o, "trak");
    put_tkhd(o, track, !v, v ? v->width : 0, v ? v->height : 0);
    size_t mdia = box_open(o, "mdia");
    put_mdhd(o, v ? EZR_FMP4_VIDEO_TIMESCALE : a->sample_rate);
    put_hdlr(o, v ? "vide" : "soun", v ? "VideoHandler" : "SoundHandler");
    size_t minf = box_open(o, "minf");
    if (v) {
        size_t vmhd = full_box_open(o, "vmhd", 0, 1);
        put_zeros(o, 8); /* graphicsmode copy, opcolor */
        box_close(o, vmhd);
    } else {
        size_t smhd = full_box_open(o, "smhd", 0, 0);
        put_zeros(o, 4); /* balance, reserved */
        box_close(o, smhd);
    }
    put_dinf(o);
    put_stbl(o, v, a);
    box_close(o, minf);
    box_close(o, mdia);
    box_close(o, trak);
}

static void put_trex(struct ezr_buf *o, uint32_t track)
{
    size_t at = full_box_open(o, "trex", 0, 0);
    ezr_buf_put_be32(o, track);
    ezr_buf_put_be32(o, 1); /* default_sample_description_index */
    ezr_buf_put_be32(o, 0); /* every default is overridden in trun */
    ezr_buf_put_be32(o, 0);
    ezr_buf_put_be32(o, 0);
    box_close(o, at);
}

int ezr_fmp4_write_init(struct ezr_buf *out, const struct ezr_fmp4_video *v,
                        const struct ezr_fmp4_audio *a)
{
    if (!out || (!v && !a))
        return EZR_EINVAL;
    if (v && (!v->avcc || v->avcc_len == 0 || v->avcc_len > FMP4_FLV_BODY_MAX))
        return EZR_EINVAL;
    if (a && (!a->asc || a->asc_len == 0 || a->asc_len > FMP4_FLV_BODY_MAX || !a->sample_rate))
        return EZR_EINVAL;
    put_ftyp(out);
    size_t moov = box_open(out, "moov");
    put_mvhd(out, (a ? EZR_FMP4_AUDIO_TRACK : EZR_FMP4_VIDEO_TRACK) + 1);
    if (v)
        put_trak(out, v, NULL);
    if (a)
        put_trak(out, NULL, a);
    size_t mvex = box_open(out, "mvex");
    if (v)
        put_trex(out, EZR_FMP4_VIDEO_TRACK);
    if (a)
        put_trex(out, EZR_FMP4_AUDIO_TRACK);
    box_close(out, mvex);
    box_close(out, moov);
    return ezr_buf_failed(out) ? EZR_ENOMEM : 0;
}

/* ---- fragments ------------------------------------------------------------------------- */

static uint8_t *wr_box(uint8_t *p, uint32_t size, const char *type)
{
    ezr_wr_be32(p, size);
    memcpy(p + 4, type, 4);
    return p + 8;
}

static uint8_t *wr_be32(uint8_t *p, uint32_t v)
{
    ezr_wr_be32(p, v);
    return p + 4;
}

#define MFHD_SIZE 16u
#define TFHD_SIZE 16u
#define TFDT_SIZE 20u
#define TRUN_SIZE 36u
#define TRAF_SIZE (8u + TFHD_SIZE + TFDT_SIZE + TRUN_SIZE)
#define MOOF_SIZE (8u + MFHD_SIZE + TRAF_SIZE)
#define MDAT_HEADER 8u
_Static_assert(MOOF_SIZE + MDAT_HEADER <= EZR_FMP4_FRAGMENT_MAX, "fragment header too large");

size_t ezr_fmp4_write_fragment(uint8_t *out, const struct ezr_fmp4_sample *s)
{
    if (!out || !s || s->size > UINT32_MAX - MDAT_HEADER)
        return 0;
    bool sync = s->sync || s->track_id == EZR_FMP4_AUDIO_TRACK;
    uint8_t *p = wr_box(out, MOOF_SIZE, "moof");
    p = wr_box(p, MFHD_SIZE, "mfhd");
    p = wr_be32(p, 0);
    p = wr_be32(p, s->sequence);
    p = wr_box(p, TRAF_SIZE, "traf");
    p = wr_box(p, TFHD_SIZE, "tfhd");
    p = wr_be32(p, TFHD_DEFAULT_BASE_IS_MOOF);
    p = wr_be32(p, s->track_id);
    p = wr_box(p, TFDT_SIZE, "tfdt");
    p = wr_be32(p, 1u << 24); /* version 1: 64-bit baseMediaDecodeTime */
    p = wr_be32(p, (uint32_t)(s->decode_time >> 32));
    p = wr_be32(p, (uint32_t)s->decode_time);
    p = wr_box(p, TRUN_SIZE, "trun");
    p = wr_be32(p, 1u << 24 | TRUN_FLAGS);   /* version 1: signed composition offsets */
    p = wr_be32(p, 1);                       /* sample_count */
    p = wr_be32(p, MOOF_SIZE + MDAT_HEADER); /* data_offset: the sample, past the mdat header */
    p = wr_be32(p, s->duration);
    p = wr_be32(p, s->size);
    p = wr_be32(p, sync ? SAMPLE_FLAGS_SYNC : SAMPLE_FLAGS_NON_SYNC);
    p = wr_be32(p, (uint32_t)s->composition_offset);
    p = wr_box(p, MDAT_HEADER + s->size, "mdat");
    return (size_t)(p - out);
}
