/* Makes a server's reactor thread fail for real, for the tests of what follows (no hook in the
 * library): with the epoll backend its epoll descriptor is replaced by /dev/null, so the next
 * epoll_wait fails (EINVAL); with the poll backend RLIMIT_NOFILE is lowered to 1, below the two
 * descriptors or more it polls (the listener and its wake-up pipe), so the next poll fails
 * (EINVAL too) until reactor_break_restore(). Either way the failure comes at the reactor's next
 * wait, at the latest on its tick. Header-only and framework-free: callers assert the results.
 * Both ways act on the whole process: one server at a time, started after reactor_break_init. */
#ifndef REACTOR_BREAK_H
#define REACTOR_BREAK_H

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ezr_reactor.h"

#define REACTOR_BREAK_MAX_FDS 16

struct reactor_break {
    int before[REACTOR_BREAK_MAX_FDS]; /* epoll: the descriptors that are not the server's */
    int nbefore;
    struct rlimit saved; /* poll: the limit to restore */
    bool lowered;
};

/* The process's epoll descriptors (readlink of /proc/self/fd/N is "anon_inode:[eventpoll]");
 * returns how many, at most max. */
static inline int reactor_break_epoll_fds(int *out, int max)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < max) {
        char target[64];
        ssize_t len = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
        if (len < 0)
            continue;
        target[len] = '\0';
        if (strcmp(target, "anon_inode:[eventpoll]") == 0)
            out[n++] = atoi(de->d_name);
    }
    closedir(d);
    return n;
}

/* Before the server starts. */
static inline void reactor_break_init(struct reactor_break *b)
{
    memset(b, 0, sizeof *b);
    b->nbefore = reactor_break_epoll_fds(b->before, REACTOR_BREAK_MAX_FDS);
}

/* The epoll descriptor opened since reactor_break_init, -1 if none, -2 if several. */
static inline int reactor_break_new_epoll_fd(const struct reactor_break *b)
{
    int now[REACTOR_BREAK_MAX_FDS];
    int n = reactor_break_epoll_fds(now, REACTOR_BREAK_MAX_FDS);
    int found = -1;
    for (int i = 0; i < n; i++) {
        bool old = false;
        for (int j = 0; j < b->nbefore; j++)
            old = old || b->before[j] == now[i];
        if (old)
            continue;
        if (found >= 0)
            return -2;
        found = now[i];
    }
    return found;
}

/* Returns 0, or -1 (epoll: not exactly one new epoll descriptor; a call failed). With poll the
 * calling thread should open nothing until reactor_break_restore(). */
static inline int reactor_break(struct reactor_break *b)
{
    if (strcmp(ezr_reactor_backend(), "epoll") == 0) {
        int epfd = reactor_break_new_epoll_fd(b);
        if (epfd < 0)
            return -1;
        /* The number stays taken, so the server's own close() later closes our /dev/null and
         * nothing else. */
        int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0)
            return -1;
        int rc = dup2(null_fd, epfd) == epfd ? 0 : -1;
        close(null_fd);
        return rc;
    }
    if (getrlimit(RLIMIT_NOFILE, &b->saved) < 0)
        return -1;
    struct rlimit one = {1, b->saved.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &one) < 0)
        return -1;
    b->lowered = true;
    return 0;
}

/* Once the failure is seen: the process may open descriptors again. Returns 0 or -1. */
static inline int reactor_break_restore(struct reactor_break *b)
{
    if (!b->lowered)
        return 0;
    b->lowered = false;
    return setrlimit(RLIMIT_NOFILE, &b->saved);
}

#endif
