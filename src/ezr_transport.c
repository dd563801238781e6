/* The plain TCP transport; see ezr_transport.h. */
#include "ezr_transport.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ezr_error.h"

static ssize_t tcp_read(struct ezr_conn *c, uint8_t *buf, size_t len, const char **why)
{
    for (;;) {
        ssize_t n = read(c->io.fd, buf, len);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->read_wants = EZR_IO_READ;
            return EZR_EAGAIN;
        }
        *why = errno == ECONNRESET ? "connection reset by player" : "read error";
        return EZR_ECLOSED;
    }
}

static ssize_t tcp_writev(struct ezr_conn *c, const struct iovec *iov, int n, const char **why)
{
    if (n == 0)
        return 0;
    for (;;) {
        /* MSG_NOSIGNAL: a player that resets its connection must not raise SIGPIPE in the
         * application that embeds us. */
        struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(c->io.fd, &msg, MSG_NOSIGNAL);
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->write_wants = EZR_IO_WRITE;
            return EZR_EAGAIN;
        }
        *why = errno == EPIPE || errno == ECONNRESET ? "connection reset by player"
                                                     : "write error";
        return EZR_ECLOSED;
    }
}

static bool tcp_holds_output(const struct ezr_conn *c)
{
    (void)c;
    return false;
}

static void tcp_close(struct ezr_conn *c)
{
    (void)c;
}

const struct ezr_transport ezr_transport_tcp = {
    .name = "tcp",
    .short_read_drains = true,
    .read = tcp_read,
    .writev = tcp_writev,
    .holds_output = tcp_holds_output,
    .close = tcp_close,
};
