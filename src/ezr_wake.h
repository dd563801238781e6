/* A wake-up channel other threads use to wake the reactor thread: register `rfd` with the
 * reactor for EZR_IO_READ; on the event, ezr_wake_drain() and then look for the work posted.
 * Implemented by each reactor backend file: an eventfd with the epoll one (rfd == wfd), a pipe
 * with the poll one. */
#ifndef EZR_WAKE_H
#define EZR_WAKE_H

struct ezr_wake {
    int rfd, wfd;
};

/* Opens the channel, non-blocking and close-on-exec. Returns 0 or EZR_ESYS (both fds -1). */
int ezr_wake_open(struct ezr_wake *w);
/* Makes rfd readable. Safe from any thread. Returns 0 or EZR_ESYS; a full channel counts as
 * success: a wake-up is already pending. */
int ezr_wake_signal(struct ezr_wake *w);
/* Empties the channel so that rfd is not readable until the next signal. Reactor thread only. */
void ezr_wake_drain(struct ezr_wake *w);
/* Closes the fds (after ezr_reactor_del of rfd); safe on a channel that failed to open. */
void ezr_wake_close(struct ezr_wake *w);

#endif
