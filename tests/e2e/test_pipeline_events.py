"""End-to-end tests of what players see when the pipeline itself changes: a flushing seek
upstream, a stop and start of the pipeline (PAUSED -> READY -> PLAYING), and a cue point sent
live.
Run as: test_pipeline_events.py TEST_NAME (meson registers each name as its own test)."""

import json
import os
import struct
import subprocess
import tempfile
import time

from ezrtest import (Gst, PLAYER_ENV, Server, check, fail, run, run_named_test, stop_rtmpdump,
                     wait_for)
from rtmpclient import RtmpClient, amf0_encode, is_keyframe, is_video_header

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
    keyframe (no inter frame before it). Returns that keyframe."""
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
    return got[-1]


def probe_h264_aac(port, what):
    rc, out, err = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json",
                        "rtmp://127.0.0.1:%d/live/stream" % port], 30)
    check(rc == 0, "%s: ffprobe failed: %s" % (what, err))
    kinds = sorted((x["codec_type"], x["codec_name"]) for x in json.loads(out)["streams"])
    check(kinds == [("audio", "aac"), ("video", "h264")], "%s: ffprobe saw %r" % (what, kinds))


def is_audio_header(m):
    """An AAC sequence header (sound format 10, AACPacketType 0)."""
    return m.type == 8 and len(m.payload) >= 2 and m.payload[0] >> 4 == 10 and m.payload[1] == 0


def join(port, what):
    """A new player; checks it gets onMetaData and both sequence headers before its first coded
    video frame, which is a keyframe. Returns (player, that keyframe)."""
    c = RtmpClient("127.0.0.1", port)
    got = c.start_play("live", "stream")
    got += c.read_until(lambda m: m.type == 9 and not is_video_header(m), 20)
    first = got[-1]
    check(is_keyframe(first), "%s: the first video frame is not a keyframe (byte0 0x%02x)"
          % (what, first.payload[0]))
    check(any(m.name() == "onMetaData" for m in got), "%s: no onMetaData" % what)
    check(any(is_video_header(m) for m in got), "%s: no video sequence header" % what)
    audio = [m for m in got if m.type == 8]
    check(audio and is_audio_header(audio[0]),
          "%s: no AAC sequence header before the first audio frame" % what)
    return c, first


def rtmpdump_stopped(dump, err_file):
    """Stops a live recording as a user does (Ctrl-C). rtmpdump then exits 2 (RD_INCOMPLETE:
    a live stream has no end to reach) after 'Caught signal'; any other exit code, or an error
    it printed before the signal, is a failure of the recording."""
    stop_rtmpdump(dump)
    with open(err_file, errors="replace") as f:
        err = f.read()
    before, sep, _ = err.partition("Caught signal")
    check(sep, "rtmpdump ended before it was stopped (exit %d): %s"
          % (dump.returncode, err[-500:]))
    check(dump.returncode == 2, "rtmpdump exited %d after SIGINT, not 2 (incomplete): %s"
          % (dump.returncode, err[-500:]))
    check("ERROR" not in before, "rtmpdump reported an error while recording: %s"
          % before[-500:])


def packets(path, kind):
    """(pts in ms, keyframe) of every packet of the recording's stream of that kind, in order."""
    rc, out, err = run(["ffprobe", "-v", "error", "-select_streams", kind, "-show_entries",
                        "packet=pts,flags", "-of", "csv=p=0", path], 60)
    check(rc == 0, "ffprobe of the recording failed: %s" % err)
    rows = [line.split(",") for line in out.splitlines() if line]
    return [(int(r[0]), "K" in r[1]) for r in rows]


def after_restart(pkts, what):
    """The packets from the point where the timestamps go back to the new stream's start."""
    for i in range(1, len(pkts)):
        if pkts[i][0] < pkts[i - 1][0]:
            return pkts[i:]
    fail("%s: the recording has no restart (timestamps never go back)" % what)


def test_flush_restarts_players_and_joiners_get_headers():
    """A flushing seek upstream: a connected player gets a publisher restart (StreamEOF, then
    StreamBegin, PublishNotify, headers, a keyframe; no UnpublishNotify, which ends playback in
    librtmp); rtmpdump recording across it goes on: the frames after the seek are in its file,
    from a keyframe, none missing; a player joining just after it gets onMetaData, both sequence
    headers and a keyframe first, and ffprobe still finds H.264 and AAC."""
    p, sink, port = start(SEEKABLE)
    tmp = tempfile.mkdtemp()
    rec = os.path.join(tmp, "rec.flv")
    err_file = os.path.join(tmp, "rtmpdump.err")
    with open(err_file, "w") as err:
        dump = subprocess.Popen(["rtmpdump", "-r", "rtmp://127.0.0.1:%d/live/stream" % port,
                                 "--live", "-o", rec], stdout=subprocess.DEVNULL, stderr=err,
                                env=PLAYER_ENV)
    stopped = False
    try:
        c = RtmpClient("127.0.0.1", port)
        c.start_play("live", "stream")
        # 2 s of the stream (1 s GOPs): the cache holds a keyframe from 1 s or later.
        c.read_until(lambda m: m.type == 9 and m.ts >= 2000, 20)
        wait_for(lambda: os.path.exists(rec) and os.path.getsize(rec) > 50000, 20,
                 "rtmpdump to record")
        check(p.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0),
              "the seek was refused")
        # The flush has reached the sink when the seek returns: a player joining now finds no
        # cached frame and starts on the restarted stream's first keyframe (its time restarts
        # at 0, so that keyframe's timestamp is at most the time since the seek, where the old
        # cached one was at 1 s or later).
        seek_at = time.monotonic()
        j, first = join(port, "a player joining right after the flush")
        since = (time.monotonic() - seek_at) * 1000 + 100
        j.close()
        check(first.ts <= since, "the joiner's first keyframe (ts %d) is not of the restarted "
              "stream (%d ms since the seek)" % (first.ts, since))
        got = c.read_until(lambda m: m.type == 4 and m.payload[:2] == b"\x00\x01", 20)
        check(got and got[-1].type == 4, "the connected player got no StreamEOF")
        check(not any(m.status_code() == "NetStream.Play.UnpublishNotify" for m in got),
              "a flush sent UnpublishNotify")
        expect_restart(c, "after the flush")
        c.close()
        probe_h264_aac(port, "a player joining after the flush")
        size = os.path.getsize(rec)
        # About 2 s of the 500 kbps stream recorded after the joiners.
        wait_for(lambda: os.path.getsize(rec) > size + 150000, 20, "rtmpdump to go on recording")
        rtmpdump_stopped(dump, err_file)
        stopped = True
    finally:
        if not stopped:
            dump.kill()
            dump.wait()
        p.set_state(Gst.State.NULL)
    video = after_restart(packets(rec, "v"), "video")
    check(video[0] == (0, True), "the recording restarts on %r, not a keyframe at 0" % (video[0],))
    check(len(video) >= 60, "only %d video frames recorded after the seek" % len(video))
    steps = sorted(set(b[0] - a[0] for a, b in zip(video, video[1:])))
    check(steps and steps[0] > 0 and steps[-1] <= 34,
          "video after the seek is not one frame every 33 ms: steps %r" % steps)
    audio = after_restart(packets(rec, "a"), "audio")
    check(len(audio) >= 60, "only %d audio frames recorded after the seek" % len(audio))


def test_paused_ready_playing_starts_a_fresh_stream():
    """PAUSED -> READY ends the stream for its players; back to PLAYING starts a fresh one that
    they and new players get from its headers and first keyframe: a joiner's first keyframe is
    one of the new stream, never the old stream's cached GOP."""
    p, sink, port = start(SEEKABLE.replace("videotestsrc", "videotestsrc is-live=true")
                          .replace("audiotestsrc", "audiotestsrc is-live=true"))
    try:
        c = RtmpClient("127.0.0.1", port)
        c.start_play("live", "stream")
        # 2.5 s of the old stream (1 s GOPs): its cached keyframe is at 1.5 s or later.
        old = c.read_until(lambda m: m.type == 9 and m.ts >= 2500, 20)[-1].ts
        p.set_state(Gst.State.PAUSED)
        check(p.set_state(Gst.State.READY) != Gst.StateChangeReturn.FAILURE, "no READY")
        got = c.read_until(status("NetStream.Play.UnpublishNotify"), 10)
        check(got and got[-1].status_code() == "NetStream.Play.UnpublishNotify",
              "PAUSED -> READY did not end the stream for its player")
        check(sink.get_property("bound-port") == port, "the port changed in READY")
        check(p.set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE, "no PLAYING")
        key = expect_restart(c, "after READY -> PLAYING")
        since = time.monotonic()
        j, first = join(port, "a player joining the fresh stream")
        # Its keyframe is the new stream's first or a later one: no earlier than the connected
        # player's first, and no later than the new stream has run. The old stream's cached
        # keyframe (1.5 s or more into the old stream's time, or before the new one's start if
        # time went on) is in neither.
        ran = (time.monotonic() - since) * 1000 + 100
        check(key.ts <= first.ts <= key.ts + ran,
              "the joiner's first keyframe (ts %d) is not of the new stream, which started at "
              "%d and has run %d ms (the old stream reached %d)" % (first.ts, key.ts, ran, old))
        j.close()
        c.close()
        probe_h264_aac(port, "a player joining the fresh stream")
    finally:
        p.set_state(Gst.State.NULL)


# FLV written by the test itself into an appsrc, so that it decides when each tag arrives. The
# bodies are the shapes flvmux writes (tests/common/flv_fixture.h); no player here decodes them.
FLV_HEADER = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"
AVC_HEADER = bytes([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f])
AVC_KEY = bytes([0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65])
AVC_INTER = bytes([0x27, 1, 0, 0, 0x21, 0, 0, 0, 1, 0x41])
AAC_HEADER = bytes([0xAF, 0, 0x12, 0x10])
APPSRC = ("appsrc name=src is-live=true format=time caps=video/x-flv "
          "! ezrtmpserversink name=sink host={host} port={port} sync=false {props}")


def flv_tag(kind, ts, body):
    """One tag: type, 24-bit size, 24-bit timestamp + its top byte, stream id 0, the body, then
    PreviousTagSize."""
    head = bytes([kind]) + struct.pack(">I", len(body))[1:]
    head += struct.pack(">I", ts)[1:] + bytes([ts >> 24 & 0xFF]) + b"\x00\x00\x00"
    return head + body + struct.pack(">I", 11 + len(body))


def push(s, data):
    ret = s.pipeline.get_by_name("src").emit("push-buffer", Gst.Buffer.new_wrapped(data))
    check(ret == Gst.FlowReturn.OK, "push-buffer returned %r" % ret)


def video_at(ts):
    return lambda m: m.type == 9 and m.ts == ts


def test_cue_point_reaches_connected_players_only():
    """An onCuePoint script tag arriving mid-GOP is relayed live to the player already playing,
    at once and once; a player joining afterwards gets the cached GOP without it (cue points
    are not cached), and neither gets it again with the next frame."""
    cue = amf0_encode("onCuePoint") + amf0_encode({"name": "cue1", "time": 0.05})
    with Server(pipeline=APPSRC) as s:
        push(s, FLV_HEADER + flv_tag(18, 0, amf0_encode("onMetaData") +
                                     amf0_encode({"width": 320.0})) +
             flv_tag(9, 0, AVC_HEADER) + flv_tag(8, 0, AAC_HEADER) + flv_tag(9, 0, AVC_KEY) +
             flv_tag(9, 33, AVC_INTER))
        s.wait_video_frames(2)
        a = RtmpClient("127.0.0.1", s.port)
        b = None
        try:
            a.start_play("live", "stream")
            a.read_until(video_at(33), 10)
            push(s, flv_tag(18, 50, cue))
            got = a.read_until(lambda m: m.name() == "onCuePoint", 5)[-1]
            check(got.amf() == ["onCuePoint", {"name": "cue1", "time": 0.05}] and got.ts == 50,
                  "the connected player got %r %r" % (got, got.amf()))
            push(s, flv_tag(9, 66, AVC_INTER))
            later = a.read_until(video_at(66), 5)
            check(not any(m.name() == "onCuePoint" for m in later), "the cue point came twice")
            b = RtmpClient("127.0.0.1", s.port)
            got = b.start_play("live", "stream") + b.read_until(video_at(66), 10)
            check(any(is_keyframe(m) for m in got), "the joiner got no keyframe")
            check(any(m.name() == "onMetaData" for m in got), "the joiner got no onMetaData")
            push(s, flv_tag(9, 100, AVC_INTER))
            got += b.read_until(video_at(100), 5)
            check(not any(m.name() == "onCuePoint" for m in got),
                  "the joiner got the old cue point")
            check(not any(m.name() == "onCuePoint" for m in a.read_until(video_at(100), 5)),
                  "the connected player got the cue point again")
            check(s.stat("script-tags") == 2, "script-tags is %d, not 2" % s.stat("script-tags"))
        finally:
            a.close()
            if b:
                b.close()
        s.check_no_error()


if __name__ == "__main__":
    run_named_test(globals())
