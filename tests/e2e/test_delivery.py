"""End-to-end tests of how the sink's writes reach players: a player's setup not held by
delayed ACKs, flush-interval batching media, sync=false serving frames ahead of the clock, and
a stalled player cut while another reads on. What is asserted is measured where this process's
threads cannot disturb it: the server's own stats, a player in a process of its own
(bench/ezrload or a Python client started apart), timestamps, or counts.
Run as: test_delivery.py TEST_NAME (meson registers each name as its own test)."""

import json
import os
import socket
import subprocess
import sys
import time
import zlib

from ezrtest import Gst, PLAYER_ENV, LoadPlayer, Server, alone, check, run, run_named_test, wait_for
from rtmpclient import Closed, RtmpClient, is_keyframe, is_video_header
from test_commands import read_window
from test_e2e import collect_video


# Run in a process of its own (rtmpclient.py has no GStreamer), so that no thread of the
# pipeline's process stands between a reply and its reading: N setups with Nagle on, each
# followed by one with TCP_NODELAY, as JSON {"nagle": [ms...], "nodelay": [ms...]}.
SETUP_TIMES = r"""
import json, socket, sys, time
from rtmpclient import RtmpClient
port, n = int(sys.argv[1]), int(sys.argv[2])
def setup_ms(nodelay):
    c = RtmpClient("127.0.0.1", port)
    try:
        c.piecewise = True
        if nodelay:
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.monotonic()
        got = c.start_play("live", "stream")
        assert got[-1].status_code() == "NetStream.Play.Start", got[-1].status_code()
        return (time.monotonic() - t0) * 1000
    finally:
        c.close()
out = {"nagle": [], "nodelay": []}
for _ in range(n):
    out["nagle"].append(setup_ms(False))
    out["nodelay"].append(setup_ms(True))
print(json.dumps(out))
"""


# The kernel's shortest delayed ACK (TCP_DELACK_MIN): a setup held by one takes at least this.
DELAYED_ACK_MS = 40


@alone("the quickest setup under 40 ms")
def test_nagle_player_setup_not_held_by_delayed_acks():
    """A player with Nagle on (ffmpeg's RTMP client, so ffplay and mpv) writes C2 and then each
    command in small pieces, each held until the one before is acknowledged. The server
    acknowledges at once until the player plays, so its setup is not held by the kernel's
    delayed ACK: with it the setup took 131 ms against 0.2 (a 40 ms wait before each reply to
    connect, createStream and play), so every setup took over 40 ms. Of 7 setups (in a process
    of their own, taking turns with a TCP_NODELAY player's), the quickest must take under 40 ms:
    a busy machine can slow some, but to put all seven over 40 ms it would have to stall every
    one, which the delayed ACK did and nothing else here does."""
    with Server(gop=30) as s:
        s.wait_video_frames(5)
        env = dict(PLAYER_ENV, PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
        p = subprocess.run([sys.executable, "-c", SETUP_TIMES, str(s.port), "7"],
                           capture_output=True, text=True, timeout=60, env=env)
        check(p.returncode == 0, "the setup player failed: %s" % p.stderr[-2000:])
        times = json.loads(p.stdout)
        nagle, nodelay = times["nagle"], times["nodelay"]
        print("setup ms, Nagle on: %s; TCP_NODELAY: %s" % (
            " ".join("%.1f" % x for x in nagle), " ".join("%.1f" % x for x in nodelay)))
        check(min(nagle) < DELAYED_ACK_MS,
              "every setup of a Nagle player took %.1f ms or more (TCP_NODELAY: %.1f at "
              "least): held by delayed ACKs" % (min(nagle), min(nodelay)))
        s.check_no_error()


@alone("the first keyframe within a second, the median send latency")
def test_flush_interval_in_ms_batches_media_and_starts_players_at_once():
    """flush-interval=350: ffprobe, a real player, reads both tracks; a player's first keyframe
    (the join burst) comes at once, and its live media waits for the flush: the server's own
    measure of how long a frame waited from its push to its write (send-latency-p50-us, the
    last one to two seconds, join bursts not counted) is 100 ms or more (about 150 here), where
    at the default video goes at once. The player is bench/ezrload in a process of its own, its
    first keyframe timed from its connect."""
    with Server(props="flush-interval=350") as s:
        s.wait_video_frames(35)
        rc, out, err = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", s.url()], 30)
        check(rc == 0, "ffprobe failed (%d): %s" % (rc, err))
        kinds = sorted(x["codec_name"] for x in json.loads(out)["streams"])
        check(kinds == ["aac", "h264"], "streams: %r" % kinds)
        with LoadPlayer(s.url(), gap_ms=2000) as player:
            wait_for(lambda: s.stat("clients") == 1, 10, "the player to play")
            # Two windows of the server's meter with this player alone.
            frames = s.stat("video-frames")
            s.wait_video_frames(frames + 75, 20)
            p50, p99 = s.stat("send-latency-p50-us"), s.stat("send-latency-p99-us")
            r = player.stop()
        s.check_no_error()
    print("first keyframe %s ms after connect; send latency p50 %.0f ms, p99 %.0f ms; %d video "
          "messages" % (r["ttfk_ms"]["max"], p50 / 1000, p99 / 1000, r["video_msgs"]),
          flush=True)
    check(r["got_keyframe"] == 1 and r["first_video_not_key"] == 0 and r["dropped"] == 0,
          "the player did not play from a keyframe: %r" % r)
    # Held for the interval, the first keyframe would come up to 350 ms late.
    check(r["ttfk_ms"]["max"] < 1000, "the first keyframe took %d ms" % r["ttfk_ms"]["max"])
    check(p50 >= 100 * 1000, "media waited %.0f ms (median) from push to write: not batched"
          % (p50 / 1000))


# A source an hour ahead of the clock: a sink that syncs renders none of it during a test.
AHEAD_PIPELINE = (
    "videotestsrc is-live=false timestamp-offset=3600000000000 pattern=ball "
    "! video/x-raw,width=320,height=240,framerate=30/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=500 "
    "! h264parse ! flvmux name=mux streamable=true "
    "! ezrtmpserversink name=sink host={host} port={port} {props}")


def test_sync_false_and_latency():
    """sync=false serves frames as they come, not when the clock reaches them: of a source whose
    timestamps are an hour ahead, the sink renders 90 frames and a player gets 30 of them, where
    with sync=true it renders none (prerolled, it waits for the clock) and the player gets only
    the headers. Latency queries are answered as GstBaseSink does (live with sync=true)."""
    with Server(pipeline=AHEAD_PIPELINE, props="sync=false") as s:
        s.wait_video_frames(90)
        c = RtmpClient("127.0.0.1", s.port)
        try:
            c.start_play("live", "stream")
            frames = collect_video(c, 30)
        finally:
            c.close()
        check(len(frames) == 30, "sync=false: %d frames" % len(frames))
        s.check_no_error()
    with Server(pipeline=AHEAD_PIPELINE, props="sync=true") as s:
        ret, _, _ = s.pipeline.get_state(20 * Gst.SECOND)
        check(ret == Gst.StateChangeReturn.SUCCESS, "sync=true: no preroll (%s)" % ret)
        c = RtmpClient("127.0.0.1", s.port)
        try:
            got = c.start_play("live", "stream")
            got += read_window(c, 1.0)
        finally:
            c.close()
        media = [m for m in got if m.type in (8, 9) and not is_video_header(m)]
        check(not media, "sync=true: %d media messages of frames an hour ahead of the clock"
              % len(media))
        check(s.stat("renders") == 0, "sync=true: %d renders" % s.stat("renders"))
        s.check_no_error()
    for sync in (True, False):
        with Server(props="sync=%s" % ("true" if sync else "false")) as s:
            s.wait_video_frames(1)
            q = Gst.Query.new_latency()
            check(s.sink.query(q), "sync=%s: latency query not answered" % sync)
            live, minimum, _ = q.parse_latency()
            if sync:
                check(live and minimum > 0, "sync=true: live=%s min=%d" % (live, minimum))
            s.check_no_error()


@alone("no gap over 500 ms for the other player")
def test_stalled_player_disconnected_others_unaffected():
    """A player that stops reading climbs the queue tiers and is disconnected as too slow; what
    it did get never has an inter frame after a frame the server dropped for it; a player beside
    it sees no gap. The frames the other player got, all of them in order, tell which the server
    dropped: a busy machine's source can skip a frame for everyone, which is no drop."""
    props = ("queue-warning-bytes=20000 queue-high-bytes=40000 queue-max-bytes=60000 "
             "client-timeout=0 send-buffer-size=16384")
    with Server(props=props) as s:
        removed = []
        s.sink.connect("client-removed", lambda e, cid, why: removed.append(why))
        s.wait_video_frames(1)
        stalled = RtmpClient("127.0.0.1", s.port, rcvbuf=4096)
        stalled.start_play("live", "stream")
        good = RtmpClient("127.0.0.1", s.port)
        good.start_play("live", "stream")
        # The good player reads on until the stalled one is gone, plus one more second.
        last, gaps, frames = None, [], 0
        order = {}  # payload CRC -> its place among the good player's video frames
        deadline = time.monotonic() + 40
        gone_at = None
        while time.monotonic() < deadline:
            m = good.read_message(5)
            if m.type != 9 or is_video_header(m):
                continue
            order.setdefault(zlib.crc32(m.payload), frames)
            frames += 1
            if last is not None and m.ts - last > 500:
                gaps.append((last, m.ts))
            last = m.ts
            if removed and gone_at is None:
                gone_at = m.ts
            if gone_at is not None and m.ts - gone_at > 1000:
                break
        good.close()
        check(removed, "the stalled player was never disconnected")
        check("slow" in removed[0], "stalled player removed for: %r" % removed)
        check(not gaps, "the good player saw gaps over 500 ms: %r" % gaps)
        stats = s.sink.get_property("stats")
        check(stats.get_uint64("disconnects-slow")[1] == 1, "disconnects-slow: %s"
              % stats.to_string())
        dropped = (stats.get_uint64("frames-dropped-warning")[1] +
                   stats.get_uint64("frames-dropped-high")[1])
        check(dropped > 0, "no frame was dropped before the disconnect")
        # What the stalled player was sent: after any hole in the video, a keyframe first.
        stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        video = []
        try:
            while True:
                m = stalled.read_message(5)
                if m.type == 9 and not is_video_header(m):
                    video.append(m)
        except (Closed, TimeoutError):
            pass
        stalled.close()
        check(video and is_keyframe(video[0]), "stalled player's first frame is not a keyframe")
        places = [order.get(zlib.crc32(m.payload)) for m in video]
        check(None not in places, "the stalled player got frames the other never did: %r"
              % [m.ts for m, p in zip(video, places) if p is None][:5])
        holes = 0
        for (a, pa), (b, pb) in zip(zip(video, places), zip(video[1:], places[1:])):
            check(pb > pa, "the stalled player's frames out of order at %d ms" % b.ts)
            if pb > pa + 1:  # frames the server dropped for the stalled player
                holes += 1
                check(is_keyframe(b), "inter frame at %d ms after %d frames dropped from %d ms"
                      % (b.ts, pb - pa - 1, a.ts))
        print("the stalled player got %d video frames, resumed on a keyframe after each of %d "
              "holes" % (len(video), holes), flush=True)


if __name__ == "__main__":
    run_named_test(globals())
