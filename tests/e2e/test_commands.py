"""End-to-end tests of the NetStream commands a player sends while it plays: pause, receiveVideo,
seek, closeStream and deleteStream, played by rtmpclient.py (which sends them as ffmpeg and
Flash do) and, for seek, by ffmpeg itself; and the liveness check of players of an ended stream.
Run as: test_commands.py TEST_NAME (meson registers each name as its own test)."""

import time

from ezrtest import PIPELINE, Gst, Server, alone, check, fail, run, run_named_test, wait_for
from rtmpclient import Closed, RtmpClient, is_keyframe, is_video_header


def is_video_frame(m):
    return m.type == 9 and len(m.payload) >= 2 and not is_video_header(m)


def is_media(m):
    return m.type in (8, 9)


def status_is(code):
    return lambda m: m.status_code() == code


def read_window(c, seconds):
    """Every message the server sends in the next `seconds` (a measurement window, not a wait
    for something: it ends at its deadline). Fails if the server closes the connection."""
    deadline = time.monotonic() + seconds
    got = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return got
        try:
            got.append(c.read_message(left))
        except TimeoutError:
            return got
        except Closed:
            fail("the server closed the player's connection")


def errors_in(msgs):
    return [m for m in msgs if m.type == 20 and any(
        isinstance(v, dict) and v.get("level") == "error" for v in m.amf())]


def collect_video_frames(c, n, timeout):
    """Up to n coded video frames read within timeout seconds."""
    deadline = time.monotonic() + timeout
    frames = []
    while len(frames) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            m = c.read_message(left)
        except TimeoutError:
            break
        except Closed:
            fail("the server closed the player's connection")
        if is_video_frame(m):
            frames.append(m)
    return frames


def playing_client(s):
    """A player that has received its first keyframe."""
    s.wait_video_frames(1)
    c = RtmpClient("127.0.0.1", s.port)
    c.start_play("live", "stream")
    c.read_until(is_keyframe)
    return c


def clients(s):
    return s.sink.get_property("stats").get_uint("clients")[1]


def first_video_frame(c, timeout=10):
    """Reads to the first coded video frame (sequence headers skipped); returns it."""
    return c.read_until(is_video_frame, timeout)[-1]



def unpause_expect_keyframe(c):
    """Unpauses a paused player: NetStream.Unpause.Notify with no error status, then video that
    starts on a keyframe."""
    c.pause(False, 1000)
    got = c.read_until(status_is("NetStream.Unpause.Notify"), 5)
    check(not errors_in(got), "error status on unpause: %r" % errors_in(got))
    m = first_video_frame(c, 10)
    check(is_keyframe(m), "first video frame after unpause is not a keyframe: "
          "byte0=0x%02x" % m.payload[0])

def test_pause_holds_media_without_disconnect():
    # client-timeout=1: a paused player has nothing queued, so it must not count as one that
    # reads nothing while data waits for it.
    with Server(props="client-timeout=1") as s:
        c = playing_client(s)
        try:
            c.pause(True, 1000)
            # Media queued before the pause may precede the Notify; none may follow it.
            got = c.read_until(status_is("NetStream.Pause.Notify"), 5)
            check(not errors_in(got), "error status on pause: %r" % errors_in(got))
            frames_before = s.stat("video-frames")
            window = read_window(c, 2.0)
            media = [m for m in window if is_media(m)]
            check(not media, "%d media messages in the 2 s after Pause.Notify: %r"
                  % (len(media), media[:3]))
            check(s.stat("video-frames") >= frames_before + 30,
                  "the stream did not run during the pause")
            check(clients(s) == 1, "the paused player was dropped")
        finally:
            c.close()
        s.check_no_error()


# Tiers small enough that a player of the 500 kbps test stream that reads nothing is cut within
# about a second (disconnects-slow), or by client-timeout=1 (disconnects-timeout).
SMALL_TIERS = ("queue-warning-bytes=8192 queue-high-bytes=16384 queue-max-bytes=32768 "
               "send-buffer-size=4096 client-timeout=1")


def cut(s):
    return s.stat("disconnects-slow") + s.stat("disconnects-timeout")


@alone("the control cut within 3 s, the paused player kept 3 s")
def test_paused_player_reading_nothing_outlives_small_tiers():
    """A paused player that reads nothing for 3 s is not cut at tiers where a playing player
    that reads nothing (the control, beside it) is cut within about a second: nothing is queued
    for it while paused. Unpaused, it resumes on a keyframe."""
    with Server(gop=60, props=SMALL_TIERS) as s:
        s.wait_video_frames(1)
        paused = RtmpClient("127.0.0.1", s.port, rcvbuf=4096)
        paused.start_play("live", "stream")
        paused.read_until(is_keyframe)
        control = RtmpClient("127.0.0.1", s.port, rcvbuf=4096)
        try:
            control.start_play("live", "stream")
            control.read_until(is_keyframe)
            paused.pause(True, 1000)
            paused.read_until(status_is("NetStream.Pause.Notify"), 5)
            # From here neither reads a byte.
            frames_before = s.stat("video-frames")
            start = time.monotonic()
            wait_for(lambda: cut(s) == 1, 3, "the control player (reading nothing) to be cut")
            took = time.monotonic() - start
            while time.monotonic() - start < 3.0:  # the rest of 3 s without reading
                check(clients(s) == 1, "the paused player was cut after %.1f s"
                      % (time.monotonic() - start))
                time.sleep(0.05)
            check(s.stat("video-frames") >= frames_before + 60,
                  "the stream did not run during the pause")
            check(cut(s) == 1 and clients(s) == 1,
                  "%d players cut, %d left: the paused one was cut" % (cut(s), clients(s)))
            print("# the control was cut after %.1f s; the paused player read nothing for 3 s"
                  % took)
            # Whatever waited for it in 3 s is at most the replies: no media.
            media = [m for m in read_window(paused, 0.5) if is_media(m)]
            check(not media, "%d media messages were queued while paused" % len(media))
            unpause_expect_keyframe(paused)
        finally:
            paused.close()
            control.close()
        s.check_no_error()


def test_unpause_resumes_on_keyframe():
    # A 2 s GOP, and the unpause sent as soon as a watching player has seen a keyframe and then
    # an inter frame: the server gets it mid-GOP, where the next frame is an inter frame.
    with Server(gop=60) as s:
        c = playing_client(s)
        watcher = playing_client(s)
        try:
            c.pause(True, 1000)
            c.read_until(status_is("NetStream.Pause.Notify"), 5)
            watcher.read_until(is_keyframe, 5)
            inter = watcher.read_until(is_video_frame, 5)[-1]
            check(not is_keyframe(inter), "two keyframes in a row in a 2 s GOP")
            unpause_expect_keyframe(c)
            check(clients(s) == 2, "a player was dropped")
        finally:
            c.close()
            watcher.close()
        s.check_no_error()


def test_receive_video_back_on_resumes_on_keyframe():
    with Server(gop=60) as s:
        c = playing_client(s)
        try:
            c.receive_video(False)
            # getStreamLength's _result is queued after every frame queued before the server
            # read receiveVideo(false): no video may follow it.
            txid = c.send_command("getStreamLength", None, "stream")
            c.read_until(lambda m: m.name() == "_result" and m.amf()[1] == txid, 5)
            window = read_window(c, 1.0)
            video = [m for m in window if m.type == 9]
            check(not video, "%d video messages after receiveVideo(false)" % len(video))
            check(any(m.type == 8 for m in window), "audio stopped with receiveVideo(false)")
            c.receive_video(True)
            m = first_video_frame(c, 10)
            check(is_keyframe(m), "first video frame after receiveVideo(true) is not a keyframe: "
                  "byte0=0x%02x" % m.payload[0])
        finally:
            c.close()
        s.check_no_error()


def test_seek_keeps_playing():
    with Server() as s:
        c = playing_client(s)
        try:
            c.seek(5000)
            got = c.read_until(status_is("NetStream.Seek.Notify"), 5)
            got += c.read_until(status_is("NetStream.Play.Start"), 5)
            check(not errors_in(got), "error status on seek: %r" % errors_in(got))
            check(not [m for m in got if m.status_code() == "NetStream.Play.Stop"],
                  "seek stopped playback")
            frames = collect_video_frames(c, 30, 10)
            check(len(frames) == 30, "only %d video frames after seek" % len(frames))
            check(clients(s) == 1, "the player was dropped after seek")
        finally:
            c.close()
        s.check_no_error()


def test_ffmpeg_seek_keeps_playing():
    """ffmpeg's input -ss seeks the demuxer, which sends seek(ms) over RTMP and then drops every
    message until NetStream.Seek.Notify: without it ffmpeg would hang, with an error status it
    would fail. After its seek ffmpeg decodes 60 video frames (2 s at 30 fps), each counted as
    its line of -f framecrc, their times rising."""
    with Server() as s:
        s.wait_video_frames(1)
        rc, out, err = run(["ffmpeg", "-nostdin", "-v", "error", "-ss", "1", "-i", s.url(),
                            "-map", "0:v", "-frames:v", "60", "-f", "framecrc", "-"], 60)
        check(rc == 0, "ffmpeg -ss failed (%d): %s" % (rc, err))
        # framecrc: "stream_index, dts, pts, duration, size, crc" per frame.
        frames = [line.split(",") for line in out.splitlines()
                  if line.strip() and not line.startswith("#")]
        pts = [int(f[2]) for f in frames if f[0].strip() == "0"]
        print("ffmpeg decoded %d video frames after its seek" % len(pts), flush=True)
        check(len(pts) == 60, "%d video frames decoded after the seek, not 60" % len(pts))
        check(all(a < b for a, b in zip(pts, pts[1:])), "frame times after the seek: %r"
              % pts[:20])
        s.check_no_error()


def stop_then_no_media(command):
    with Server() as s:
        c = playing_client(s)
        try:
            command(c)
            got = c.read_until(status_is("NetStream.Play.Stop"), 5)
            stop = got[-1]
            check(stop.msid == 1, "Play.Stop on message stream %d" % stop.msid)
            check(stop.amf()[3].get("details") == "stream", "Play.Stop details: %r"
                  % stop.amf()[3])
            window = read_window(c, 2.0)
            media = [m for m in window if is_media(m)]
            check(not media, "%d media messages after Play.Stop" % len(media))
            check(clients(s) == 0, "the stopped player still counts as playing")
        finally:
            c.close()
        s.check_no_error()


def test_close_stream_sends_play_stop_and_no_more_media():
    stop_then_no_media(lambda c: c.close_stream())


def test_delete_stream_sends_play_stop_and_no_more_media():
    stop_then_no_media(lambda c: c.delete_stream(1))


# Liveness, as src/ezr_limits.h and src/ezr_server.c have it: a stream is idle once it has ended
# or sent no frame for 3 s (EZR_IDLE_STREAM_MS); its players get a PingRequest every 2 s
# (EZR_PING_INTERVAL_MS), and one that has answered none for 6 s since the first unanswered
# ping (EZR_PING_TIMEOUT_MS) is closed at the next 250 ms tick. Margins: the server's tick on
# each side, and this process's scheduling.
IDLE_S, PING_TIMEOUT_S, TICK_S = 3.0, 6.0, 0.25


def pinged_players_sorted_out(alive, gone, idle_from, idle_s):
    """From idle_from on (monotonic time) the stream sends nothing: both players are pinged
    within idle_s (+ a tick and margin); gone, which does not answer, is closed PING_TIMEOUT_S
    after its first ping (not before, nor more than a tick and margin later); alive, which
    answers, is still connected a second after that."""
    first_ping = closed_at = None
    end = idle_from + idle_s + PING_TIMEOUT_S + 3
    while time.monotonic() < end and (closed_at is None or
                                       time.monotonic() < closed_at + 1):
        if closed_at is None:
            try:
                gone.read_message(0.05)
            except TimeoutError:
                pass
            except Closed:
                closed_at = time.monotonic()
            if first_ping is None and gone.ping_requests:
                first_ping = time.monotonic()
        try:
            alive.read_message(0.05)
        except TimeoutError:
            pass
        except Closed:
            fail("the player that answers pings was closed")
    check(first_ping is not None, "the player was never pinged")
    check(first_ping - idle_from <= idle_s + TICK_S + 1.0,
          "first ping %.2f s after the stream went quiet, over %.2f s"
          % (first_ping - idle_from, idle_s + TICK_S))
    check(closed_at is not None, "the player that stopped answering pings was not closed")
    waited = closed_at - first_ping
    check(PING_TIMEOUT_S - 0.3 <= waited <= PING_TIMEOUT_S + TICK_S + 0.75,
          "closed %.2f s after its first ping, not %.0f s (+ a %.2f s tick)"
          % (waited, PING_TIMEOUT_S, TICK_S))
    print("# first ping %.2f s after the stream went quiet, closed %.2f s after it"
          % (first_ping - idle_from, waited))
    check(len(gone.ping_requests) >= 3, "it was pinged %d times" % len(gone.ping_requests))
    check(len(alive.ping_requests) >= 3 and alive.pongs_sent == len(alive.ping_requests),
          "the live player was pinged %d times, answered %d" % (len(alive.ping_requests),
                                                                alive.pongs_sent))


@alone("pinged within the idle time, closed within a window of the ping timeout")
def test_idle_stream_player_not_answering_pings_is_dropped():
    """After EOS the stream sends nothing: players are pinged at once; one that answers stays,
    one that has stopped answering (a vanished peer) is closed 6 s after its first ping."""
    with Server() as s:
        alive = playing_client(s)
        gone = playing_client(s)
        gone.answer_pings = False
        check(clients(s) == 2, "two players expected, %d" % clients(s))
        s.pipeline.send_event(Gst.Event.new_eos())
        for c in (alive, gone):
            c.read_until(status_is("NetStream.Play.UnpublishNotify"), 15)
        pinged_players_sorted_out(alive, gone, time.monotonic(), 0)
        check(clients(s) == 1, "%d players left, 1 expected" % clients(s))
        alive.close()


# The test stream with a valve before the sink: closed, the stream is PLAYING but sends nothing
# (no EOS), as when a camera stops sending.
VALVED = PIPELINE.replace("! ezrtmpserversink", "! valve name=valve ! ezrtmpserversink")


@alone("pinged within the idle time, closed within a window of the ping timeout")
def test_quiet_stream_player_not_answering_pings_is_dropped():
    """The stream stays PLAYING but sends no frame: after 3 s its players are pinged; one that
    answers stays, one that does not is closed 6 s after its first ping."""
    with Server(pipeline=VALVED) as s:
        alive = playing_client(s)
        gone = playing_client(s)
        gone.answer_pings = False
        s.pipeline.get_by_name("valve").set_property("drop", True)
        # The last frame through the valve reaches both; from then on the stream is quiet.
        quiet_from = None
        while quiet_from is None or time.monotonic() < quiet_from + 0.5:
            for c in (alive, gone):
                try:
                    if is_media(c.read_message(0.05)):
                        quiet_from = time.monotonic()
                except TimeoutError:
                    pass
            if quiet_from is None:
                quiet_from = time.monotonic()
        check(not gone.ping_requests, "pinged while frames still came")
        pinged_players_sorted_out(alive, gone, quiet_from, IDLE_S)
        check(clients(s) == 1, "%d players left, 1 expected" % clients(s))
        check(s.stat("disconnects-timeout") == 1, "the closed player is not counted as a timeout")
        alive.close()
        s.check_no_error()


if __name__ == "__main__":
    run_named_test(globals())
