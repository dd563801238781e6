/* The sans-I/O session's publishing side (ezr_session_publish.c): the replies a publisher gets to
 * releaseStream, FCPublish, publish and its end, the refusals, and the media handed up as FLV tag
 * bodies ("@setDataFrame" taken off, aggregates split, large messages taken once publishing),
 * driven by the client of session_harness.c, whose "obs" has a publish point. */
#include "ezr_test.h"

#include <stdlib.h>

#include "ezr_amf0.h"
#include "ezr_bytes.h"
#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_proto.h"
#include "ezr_session.h"
#include "session_harness.h"

/* One media message as a publisher sends it: csid 4 or 6, message stream 1. */
static int send_media(struct harness *h, uint8_t type, uint32_t ts, const uint8_t *body, size_t len)
{
    struct ezr_buf out;
    ezr_buf_init(&out);
    ezr_chunk_writer_write(&h->w, &out, type == EZR_MSG_AUDIO ? 4 : 6, ts, type, 1, body, len);
    int rc = ezr_session_feed(&h->s, out.data, out.len);
    ezr_buf_free(&out);
    harness_drain(h);
    return rc;
}

/* connect, createStream and publish "obs"; h->msgs then starts empty. */
static void publish_ok(struct harness *h)
{
    create_stream_ok(h);
    send_cmd(h, 1, "publish", 5, NULL, "obs");
    h->nmsgs = 0;
}

EZR_TEST(test_release_and_fcpublish_of_a_publish_point_are_answered)
{
    struct harness h;
    harness_setup(&h);
    char a[64], b[64];
    connect_ok(&h);
    h.nmsgs = 0;
    EZR_CHECK(send_cmd(&h, 0, "releaseStream", 2, NULL, "obs") >= 0);
    EZR_CHECK(send_cmd(&h, 0, "FCPublish", 3, NULL, "obs?token=x") >= 0);
    EZR_CHECK_EQ(h.nmsgs, 2);
    EZR_CHECK(strcmp(cmd_name(&h, 0, a, sizeof a), "_result") == 0);
    EZR_CHECK(strcmp(cmd_name(&h, 1, a, sizeof a), "onFCPublish") == 0);
    EZR_CHECK(strcmp(status_code(&h, 1, b, sizeof b), "NetStream.Publish.Start") == 0);
    harness_teardown(&h);
}

EZR_TEST(test_publish_sends_stream_begin_then_publish_start)
{
    struct harness h;
    harness_setup(&h);
    create_stream_ok(&h);
    EZR_CHECK(send_cmd(&h, 1, "publish", 5, NULL, "obs?token=secret") >= 0);
    EZR_CHECK_EQ(h.publishes, 1);
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_PUBLISHING);
    EZR_CHECK_EQ(h.nmsgs, 2);
    EZR_CHECK_EQ(h.msgs[0].type, EZR_MSG_USER_CONTROL);
    EZR_CHECK_EQ(ezr_rd_be16(h.msgs[0].payload), EZR_UC_STREAM_BEGIN);
    EZR_CHECK_EQ(ezr_rd_be32(h.msgs[0].payload + 2), 1);
    char b[64];
    EZR_CHECK(strcmp(status_code(&h, 1, b, sizeof b), "NetStream.Publish.Start") == 0);
    /* The token is not echoed: the name kept is the key alone. */
    EZR_CHECK(strcmp(h.s.name, "obs") == 0);
    harness_teardown(&h);
}

EZR_TEST(test_second_publisher_of_a_live_key_gets_bad_name_and_is_closed)
{
    struct harness h;
    harness_setup(&h);
    char b[64];
    create_stream_ok(&h);
    h.publish_rc = EZR_EEXIST;
    EZR_CHECK_EQ(send_cmd(&h, 1, "publish", 5, NULL, "obs"), EZR_ECLOSED);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(strcmp(status_code(&h, 0, b, sizeof b), "NetStream.Publish.BadName") == 0);
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_CLOSING);
    harness_teardown(&h);
}

EZR_TEST(test_publish_without_a_publish_point_is_refused_as_before)
{
    struct harness h;
    harness_setup(&h);
    char a[64], b[64];
    connect_ok(&h);
    h.nmsgs = 0;
    EZR_CHECK(send_cmd(&h, 0, "FCPublish", 2, NULL, "other") >= 0);
    EZR_CHECK(strcmp(cmd_name(&h, 0, a, sizeof a), "_error") == 0);
    send_cmd(&h, 0, "createStream", 3, NULL, NULL);
    h.nmsgs = 0;
    EZR_CHECK_EQ(send_cmd(&h, 1, "publish", 4, NULL, "other"), EZR_ECLOSED);
    EZR_CHECK(strcmp(status_code(&h, 0, b, sizeof b), "NetStream.Publish.BadName") == 0);
    harness_teardown(&h);
}

EZR_TEST(test_publish_before_create_stream_is_an_error)
{
    struct harness h;
    harness_setup(&h);
    connect_ok(&h);
    EZR_CHECK_EQ(send_cmd(&h, 1, "publish", 2, NULL, "obs"), EZR_EPROTO);
    EZR_CHECK_EQ(h.publishes, 0);
    harness_teardown(&h);
}

EZR_TEST(test_media_before_publish_closes)
{
    struct harness h;
    harness_setup(&h);
    create_stream_ok(&h);
    uint8_t v[] = {0x17, 0x01, 0, 0, 0, 1, 2, 3};
    EZR_CHECK_EQ(send_media(&h, EZR_MSG_VIDEO, 0, v, sizeof v), EZR_EPROTO);
    EZR_CHECK_EQ(h.nmedia, 0);
    harness_teardown(&h);
}

EZR_TEST(test_metadata_loses_set_data_frame_and_media_keeps_its_time)
{
    struct harness h;
    harness_setup(&h);
    publish_ok(&h);
    struct ezr_buf d;
    ezr_buf_init(&d);
    ezr_amf0_put_cstring(&d, "@setDataFrame");
    ezr_amf0_put_cstring(&d, "onMetaData");
    ezr_amf0_put_object_begin(&d);
    ezr_amf0_put_key(&d, "width");
    ezr_amf0_put_number(&d, 1280);
    ezr_amf0_put_object_end(&d);
    EZR_CHECK(send_media(&h, EZR_MSG_DATA_AMF0, 0, d.data, d.len) >= 0);
    uint8_t v[] = {0x17, 0x01, 0, 0, 0, 1, 2, 3};
    EZR_CHECK(send_media(&h, EZR_MSG_VIDEO, 40, v, sizeof v) >= 0);
    uint8_t a[] = {0xaf, 0x01, 9, 9};
    EZR_CHECK(send_media(&h, EZR_MSG_AUDIO, 0x1234567, a, sizeof a) >= 0);
    EZR_CHECK_EQ(h.nmedia, 3);
    EZR_CHECK_EQ(h.media[0].type, 18);
    EZR_CHECK_EQ(h.media[0].len, d.len - 16);
    EZR_CHECK(memcmp(h.media[0].head, "\x02\x00\x0aonMetaData", 13) == 0);
    EZR_CHECK_EQ(h.media[1].type, 9);
    EZR_CHECK_EQ(h.media[1].ts, 40);
    EZR_CHECK_EQ(h.media[1].len, sizeof v);
    EZR_CHECK(memcmp(h.media[1].head, v, sizeof v) == 0);
    EZR_CHECK_EQ(h.media[2].type, 8);
    EZR_CHECK_EQ(h.media[2].ts, 0x1234567);
    ezr_buf_free(&d);
    harness_teardown(&h);
}

EZR_TEST(test_a_message_over_a_player_limit_is_taken_once_publishing)
{
    struct harness h;
    harness_setup(&h);
    publish_ok(&h);
    size_t n = 2u * 1024u * 1024u;
    uint8_t *big = calloc(1, n);
    EZR_CHECK(big != NULL);
    big[0] = 0x17;
    big[n - 1] = 0x5a;
    EZR_CHECK(send_media(&h, EZR_MSG_VIDEO, 0, big, n) >= 0);
    EZR_CHECK_EQ(h.nmedia, 1);
    EZR_CHECK_EQ(h.media[0].len, n);
    free(big);
    harness_teardown(&h);
}

EZR_TEST(test_aggregate_is_split_into_its_tags_at_their_times)
{
    struct harness h;
    harness_setup(&h);
    publish_ok(&h);
    /* Two tags stamped 1000 and 1040 in an aggregate stamped 5000: handed up at 5000, 5040. */
    uint8_t agg[2 * (11 + 2 + 4)] = {0};
    for (int i = 0; i < 2; i++) {
        uint8_t *t = agg + i * 17;
        t[0] = i ? 9 : 8;
        ezr_wr_be24(t + 1, 2);
        ezr_wr_be24(t + 4, 1000u + 40u * (unsigned)i);
        t[11] = 0xaf;
        t[12] = (uint8_t)i;
        ezr_wr_be32(t + 13, 13);
    }
    EZR_CHECK(send_media(&h, EZR_MSG_AGGREGATE, 5000, agg, sizeof agg) >= 0);
    EZR_CHECK_EQ(h.nmedia, 2);
    EZR_CHECK_EQ(h.media[0].type, 8);
    EZR_CHECK_EQ(h.media[0].ts, 5000);
    EZR_CHECK_EQ(h.media[1].type, 9);
    EZR_CHECK_EQ(h.media[1].ts, 5040);
    EZR_CHECK_EQ(h.media[1].len, 2);
    /* A tag that claims more than the aggregate holds is malformed. */
    ezr_wr_be24(agg + 1, 200);
    EZR_CHECK_EQ(send_media(&h, EZR_MSG_AGGREGATE, 6000, agg, sizeof agg), EZR_EPROTO);
    harness_teardown(&h);
}

EZR_TEST(test_fcunpublish_and_delete_stream_end_the_publication_once)
{
    struct harness h;
    harness_setup(&h);
    publish_ok(&h);
    EZR_CHECK(send_cmd(&h, 0, "FCUnpublish", 6, NULL, "obs") >= 0);
    EZR_CHECK(send_number_cmd(&h, 0, "deleteStream", 7, 1) >= 0);
    EZR_CHECK_EQ(h.unpublishes, 1);
    EZR_CHECK_EQ(h.nmsgs, 1);
    char b[64];
    EZR_CHECK(strcmp(status_code(&h, 0, b, sizeof b), "NetStream.Unpublish.Success") == 0);
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_CONNECTED);
    /* Media after the end is not the publisher's any more. */
    uint8_t v[] = {0x27, 0x01, 0, 0, 0};
    EZR_CHECK_EQ(send_media(&h, EZR_MSG_VIDEO, 80, v, sizeof v), EZR_EPROTO);
    harness_teardown(&h);
}

EZR_TEST(test_play_while_publishing_is_an_error)
{
    struct harness h;
    harness_setup(&h);
    publish_ok(&h);
    EZR_CHECK_EQ(send_cmd(&h, 1, "play", 0, NULL, "stream"), EZR_EPROTO);
    EZR_CHECK_EQ(h.plays, 0);
    harness_teardown(&h);
}

EZR_TEST_MAIN(EZR_CASE(test_release_and_fcpublish_of_a_publish_point_are_answered),
              EZR_CASE(test_publish_sends_stream_begin_then_publish_start),
              EZR_CASE(test_second_publisher_of_a_live_key_gets_bad_name_and_is_closed),
              EZR_CASE(test_publish_without_a_publish_point_is_refused_as_before),
              EZR_CASE(test_publish_before_create_stream_is_an_error),
              EZR_CASE(test_media_before_publish_closes),
              EZR_CASE(test_metadata_loses_set_data_frame_and_media_keeps_its_time),
              EZR_CASE(test_a_message_over_a_player_limit_is_taken_once_publishing),
              EZR_CASE(test_aggregate_is_split_into_its_tags_at_their_times),
              EZR_CASE(test_fcunpublish_and_delete_stream_end_the_publication_once),
              EZR_CASE(test_play_while_publishing_is_an_error))
