/* The sans-I/O RTMP session: the replies a player gets for each command, in order (handshake,
 * connect, createStream, play and the refusals), protocol control (acknowledgements, pings both
 * ways) and the end of play, driven by the client of session_harness.c. The controls of a
 * playing stream (pause, seek, closeStream, receiveVideo) are in test_session_controls.c. */
#include "ezr_test.h"

#include "ezr_amf0.h"
#include "ezr_bytes.h"
#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_proto.h"
#include "ezr_session.h"
#include "session_harness.h"

EZR_TEST(test_connect_answers_window_bandwidth_chunk_size_and_success)
{
    struct harness h;
    harness_setup(&h);
    char a[64], b[64];
    EZR_CHECK(connect_ok(&h) >= 0);
    EZR_CHECK_EQ(h.connects, 1);
    EZR_CHECK_EQ(h.nmsgs, 4);
    EZR_CHECK_EQ(h.msgs[0].type, EZR_MSG_WINDOW_ACK_SIZE);
    EZR_CHECK_EQ(ezr_rd_be32(h.msgs[0].payload), EZR_WINDOW_ACK_SIZE);
    EZR_CHECK_EQ(h.msgs[1].type, EZR_MSG_SET_PEER_BW);
    EZR_CHECK_EQ(h.msgs[2].type, EZR_MSG_SET_CHUNK_SIZE);
    EZR_CHECK_EQ(ezr_rd_be32(h.msgs[2].payload), 4096);
    EZR_CHECK(strcmp(cmd_name(&h, 3, a, sizeof a), "_result") == 0);
    EZR_CHECK(strcmp(status_code(&h, 3, b, sizeof b), "NetConnection.Connect.Success") == 0);
    harness_teardown(&h);
}

EZR_TEST(test_wrong_app_is_rejected_and_closed)
{
    struct harness h;
    harness_setup(&h);
    char a[64], b[64];
    EZR_CHECK_EQ(send_cmd(&h, 0, "connect", 1, "nosuchapp", NULL), EZR_ECLOSED);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(strcmp(cmd_name(&h, 0, a, sizeof a), "_error") == 0);
    EZR_CHECK(strcmp(status_code(&h, 0, b, sizeof b), "NetConnection.Connect.Rejected") == 0);
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_CLOSING);
    harness_teardown(&h);
}

EZR_TEST(test_create_stream_returns_stream_one)
{
    struct harness h;
    harness_setup(&h);
    connect_ok(&h);
    h.nmsgs = 0;
    EZR_CHECK(send_cmd(&h, 0, "createStream", 2, NULL, NULL) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    struct ezr_amf0_value v[4];
    const uint8_t *p = h.msgs[0].payload;
    size_t len = h.msgs[0].len;
    for (int i = 0; i < 4; i++) {
        int used = ezr_amf0_decode(p, len, &v[i]);
        EZR_CHECK(used > 0);
        p += used;
        len -= (size_t)used;
    }
    EZR_CHECK(strcmp(ezr_amf0_as_string(&v[0]), "_result") == 0);
    EZR_CHECK(v[1].type == EZR_AMF0_NUMBER && v[1].u.number == 2);
    EZR_CHECK(v[3].type == EZR_AMF0_NUMBER && v[3].u.number == EZR_MEDIA_MSID);
    for (int i = 0; i < 4; i++)
        ezr_amf0_value_clear(&v[i]);
    harness_teardown(&h);
}

EZR_TEST(test_play_sends_begin_reset_start_sample_access_before_media)
{
    struct harness h;
    harness_setup(&h);
    char a[64], b[64];
    create_stream_ok(&h);
    EZR_CHECK(send_cmd(&h, 1, "play", 0, NULL, "stream") >= 0);
    EZR_CHECK_EQ(h.plays, 1);
    EZR_CHECK_EQ(h.started, 1);
    /* Everything was sent before play_started let the server queue media. */
    EZR_CHECK_EQ(h.sent_when_started, h.sent.len);
    EZR_CHECK_EQ(h.nmsgs, 4);
    EZR_CHECK_EQ(h.msgs[0].type, EZR_MSG_USER_CONTROL);
    EZR_CHECK_EQ(ezr_rd_be16(h.msgs[0].payload), EZR_UC_STREAM_BEGIN);
    EZR_CHECK_EQ(ezr_rd_be32(h.msgs[0].payload + 2), 1);
    EZR_CHECK(strcmp(status_code(&h, 1, b, sizeof b), "NetStream.Play.Reset") == 0);
    EZR_CHECK(strcmp(status_code(&h, 2, b, sizeof b), "NetStream.Play.Start") == 0);
    EZR_CHECK_EQ(h.msgs[2].msid, 1);
    EZR_CHECK(strcmp(cmd_name(&h, 3, a, sizeof a), "|RtmpSampleAccess") == 0);
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_PLAYING);
    harness_teardown(&h);
}

EZR_TEST(test_unknown_stream_gets_stream_not_found_and_closes)
{
    struct harness h;
    harness_setup(&h);
    char b[64];
    create_stream_ok(&h);
    EZR_CHECK_EQ(send_cmd(&h, 1, "play", 0, NULL, "other"), EZR_ECLOSED);
    EZR_CHECK_EQ(h.started, 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(strcmp(status_code(&h, 0, b, sizeof b), "NetStream.Play.StreamNotFound") == 0);
    harness_teardown(&h);
}

EZR_TEST(test_publish_is_refused)
{
    struct harness h;
    harness_setup(&h);
    char a[64], b[64];
    connect_ok(&h);
    h.nmsgs = 0;
    EZR_CHECK(send_cmd(&h, 0, "releaseStream", 2, NULL, "stream") >= 0);
    EZR_CHECK(strcmp(cmd_name(&h, 0, a, sizeof a), "_error") == 0);
    send_cmd(&h, 0, "createStream", 3, NULL, NULL);
    h.nmsgs = 0;
    EZR_CHECK_EQ(send_cmd(&h, 1, "publish", 4, NULL, "stream"), EZR_ECLOSED);
    EZR_CHECK(strcmp(status_code(&h, 0, b, sizeof b), "NetStream.Publish.BadName") == 0);
    harness_teardown(&h);
}

EZR_TEST(test_command_before_connect_is_an_error)
{
    struct harness h;
    harness_setup(&h);
    EZR_CHECK_EQ(send_cmd(&h, 0, "createStream", 2, NULL, NULL), EZR_EPROTO);
    EZR_CHECK(h.s.close_reason != NULL);
    harness_teardown(&h);
}

EZR_TEST(test_play_before_create_stream_is_an_error)
{
    struct harness h;
    harness_setup(&h);
    connect_ok(&h);
    EZR_CHECK_EQ(send_cmd(&h, 0, "play", 0, NULL, "stream"), EZR_EPROTO);
    EZR_CHECK_EQ(h.plays, 0);
    harness_teardown(&h);
}

EZR_TEST(test_ping_request_gets_ping_response)
{
    struct harness h;
    harness_setup(&h);
    connect_ok(&h);
    h.nmsgs = 0;
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_buf_put_be16(&b, EZR_UC_PING_REQUEST);
    ezr_buf_put_be32(&b, 0xCAFE);
    EZR_CHECK(send_raw(&h, EZR_MSG_USER_CONTROL, 2, 0, &b) >= 0);
    ezr_buf_free(&b);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK_EQ(ezr_rd_be16(h.msgs[0].payload), EZR_UC_PING_RESPONSE);
    EZR_CHECK_EQ(ezr_rd_be32(h.msgs[0].payload + 2), 0xCAFE);
    harness_teardown(&h);
}

EZR_TEST(test_acknowledges_when_client_window_is_reached)
{
    struct harness h;
    harness_setup(&h);
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_buf_put_be32(&b, 50);
    send_raw(&h, EZR_MSG_WINDOW_ACK_SIZE, 2, 0, &b);
    ezr_buf_free(&b);
    EZR_CHECK(h.s.reader.bytes_in < 50);
    connect_ok(&h); /* over 50 bytes in all, under 100 */
    EZR_CHECK(h.s.reader.bytes_in >= 50 && h.s.reader.bytes_in < 100);
    int acks = 0;
    for (int i = 0; i < h.nmsgs; i++)
        if (h.msgs[i].type == EZR_MSG_ACK) {
            acks++;
            EZR_CHECK_EQ(ezr_rd_be32(h.msgs[i].payload), h.s.reader.bytes_in);
        }
    EZR_CHECK_EQ(acks, 1);
    harness_teardown(&h);
}

EZR_TEST(test_media_from_player_closes)
{
    struct harness h;
    harness_setup(&h);
    connect_ok(&h);
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_buf_put_u8(&b, 0x17);
    EZR_CHECK_EQ(send_raw(&h, EZR_MSG_VIDEO, 6, 1, &b), EZR_EPROTO);
    ezr_buf_free(&b);
    harness_teardown(&h);
}

EZR_TEST(test_play_end_sends_stream_eof_and_unpublish_notify)
{
    struct harness h;
    harness_setup(&h);
    char b[64];
    connect_ok(&h);
    send_cmd(&h, 0, "createStream", 2, NULL, NULL);
    send_cmd(&h, 1, "play", 0, NULL, "stream");
    h.nmsgs = 0;
    ezr_session_send_play_end(&h.s);
    harness_drain(&h);
    EZR_CHECK_EQ(h.nmsgs, 2);
    EZR_CHECK_EQ(ezr_rd_be16(h.msgs[0].payload), EZR_UC_STREAM_EOF);
    EZR_CHECK(strcmp(status_code(&h, 1, b, sizeof b), "NetStream.Play.UnpublishNotify") == 0);
    harness_teardown(&h);
}

EZR_TEST(test_bad_handshake_version_is_refused)
{
    struct ezr_session s;
    uint8_t random[EZR_HANDSHAKE_SIZE] = {0};
    struct harness h;
    memset(&h, 0, sizeof h);
    ezr_buf_init(&h.sent);
    ezr_session_init(&s, &harness_callbacks, &h, 4096, random, 0);
    const char *get = "GET / HTTP/1.1\r\n";
    EZR_CHECK(ezr_session_feed(&s, (const uint8_t *)get, strlen(get)) < 0);
    EZR_CHECK(s.close_reason != NULL);
    ezr_session_free(&s);
    ezr_buf_free(&h.sent);
}

EZR_TEST(test_send_ping_writes_ping_request_on_csid_2_with_the_timestamp)
{
    struct harness h;
    harness_setup(&h);
    connect_ok(&h);
    size_t before = h.sent.len;
    ezr_session_send_ping(&h.s, 0x01020304);
    /* Type-0 chunk on csid 2: timestamp 0, length 6, type 4 (User Control), message stream 0;
     * then event 6 (PingRequest) and the timestamp, big-endian. */
    static const uint8_t want[] = {0x02, 0, 0, 0,    0,    0,    6,    4,    0,
                                   0,    0, 0, 0x00, 0x06, 0x01, 0x02, 0x03, 0x04};
    EZR_CHECK_EQ(h.sent.len - before, sizeof want);
    EZR_CHECK_MEM(h.sent.data + before, want, sizeof want);
    EZR_CHECK_EQ(h.s.last_ping, 0x01020304);
    /* While playing too. */
    send_cmd(&h, 0, "createStream", 2, NULL, NULL);
    send_cmd(&h, 1, "play", 0, NULL, "stream");
    before = h.sent.len;
    ezr_session_send_ping(&h.s, 7);
    EZR_CHECK_EQ(h.sent.len - before, sizeof want);
    EZR_CHECK_EQ(ezr_rd_be32(h.sent.data + before + 14), 7);
    harness_teardown(&h);
}

EZR_TEST(test_ping_response_is_recorded_as_pong)
{
    struct harness h;
    harness_setup(&h);
    play_ok(&h);
    ezr_session_send_ping(&h.s, 1000);
    harness_drain(&h);
    h.nmsgs = 0;
    EZR_CHECK(send_user_control(&h, EZR_UC_PING_RESPONSE, 1000) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 0); /* a pong is not answered */
    EZR_CHECK_EQ(h.s.pongs, 1);
    EZR_CHECK_EQ(h.s.last_pong, 1000);
    EZR_CHECK_EQ(h.s.last_pong, h.s.last_ping);
    EZR_CHECK(send_user_control(&h, EZR_UC_PING_RESPONSE, 2000) >= 0);
    EZR_CHECK_EQ(h.s.pongs, 2);
    EZR_CHECK_EQ(h.s.last_pong, 2000);
    harness_teardown(&h);
}

EZR_TEST(test_ping_and_pong_before_connect_are_ignored)
{
    struct harness h;
    harness_setup(&h);
    /* Handshake done, no connect yet. */
    size_t before = h.sent.len;
    ezr_session_send_ping(&h.s, 5);
    EZR_CHECK_EQ(h.sent.len, before);
    EZR_CHECK_EQ(h.s.last_ping, 0);
    EZR_CHECK(send_user_control(&h, EZR_UC_PING_RESPONSE, 5) >= 0);
    EZR_CHECK_EQ(h.s.pongs, 0);
    EZR_CHECK_EQ(h.s.last_pong, 0);
    harness_teardown(&h);
}

EZR_TEST_MAIN(EZR_CASE(test_connect_answers_window_bandwidth_chunk_size_and_success),
              EZR_CASE(test_wrong_app_is_rejected_and_closed),
              EZR_CASE(test_create_stream_returns_stream_one),
              EZR_CASE(test_play_sends_begin_reset_start_sample_access_before_media),
              EZR_CASE(test_unknown_stream_gets_stream_not_found_and_closes),
              EZR_CASE(test_publish_is_refused), EZR_CASE(test_command_before_connect_is_an_error),
              EZR_CASE(test_play_before_create_stream_is_an_error),
              EZR_CASE(test_ping_request_gets_ping_response),
              EZR_CASE(test_acknowledges_when_client_window_is_reached),
              EZR_CASE(test_media_from_player_closes),
              EZR_CASE(test_play_end_sends_stream_eof_and_unpublish_notify),
              EZR_CASE(test_bad_handshake_version_is_refused),
              EZR_CASE(test_send_ping_writes_ping_request_on_csid_2_with_the_timestamp),
              EZR_CASE(test_ping_response_is_recorded_as_pong),
              EZR_CASE(test_ping_and_pong_before_connect_are_ignored))
