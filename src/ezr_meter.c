/* The reactor's own figures; see ezr_meter.h. */
#include "ezr_meter.h"

#include <string.h>

#include "ezr_limits.h"

static void window_reset(struct ezr_meter_window *w, uint64_t start_us)
{
    memset(w, 0, sizeof *w);
    w->start_us = start_us;
}

void ezr_meter_init(struct ezr_meter *m, uint64_t now_us)
{
    window_reset(&m->win[0], now_us);
    window_reset(&m->win[1], now_us);
    m->cur = 0;
}

void ezr_meter_idle(struct ezr_meter *m, uint64_t idle_us, uint64_t now_us)
{
    struct ezr_meter_window *w = &m->win[m->cur];
    w->idle_us += idle_us;
    if (now_us - w->start_us >= (uint64_t)EZR_METER_WINDOW_MS * 1000u) {
        m->cur = !m->cur;
        window_reset(&m->win[m->cur], now_us);
    }
}

static unsigned bucket_of(uint64_t us)
{
    if (us > UINT32_MAX)
        us = UINT32_MAX;
    if (us < (1u << EZR_METER_SUB_BITS))
        return (unsigned)us;
    unsigned e = 63u - (unsigned)__builtin_clzll(us); /* >= EZR_METER_SUB_BITS */
    unsigned shift = e - EZR_METER_SUB_BITS;
    return ((shift + 1) << EZR_METER_SUB_BITS) |
           (unsigned)((us >> shift) & ((1u << EZR_METER_SUB_BITS) - 1));
}

/* The middle of bucket b, in microseconds. */
static uint32_t bucket_value(unsigned b)
{
    if (b < (1u << EZR_METER_SUB_BITS))
        return b;
    unsigned shift = (b >> EZR_METER_SUB_BITS) - 1;
    uint64_t sub = b & ((1u << EZR_METER_SUB_BITS) - 1);
    uint64_t low = ((1u << EZR_METER_SUB_BITS) + sub) << shift;
    uint64_t mid = low + ((1ull << shift) >> 1);
    return mid > UINT32_MAX ? UINT32_MAX : (uint32_t)mid;
}

void ezr_meter_send_latency(struct ezr_meter *m, uint64_t us)
{
    struct ezr_meter_window *w = &m->win[m->cur];
    w->hist[bucket_of(us)]++;
    w->count++;
}

double ezr_meter_busy(const struct ezr_meter *m, uint64_t now_us)
{
    const struct ezr_meter_window *prev = &m->win[!m->cur], *cur = &m->win[m->cur];
    uint64_t wall = now_us > prev->start_us ? now_us - prev->start_us : 0;
    if (!wall)
        return 0.0;
    double busy = 1.0 - (double)(prev->idle_us + cur->idle_us) / (double)wall;
    return busy < 0.0 ? 0.0 : busy > 1.0 ? 1.0 : busy;
}

uint32_t ezr_meter_latency_percentile(const struct ezr_meter *m, double pct)
{
    uint64_t total = m->win[0].count + m->win[1].count;
    if (!total)
        return 0;
    /* Nearest rank: the smallest value with at least pct% of the samples at or below it. */
    uint64_t rank = (uint64_t)(pct / 100.0 * (double)total + 0.999999);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < EZR_METER_BUCKETS; b++) {
        seen += (uint64_t)m->win[0].hist[b] + m->win[1].hist[b];
        if (seen >= rank)
            return bucket_value(b);
    }
    return bucket_value(EZR_METER_BUCKETS - 1);
}
