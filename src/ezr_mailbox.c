/* Ops from other threads to the reactor; see ezr_mailbox.h. */
#include "ezr_mailbox.h"

#include "ezr_error.h"

static void wake_event(struct ezr_io *io, uint32_t events)
{
    struct ezr_mailbox *m = EZR_CONTAINER_OF(io, struct ezr_mailbox, io);
    ezr_wake_drain(&m->wake);
    ezr_mailbox_run(m);
}

int ezr_mailbox_init(struct ezr_mailbox *m, struct ezr_reactor *r)
{
    pthread_mutex_init(&m->lock, NULL);
    ezr_list_init(&m->ops);
    if (ezr_wake_open(&m->wake) < 0) {
        m->wake.rfd = m->wake.wfd = -1;
        return EZR_ESYS;
    }
    m->io.fd = m->wake.rfd;
    m->io.fn = wake_event;
    return ezr_reactor_add(r, &m->io, EZR_IO_READ);
}

void ezr_mailbox_clear(struct ezr_mailbox *m)
{
    ezr_wake_close(&m->wake);
    pthread_mutex_destroy(&m->lock);
}

void ezr_mailbox_post(struct ezr_mailbox *m, struct ezr_op *op)
{
    pthread_mutex_lock(&m->lock);
    bool was_empty = ezr_list_empty(&m->ops);
    ezr_list_push_back(&m->ops, &op->link);
    pthread_mutex_unlock(&m->lock);
    if (was_empty)
        ezr_wake_signal(&m->wake);
}

void ezr_mailbox_run(struct ezr_mailbox *m)
{
    /* The batch is a list of its own, so that an op posted meanwhile (by run() or another
     * thread) waits for the next batch and its wake-up, as before. */
    struct ezr_list batch;
    ezr_list_init(&batch);
    pthread_mutex_lock(&m->lock);
    ezr_list_splice_back(&batch, &m->ops);
    pthread_mutex_unlock(&m->lock);
    struct ezr_link *n;
    while ((n = ezr_list_pop_front(&batch))) { /* off the list before run() may free it */
        struct ezr_op *op = EZR_CONTAINER_OF(n, struct ezr_op, link);
        op->run(op);
    }
}

void ezr_mailbox_wake(struct ezr_mailbox *m)
{
    /* A failed write is harmless: the reactor also wakes on its tick. */
    ezr_wake_signal(&m->wake);
}
