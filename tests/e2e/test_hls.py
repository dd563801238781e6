"""Low-Latency HLS from the element (hls=true on its HTTP port) played by real players: ffprobe
and ffmpeg, GStreamer's playbin3 (hlsdemux2), VLC, and hlsclient.py (an LL-HLS player written
here from the spec, with blocking reloads); then bad requests, each answered with its status
while a viewer plays on. The stream is 720p30 snow at 2 Mbps with a 1 s GOP and AAC.

Run as: test_hls.py TEST_NAME (meson registers each name as its own test)."""

import json
import os
import re
import resource
import select
import shutil
import socket
import subprocess
import tempfile
import time

from ezrtest import (PLAYER_ENV, Gst, Server, alone, check, decode_errors, fail, run,
                     run_named_test, wait_for)
from hlsclient import HlsViewer, Playlist, fetch, get

import http.client


def hls_pipeline(video=True, audio=True, width=1280, height=720, kbps=2000,
                 x264="tune=zerolatency speed-preset=ultrafast", flv_copy=None):
    """A launch line for ezrtest.Server ({gop}, {port}, {props}, {host} left to fill): snow
    (the hardest picture to encode, so the bitrate is real) and a tone, into the element with
    HTTP and HLS on. ultrafast keeps 720p30 snow real-time on a loaded 2-core machine; I420,
    or x264enc may take 4:4:4 10-bit from videotestsrc, which browsers do not decode. flv_copy:
    a file that gets a copy of the FLV the element is given."""
    parts = []
    if video:
        parts.append(
            "videotestsrc is-live=true pattern=snow "
            "! video/x-raw,format=I420,width=%d,height=%d,framerate=30/1 "
            "! x264enc %s bitrate=%d key-int-max={gop} ! h264parse ! mux. " % (
                width, height, x264, kbps))
    if audio:
        parts.append("audiotestsrc is-live=true ! audio/x-raw,rate=44100,channels=2 "
                     "! avenc_aac ! aacparse ! mux. ")
    if flv_copy:
        parts.append("flvmux name=mux streamable=true ! tee name=t ! queue "
                     "! ezrtmpserversink name=sink host={host} port={port} http=true hls=true "
                     "{props} t. ! queue ! filesink location=%s" % flv_copy)
    else:
        parts.append("flvmux name=mux streamable=true ! ezrtmpserversink name=sink host={host} "
                     "port={port} http=true hls=true {props}")
    return "".join(parts)


def hls_server(gop=30, props="", **kw):
    return Server(gop=gop, props=props, pipeline=hls_pipeline(**kw))


PLAYLIST = "/live/stream/index.m3u8"


def url(s, path=PLAYLIST):
    return "http://127.0.0.1:%d%s" % (s.port, path)


def wait_playlist(s, segments=1, timeout=20):
    """Waits until the playlist answers 200 and lists at least `segments` complete segments
    (ffmpeg and VLC play whole segments only); returns it."""
    got = {}

    def ready():
        r = fetch(s.port, PLAYLIST)
        if r.status == 200:
            got["pl"] = Playlist(r.body.decode())
            return len(got["pl"].segments) >= segments
        check(r.status in (404, 503), "the playlist answered %d before the stream: %r" % (
            r.status, r.body[:200]))
        return False

    wait_for(ready, timeout, "a playlist with %d segments" % segments)
    return got["pl"]


def ffprobe_streams(u):
    rc, out, err = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", u], 60)
    check(rc == 0, "ffprobe exit %d: %s" % (rc, err))
    check(decode_errors(err) == "", "ffprobe reported: %s" % err)
    return json.loads(out)["streams"]


def ffmpeg_decode(u, seconds):
    started = time.monotonic()
    rc, _, err = run(["ffmpeg", "-nostdin", "-v", "error", "-i", u, "-t", str(seconds),
                      "-f", "null", "-"], seconds + 60)
    check(rc == 0, "ffmpeg exit %d: %s" % (rc, err))
    check(decode_errors(err) == "", "ffmpeg reported errors decoding %s:\n%s" % (u, err))
    return time.monotonic() - started


def test_ffprobe_and_ffmpeg_decode_both_tracks():
    with hls_server() as s:
        wait_playlist(s)
        streams = ffprobe_streams(url(s))
        kinds = sorted((st["codec_type"], st["codec_name"]) for st in streams)
        check(kinds == [("audio", "aac"), ("video", "h264")],
              "ffprobe found %s, expected h264 video and aac audio" % kinds)
        v = [st for st in streams if st["codec_type"] == "video"][0]
        check((v["width"], v["height"]) == (1280, 720),
              "video is %dx%d, expected 1280x720" % (v["width"], v["height"]))
        took = ffmpeg_decode(url(s), 10)
        s.check_no_error()
        check(s.stat("hls-requests") > 0 and s.stat("hls-bytes-sent") > 0,
              "stats count no HLS requests or bytes")
        print("ffprobe: h264 1280x720 and aac; ffmpeg decoded 10 s with no error in %.1f s; "
              "%d HLS requests, %d bytes" % (took, s.stat("hls-requests"),
                                             s.stat("hls-bytes-sent")), flush=True)


def renditions_pipeline(kbps=(2000, 600)):
    """Two renditions of one pipeline on one port in hls-group "abr" (the README's example):
    720p (sink, stream-key hi) and 360p (lo, stream-key lo) from one tee of snow, x264enc
    tune=zerolatency, each muxed with the same AAC. For ezrtest.Server with one_port=True."""
    enc = "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=%d"
    sink = ("flvmux name=m%d streamable=true ! ezrtmpserversink name=%s host={host} port={port} "
            "http=true hls=true hls-group=abr stream-key=%s {props} ")
    return (
        "videotestsrc is-live=true pattern=snow "
        "! video/x-raw,format=I420,width=1280,height=720,framerate=30/1 ! tee name=t "
        "audiotestsrc is-live=true ! audio/x-raw,rate=44100,channels=2 ! avenc_aac ! aacparse "
        "! tee name=a "
        "t. ! queue ! " + enc % kbps[0] + " ! h264parse ! " + sink % (1, "sink", "hi") +
        "a. ! queue ! m1. "
        "t. ! queue ! videoscale ! video/x-raw,width=640,height=360 ! " + enc % kbps[1] +
        " ! h264parse ! " + sink % (2, "lo", "lo") + "a. ! queue ! m2. ")


GROUP = "/live/abr.m3u8"


def variants(text):
    """The multivariant playlist's variants: [(attributes dict, uri)]."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
            out.append(({k: v.strip('"') for k, v in attrs.items()}, lines[i + 1]))
    return out


def test_renditions_ffprobe_reads_the_multivariant_playlist():
    with Server(pipeline=renditions_pipeline(), one_port=True) as s:
        for key in ("hi", "lo"):
            wait_for(lambda: fetch(s.port, "/live/%s/index.m3u8" % key).status == 200, 20,
                     "the %s rendition's playlist" % key)
        r = fetch(s.port, GROUP)
        check(r.status == 200, "the multivariant playlist answered %d" % r.status)
        # Listed in the order the sinks joined (reached READY): the pipeline's order, not ours.
        got = sorted(variants(r.body.decode()), key=lambda v: v[1])
        check([(a.get("RESOLUTION"), uri) for a, uri in got] ==
              [("1280x720", "hi/index.m3u8"), ("640x360", "lo/index.m3u8")],
              "variants: %r" % got)
        for a, _ in got:
            check(re.fullmatch(r"avc1\.[0-9a-f]{6},mp4a\.40\.2", a.get("CODECS", "")),
                  "CODECS: %r" % a)
            check(int(a["BANDWIDTH"]) >= int(a["AVERAGE-BANDWIDTH"]) > 0, "bandwidths: %r" % a)
            check(a.get("FRAME-RATE") == "30.000", "FRAME-RATE (x264enc says 30/1 in the SPS): %r" % a)
        check(int(got[0][0]["AVERAGE-BANDWIDTH"]) > int(got[1][0]["AVERAGE-BANDWIDTH"]),
              "720p is not the larger: %r" % got)
        rc, out, err = run(["ffprobe", "-v", "error", "-show_streams", "-show_programs", "-of",
                            "json", url(s, GROUP)], 60)
        check(rc == 0, "ffprobe exit %d: %s" % (rc, err))
        check(decode_errors(err) == "", "ffprobe reported: %s" % err)
        probed = json.loads(out)
        sizes = sorted((st["width"], st["height"]) for st in probed["streams"]
                       if st["codec_type"] == "video")
        check(sizes == [(640, 360), (1280, 720)], "ffprobe found video of %r" % sizes)
        rates = sorted(int(p["tags"]["variant_bitrate"]) for p in probed.get("programs", [])
                       if "variant_bitrate" in p.get("tags", {}))
        check(rates == sorted(int(a["BANDWIDTH"]) for a, _ in got),
              "ffprobe's variant bitrates %r, the playlist's %r" % (rates, got))
        s.check_no_error()
        print("multivariant: %s; ffprobe read both variants (%r)" % (
            "; ".join("%s %s BANDWIDTH=%s AVERAGE-BANDWIDTH=%s FRAME-RATE=%s" % (
                uri, a["RESOLUTION"], a["BANDWIDTH"], a["AVERAGE-BANDWIDTH"], a["FRAME-RATE"])
                for a, uri in got), sizes), flush=True)


PLAY_SECONDS = 10
PLAYBIN_FRAMES = 250


@alone("250 frames in 10 s through sinks synced to the clock")
def test_playbin3_plays_ten_seconds():
    """playbin3 (hlsdemux2) into fakesinks that sync to the clock, for 10 s from its first
    frame: no error on its bus, and at least 250 video frames (of 300) and some audio reach the
    sinks. It starts once the playlist lists 3 segments:
    GStreamer 1.22's hlsdemux2 cannot match a reloaded playlist against one that listed a single
    segment (gst_hls_media_playlist_sync_to_playlist never compares the first), loses sync and
    stalls; players start 3 segments from the end anyway."""
    with hls_server() as s:
        wait_playlist(s, segments=3)
        player = Gst.ElementFactory.make("playbin3", None)
        check(player is not None, "no playbin3")
        vsink = Gst.ElementFactory.make("fakesink", "vsink")
        asink = Gst.ElementFactory.make("fakesink", "asink")
        counts = {"video": 0, "audio": 0}

        def count(pad, info, kind):
            counts[kind] += 1
            return Gst.PadProbeReturn.OK

        for sink, kind in ((vsink, "video"), (asink, "audio")):
            sink.set_property("sync", True)
            sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, count, kind)
        player.set_property("video-sink", vsink)
        player.set_property("audio-sink", asink)
        player.set_property("uri", url(s))
        bus = player.get_bus()
        errors = []

        def bus_errors():
            while True:
                m = bus.pop_filtered(Gst.MessageType.ERROR | Gst.MessageType.WARNING)
                if not m:
                    return errors
                if m.type == Gst.MessageType.ERROR:
                    e, dbg = m.parse_error()
                    errors.append("%s: %s (%s)" % (m.src.get_name(), e.message, dbg))
                else:
                    w, dbg = m.parse_warning()
                    print("playbin3 warning from %s: %s (%s)" % (m.src.get_name(), w.message,
                                                                  dbg), flush=True)

        player.set_state(Gst.State.PLAYING)
        started = time.monotonic()
        try:
            wait_for(lambda: bus_errors() or counts["video"] > 0, 30, "playbin3's first frame")
            first_at = time.monotonic()
            first = first_at - started
            # Ten seconds of play from the first frame (the measurement's length), watching
            # the bus all along.
            wait_for(lambda: bus_errors() or time.monotonic() - first_at >= PLAY_SECONDS,
                     PLAY_SECONDS + 5, "%d s of play" % PLAY_SECONDS)
            check(not bus_errors(), "playbin3 posted errors: %s" % errors)
            check(counts["video"] >= PLAYBIN_FRAMES, "%d video frames reached playbin3's sink "
                  "in %d s, expected at least %d" % (counts["video"], PLAY_SECONDS,
                                                     PLAYBIN_FRAMES))
        finally:
            player.set_state(Gst.State.NULL)
        check(counts["audio"] > 0, "no audio reached playbin3's audio sink")
        s.check_no_error()
        print("playbin3: first frame %.2f s after PLAYING; %d video and %d audio buffers in "
              "%.1f s, no error" % (first, counts["video"], counts["audio"],
                                    time.monotonic() - started), flush=True)


VLC_FRAMES = 250


def vlc_stats(text):
    """The last `stats` answer of VLC's rc interface as a dict of ints."""
    blocks = text.split("begin of statistical info")
    if len(blocks) < 2:
        return None
    out = {}
    for m in re.finditer(r"\| ([a-z ]+?)\s*:\s*(-?\d+)", blocks[-1]):
        out[m.group(1).strip()] = int(m.group(2))
    return out


@alone("250 frames displayed by VLC within 40 s")
def test_vlc_decodes_ten_seconds():
    """cvlc with its rc interface: asked for its statistics every second until it has decoded
    and displayed 250 frames of video (with dummy video and audio outputs, which still pace
    display by the clock); none of its log up to then is a decoder or demuxer error. VLC
    refuses to run as root: there it runs as nobody."""
    cvlc = shutil.which("cvlc")
    check(cvlc is not None, "cvlc is missing: run scripts/install-deps.sh --test "
          "(vlc-bin, vlc-plugin-base)")
    home = tempfile.mkdtemp(prefix="ezrtmp-vlc-")
    os.chmod(home, 0o777)
    with hls_server() as s:
        wait_playlist(s)
        cmd = [cvlc, "-I", "rc", "--rc-fake-tty", "--stats", "-vv", "--no-video-title-show",
               "--vout=dummy", "--aout=dummy", "--play-and-exit", url(s)]
        if os.geteuid() == 0:
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
        env = dict(PLAYER_ENV, HOME=home)
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log = bytearray()
        started = time.monotonic()
        try:
            os.set_blocking(p.stdout.fileno(), False)

            def drain():
                while True:
                    r, _, _ = select.select([p.stdout], [], [], 0)
                    if not r:
                        return
                    b = p.stdout.read(65536)
                    if not b:
                        return
                    log.extend(b)

            stats = {}

            def played():
                drain()
                check(p.poll() is None, "VLC exited (%s) before playing %d frames:\n%s" % (
                    p.returncode, VLC_FRAMES, log.decode(errors="replace")[-3000:]))
                st = vlc_stats(log.decode(errors="replace"))
                if st:
                    stats.update(st)
                if stats.get("frames displayed", 0) >= VLC_FRAMES:
                    return True
                p.stdin.write(b"stats\n")
                p.stdin.flush()
                return False

            deadline = time.monotonic() + 40
            while not played():
                check(time.monotonic() < deadline, "VLC displayed %s frames in 40 s, expected "
                      "%d:\n%s" % (stats.get("frames displayed"), VLC_FRAMES,
                                   log.decode(errors="replace")[-3000:]))
                select.select([p.stdout], [], [], 1.0)
            played_for = time.monotonic() - started
            text = log.decode(errors="replace")
        finally:
            try:
                p.stdin.write(b"quit\n")
                p.stdin.flush()
                p.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(p.pid, 9)
                p.wait()
            shutil.rmtree(home, ignore_errors=True)
        # Decoder, packetizer and demuxer errors, VLC's own and libavcodec's ("[h264 @ ...]",
        # but for its note of the picture size at the start).
        # VLC's input clock raising its buffering ("ES_OUT_SET_(GROUP_)PCR is called too late")
        # is not one: it is counted and printed.
        errors = [l for l in text.splitlines()
                  if re.search(r"\] [^:]*\b(decoder|demux|packetizer|avcodec|faad|mp4|adaptive|"
                               r"hls)\b[^:]* error:|^\[(h264|aac) @ [^]]*\] (?!Reinit context)",
                               l)]
        late = len(re.findall(r"is called too late", text))
        check(not errors, "VLC reported, while playing:\n" + "\n".join(errors[:40]))
        # Frames lost are pictures shown too late on a busy machine, not decoding: printed.
        check(stats.get("demux corrupted", 0) == 0, "VLC's demuxer found corrupt data: %s" % stats)
        check(stats.get("audio decoded", 0) > 0, "VLC decoded no audio: %s" % stats)
        s.check_no_error()
        print("VLC: %d video frames decoded, %d displayed, %d lost, %d audio blocks decoded in "
              "%.1f s, no decoder error; its clock raised the buffering %d times" % (
                  stats.get("video decoded", 0), stats["frames displayed"], stats["frames lost"],
                  stats["audio decoded"], played_for, late), flush=True)


def one_track(video, audio, expect):
    with hls_server(video=video, audio=audio) as s:
        wait_playlist(s)
        streams = ffprobe_streams(url(s))
        kinds = [(st["codec_type"], st["codec_name"]) for st in streams]
        check(kinds == [expect], "ffprobe found %s, expected only %s" % (kinds, expect))
        took = ffmpeg_decode(url(s), 4)
        viewer = HlsViewer(s.port)
        viewer.start()
        try:
            wait_for(lambda: viewer.error or viewer.parts >= 10, 20, "10 parts")
        finally:
            viewer.close()
        check(viewer.error is None, "the LL-HLS viewer failed: %r" % viewer.error)
        s.check_no_error()
        print("%s only: ffprobe finds the one track, ffmpeg decoded 4 s with no error in "
              "%.1f s; 10 parts played with blocking reloads" % (expect[0], took), flush=True)


def test_video_only_stream_plays():
    one_track(True, False, ("video", "h264"))


def test_audio_only_stream_plays():
    one_track(False, True, ("audio", "aac"))


def video_packets(target):
    """(pts ms, dts ms, keyframe) of every video packet ffprobe reads in a file or URL."""
    rc, out, err = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_packets",
                        "-show_entries", "packet=pts_time,dts_time,flags", "-of", "csv", target],
                       60)
    check(rc == 0 and decode_errors(err) == "", "ffprobe %s exit %d: %s" % (target, rc, err))
    out_ = []
    for line in out.split():
        f = line.split(",")
        out_.append((round(float(f[1]) * 1000), round(float(f[2]) * 1000), f[3][0] == "K"))
    return out_


def test_bframes_keep_the_source_timestamps_and_decode():
    """x264 with two B-frames and its default lookahead (no zerolatency): three whole segments
    (init + segments, as a player fetches them) carry, packet for packet, the presentation and
    decode times of the FLV the element was given (a tee writes it to a file), so B-frames come
    in decode order and are shown in the source's order; some packets are reordered (pts >
    dts); ffprobe finds B-frames and ffmpeg decodes 4 s of the playlist with no error.

    The source's own times are what a player gets: on a loaded machine flvmux (live) clamps
    decode times that x264's lookahead delivers late and writes B-frames with pts = dts, so two
    frames may share a presentation time there, and in the FLV too; that is not the element's."""
    tmp = tempfile.mkdtemp(prefix="ezrtmp-hls-")
    flv = os.path.join(tmp, "source.flv")
    try:
        with hls_server(x264="bframes=2 b-adapt=0 speed-preset=ultrafast", width=640,
                        height=360, kbps=1000, flv_copy=flv) as s:
            pl = wait_playlist(s, segments=5)
            body = fetch(s.port, "/live/stream/" + pl.init_uri).body
            for _, uri, _, _ in pl.segments[-3:]:
                r = fetch(s.port, "/live/stream/" + uri)
                check(r.status == 200, "%s: %d" % (uri, r.status))
                body += r.body
            mp4 = os.path.join(tmp, "segments.mp4")
            with open(mp4, "wb") as f:
                f.write(body)
            rc, out, err = run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                                "-show_frames", "-show_entries", "frame=pict_type", "-of",
                                "csv", mp4], 60)
            check(rc == 0 and decode_errors(err) == "", "ffprobe exit %d: %s" % (rc, err))
            types = "".join(l.split(",")[1][:1] for l in out.split())
            check("B" in types, "no B-frame decoded: %s" % types[:60])
            took = ffmpeg_decode(url(s), 4)
            s.check_no_error()
        ours = video_packets(mp4)
        src = video_packets(flv)
        check(ours and ours[0][2], "the segments do not start with a keyframe: %s" % ours[:3])
        starts = [i for i, p in enumerate(src) if p == ours[0]]
        check(starts, "the first packet of the segments, %s, is not in the source FLV" %
              (ours[0],))
        mine = src[starts[-1]:starts[-1] + len(ours)]
        diff = [i for i, (a, b) in enumerate(zip(ours, mine)) if a != b]
        check(len(mine) == len(ours) and not diff, "packet %s differs from the source: ours "
              "%s, the FLV's %s" % (diff[:3], [ours[i] for i in diff[:3]],
                                    [mine[i] for i in diff[:3]]))
        reordered = sum(1 for p, d, _ in ours if p > d)
        check(reordered > 0, "no packet is presented after its decode time: no B-frames")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("B-frames: %d packets of three segments carry the source FLV's pts and dts exactly, "
          "%d reordered; %d frames decoded (%s...); ffmpeg decoded 4 s with no error in %.1f s"
          % (len(ours), reordered, len(types), types[:16], took), flush=True)


# ---- bad requests, while a viewer plays ---------------------------------------------------


def check_viewer(viewer, parts_before, what):
    """The viewer is still playing after `what`: no error, more parts than before."""
    wait_for(lambda: viewer.error is not None or viewer.parts >= parts_before + 3, 10,
             "the viewer's next parts after %s" % what)
    check(viewer.error is None, "the viewer failed after %s: %r" % (what, viewer.error))
    return viewer.parts


# The most a viewer may wait between two parts while the bad requests go on: parts are 200 ms;
# generous for a loaded 2-core machine that encodes 720p snow at the same time.
MAX_VIEWER_GAP = 2.0


def answer(port, path):
    r = fetch(port, path)
    check(b"root:" not in r.body, "GET %s answered a system file: %r" % (path, r.body[:200]))
    return r


@alone("the viewer never waits a part longer than its bound")
def test_bad_requests_answered_while_a_viewer_plays():
    with hls_server(props="hls-window=3") as s:
        pl = wait_playlist(s)
        viewer = HlsViewer(s.port)
        viewer.start()
        try:
            parts = check_viewer(viewer, 0, "starting")
            pl = Playlist(fetch(s.port, PLAYLIST).body.decode())
            tag = re.search(r"part-([A-Za-z0-9]+)-", pl.parts[-1][2]).group(1)
            last = pl.last_msn()
            cases = [
                ("?_HLS_msn=%d" % (last + 100), (400,), "_HLS_msn far in the future"),
                ("?_HLS_msn=%d&_HLS_part=0" % (last + 1000), (400,), "_HLS_msn far ahead, part"),
                ("?_HLS_msn=-1", (400,), "negative _HLS_msn"),
                ("?_HLS_msn=abc", (400,), "non-numeric _HLS_msn"),
                ("?_HLS_msn=" + "9" * 30, (400,), "30-digit _HLS_msn"),
                ("?_HLS_msn=%d&_HLS_part=-1" % last, (400,), "negative _HLS_part"),
                ("?_HLS_msn=%d&_HLS_part=x" % last, (400,), "non-numeric _HLS_part"),
                ("?_HLS_msn=%d&_HLS_part=%s" % (last, "9" * 30), (400,), "30-digit _HLS_part"),
                ("?_HLS_part=1", (400,), "_HLS_part without _HLS_msn"),
            ]
            for query, want, what in cases:
                r = answer(s.port, PLAYLIST + query)
                check(r.status in want, "%s (%s): %d, expected %s; %r" % (
                    what, query, r.status, want, r.body[:200]))
                parts = check_viewer(viewer, parts, what)
            # hls-window=3: once the media sequence is past 2, segment 0 and its parts are gone.
            wait_for(lambda: Playlist(fetch(s.port, PLAYLIST).body.decode()).media_sequence >= 2,
                     20, "segment 0 to leave the window")
            last = Playlist(fetch(s.port, PLAYLIST).body.decode()).last_msn()
            gone = [
                ("/live/stream/seg-%s-0.m4s" % tag, (404,), "a segment long gone"),
                ("/live/stream/part-%s-0.0.m4s" % tag, (404,), "a part long gone"),
                ("/live/stream/seg-%s-%d.m4s" % (tag, last + 50), (404,), "a segment never made"),
                ("/live/stream/part-%s-%d.0.m4s" % (tag, last + 50), (404,),
                 "a part never made"),
                ("/live/stream/part-%s-%d.999.m4s" % (tag, last - 1), (404,),
                 "a part index never made"),
                ("/live/stream/seg-%s-%d.m4s" % ("other" if tag != "other" else "x", last - 1),
                 (404,), "another run's tag"),
                ("/live/stream/init-%s-999.mp4" % tag, (404,), "an init segment never made"),
                ("/live/stream/..%2f..%2fetc/passwd", (400, 404), "escaped traversal"),
                ("/live/stream/../../../etc/passwd", (400, 404), "traversal"),
                ("/live/stream/seg-../x.m4s", (400, 404), "traversal in a segment name"),
                ("/live/stream/seg-%2e%2e%2f%2e%2e%2fetc%2fpasswd", (400, 404),
                 "escaped traversal in a segment name"),
                ("/live/stream/%2e%2e/%2e%2e/etc/passwd", (400, 404), "escaped dots"),
                ("/live/stream/index.m3u8/../../etc/passwd", (400, 404), "traversal after it"),
                ("/live/stream/seg-%s-1%%00.m4s" % tag, (400, 404), "a NUL in a name"),
                ("/live/other/index.m3u8", (404,), "another stream's playlist"),
            ]
            for path, want, what in gone:
                r = answer(s.port, path)
                check(r.status in want, "%s (%s): %d, expected %s; %r" % (
                    what, path, r.status, want, r.body[:200]))
                parts = check_viewer(viewer, parts, what)
            check(viewer.max_gap < MAX_VIEWER_GAP, "the viewer waited %.2f s for a part" %
                  viewer.max_gap)
        finally:
            viewer.close()
        check(viewer.error is None, "the viewer failed: %r" % viewer.error)
        s.check_no_error()
        print("%d bad requests answered 400 or 404; the viewer played %d parts meanwhile, the "
              "longest wait %.2f s" % (len(cases) + len(gone), viewer.parts, viewer.max_gap),
              flush=True)


def vmrss_mb():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) / 1024


def sanitized():
    return "libasan" in os.environ.get("LD_PRELOAD", "")


def readable(socks):
    """The sockets with something to read now (poll: their descriptors are past select's)."""
    p = select.poll()
    for c in socks:
        p.register(c, select.POLLIN)
    ready = {fd for fd, _ in p.poll(0)}
    return [c for c in socks if c.fileno() in ready]


BLOCKED = 1000
# Memory the 1,000 dropped requests may leave behind in the process (the server and this test's
# own sockets): the parked requests are a list entry each, so anything near this is a leak.
MAX_BLOCKED_GROWTH_MB = 16


@alone("the viewer never waits a part longer than its bound")
def test_thousand_blocked_reloads_dropped():
    """1,000 connections each ask for the playlist two segments past the last complete one (a
    4 s GOP: it stays parked for seconds), are counted in hls-waiting, then close at once without waiting; hls-waiting
    falls back to what the viewer's own reload holds, and to 0 once it stops; the viewer plays
    through; RSS does not keep what they cost."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    with hls_server(gop=120) as s:
        wait_playlist(s)
        viewer = HlsViewer(s.port)
        viewer.start()
        socks = []
        try:
            parts = check_viewer(viewer, 0, "starting")
            rss0 = vmrss_mb()
            # Two past the last complete segment, the farthest a client may ask (6.2.5.2): the
            # whole segment after the one in progress, four seconds away or more.
            done = Playlist(fetch(s.port, PLAYLIST).body.decode()).segments[-1][0]
            req = ("GET %s?_HLS_msn=%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % (
                PLAYLIST, done + 2)).encode()
            for _ in range(BLOCKED):
                c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
                c.sendall(req)
                socks.append(c)
            answered = readable(socks)
            check(not answered, "%d of the blocked reloads were answered at once, the first "
                  "with %r" % (len(answered), answered[0].recv(300) if answered else b""))
            wait_for(lambda: s.stat("hls-waiting") >= BLOCKED, 20,
                     "%d parked requests (hls-waiting %d)" % (BLOCKED, s.stat("hls-waiting")))
            parked = s.stat("hls-waiting")
            answered = readable(socks)
            check(not answered, "%d of the blocked reloads were answered before they were "
                  "dropped: the test did not hold them" % len(answered))
            for c in socks:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                c.close()
            socks = []
            wait_for(lambda: s.stat("hls-waiting") <= 1, 20,
                     "hls-waiting back to the viewer's (now %d)" % s.stat("hls-waiting"))
            wait_for(lambda: s.stat("clients-hls") <= 1, 20,
                     "clients-hls back to the viewer (now %d)" % s.stat("clients-hls"))
            parts = check_viewer(viewer, parts, "the dropped reloads")
            rss1 = vmrss_mb()
            check(viewer.max_gap < MAX_VIEWER_GAP + 4.0,  # a 4 s GOP: parts wait on keyframes
                  "the viewer waited %.2f s for a part" % viewer.max_gap)
        finally:
            for c in socks:
                c.close()
            viewer.close()
        check(viewer.error is None, "the viewer failed: %r" % viewer.error)
        wait_for(lambda: s.stat("hls-waiting") == 0, 20,
                 "hls-waiting 0 with no viewer (now %d)" % s.stat("hls-waiting"))
        if not sanitized():
            check(rss1 - rss0 < MAX_BLOCKED_GROWTH_MB,
                  "RSS rose by %.1f MB over 1,000 dropped reloads" % (rss1 - rss0))
        s.check_no_error()
        print("%d blocked reloads parked (hls-waiting %d), dropped: hls-waiting back to 0, RSS "
              "%+.1f MB%s; the viewer played %d parts, longest wait %.2f s" % (
                  BLOCKED, parked, rss1 - rss0, " (not judged under ASan)" if sanitized() else "",
                  viewer.parts, viewer.max_gap), flush=True)


PIPELINED = 10000
# What the server may hold for one connection that asks and never reads: a bounded queue of
# playlist answers (references to one shared playlist and a head each), not 10,000 of them.
MAX_PIPELINE_GROWTH_MB = 32


@alone("the viewer never waits a part longer than its bound")
def test_pipelined_requests_without_reading():
    """One keep-alive connection (a 4 KiB receive buffer) writes 10,000 playlist requests in a
    row and reads nothing for 5 s: a viewer plays on meanwhile, and the process's RSS grows by
    under 32 MB. Then the connection reads: every answer it gets is a whole 200 in order, and it
    gets all 10,000 unless the server closed it (which is also bounded)."""
    with hls_server() as s:
        wait_playlist(s)
        viewer = HlsViewer(s.port)
        viewer.start()
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.connect(("127.0.0.1", s.port))
        try:
            parts = check_viewer(viewer, 0, "starting")
            rss0 = vmrss_mb()
            blob = (b"GET " + PLAYLIST.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") * \
                PIPELINED
            c.setblocking(False)
            sent, peak = 0, rss0
            flood_end = time.monotonic() + 5
            while time.monotonic() < flood_end:
                if sent < len(blob):
                    _, w, _ = select.select([], [c], [], 0.1)
                    if w:
                        try:
                            sent += c.send(blob[sent:sent + 65536])
                        except BlockingIOError:
                            pass
                else:
                    time.sleep(0.1)  # the flood's duration, not a wait for an event
                peak = max(peak, vmrss_mb())
            parts = check_viewer(viewer, parts, "the pipelined flood")
            peak = max(peak, vmrss_mb())
            requests_sent = sent // (len(blob) // PIPELINED)
            # Now read: count whole answers until all are in or the server has closed.
            c.setblocking(True)
            c.settimeout(20)
            # recv_into one scratch buffer: a fresh 1 MB for every few KiB the small receive
            # buffer lets through is slow where malloc is perturbed (meson's MALLOC_PERTURB_).
            scratch = bytearray(1 << 20)
            buf = bytearray()
            pos = 0  # where the next answer starts in buf
            answers = 0
            closed = False
            want = PIPELINED if sent == len(blob) else requests_sent
            while answers < want:
                try:
                    n = c.recv_into(scratch)
                except socket.timeout:
                    fail("%d of %d answers read, then nothing for 20 s" % (answers, want))
                if not n:
                    closed = True
                    break
                del buf[:pos]
                pos = 0
                buf += memoryview(scratch)[:n]
                while True:
                    head_end = buf.find(b"\r\n\r\n", pos)
                    if head_end < 0:
                        break
                    head = bytes(buf[pos:head_end]).decode("latin-1")
                    check(head.startswith("HTTP/1.1 200"), "answer %d: %r" % (answers, head[:200]))
                    m = re.search(r"(?im)^content-length:\s*(\d+)", head)
                    check(m is not None, "answer %d has no Content-Length: %r" % (answers, head))
                    end = head_end + 4 + int(m.group(1))
                    if len(buf) < end:
                        break
                    check(buf[head_end + 4:head_end + 11] == b"#EXTM3U", "answer %d is not a "
                          "playlist" % answers)
                    pos = end
                    answers += 1
            check(viewer.max_gap < MAX_VIEWER_GAP, "the viewer waited %.2f s for a part" %
                  viewer.max_gap)
        finally:
            c.close()
            viewer.close()
        check(viewer.error is None, "the viewer failed: %r" % viewer.error)
        if not sanitized():
            check(peak - rss0 < MAX_PIPELINE_GROWTH_MB,
                  "RSS rose by %.1f MB while one connection pipelined requests" % (peak - rss0))
        s.check_no_error()
        print("pipelined %d requests (%d bytes) the server took in 5 s without reading; RSS "
              "peak %+.1f MB%s; then read %d whole answers%s; the viewer played %d parts, "
              "longest wait %.2f s" % (requests_sent, sent, peak - rss0,
                                       " (not judged under ASan)" if sanitized() else "",
                                       answers, ", then the server closed" if closed else "",
                                       viewer.parts, viewer.max_gap), flush=True)


def test_keep_alive_answers_two_requests_on_one_connection():
    """http.client on one connection: the playlist, then its init segment, a part and the
    playlist again, all 200 on the same socket, with CORS for any origin; and two requests
    written at once (pipelined) get both answers in order."""
    with hls_server() as s:
        wait_playlist(s)
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        try:
            r1 = get(conn, PLAYLIST, {"Origin": "http://example.com"})
            sock = conn.sock
            check(r1.status == 200, "playlist: %d" % r1.status)
            check(r1.headers.get("access-control-allow-origin") == "*",
                  "no CORS * on the playlist: %s" % r1.headers)
            check(r1.headers.get("content-type") == "application/vnd.apple.mpegurl",
                  "playlist type %s" % r1.headers.get("content-type"))
            pl = Playlist(r1.body.decode())
            r2 = get(conn, "/live/stream/" + pl.init_uri)
            check(r2.status == 200 and r2.body[4:8] == b"ftyp", "init: %d %r" % (
                r2.status, r2.body[:16]))
            r3 = get(conn, "/live/stream/" + pl.parts[-1][2])
            check(r3.status == 200 and r3.body[4:8] in (b"moof", b"styp"), "part: %d %r" % (
                r3.status, r3.body[:16]))
            r4 = get(conn, PLAYLIST)
            check(r4.status == 200, "playlist again: %d" % r4.status)
            check(conn.sock is sock, "http.client had to reconnect: the server closed the "
                  "connection between requests")
        finally:
            conn.close()
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        try:
            req = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            c.sendall((req % PLAYLIST + req % ("/live/stream/" + pl.init_uri)).encode())
            f = c.makefile("rb")
            got = []
            for _ in range(2):
                status = f.readline()
                length = None
                while True:
                    line = f.readline()
                    if line in (b"\r\n", b""):
                        break
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                check(length is not None, "an answer without Content-Length")
                got.append((status.split()[1], f.read(length)[:8]))
            check(got[0][0] == b"200" and got[0][1].startswith(b"#EXTM3U") and
                  got[1][0] == b"200" and got[1][1][4:8] == b"ftyp",
                  "two pipelined requests answered %s" % got)
        finally:
            c.close()
        s.check_no_error()
        print("keep-alive: 4 requests on one connection, 2 pipelined, all answered; CORS *",
              flush=True)


if __name__ == "__main__":
    run_named_test(globals())
