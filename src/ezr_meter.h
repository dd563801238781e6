/* What the reactor measures about itself for the stats: the fraction of wall time it spent busy
 * (not waiting for events), and how long frames took from ezr_stream_push() to the socket (the
 * send latency: the mailbox, the fan-out and the wait for the write). Both over the last one to
 * two windows of EZR_METER_WINDOW_MS, so that a figure read now says how the server does now, not
 * since it started. Reactor-thread only; the stats read it through an op on that thread. */
#ifndef EZR_METER_H
#define EZR_METER_H

#include <stdint.h>

/* Send latencies in microseconds, log-linear: 16 buckets per power of two (6% resolution), up to
 * 2^32 us. */
#define EZR_METER_SUB_BITS 4
#define EZR_METER_BUCKETS ((32 - EZR_METER_SUB_BITS + 1) << EZR_METER_SUB_BITS)

struct ezr_meter_window {
    uint64_t start_us;
    uint64_t idle_us;
    uint64_t count; /* send latencies recorded */
    uint32_t hist[EZR_METER_BUCKETS];
};

struct ezr_meter {
    struct ezr_meter_window win[2];
    unsigned cur; /* win[cur] is filling, win[!cur] the one before */
};

void ezr_meter_init(struct ezr_meter *m, uint64_t now_us);
/* The reactor waited idle_us for events, up to now_us (a new window starts when one is full). */
void ezr_meter_idle(struct ezr_meter *m, uint64_t idle_us, uint64_t now_us);
/* A frame reached the socket us microseconds after it was pushed. */
void ezr_meter_send_latency(struct ezr_meter *m, uint64_t us);
/* Busy fraction, 0..1, over the last one to two windows up to now. */
double ezr_meter_busy(const struct ezr_meter *m, uint64_t now_us);
/* The pct-th percentile (0..100) of the send latencies of the last one to two windows, in
 * microseconds (the middle of its bucket); 0 when none were recorded. */
uint32_t ezr_meter_latency_percentile(const struct ezr_meter *m, double pct);

#endif
