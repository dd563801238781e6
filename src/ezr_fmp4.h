/* Fragmented MP4 (CMAF, ISO/IEC 14496-12 and 23000-19) for HLS, sans-I/O: the codecs' settings
 * read from the FLV sequence headers, the init segment (ftyp + moov) made from them, and one
 * fragment header (moof + mdat header) per sample. A sample's bytes are written after its header
 * exactly as they stand in the FLV tag body (AVC: length-prefixed NAL units; AAC: a raw frame),
 * so a fragment is made without copying media: the header is a frame's CMAF view and the sample
 * a slice of its payload.
 *
 * Tracks: video is track 1 at 90 kHz, audio track 2 at its sample rate. Decode times are 64-bit
 * (tfdt version 1) and composition offsets signed (trun version 1), so B-frames and streams past
 * 2^32 ms need no special case. */
#ifndef EZR_FMP4_H
#define EZR_FMP4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_buf.h"

#define EZR_FMP4_VIDEO_TRACK 1u
#define EZR_FMP4_AUDIO_TRACK 2u
#define EZR_FMP4_VIDEO_TIMESCALE 90000u
/* The most bytes ezr_fmp4_write_fragment() writes. */
#define EZR_FMP4_FRAGMENT_MAX 128u
/* Samples per AAC frame (AAC-LC; the timescale is the core sample rate, also with SBR). */
#define EZR_FMP4_AAC_FRAME_SAMPLES 1024u

/* H.264 settings, from an FLV AVC sequence header. avcc points into the caller's bytes. */
struct ezr_fmp4_video {
    const uint8_t *avcc; /* the AVCDecoderConfigurationRecord */
    size_t avcc_len;
    uint16_t width, height; /* from the first SPS (cropping applied) */
    uint32_t frame_rate_milli; /* frames a second x 1000 from its VUI timing, 0: not said */
    char codecs[16];        /* the RFC 6381 name for CODECS: "avc1.64001f" */
};

/* AAC settings, from an FLV AAC sequence header. asc points into the caller's bytes. */
struct ezr_fmp4_audio {
    const uint8_t *asc; /* the AudioSpecificConfig */
    size_t asc_len;
    uint32_t sample_rate;
    uint8_t channels;
    uint8_t object_type; /* 2: AAC-LC */
    char codecs[16];     /* "mp4a.40.2" */
};

/* Reads an FLV video tag body that is an AVC sequence header (codec 7, AVCPacketType 0). Returns
 * 0, EZR_EINVAL when it is no AVC sequence header (another codec: HLS carries no such track), or
 * EZR_EPROTO when the record or its SPS is malformed. */
int ezr_fmp4_parse_avc_header(const uint8_t *body, size_t len, struct ezr_fmp4_video *out);
/* Reads an FLV audio tag body that is an AAC sequence header (SoundFormat 10, AACPacketType 0).
 * Returns 0, EZR_EINVAL (not AAC) or EZR_EPROTO. */
int ezr_fmp4_parse_aac_header(const uint8_t *body, size_t len, struct ezr_fmp4_audio *out);

/* Appends the init segment: ftyp, then moov with mvhd, a trak per track given (either may be
 * NULL, not both) and mvex with a trex per track. Returns 0, EZR_EINVAL, or EZR_ENOMEM (out
 * failed). */
int ezr_fmp4_write_init(struct ezr_buf *out, const struct ezr_fmp4_video *v,
                        const struct ezr_fmp4_audio *a);

/* Where the sample is in an FLV tag body of kind (8 audio, 9 video): for an AVC NALU packet the
 * bytes after the 5-byte header and its composition time (ms, signed 24 bits); for an AAC raw
 * frame the bytes after the 2-byte header (cts 0). Returns 0, or EZR_EINVAL when the body is no
 * sample (a sequence header, an end of sequence, another codec, too short). */
int ezr_fmp4_sample_of(uint8_t kind, const uint8_t *body, size_t len, size_t *offset,
                       int32_t *cts_ms);

struct ezr_fmp4_sample {
    uint32_t track_id;          /* EZR_FMP4_VIDEO_TRACK or EZR_FMP4_AUDIO_TRACK */
    uint32_t sequence;          /* mfhd sequence number: from 1, one more per fragment */
    uint64_t decode_time;       /* tfdt, in the track's timescale */
    uint32_t duration;          /* in the track's timescale */
    int32_t composition_offset; /* pts - dts in the track's timescale */
    uint32_t size;              /* the sample's bytes, which follow the mdat header */
    bool sync;                  /* a keyframe (audio samples are all sync) */
};
/* Writes moof (mfhd, traf with tfhd, tfdt and trun of the one sample, its data offset pointing
 * just past the mdat header) and the mdat header into out, which holds EZR_FMP4_FRAGMENT_MAX
 * bytes. Returns the bytes written (always 112), or 0 for a NULL argument or a sample too large
 * for a 32-bit mdat (over 4 GiB; an FLV tag holds at most 16 MiB). */
size_t ezr_fmp4_write_fragment(uint8_t *out, const struct ezr_fmp4_sample *s);

#endif
