/* Socket plumbing over real loopback sockets: which address family a host listens on, and the
 * exact text a peer is written as. Without IPv6 on loopback the IPv6 cases are TAP skips. */
#include "ezr_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_net.h"

/* How long a loopback connection may take to reach the listener's backlog. */
#define ACCEPT_DEADLINE_MS 5000

/* NULL when this machine can bind ::1; otherwise why not (the reason of a skip). A failure other
 * than "no such address" or "no IPv6" is not a missing feature, and the test goes on to fail. */
static const char *ipv6_loopback_missing(void)
{
    static char why[128];
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0 && errno == EAFNOSUPPORT) {
        snprintf(why, sizeof why, "no IPv6 on this machine: socket(AF_INET6): %s", strerror(errno));
        return why;
    }
    if (fd < 0)
        return NULL;
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int rc = bind(fd, (struct sockaddr *)&sin6, sizeof sin6);
    int e = errno;
    close(fd);
    if (rc < 0 && (e == EADDRNOTAVAIL || e == EAFNOSUPPORT)) {
        snprintf(why, sizeof why, "no IPv6 on loopback: bind(::1): %s", strerror(e));
        return why;
    }
    return NULL;
}

/* A blocking client connected to ip:port; *local_port is the port the listener sees. */
static int connect_to(int family, const char *ip, uint16_t port, unsigned *local_port)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        inet_pton(AF_INET, ip, &sin->sin_addr);
        len = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        inet_pton(AF_INET6, ip, &sin6->sin6_addr);
        len = sizeof *sin6;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        close(fd);
        return -1;
    }
    struct sockaddr_storage me;
    socklen_t ml = sizeof me;
    getsockname(fd, (struct sockaddr *)&me, &ml);
    *local_port = ntohs(me.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&me)->sin6_port
                                                 : ((struct sockaddr_in *)&me)->sin_port);
    return fd;
}

/* Waits for the listener to be readable, then accepts; the fd, or < 0. */
static int accept_one(int listen_fd, char *addr, size_t cap)
{
    struct pollfd p = {.fd = listen_fd, .events = POLLIN};
    if (poll(&p, 1, ACCEPT_DEADLINE_MS) != 1)
        return -1;
    return ezr_net_accept(listen_fd, addr, cap);
}

static int listener_family(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    return ss.ss_family;
}

/* Connects from family/ip to the listener and checks the accepted peer is written as want
 * ("%u" stands for the client's port). */
static int peer_written_as(int listen_fd, uint16_t port, int family, const char *ip,
                           const char *want_fmt, char *got, size_t cap, char *want, size_t wcap)
{
    unsigned cport = 0;
    int c = connect_to(family, ip, port, &cport);
    if (c < 0)
        return -1;
    int a = accept_one(listen_fd, got, cap);
    close(c);
    if (a < 0)
        return -1;
    close(a);
    snprintf(want, wcap, want_fmt, cport);
    return strcmp(got, want) == 0 ? 0 : -1;
}

EZR_TEST(test_ipv6_loopback_listener_writes_peer_in_brackets)
{
    const char *why = ipv6_loopback_missing();
    if (why)
        EZR_SKIP("%s", why);
    uint16_t port = 0;
    int l = ezr_net_listen("::1", 0, 16, &port);
    EZR_CHECK(l >= 0);
    EZR_CHECK_EQ(listener_family(l), AF_INET6);
    char got[EZR_ADDR_STRLEN], want[EZR_ADDR_STRLEN];
    int rc =
        peer_written_as(l, port, AF_INET6, "::1", "[::1]:%u", got, sizeof got, want, sizeof want);
    if (rc < 0)
        printf("# peer written as \"%s\", expected \"%s\"\n", got, want);
    close(l);
    EZR_CHECK_EQ(rc, 0);
}

EZR_TEST(test_dual_stack_listener_writes_ipv4_peer_plainly)
{
    const char *why = ipv6_loopback_missing();
    if (why)
        EZR_SKIP("%s", why);
    uint16_t port = 0;
    int l = ezr_net_listen("::", 0, 16, &port);
    EZR_CHECK(l >= 0);
    int v6only = -1;
    socklen_t sl = sizeof v6only;
    getsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &sl);
    char got4[EZR_ADDR_STRLEN] = "", want4[EZR_ADDR_STRLEN] = "";
    char got6[EZR_ADDR_STRLEN] = "", want6[EZR_ADDR_STRLEN] = "";
    int rc4 = peer_written_as(l, port, AF_INET, "127.0.0.1", "127.0.0.1:%u", got4, sizeof got4,
                              want4, sizeof want4);
    int rc6 = peer_written_as(l, port, AF_INET6, "::1", "[::1]:%u", got6, sizeof got6, want6,
                              sizeof want6);
    int family = listener_family(l);
    close(l);
    printf("# IPv4 peer \"%s\" (expected \"%s\"), IPv6 peer \"%s\" (expected \"%s\")\n", got4,
           want4, got6, want6);
    EZR_CHECK_EQ(family, AF_INET6);
    EZR_CHECK_EQ(v6only, 0);
    EZR_CHECK_EQ(rc4, 0);
    EZR_CHECK_EQ(rc6, 0);
}

EZR_TEST(test_localhost_listens_on_ipv4_loopback)
{
    uint16_t port = 0;
    int l = ezr_net_listen("localhost", 0, 16, &port);
    EZR_CHECK(l >= 0);
    EZR_CHECK(port != 0);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(l, (struct sockaddr *)&ss, &sl);
    char got[EZR_ADDR_STRLEN] = "", want[EZR_ADDR_STRLEN] = "";
    int rc = peer_written_as(l, port, AF_INET, "127.0.0.1", "127.0.0.1:%u", got, sizeof got, want,
                             sizeof want);
    close(l);
    EZR_CHECK_EQ(ss.ss_family, AF_INET);
    EZR_CHECK_EQ(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), INADDR_LOOPBACK);
    EZR_CHECK_EQ(rc, 0);
}

EZR_TEST(test_host_and_port_written_as_url_authority)
{
    char out[EZR_ADDR_STRLEN];
    EZR_CHECK(strcmp(ezr_net_format_host_port("::", 1935, out, sizeof out), "[::]:1935") == 0);
    EZR_CHECK(strcmp(ezr_net_format_host_port("fd00::1:4307", 80, out, sizeof out),
                     "[fd00::1:4307]:80") == 0);
    EZR_CHECK(strcmp(ezr_net_format_host_port("127.0.0.1", 1935, out, sizeof out),
                     "127.0.0.1:1935") == 0);
    EZR_CHECK(strcmp(ezr_net_format_host_port("localhost", 0, out, sizeof out), "localhost:0") ==
              0);
    /* The longest peer fits. */
    EZR_CHECK(strcmp(ezr_net_format_host_port("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
                                              65535, out, sizeof out),
                     "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535") == 0);
}

static int sockopt_int(int fd, int level, int name)
{
    int v = -1;
    socklen_t sl = sizeof v;
    return getsockopt(fd, level, name, &v, &sl) < 0 ? -1 : v;
}

/* Every accepted connection (the server's only way in) has TCP keepalive with our timings: an
 * HTTP-FLV player of an idle stream that vanished is found by the kernel, as nothing else can
 * ask it. The client side keeps the system default (off), so the option is the accept's doing. */
EZR_TEST(test_accepted_socket_has_tcp_keepalive_with_our_timings)
{
    uint16_t port = 0;
    int l = ezr_net_listen("127.0.0.1", 0, 16, &port);
    EZR_CHECK(l >= 0);
    unsigned cport = 0;
    int c = connect_to(AF_INET, "127.0.0.1", port, &cport);
    char addr[EZR_ADDR_STRLEN];
    int a = c >= 0 ? accept_one(l, addr, sizeof addr) : -1;
    int client_keepalive = c >= 0 ? sockopt_int(c, SOL_SOCKET, SO_KEEPALIVE) : -1;
    int keepalive = sockopt_int(a, SOL_SOCKET, SO_KEEPALIVE);
    int idle = sockopt_int(a, IPPROTO_TCP, TCP_KEEPIDLE);
    int intvl = sockopt_int(a, IPPROTO_TCP, TCP_KEEPINTVL);
    int cnt = sockopt_int(a, IPPROTO_TCP, TCP_KEEPCNT);
    int nodelay = sockopt_int(a, IPPROTO_TCP, TCP_NODELAY);
    if (a >= 0)
        close(a);
    if (c >= 0)
        close(c);
    close(l);
    EZR_CHECK(a >= 0);
    EZR_CHECK_EQ(client_keepalive, 0);
    EZR_CHECK_EQ(keepalive, 1);
    EZR_CHECK_EQ(idle, EZR_TCP_KEEPIDLE_S);
    EZR_CHECK_EQ(intvl, EZR_TCP_KEEPINTVL_S);
    EZR_CHECK_EQ(cnt, EZR_TCP_KEEPCNT);
    EZR_CHECK_EQ(nodelay, 1);
}

EZR_TEST(test_set_keepalive_sets_the_given_timings_and_reports_a_bad_fd)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EZR_CHECK(fd >= 0);
    int rc = ezr_net_set_keepalive(fd, 7, 3, 2);
    int keepalive = sockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE);
    int idle = sockopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE);
    int intvl = sockopt_int(fd, IPPROTO_TCP, TCP_KEEPINTVL);
    int cnt = sockopt_int(fd, IPPROTO_TCP, TCP_KEEPCNT);
    close(fd);
    EZR_CHECK_EQ(rc, 0);
    EZR_CHECK_EQ(keepalive, 1);
    EZR_CHECK_EQ(idle, 7);
    EZR_CHECK_EQ(intvl, 3);
    EZR_CHECK_EQ(cnt, 2);
    EZR_CHECK_EQ(ezr_net_set_keepalive(-1, 7, 3, 2), EZR_ESYS);
}

EZR_TEST_MAIN(EZR_CASE(test_ipv6_loopback_listener_writes_peer_in_brackets),
              EZR_CASE(test_dual_stack_listener_writes_ipv4_peer_plainly),
              EZR_CASE(test_localhost_listens_on_ipv4_loopback),
              EZR_CASE(test_host_and_port_written_as_url_authority),
              EZR_CASE(test_accepted_socket_has_tcp_keepalive_with_our_timings),
              EZR_CASE(test_set_keepalive_sets_the_given_timings_and_reports_a_bad_fd))
