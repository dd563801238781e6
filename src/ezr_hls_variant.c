/* What the multivariant playlist says of one rendition (draft-pantos-hls-rfc8216bis 4.4.6.2),
 * taken from the muxer's window as served: its peak and average segment bit rates, the codecs,
 * picture size and frame rate read from its sequence headers (the frame rate counted when the
 * SPS does not say it). */
#include "ezr_hls_priv.h"

#include <stdio.h>
#include <string.h>

#include "ezr_error.h"

/* The bit rate of size bytes over ms milliseconds, rounded up: BANDWIDTH must not be less than
 * what a player needs. */
static uint64_t bits_per_second(uint64_t bytes, uint64_t ms)
{
    return ms ? (bytes * 8u * 1000u + ms - 1u) / ms : 0;
}

/* The peak segment bit rate (4.1): the largest bit rate of any contiguous run of complete
 * segments lasting 0.5 to 1.5 target durations. A window whose segments are all longer (a
 * stall made one long segment and raised nothing yet) falls back to the largest single one. */
static uint64_t peak_bandwidth(const struct ezr_hls *h, size_t n)
{
    uint64_t target = (uint64_t)(h->target_s ? h->target_s : 1u) * 1000u;
    uint64_t peak = 0, single = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t bytes = 0, ms = 0;
        for (size_t j = i; j < n; j++) {
            bytes += h->segs[j].bytes;
            ms += h->segs[j].duration_ms;
            if (2u * ms > 3u * target)
                break;
            if (2u * ms >= target) {
                uint64_t r = bits_per_second(bytes, ms);
                peak = r > peak ? r : peak;
            }
        }
        uint64_t r = bits_per_second(h->segs[i].bytes, h->segs[i].duration_ms);
        single = r > single ? r : single;
    }
    return peak ? peak : single;
}

static size_t count_video_samples(const struct ezr_hls_segment *s)
{
    size_t n = 0;
    for (size_t p = 0; p < s->nparts; p++)
        for (size_t k = 0; k < s->parts[p].nsamples; k++)
            n += ezr_frame_is_video(s->parts[p].samples[k].frame);
    return n;
}

/* Frames per 1000 s (FRAME-RATE has three decimals), counted; a count within 0.1 % of a common
 * rate is the nearest such rate: FLV's millisecond timestamps make a 30 fps window of 38 frames
 * last 1266 ms, which counts 30.016. */
static uint32_t frame_rate_milli(uint64_t frames, uint64_t ms)
{
    static const uint32_t common[] = {23976, 24000, 25000, 29970, 30000, 50000, 59940, 60000};
    if (!ms)
        return 0;
    uint64_t counted = (frames * 1000000u + ms / 2u) / ms, best = counted, best_d = UINT64_MAX;
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++) {
        uint64_t c = common[i], d = counted > c ? counted - c : c - counted;
        if (d * 1000u <= c && d < best_d) {
            best = c;
            best_d = d;
        }
    }
    return (uint32_t)best;
}

int ezr_hls_variant(const struct ezr_hls *h, struct ezr_hls_variant *out)
{
    memset(out, 0, sizeof *out);
    size_t n = ezr_hls_complete_segments(h);
    if (!n || !h->have_init)
        return EZR_EAGAIN;
    uint64_t bytes = 0, ms = 0, frames = 0;
    for (size_t i = 0; i < n; i++) {
        bytes += h->segs[i].bytes;
        ms += h->segs[i].duration_ms;
        if (h->init_has_video)
            frames += count_video_samples(&h->segs[i]);
    }
    out->bandwidth = peak_bandwidth(h, n);
    out->average_bandwidth = bits_per_second(bytes, ms);
    /* Codecs of the init in use: an audio-only or video-only stream names only its own. */
    int len = snprintf(out->codecs, sizeof out->codecs, "%s%s%s",
                       h->init_has_video ? h->video.codecs : "",
                       h->init_has_video && h->init_has_audio ? "," : "",
                       h->init_has_audio ? h->audio.codecs : "");
    if (len < 0 || (size_t)len >= sizeof out->codecs)
        return EZR_EINVAL; /* cannot be: each name is at most 15 characters */
    if (h->init_has_video) {
        out->width = h->video.width;
        out->height = h->video.height;
        /* The rate the SPS says, else as counted. */
        out->frame_rate_milli =
            h->video.frame_rate_milli ? h->video.frame_rate_milli : frame_rate_milli(frames, ms);
    }
    return 0;
}

bool ezr_hls_report(const struct ezr_hls *h, uint64_t *last_msn, uint32_t *last_part)
{
    return ezr_hls_last_part(h, last_msn, last_part);
}
