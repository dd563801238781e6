/* Fragmented MP4 for HLS, the writing half (see ezr_fmp4.h): the init segment and a sample's
 * fragment header, boxes laid out as ISO/IEC 14496-12 defines them; sizes are patched in when a
 * box closes. The settings they are made from are read in ezr_fmp4_codec.c. */
#include "ezr_fmp4.h"

#include <string.h>

#include "ezr_bytes.h"
#include "ezr_error.h"
#include "ezr_fmp4_priv.h"

/* tfhd: sample data offsets are from the start of the moof (no base data offset). */
#define TFHD_DEFAULT_BASE_IS_MOOF 0x020000u
/* trun: data-offset, sample-duration, sample-size, sample-flags, sample-composition-time-offset
 * present. */
#define TRUN_FLAGS 0x000F01u
/* Sample flags (14496-12 8.8.3.1): a sync sample depends on no other (sample_depends_on 2); any
 * other depends on others (1) and is sample_is_non_sync_sample. */
#define SAMPLE_FLAGS_SYNC 0x02000000u
#define SAMPLE_FLAGS_NON_SYNC 0x01010000u

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
    if (v && (!v->avcc || v->avcc_len == 0 || v->avcc_len > EZR_FMP4_FLV_BODY_MAX))
        return EZR_EINVAL;
    if (a && (!a->asc || a->asc_len == 0 || a->asc_len > EZR_FMP4_FLV_BODY_MAX || !a->sample_rate))
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
