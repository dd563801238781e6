"""Late joiners under each sync-method (docs/join.md), with streams like users send and real
players: rtmpclient.py players whose timestamps give a timestamp-paced player's latency behind
live, ffmpeg decoding a late join with -v error, ffprobe on the frames of a B-frame stream,
HTTP-FLV, and an nginx-rtmp edge pulling from us.

What is asserted here is what the server sends, read from the messages' order and timestamps,
which no busy machine changes. How soon it comes (the first keyframe's delay after the connect,
a real player's latency behind live in wall-clock time) is a speed, measured by bench/join.py
(the model player, rtmp2src, mpv and chromium; bench/JOIN.md) and bench/ttfk_probe.py, not
asserted by a Python reader in the pipeline's process.

The 720p30 2 Mbps 4 s GOP streams are FLV fixtures (test_streams.py encodes them once) served at
real-time rate with sync=true, so a joiner "3.5 s after a keyframe" is one at frame 105.

Run as: test_join.py CASE (meson registers each case as its own test)."""

import json
import os
import socket
import tempfile
import threading
import time
import zlib

from ezrtest import Server, alone, check, decode_errors, run, run_named_test
from rtmpclient import RtmpClient, is_keyframe, is_video_header
from edges import nginx_edge
from test_streams import AUDIO_TRACK, FPS, VIDEO_TRACK, serve

# The targets, in the stream's time: what the timestamps sent give a player that presents
# frames at their timestamps' pace.
LATENCY_ABOVE_KEYFRAME_JOIN_MS = 250  # a mid-GOP joiner's latency above a right-after-key one's
AV_SPREAD_MS = 150  # newest audio vs newest video timestamp a player holds


class Watcher(threading.Thread):
    """An RTMP player that records every media message, from its connect until the stream's
    sink has rendered `until_frame` video frames. Errors are kept for the main thread
    (check()). The arrival times it keeps are not measured against anything."""

    def __init__(self, s, name, until_frame):
        super().__init__(daemon=True)
        self.s, self.name, self.until_frame = s, name, until_frame
        self.msgs = []  # (arrival, type, ts, keyframe, header, payload crc)
        self.error = None
        self.t_connect = None
        self.joined_frame = None

    def run(self):
        try:
            self.joined_frame = self.s.stat("video-frames")
            self.t_connect = time.monotonic()
            c = RtmpClient("127.0.0.1", self.s.port)
            try:
                c.start_play("live", self.name)
                while self.s.stat("video-frames") < self.until_frame:
                    m = c.read_message(5)
                    if m.type in (8, 9):
                        header = is_video_header(m) if m.type == 9 else m.payload[1] == 0
                        self.msgs.append((time.monotonic(), m.type, m.ts,
                                          m.type == 9 and is_keyframe(m), header,
                                          zlib.crc32(m.payload[5:] if m.type == 9 else
                                                     m.payload[2:])))
            finally:
                c.close()
        except Exception as e:  # reported by the main thread
            self.error = e

    def check(self):
        self.join(60)
        check(not self.is_alive(), "%s: still reading" % self.name)
        check(self.error is None, "%s: %r" % (self.name, self.error))

    def frames(self, mtype):
        return [m for m in self.msgs if m[1] == mtype and not m[4]]


def check_clean_timeline(w):
    """Timestamps never go backwards (video strictly forward, audio may repeat one: flvmux's),
    and from the first audio on the newest audio and video a player holds stay close."""
    for mtype, what in ((9, "video"), (8, "audio")):
        ts = [m[2] for m in w.frames(mtype)]
        check(ts, "%s: no %s" % (w.name, what))
        back = [(a, b) for a, b in zip(ts, ts[1:]) if b < a or (mtype == 9 and b == a)]
        check(not back, "%s: %s timestamps go back: %r" % (w.name, what, back[:5]))
    newest = {8: None, 9: None}
    worst = 0
    for m in w.msgs:
        if m[4]:
            continue
        newest[m[1]] = m[2]
        if newest[8] is not None and newest[9] is not None:
            worst = max(worst, abs(newest[8] - newest[9]))
    check(worst <= AV_SPREAD_MS, "%s: newest audio and video timestamps %d ms apart"
          % (w.name, worst))
    return worst


def replay_end(w):
    """The index in w.frames(9) of the newest frame the server had when w joined: the last of
    the join's replay. The live-edge replay squeezes the cached GOP into frames 1 ms apart and
    ends at that frame's own timestamp; the live frames after it are a frame duration apart
    (33 ms at 30 fps). A replay of the keyframe alone ends where it starts."""
    ts = [m[2] for m in w.frames(9)]
    i = 0
    while i + 1 < len(ts) and ts[i + 1] - ts[i] < 1000 / FPS / 2:
        i += 1
    return i


def stream_latency_ms(w):
    """How far behind live a player that presents frames at their timestamps' pace (ffplay,
    VLC and OBS by default) plays, in the stream's time, when the join burst reaches it at
    once: it starts with the first frame when the newest one was live, so it stays the
    timestamps between them behind (the wall-clock figure, delivery included, is
    bench/join.py's)."""
    frames = w.frames(9)
    return frames[replay_end(w)][2] - frames[0][2]


def join_at_frame(s, frame):
    s.wait_video_frames(frame, 40)


@alone("how far behind live each joiner plays")
def test_live_edge_720p30_gop4_model_player_at_live_edge():
    """Three players of a 720p30 2 Mbps 4 s GOP stream (tune=zerolatency): live-edge and
    latest-keyframe joining 3.5 s after a keyframe, live-edge right after the next one. The
    mid-GOP live-edge joiner gets the GOP from its keyframe, every frame of it (the
    latest-keyframe joiner's, at their own timestamps, tell which), squeezed so that the replay
    ends at the newest frame's own timestamp: a timestamp-paced player is then at most 250 ms
    further behind live than the right-after-keyframe joiner, where the latest-keyframe joiner
    is 3 s or more behind. Timestamps never go back; audio and video stay together."""
    gop = 4 * FPS
    with serve("720p30_2mbps_gop4", VIDEO_TRACK + AUDIO_TRACK) as s:
        end = gop + int(5.3 * FPS) + 1  # 5 s after the right-after-keyframe join, and a margin
        join_at_frame(s, int(3.5 * FPS) + 1)
        mid = Watcher(s, "stream", end)
        old = Watcher(s, "stream?sync-method=latest-keyframe", end)
        mid.start()
        old.start()
        join_at_frame(s, gop + 1)
        key = Watcher(s, "stream", end)
        key.start()
        for w in (mid, old, key):
            w.check()
        built = s.stat("replays-built")
        s.check_no_error()
    # The latest-keyframe joiner's frames are at their own timestamps: by payload, the source
    # timestamp of every frame the others got.
    source = {m[5]: m[2] for m in old.frames(9)}
    lat = {w: stream_latency_ms(w) for w in (mid, key)}
    n = replay_end(mid)
    frames = mid.frames(9)
    newest = frames[n]
    # The latest-keyframe joiner behind the newest frame of the same moment, in stream time.
    lat[old] = newest[2] - old.frames(9)[0][2]
    print("joined at frames %d (live-edge, latest-keyframe) and %d (live-edge); in the "
          "stream's time a timestamp-paced player is %d ms, %d ms and %d ms behind live; the "
          "mid-GOP replay: %d frames over %d ms; replays built: %d" % (
              mid.joined_frame, key.joined_frame, lat[mid], lat[old], lat[key], n + 1,
              newest[2] - frames[0][2], built), flush=True)
    check(frames[0][3] and frames[0][5] in source and
          source[frames[0][5]] == old.frames(9)[0][2],
          "the mid-GOP joiner does not start on the GOP's keyframe")
    # Every frame from the keyframe to the newest, in order: the cache's frames as the
    # latest-keyframe joiner got them at their own timestamps.
    replay = [source.get(m[5]) for m in frames[:n + 1]]
    check(replay == [m[2] for m in old.frames(9)][:n + 1],
          "the replay is not the cached GOP, every frame in order: %r" % replay[:10])
    check(newest[2] == source[newest[5]], "the replay ends at %d ms, its newest frame's own "
          "timestamp is %d ms" % (newest[2], source[newest[5]]))
    check(source[newest[5]] - replay[0] >= 3000, "the mid-GOP joiner's replay covers only "
          "%d ms of the GOP" % (source[newest[5]] - replay[0]))
    live = frames[n + 1:]
    check(live and all(m[2] == source.get(m[5]) for m in live),
          "the frames after the replay are not at their own timestamps")
    check(lat[mid] <= lat[key] + LATENCY_ABOVE_KEYFRAME_JOIN_MS,
          "live-edge mid-GOP joiner %d ms behind live, right after a keyframe %d ms"
          % (lat[mid], lat[key]))
    # The gap the live edge closes: the replay at its own timestamps stays behind.
    check(lat[old] >= 3000, "latest-keyframe joiner only %d ms behind live" % lat[old])
    for w in (mid, old, key):
        check(w.frames(9)[0][3], "%s: the first video frame is not a keyframe" % w.name)
        spread = check_clean_timeline(w)
        print("%s: %d video, %d audio frames, newest audio and video at most %d ms apart"
              % (w.name, len(w.frames(9)), len(w.frames(8)), spread), flush=True)
    check(built >= 2, "replays-built is %d for two live-edge joins at two moments" % built)


# Decoding to nothing: every frame is decoded (a decoder error is reported at -v error), and
# the output keeps what has a time of its own in the output's time base. The null muxer takes
# the stream's frame rate for that time base (1/30 s), where the replay's frames 1 ms apart
# share a tick: passed through as they are (the null muxer's default), ffmpeg calls them
# non-increasing; a player or a muxer of 1 ms ticks (FLV) has no such trouble (docs/join.md).
DECODE_TO_NULL = ["-fps_mode", "vfr", "-f", "null", "-"]


def ffmpeg_late_join(name, join_frame, seconds, out=None):
    """ffmpeg -v error playing a late join for `seconds` (decoding it, or copying it to out);
    returns the stream's replays-built after."""
    with serve(name, VIDEO_TRACK + AUDIO_TRACK) as s:
        join_at_frame(s, join_frame)
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", s.url(), "-t", str(seconds)]
        cmd += ["-c", "copy", "-y", out] if out else DECODE_TO_NULL
        t0 = time.monotonic()
        rc, _, err = run(cmd, seconds + 30)
        print("%s joined at frame %d: ffmpeg ran %.1f s" % (name, join_frame,
                                                            time.monotonic() - t0), flush=True)
        check(rc == 0, "ffmpeg failed (%d): %s" % (rc, err))
        check(not decode_errors(err), "ffmpeg reported: %s" % decode_errors(err))
        built = s.stat("replays-built")
        s.check_no_error()
    check(built >= 1, "no replay built for ffmpeg's join")
    return built


def test_live_edge_720p30_gop4_ffmpeg_decodes_late_join():
    ffmpeg_late_join("720p30_2mbps_gop4", int(3.5 * FPS) + 1, 5)


def frames_of(path):
    """Decoded frames of a file, in the order the decoder outputs them: (pts, pict_type)."""
    rc, out, err = run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_frames",
                        "-show_entries", "frame=pts,pict_type", "-of", "json", path], 120)
    check(rc == 0 and not decode_errors(err), "ffprobe %s: %s" % (path, err))
    return [(int(f["pts"]), f["pict_type"]) for f in json.loads(out)["frames"]
            if f.get("pts") is not None]


def test_live_edge_bframes_presented_in_order():
    """x264 bframes=2 (no tune=zerolatency): the retimed replay's composition offsets are
    squeezed with its timestamps, so ffmpeg decodes the late join into frames whose
    presentation times rise in output order, through the replay and into the live frames.
    ffmpeg is started 2.5 s into a 4 s GOP: however long it takes to start on a busy machine,
    up to 1.5 s, it joins that GOP, and its replay (a second of the GOP or more, B-frames
    among it) is presented 1 ms apart."""
    # In the second GOP: flvmux stamps the first frames of a B-frame stream with repeated
    # times of its own (decoding and presentation), which no retiming can order.
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "join.flv")
        ffmpeg_late_join("720p30_2mbps_gop4_bframes", 4 * FPS + int(2.5 * FPS) + 1, 3.5, out)
        frames = frames_of(out)
    types = "".join(t for _, t in frames)
    pts = [p for p, _ in frames]
    # The replay: the frames presented 1 ms apart from the first on.
    replay = 1
    while replay < len(pts) and pts[replay] - pts[replay - 1] == 1:
        replay += 1
    print("%d frames decoded, %d B-frames; the replay %d frames, %d B-frames; first 12 "
          "presentation times %r" % (len(frames), types.count("B"), replay,
                                     types[:replay].count("B"), pts[:12]), flush=True)
    check(replay >= FPS, "a replay of %d frames 1 ms apart, not a second of the GOP or more "
          "(ffmpeg joined after the next keyframe?): %r" % (replay, pts[:12]))
    check(types[:replay].count("B") >= replay // 3, "few B-frames in the replay: %s"
          % types[:replay])
    check(types.count("B") >= len(frames) // 3, "few B-frames: %s" % types[:60])
    check(len(frames) >= replay + 2 * FPS, "only %d frames decoded" % len(frames))
    back = [(i, a, b) for i, (a, b) in enumerate(zip(pts, pts[1:])) if b <= a]
    check(not back, "presentation times out of order at %r" % back[:5])


@alone("how far behind live the joiner plays")
def test_live_edge_1080p30_20mbps_gop2_snow():
    """1080p30 20 Mbps snow, 2 s GOP, joined 1.5 s into a GOP: ffmpeg decodes it with no error;
    a player's replay starts on a keyframe and its timestamps put a timestamp-paced player at
    most 250 ms behind live; and what decoding the retimed GOP costs a player: ffmpeg's time to
    decode those frames, which their timestamps squeeze into ms (printed: a speed, bench/
    join.py's to judge)."""
    join = int(3.5 * FPS) + 1
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "join.flv")
        ffmpeg_late_join("1080p30_20mbps_gop2", join, 3, out)
        replay = (join - 1) % (2 * FPS) + 1
        took = {}
        for n in (1, replay):  # ffmpeg's start and the keyframe, then the whole replay
            t0 = time.monotonic()
            # Video alone (-an): the replay has no audio, which comes after it in the file, so
            # ffmpeg stopping at the first frame would not have seen the audio's format.
            rc, _, err = run(["ffmpeg", "-nostdin", "-v", "error", "-threads", "1", "-i", out,
                              "-an", "-frames:v", str(n)] + DECODE_TO_NULL, 120)
            took[n] = (time.monotonic() - t0) * 1000
            check(rc == 0, "decoding the recording failed: %s" % err)
    print("decoding the %d-frame retimed replay took ffmpeg (one thread) %.0f ms more than its "
          "keyframe alone (%.0f ms with its start), where their timestamps give %d ms: a "
          "decoding player shows live about that much later" % (
              replay, took[replay] - took[1], took[1], replay - 1), flush=True)
    with serve("1080p30_20mbps_gop2", VIDEO_TRACK + AUDIO_TRACK) as s:
        join_at_frame(s, join)
        w = Watcher(s, "stream", join + int(5.3 * FPS))
        w.start()
        w.check()
    lat = stream_latency_ms(w)
    spread = check_clean_timeline(w)
    print("a join 1.5 s into a 2 s GOP: a %d-frame replay, a timestamp-paced player %d ms "
          "behind live in the stream's time; audio and video at most %d ms apart"
          % (replay_end(w) + 1, lat, spread), flush=True)
    check(w.frames(9)[0][3], "the first video frame is not a keyframe")
    check(replay_end(w) + 1 >= FPS, "a replay of %d frames for a join 1.5 s into the GOP"
          % (replay_end(w) + 1))
    check(lat <= LATENCY_ABOVE_KEYFRAME_JOIN_MS, "%d ms behind live" % lat)


def test_next_keyframe_waits_with_audio_for_the_keyframe():
    """next-keyframe: metadata and headers at once, then nothing until the next keyframe, which
    comes first, audio only after it."""
    with Server(gop=60) as s:
        s.wait_video_frames(60 + 35)
        # A player of the cache beside it, for the keyframe the cache starts on.
        cached = RtmpClient("127.0.0.1", s.port)
        c = RtmpClient("127.0.0.1", s.port)
        try:
            cached.start_play("live", "stream?sync-method=latest-keyframe")
            got = c.start_play("live", "stream?sync-method=next-keyframe")
            old_key = cached.read_until(lambda m: m.type == 9 and not is_video_header(m), 10)[-1]
            got += c.read_until(lambda m: m.type == 9 and not is_video_header(m), 10)
            got += c.read_until(lambda m: m.type == 8 and m.payload[1] != 0, 10)
        finally:
            c.close()
            cached.close()
    media = [m for m in got if m.type in (8, 9)]
    heads = [m for m in media if is_video_header(m) or (m.type == 8 and m.payload[1] == 0)]
    check(len(heads) == 2 and media[:2] == heads, "headers first: %r" % media[:3])
    first = media[2]
    check(first.type == 9 and is_keyframe(first), "after the headers: %r" % first)
    check(first.ts >= old_key.ts + 1900, "keyframe at %d ms, the cached one at %d ms"
          % (first.ts, old_key.ts))
    check(media[3].type == 8, "audio after the keyframe: %r" % media[3])


def flv_tags(port, path, n):
    """The first n audio and video tags of an HTTP-FLV answer: (type, ts, body bytes 0 and 1);
    the answer's bytes instead when it is not a 200."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % path.encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += sock.recv(65536)
        head, buf = buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 200"):
            return head + b"\r\n\r\n" + buf + sock.recv(65536)
        pos, tags = 13, []
        while len(tags) < n:
            while len(buf) < pos + 11 or len(buf) < pos + 15 + int.from_bytes(
                    buf[pos + 1:pos + 4], "big"):
                d = sock.recv(65536)
                check(d, "HTTP-FLV answer ended")
                buf += d
            size = int.from_bytes(buf[pos + 1:pos + 4], "big")
            ts = int.from_bytes(buf[pos + 4:pos + 7], "big") | buf[pos + 7] << 24
            if buf[pos] in (8, 9):
                tags.append((buf[pos], ts, buf[pos + 11], buf[pos + 12]))
            pos += 15 + size
        return tags
    finally:
        sock.close()


def test_sync_method_in_http_flv_query():
    """/live/stream.flv plays live-edge (the cached video 1 ms apart), ?sync-method=
    latest-keyframe the cache at its own timestamps (33 ms apart), as does the plain URL when
    the element's sync-method is latest-keyframe; an unknown method is refused with a 400 saying
    which methods there are."""
    with Server(gop=60, props="http=true") as s:
        s.wait_video_frames(60 + 35)
        edge = flv_tags(s.port, "/live/stream.flv", 12)
        old = flv_tags(s.port, "/live/stream.flv?sync-method=latest-keyframe", 12)
        bad = flv_tags(s.port, "/live/stream.flv?sync-method=fast", 0)
    # The element's property is the default the query overrides.
    with Server(gop=60, props="http=true sync-method=latest-keyframe") as s:
        s.wait_video_frames(60 + 35)
        prop = flv_tags(s.port, "/live/stream.flv", 12)
    for name, tags, step in (("live-edge", edge, 1), ("latest-keyframe", old, 33),
                             ("the property's latest-keyframe", prop, 33)):
        video = [t for t in tags if t[0] == 9 and t[3] == 1]  # AVC NAL units
        check(video and video[0][2] == 0x17, "%s: first frame not a keyframe: %r"
              % (name, tags))
        gaps = [b[1] - a[1] for a, b in zip(video, video[1:])]
        # At their own timestamps: never the replay's 1 ms, and a frame interval on average (a
        # live source on a loaded machine stamps a frame up to half an interval early or late).
        own = gaps and all(g > 1 for g in gaps) and sum(gaps) >= 0.75 * step * len(gaps)
        check(all(g == 1 for g in gaps) if step == 1 else own,
              "%s: video %r ms apart" % (name, gaps))
        if step == 1:  # the audio header, but no cached audio frame
            check(not [t for t in tags if t[0] == 8 and t[3] == 1],
                  "live-edge replayed audio: %r" % tags)
    check(bad.startswith(b"HTTP/1.1 400 ") and b"unknown sync-method: latest-keyframe, "
          b"next-keyframe or live-edge" in bad, "unknown method answered %r" % bad[:300])


def test_nginx_edge_relays_a_live_edge_late_join():
    """nginx-rtmp pulling from us joins mid-GOP under the default (it is a late joiner itself,
    pacing nothing): ffmpeg through the edge decodes with no error."""
    with Server(gop=60) as s:
        s.wait_video_frames(60 + 45)
        with nginx_edge(s.port) as edge_port:
            rc, _, err = run(["ffmpeg", "-nostdin", "-v", "error", "-i",
                              "rtmp://127.0.0.1:%d/live/stream" % edge_port, "-t", "3"] +
                             DECODE_TO_NULL, 40)
            check(rc == 0, "ffmpeg through nginx failed: %s" % err)
            check(not decode_errors(err), "ffmpeg through nginx: %s" % decode_errors(err))
            check(s.stat("replays-built") >= 1, "nginx did not join under live-edge")


if __name__ == "__main__":
    run_named_test(globals())
