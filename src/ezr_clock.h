/* Monotonic time for timeouts and intervals, and the wall clock where a time is shown to a
 * player (HLS program date-time), in one place. */
#ifndef EZR_CLOCK_H
#define EZR_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t ezr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Time from a mark to now, 0 when the mark is later. A round reads its now once, and marks set
 * meanwhile (a client accepted, a flush's progress) can be newer than it: unsigned wrap-around
 * would make them look ancient. */
static inline uint64_t ezr_elapsed(uint64_t now, uint64_t mark)
{
    return now > mark ? now - mark : 0;
}

/* The same clock in microseconds, for what is measured rather than waited for (the reactor's
 * busy time, a frame's way from push to socket). */
static inline uint64_t ezr_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Unix time in ms: only for what a player is told of the wall clock, never for intervals. */
static inline uint64_t ezr_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* For pthread_cond_timedwait on a CLOCK_MONOTONIC condition variable. */
static inline struct timespec ezr_deadline_after(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

#endif
