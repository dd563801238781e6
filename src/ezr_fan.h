/* A stream's players (their output sides, struct ezr_client_out) as an array, for the fan-out of each frame. A list of thousands of players
 * makes each step of a walk wait for the last one's memory; an array lets the walk ask for the
 * players it will reach a few places on while it offers the frame to this one. The stream keeps
 * its list for everything else. A removed player leaves a hole (NULL), so the order of those
 * left never changes under a walk; holes are squeezed out once they are a quarter of it.
 * Reactor-thread only; it holds no reference: a player is removed before it is freed. */
#ifndef EZR_FAN_H
#define EZR_FAN_H

#include <stddef.h>
#include <stdint.h>

struct ezr_client_offer;
struct ezr_client_out;
struct ezr_frame;

struct ezr_fan {
    struct ezr_client_out **v;
    size_t n, cap, holes;
};

/* Empties the array and frees its memory. */
void ezr_fan_free(struct ezr_fan *fan);
/* Appends p (its place is kept in p->fan_index). Returns 0 or EZR_ENOMEM. */
int ezr_fan_add(struct ezr_fan *fan, struct ezr_client_out *p);
/* Leaves a hole where p was. */
void ezr_fan_remove(struct ezr_fan *fan, struct ezr_client_out *p);
/* Offers f to every player (ezr_client_offer with o, the same for all); an offer may close that
 * player, which removes it. */
void ezr_fan_offer(struct ezr_fan *fan, struct ezr_frame *f, const struct ezr_client_offer *o);

#endif
