/* Writes a fragmented MP4 file from an FLV file the way the HLS muxer serves a stream: the init
 * segment made from the sequence headers, then per media tag one fragment header
 * (ezr_fmp4_write_fragment) and the sample's bytes straight from the tag body. test_fmp4.py has
 * ffprobe and ffmpeg read the result.
 *
 *     fmp4-write IN.flv OUT.mp4 [OFFSET_MS]
 *
 * OFFSET_MS is added to every timestamp (to put decode times past 2^32). Prints "video N audio M",
 * the samples written. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_buf.h"
#include "ezr_fmp4.h"
#include "ezr_flv_parser.h"

struct tag {
    uint8_t type;
    uint32_t ts;
    uint8_t *body;
    size_t len;
    bool video_sample;
    uint64_t dts; /* a video sample's decode time, 90 kHz */
};

struct tags {
    struct tag *t;
    size_t n, cap;
};

static int keep(void *ctx, const struct ezr_flv_tag *tag)
{
    struct tags *all = ctx;
    if (tag->type != EZR_FLV_AUDIO && tag->type != EZR_FLV_VIDEO)
        return 0;
    if (all->n == all->cap) {
        all->cap = all->cap ? all->cap * 2 : 256;
        all->t = realloc(all->t, all->cap * sizeof *all->t);
        if (!all->t)
            return -1;
    }
    struct tag *t = &all->t[all->n++];
    t->type = tag->type;
    t->ts = tag->timestamp;
    t->len = tag->len;
    t->body = malloc(tag->len ? tag->len : 1);
    if (!t->body)
        return -1;
    memcpy(t->body, tag->body, tag->len);
    return 0;
}

static int die(const char *what)
{
    fprintf(stderr, "fmp4-write: %s\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return die("usage: fmp4-write IN.flv OUT.mp4 [OFFSET_MS]");
    uint64_t offset_ms = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    FILE *in = fopen(argv[1], "rb");
    if (!in)
        return die("cannot open the FLV file");
    struct tags all = {0};
    struct ezr_flv_parser p;
    ezr_flv_parser_init(&p);
    uint8_t chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, in)) > 0)
        if (ezr_flv_parser_feed(&p, chunk, got, keep, &all) < 0)
            return die("bad FLV");
    ezr_flv_parser_clear(&p);
    fclose(in);

    struct ezr_fmp4_video v;
    struct ezr_fmp4_audio a;
    bool has_v = false, has_a = false;
    for (size_t i = 0; i < all.n; i++) {
        struct tag *t = &all.t[i];
        if (t->type == EZR_FLV_VIDEO && !has_v)
            has_v = ezr_fmp4_parse_avc_header(t->body, t->len, &v) == 0;
        if (t->type == EZR_FLV_AUDIO && !has_a)
            has_a = ezr_fmp4_parse_aac_header(t->body, t->len, &a) == 0;
    }
    if (!has_v && !has_a)
        return die("no AVC or AAC sequence header");

    FILE *out = fopen(argv[2], "wb");
    if (!out)
        return die("cannot create the MP4 file");
    struct ezr_buf init;
    ezr_buf_init(&init);
    if (ezr_fmp4_write_init(&init, has_v ? &v : NULL, has_a ? &a : NULL) != 0)
        return die("init segment");
    fwrite(init.data, 1, init.len, out);
    ezr_buf_free(&init);

    /* Video decode times strictly increase: ffmpeg's demuxer discards a sample whose decode time
     * is not after the one before, and flvmux writes the first frames of a stream with B-frames
     * all at 0 (their decode times are negative, and it clamps them). Such a sample is moved one
     * tick after the one before; its presentation time stays (the offset takes up the tick). The
     * HLS muxer has to do the same. */
    uint64_t prev_dts = 0;
    bool first_video = true;
    for (size_t i = 0; i < all.n; i++) {
        struct tag *t = &all.t[i];
        size_t off;
        int32_t cts_ms;
        t->video_sample =
            t->type == EZR_FLV_VIDEO && ezr_fmp4_sample_of(9, t->body, t->len, &off, &cts_ms) == 0;
        if (!t->video_sample)
            continue;
        t->dts = (t->ts + offset_ms) * (EZR_FMP4_VIDEO_TIMESCALE / 1000);
        if (!first_video && t->dts <= prev_dts)
            t->dts = prev_dts + 1;
        prev_dts = t->dts;
        first_video = false;
    }

    uint32_t sequence = 0, nvideo = 0, naudio = 0;
    uint64_t audio_time = 0;
    bool audio_started = false;
    uint32_t last_video_duration = 3000;
    for (size_t i = 0; i < all.n; i++) {
        struct tag *t = &all.t[i];
        size_t off;
        int32_t cts_ms;
        if (ezr_fmp4_sample_of(t->type, t->body, t->len, &off, &cts_ms) != 0)
            continue;
        if ((t->type == EZR_FLV_VIDEO && !has_v) || (t->type == EZR_FLV_AUDIO && !has_a))
            continue;
        uint64_t ms = t->ts + offset_ms;
        struct ezr_fmp4_sample s = {.sequence = ++sequence, .size = (uint32_t)(t->len - off)};
        if (t->type == EZR_FLV_VIDEO) {
            /* A video sample lasts until the next video frame (the last one as the one before). */
            for (size_t j = i + 1; j < all.n; j++) {
                if (all.t[j].video_sample) {
                    last_video_duration = (uint32_t)(all.t[j].dts - t->dts);
                    break;
                }
            }
            int64_t pts = ((int64_t)ms + cts_ms) * 90;
            s.track_id = EZR_FMP4_VIDEO_TRACK;
            s.decode_time = t->dts;
            s.duration = last_video_duration;
            s.composition_offset = (int32_t)(pts - (int64_t)t->dts);
            s.sync = (t->body[0] >> 4) == 1;
            nvideo++;
        } else {
            /* AAC frames are back to back: counted from the first one's time. */
            if (!audio_started)
                audio_time = ms * a.sample_rate / 1000;
            audio_started = true;
            s.track_id = EZR_FMP4_AUDIO_TRACK;
            s.decode_time = audio_time;
            s.duration = EZR_FMP4_AAC_FRAME_SAMPLES;
            s.sync = true;
            audio_time += EZR_FMP4_AAC_FRAME_SAMPLES;
            naudio++;
        }
        uint8_t head[EZR_FMP4_FRAGMENT_MAX];
        size_t n = ezr_fmp4_write_fragment(head, &s);
        if (n == 0)
            return die("fragment");
        fwrite(head, 1, n, out);
        fwrite(t->body + off, 1, s.size, out);
    }
    if (fclose(out) != 0)
        return die("write failed");
    for (size_t i = 0; i < all.n; i++)
        free(all.t[i].body);
    free(all.t);
    printf("video %" PRIu32 " audio %" PRIu32 "\n", nvideo, naudio);
    return 0;
}
