/* The sans-I/O RTMP session's controls of a playing stream: pause and pauseRaw, seek, closeStream
 * and deleteStream, receiveVideo and receiveAudio; what each answers, in which order, and what
 * the server is told. Driven by the client of session_harness.c, as test_session.c. */
#include "ezr_test.h"

#include "ezr_amf0.h"
#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_proto.h"
#include "ezr_session.h"
#include "session_harness.h"

EZR_TEST(test_close_stream_stops_playing_and_receive_video_is_reported)
{
    struct harness h;
    harness_setup(&h);
    connect_ok(&h);
    send_cmd(&h, 0, "createStream", 2, NULL, NULL);
    send_cmd(&h, 1, "play", 0, NULL, "stream");
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_cstring(&b, "receiveVideo");
    ezr_amf0_put_number(&b, 0);
    ezr_amf0_put_null(&b);
    ezr_amf0_put_bool(&b, false);
    EZR_CHECK(send_raw(&h, EZR_MSG_COMMAND_AMF0, 3, 1, &b) >= 0);
    ezr_buf_free(&b);
    EZR_CHECK_EQ(h.receives, 1);
    EZR_CHECK(h.audio && !h.video);
    EZR_CHECK(send_cmd(&h, 1, "closeStream", 0, NULL, NULL) >= 0);
    EZR_CHECK_EQ(h.stopped, 1);
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_CONNECTED);
    harness_teardown(&h);
}

EZR_TEST(test_pause_true_while_playing_sends_pause_notify_then_calls_pause)
{
    struct harness h;
    harness_setup(&h);
    play_ok(&h);
    EZR_CHECK(send_flag_cmd(&h, 1, "pause", true, true) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Pause.Notify"));
    EZR_CHECK_EQ(h.pauses, 1);
    EZR_CHECK(h.paused);
    EZR_CHECK(h.s.paused);
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_PLAYING);
    EZR_CHECK_EQ(h.stopped, 0);
    harness_teardown(&h);
}

EZR_TEST(test_repeated_pause_true_is_answered_and_changes_nothing)
{
    struct harness h;
    harness_setup(&h);
    play_ok(&h);
    send_flag_cmd(&h, 1, "pause", true, true);
    h.nmsgs = 0;
    EZR_CHECK(send_flag_cmd(&h, 1, "pause", true, true) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Pause.Notify"));
    EZR_CHECK_EQ(h.pauses, 1);
    EZR_CHECK(h.s.paused);
    harness_teardown(&h);
}

EZR_TEST(test_pause_false_sends_unpause_notify_before_calling_pause_false)
{
    struct harness h;
    harness_setup(&h);
    play_ok(&h);
    send_flag_cmd(&h, 1, "pause", true, true);
    h.nmsgs = 0;
    EZR_CHECK(send_flag_cmd(&h, 1, "pause", false, true) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Unpause.Notify"));
    EZR_CHECK_EQ(h.pauses, 2);
    EZR_CHECK(!h.paused);
    EZR_CHECK(!h.s.paused);
    /* The Notify was handed out before the server was told to queue media again. */
    EZR_CHECK_EQ(h.sent_when_paused, h.sent.len);
    /* Unpausing what is not paused is answered and changes nothing. */
    h.nmsgs = 0;
    EZR_CHECK(send_flag_cmd(&h, 1, "pause", false, true) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Unpause.Notify"));
    EZR_CHECK_EQ(h.pauses, 2);
    harness_teardown(&h);
}

EZR_TEST(test_pause_raw_pauses_like_pause)
{
    struct harness h;
    harness_setup(&h);
    play_ok(&h);
    EZR_CHECK(send_flag_cmd(&h, 1, "pauseRaw", true, true) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Pause.Notify"));
    EZR_CHECK_EQ(h.pauses, 1);
    EZR_CHECK(h.paused);
    harness_teardown(&h);
}

EZR_TEST(test_pause_before_play_is_answered_without_callback)
{
    struct harness h;
    harness_setup(&h);
    char b[64];
    create_stream_ok(&h);
    EZR_CHECK(send_flag_cmd(&h, 1, "pause", true, true) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(strcmp(status_code(&h, 0, b, sizeof b), "NetStream.Pause.Notify") == 0);
    EZR_CHECK_EQ(h.pauses, 0);
    EZR_CHECK(!h.s.paused);
    /* A later play is not paused. */
    send_cmd(&h, 1, "play", 0, NULL, "stream");
    EZR_CHECK_EQ(h.started, 1);
    EZR_CHECK(!h.s.paused);
    harness_teardown(&h);
}

EZR_TEST(test_seek_while_playing_answers_seek_notify_and_play_start_and_keeps_playing)
{
    struct harness h;
    harness_setup(&h);
    play_ok(&h);
    /* As ffmpeg sends it: seek(0, null, ms) on the media stream. */
    EZR_CHECK(send_number_cmd(&h, 1, "seek", 0, 5000) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 2);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Seek.Notify"));
    EZR_CHECK(is_status(&h, 1, "status", "NetStream.Play.Start"));
    EZR_CHECK_EQ(h.stopped, 0);
    EZR_CHECK_EQ(h.started, 1);
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_PLAYING);
    /* With a transaction id it is answered the same way, never with _error. */
    h.nmsgs = 0;
    EZR_CHECK(send_number_cmd(&h, 1, "seek", 7, 0) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 2);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Seek.Notify"));
    EZR_CHECK(is_status(&h, 1, "status", "NetStream.Play.Start"));
    EZR_CHECK_EQ(h.stopped, 0);
    harness_teardown(&h);
}

EZR_TEST(test_close_stream_sends_play_stop_then_play_stopped_once)
{
    struct harness h;
    harness_setup(&h);
    play_ok(&h);
    EZR_CHECK(send_cmd(&h, 1, "closeStream", 0, NULL, NULL) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Play.Stop"));
    EZR_CHECK_EQ(h.stopped, 1);
    EZR_CHECK_EQ(h.sent_when_stopped, h.sent.len); /* Play.Stop went out first */
    EZR_CHECK_EQ(h.s.state, EZR_SESSION_CONNECTED);
    h.nmsgs = 0;
    EZR_CHECK(send_cmd(&h, 1, "closeStream", 0, NULL, NULL) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 0);
    EZR_CHECK_EQ(h.stopped, 1);
    harness_teardown(&h);
}

EZR_TEST(test_delete_stream_sends_play_stop_then_play_stopped_once)
{
    struct harness h;
    harness_setup(&h);
    play_ok(&h);
    /* As ffmpeg sends it on close: deleteStream(txid, null, stream id) on message stream 0. */
    EZR_CHECK(send_number_cmd(&h, 0, "deleteStream", 5, EZR_MEDIA_MSID) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 1);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Play.Stop"));
    EZR_CHECK_EQ(h.stopped, 1);
    EZR_CHECK_EQ(h.sent_when_stopped, h.sent.len);
    h.nmsgs = 0;
    EZR_CHECK(send_number_cmd(&h, 0, "deleteStream", 6, EZR_MEDIA_MSID) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 0);
    EZR_CHECK_EQ(h.stopped, 1);
    harness_teardown(&h);
}

EZR_TEST(test_close_stream_while_paused_clears_paused)
{
    struct harness h;
    harness_setup(&h);
    play_ok(&h);
    send_flag_cmd(&h, 1, "pause", true, true);
    send_cmd(&h, 1, "closeStream", 0, NULL, NULL);
    EZR_CHECK_EQ(h.stopped, 1);
    EZR_CHECK(!h.s.paused);
    harness_teardown(&h);
}

EZR_TEST(test_receive_video_back_on_is_reported_once_and_answered_like_a_seek)
{
    struct harness h;
    harness_setup(&h);
    play_ok(&h);
    EZR_CHECK(send_flag_cmd(&h, 1, "receiveVideo", false, false) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 0);
    EZR_CHECK_EQ(h.receives, 1);
    EZR_CHECK(h.audio && !h.video);
    EZR_CHECK(send_flag_cmd(&h, 1, "receiveVideo", true, false) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 2);
    EZR_CHECK(is_status(&h, 0, "status", "NetStream.Seek.Notify"));
    EZR_CHECK(is_status(&h, 1, "status", "NetStream.Play.Start"));
    EZR_CHECK_EQ(h.receives, 2);
    EZR_CHECK(h.audio && h.video);
    /* Already on: answered, not reported again (no needless wait for a keyframe). */
    h.nmsgs = 0;
    EZR_CHECK(send_flag_cmd(&h, 1, "receiveVideo", true, false) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 2);
    EZR_CHECK_EQ(h.receives, 2);
    /* receiveAudio works the same way. */
    h.nmsgs = 0;
    EZR_CHECK(send_flag_cmd(&h, 1, "receiveAudio", false, false) >= 0);
    EZR_CHECK_EQ(h.nmsgs, 0);
    EZR_CHECK_EQ(h.receives, 3);
    EZR_CHECK(!h.audio && h.video);
    EZR_CHECK_EQ(h.stopped, 0);
    harness_teardown(&h);
}

EZR_TEST_MAIN(
    EZR_CASE(test_close_stream_stops_playing_and_receive_video_is_reported),
    EZR_CASE(test_pause_true_while_playing_sends_pause_notify_then_calls_pause),
    EZR_CASE(test_repeated_pause_true_is_answered_and_changes_nothing),
    EZR_CASE(test_pause_false_sends_unpause_notify_before_calling_pause_false),
    EZR_CASE(test_pause_raw_pauses_like_pause),
    EZR_CASE(test_pause_before_play_is_answered_without_callback),
    EZR_CASE(test_seek_while_playing_answers_seek_notify_and_play_start_and_keeps_playing),
    EZR_CASE(test_close_stream_sends_play_stop_then_play_stopped_once),
    EZR_CASE(test_delete_stream_sends_play_stop_then_play_stopped_once),
    EZR_CASE(test_close_stream_while_paused_clears_paused),
    EZR_CASE(test_receive_video_back_on_is_reported_once_and_answered_like_a_seek))
