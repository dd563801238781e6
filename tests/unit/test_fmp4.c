/* The fMP4 writer's boxes: init segments made from real x264 and AAC sequence headers and
 * fragment headers, parsed back box by box. The header parsers are tested in test_fmp4_codec.c. */
#include "ezr_test.h"

#include <stdbool.h>
#include <stdint.h>

#include "ezr_alloc.h"
#include "ezr_buf.h"
#include "ezr_error.h"
#include "ezr_fmp4.h"
#include "fmp4_fixture.h"

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

EZR_TEST_MAIN(EZR_CASE(test_init_segment_boxes_read_back), EZR_CASE(test_init_segment_of_one_track),
              EZR_CASE(test_init_segment_reports_a_failed_buffer),
              EZR_CASE(test_fragment_of_a_sync_sample_reads_back),
              EZR_CASE(test_fragment_of_a_non_sync_sample_keeps_a_negative_offset))
