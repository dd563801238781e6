"""Realistic streams (720p to 20 Mbps, 2 and 4 s GOPs, audio-only, video-only) played by a late
joiner recording with rtmpdump: it must get the cached GOP whole and every frame after it.

The streams are encoded once, offline, into FLV fixtures in the build directory (x264 cannot
encode 1080p noise at 8 Mbps in real time on a small machine), then served at real-time rate by
filesrc ! flvdemux ! flvmux ! ezrtmpserversink sync=true, so the sink paces them as a live
encoder would deliver them.

Run as: test_streams.py CASE (meson registers each case as its own test)."""

import fcntl
import json
import os
import subprocess
import tempfile
import time

from ezrtest import (PLAYER_ENV, Server, alone, check, fail, run, run_named_test, stop_rtmpdump,
                     wait_for)

FPS = 30
AUDIO_RATE = 48000
AUDIO_KBPS = 128
AAC_FRAME = 1024  # samples per AAC frame
TOLERANCE = 0.25  # the measured bitrate may be this far from the target, either way

# name -> size, video bitrate, keyframe interval, length. Snow (per-pixel noise) cannot be
# compressed, so x264 really spends the bitrate asked for; a test pattern would come out at a
# fraction of it.
FIXTURES = {
    "720p30_4mbps_gop2": dict(width=1280, height=720, kbps=4000, gop_s=2, seconds=10),
    "1080p30_8mbps_gop4": dict(width=1920, height=1080, kbps=8000, gop_s=4, seconds=18),
    "1080p30_20mbps_gop2": dict(width=1920, height=1080, kbps=20000, gop_s=2, seconds=10),
    # The late joiners of test_join.py: a low-latency encoder's stream, and one with B-frames.
    "720p30_2mbps_gop4": dict(width=1280, height=720, kbps=2000, gop_s=4, seconds=12,
                              x264="tune=zerolatency"),
    "720p30_2mbps_gop4_bframes": dict(width=1280, height=720, kbps=2000, gop_s=4, seconds=12,
                                      x264="bframes=2"),
}

# The served pipeline: demuxed and muxed again so every buffer carries its timestamp and the sink
# (sync=true) renders it at its time. {tracks} links the demuxer's pads to the muxer.
SERVE = ("filesrc location=\"{path}\" ! flvdemux name=d flvmux name=m streamable=true "
         "! ezrtmpserversink name=sink host=127.0.0.1 port={{port}} sync=true {{props}} {tracks}")
VIDEO_TRACK = "d.video ! queue ! h264parse ! m.video "
AUDIO_TRACK = "d.audio ! queue ! aacparse ! m.audio "


def fixture_dir():
    # EZRTMP_FIXTURES lets several builds share one set (scripts/test.sh: the poll build reuses
    # the default build's), so each fixture is encoded once per checkout.
    d = os.environ.get("EZRTMP_FIXTURES") or os.path.join(
        os.environ.get("EZRTMP_BUILD_ROOT", tempfile.gettempdir()), "e2e-streams")
    os.makedirs(d, exist_ok=True)
    return d


def probe_packets(path):
    """(video, audio) packets of an FLV file as dicts with dts (ms), size and key."""
    rc, out, err = run(["ffprobe", "-v", "error", "-show_packets", "-show_entries",
                        "packet=codec_type,dts,size,flags", "-of", "json", path], 120)
    check(rc == 0, "ffprobe %s failed: %s" % (path, err))
    video, audio = [], []
    for p in json.loads(out).get("packets", []):
        if p.get("dts") is None:
            continue
        pkt = {"dts": int(p["dts"]), "size": int(p["size"]), "key": "K" in p.get("flags", "")}
        (video if p["codec_type"] == "video" else audio).append(pkt)
    return video, audio


def kbps(packets, step_ms):
    """Bitrate of packets spaced step_ms apart: their bytes over the time they cover."""
    span = packets[-1]["dts"] - packets[0]["dts"] + step_ms
    return sum(p["size"] for p in packets) * 8 / span


def fixture(name):
    """The path of fixture name, encoded on first use. A lock keeps two tests from encoding the
    same file; the first to hold it writes it, the others find it done."""
    f = FIXTURES[name]
    path = os.path.join(fixture_dir(), name + ".flv")
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(path):
            encode(path, f)
    return path


def encode(path, f):
    part = path + ".part"
    gop = f["gop_s"] * FPS
    # scenecut=0: keyframes exactly every gop frames (noise would look like a scene cut to x264).
    launch = (
        "videotestsrc num-buffers={frames} pattern=snow "
        "! video/x-raw,width={width},height={height},framerate={fps}/1 "
        "! x264enc bitrate={kbps} key-int-max={gop} speed-preset=ultrafast {x264} "
        "option-string=scenecut=0 ! h264parse ! flvmux name=m ! filesink location={part} "
        "audiotestsrc num-buffers={aframes} samplesperbuffer={aac} wave=white-noise "
        "volume=0.3 ! audio/x-raw,rate={rate},channels=2 ! avenc_aac bitrate={abps} "
        "! aacparse ! m.").format(
            frames=f["seconds"] * FPS, fps=FPS, gop=gop, part=part, aac=AAC_FRAME,
            aframes=f["seconds"] * AUDIO_RATE // AAC_FRAME + 1, rate=AUDIO_RATE,
            abps=AUDIO_KBPS * 1000, width=f["width"], height=f["height"], kbps=f["kbps"],
            x264=f.get("x264", ""))
    t0 = time.monotonic()
    print("encoding fixture %s" % os.path.basename(path), flush=True)
    rc, _, err = run(["gst-launch-1.0", "-q"] + launch.split(), 600)
    check(rc == 0, "encoding %s failed: %s" % (path, err))
    video, audio = probe_packets(part)
    check(len(video) == f["seconds"] * FPS, "fixture has %d video frames, not %d"
          % (len(video), f["seconds"] * FPS))
    keys = [i for i, p in enumerate(video) if p["key"]]
    check(keys == list(range(0, len(video), gop)), "fixture keyframes at frames %r, not every %d"
          % (keys[:10], gop))
    got = kbps(video, 1000 / FPS)
    check(abs(got - f["kbps"]) <= TOLERANCE * f["kbps"],
          "fixture video is %.0f kbps, asked for %d" % (got, f["kbps"]))
    agot = kbps(audio, 1000 * AAC_FRAME / AUDIO_RATE)
    check(abs(agot - AUDIO_KBPS) <= TOLERANCE * AUDIO_KBPS,
          "fixture audio is %.0f kbps, asked for %d" % (agot, AUDIO_KBPS))
    print("fixture %s: %.0f kbps video, %.0f kbps audio, encoded in %.1f s"
          % (os.path.basename(path), got, agot, time.monotonic() - t0), flush=True)
    os.rename(part, path)


def check_steps(packets, step_ms, what):
    """Every packet follows the one before by one frame: FLV stamps whole milliseconds, so a step
    is the frame duration rounded down or up, and the n-th packet is within a millisecond of
    first + n steps (a missing frame fails both)."""
    first = packets[0]["dts"]
    for i in range(1, len(packets)):
        a, b = packets[i - 1]["dts"], packets[i]["dts"]
        ideal = first + i * step_ms
        if not (int(step_ms) <= b - a <= int(step_ms) + 1) or abs(b - ideal) > 1:
            fail("%s: frame missing after %d ms: %d frames received continuously from %d ms, "
                 "the next one is at %d ms (%s), a gap of %d ms; %d frames received in all, "
                 "up to %d ms" % (
                     what, a + step_ms, i, first, b,
                     "a keyframe" if packets[i].get("key") else "not a keyframe", b - a,
                     len(packets), packets[-1]["dts"]))


def record(s, seconds, stop_at_ms, frames_field, fps):
    """Records the stream with rtmpdump --live from now until the live edge (what the sink has
    rendered) reaches stop_at_ms; returns the recording's path and the live edge, in ms, at
    the join: not before rtmpdump started and not after the server said it played (client-added
    comes on the element's thread, after the join), so (earliest, latest)."""
    joined = []
    # client-added is emitted when the server starts the player, that is, when it replays the
    # cache, and handled on the element's thread a little later: the sink's frame count read
    # then is the latest the live edge at the join can have been.
    s.sink.connect("client-added", lambda e, cid, addr: joined.append(
        e.get_property("stats").get_uint64(frames_field)[1]))
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "rec.flv")
    before = s.stat(frames_field)
    p = subprocess.Popen(["rtmpdump", "-q", "-r", s.url(), "--live", "-o", out],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=PLAYER_ENV)
    try:
        wait_for(lambda: joined, 10, "rtmpdump to start playing")
        wait_for(lambda: (s.stat(frames_field) - 1) * 1000 / fps >= stop_at_ms, seconds + 20,
                 "the stream to reach %d ms" % stop_at_ms)
        # What is flushed within flush-interval (100 ms) of the live edge reaches the file too.
        time.sleep(0.3)  # not synchronisation: a margin of recording past the edge
    finally:
        stop_rtmpdump(p)
    s.check_no_error()
    check(os.path.exists(out), "rtmpdump wrote nothing: %s" % p.stderr.read().decode())
    return out, (max(before, 1) - 1) * 1000 / fps, (joined[0] - 1) * 1000 / fps


def serve(name, tracks, props=""):
    pipeline = SERVE.format(path=fixture(name), tracks=tracks)
    return Server(pipeline=pipeline, props=props)


def late_joiner_av(name, video=True, audio=True, max_gops=1, join_s=3.5, record_s=4.5):
    """A player joining join_s into the stream records record_s seconds; it must start on the
    cached keyframe (max_gops GOPs back), miss no video or audio frame, and the video it got
    must be the fixture's bitrate."""
    f = FIXTURES[name]
    gop_ms = f["gop_s"] * 1000
    step = 1000 / FPS
    tracks = (VIDEO_TRACK if video else "") + (AUDIO_TRACK if audio else "")
    # A recorder: the cache at its own timestamps (test_join.py has the live-edge default).
    props = "max-gops=%d sync-method=latest-keyframe" % max_gops
    with serve(name, tracks, props) as s:
        s.wait_video_frames(int(join_s * FPS) + 1, 30)
        out, earliest, joined_ms = record(s, record_s, (join_s + record_s) * 1000, "video-frames",
                                          FPS)
    vid, aud = probe_packets(out)
    print("joined between %.0f and %.0f ms; recorded %d video frames (%s to %s ms, keyframes at %s), "
          "%d audio frames (%s to %s ms)" % (
              earliest, joined_ms, len(vid), vid and vid[0]["dts"], vid and vid[-1]["dts"],
              [p["dts"] for p in vid if p["key"]], len(aud), aud and aud[0]["dts"],
              aud and aud[-1]["dts"]), flush=True)
    check(vid, "no video recorded")
    check(vid[0]["key"], "the first video frame (at %d ms) is not a keyframe" % vid[0]["dts"])
    # The keyframe the cache starts on: the GOP in progress at the join, max_gops - 1 back. The
    # join is known to lie between two moments; a busy machine may put a keyframe between them,
    # and then either GOP's is the right one.
    cached = sorted({max(0, int(t // gop_ms) * gop_ms - (max_gops - 1) * gop_ms)
                     for t in (earliest, joined_ms)})
    check(any(abs(vid[0]["dts"] - c) <= 1 for c in cached),
          "the recording starts at %d ms, not on the cached keyframe at %s ms (joined between "
          "%.0f and %.0f ms)" % (vid[0]["dts"], " or ".join(map(str, cached)), earliest,
                                 joined_ms))
    check_steps(vid, step, "video")
    end = (join_s + record_s) * 1000
    check(vid[-1]["dts"] >= end - 500, "the video stops at %d ms, the stream went on to %d ms"
          % (vid[-1]["dts"], end))
    got = kbps(vid, step)
    check(abs(got - f["kbps"]) <= TOLERANCE * f["kbps"],
          "served video is %.0f kbps, the stream is %d kbps" % (got, f["kbps"]))
    if audio:
        check_audio(aud, vid[0]["dts"], end)
    else:
        check(not aud, "%d audio frames in a video-only stream" % len(aud))
    print("video %.0f kbps over %d frames, no frame missing" % (got, len(vid)), flush=True)


def check_audio(aud, starts_by_ms, end_ms):
    step = 1000 * AAC_FRAME / AUDIO_RATE
    check(aud, "no audio recorded")
    # The cache replays audio from its keyframe on (flvmux interleaves by time).
    check(aud[0]["dts"] <= starts_by_ms + 200, "audio starts at %d ms, the video at %d ms"
          % (aud[0]["dts"], starts_by_ms))
    check_steps(aud, step, "audio")
    check(aud[-1]["dts"] >= end_ms - 500, "the audio stops at %d ms, the stream went on to %d ms"
          % (aud[-1]["dts"], end_ms))
    got = kbps(aud, step)
    check(abs(got - AUDIO_KBPS) <= TOLERANCE * AUDIO_KBPS,
          "served audio is %.0f kbps, the stream is %d kbps" % (got, AUDIO_KBPS))


def test_720p30_4mbps_gop2_late_joiner():
    late_joiner_av("720p30_4mbps_gop2")


def test_1080p30_8mbps_gop4_snow_late_joiner():
    late_joiner_av("1080p30_8mbps_gop4")


def test_1080p30_8mbps_gop4_snow_max_gops_3():
    # Joining 3.5 s into the third GOP: the cache holds all three, 11.5 s of 8 Mbps (about 12 MB).
    late_joiner_av("1080p30_8mbps_gop4", max_gops=3, join_s=11.5)


@alone("a player 0.4 s behind (1 MB at 20 Mbps) loses frames to the tiers")
def test_1080p30_20mbps_gop2_snow_late_joiner():
    late_joiner_av("1080p30_20mbps_gop2", join_s=3.5, record_s=4)


def test_video_only_1080p30_8mbps_late_joiner():
    late_joiner_av("1080p30_8mbps_gop4", audio=False)


def test_audio_only_aac_late_joiner():
    """With no video nothing is cached (a cache starts at a keyframe): the joiner gets the live
    audio from its join on, every frame of it."""
    join_s, record_s = 3.5, 4
    per_s = AUDIO_RATE / AAC_FRAME
    with serve("720p30_4mbps_gop2", AUDIO_TRACK) as s:
        wait_for(lambda: s.stat("audio-frames") >= join_s * per_s, 30, "%.1f s of audio" % join_s)
        out, earliest, joined_ms = record(s, record_s, (join_s + record_s) * 1000,
                                          "audio-frames", per_s)
    vid, aud = probe_packets(out)
    print("joined between %.0f and %.0f ms; recorded %d audio frames (%s to %s ms)" % (
        earliest, joined_ms, len(aud), aud and aud[0]["dts"], aud and aud[-1]["dts"]), flush=True)
    check(not vid, "%d video frames in an audio-only stream" % len(vid))
    check_audio(aud, joined_ms + 200, (join_s + record_s) * 1000)


if __name__ == "__main__":
    run_named_test(globals())
