/* The server tests' helpers: see server_fixture.h. */
#include "server_fixture.h"

#include <poll.h>
#include <stdlib.h>

void push_video(struct ezr_stream *st, uint32_t flags, uint32_t ts, uint8_t tag)
{
    /* byte0: frame type (1 key, 2 inter) | codec 7 (AVC); byte1: AVC packet type. */
    uint8_t body[64] = {(uint8_t)(((flags & EZR_FRAME_KEY) ? 0x10 : 0x20) | 7),
                        (uint8_t)((flags & EZR_FRAME_HEADER) ? 0 : 1),
                        0,
                        0,
                        0,
                        tag};
    if (flags & EZR_FRAME_HEADER)
        body[0] = 0x17;
    ezr_stream_push(st, EZR_FRAME_VIDEO, flags, ts, body, sizeof body);
}

void push_audio(struct ezr_stream *st, uint32_t ts, uint8_t tag)
{
    /* byte0: AAC, 44 kHz, 16 bit, stereo; byte1: AAC packet type 1 (raw). */
    uint8_t body[32] = {0xAF, 1, tag};
    ezr_stream_push(st, EZR_FRAME_AUDIO, 0, ts, body, sizeof body);
}

void test_server_config(struct ezr_server_config *cfg)
{
    ezr_server_config_init(cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 0;
}

void test_tiered_config(struct ezr_server_config *cfg, uint32_t warning, uint32_t high,
                        uint32_t max, uint32_t send_buffer, uint32_t client_timeout_ms)
{
    test_server_config(cfg);
    cfg->queue_warning_bytes = warning;
    cfg->queue_high_bytes = high;
    cfg->queue_max_bytes = max;
    cfg->send_buffer_bytes = send_buffer;
    cfg->flush_interval_ms = 0;
    if (client_timeout_ms)
        cfg->client_timeout_ms = client_timeout_ms;
}

bool wait_disconnect(struct ezr_stream *st, enum ezr_close_reason code, uint64_t deadline,
                     struct ezr_stream_stats *stats)
{
    for (;;) {
        if (ezr_stream_get_stats(st, stats, NULL, NULL, DEADLINE_MS) < 0)
            return false;
        if (stats->disconnects[code] == 1)
            return true;
        if (mono_ms() >= deadline)
            return false;
        poll(NULL, 0, 20);
    }
}

long largest_queue(struct ezr_stream *st, struct ezr_stream_stats *out, size_t players)
{
    struct ezr_stream_stats tmp;
    struct ezr_client_stats *list = NULL;
    size_t n = 0;
    if (ezr_stream_get_stats(st, out ? out : &tmp, &list, &n, DEADLINE_MS) < 0)
        return -1;
    long q = n == players ? 0 : -1;
    for (size_t i = 0; q >= 0 && i < n; i++)
        if ((long)list[i].bytes_queued > q)
            q = (long)list[i].bytes_queued;
    free(list);
    return q;
}

struct ezr_server *start_live_stream(const struct ezr_server_config *cfg, struct ezr_stream **st)
{
    struct ezr_server *s = NULL;
    if (ezr_server_new(cfg, &s) < 0)
        return NULL;
    struct ezr_stream_config sc = {.app = "live", .key = "stream", .max_gops = 1};
    if (ezr_server_add_stream(s, &sc, st) < 0) {
        ezr_server_free(s);
        return NULL;
    }
    return s;
}
