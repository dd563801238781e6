/* A free TCP port on 127.0.0.1 for the element's harness tests that put two elements on one port
 * (a port asked as 0 is never shared: ezrserverpool.c). Header-only, GStreamer check. */
#ifndef EZR_FREE_PORT_H
#define EZR_FREE_PORT_H

#include <arpa/inet.h>
#include <gst/check/gstcheck.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bound, read back, released. */
static inline guint16 free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof a;
    fail_unless_equals_int(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    fail_unless_equals_int(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
    close(fd);
    return ntohs(a.sin_port);
}

#endif
