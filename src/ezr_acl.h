/* Who may play: a list of CIDR ranges ("127.0.0.1/32, 10.0.0.0/8, ::1/128"), and a play token
 * compared in constant time. */
#ifndef EZR_ACL_H
#define EZR_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ezr_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix;
};

/* Parses a comma- or space-separated CIDR list (a bare address is a /32 or /128; an IPv6
 * address may be bracketed, "[::1]"; a v4-mapped range, ::ffff:a.b.c.d/96 and longer, is stored
 * as the IPv4 range it names). Returns the number of ranges written to out (at most cap), or
 * EZR_EINVAL naming nothing: the caller shows the whole string. An empty list is 0 ranges. */
int ezr_acl_parse(const char *list, struct ezr_cidr *out, size_t cap);
/* Is the address inside one of the ranges? It is written "a.b.c.d", "a.b.c.d:port", "[v6]",
 * "[v6]:port" or a bare "v6" (two colons or more: all address, no port); anything else is
 * refused. An IPv4 client on an IPv6 socket (::ffff:a.b.c.d) matches IPv4 ranges. */
bool ezr_acl_allows(const struct ezr_cidr *ranges, size_t n, const char *addr);
/* The value of `key` in the query after '?' in name ("stream?token=abc&x=1"), copied into out
 * (NUL-terminated, truncated to cap). false if absent. */
bool ezr_acl_query_value(const char *name, const char *key, char *out, size_t cap);
/* Compares two strings in time that depends only on their lengths, not where they differ. */
bool ezr_acl_token_equal(const char *a, const char *b);

#endif
