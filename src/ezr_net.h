/* Socket plumbing kept out of the server logic: listen, accept, non-blocking, TCP_NODELAY,
 * keepalive. */
#ifndef EZR_NET_H
#define EZR_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for a peer as ezr_net_accept() writes it: "[" + 45 characters of IPv6 (INET6_ADDRSTRLEN
 * without its NUL) + "]:" + 5 port digits + NUL is 54; 64 matches the server's buffers. */
#define EZR_ADDR_STRLEN 64

/* Resolves host (name or address; "localhost" prefers 127.0.0.1), binds port (0 = any) and
 * listens, non-blocking and close-on-exec. "::" listens dual stack (IPv4 peers arrive as
 * ::ffff:a.b.c.d) whatever the system's bindv6only default. Returns the fd (>= 0) and the bound
 * port, or EZR_EADDR, EZR_EADDRINUSE, EZR_EACCES, EZR_ESYS. */
int ezr_net_listen(const char *host, uint16_t port, int backlog, uint16_t *bound_port);
/* Accepts one connection, non-blocking with TCP_NODELAY and TCP keepalive (EZR_TCP_KEEPIDLE_S,
 * EZR_TCP_KEEPINTVL_S, EZR_TCP_KEEPCNT: a peer gone without a FIN is found). Returns the fd,
 * EZR_EAGAIN when none is pending, or EZR_ESYS (errno says why: EMFILE when out of descriptors).
 * addr receives the peer as "a.b.c.d:port" or "[v6]:port" (NUL-terminated, truncated to cap;
 * EZR_ADDR_STRLEN always fits); an IPv4 peer of a dual-stack listener is written as plain IPv4. */
int ezr_net_accept(int listen_fd, char *addr, size_t cap);
/* Writes host and port as a URL authority: "host:port", or "[host]:port" when host is an IPv6
 * address (has a colon), so the port cannot be read as part of the address. Returns out. */
char *ezr_net_format_host_port(const char *host, unsigned port, char *out, size_t cap);
/* Turns on TCP keepalive: the first probe after idle_s seconds of silence, then one every
 * interval_s, and the connection fails (ETIMEDOUT) after count unanswered. 0, or EZR_ESYS. */
int ezr_net_set_keepalive(int fd, int idle_s, int interval_s, int count);
/* Sends the ACK of what was read at once instead of after the kernel's delayed-ACK wait
 * (TCP_QUICKACK, which the kernel clears again by itself; Linux only, a no-op elsewhere). */
void ezr_net_ack_now(int fd);
/* Fixes a socket's send buffer (SO_SNDBUF); 0 keeps the kernel's autotuning. */
void ezr_net_set_send_buffer(int fd, uint32_t bytes);
/* Whether the connection failed (reset, timed out: SO_ERROR set, which this clears) rather
 * than being shut down in order by the peer. */
bool ezr_net_failed(int fd);
/* Bytes received and not yet read (FIONREAD), 0 if it cannot tell. */
size_t ezr_net_unread(int fd);

#endif
