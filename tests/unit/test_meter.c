/* The reactor's figures for the stats (ezr_meter.h): busy fraction and send latency percentiles
 * over the last windows. */
#include "ezr_test.h"

#include "ezr_limits.h"
#include "ezr_meter.h"

#define T0 5000000u /* any ezr_now_us() value */
#define WINDOW_US ((uint64_t)EZR_METER_WINDOW_MS * 1000u)

EZR_TEST(test_busy_is_the_time_not_spent_waiting)
{
    struct ezr_meter m;
    ezr_meter_init(&m, T0);
    EZR_CHECK(ezr_meter_busy(&m, T0) == 0.0);
    ezr_meter_idle(&m, 300000, T0 + 400000); /* waited 300 of 400 ms */
    EZR_CHECK_EQ((long)(ezr_meter_busy(&m, T0 + 400000) * 1000 + 0.5), 250);
    /* Busy for the rest of the window: 100 + 600 of 1000 ms. */
    EZR_CHECK_EQ((long)(ezr_meter_busy(&m, T0 + WINDOW_US) * 1000 + 0.5), 700);
}

EZR_TEST(test_old_windows_are_forgotten)
{
    struct ezr_meter m;
    ezr_meter_init(&m, T0);
    ezr_meter_send_latency(&m, 50000);
    ezr_meter_idle(&m, 0, T0 + WINDOW_US); /* a busy window ends */
    EZR_CHECK(ezr_meter_busy(&m, T0 + WINDOW_US) == 1.0);
    EZR_CHECK_EQ(ezr_meter_latency_percentile(&m, 50), 50176); /* its bucket's middle */
    /* Half a window idle: the busy one still counts. */
    ezr_meter_idle(&m, WINDOW_US / 2, T0 + WINDOW_US + WINDOW_US / 2);
    EZR_CHECK_EQ((long)(ezr_meter_busy(&m, T0 + WINDOW_US + WINDOW_US / 2) * 1000 + 0.5), 667);
    /* The idle window ends: the busy one and its latency are forgotten. */
    ezr_meter_idle(&m, WINDOW_US / 2, T0 + 2 * WINDOW_US);
    EZR_CHECK(ezr_meter_busy(&m, T0 + 2 * WINDOW_US) == 0.0);
    EZR_CHECK_EQ(ezr_meter_latency_percentile(&m, 50), 0);
}

EZR_TEST(test_latency_percentiles_within_a_bucket)
{
    struct ezr_meter m;
    ezr_meter_init(&m, T0);
    EZR_CHECK_EQ(ezr_meter_latency_percentile(&m, 99), 0);
    /* 1..15 us are exact; above, buckets are 1/16 of a power of two wide. */
    for (uint64_t us = 1; us <= 100; us++)
        ezr_meter_send_latency(&m, us);
    EZR_CHECK_EQ(ezr_meter_latency_percentile(&m, 10), 10);
    uint32_t p50 = ezr_meter_latency_percentile(&m, 50);
    uint32_t p99 = ezr_meter_latency_percentile(&m, 99);
    EZR_CHECK(p50 >= 48 && p50 <= 51); /* 50 is in [48, 52) */
    EZR_CHECK(p99 >= 96 && p99 <= 103); /* 99 is in [96, 104) */
    ezr_meter_send_latency(&m, 10000000); /* 10 s */
    uint32_t max = ezr_meter_latency_percentile(&m, 100);
    EZR_CHECK(max >= 9700000 && max <= 10300000);
}

EZR_TEST_MAIN(EZR_CASE(test_busy_is_the_time_not_spent_waiting),
              EZR_CASE(test_old_windows_are_forgotten),
              EZR_CASE(test_latency_percentiles_within_a_bucket))
