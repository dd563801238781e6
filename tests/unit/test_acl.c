/* Access control: CIDR lists, the play token in the query, constant-time comparison. */
#include "ezr_test.h"

#include <sys/socket.h>

#include "ezr_acl.h"
#include "ezr_error.h"

EZR_TEST(test_cidr_list_parses_and_matches)
{
    struct ezr_cidr r[8];
    EZR_CHECK_EQ(ezr_acl_parse("127.0.0.1/32, 10.0.0.0/8 ::1", r, 8), 3);
    EZR_CHECK(ezr_acl_allows(r, 3, "127.0.0.1:5000"));
    EZR_CHECK(ezr_acl_allows(r, 3, "10.200.3.4:1"));
    EZR_CHECK(!ezr_acl_allows(r, 3, "11.0.0.1:1"));
    EZR_CHECK(!ezr_acl_allows(r, 3, "127.0.0.2:1"));
    EZR_CHECK(ezr_acl_allows(r, 3, "::1"));
    EZR_CHECK(ezr_acl_allows(r, 3, "[::1]:1935"));
    EZR_CHECK(ezr_acl_allows(r, 3, "::ffff:10.1.1.1")); /* IPv4 client on an IPv6 socket */
}

EZR_TEST(test_ipv6_loopback_peer_matches_its_address)
{
    struct ezr_cidr r[2];
    EZR_CHECK_EQ(ezr_acl_parse("::1", r, 2), 1);
    EZR_CHECK_EQ(r[0].family, AF_INET6);
    EZR_CHECK_EQ(r[0].prefix, 128);
    EZR_CHECK(ezr_acl_allows(r, 1, "[::1]:43070")); /* as ezr_net_accept writes a peer */
    EZR_CHECK(ezr_acl_allows(r, 1, "[::1]"));
    EZR_CHECK(ezr_acl_allows(r, 1, "::1"));
    EZR_CHECK(!ezr_acl_allows(r, 1, "[::2]:43070"));
    EZR_CHECK(!ezr_acl_allows(r, 1, "127.0.0.1:43070"));
    /* The form that used to be written: "::1:43070" is not ::1 with a port. */
    EZR_CHECK(!ezr_acl_allows(r, 1, "::1:43070"));
}

EZR_TEST(test_v4_mapped_peer_matches_ipv4_range)
{
    struct ezr_cidr r[2];
    EZR_CHECK_EQ(ezr_acl_parse("127.0.0.0/8", r, 2), 1);
    EZR_CHECK(ezr_acl_allows(r, 1, "::ffff:127.0.0.1"));
    EZR_CHECK(ezr_acl_allows(r, 1, "[::ffff:127.0.0.1]:43070"));
    EZR_CHECK(ezr_acl_allows(r, 1, "127.0.0.1:43070"));
    EZR_CHECK(!ezr_acl_allows(r, 1, "[::ffff:128.0.0.1]:43070"));
    /* ::7f00:1 (IPv4-compatible, not mapped) is an IPv6 address like any other. */
    EZR_CHECK(!ezr_acl_allows(r, 1, "[::127.0.0.1]:43070"));
    /* A v4-mapped range in the list is the IPv4 range it names. */
    EZR_CHECK_EQ(ezr_acl_parse("::ffff:10.0.0.0/104", r, 2), 1);
    EZR_CHECK_EQ(r[0].family, AF_INET);
    EZR_CHECK_EQ(r[0].prefix, 8);
    EZR_CHECK(ezr_acl_allows(r, 1, "10.9.8.7:1"));
    EZR_CHECK(!ezr_acl_allows(r, 1, "11.0.0.1:1"));
}

EZR_TEST(test_ipv6_cidr_in_and_out)
{
    struct ezr_cidr r[4];
    EZR_CHECK_EQ(ezr_acl_parse("fd00::/8, 2001:db8:1::/48", r, 4), 2);
    EZR_CHECK(ezr_acl_allows(r, 2, "[fd12:3456::1]:1935"));
    EZR_CHECK(ezr_acl_allows(r, 2, "[fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:1"));
    EZR_CHECK(!ezr_acl_allows(r, 2, "[fe00::1]:1935"));
    EZR_CHECK(!ezr_acl_allows(r, 2, "[fc00::1]:1935"));
    EZR_CHECK(!ezr_acl_allows(r, 2, "[::1]:1935"));
    EZR_CHECK(!ezr_acl_allows(r, 2, "127.0.0.1:1935"));
    EZR_CHECK(ezr_acl_allows(r, 2, "[2001:db8:1:ffff::9]:80"));
    EZR_CHECK(!ezr_acl_allows(r, 2, "[2001:db8:2::9]:80"));
    EZR_CHECK_EQ(ezr_acl_parse("::1/128", r, 4), 1);
    EZR_CHECK(ezr_acl_allows(r, 1, "[::1]:5"));
    EZR_CHECK(!ezr_acl_allows(r, 1, "[::]:5"));
    /* An IPv6 range never admits an IPv4 peer, nor an IPv4 range an IPv6 one. */
    EZR_CHECK_EQ(ezr_acl_parse("::/0", r, 4), 1);
    EZR_CHECK(!ezr_acl_allows(r, 1, "127.0.0.1:5"));
    EZR_CHECK_EQ(ezr_acl_parse("0.0.0.0/0", r, 4), 1);
    EZR_CHECK(!ezr_acl_allows(r, 1, "[::1]:5"));
}

EZR_TEST(test_bare_ipv6_address_without_port)
{
    struct ezr_cidr r[2];
    /* Every colon is part of the address: the last group is not a port. */
    EZR_CHECK_EQ(ezr_acl_parse("2001:db8::1:4307", r, 2), 1);
    EZR_CHECK(ezr_acl_allows(r, 1, "2001:db8::1:4307"));
    EZR_CHECK(ezr_acl_allows(r, 1, "[2001:db8::1:4307]:4307"));
    EZR_CHECK(!ezr_acl_allows(r, 1, "[2001:db8::1]:4307"));
    EZR_CHECK(!ezr_acl_allows(r, 1, "2001:db8::1"));
}

EZR_TEST(test_malformed_peer_addresses_are_refused)
{
    struct ezr_cidr r[2];
    EZR_CHECK_EQ(ezr_acl_parse("0.0.0.0/0, ::/0", r, 2), 2);
    EZR_CHECK(!ezr_acl_allows(r, 2, "[::1"));
    EZR_CHECK(!ezr_acl_allows(r, 2, "[::1]x"));
    EZR_CHECK(!ezr_acl_allows(r, 2, "[::1]:"));
    EZR_CHECK(!ezr_acl_allows(r, 2, "[::1]:123456"));
    EZR_CHECK(!ezr_acl_allows(r, 2, "127.0.0.1:"));
    EZR_CHECK(!ezr_acl_allows(r, 2, "127.0.0.1:80x"));
    EZR_CHECK(!ezr_acl_allows(r, 2, "[]:80"));
    EZR_CHECK(!ezr_acl_allows(r, 2, ""));
    EZR_CHECK(!ezr_acl_allows(r, 2, "?"));
}

EZR_TEST(test_list_takes_bracketed_ipv6_but_no_ports)
{
    struct ezr_cidr r[4];
    EZR_CHECK_EQ(ezr_acl_parse("[::1], [fd00::]/8", r, 4), 2);
    EZR_CHECK(ezr_acl_allows(r, 2, "[::1]:1"));
    EZR_CHECK(ezr_acl_allows(r, 2, "[fd00::5]:1"));
    EZR_CHECK_EQ(ezr_acl_parse("[::1]:1935", r, 4), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_acl_parse("127.0.0.1:1935", r, 4), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_acl_parse("[127.0.0.1", r, 4), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_acl_parse("::1/129", r, 4), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_acl_parse("fd00::/", r, 4), EZR_EINVAL);
}

EZR_TEST(test_odd_prefix_lengths)
{
    struct ezr_cidr r[2];
    EZR_CHECK_EQ(ezr_acl_parse("192.168.1.128/25", r, 2), 1);
    EZR_CHECK(ezr_acl_allows(r, 1, "192.168.1.200:9"));
    EZR_CHECK(!ezr_acl_allows(r, 1, "192.168.1.100:9"));
    EZR_CHECK_EQ(ezr_acl_parse("0.0.0.0/0", r, 2), 1);
    EZR_CHECK(ezr_acl_allows(r, 1, "8.8.8.8:53"));
}

EZR_TEST(test_bad_lists_are_refused)
{
    struct ezr_cidr r[2];
    EZR_CHECK_EQ(ezr_acl_parse("10.0.0.0/33", r, 2), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_acl_parse("localhost", r, 2), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_acl_parse("1.2.3.4/x", r, 2), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_acl_parse("1.1.1.1 2.2.2.2 3.3.3.3", r, 2), EZR_EINVAL);
    EZR_CHECK_EQ(ezr_acl_parse("", r, 2), 0);
    EZR_CHECK_EQ(ezr_acl_parse(NULL, r, 2), 0);
}

EZR_TEST(test_token_from_query)
{
    char v[16];
    EZR_CHECK(ezr_acl_query_value("stream?token=abc&x=1", "token", v, sizeof v));
    EZR_CHECK(strcmp(v, "abc") == 0);
    EZR_CHECK(ezr_acl_query_value("stream?x=1&token=z", "token", v, sizeof v));
    EZR_CHECK(strcmp(v, "z") == 0);
    EZR_CHECK(!ezr_acl_query_value("stream?tokens=1", "token", v, sizeof v));
    EZR_CHECK(!ezr_acl_query_value("stream", "token", v, sizeof v));
}

EZR_TEST(test_token_comparison)
{
    EZR_CHECK(ezr_acl_token_equal("s3cret", "s3cret"));
    EZR_CHECK(!ezr_acl_token_equal("s3cre", "s3cret"));
    EZR_CHECK(!ezr_acl_token_equal("s3crett", "s3cret"));
    EZR_CHECK(!ezr_acl_token_equal("S3cret", "s3cret"));
    EZR_CHECK(!ezr_acl_token_equal("", "s3cret"));
}

EZR_TEST_MAIN(EZR_CASE(test_cidr_list_parses_and_matches),
              EZR_CASE(test_ipv6_loopback_peer_matches_its_address),
              EZR_CASE(test_v4_mapped_peer_matches_ipv4_range), EZR_CASE(test_ipv6_cidr_in_and_out),
              EZR_CASE(test_bare_ipv6_address_without_port),
              EZR_CASE(test_malformed_peer_addresses_are_refused),
              EZR_CASE(test_list_takes_bracketed_ipv6_but_no_ports), EZR_CASE(test_odd_prefix_lengths),
              EZR_CASE(test_bad_lists_are_refused), EZR_CASE(test_token_from_query),
              EZR_CASE(test_token_comparison))
