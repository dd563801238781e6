/* Ops from other threads to the reactor; see ezr_mailbox.h. */
#include "ezr_mailbox.h"

#include "ezr_error.h"
#include "ezr_list.h"

static void wake_event(struct ezr_io *io, uint32_t events)
{
    struct ezr_mailbox *m = EZR_CONTAINER_OF(io, struct ezr_mailbox, io);
    ezr_wake_drain(&m->wake);
    ezr_mailbox_run(m);
}

int ezr_mailbox_init(struct ezr_mailbox *m, struct ezr_reactor *r)
{
    pthread_mutex_init(&m->lock, NULL);
    m->head = m->tail = NULL;
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
    op->next = NULL;
    pthread_mutex_lock(&m->lock);
    bool was_empty = m->head == NULL;
    if (m->tail)
        m->tail->next = op;
    else
        m->head = op;
    m->tail = op;
    pthread_mutex_unlock(&m->lock);
    if (was_empty)
        ezr_wake_signal(&m->wake);
}

void ezr_mailbox_run(struct ezr_mailbox *m)
{
    pthread_mutex_lock(&m->lock);
    struct ezr_op *list = m->head;
    m->head = m->tail = NULL;
    pthread_mutex_unlock(&m->lock);
    while (list) {
        struct ezr_op *op = list;
        list = op->next; /* run() may free op */
        op->run(op);
    }
}

void ezr_mailbox_wake(struct ezr_mailbox *m)
{
    /* A failed write is harmless: the reactor also wakes on its tick. */
    ezr_wake_signal(&m->wake);
}
