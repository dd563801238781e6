/* Work posted to the reactor thread by other threads (the pipeline's frames, stats queries,
 * stream removal): a mutex-protected FIFO of ops and a wake-up channel. The lock is held only to
 * link or take the list, never while an op runs.
 *
 * Ownership: an op is embedded in its poster's own struct; run() is called once on the reactor
 * thread (or by ezr_mailbox_run() after the thread is gone) and owns the op from then on: it frees
 * what it must. */
#ifndef EZR_MAILBOX_H
#define EZR_MAILBOX_H

#include <pthread.h>

#include "ezr_list.h"
#include "ezr_reactor.h"
#include "ezr_wake.h"

struct ezr_op {
    struct ezr_link link; /* on the mailbox's ops, then on the batch being run */
    void (*run)(struct ezr_op *op);
};

struct ezr_mailbox {
    pthread_mutex_t lock;
    struct ezr_list ops; /* posted, not yet taken; by op.link, under lock */
    struct ezr_wake wake;
    struct ezr_io io; /* wake.rfd on the reactor */
};

/* Opens the wake-up channel and registers it with r. Returns 0 or EZR_ESYS. */
int ezr_mailbox_init(struct ezr_mailbox *m, struct ezr_reactor *r);
/* Unregisters nothing (the reactor goes first); closes the channel. Ops left are not run. */
void ezr_mailbox_clear(struct ezr_mailbox *m);
/* Any thread: appends op (it will run) and wakes the reactor if the list was empty (one wake-up
 * per batch: the reactor takes the whole list at once). Should the wake-up fail, the reactor's
 * tick runs the op a little later. */
void ezr_mailbox_post(struct ezr_mailbox *m, struct ezr_op *op);
/* Runs every op posted so far, in order. */
void ezr_mailbox_run(struct ezr_mailbox *m);
/* Wakes the reactor without an op (to stop it). */
void ezr_mailbox_wake(struct ezr_mailbox *m);

#endif
