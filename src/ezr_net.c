/* Socket plumbing; see ezr_net.h. */
#include "ezr_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ezr_error.h"
#include "ezr_limits.h"

static int map_bind_errno(int e)
{
    switch (e) {
    case EADDRINUSE:
        return EZR_EADDRINUSE;
    case EACCES:
    case EPERM:
        return EZR_EACCES;
    case EADDRNOTAVAIL:
        return EZR_EADDR;
    default:
        return EZR_ESYS;
    }
}

int ezr_net_listen(const char *host, uint16_t port, int backlog, uint16_t *bound_port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    /* "localhost" may resolve to ::1 first; players open rtmp://localhost with IPv4 first. */
    if (host && strcmp(host, "localhost") == 0)
        hints.ai_family = AF_INET;
    if (getaddrinfo(host && *host ? host : NULL, service, &hints, &res) != 0 || !res)
        return EZR_EADDR;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        return EZR_ESYS;
    }
    /* Lets a restarted pipeline rebind while old connections sit in TIME_WAIT; on Linux it still
     * refuses a port another socket is listening on. */
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* "::" means every address, IPv4 included; the default (net.ipv6.bindv6only) varies by
     * system, so say it. Only the unspecified address is affected: "::1" takes only IPv6. */
    if (res->ai_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0) {
        int e = errno;
        close(fd);
        freeaddrinfo(res);
        errno = e;
        return EZR_ESYS;
    }
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
        int e = errno;
        close(fd);
        freeaddrinfo(res);
        errno = e;
        return map_bind_errno(e);
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        close(fd);
        return EZR_ESYS;
    }
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* An IPv4 peer of a dual-stack listener arrives as ::ffff:a.b.c.d; it is written as the IPv4
 * address it is, so that logs, stats and allowed-clients see one form per peer. */
static void format_peer(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
        port = ntohs(sin->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        port = ntohs(sin6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
            inet_ntop(AF_INET, sin6->sin6_addr.s6_addr + 12, ip, sizeof ip);
        else
            inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
    }
    ezr_net_format_host_port(ip, port, out, cap);
}

int ezr_net_accept(int listen_fd, char *addr, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? EZR_EAGAIN : EZR_ESYS;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ezr_net_set_keepalive(fd, EZR_TCP_KEEPIDLE_S, EZR_TCP_KEEPINTVL_S, EZR_TCP_KEEPCNT);
    format_peer(&ss, addr, cap);
    return fd;
}

char *ezr_net_format_host_port(const char *host, unsigned port, char *out, size_t cap)
{
    snprintf(out, cap, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
    return out;
}

void ezr_net_ack_now(int fd)
{
#ifdef TCP_QUICKACK
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#else
    (void)fd;
#endif
}

void ezr_net_set_send_buffer(int fd, uint32_t bytes)
{
    if (bytes) {
        int v = bytes > INT32_MAX ? INT32_MAX : (int)bytes;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    }
}

int ezr_net_set_keepalive(int fd, int idle_s, int interval_s, int count)
{
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof interval_s) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count) < 0)
        return EZR_ESYS;
    return 0;
}

bool ezr_net_failed(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0;
}

size_t ezr_net_unread(int fd)
{
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? (size_t)n : 0;
}
