/* Socket plumbing kept out of the server logic: listen, accept, non-blocking, TCP_NODELAY. */
#ifndef EZR_NET_H
#define EZR_NET_H

#include <stddef.h>
#include <stdint.h>

/* Resolves host (name or address; "localhost" prefers 127.0.0.1), binds port (0 = any) and
 * listens, non-blocking and close-on-exec. Returns the fd (>= 0) and the bound port, or
 * EZR_EADDR, EZR_EADDRINUSE, EZR_EACCES, EZR_ESYS. */
int ezr_net_listen(const char *host, uint16_t port, int backlog, uint16_t *bound_port);
/* Accepts one connection, non-blocking with TCP_NODELAY. Returns the fd, EZR_EAGAIN when none
 * is pending, or EZR_ESYS (errno says why: EMFILE when out of descriptors). addr receives
 * "ip:port" (NUL-terminated, truncated to cap). */
int ezr_net_accept(int listen_fd, char *addr, size_t cap);
/* Fixes a socket's send buffer (SO_SNDBUF); 0 keeps the kernel's autotuning. */
void ezr_net_set_send_buffer(int fd, uint32_t bytes);

#endif
