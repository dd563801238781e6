/* When a client's queued bytes are written. Replies, a join burst and a large backlog go at the
 * end of the reactor round they were queued in (`now`); other media waits up to the flush
 * interval so that one writev carries several frames (what the kernel charges per write, not per
 * byte, is most of a server's CPU on loopback). When the interval is up, the waiting clients
 * become the sweep, written EZR_FLUSH_BATCH per round so that with thousands of players a flush
 * never holds back the next round's handshakes; new media meanwhile gathers in a fresh list.
 * Reactor-thread only. */
#ifndef EZR_FLUSH_H
#define EZR_FLUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "ezr_list.h"

struct ezr_client;

struct ezr_flusher {
    struct ezr_list now;   /* by client.dirty_link */
    struct ezr_list later; /* by client.media_link: waiting for the interval */
    struct ezr_list sweep; /* by client.media_link: interval up, being written */
    uint64_t later_due_ms; /* when later becomes the sweep */
    uint32_t interval_ms;
};

void ezr_flush_init(struct ezr_flusher *fl, uint32_t interval_ms);
/* c has bytes to write at the end of this round. */
void ezr_flush_now(struct ezr_flusher *fl, struct ezr_client *c);
/* c has new media: written at the next interval, or now if its backlog is large already. */
void ezr_flush_media(struct ezr_flusher *fl, struct ezr_client *c);
/* c is closing: off every list. */
void ezr_flush_forget(struct ezr_client *c);
/* How long the reactor may sleep before a flush is due (at most max_ms). */
int ezr_flush_timeout(const struct ezr_flusher *fl, int max_ms);
/* Writes what is due: every `now` client, then up to EZR_FLUSH_BATCH clients of the sweep
 * (every waiting client, interval or not, with all). */
void ezr_flush_run(struct ezr_flusher *fl, bool all);

#endif
