"""End-to-end tests: a real pipeline with ezrtmpserversink, played by real clients (ffprobe,
rtmpdump, GStreamer's rtmp2src) and by rtmpclient.py, an independent witness of the bytes.
Run as: test_e2e.py TEST_NAME (meson registers each name as its own test)."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from ezrtest import (Gst, PLAYER_ENV, Server, alone, check, decode_errors, fail, run,
                     run_named_test, share_port, stop_rtmpdump, wait_for)
from rtmpclient import Closed, RtmpClient, avc_header_size, is_keyframe, is_video_header


def test_ffprobe_h264_aac():
    with Server() as s:
        s.wait_video_frames(1)
        rc, out, err = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", s.url()], 30)
        check(rc == 0, "ffprobe failed (%d): %s" % (rc, err))
        streams = json.loads(out)["streams"]
        video = [x for x in streams if x["codec_type"] == "video"]
        audio = [x for x in streams if x["codec_type"] == "audio"]
        check(len(video) == 1 and video[0]["codec_name"] == "h264", "video: %r" % video)
        check(video[0]["width"] == 320 and video[0]["height"] == 240,
              "size %sx%s" % (video[0]["width"], video[0]["height"]))
        check(len(audio) == 1 and audio[0]["codec_name"] == "aac", "audio: %r" % audio)
        check(len(streams) == 2, "unexpected extra streams: %r" % streams)
        s.check_no_error()


def test_rtmpdump_record():
    with Server() as s, tempfile.TemporaryDirectory() as tmp:
        s.wait_video_frames(1)
        out = os.path.join(tmp, "rec.flv")
        p = subprocess.Popen(["rtmpdump", "-q", "-r", s.url(), "--live", "-o", out],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=PLAYER_ENV)
        try:
            wait_for(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 15,
                     "rtmpdump to start writing")
            start = s.stat("video-frames")
            # Record 3 s of the stream: 90 frames at 30 fps pass through the sink.
            s.wait_video_frames(start + 90, 20)
        finally:
            stop_rtmpdump(p, out)
        rc, _, err = run(["ffmpeg", "-v", "error", "-xerror", "-i", out, "-f", "null", "-"], 60)
        check(rc == 0 and not decode_errors(err),
              "ffmpeg could not decode the recording: %s" % err)
        rc, out_json, err = run(["ffprobe", "-v", "error", "-count_frames", "-select_streams",
                                 "v", "-show_entries", "stream=nb_read_frames", "-of", "json",
                                 out], 60)
        frames = int(json.loads(out_json)["streams"][0]["nb_read_frames"])
        check(frames >= 80, "only %d video frames decoded from a 3 s recording" % frames)


def test_rtmp2src_decode():
    with Server() as s:
        s.wait_video_frames(1)
        player = Gst.parse_launch(
            "rtmp2src location=%s ! flvdemux name=d d.video ! queue ! h264parse "
            "! avdec_h264 ! fakesink name=out signal-handoffs=true sync=false" % s.url())
        decoded = [0]
        player.get_by_name("out").connect("handoff", lambda *a: decoded.__setitem__(
            0, decoded[0] + 1))
        player.set_state(Gst.State.PLAYING)
        try:
            wait_for(lambda: decoded[0] >= 30, 30, "30 decoded frames from rtmp2src")
        finally:
            m = player.get_bus().pop_filtered(Gst.MessageType.ERROR)
            player.set_state(Gst.State.NULL)
        check(m is None, "rtmp2src pipeline error: %s" % (m and m.parse_error()[0].message))
        s.check_no_error()


def test_late_joiner_keyframe_first():
    # A 2 s GOP, and a player joining more than 1 s into it.
    with Server(gop=60) as s:
        s.wait_video_frames(60 + 35)
        c = RtmpClient("127.0.0.1", s.port)
        try:
            got = c.start_play("live", "stream")
            got += c.read_until(lambda m: m.type == 9 and not is_video_header(m))
            got += c.read_until(lambda m: m.type == 8 and not (m.payload[1] == 0))
        finally:
            c.close()
    media = [m for m in got if m.type in (8, 9, 18)]
    names = [m.name() for m in media if m.type == 18]
    check("onMetaData" in names, "no onMetaData: %r" % media[:5])
    first_media = next(i for i, m in enumerate(media) if m.type in (8, 9))
    meta_at = next(i for i, m in enumerate(media) if m.name() == "onMetaData")
    check(meta_at < first_media, "onMetaData after media")
    video = [m for m in media if m.type == 9]
    check(is_video_header(video[0]), "first video message is not the AVC sequence header: %r"
          % video[0].payload[:2])
    check(is_keyframe(video[1]), "first video frame is not a keyframe: byte0=0x%02x"
          % video[1].payload[0])
    audio = [m for m in media if m.type == 8]
    check(audio[0].payload[0] >> 4 == 10 and audio[0].payload[1] == 0,
          "first audio message is not the AAC sequence header")
    # The cached GOP, more than a second of it, is replayed under the default sync-method
    # (live-edge) 1 ms apart, up to the live edge (test_join.py has the rest).
    steps = {b.ts - a.ts for a, b in zip(video[1:35], video[2:35])}
    check(len(video) > 35 and steps == {1}, "the cached GOP %d frames %r ms apart"
          % (len(video) - 1, sorted(steps)))


def collect_video(c, n, timeout=20):
    frames = {}
    deadline = time.monotonic() + timeout
    while len(frames) < n:
        m = c.read_message(max(0.001, deadline - time.monotonic()))
        if m.type == 9 and not is_video_header(m):
            frames[m.ts] = m.payload
    return frames


def test_two_players_identical():
    with Server() as s:
        s.wait_video_frames(1)
        a, b = RtmpClient("127.0.0.1", s.port), RtmpClient("127.0.0.1", s.port)
        try:
            a.start_play("live", "stream")
            b.start_play("live", "stream")
            fa, fb = collect_video(a, 60), collect_video(b, 60)
        finally:
            a.close()
            b.close()
    common = sorted(set(fa) & set(fb))
    check(len(common) >= 30, "only %d frames in common" % len(common))
    for ts in common:
        check(fa[ts] == fb[ts], "frame at %d ms differs between the players" % ts)


def expect_closed(c, timeout=10):
    try:
        while True:
            c.read_message(timeout)
    except Closed:
        return
    except TimeoutError:
        fail("the server did not close the connection")


def test_refusals():
    with Server() as s:
        # Unknown stream name.
        c = RtmpClient("127.0.0.1", s.port)
        got = c.start_play("live", "nosuchstream")
        check(got[-1].status_code() == "NetStream.Play.StreamNotFound",
              "play of an unknown stream: %r" % got[-1].status_code())
        expect_closed(c)
        c.close()
        # Unknown app.
        c = RtmpClient("127.0.0.1", s.port)
        c.handshake()
        c.connect("otherapp")
        got = c.read_until(lambda m: m.name() in ("_result", "_error"))
        check(got[-1].name() == "_error" and
              got[-1].status_code() == "NetConnection.Connect.Rejected",
              "connect to an unknown app: %r %r" % (got[-1].name(), got[-1].status_code()))
        expect_closed(c)
        c.close()
        # Publishing.
        c = RtmpClient("127.0.0.1", s.port)
        c.handshake()
        c.connect("live")
        c.read_until(lambda m: m.name() == "_result")
        c.send_command("releaseStream", None, "stream")
        got = c.read_until(lambda m: m.name() in ("_result", "_error"))
        check(got[-1].name() == "_error", "releaseStream was not refused")
        c.send_command("createStream", None)
        c.read_until(lambda m: m.name() == "_result")
        c.send_command("publish", None, "stream", "live", msid=1)
        got = c.read_until(lambda m: m.status_code() is not None)
        check(got[-1].status_code() == "NetStream.Publish.BadName",
              "publish: %r" % got[-1].status_code())
        expect_closed(c)
        c.close()
        # A real player still plays.
        c = RtmpClient("127.0.0.1", s.port)
        c.start_play("live", "stream")
        c.read_until(is_keyframe)
        c.close()
        s.check_no_error()


def test_port_in_use():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        s = Server(port=port)
        ret = s.pipeline.set_state(Gst.State.READY)
        check(ret == Gst.StateChangeReturn.FAILURE, "READY on a busy port returned %r" % ret)
        m = s.bus.pop_filtered(Gst.MessageType.ERROR)
        check(m is not None, "no error message on the bus")
        err, _ = m.parse_error()
        check(err.matches(Gst.ResourceError.quark(), Gst.ResourceError.OPEN_READ_WRITE),
              "error is %s" % err.message)
        check(str(port) in err.message, "message does not name the port: %s" % err.message)
        s.stop()
    finally:
        blocker.close()


def test_restart_with_player():
    s = Server()
    s.start()
    try:
        s.wait_video_frames(1)
        c = RtmpClient("127.0.0.1", s.port)
        c.start_play("live", "stream")
        c.read_until(is_keyframe)
        s.pipeline.set_state(Gst.State.NULL)
        expect_closed(c)  # the player sees the server go away
        c.close()
        check(s.sink.get_property("bound-port") == 0, "bound-port not cleared in NULL")
        s.start()  # PLAYING again: a new ephemeral port
        s.wait_video_frames(1)
        c = RtmpClient("127.0.0.1", s.port)
        c.start_play("live", "stream")
        got = c.read_until(is_keyframe)
        c.close()
        check(any(is_keyframe(m) for m in got), "no keyframe after restart")
        s.check_no_error()
    finally:
        s.stop()


def test_eos_notifies_players():
    s = Server(props="")
    s.start()
    try:
        s.wait_video_frames(1)
        c = RtmpClient("127.0.0.1", s.port)
        c.start_play("live", "stream")
        c.read_until(is_keyframe)
        s.pipeline.send_event(Gst.Event.new_eos())
        got = c.read_until(lambda m: m.status_code() == "NetStream.Play.UnpublishNotify", 15)
        eof = [m for m in got if m.type == 4 and m.payload[:2] == b"\x00\x01"]
        check(eof, "no StreamEOF user control message before UnpublishNotify")
        m = s.bus.timed_pop_filtered(10 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        check(m is not None and m.type == Gst.MessageType.EOS, "the pipeline did not post EOS")
        c.close()
    finally:
        s.stop()


def test_signals_stats_and_remove_client():
    with Server() as s:
        events = []
        s.sink.connect("client-added", lambda e, cid, addr: events.append(("added", cid, addr)))
        s.sink.connect("client-removed",
                       lambda e, cid, why: events.append(("removed", cid, why)))
        s.wait_video_frames(1)
        c = RtmpClient("127.0.0.1", s.port)
        c.start_play("live", "stream")
        c.read_until(is_keyframe)
        wait_for(lambda: events, 5, "client-added")
        kind, cid, addr = events[0]
        check(kind == "added" and addr.startswith("127.0.0.1:"), "first event: %r" % events)
        stats = s.sink.get_property("stats")
        check(stats.get_uint("clients")[1] == 1, "stats clients: %s" % stats.to_string())
        clients = stats.get_value("client-list")
        check(len(clients) == 1 and clients[0].get_uint64("client-id")[1] == cid,
              "client-list: %s" % stats.to_string())
        one = s.sink.emit("get-stats", cid)
        check(one is not None and one.get_uint64("bytes-sent")[1] > 0,
              "get-stats: %s" % (one and one.to_string()))
        check(s.sink.emit("get-stats", cid + 1000) is None, "get-stats of an unknown id")
        s.sink.emit("remove-client", cid)
        expect_closed(c)
        c.close()
        wait_for(lambda: len(events) == 2, 5, "client-removed")
        check(events[1][0] == "removed" and events[1][1] == cid, "events: %r" % events)
        check(s.sink.get_property("stats").get_uint64("disconnects-removed")[1] == 1,
              "disconnects-removed not counted")
        # The same, as element messages on the bus (what gst-launch-1.0 -m prints).
        names = []
        while True:
            m = s.bus.pop_filtered(Gst.MessageType.ELEMENT)
            if not m:
                break
            names.append(m.get_structure().get_name())
        check(names.count("ezrtmp-client-added") == 1 and
              names.count("ezrtmp-client-removed") == 1, "bus messages: %r" % names)


def test_two_elements_one_port():
    # Two renditions of one pipeline on one port, each with its own stream key: one opens the
    # server on a free port, the other is given the port it bound (ezrtest.share_port).
    desc = (
        "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! tee name=t "
        "t. ! queue ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! h264parse "
        "! flvmux streamable=true ! ezrtmpserversink name=hi host=127.0.0.1 port=0 stream-key=hi "
        "t. ! queue ! videoscale ! video/x-raw,width=160,height=120 "
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! h264parse "
        "! flvmux streamable=true ! ezrtmpserversink name=lo host=127.0.0.1 port=0 stream-key=lo")
    p = Gst.parse_launch(desc)
    try:
        port = share_port(p, p.get_bus())
        check(p.set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE,
              "two elements on one port did not start")
        for key, width in (("hi", 320), ("lo", 160)):
            rc, out, err = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json",
                                "rtmp://127.0.0.1:%d/live/%s" % (port, key)], 30)
            check(rc == 0, "ffprobe %s: %s" % (key, err))
            v = [x for x in json.loads(out)["streams"] if x["codec_type"] == "video"]
            check(v and v[0]["width"] == width, "%s: %r" % (key, v))
        # A third element with a key already served on that port is refused at READY.
        dup = Gst.ElementFactory.make("ezrtmpserversink", None)
        dup.set_property("host", "127.0.0.1")
        dup.set_property("port", port)
        dup.set_property("stream-key", "hi")
        bus = Gst.Bus.new()
        dup.set_bus(bus)
        check(dup.set_state(Gst.State.READY) == Gst.StateChangeReturn.FAILURE,
              "a duplicate stream key on the same port was accepted")
        m = bus.pop_filtered(Gst.MessageType.ERROR)
        check(m is not None and "already served" in m.parse_error()[0].message,
              "duplicate error: %s" % (m and m.parse_error()[0].message))
        dup.set_state(Gst.State.NULL)
    finally:
        p.set_state(Gst.State.NULL)
    # The last element gone, the port is free again.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def play_status(port, name):
    """Plays name; returns the final status code, after checking a refusal also closes."""
    c = RtmpClient("127.0.0.1", port)
    try:
        code = c.start_play("live", name)[-1].status_code()
        if code != "NetStream.Play.Start":
            expect_closed(c)
        return code
    except Closed:
        return "closed"
    finally:
        c.close()


def test_access_control():
    with Server(props='allowed-clients="10.0.0.0/8"') as s:
        s.wait_video_frames(1)
        check(play_status(s.port, "stream") == "NetStream.Play.Failed",
              "a client outside allowed-clients could play")
    with Server(props='allowed-clients="10.0.0.0/8, 127.0.0.1/32"') as s:
        s.wait_video_frames(1)
        check(play_status(s.port, "stream") == "NetStream.Play.Start",
              "a client inside allowed-clients was refused")
    with Server(props="play-token=s3cret") as s:
        s.wait_video_frames(1)
        check(play_status(s.port, "stream") == "NetStream.Play.Failed", "no token accepted")
        check(play_status(s.port, "stream?token=wrong") == "NetStream.Play.Failed",
              "a wrong token accepted")
        check(play_status(s.port, "stream?token=s3cret") == "NetStream.Play.Start",
              "the right token refused")
        s.check_no_error()


def test_paused_and_back_keeps_players():
    with Server() as s:
        s.wait_video_frames(1)
        c = RtmpClient("127.0.0.1", s.port)
        c.start_play("live", "stream")
        c.read_until(is_keyframe)
        s.pipeline.set_state(Gst.State.PAUSED)
        s.pipeline.get_state(5 * Gst.SECOND)
        check(s.sink.get_property("stats").get_uint("clients")[1] == 1,
              "the player was dropped in PAUSED")
        s.pipeline.set_state(Gst.State.PLAYING)
        frames = collect_video(c, 30)
        c.close()
        check(len(frames) == 30, "no frames after PAUSED -> PLAYING")
        s.check_no_error()


def hang(msg):
    """Fails when a thread is stuck in a call that never returns: exiting normally would wait
    for it (or for the element it holds) forever."""
    print("FAIL: " + msg, flush=True)
    os._exit(1)


class ArrivalWatcher(threading.Thread):
    """A player reading in its own thread, timing when each video frame arrives (wall clock: a
    stalled server delivers late frames with the right timestamps)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.client = RtmpClient("127.0.0.1", port)
        self.client.start_play("live", "stream")
        self.arrivals = []
        self.closed = threading.Event()

    def run(self):
        try:
            while True:
                m = self.client.read_message(30)
                if m.type == 9 and not is_video_header(m):
                    self.arrivals.append(time.monotonic())
        except (Closed, TimeoutError, OSError):
            pass
        self.closed.set()

    def gaps_over(self, limit_s):
        a = list(self.arrivals)
        return [round(y - x, 3) for x, y in zip(a, a[1:]) if y - x > limit_s]


@alone("no gap over 500 ms for the watching player, NULL within 5 s")
def test_handlers_read_stats_any_time():
    """client-added and client-removed handlers and a pad probe on every buffer read stats and
    emit get-stats (of their player and of a known one) and remove-client, as an embedding app
    may, and the probe removes one player once: (a) that player is removed (client-removed,
    reason "removed by the application") and a watching player keeps receiving frames without a
    gap over 500 ms while players come and go; (b) going to NULL with players connected
    completes, and the client-removed handlers it runs return from their reads."""
    s = Server(gop=30)
    s.start()
    lock = threading.Lock()
    seen = {"added": [], "removed": [], "probe": 0, "probe_known": 0, "probe_kicks": 0}
    # Set by the test, read by the probe and the handlers: the watching player's id (known to
    # play all along) and the player the probe is to remove.
    ids = {"watcher": None, "victim": None}

    def read_everything(sink, cid):
        stats = sink.get_property("stats")
        one = sink.emit("get-stats", cid)
        known = ids["watcher"]
        watched = sink.emit("get-stats", known) if known is not None else None
        sink.emit("remove-client", cid + 1000000)  # no such player
        return stats, one, watched

    def on_added(sink, cid, addr):
        stats, one, watched = read_everything(sink, cid)
        with lock:
            seen["added"].append((cid, stats.get_uint("clients")[1], one is not None,
                                  watched is not None))

    def on_removed(sink, cid, why):
        stats, _, _ = read_everything(sink, cid)
        with lock:
            seen["removed"].append((cid, stats.get_uint64("tags-parsed")[1], why))

    def probe(pad, info):
        s.sink.get_property("stats")
        known = ids["watcher"]
        if known is not None and s.sink.emit("get-stats", known) is not None:
            seen["probe_known"] += 1
        victim = ids["victim"]
        if victim is not None and not seen["probe_kicks"]:
            seen["probe_kicks"] += 1
            s.sink.emit("remove-client", victim)
        seen["probe"] += 1
        return Gst.PadProbeReturn.OK

    s.sink.connect("client-added", on_added)
    s.sink.connect("client-removed", on_removed)
    s.sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, probe)
    s.wait_video_frames(1)
    watcher = ArrivalWatcher(s.port)
    watcher.start()
    wait_for(lambda: len(watcher.arrivals) >= 10, 20, "the watching player's first frames")
    with lock:
        ids["watcher"] = seen["added"][0][0]

    # (a) The probe removes one player, once; then players come and go. Every arrival and
    # departure runs the handlers' reads on the server thread (each stalled every player for
    # 1 s before they were answered at once).
    victim = RtmpClient("127.0.0.1", s.port)
    victim.start_play("live", "stream")
    victim.read_until(is_keyframe)
    wait_for(lambda: len(seen["added"]) == 2, 10, "client-added of the player to remove")
    with lock:
        victim_id = seen["added"][1][0]
    ids["victim"] = victim_id
    expect_closed(victim)
    victim.close()
    wait_for(lambda: len(seen["removed"]) == 1, 10, "client-removed of the removed player")
    with lock:
        removed = list(seen["removed"])
    check(removed[0][0] == victim_id and removed[0][2] == "removed by the application",
          "client-removed after the probe's remove-client: %r" % removed)
    check(seen["probe_kicks"] == 1, "the probe removed %d players" % seen["probe_kicks"])
    check(s.sink.get_property("stats").get_uint64("disconnects-removed")[1] == 1,
          "disconnects-removed not counted")
    for i in range(8):
        c = RtmpClient("127.0.0.1", s.port)
        c.start_play("live", "stream")
        c.read_until(is_keyframe)
        c.close()
    wait_for(lambda: len(seen["removed"]) == 9, 10, "client-removed of the 8 passing players")
    first = len(watcher.arrivals)
    wait_for(lambda: len(watcher.arrivals) >= first + 15, 10, "frames after the churn")
    gaps = watcher.gaps_over(0.5)
    check(not gaps, "the watching player waited over 500 ms for frames: %r" % gaps)
    check(not watcher.closed.is_set(), "the watching player was closed")
    with lock:
        added = list(seen["added"])
    check(len(added) == 10 and all(n >= 1 and one for _, n, one, _ in added),
          "client-added handlers read: %r" % added)
    # Once the watcher's id is known, every handler finds it with get-stats.
    check(all(watched for _, _, _, watched in added[1:]),
          "get-stats of the watching player from client-added: %r" % added)
    check(seen["probe"] > 0 and seen["probe_known"] > 0,
          "the pad probe ran %d times, got the watching player's stats %d times" %
          (seen["probe"], seen["probe_known"]))

    # (b) To NULL with three players connected, in a thread: a hang fails instead of stopping.
    stay = [RtmpClient("127.0.0.1", s.port) for _ in range(2)]
    for c in stay:
        c.start_play("live", "stream")
        c.read_until(is_keyframe)
    wait_for(lambda: len(seen["added"]) == 12, 10, "client-added of the 2 staying players")
    result = []
    t = threading.Thread(target=lambda: result.append(s.pipeline.set_state(Gst.State.NULL)),
                         daemon=True)
    t0 = time.monotonic()
    t.start()
    t.join(10)
    if t.is_alive():
        hang("set_state(NULL) did not return within 10 s while client-removed handlers and the "
             "pad probe read stats")
    took = time.monotonic() - t0
    check(result == [Gst.StateChangeReturn.SUCCESS], "set_state(NULL): %r" % result)
    check(took < 5, "set_state(NULL) took %.1f s" % took)
    with lock:
        added, removed = list(seen["added"]), list(seen["removed"])
    # Every player was removed, the three still connected during the state change; their
    # handlers' reads returned the element's own counters.
    check(sorted(cid for cid, _, _ in removed) == sorted(a[0] for a in added),
          "added %r, removed %r" % (added, removed))
    check(all(tags > 0 for _, tags, _ in removed[9:]),
          "stats read during NULL: %r" % removed[9:])
    check(watcher.closed.wait(10), "the watching player was not closed")
    for c in stay:
        expect_closed(c)
        c.close()
    watcher.client.close()


def test_new_sequence_header_reaches_players():
    """A resolution change mid-stream: a connected player gets the new AVC header (its SPS says
    640x480 where the first said 320x240) followed by a keyframe, and a player joining
    afterwards starts with it."""
    desc = ("videotestsrc is-live=true ! capsfilter name=size "
            "caps=video/x-raw,width=320,height=240,framerate=30/1 "
            "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! h264parse "
            "! flvmux streamable=true ! ezrtmpserversink name=sink host=127.0.0.1 port=0")
    p = Gst.parse_launch(desc)
    sink = p.get_by_name("sink")
    try:
        p.set_state(Gst.State.PLAYING)
        port = sink.get_property("bound-port")
        wait_for(lambda: sink.get_property("stats").get_uint64("keyframes")[1] >= 1, 20,
                 "a keyframe")
        c = RtmpClient("127.0.0.1", port)
        c.start_play("live", "stream")
        old = c.read_until(is_video_header)[-1]
        check(avc_header_size(old) == (320, 240), "the first header's SPS says %r"
              % (avc_header_size(old),))
        c.read_until(is_keyframe)
        headers_before = sink.get_property("stats").get_uint64("sequence-headers")[1]
        p.get_by_name("size").set_property(
            "caps", Gst.Caps.from_string("video/x-raw,width=640,height=480,framerate=30/1"))
        new = c.read_until(is_video_header, 20)[-1]
        check(new.payload != old.payload, "the connected player got the old header again")
        check(avc_header_size(new) == (640, 480), "the new header's SPS says %r"
              % (avc_header_size(new),))
        after = c.read_until(lambda m: m.type == 9 and not is_video_header(m), 10)[-1]
        c.close()
        check(is_keyframe(after), "the new header is followed by a video frame 0x%02x%02x, not "
              "a keyframe" % (after.payload[0], after.payload[1]))
        check(sink.get_property("stats").get_uint64("sequence-headers")[1] > headers_before,
              "the element saw no new sequence header")
        rc, out, err = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json",
                            "rtmp://127.0.0.1:%d/live/stream" % port], 30)
        check(rc == 0, "ffprobe of a new player failed (%d): %s" % (rc, err))
        v = [x for x in json.loads(out)["streams"] if x["codec_type"] == "video"]
        check(v and (v[0]["width"], v[0]["height"]) == (640, 480), "a new player got %r" % v)
    finally:
        p.set_state(Gst.State.NULL)


def test_meson_install():
    """meson install puts the plugin in GStreamer's own plugin directory."""
    build = os.environ["EZRTMP_BUILD_ROOT"]
    with tempfile.TemporaryDirectory() as dest:
        rc, out, err = run(["meson", "install", "-C", build, "--destdir", dest,
                            "--no-rebuild", "--quiet"], 120)
        check(rc == 0, "meson install failed: %s %s" % (out, err))
        pluginsdir = subprocess.run(["pkg-config", "--variable=pluginsdir", "gstreamer-1.0"],
                                    capture_output=True, text=True).stdout.strip()
        installed = dest + pluginsdir + "/libgstezrtmp.so"
        check(os.path.exists(installed), "%s not installed" % installed)
        env = dict(os.environ, GST_PLUGIN_PATH="", GST_PLUGIN_SYSTEM_PATH=dest + pluginsdir,
                   GST_REGISTRY=dest + "/registry.bin")
        p = subprocess.run(["gst-inspect-1.0", "ezrtmpserversink"], capture_output=True,
                           text=True, env=env, timeout=60)
        check(p.returncode == 0 and "bound-port" in p.stdout,
              "gst-inspect of the installed plugin: %s" % p.stderr)


def run_example(cmd):
    """Runs an embedding example for a few seconds with a player connecting; returns its output."""
    p = subprocess.Popen(cmd + ["--port", "0", "--seconds", "6"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        first = p.stdout.readline()
        check(first.startswith("serving rtmp://127.0.0.1:"), "first line: %r" % first)
        port = int(first.split(":")[2].split("/")[0])
        c = RtmpClient("127.0.0.1", port)
        c.start_play("live", "stream")
        c.read_until(is_keyframe)
        c.close()
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check(p.returncode == 0, "example exited with %d: %s" % (p.returncode, err))
    lines = out.splitlines()
    check(any(x.startswith("client-added id=") for x in lines), "no client-added in %r" % lines)
    check(any(x.startswith("client-removed id=") for x in lines), "no client-removed: %r" % lines)
    check(any(x.startswith("stats: clients=") for x in lines), "no stats line: %r" % lines)


def test_example_c():
    run_example([os.environ["EZRTMP_EMBED_C"]])


def test_example_python():
    run_example([sys.executable, os.environ["EZRTMP_EMBED_PY"]])


if __name__ == "__main__":
    run_named_test(globals())
