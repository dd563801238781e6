/* Access control: CIDR lists, the play token in the query, constant-time comparison. */
#include "ezr_test.h"

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

EZR_TEST_MAIN(EZR_CASE(test_cidr_list_parses_and_matches), EZR_CASE(test_odd_prefix_lengths),
              EZR_CASE(test_bad_lists_are_refused), EZR_CASE(test_token_from_query),
              EZR_CASE(test_token_comparison))
