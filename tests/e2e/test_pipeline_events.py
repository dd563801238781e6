"""End-to-end tests of what players see when the pipeline itself changes: a flushing seek
upstream, and a stop and start of the pipeline (PAUSED -> READY -> PLAYING).
Run as: test_pipeline_events.py TEST_NAME (meson registers each name as its own test)."""

import json
import os
import signal
import subprocess
import tempfile

from ezrtest import Gst, PLAYER_ENV, check, run, run_named_test, wait_for
from rtmpclient import RtmpClient, is_keyframe, is_video_header

# Not live, so that it can seek; the sink paces it at real time (sync=true).
SEEKABLE = (
    "videotestsrc pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 "
    "! x264enc speed-preset=ultrafast key-int-max=30 bitrate=500 ! h264parse "
    "! flvmux name=mux streamable=true ! ezrtmpserversink name=sink host=127.0.0.1 port=0 "
    "audiotestsrc ! audio/x-raw,rate=44100,channels=2 ! avenc_aac ! aacparse ! mux.")


def status(code):
    return lambda m: m.status_code() == code


def start(desc):
    p = Gst.parse_launch(desc)
    sink = p.get_by_name("sink")
    check(p.set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE, "no PLAYING")
    port = sink.get_property("bound-port")
    wait_for(lambda: sink.get_property("stats").get_uint64("keyframes")[1] >= 1, 20,
             "a keyframe")
    return p, sink, port


def expect_restart(c, what):
    """After an end, a player sees PublishNotify, then the video header, then video from a
    keyframe (no inter frame before it)."""
    got = c.read_until(status("NetStream.Play.PublishNotify"), 20)
    check(got and got[-1].status_code() == "NetStream.Play.PublishNotify",
          "%s: no PublishNotify" % what)
    got = c.read_until(is_keyframe, 20)
    check(got and is_keyframe(got[-1]), "%s: no keyframe after PublishNotify" % what)
    video = [m for m in got if m.type == 9]
    check(any(is_video_header(m) for m in video), "%s: no video header before the keyframe"
          % what)
    inter = [m for m in video if not is_video_header(m) and not is_keyframe(m)]
    check(not inter, "%s: %d inter frames before the first keyframe" % (what, len(inter)))


def probe_h264_aac(port, what):
    rc, out, err = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json",
                        "rtmp://127.0.0.1:%d/live/stream" % port], 30)
    check(rc == 0, "%s: ffprobe failed: %s" % (what, err))
    kinds = sorted((x["codec_type"], x["codec_name"]) for x in json.loads(out)["streams"])
    check(kinds == [("audio", "aac"), ("video", "h264")], "%s: ffprobe saw %r" % (what, kinds))


def test_flush_restarts_players_and_joiners_get_headers():
    """A flushing seek upstream: a connected player gets a publisher restart (StreamEOF, then
    StreamBegin, PublishNotify, headers, a keyframe; no UnpublishNotify, which ends playback in
    librtmp); rtmpdump recording across it goes on and keeps a decodable file; a player joining
    after it (ffprobe) still finds H.264 and AAC."""
    p, sink, port = start(SEEKABLE)
    tmp = tempfile.mkdtemp()
    rec = os.path.join(tmp, "rec.flv")
    dump = subprocess.Popen(["rtmpdump", "-q", "-r", "rtmp://127.0.0.1:%d/live/stream" % port,
                             "--live", "-o", rec], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=PLAYER_ENV)
    try:
        c = RtmpClient("127.0.0.1", port)
        c.start_play("live", "stream")
        c.read_until(is_keyframe, 20)
        wait_for(lambda: os.path.exists(rec) and os.path.getsize(rec) > 50000, 20,
                 "rtmpdump to record")
        check(p.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0),
              "the seek was refused")
        got = c.read_until(lambda m: m.type == 4 and m.payload[:2] == b"\x00\x01", 20)
        check(got and got[-1].type == 4, "the connected player got no StreamEOF")
        check(not any(m.status_code() == "NetStream.Play.UnpublishNotify" for m in got),
              "a flush sent UnpublishNotify")
        expect_restart(c, "after the flush")
        c.close()
        probe_h264_aac(port, "a player joining after the flush")
        size = os.path.getsize(rec)
        wait_for(lambda: os.path.getsize(rec) > size + 50000, 20, "rtmpdump to go on recording")
    finally:
        dump.send_signal(signal.SIGINT)
        try:
            dump.wait(10)
        except subprocess.TimeoutExpired:
            dump.kill()
        p.set_state(Gst.State.NULL)
    check(dump.returncode in (0, 1, 2), "rtmpdump exited with %r" % dump.returncode)
    rc, out, err = run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v",
                        "-show_entries", "stream=nb_read_frames", "-of", "json", rec], 60)
    check(rc == 0, "ffprobe of the recording failed: %s" % err)
    frames = int(json.loads(out)["streams"][0]["nb_read_frames"])
    check(frames >= 30, "only %d video frames decoded from the recording" % frames)


def test_paused_ready_playing_starts_a_fresh_stream():
    """PAUSED -> READY ends the stream for its players; back to PLAYING starts a fresh one that
    they and new players get from its headers and first keyframe."""
    p, sink, port = start(SEEKABLE.replace("videotestsrc", "videotestsrc is-live=true")
                          .replace("audiotestsrc", "audiotestsrc is-live=true"))
    try:
        c = RtmpClient("127.0.0.1", port)
        c.start_play("live", "stream")
        c.read_until(is_keyframe, 20)
        p.set_state(Gst.State.PAUSED)
        check(p.set_state(Gst.State.READY) != Gst.StateChangeReturn.FAILURE, "no READY")
        got = c.read_until(status("NetStream.Play.UnpublishNotify"), 10)
        check(got and got[-1].status_code() == "NetStream.Play.UnpublishNotify",
              "PAUSED -> READY did not end the stream for its player")
        check(sink.get_property("bound-port") == port, "the port changed in READY")
        check(p.set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE, "no PLAYING")
        expect_restart(c, "after READY -> PLAYING")
        c.close()
        probe_h264_aac(port, "a player joining the fresh stream")
    finally:
        p.set_state(Gst.State.NULL)


if __name__ == "__main__":
    run_named_test(globals())
