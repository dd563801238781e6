#!/usr/bin/env python3
"""How far behind live a late joiner plays, with real players, for every sync-method (issue 19).

Each player (the timestamp-paced model player, rtmp2src with sync=true, mpv with its default
options, chromium with mpegts.js over HTTP-FLV) joins each stream once 0.5 s before a keyframe
(3.5 s into the 4 s GOP of the 720p stream, 1.5 s into the 2 s GOP of the 1080p one) and, in a
run of its own, once right after a keyframe; its latency behind live is taken 5 s after it
joined (tests/e2e/joinlatency.py is the instrument; the targets are judged here, not in the
test suite, where what the server sends is asserted by its timestamps: tests/e2e/test_join.py).
Beside it: the first keyframe's delay after the connect,
timestamps going back and how far apart audio and video are (the model player), whether
`ffmpeg -v error` decodes a late join cleanly, whether B-frames are presented in order
(rtmp2src), what the late join costs the player (CPU seconds in its first 2 s) and how long it
takes to come, and stay, within 250 ms of the latency of a joiner right after a keyframe.

Prints a table and writes bench/JOIN.md (--out). Streams are encoded once into the build
directory (e2e-streams/).

    bench/run.sh --join [ARGS]                        # installs, builds build-bench, runs this
    /usr/bin/python3 bench/join.py --build build-bench [--repeat 1] [--streams 720p30_2mbps_gop4]
        [--players model,mpv] [--methods latest-keyframe,live-edge] [--out FILE]
"""

import argparse
import datetime
import os
import subprocess
import sys

import measure  # bench/run.py's description of the machine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STREAMS = ["720p30_2mbps_gop4", "1080p30_20mbps_gop2"]
PLAYERS = ["model", "rtmp2src", "mpv", "chromium"]
TARGET_MS = 250
# Without the property (before issue 19's sync-method) the element does what latest-keyframe
# names: this label says so in the table.
TODAY = "latest-keyframe (no sync-method property: today's behaviour)"


def setup(build):
    """The environment the instrument needs; before it imports GStreamer."""
    build = os.path.abspath(build)
    os.environ["GST_PLUGIN_PATH"] = os.path.join(build, "gst")
    os.environ["GST_REGISTRY"] = os.path.join(build, "join-registry.bin")
    os.environ["EZRTMP_BUILD_ROOT"] = build
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))


def methods_of_element():
    """The nicks of the element's sync-method, the default first; [None] without it."""
    from joinlatency import Gst
    sink = Gst.ElementFactory.make("ezrtmpserversink")
    if sink is None:
        sys.exit("ezrtmpserversink not found: is GST_PLUGIN_PATH a build's gst directory?")
    spec = sink.find_property("sync-method")
    if spec is None:
        return [None]
    value = sink.get_property("sync-method")
    default = value.value_nick
    nicks = [v.value_nick for v in type(value).__enum_values__.values()]
    return [default] + sorted(n for n in nicks if n != default)


def ms(x, none="-"):
    return none if x is None else "%d" % round(x * 1000)


class Row:
    """One player, stream and method: its late join and its join right after a keyframe."""

    def __init__(self, stream, method, kind, late, base):
        self.stream, self.method, self.kind, self.late, self.base = stream, method, kind, late, base
        self.diff = (late.latency - base.latency
                     if late.latency is not None and base.latency is not None else None)
        self.met = self.diff is not None and self.diff * 1000 <= TARGET_MS
        # From when on the late joiner stayed within the target of the right-after joiner's
        # latency (a browser's latency starts small, with little buffered yet: not "live").
        self.live_after = None
        if base.latency is not None:
            for t, lat in reversed(late.series):
                if lat > base.latency + TARGET_MS / 1000:
                    break
                self.live_after = t
        self.checks = late.player.checks(late.result) if kind == "model" else None

    def cells(self):
        label = self.method or TODAY
        return [self.kind, label,
                "%s (%.2f s in)" % (ms(self.base.latency, "no picture"), self.base.phase),
                "%s (%.2f s in)" % (ms(self.late.latency, "no picture"), self.late.phase),
                ms(self.diff), "yes" if self.met else "no",
                "%.2f" % self.late.cpu if hasattr(self.late, "cpu") else "-",
                "%.1f s" % max(0, self.live_after) if self.live_after is not None else
                "not in its run"]


HEADER = ["player", "sync-method", "joined right after a keyframe (ms)",
          "joined 0.5 s before the next keyframe (ms)", "difference (ms)",
          "target met (<= %d ms)" % TARGET_MS, "late joiner's CPU s, first 2 s",
          "late joiner within %d ms of live from" % TARGET_MS]


def measure_row(jl, stream, method, kind):
    gop = jl.STREAMS[stream]["gop_s"]
    (late,), _ = jl.measure(stream, [(kind, 0, gop - jl.LATE_MARGIN)], method)
    (base,), _ = jl.measure(stream, [(kind, 1, jl.RIGHT_AFTER)], method)
    return Row(stream, method, kind, late, base)


def measure_extras(jl, stream, method):
    """ffmpeg's decode of a late join and, on the 720p stream, B-frames through rtmp2src."""
    gop = jl.STREAMS[stream]["gop_s"]
    (ff,), _ = jl.measure(stream, [("ffmpeg", 0, gop - jl.LATE_MARGIN)], method)
    out = {"ffmpeg": ff.result, "ffmpeg_phase": ff.phase}
    bstream = stream + "_bframes"
    if bstream in jl.STREAMS:
        (b,), server = jl.measure(bstream, [("rtmp2src", 1, 4 - jl.LATE_MARGIN)], method,
                                  run_for=3.0)
        out["bframes"] = b.player.out_of_order(server, b.result)
        out["bframes_phase"] = b.phase
    return out


def table(rows):
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return lines


def extras_lines(rows, extras):
    lines = ["| sync-method | first keyframe after connect (model player, late / right after) | "
             "timestamps going back | newest audio to video, most (ms) | `ffmpeg -v error`, late "
             "join | B-frames through rtmp2src, late join |", "|---|---|---|---|---|---|"]
    for method, ex in extras.items():
        model = [r for r in rows if r.method == method and r.kind == "model"]
        first = back = gap = "-"
        if model:
            r = model[0]
            cb = r.base.player.checks(r.base.result)
            first = "%s / %s ms" % (ms(r.checks["first_key"]), ms(cb["first_key"]))
            back = "none" if not (r.checks["backwards"] or cb["backwards"]) else "%s %d -> %d" % (
                r.checks["backwards"] or cb["backwards"])
            gap = ms(max(r.checks["av_gap"], cb["av_gap"]))
        f = ex["ffmpeg"]
        ffm = ("clean, %d frames in 3 s" % f["frames"] if not f["errors"] and f["rc"] == 0 else
               "exit %d: %s" % (f["rc"], f["errors"].replace("\n", " / ")[:200]))
        bf = "-"
        if "bframes" in ex:
            n, bad = ex["bframes"]
            bf = "%d frames in order" % n if bad is None else "out of order: %d after %d" % (
                bad[1], bad[0])
        lines.append("| %s | %s | %s | %s | %s | %s |" % (method or TODAY, first, back, gap,
                                                          ffm, bf))
    return lines


def machine():
    return "%s; load average %s" % (measure.machine(), " ".join("%.2f" % x for x in os.getloadavg()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--streams", default=",".join(STREAMS))
    ap.add_argument("--players", default=",".join(PLAYERS))
    ap.add_argument("--methods", help="default: every sync-method the element has")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "JOIN.md"))
    args = ap.parse_args()
    setup(args.build)
    import joinlatency as jl

    methods = args.methods.split(",") if args.methods else methods_of_element()
    # run.sh passes --build build-bench itself: the command to rerun is what was typed.
    argv = sys.argv[1:]
    if argv[:2] == ["--build", "build-bench"]:
        argv = argv[2:]
    command = " ".join(["bench/run.sh", "--join"] + argv)
    started, load0 = datetime.datetime.now(datetime.timezone.utc), machine()
    runs = []
    for rep in range(args.repeat):
        for stream in args.streams.split(","):
            rows, extras = [], {}
            for method in methods:
                for kind in args.players.split(","):
                    rows.append(measure_row(jl, stream, method, kind))
                    print("\t".join([stream, "run %d" % (rep + 1)] + rows[-1].cells()),
                          flush=True)
                extras[method] = measure_extras(jl, stream, method)
            runs.append((rep + 1, stream, rows, extras))
            print("\n".join(table(rows) + [""] + extras_lines(rows, extras) + [""]), flush=True)
    write_report(args.out, jl, runs, command, started, load0, methods)
    print("rerun: %s\nwrote %s" % (command, os.path.relpath(args.out, ROOT)))


def write_report(path, jl, runs, command, started, load0, methods):
    commit = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%h %s"],
                            capture_output=True, text=True).stdout.strip()
    out = ["# Late joiners: latency behind live at real players (issue 19)", "",
           "Written by `bench/join.py` (rerun: `%s`) on %s at commit `%s`." % (
               command, started.strftime("%Y-%m-%d %H:%M UTC"), commit[:100]), "",
           "Machine: %s at the start; %s at the end." % (load0, machine().rsplit("; ", 1)[1]),
           "It is shared with other developers' builds and tests, so a figure can carry their "
           "load: every run is listed.", ""]
    out += METHOD_NOTE.format(methods=", ".join(m or TODAY for m in methods)).splitlines()
    for rep, stream, rows, extras in runs:
        s = jl.STREAMS[stream]
        out += ["", "## %s, run %d" % (stream, rep), "",
                "%dx%d, %d fps, %d kbps snow, a %d s GOP, x264enc %s; the late joiner joins "
                "%.1f s into a GOP." % (s["width"], s["height"], jl.FPS, s["kbps"], s["gop_s"],
                                        s["x264"], s["gop_s"] - jl.LATE_MARGIN), ""]
        out += table(rows) + [""] + extras_lines(rows, extras)
    out += [""] + NOTES.splitlines()
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


METHOD_NOTE = """Methods measured: {methods}.

Latency is the time a player presents a frame minus the time the frame entered the sink (a pad
probe on the sink's sink pad; frames matched by the CRC of their coded data), the median of what
it presented 4.75 to 5.25 s after the server started playing to it. For chromium it is how far
`video.currentTime` is behind the end of what is buffered, as issue 19 defines it. The "s in"
beside each figure is when the player really joined, after the keyframe before it."""

NOTES = """## How it is measured

- All four players run headless on this machine, none needs a display or a sound card.
- The stream is an FLV file encoded once (snow, so x264 spends the bitrate asked for, with
  48 kHz AAC) and served at its own pace: `filesrc ! flvdemux ! flvmux ! identity sync=true !
  ezrtmpserversink`, the element at its defaults (plus `http=true` for chromium), so every frame
  enters the sink when it is due, as from a live encoder.
- Every join is a run of its own: the late joiner 0.5 s before the second keyframe (3.5 s into
  the first 4 s GOP), the one right after a keyframe 50 ms after the second.
- The model player is tests/e2e/rtmpclient.py presenting frame k at
  max(arrival_k, t0 + pts_k - pts_0): it plays at the timestamps' pace and never skips (ffplay,
  VLC and OBS by default). It also gives the first-keyframe delay, the timestamp order and the
  newest audio to video distance (from 1 s after its first frame on).
- rtmp2src is `rtmp2src ! flvdemux ! h264parse ! avdec_h264 ! fakesink sync=true` in a process of
  its own: fakesink's handoff dates a presentation; its PTS names the frame through a probe after
  flvdemux (whose buffers carry the same CRC as the sink's).
- mpv is Debian's 0.35 with `--no-config --vo=null --ao=null` (the null outputs keep mpv's
  timing: they play in real time) and `--rebase-start-time=no`, which changes only the numbers
  it reports, not when it shows a frame: its `time-pos` (0.35 has no `video-pts`) is then the
  stream's PTS of the frame shown. It is asked for every 10 ms over `--input-ipc-server`; the
  join is a `loadfile` sent there to an mpv already started with `--idle`.
- chromium is Debian's, headless, opening examples/web's page (mpegts.js, its own options);
  puppeteer holds the page's request for the stream until the join.
- CPU is the player's processes' (for chromium, all of its processes) user + system time in the
  first 2 s after the join; "within 250 ms of live from" is how long after its join the late
  joiner's latency came within 250 ms of that of the same player joining right after a keyframe
  and stayed there for the rest of its run (a browser's latency starts small, while little is
  buffered: that is not live yet).
- "no picture": the player presented nothing 4.75 to 5.25 s after it joined (mpv joining right
  after a keyframe under next-keyframe waits almost a GOP, then fills its own buffer first).
- ffmpeg is `ffmpeg -v error -i URL -fps_mode vfr -f null -`, stopped with `q` after 3 s; its
  frame count is of what reached the null output. Without `-fps_mode vfr` it reports
  "non monotonically increasing dts to muxer" for a live-edge replay: the replay's frames 1 ms
  apart share a tick of the null muxer's 1/30 s time base (every frame still decodes).
- The first keyframe's delay is until the model player (Python) has the whole message: the
  1080p stream's keyframes are about 1.1 MB.
- tests/e2e/test_join.py asserts what the server sends a late joiner, which no busy machine
  changes: the replay's frames in order, its timestamps ending at the newest frame's own, the
  latency those give a timestamp-paced player in the stream's time, and ffmpeg's clean decode.
  The wall-clock figures above are this benchmark's alone.
- B-frames: the 720p stream again with `x264enc bframes=2` and without `tune=zerolatency`,
  joined 3.5 s into its second GOP (GStreamer's flvmux clamps the negative decoding times of a
  B-frame stream's first frames, which garbles the first GOP of the file itself)."""


if __name__ == "__main__":
    main()
