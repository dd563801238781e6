#!/usr/bin/python3
"""The fMP4 writer's output read by real demuxers and decoders: an x264 + AAC FLV file from
GStreamer, written by fmp4-write (tests/e2e/fmp4_write.c: the init segment, then a fragment
header and the sample per media tag, as the HLS muxer serves them), must give ffprobe both streams
with every frame at the FLV's times, and ffmpeg must decode all of it without a word.

Usage: test_fmp4.py NAME (--list names the cases)."""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from ezrtest import PLAYER_ENV, check, decode_errors, fail, run, run_named_test  # noqa: E402

# Two seconds at 30 fps with B-frames (composition offsets) and a keyframe a second, and 86 AAC
# frames of 1024 samples at 44.1 kHz, as fast as they encode (well under a second).
SOURCE = (
    "videotestsrc num-buffers=60 ! video/x-raw,width=320,height=240,framerate=30/1 "
    "! x264enc bframes=2 key-int-max=30 speed-preset=ultrafast ! h264parse ! mux. "
    "audiotestsrc num-buffers=86 samplesperbuffer=1024 ! audio/x-raw,rate=44100,channels=2 "
    "! avenc_aac ! aacparse ! mux. flvmux name=mux ! filesink location={path}")

# 2^32 ticks of the 90 kHz video clock is 47,721,859 ms (13.3 h): past it, a 32-bit tfdt wraps.
PAST_2_32_MS = 50_000_000


def flv_samples(path):
    """The FLV's media samples: (kind, timestamp ms, composition time ms) of each AVC NALU and
    AAC raw tag, read independently of the library."""
    with open(path, "rb") as f:
        data = f.read()
    check(data[:3] == b"FLV", "%s is no FLV file" % path)
    pos = int.from_bytes(data[5:9], "big") + 4
    out = []
    while pos + 11 <= len(data):
        kind = data[pos]
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        ts = int.from_bytes(data[pos + 4:pos + 7], "big") | data[pos + 7] << 24
        body = data[pos + 11:pos + 11 + size]
        if kind == 9 and len(body) > 5 and body[0] & 0x0F == 7 and body[1] == 1:
            cts = int.from_bytes(body[2:5], "big", signed=True)
            out.append(("video", ts, cts))
        elif kind == 8 and len(body) > 2 and body[0] >> 4 == 10 and body[1] == 1:
            out.append(("audio", ts, 0))
        pos += 11 + size + 4
    return out


def write_mp4(tmp, offset_ms):
    """Encodes the source FLV and writes it as fMP4; returns (mp4 path, the FLV's samples)."""
    flv = os.path.join(tmp, "source.flv")
    mp4 = os.path.join(tmp, "out.mp4")
    rc, _, err = run(["gst-launch-1.0", "-q"] + SOURCE.format(path=flv).split(), 60)
    check(rc == 0, "gst-launch failed: %s" % err)
    samples = flv_samples(flv)
    writer = os.environ.get("EZRTMP_FMP4_WRITE")
    check(writer, "EZRTMP_FMP4_WRITE is not set (meson test sets it)")
    # The writer is ours, built like the library: it keeps a sanitizer build's preload.
    p = subprocess.run([writer, flv, mp4, str(offset_ms)], capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 0, "fmp4-write failed: %s" % p.stderr)
    nvideo = sum(1 for s in samples if s[0] == "video")
    naudio = len(samples) - nvideo
    check(p.stdout.split() == ["video", str(nvideo), "audio", str(naudio)],
          "fmp4-write wrote %r, the FLV has %d video and %d audio samples"
          % (p.stdout.strip(), nvideo, naudio))
    check(nvideo == 60 and naudio > 80, "the source has %d video and %d audio samples"
          % (nvideo, naudio))
    return mp4, samples


def probe_streams(mp4):
    rc, out, err = run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json",
                        mp4], 60)
    check(rc == 0 and not err.strip(), "ffprobe failed (%d): %s" % (rc, err))
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


def probe_packets(mp4, kind):
    """(pts, dts, keyframe) of each packet of the first stream of that kind, in its time base."""
    rc, out, err = run(["ffprobe", "-v", "error", "-select_streams", kind[0] + ":0",
                        "-show_entries", "packet=pts,dts,flags", "-of", "csv=p=0", mp4], 60)
    check(rc == 0 and not err.strip(), "ffprobe failed (%d): %s" % (rc, err))
    packets = []
    for line in out.split():
        pts, dts, flags = line.split(",")
        packets.append((int(pts), int(dts), "K" in flags))
    return packets


def check_file(mp4, samples, offset_ms):
    nvideo = sum(1 for s in samples if s[0] == "video")
    naudio = len(samples) - nvideo
    streams = probe_streams(mp4)
    check(sorted(streams) == ["audio", "video"], "streams: %s" % sorted(streams))
    v, a = streams["video"], streams["audio"]
    check((v["codec_name"], v["width"], v["height"]) == ("h264", 320, 240),
          "video: %s %sx%s" % (v["codec_name"], v["width"], v["height"]))
    check((a["codec_name"], a["sample_rate"], a["channels"]) == ("aac", "44100", 2),
          "audio: %s %s Hz %s channels" % (a["codec_name"], a["sample_rate"], a["channels"]))
    check(v["time_base"] == "1/90000" and a["time_base"] == "1/44100",
          "time bases %s, %s" % (v["time_base"], a["time_base"]))
    check(int(v["nb_read_frames"]) == nvideo,
          "ffprobe decoded %s video frames of %d" % (v["nb_read_frames"], nvideo))
    check(int(a["nb_read_frames"]) == naudio,
          "ffprobe decoded %s audio frames of %d" % (a["nb_read_frames"], naudio))

    # Every video packet at the FLV's presentation time (tfdt + trun's composition offset) and
    # decode time (tfdt), keyframes where the FLV has them (the sample flags). flvmux writes the
    # first frames with B-frames all at decode time 0, which the writer moves a tick apart
    # (fmp4_write.c says why).
    flv_video = [s for s in samples if s[0] == "video"]
    packets = probe_packets(mp4, "video")
    check(len(packets) == len(flv_video), "%d video packets" % len(packets))
    prev = -1
    for i, ((pts, dts, _), (_, ts, cts)) in enumerate(zip(packets, flv_video)):
        want_dts = max((ts + offset_ms) * 90, prev + 1)
        want = ((ts + cts + offset_ms) * 90, want_dts)
        if (pts, dts) != want:
            fail("video packet %d: pts, dts %s, expected %s" % (i, (pts, dts), want))
        prev = want_dts
    keys = [i for i, p in enumerate(packets) if p[2]]
    check(keys == [0, 30], "keyframes at packets %s" % keys)
    audio = probe_packets(mp4, "audio")
    first = (samples[[s[0] for s in samples].index("audio")][1] + offset_ms) * 44100 // 1000
    check([p[1] for p in audio] == [first + 1024 * i for i in range(naudio)],
          "audio decode times are not 1024 apart from %d" % first)

    rc, _, err = run(["ffmpeg", "-v", "error", "-nostdin", "-i", mp4, "-f", "null", "-"], 60)
    errors = decode_errors(err)
    check(rc == 0 and not errors, "ffmpeg decoding (%d): %s" % (rc, errors))


def test_fmp4_ffprobe_and_ffmpeg_read_every_frame():
    with tempfile.TemporaryDirectory() as tmp:
        mp4, samples = write_mp4(tmp, 0)
        check_file(mp4, samples, 0)


def test_fmp4_decode_times_past_2_32_ticks():
    """tfdt version 1: video decode times past 2^32 at 90 kHz come out whole."""
    with tempfile.TemporaryDirectory() as tmp:
        mp4, samples = write_mp4(tmp, PAST_2_32_MS)
        check((PAST_2_32_MS * 90) >> 32 == 1, "the offset does not pass 2^32")
        check_file(mp4, samples, PAST_2_32_MS)


if __name__ == "__main__":
    run_named_test(globals())
