/* A wake-up channel: other threads make the reactor's poll return. rfd is registered with the
 * reactor for reading. Implemented by each reactor backend (an eventfd with epoll, a pipe with
 * poll). */
#ifndef EZR_WAKE_H
#define EZR_WAKE_H

struct ezr_wake {
    int rfd, wfd;
};

/* Non-blocking and close-on-exec. Returns 0 or EZR_ESYS. */
int ezr_wake_open(struct ezr_wake *w);
/* Any thread. Returns 0 (also when a wake-up is already pending) or EZR_ESYS. */
int ezr_wake_signal(struct ezr_wake *w);
/* Reactor thread: empties the channel so the next signal wakes the poll again. */
void ezr_wake_drain(struct ezr_wake *w);
void ezr_wake_close(struct ezr_wake *w);

#endif
