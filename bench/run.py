#!/usr/bin/env python3
"""ezrtmpserversink against nginx-rtmp and SRS, in one run, on the same pre-encoded input.

For each N, three times by default (--repeat, the servers taking turns), each server and setting
serves one H.264 + AAC stream from the same FLV file at real-time rate to N players of
bench/ezrload (one process, one epoll loop), RTMP players and, at the N of --http-ns, HTTP-FLV
players (see bench/servers.py):
  ezrtmp: at its defaults and at each flush-interval of --flush-intervals;
  nginx-rtmp: RTMP only;
  SRS: its defaults and realtime settings, when its kit is beside the checkout (skipped, and
       said so, when not).
Then a slow-client run: ezrtmp with 1,000 players of which 10 stop reading.

It writes bench/RESULTS.md (machine, commands, tables), bench/results.png (gnuplot: the
frontier, CPU per GB against lag p99 of every server and setting) and bench/results-players.png.

With --streams it runs the realistic stream matrix instead (STREAMS below: 720p 4 Mbps, 1080p
8 Mbps noise with a 4 s GOP, 1080p 20 Mbps, audio only, and video only: 1080p 8 Mbps, 4 s GOP),
each to N players that join spread over one GOP, so every one of them is a late joiner at its own point of the GOP, and writes
bench/STREAMS.md and bench/results-streams.json.

With --tls N (RTMPS against plain RTMP) or --http N (N HTTP-FLV players beside N RTMP players,
at the same time, on one server) it writes only its own section of bench/RESULTS.md.

    bench/run.sh                       # installs what it needs, builds, runs this
    /usr/bin/python3 bench/run.py --build build-bench [--ns 100,1000] [--seconds 10] [--repeat 3]
    bench/run.sh --streams [--ns 100] [--seconds 10]
    bench/run.sh --http 1000 [--seconds 10]
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from servers import ROOT, SRS_SETTINGS, Ezrtmp, Nginx, Srs, log, srs_install

TICK = os.sysconf("SC_CLK_TCK")
FPS = 25
GOP_FRAMES = 50  # a keyframe every 2 s, as streaming services ask for
AUDIO_KBPS = 64

# The realistic stream matrix (--streams): what cameras and OBS send. Snow (per-pixel noise)
# cannot be compressed, so x264 really spends the bitrate asked for.
STREAM_FPS = 30
STREAM_AUDIO_KBPS = 128
STREAMS = [
    dict(name="720p30 4 Mbps snow, 2 s GOP", key="720p-4m-gop2", width=1280, height=720,
         kbps=4000, gop_s=2, pattern="snow", tracks="av"),
    dict(name="1080p30 8 Mbps snow, 4 s GOP", key="1080p-8m-gop4", width=1920, height=1080,
         kbps=8000, gop_s=4, pattern="snow", tracks="av"),
    dict(name="1080p30 20 Mbps snow, 2 s GOP", key="1080p-20m-gop2", width=1920, height=1080,
         kbps=20000, gop_s=2, pattern="snow", tracks="av"),
    dict(name="audio only, AAC 128 kbps", key="aac-128k", kbps=0, gop_s=2, tracks="a"),
    # No audio at all: players and servers must not wait for an audio track (flvmux gets one
    # pad, the FLV header says video only) and the late joiner's burst is video alone.
    dict(name="video only, 1080p30 8 Mbps snow, 4 s GOP", key="1080p-8m-gop4-video",
         width=1920, height=1080, kbps=8000, gop_s=4, pattern="snow", tracks="v"),
]

SLOW_SEND_BUFFER = 65536
SLOW_TIERS = ["queue-warning-bytes=131072", "queue-high-bytes=262144", "queue-max-bytes=524288"]


def make_input(path, total_kbps, seconds):
    """A 640x360 25 fps H.264 (x264enc) + AAC (avenc_aac) FLV of about total_kbps."""
    if os.path.exists(path):
        return
    log("encoding %s (%d kbps, %d s)" % (path, total_kbps, seconds))
    tmp = path + ".part"
    pipeline = (
        "videotestsrc num-buffers=%d horizontal-speed=4 "
        "! video/x-raw,width=640,height=360,framerate=%d/1 "
        "! x264enc bitrate=%d key-int-max=%d tune=zerolatency speed-preset=veryfast "
        "! h264parse ! flvmux name=m ! filesink location=%s "
        "audiotestsrc num-buffers=%d ! audio/x-raw,rate=44100,channels=2 "
        "! avenc_aac bitrate=%d ! aacparse ! m."
        % (seconds * FPS, FPS, total_kbps - AUDIO_KBPS, GOP_FRAMES, tmp,
           math.ceil(seconds * 44100 / 1024), AUDIO_KBPS * 1000))
    subprocess.run(["gst-launch-1.0", "-q"] + pipeline.split(), check=True)
    os.rename(tmp, path)


def make_stream_input(path, st, seconds):
    """One stream of the matrix as an FLV file (encoded once, faster or slower than real time)."""
    if os.path.exists(path):
        return
    log("encoding %s (%s, %d s)" % (path, st["name"], seconds))
    tmp = path + ".part"
    audio = ("audiotestsrc num-buffers=%d samplesperbuffer=1024 wave=white-noise volume=0.3 "
             "! audio/x-raw,rate=48000,channels=2 ! avenc_aac bitrate=%d ! aacparse ! m. "
             % (math.ceil(seconds * 48000 / 1024), STREAM_AUDIO_KBPS * 1000))
    video = ""
    if "v" in st["tracks"]:
        # scenecut=0: a keyframe exactly every GOP (noise looks like a scene cut to x264).
        video = ("videotestsrc num-buffers=%d pattern=%s ! video/x-raw,width=%d,height=%d,"
                 "framerate=%d/1 ! x264enc bitrate=%d key-int-max=%d speed-preset=ultrafast "
                 "option-string=scenecut=0 ! h264parse ! m. "
                 % (seconds * STREAM_FPS, st["pattern"], st["width"], st["height"], STREAM_FPS,
                    st["kbps"], st["gop_s"] * STREAM_FPS))
    pipeline = "flvmux name=m ! filesink location=%s %s%s" % (
        tmp, video, audio if "a" in st["tracks"] else "")
    subprocess.run(["gst-launch-1.0", "-q"] + pipeline.split(), check=True)
    os.rename(tmp, path)


def proc_cpu(pid, tid=None):
    """User + system CPU seconds of a process (all threads) or of one of its threads."""
    path = "/proc/%d/task/%d/stat" % (pid, tid) if tid else "/proc/%d/stat" % pid
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_ticks():
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat (idle and iowait are
    not busy)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    total = sum(v[:8])  # user nice system idle iowait irq softirq steal (guest is in user)
    return total - v[3] - v[4], total


def proc_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def load_run(build, server, n, seconds, stalled=0, log_path=None, rate=2000, extra=(), url=None):
    """Plays n players against server (at url, else its RTMP URL); measures its CPU and RSS over
    the run."""
    args = [os.path.join(build, "bench", "ezrload"), "-n", str(n), "-r", str(rate), "-d",
            str(seconds), "-j"] + list(extra)
    if stalled:
        args += ["-k", str(stalled)]
    rss0 = proc_rss_kb(server.pid)
    cpu0 = proc_cpu(server.pid)
    rcpu0 = proc_cpu(server.pid, server.reactor) if server.reactor else None
    busy0, total0 = machine_ticks()
    t0 = time.monotonic()
    with open(log_path or os.devnull, "w") as err:
        load = subprocess.Popen(args + [url or server.url], stdout=subprocess.PIPE, stderr=err)
        rss_max = rss0
        while load.poll() is None:
            rss_max = max(rss_max, proc_rss_kb(server.pid))
            time.sleep(0.25)
        out = load.stdout.read()
    wall = time.monotonic() - t0
    cpu = proc_cpu(server.pid) - cpu0
    rcpu = proc_cpu(server.pid, server.reactor) - rcpu0 if server.reactor else None
    busy1, total1 = machine_ticks()
    result = json.loads(out)
    gb = result["bytes"] / 1e9
    return {
        "machine_busy": round((busy1 - busy0) / (total1 - total0), 3) if total1 > total0 else None,
        "server": server.name, "n": n, "load": result, "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 2), "reactor_cpu_s": None if rcpu is None else round(rcpu, 2),
        "gb": round(gb, 3), "cpu_per_gb": round(cpu / gb, 2) if gb else None,
        "rss0_mb": round(rss0 / 1024, 1), "rss_max_mb": round(rss_max / 1024, 1),
        "rss_per_player_kb": round((rss_max - rss0) / n, 2),
    }


def serve_and_load(args, server, n, tmp, url=None):
    """load_run() of n players against a started server, which it then stops; with the sink's
    own figures for ezrtmp. A pipeline error fails the benchmark."""
    try:
        r = load_run(args.build, server, n, args.seconds, log_path=os.path.join(tmp, "load.log"),
                     url=url)
    finally:
        stats = server.close()
    if stats and stats.get("error"):
        raise RuntimeError("ezrtmp pipeline: %s" % stats["error"])
    if stats:
        r["sink"] = sink_figures(stats["samples"], args.seconds)
    return r


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


PROTOCOLS = {"rtmp": "RTMP", "http-flv": "HTTP-FLV"}


def protocol(row):
    return row.get("protocol", "rtmp")


def table(rows, kbps_of):
    out = ["| N | stream | server and setting | players | playing | dropped | GB sent "
           "| server CPU s (% of a core) "
           "| CPU s/GB | RSS MB (before → max) | RSS/player KB | TTFK p50 / p99 / max ms "
           "| video lag p50 / p99 / max ms | audio lag p99 ms | reactor busy, send latency p99 ms "
           "| first video not key | load client CPU s | both cores busy | ezrtmp/nginx CPU per GB |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    by = {(r["server"], protocol(r), r["n"], r.get("run", 1)): r for r in rows}
    repeated = any(r.get("run", 1) > 1 for r in rows)
    for r in rows:
        ld = r["load"]
        other = by.get(("nginx-rtmp", "rtmp", r["n"], r.get("run", 1)))
        ratio = ""
        if (r["server"].startswith("ezrtmp") and protocol(r) == "rtmp" and other
                and other["cpu_per_gb"] and r["cpu_per_gb"]):
            ratio = "%.2f" % (r["cpu_per_gb"] / other["cpu_per_gb"])
        cpu = "%.2f (%d%%)" % (r["cpu_s"], round(100 * r["cpu_s"] / r["wall_s"]))
        if r["reactor_cpu_s"] is not None:
            cpu += "; reactor %.2f (%d%%)" % (r["reactor_cpu_s"],
                                             round(100 * r["reactor_cpu_s"] / r["wall_s"]))
        lag, alag = ld.get("lag_ms") or {}, ld.get("audio_lag_ms") or {}
        sink = r.get("sink") or {}
        own = "-" if not sink else "%.2f, %s" % (sink["reactor_busy"],
                                                 fmt(sink["send_latency_p99_ms"]))
        busy = r.get("machine_busy")
        out.append("| %s | %d kbps | %s | %s | %d / %d | %d | %.3f | %s | %s | %s → %s | %s "
                   "| %s / %s / %s | %s / %s / %s | %s | %s | %d | %.2f | %s | %s |" % (
                       "%d, run %d" % (r["n"], r.get("run", 1)) if repeated else r["n"],
                       kbps_of(r["n"]), r["server"], PROTOCOLS[protocol(r)], ld["playing"],
                       ld["players"],
                       ld["dropped"], r["gb"], cpu, fmt(r["cpu_per_gb"], "%.2f"),
                       r["rss0_mb"], r["rss_max_mb"], fmt(r["rss_per_player_kb"], "%.2f"),
                       fmt(ld["ttfk_ms"]["p50"]), fmt(ld["ttfk_ms"]["p99"]),
                       fmt(ld["ttfk_ms"]["max"]), fmt(lag.get("p50")), fmt(lag.get("p99")),
                       fmt(lag.get("max")), fmt(alag.get("p99")), own,
                       ld["first_video_not_key"], ld["client_cpu_s"],
                       "-" if busy is None else "%d%%" % round(100 * busy), ratio))
    return "\n".join(out)


def median_of(rows, server, proto, n, key):
    """The median over the runs of (server, protocol, n) of one figure: "cpu" (s per GB),
    "reactor" (its reactor thread's s per GB), "ttfk" (p99) or "lag" (video, p99); None when no
    run has it."""
    vs = []
    for r in rows:
        if (r["server"], protocol(r), r["n"]) != (server, proto, n):
            continue
        if key == "cpu":
            v = r["cpu_per_gb"]
        elif key == "reactor":
            v = r["reactor_cpu_s"] / r["gb"] if r["reactor_cpu_s"] is not None and r["gb"] else None
        elif key == "ttfk":
            v = r["load"]["ttfk_ms"]["p99"]
        else:
            v = (r["load"].get("lag_ms") or {}).get("p99")
        if v is not None:
            vs.append(v)
    return statistics.median(vs) if vs else None


def names_in_order(rows):
    return list(dict.fromkeys(r["server"] for r in rows))


def plot(rows, png, players_png, tmp):
    """png: the frontier, CPU per GB against video lag p99 of every server and setting, one panel
    per player count and protocol; players_png: CPU per GB, TTFK p99 and lag p99 against
    players, RTMP, a line per server and setting."""
    ns = sorted({r["n"] for r in rows})
    names = names_in_order(rows)
    panels = []
    for n in ns:
        kbps = next(r.get("kbps") for r in rows if r["n"] == n)
        for proto in PROTOCOLS:
            points = [(name, median_of(rows, name, proto, n, "lag"),
                       median_of(rows, name, proto, n, "cpu")) for name in names]
            points = [p for p in points if p[1] is not None and p[2] is not None]
            if not points:
                continue
            data = os.path.join(tmp, "frontier-%d-%s.dat" % (n, proto))
            with open(data, "w") as f:
                for name, lag, cpu in points:
                    label = name.replace("flush-interval=", "") + (
                        " ms" if "flush-interval=" in name else "")
                    family = 1 if name.startswith("ezrtmp") else 7 if name.startswith("SRS") else 4
                    f.write('"%s" %s %s %d\n' % (label, max(lag, 0.1), cpu, family))
            panels.append(
                "set title '%d %s players%s'\nplot '%s' using 2:3:4 with points pt 7 ps 2 lc variable "
                "notitle, "
                "'' using 2:3:1 with labels offset char 1,0.7 left font ',9' notitle" % (
                    n, PROTOCOLS[proto], "" if kbps is None else " of %s kbps" % kbps, data))
    if panels:
        script = """
set terminal pngcairo size %d,560 font ",11"
set output '%s'
set multiplot layout 1,%d title "The frontier: server CPU seconds per GB against video delivery lag p99\\n(same input, same players, this machine; median of the runs; lower left is better; ezrtmp purple, SRS red, nginx-rtmp orange)"
set logscale xy
set xlabel 'video delivery lag p99 (ms)'
set ylabel 'server CPU s per GB'
set grid
set offsets graph 0.05, graph 0.35, graph 0.1, graph 0.05
%s
unset multiplot
""" % (620 * len(panels), png, len(panels), "\n".join(panels))
        subprocess.run(["gnuplot"], input=script.encode(), check=True)

    rtmp = [name for name in names if any(r["server"] == name and protocol(r) == "rtmp"
                                          for r in rows)]
    data = os.path.join(tmp, "players.dat")
    with open(data, "w") as f:
        for n in ns:
            f.write("%d %s\n" % (n, " ".join(
                "NaN" if v is None else str(v) for key in ("cpu", "ttfk", "lag")
                for v in (median_of(rows, name, "rtmp", n, key) for name in rtmp))))

    def lines(first):
        return ", ".join("'%s' using 1:%d with linespoints lw 2 title '%s'"
                         % (data if i == 0 else "", first + i, name)
                         for i, name in enumerate(rtmp))

    script = """
set terminal pngcairo size 1800,480 font ",11"
set output '{png}'
set multiplot layout 1,3 title 'RTMP players: every server and setting (same input, same players, this machine; median of the runs)'
set logscale x
set xlabel 'players'
set grid
set key top left
set title 'server CPU seconds per GB delivered'
set yrange [0:*]
plot {cpu}
set title 'time to first keyframe, p99 (ms)'
set logscale y
set yrange [*:*]
plot {ttfk}
set title 'video delivery lag, p99 (ms)'
plot {lag}
unset multiplot
""".format(png=players_png, cpu=lines(2), ttfk=lines(2 + len(rtmp)),
           lag=lines(2 + 2 * len(rtmp)))
    subprocess.run(["gnuplot"], input=script.encode(), check=True)


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gb = int(f.readline().split()[1]) / 1024 / 1024
    nginx = subprocess.run(["nginx", "-v"], capture_output=True).stderr.decode().strip()
    gst = subprocess.run(["gst-launch-1.0", "--version"], capture_output=True).stdout.decode()
    gst = gst.splitlines()[1] if len(gst.splitlines()) > 1 else gst.strip()
    return ("%s, %d logical CPUs, %.0f GiB RAM; Linux %s; %s; %s"
            % (model, os.cpu_count(), mem_gb, platform.release(), gst, nginx))


def sink_figures(samples, seconds):
    """The sink's own reactor-busy and send-latency p99, averaged over the one-second samples of
    the play time after the last player joined (the last `seconds` before the server stopped)."""
    if not samples:
        return None
    end = samples[-1]["t"]
    play = [s for s in samples if s["t"] > end - seconds] or samples[-1:]
    return {"reactor_busy": sum(s["reactor_busy"] for s in play) / len(play),
            "send_latency_p50_ms": sum(s["send_latency_p50_us"] for s in play) / len(play) / 1000,
            "send_latency_p99_ms": sum(s["send_latency_p99_us"] for s in play) / len(play) / 1000}


def slow_summary(run, stats, stalled):
    ld = run["load"]
    final = stats["final"]
    samples = [s for s in stats["samples"] if s["renders"]]
    t_cut = next((s["t"] for s in samples if s["disconnects_slow"] >= stalled), None)
    before = [s["render_mean_us"] for s in samples if t_cut is None or s["t"] < t_cut]
    after = [s["render_mean_us"] for s in samples if t_cut is not None and s["t"] >= t_cut]
    mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
    return {
        "players": ld["players"], "stalled": stalled,
        "disconnects_slow": final["disconnects-slow"], "dropped_stalled": ld["dropped_stalled"],
        "dropped_healthy": ld["dropped_healthy"], "gaps_over_500ms": ld["gaps_over"],
        "max_gap_ms": ld["max_gap_ms"], "max_video_ts_step_ms": ld["max_video_ts_step_ms"],
        "ts_regressions": ld["ts_regressions"],
        "players_with_server_drops_max": max((s["clients_with_drops"] for s in samples), default=0),
        "players_with_server_drops_after_cut": max(
            (s["clients_with_drops"] for s in samples if t_cut is not None and s["t"] >= t_cut),
            default=None),
        "frames_dropped_warning": final["frames-dropped-warning"],
        "frames_dropped_high": final["frames-dropped-high"],
        "stalled_cut_at_s": t_cut,
        "render_mean_us_before_cut": mean(before), "render_mean_us_after_cut": mean(after),
        "render_max_us": final["render-time-max-ns"] / 1000.0,
        "render_series": [(s["t"], s["render_mean_us"], s["clients"]) for s in samples],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--ns", default=None,
                    help="player counts (default 100,1000,5000,10000; 100 with --streams)")
    ap.add_argument("--seconds", type=int, default=10, help="play time after the last joins")
    ap.add_argument("--big-n", type=int, default=5000,
                    help="from this N on, the 200 kbps stream instead of 1 Mbps")
    ap.add_argument("--slow-seconds", type=int, default=100,
                    help="play time of the slow run")
    ap.add_argument("--no-slow", action="store_true", help="skip the slow-client run")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each player count, alternating the servers (the targets are "
                    "judged in each run: on a shared two-core machine one run is not a verdict)")
    ap.add_argument("--set", action="append", default=[], metavar="PROPERTY=VALUE",
                    help="a property of ezrtmpserversink for every ezrtmp run; may be repeated")
    ap.add_argument("--only-ezrtmp", action="store_true",
                    help="skip nginx-rtmp and SRS (for quick looks; the results then have no "
                    "ratio)")
    ap.add_argument("--flush-intervals", default="350", metavar="MS,...",
                    help="ezrtmp with flush-interval=MS beside its defaults, for each MS (the "
                    "latency against CPU table; empty: defaults only)")
    ap.add_argument("--http-ns", default="1000", metavar="N,...",
                    help="the player counts (of --ns) also run with HTTP-FLV players, for each "
                    "server that serves HTTP-FLV (not nginx-rtmp)")
    ap.add_argument("--no-srs", action="store_true", help="skip SRS")
    ap.add_argument("--srs-kit", default=None, metavar="DIR",
                    help="the SRS kit (default: ../shared/peers/srs beside the checkout); SRS "
                    "is built from it into BUILD/srs-O2 and skipped when there is none")
    ap.add_argument("--tls", type=int, default=0, metavar="N",
                    help="instead of the runs above: N RTMPS players, then N plain RTMP players, "
                         "on the same TLS-enabled port at 1 Mbps; writes only the TLS section "
                         "of RESULTS.md")
    ap.add_argument("--http", type=int, default=0, metavar="N",
                    help="instead of the runs above: N HTTP-FLV players and N RTMP players at "
                         "the same time against one server with http=true, at 1 Mbps; writes "
                         "only the HTTP section of RESULTS.md")
    ap.add_argument("--replot", action="store_true",
                    help="run nothing: the plots and RESULTS.md again from results.json in "
                    "--out (give the options of the run that wrote it)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench"),
                    help="where RESULTS.md and results.png go")
    ap.add_argument("--streams", action="store_true",
                    help="the realistic stream matrix instead (writes STREAMS.md; --ns defaults "
                    "to 100)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.streams:
        return streams_main(args)
    args.ns = args.ns or "100,1000,5000,10000"
    ns = [int(x) for x in args.ns.split(",") if x]
    kbps_of = lambda n: 200 if n >= args.big_n else 1000  # noqa: E731
    cache = os.path.join(args.build, "bench-inputs")
    os.makedirs(cache, exist_ok=True)
    # Long enough that no run reaches the end of the file (the 5,000 players' ramp included).
    secs = {200: args.seconds + 90, 1000: max(args.seconds + 90, args.slow_seconds + 60)}
    inputs = {k: os.path.join(cache, "input-%dkbps-%ds.flv" % (k, t)) for k, t in secs.items()}
    for k, path in inputs.items():
        make_input(path, k, secs[k])

    if args.tls:
        return tls_comparison(args, inputs[1000])
    if args.http:
        return http_comparison(args, inputs[1000])
    if args.replot:
        with open(os.path.join(args.out, "results.json")) as f:
            saved = json.load(f)
        args.srs_version, args.srs_skipped = saved.get("srs"), saved.get("srs_skipped")
        args.written = saved.get("written")
        with tempfile.TemporaryDirectory() as tmp:
            plot(saved["rows"], os.path.join(args.out, "results.png"),
                 os.path.join(args.out, "results-players.png"), tmp)
        write_results(args, saved["rows"], saved["slow"], kbps_of)
        return 0
    rows = []
    slow = None
    http_ns = {int(x) for x in args.http_ns.split(",") if x}
    srs = None
    if not args.only_ezrtmp and not args.no_srs:
        srs, args.srs_version = srs_install(args.build, args.srs_kit)
        if not srs:
            args.srs_skipped = args.srs_version
            log("SRS skipped: " + args.srs_skipped)
    with tempfile.TemporaryDirectory() as tmp:
        # The servers alternate run by run, so that a change in the machine over time falls
        # on all of them.
        runs = [(n, run, proto, name, start) for n in ns for run in range(1, args.repeat + 1)
                for proto in ("rtmp", "http-flv") if proto == "rtmp" or n in http_ns
                for name, start, protos in contenders(args, srs, tmp) if proto in protos]
        for n, run, proto, name, start in runs:
            log("%s, %s, %d players, %d kbps, run %d of %d"
                % (name, proto, n, kbps_of(n), run, args.repeat))
            server = start(inputs[kbps_of(n)], proto)
            r = serve_and_load(args, server, n, tmp, server.urls[proto])
            r.update(server=name, protocol=proto, run=run, kbps=kbps_of(n))
            log("  " + json.dumps({k: v for k, v in r.items() if k != "load"}))
            rows.append(r)
            save_results(args, rows, None)  # a run that fails later keeps these (--replot)
        if not args.no_slow:
            # Stalled players' kernel buffers are kept small (send-buffer-size), so that our
            # queue, and its tiers, see their backlog within the run instead of the kernel's
            # autotuned megabytes. The tiers are an eighth of the defaults: above the high tier,
            # and once its oldest data is past the age limit (10 s), a stalled player's queue
            # grows by keyframes only (about 10 KB/s here), so at the defaults it would take
            # minutes to reach the critical level (client-timeout, off here, closes such a
            # player after 30 s anyway).
            stalled = 10
            log("slow-client run: 1000 players, %d stalled, %d s" % (stalled, args.slow_seconds))
            server = Ezrtmp(args.build, inputs[1000], tmp,
                            args.set + ["send-buffer-size=%d" % SLOW_SEND_BUFFER, "client-timeout=0"]
                            + SLOW_TIERS)
            try:
                r = load_run(args.build, server, 1000, args.slow_seconds, stalled=stalled)
            finally:
                stats = server.close()
            slow = slow_summary(r, stats, stalled)
            slow["send_buffer_size"] = SLOW_SEND_BUFFER
            log("  " + json.dumps({k: v for k, v in slow.items() if k != "render_series"}))
        # The figures first: a failing plot must not lose the run.
        save_results(args, rows, slow)
        if rows:
            plot(rows, os.path.join(args.out, "results.png"),
                 os.path.join(args.out, "results-players.png"), tmp)

    write_results(args, rows, slow, kbps_of)
    return 0


def written(args):
    """When the figures were measured, and on what: a replot keeps the run's (args.written)."""
    if getattr(args, "written", None):
        return args.written
    args.written = "%s. Machine: %s" % (datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
                                        machine())
    return args.written


def save_results(args, rows, slow):
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"rows": rows, "slow": slow, "srs": getattr(args, "srs_version", None),
                   "srs_skipped": getattr(args, "srs_skipped", None),
                   "written": written(args)}, f, indent=1)


def flush_label(ms):
    return "ezrtmp flush-interval=%s" % ms


def contenders(args, srs, tmp):
    """(name, start(input_flv, protocol) -> server, protocols) of every server and setting the
    run compares: ezrtmp at its defaults and at each --flush-intervals, nginx-rtmp, and SRS at
    each of SRS_SETTINGS when it was built (srs: its install directory)."""
    def ezrtmp(props):
        return lambda flv, proto: Ezrtmp(args.build, flv, tmp, args.set + props + (
            ["http=true"] if proto == "http-flv" else []))

    both = ("rtmp", "http-flv")
    out = [(Ezrtmp.name, ezrtmp([]), both)]
    out += [(flush_label(ms), ezrtmp(["flush-interval=" + ms]), both)
            for ms in args.flush_intervals.split(",") if ms]
    if args.only_ezrtmp:
        return out
    out.append((Nginx.name, lambda flv, proto: Nginx(args.build, flv, tmp), ("rtmp",)))
    for setting in SRS_SETTINGS if srs else ():
        out.append(("SRS " + setting, lambda flv, proto, setting=setting: Srs(
            args.build, srs, setting, flv, tmp), both))
    return out


def make_cert(tmp):
    """A throwaway self-signed certificate for 127.0.0.1 (ezrload does not verify it)."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


TLS_BEGIN = "<!-- tls: written by bench/run.py --tls; the rest of this file by a full run -->"
TLS_END = "<!-- /tls -->"


def tls_comparison(args, input_flv):
    """N RTMPS players, then N plain RTMP players, each against a fresh server with a certificate
    (the same port configuration both times), same 1 Mbps input: CPU per GB and memory per
    player of TLS against plain. Replaces only the TLS section of RESULTS.md."""
    n = args.tls
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_cert(tmp)
        props = args.set + ["tls-certificate=" + cert, "tls-key=" + key]
        for kind in ("rtmps", "rtmp"):
            log("TLS comparison: %d %s players, 1000 kbps" % (n, kind))
            server = Ezrtmp(args.build, input_flv, tmp, props)
            server.url = server.url.replace("rtmp://", kind + "://")
            r = serve_and_load(args, server, n, tmp)
            r["kind"] = kind
            log("  " + json.dumps({k: v for k, v in r.items() if k != "load"}))
            rows.append(r)
    with open(os.path.join(args.out, "results-tls.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open("/proc/loadavg") as f:
        loadavg = f.read().split()[:3]
    lines = [TLS_BEGIN, "", "## TLS: RTMPS against plain RTMP", "",
             "`bench/run.sh --tls %d` (%s; load average at the end %s): %d players of a 1 Mbps "
             "stream for %d s after the last joined, first over TLS (rtmps://, `ezrload -t`, "
             "OpenSSL on both sides, TLS 1.3 with its default suites), then plain "
             "rtmp://, each against a fresh server with the same certificate configured. "
             "Kernel TLS was not used: this kernel offers no `tls` ULP."
             % (n, machine(), " ".join(loadavg), n, args.seconds), "",
             "| players | playing | dropped | GB sent | server CPU s | CPU s per GB | "
             "memory per player KB | TTFK p50 / p99 ms | video lag p99 ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ld = r["load"]
        lines.append("| %d %s | %d | %d | %.2f | %.2f | %s | %.1f | %s / %s | %s |" % (
            n, r["kind"], ld["playing"], ld["dropped"], r["gb"], r["cpu_s"],
            fmt(r["cpu_per_gb"], "%.2f"), r["rss_per_player_kb"], fmt(ld["ttfk_ms"]["p50"]),
            fmt(ld["ttfk_ms"]["p99"]), fmt((ld.get("lag_ms") or {}).get("p99"))))
    tls_r, plain_r = rows
    if tls_r["cpu_per_gb"] and plain_r["cpu_per_gb"]:
        lines += ["", "TLS costs %.1fx the CPU per GB of plain RTMP and %.1f KB more memory per "
                  "player." % (tls_r["cpu_per_gb"] / plain_r["cpu_per_gb"],
                               tls_r["rss_per_player_kb"] - plain_r["rss_per_player_kb"])]
    lines += ["", TLS_END]
    replace_section(os.path.join(args.out, "RESULTS.md"), TLS_BEGIN, TLS_END, lines)
    return 0


def replace_section(path, begin, end, lines):
    """Puts lines (from the begin marker to the end marker) in place of that section of the
    file, or at its end when it has none; the rest of the file is kept."""
    section = "\n".join(lines) + "\n"
    text = open(path).read() if os.path.exists(path) else ""
    if begin in text and end in text:
        a = text.index(begin)
        b = text.index(end) + len(end) + 1
        text = text[:a] + section + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)
    log("wrote a section of %s" % path)


HTTP_BEGIN = "<!-- http: written by bench/run.py --http; the rest of this file by a full run -->"
HTTP_END = "<!-- /http -->"


def load_together(build, server, urls, n, seconds, log_dir):
    """One ezrload of n players per URL, all started together against one server; the server's
    CPU and RSS over the whole run (from the first start to the last exit)."""
    base = [os.path.join(build, "bench", "ezrload"), "-n", str(n), "-d", str(seconds),
            "-f", str(FPS), "-j"]
    rss0 = proc_rss_kb(server.pid)
    cpu0 = proc_cpu(server.pid)
    rcpu0 = proc_cpu(server.pid, server.reactor)
    t0 = time.monotonic()
    loads = []
    for i, url in enumerate(urls):
        err = open(os.path.join(log_dir, "load-%d.log" % i), "w")
        loads.append((subprocess.Popen(base + [url], stdout=subprocess.PIPE, stderr=err), err))
    rss_max = rss0
    while any(p.poll() is None for p, _ in loads):
        rss_max = max(rss_max, proc_rss_kb(server.pid))
        time.sleep(0.25)
    wall = time.monotonic() - t0
    cpu = proc_cpu(server.pid) - cpu0
    rcpu = proc_cpu(server.pid, server.reactor) - rcpu0
    results = []
    for p, err in loads:
        err.close()
        results.append(json.loads(p.stdout.read()))
    return {"loads": results, "wall_s": round(wall, 1), "cpu_s": round(cpu, 2),
            "reactor_cpu_s": round(rcpu, 2), "rss0_mb": round(rss0 / 1024, 1),
            "rss_max_mb": round(rss_max / 1024, 1),
            "rss_per_player_kb": round((rss_max - rss0) / (n * len(urls)), 2)}


def http_comparison(args, input_flv):
    """N HTTP-FLV players and N RTMP players at the same time (two ezrload processes started
    together) against one server with http=true, same 1 Mbps input: per protocol players playing,
    time to first keyframe and video lag; CPU per GB of the server over both. Replaces only the
    HTTP section of RESULTS.md."""
    n = args.http
    with tempfile.TemporaryDirectory() as tmp:
        log("HTTP-FLV beside RTMP: %d + %d players, 1000 kbps" % (n, n))
        server = Ezrtmp(args.build, input_flv, tmp, args.set + ["http=true"])
        http_url = "http://127.0.0.1:%d/live/stream.flv" % server.port
        try:
            run = load_together(args.build, server, [http_url, server.url], n, args.seconds, tmp)
        finally:
            stats = server.close()
        if stats and stats.get("error"):
            raise RuntimeError("ezrtmp pipeline: %s" % stats["error"])
    with open("/proc/loadavg") as f:
        run["loadavg"] = f.read().split()[:3]
    run["protocols"] = ["http-flv", "rtmp"]
    total_gb = sum(ld["bytes"] for ld in run["loads"]) / 1e9
    run["gb"] = round(total_gb, 3)
    run["cpu_per_gb"] = round(run["cpu_s"] / total_gb, 2) if total_gb else None
    # Both processes' lags on one baseline: the best-served video frame of either protocol
    # (their clocks are the same CLOCK_MONOTONIC).
    bases = [(ld.get("lag_ms") or {}).get("base_ms") for ld in run["loads"]]
    common = min((b for b in bases if b is not None), default=None)
    for ld, b in zip(run["loads"], bases):
        lag = ld.get("lag_ms") or {}
        shift = b - common if b is not None else None
        ld["lag_common_ms"] = {k: None if lag.get(k) is None else round(lag[k] + shift, 1)
                               for k in ("p50", "p99", "max")}
    log("  " + json.dumps({k: v for k, v in run.items() if k != "loads"}))
    with open(os.path.join(args.out, "results-http.json"), "w") as f:
        json.dump(run, f, indent=1)

    lines = [HTTP_BEGIN, "", "## HTTP-FLV beside RTMP", "",
             "`bench/run.sh --http %d --seconds %d` (%s; load average at the end %s): one "
             "server with `http=true` serving the 1 Mbps stream of the table above; %d HTTP-FLV "
             "players (`ezrload http://127.0.0.1:PORT/live/stream.flv`: GET, the response head, "
             "then the FLV header and tags) and %d RTMP players (`ezrload rtmp://...`), two "
             "ezrload processes started together, each opening its players at 2,000/s and "
             "playing %d s after its last one started. TTFK and video lag as above; the lag of "
             "both protocols is relative to the best-served video frame of either (the two "
             "processes share the machine's monotonic clock), so the rows compare. Video frames "
             "missing: after a player's first keyframe, each video timestamp step of k frame "
             "durations (%d fps) counts k - 1."
             % (n, args.seconds, machine(), " ".join(run["loadavg"]), n, n, args.seconds, FPS),
             "",
             "| protocol | playing | dropped | got keyframe | GB received | TTFK p50 / p99 ms "
             "| video lag p50 / p99 ms | video frames missing (players) | load client CPU s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for proto, ld in zip(run["protocols"], run["loads"]):
        lag = ld["lag_common_ms"]
        lines.append("| %s | %d / %d | %d | %d | %.3f | %s / %s | %s / %s | %d (%d) | %.2f |" % (
            proto, ld["playing"], ld["players"], ld["dropped"], ld["got_keyframe"],
            ld["bytes"] / 1e9, fmt(ld["ttfk_ms"]["p50"]), fmt(ld["ttfk_ms"]["p99"]),
            fmt(lag["p50"]), fmt(lag["p99"]), ld["video_missing"], ld["players_missing"],
            ld["client_cpu_s"]))
    lines += ["",
              "Server (one process for both protocols): CPU %.2f s (%d%% of a core; reactor "
              "thread %.2f s) over %.1f s, %.3f GB sent in all: **%s CPU s per GB, the total** "
              "(server CPU over the run divided by the bytes both protocols received; the "
              "server's CPU cannot be told apart by protocol, and split by bytes it would give "
              "both the same figure). RSS %.1f → %.1f MB, %.2f KB per player over all %d."
              % (run["cpu_s"], round(100 * run["cpu_s"] / run["wall_s"]), run["reactor_cpu_s"],
                 run["wall_s"], total_gb, fmt(run["cpu_per_gb"], "%.2f"), run["rss0_mb"],
                 run["rss_max_mb"], run["rss_per_player_kb"], 2 * n),
              "", HTTP_END]
    replace_section(os.path.join(args.out, "RESULTS.md"), HTTP_BEGIN, HTTP_END, lines)
    return 0


def streams_main(args):
    """The realistic stream matrix: each stream, each N, ezrtmp then nginx-rtmp."""
    ns = [int(x) for x in (args.ns or "100").split(",") if x]
    cache = os.path.join(args.build, "bench-inputs")
    os.makedirs(cache, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for st in STREAMS:
            # The ramp (one GOP), the play time, and the servers' start-up, with room to spare.
            secs = st["gop_s"] + args.seconds + 15
            path = os.path.join(cache, "stream-%s-%ds.flv" % (st["key"], secs))
            make_stream_input(path, st, secs)
            starters = [(Ezrtmp.name, lambda: Ezrtmp(args.build, path, tmp, args.set,
                                                     st["tracks"]))]
            if not args.only_ezrtmp:
                starters.append((Nginx.name, lambda: Nginx(args.build, path, tmp, st["tracks"])))
            for n in ns:
                for name, start in starters:
                    log("%s, %s, %d players" % (name, st["name"], n))
                    server = start()
                    try:
                        # Joins spread over one GOP: every player is a late joiner at its own
                        # point of the GOP, and gets (from ezrtmp) the cache up to there.
                        r = load_run(args.build, server, n, args.seconds,
                                     log_path=os.path.join(tmp, "load.log"),
                                     rate=max(1, n // st["gop_s"]),
                                     extra=["-f", str(STREAM_FPS)])
                    finally:
                        stats = server.close()
                    if stats and stats.get("error"):
                        raise RuntimeError("ezrtmp pipeline: %s" % stats["error"])
                    r["stream"] = st["name"]
                    if stats:
                        f = stats["final"]
                        r["server_dropped"] = (f["frames-dropped-warning"] +
                                               f["frames-dropped-high"])
                    log("  " + json.dumps({k: v for k, v in r.items() if k != "load"}))
                    rows.append(r)
    with open(os.path.join(args.out, "results-streams.json"), "w") as f:
        json.dump({"rows": rows}, f, indent=1)
    write_streams(args, rows)
    return 0


def streams_table(rows):
    out = ["| stream | N | server | playing | got keyframe | video frames delivered | video "
           "frames missing (players) | server drops | audio frames delivered | TTFK p50 / p99 "
           "/ max ms | first video not key | GB sent | server CPU s | CPU s/GB "
           "| ezrtmp/nginx CPU per GB |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    by = {(r["stream"], r["server"], r["n"]): r for r in rows}
    for r in rows:
        ld = r["load"]
        other = by.get((r["stream"], "nginx-rtmp", r["n"]))
        ratio = ""
        if r["server"] == "ezrtmp" and other and other["cpu_per_gb"] and r["cpu_per_gb"]:
            ratio = "%.2f" % (r["cpu_per_gb"] / other["cpu_per_gb"])
        out.append("| %s | %d | %s | %d / %d | %d | %d | %d (%d) | %s | %d | %s / %s / %s | %d "
                   "| %.3f | %.2f | %s | %s |" % (
                       r["stream"], r["n"], r["server"], ld["playing"], ld["players"],
                       ld["got_keyframe"], ld["video_msgs"], ld["video_missing"],
                       ld["players_missing"],
                       "-" if r.get("server_dropped") is None else r["server_dropped"],
                       ld["audio_msgs"], fmt(ld["ttfk_ms"]["p50"]), fmt(ld["ttfk_ms"]["p99"]),
                       fmt(ld["ttfk_ms"]["max"]), ld["first_video_not_key"], r["gb"],
                       r["cpu_s"], fmt(r["cpu_per_gb"], "%.2f"), ratio))
    return "\n".join(out)


def write_streams(args, rows):
    lines = [
        "# Benchmark: realistic streams",
        "",
        "Written by `bench/run.py --streams` on %s. Machine: %s." % (
            datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), machine()),
        "",
        "Rerun: `bench/run.sh --streams --ns %s --seconds %d`." % (
            args.ns or "100", args.seconds),
        "",
        "Each stream is encoded once into an FLV file (x264 `speed-preset=ultrafast`, a "
        "keyframe exactly every GOP; AAC %d kbps 48 kHz) and served at real-time rate, as in "
        "RESULTS.md. `bench/ezrload` starts N players spread over one GOP, so each joins at "
        "its own point of the GOP (a late joiner: ezrtmp sends it the cached GOP up to there, "
        "nginx-rtmp makes it wait for the next keyframe), and plays %d s after the last one "
        "started. Video frames missing: after a player's first keyframe, each video timestamp "
        "step of k frame durations (%d fps) counts k - 1; the number of players with any is "
        "in brackets. Server drops: frames ezrtmp's write-queue tiers dropped. TTFK: TCP "
        "connect to the first video keyframe." % (STREAM_AUDIO_KBPS, args.seconds, STREAM_FPS),
        "",
        streams_table(rows),
        "",
    ]
    with open(os.path.join(args.out, "STREAMS.md"), "w") as f:
        f.write("\n".join(lines))


def run_targets(rows):
    """The issue's targets judged on one run's rows: (target, measured, met) each."""
    by = {(r["server"], r["n"]): r for r in rows if protocol(r) == "rtmp"}
    ez = sorted((r for r in rows if r["server"] == "ezrtmp" and protocol(r) == "rtmp"),
                key=lambda r: r["n"])
    out = []

    def row(target, measured, met):
        out.append((target, measured, bool(met)))

    big = by.get(("ezrtmp", 10000))
    if big:
        ld = big["load"]
        row("10,000 players held, none dropped (200 kbps)",
            "%d of %d playing, %d dropped, %d got a keyframe" % (
                ld["playing"], ld["players"], ld["dropped"], ld["got_keyframe"]),
            ld["playing"] == ld["players"] == ld["got_keyframe"] and ld["dropped"] == 0)
    if big:
        row("10,000 players all playing with video lag p99 under 150 ms (200 kbps)",
            "%d of %d playing, lag p99 %s ms" % (ld["playing"], ld["players"], lag99(big)),
            ld["playing"] == ld["players"] and lag99(big) is not None and lag99(big) < 150)
    a, b = by.get(("ezrtmp", 1000)), by.get(("nginx-rtmp", 1000))
    if a and b and a["cpu_per_gb"] and b["cpu_per_gb"]:
        ratio = a["cpu_per_gb"] / b["cpu_per_gb"]
        alone = ""
        if a["reactor_cpu_s"] is not None and a["gb"]:
            alone = " (reactor thread alone %.2f)" % (a["reactor_cpu_s"] / a["gb"] / b["cpu_per_gb"])
        row("CPU per GB at 1,000 players at most half of nginx-rtmp's",
            "%.2f vs %.2f s/GB: %.2f%s" % (a["cpu_per_gb"], b["cpu_per_gb"], ratio, alone),
            ratio <= 0.5)
    if a and b and lag99(a) is not None and lag99(b) is not None:
        row("video lag p99 at 1,000 players at most nginx-rtmp's + 5 ms",
            "%.1f vs %.1f ms" % (lag99(a), lag99(b)), lag99(a) <= lag99(b) + 5)
    small = by.get(("ezrtmp", 100))
    if small:
        row("video lag p99 under 10 ms, 100 players", "%s ms" % lag99(small),
            lag99(small) is not None and lag99(small) < 10)
    # The knob never delays a joiner's first frames: the same target at every setting.
    for r in sorted((r for r in rows if r["server"].startswith("ezrtmp")),
                    key=lambda r: (r["n"], protocol(r) != "rtmp")):
        p99 = r["load"]["ttfk_ms"]["p99"]
        setting = "" if r["server"] == "ezrtmp" and protocol(r) == "rtmp" else " (%s%s)" % (
            r["server"], "" if protocol(r) == "rtmp" else ", HTTP-FLV")
        row("time to first keyframe p99 under 50 ms, %d players%s" % (r["n"], setting),
            "%s ms" % p99, p99 is not None and p99 < 50)
    for r in ez:
        row("memory per player under 8 KB, %d players" % r["n"],
            "%.2f KB" % r["rss_per_player_kb"], r["rss_per_player_kb"] < 8)
    return out + srs_targets(rows)


def lag99(r):
    return (r["load"].get("lag_ms") or {}).get("p99")


# Issue 20's comparisons with SRS: (our setting, SRS's, lag p99 allowed over SRS's in ms, most
# CPU per GB as a fraction of SRS's), at 1,000 players, for RTMP and HTTP-FLV alike.
SRS_TARGETS = [("ezrtmp", "SRS realtime", 5, 0.6), (flush_label(350), "SRS defaults", 0, 0.7)]


def srs_targets(rows):
    """The targets against SRS judged on one run's rows: (target, measured, met) each."""
    by = {(r["server"], protocol(r), r["n"]): r for r in rows}
    out = []
    for proto in PROTOCOLS:
        for ours, theirs, slack, most in SRS_TARGETS:
            a, b = by.get((ours, proto, 1000)), by.get((theirs, proto, 1000))
            if not (a and b and a["cpu_per_gb"] and b["cpu_per_gb"] and lag99(a) is not None
                    and lag99(b) is not None):
                continue
            ratio = a["cpu_per_gb"] / b["cpu_per_gb"]
            out.append(("%s players, 1,000: %s against %s: video lag p99 at most SRS's%s and "
                        "CPU per GB at most %.1fx SRS's" % (
                            PROTOCOLS[proto], ours, theirs, " + %d ms" % slack if slack else "",
                            most),
                        "lag p99 %.1f vs %.1f ms; %.2f vs %.2f s/GB: %.2f" % (
                            lag99(a), lag99(b), a["cpu_per_gb"], b["cpu_per_gb"], ratio),
                        lag99(a) <= lag99(b) + slack and ratio <= most))
    a, b = by.get(("ezrtmp", "rtmp", 10000)), by.get(("SRS defaults", "rtmp", 10000))
    if a and b and a["cpu_per_gb"] and b["cpu_per_gb"]:
        ld = a["load"]
        out.append(("RTMP players, 10,000 (200 kbps): ezrtmp all playing, CPU per GB at most SRS "
                    "defaults', video lag p99 under 150 ms",
                    "%d of %d playing; %.2f vs %.2f s/GB; lag p99 %s ms" % (
                        ld["playing"], ld["players"], a["cpu_per_gb"], b["cpu_per_gb"],
                        fmt(lag99(a))),
                    ld["playing"] == ld["players"] and a["cpu_per_gb"] <= b["cpu_per_gb"]
                    and lag99(a) is not None and lag99(a) < 150))
    return out


def slow_targets(slow):
    """The slow run's targets: (target, measured, met) each."""
    out = [("slow run: the stalled players are disconnected at the critical level",
            "%d of %d disconnected as slow" % (slow["disconnects_slow"], slow["stalled"]),
            slow["disconnects_slow"] == slow["stalled"]),
           ("slow run: the other players see no gap over 500 ms and no dropped frame",
            "%d dropped, %d gaps, largest gap %d ms, largest video timestamp step %d ms, "
            "%d players with frames dropped after the cut" % (
                slow["dropped_healthy"], slow["gaps_over_500ms"], slow["max_gap_ms"],
                slow["max_video_ts_step_ms"], slow["players_with_server_drops_after_cut"] or 0),
            slow["dropped_healthy"] == 0 and slow["gaps_over_500ms"] == 0
            and slow["max_video_ts_step_ms"] <= 1000 // FPS
            and not slow["players_with_server_drops_after_cut"])]
    before, after = slow["render_mean_us_before_cut"], slow["render_mean_us_after_cut"]
    if before is not None and after is not None:
        out.append(("slow run: the sink's render() time does not grow",
                    "mean %.1f µs before the cut, %.1f µs after" % (before, after),
                    after <= before * 1.5))
    return out


def targets(rows, slow):
    """The targets table: each judged in every run, met only when met in all of them."""
    runs = sorted({r.get("run", 1) for r in rows})
    judged = {}  # target -> [(run, measured, met)], in the order targets first appear
    for run in runs:
        for target, measured, met in run_targets([r for r in rows if r.get("run", 1) == run]):
            judged.setdefault(target, []).append((run, measured, met))
    out = ["| target | measured | met |", "|---|---|---|"]
    for target, seen in judged.items():
        met = sum(m for _, _, m in seen)
        if len(runs) == 1:
            out.append("| %s | %s | %s |" % (target, seen[0][1], "yes" if met else "**no**"))
            continue
        measured = "; ".join("run %d: %s" % (run, m) for run, m, _ in seen)
        verdict = "yes, in all %d runs" % len(seen) if met == len(seen) else \
            "**no**: met in %d of %d runs" % (met, len(seen))
        out.append("| %s | %s | %s |" % (target, measured, verdict))
    for target, measured, met in (slow_targets(slow) if slow else []):
        out.append("| %s | %s | %s |" % (target, measured, "yes" if met else "**no**"))
    return "\n".join(out)


def build_name(build):
    """The build directory as RESULTS.md names it: relative to the checkout."""
    rel = os.path.relpath(os.path.abspath(build), ROOT)
    return "BUILD" if rel.startswith("..") else rel


def servers_text(args):
    """What was compared, for the top of RESULTS.md."""
    srs = getattr(args, "srs_version", None)
    if args.only_ezrtmp or args.no_srs:
        srs_line = "SRS: not run (%s)." % ("--only-ezrtmp" if args.only_ezrtmp else "--no-srs")
    elif getattr(args, "srs_skipped", None):
        srs_line = "SRS: **skipped**, %s." % args.srs_skipped
    else:
        srs_line = (
            "SRS %s, built by `bench/run.py` from the kit in `../shared/peers/srs` beside the "
            "checkout with its `SRS_EXTRA_FLAGS=-O2 build.sh` (the optimised variant; upstream "
            "builds `-g -O0`) into `%s/srs-O2`; one process (SRS is single-threaded), fed by "
            "a separate gst-launch-1.0 as nginx-rtmp is, its GOP cache on, RTMP and HTTP-FLV "
            "(`http_remux`, which SRS sends with `Transfer-Encoding: chunked`; ezrload takes the "
            "chunk framing out). Both settings with `time_jitter off`: SRS's default, `full`, "
            "rewrites each player's timestamps to start near 0 from its own join (and smooths "
            "steps over 250 ms), so one frame carries a different timestamp for every player and "
            "the delivery lag, arrival time against timestamp, would not compare across players "
            "or with the other servers; `off` sends the timestamps as published. SRS defaults: "
            "merged writes, each player's messages gathered for up to `mw_latency` 350 ms (and "
            "at least `mw_msgs` 8) and written together; SRS realtime: `min_latency on`, "
            "`tcp_nodelay on`, `mw_latency 0`." % (srs, build_name(args.build)))
    flush = ", ".join("`flush-interval=%s`" % ms for ms in args.flush_intervals.split(",") if ms)
    return ("Servers and settings, each started fresh for each row: ezrtmp at its defaults%s; "
            "nginx-rtmp (RTMP only: its module has no HTTP-FLV); %s Players: RTMP at every N, "
            "HTTP-FLV also at N = %s, against every server that serves it, the same `bench/"
            "ezrload` for both protocols." % (" and at " + flush if flush else "", srs_line,
                                              args.http_ns or "none"))


def trade_table(rows):
    """ezrtmp's settings (and SRS's, for comparison) at each N and protocol: medians."""
    out = ["| players | protocol | server and setting | CPU s per GB | of which ezrtmp's reactor "
           "thread | video lag p99 ms | TTFK p99 ms |", "|---|---|---|---|---|---|---|"]
    names = [n for n in names_in_order(rows) if n.startswith(("ezrtmp", "SRS"))]
    for n in sorted({r["n"] for r in rows}):
        for proto in PROTOCOLS:
            for name in names:
                cpu = median_of(rows, name, proto, n, "cpu")
                if cpu is None:
                    continue
                out.append("| %d | %s | %s | %.2f | %s | %s | %s |" % (
                    n, PROTOCOLS[proto], name, cpu,
                    fmt(median_of(rows, name, proto, n, "reactor"), "%.2f"),
                    fmt(median_of(rows, name, proto, n, "lag")),
                    fmt(median_of(rows, name, proto, n, "ttfk"))))
    return "\n".join(out)


def write_results(args, rows, slow, kbps_of):
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/run.py` on %s." % written(args),
        "",
        "Rerun: `bench/run.sh` (installs what it needs, builds `build-bench` in release mode, "
        "runs everything, rewrites this file and `results.png`), or after a build "
        "`/usr/bin/python3 bench/run.py --build build-bench --ns %s --seconds %d --repeat %d "
        "--flush-intervals %s --http-ns %s%s`."
        % (args.ns, args.seconds, args.repeat, args.flush_intervals or "''", args.http_ns,
           " --no-slow" if args.no_slow else ""),
        "",
        servers_text(args),
        "",
        "Each row: one server process started fresh, serving the same pre-encoded 640x360 "
        "25 fps H.264 + AAC FLV (keyframe every 2 s) at real-time rate; `bench/ezrload` opens "
        "N players at 2,000 connections/s and plays %d s after the last one started. Server CPU "
        "is user + system time of the server process over the load run, from /proc (for "
        "ezrtmp that is the whole pipeline process: flvdemux, flvmux and the sink as well as "
        "the reactor thread, also shown alone; for nginx-rtmp and SRS it is the nginx or srs "
        "process, while their publisher runs in a separate gst-launch-1.0). RSS is the server process's "
        "resident memory before the players and its maximum during the run; per player is the "
        "difference over N (kernel socket buffers are not in RSS). TTFK: time from starting "
        "the TCP connect to the first video keyframe message, per player. Video lag: for each "
        "video frame a player receives, its arrival time minus its timestamp, relative to the "
        "best-served frame of the run (the smallest such difference over all players), i.e. "
        "how much later than the best case it arrived; counted from 1 s after the last player "
        "started, and without the frames of a join burst (older than what was live when the "
        "player asked to play). Audio lag: the same for audio frames. Reactor busy and send "
        "latency are the sink's own stats (`reactor-busy`, `send-latency-p99-us`: from "
        "render() to the socket), averaged over the play time. The load client runs on the "
        "same two cores; both cores busy is the machine's whole CPU use over the load run "
        "(server, load client, publisher and kernel, from /proc/stat). Each player count is "
        "run %d times, the servers taking turns, and a target counts as met only when every "
        "run meets it." % (args.seconds, args.repeat),
        "",
        "Realistic streams (720p 4 Mbps, 1080p 8 Mbps noise with a 4 s GOP, 1080p 20 Mbps, "
        "audio only, video only), each to N players joining spread over one GOP (late joiners at every "
        "point of it), with delivered and missing video frames, time to first keyframe and CPU "
        "per GB against nginx-rtmp: `bench/run.sh --streams [--ns 100] [--seconds 10]`, which "
        "writes `STREAMS.md` and `results-streams.json` beside this file.",
        "",
        "![The frontier: CPU per GB against video lag p99, every server and setting]"
        "(results.png)",
        "",
        "![RTMP players: CPU per GB, time to first keyframe and delivery lag against players]"
        "(results-players.png)",
        "",
        table(rows, kbps_of),
        "",
        "## Latency against CPU: ezrtmp's `flush-interval`",
        "",
        "Each setting's median over the runs (CPU per GB and lag p99 are those of the frontier "
        "plot). ezrtmp's CPU is its whole pipeline process; the reactor thread alone is what "
        "the setting changes (at 100 players the pipeline's own share, about the same at any N, "
        "is most of the figure).",
        "",
        trade_table(rows),
        "",
        "## Targets",
        "",
        targets(rows, slow),
        "",
        "## Reading the figures",
        "",
        "- On loopback the kernel runs the receiving side's TCP processing in the thread that "
        "writes, so each server's CPU includes delivering to the players. What costs is the "
        "number of writes, not the bytes: in perf profiles taken while tuning this benchmark "
        "`writev` was about 80%% of the reactor's time at 10,000 players, most of it the "
        "loopback receive path. This is why ezrtmp at its default (`flush-interval` -1, auto) "
        "writes a player's video as it comes but lets audio wait for the next video frame (at "
        "most 100 ms), so that a player costs one `writev` per video frame instead of one per "
        "frame, and why under load each sweep over the players carries every frame that came "
        "meanwhile; nginx-rtmp and SRS realtime write each frame as it comes. With "
        "`flush-interval` in ms video waits too, at most that long, and each write carries "
        "everything that came meanwhile (at 350 ms about nine video frames), as SRS's default "
        "merged writes (`mw_latency` 350) do: fewer writes for more latency, the table above. "
        "It is also why CPU per GB is higher for the 200 kbps rows: the same number of writes "
        "carries a fifth of the bytes.",
        "- SRS realtime with HTTP-FLV players costs far more than with RTMP players. Its "
        "HTTP-FLV loop (`SrsLiveStream::do_serve_http` in SRS 6.0.157) sleeps `mw_latency` "
        "whenever a player's queue is empty and looks again, where its RTMP loop waits on a "
        "condition the publisher signals: at `mw_latency 0` every HTTP-FLV player's coroutine "
        "polls. Profiled at 100 players while this benchmark was written: 82% of a core, "
        "`perf` put 48% of SRS's time in state-threads' timer heap (`heap_insert`, "
        "`heap_delete`, from `st_usleep`) and `strace -c` counted 29,266 `epoll_wait` against "
        "18,803 `writev` in 3 s.",
        "- nginx-rtmp serves a live stream from one worker process. Where its CPU is near "
        "100% of a core that worker is saturated: players still connecting or waiting for "
        "their first keyframe when the run ends are the difference between `playing` and N "
        "(they are not counted as dropped; `connected` in results.json shows how many got "
        "past TCP connect), and its figures on those rows are those of an overloaded server.",
        "- The load client shares the two cores with the server (its CPU is in the table); "
        "time to first keyframe includes its own delays.",
        "- At 10,000 players of 200 kbps the reactor is busy most of the time (the reactor "
        "busy column), and what a frame waits is then set by the gap a busy reactor leaves "
        "between its sweeps over the players (growing with the busy fraction, up to 100 ms at "
        "the default) plus the sweep itself: lag p99 is about that gap plus 40 ms. Profiled "
        "with perf while tuning: about 80% of the reactor's time is in `sendmsg`, over a "
        "quarter of it the loopback receive path the kernel runs in the writer's thread; the "
        "fan-out to the players about 12-15%. So these rows depend on the host: on the slower "
        "host of earlier runs (4.6-4.9 s/GB for the same code, busy 0.95-1.00) lag p99 at the "
        "default ranged from 142 to 288 ms between runs; on the host of this run (busy about "
        "0.85) it is under 100 ms, and with two CPU hogs beside the run 139-149 ms. The same "
        "busy reactor and the load client on the other core are what time to first keyframe "
        "waits for at 10,000 players at the default and at 100 ms (its p99 40-90 ms there, "
        "about 20 ms at 200 and 350 ms, where the reactor is half idle; SRS's is a second). "
        "Which of the two: `bench/ttfk_probe.py` runs the same 10,000 against ezrtmp and a "
        "second ezrload, a probe of 200 players joining at 100/s from 7,000 playing on, whose "
        "loop has little else to do. On 2026-12-02, four runs at the default: load client "
        "p99 35, 67, 49, 60 ms, the probe's 15, 36, 35, 17 (max 25-47); at 100 ms: load client 21, 19, "
        "18, the probe's 16, 15, 16. A lone joiner's first keyframe at 10,000 players comes "
        "within 50 ms in every run; the rest of the load client's figure is its own loop.",
        "",
    ]
    if slow:
        lines += [
            "## Slow clients",
            "",
            "ezrtmp, 1 Mbps stream, %d players of which the last %d stop reading after their "
            "first keyframe; `send-buffer-size=%d` so that their backlog reaches our queue "
            "instead of the kernel's autotuned buffers; `client-timeout=0` so that only the "
            "tiers act; tiers at an eighth of the defaults (`%s`). Above the high tier, and once "
            "its oldest queued data has waited the age limit (10 s), a stalled player's queue "
            "grows by the keyframes alone, about 10 KB/s for this stream, so at the default 2 "
            "and 4 MiB it would take minutes to reach the critical level (a run at a quarter "
            "of the defaults, 100 s, reached the high tier, not the critical one); with the "
            "defaults, `client-timeout` (30 s) closes such a player first. The cut is at the first one-second sample where all %d are counted as "
            "disconnected for being slow; render() time is the sink's mean per buffer in each "
            "one-second sample, averaged before and after it." % (
                slow["players"], slow["stalled"], slow["send_buffer_size"],
                " ".join(SLOW_TIERS), slow["stalled"]),
            "",
            "| measure | value |",
            "|---|---|",
        ]
        for key in ["disconnects_slow", "dropped_stalled", "dropped_healthy", "gaps_over_500ms",
                    "max_gap_ms", "max_video_ts_step_ms", "ts_regressions",
                    "players_with_server_drops_max", "players_with_server_drops_after_cut",
                    "frames_dropped_warning", "frames_dropped_high",
                    "stalled_cut_at_s", "render_mean_us_before_cut", "render_mean_us_after_cut",
                    "render_max_us"]:
            v = slow[key]
            lines.append("| %s | %s |" % (key, "%.2f" % v if isinstance(v, float) else v))
        lines.append("")
    path = os.path.join(args.out, "RESULTS.md")
    # The TLS and HTTP sections come from their own runs (--tls, --http): kept as they are.
    old = open(path).read() if os.path.exists(path) else ""
    for begin, end in ((TLS_BEGIN, TLS_END), (HTTP_BEGIN, HTTP_END)):
        if begin in old and end in old:
            lines += [old[old.index(begin):old.index(end) + len(end)], ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
