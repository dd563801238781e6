/* The fan-out array; see ezr_fan.h. */
#include "ezr_fan.h"

#include <stdlib.h>

#include "ezr_alloc.h"
#include "ezr_client.h"
#include "ezr_error.h"

/* How many players ahead the walk asks for a player's queue: enough to cover a cache miss (a
 * few hundred ns on a virtual machine) with the work of offering to the players between. */
#define FAN_AHEAD 4

void ezr_fan_free(struct ezr_fan *fan)
{
    free(fan->v);
    *fan = (struct ezr_fan){0};
}

/* Squeezes the holes out, keeping the players' order. */
static void compact(struct ezr_fan *fan)
{
    size_t kept = 0;
    for (size_t i = 0; i < fan->n; i++) {
        struct ezr_client_out *p = fan->v[i];
        if (p) {
            p->fan_index = kept;
            fan->v[kept++] = p;
        }
    }
    fan->n = kept;
    fan->holes = 0;
}

int ezr_fan_add(struct ezr_fan *fan, struct ezr_client_out *p)
{
    if (fan->n == fan->cap && fan->holes)
        compact(fan);
    if (fan->n == fan->cap) {
        size_t cap = fan->cap ? fan->cap * 2 : 16;
        struct ezr_client_out **v = ezr_realloc(fan->v, cap * sizeof *v);
        if (!v)
            return EZR_ENOMEM;
        fan->v = v;
        fan->cap = cap;
    }
    p->fan_index = fan->n;
    fan->v[fan->n++] = p;
    return 0;
}

void ezr_fan_remove(struct ezr_fan *fan, struct ezr_client_out *p)
{
    fan->v[p->fan_index] = NULL;
    fan->holes++;
}

void ezr_fan_offer(struct ezr_fan *fan, struct ezr_frame *f, const struct ezr_client_offer *o)
{
    /* The walk waits on memory, not on work, so it asks ahead of time for what it will touch:
     * the queue of the player FAN_AHEAD places on, and the ring slot of the next one (whose
     * queue came in earlier). An offer that closes a player leaves a hole, never a shift. */
    for (size_t i = 0; i < fan->n; i++) {
        if (i + FAN_AHEAD < fan->n && fan->v[i + FAN_AHEAD]) {
            const struct ezr_client_out *ahead = fan->v[i + FAN_AHEAD];
            __builtin_prefetch(&ahead->q);
            __builtin_prefetch(&ahead->q.need_keyframe);
        }
        if (i + 1 < fan->n && fan->v[i + 1])
            ezr_queue_prefetch_tail(&fan->v[i + 1]->q);
        if (fan->v[i])
            ezr_client_offer(fan->v[i], f, o);
    }
    if (fan->holes > fan->n / 4)
        compact(fan);
}
