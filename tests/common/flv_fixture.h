/* FLV bytes as flvmux writes them, shared by the parser's unit tests and the element's harness
 * tests: a tag writer and sample tag bodies. Plain C, header-only. */
#ifndef EZR_FLV_FIXTURE_H
#define EZR_FLV_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Each test program uses some of the samples. */
#define FLV_FIXTURE_SAMPLE static const uint8_t __attribute__((unused))

/* The 9-byte file header (audio + video) and PreviousTagSize0. */
FLV_FIXTURE_SAMPLE flv_file_header[13] = {'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0};
FLV_FIXTURE_SAMPLE flv_meta[] = {0x02, 0,   10,  'o', 'n', 'M', 'e', 't', 'a', 'D', 'a',
                                 't',  'a', 0x08, 0,  0,   0,   0,   0,   0,   9};
FLV_FIXTURE_SAMPLE flv_avc_hdr[] = {0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f};
/* A whole AVC sequence header with its SPS and PPS, from an ffmpeg-made FLV (libx264 baseline
 * 320x240): what the HLS muxer needs to make an init segment. */
FLV_FIXTURE_SAMPLE flv_avc_hdr_320x240[] = {
    0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x42, 0xc0, 0x0d, 0xff, 0xe1, 0x00, 0x18, 0x67, 0x42,
    0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00,
    0x03, 0x03, 0x20, 0xf1, 0x42, 0xa4, 0x80, 0x01, 0x00, 0x05, 0x68, 0xcb, 0x83, 0xcb, 0x20,
};
FLV_FIXTURE_SAMPLE flv_avc_key[] = {0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65};
FLV_FIXTURE_SAMPLE flv_avc_inter[] = {0x27, 1, 0, 0, 0x21, 0, 0, 0, 1, 0x41};
FLV_FIXTURE_SAMPLE flv_aac_hdr[] = {0xAF, 0, 0x12, 0x10};
FLV_FIXTURE_SAMPLE flv_aac_raw[] = {0xAF, 1, 0x21, 0x00, 0x49};
/* Enhanced RTMP ExVideoTagHeader (HEVC): keyframe + CodedFrames, inter + CodedFramesX. */
FLV_FIXTURE_SAMPLE flv_ex_key[] = {0x91, 'h', 'v', 'c', '1', 0, 0, 0, 9};
FLV_FIXTURE_SAMPLE flv_ex_inter[] = {0xA3, 'h', 'v', 'c', '1', 7};
/* Enhanced RTMP VideoPacketType.Metadata: hvc1, then AMF0 "colorInfo" and an empty object. */
FLV_FIXTURE_SAMPLE flv_ex_metadata[] = {0x94, 'h', 'v', 'c', '1', 0x02, 0,    9, 'c', 'o', 'l',
                                        'o',  'r', 'I', 'n', 'f', 'o',  0x03, 0, 0,   9};
/* A script tag that is not metadata: onCuePoint {name: "x"}. */
FLV_FIXTURE_SAMPLE flv_cue_point[] = {0x02, 0,   10,   'o', 'n',  'C', 'u', 'e', 'P',
                                      'o',  'i', 'n',  't', 0x03, 0,   4,   'n', 'a',
                                      'm',  'e', 0x02, 0,   1,    'x', 0,   0,   9};

/* Writes one tag (11-byte header, body, PreviousTagSize) at o; returns the bytes written. */
static inline size_t flv_put_tag(uint8_t *o, uint8_t type, uint32_t ts, const uint8_t *body,
                                 size_t len)
{
    size_t total = 11 + len;
    const uint8_t head[11] = {type,
                              (uint8_t)(len >> 16),
                              (uint8_t)(len >> 8),
                              (uint8_t)len,
                              (uint8_t)(ts >> 16),
                              (uint8_t)(ts >> 8),
                              (uint8_t)ts,
                              (uint8_t)(ts >> 24),
                              0,
                              0,
                              0};
    const uint8_t size[4] = {(uint8_t)(total >> 24), (uint8_t)(total >> 16),
                             (uint8_t)(total >> 8), (uint8_t)total};
    memcpy(o, head, sizeof head);
    memcpy(o + 11, body, len);
    memcpy(o + total, size, sizeof size);
    return total + 4;
}

#endif
