#!/usr/bin/env python3
"""The restreamer against nginx-rtmp and SRS doing the same relay, in one run: one publisher
(ffmpeg -re -c copy of an 8 Mbps H.264 + AAC file, as a user publishes) to each server, N
players (bench/ezrload, 1,000 by default) pulling the stream from it.

  ezrtmp restreamer: gst-launch-1.0 ezrtmpserversrc stream-key=obs ! ezrtmpserversink
                     stream-key=live (the README's one line), ffmpeg publishing to live/obs,
                     players on live/live, both on the element's one port;
  nginx-rtmp:        ffmpeg publishing to live/stream, players on live/stream;
  SRS:               the same, at its defaults and realtime settings (bench/servers.py), when
                     its kit is beside the checkout.

Per run: the server process's CPU over the players' run (ffmpeg, the publisher, is a process of
its own and not counted for any server), CPU seconds per GB delivered to the players, the
players' video and audio delivery lag (ezrload: arrival time against timestamp, relative to the
best-served frame of the run), the machine's load average at the start and end of the run and
its busy share. The servers take turns run by run. Writes bench/RESULTS-ingest.md and
bench/results-ingest.json.

    bench/run.sh --ingest [--players 1000] [--seconds 20] [--repeat 2] [--note TEXT]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from inputs import make_stream_input
from measure import load_run, machine
from rows import fmt
from servers import (ROOT, SRS_SETTINGS, Nginx, Srs, free_port, log, port_open, publish_ffmpeg,
                     srs_install, stop, thread_named, wait_for)

# The published stream: 720p30 snow (x264 spends all of the bitrate on noise), 8 Mbps video,
# a keyframe every 2 s, AAC 128 kbps.
STREAM = dict(name="720p30 8 Mbps snow, 2 s GOP", width=1280, height=720, kbps=8000, gop_s=2,
              pattern="snow", tracks="av")


class Restreamer:
    """ezrtmpserversrc ! ezrtmpserversink in a gst-launch-1.0 of its own, on one port; ffmpeg
    publishes to live/obs, players play live/live."""
    name = "ezrtmp restreamer"

    def __init__(self, build, input_flv, props=()):
        self.port = free_port()
        line = ("ezrtmpserversrc host=127.0.0.1 port={p} stream-key=obs ! ezrtmpserversink "
                "host=127.0.0.1 port={p} stream-key=live {props}").format(
                    p=self.port, props=" ".join(props))
        env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "gst"))
        self.proc = subprocess.Popen(["gst-launch-1.0", "-q"] + line.split(), env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        wait_for(lambda: port_open(self.port) or self.proc.poll() is not None, 10, self.name)
        if self.proc.poll() is not None:
            raise RuntimeError("the restreamer exited (%s): %s" % (self.proc.returncode, line))
        self.reactor = thread_named(self.pid, "ezrtmp-reactor")
        self.url = "rtmp://127.0.0.1:%d/live/live" % self.port
        self.urls = {"rtmp": self.url}
        try:
            self.pusher = publish_ffmpeg(build, input_flv,
                                         "rtmp://127.0.0.1:%d/live/obs" % self.port, "av",
                                         play_url=self.url)
        except Exception:
            stop(self.proc)
            raise

    def close(self):
        stop(self.pusher)
        stop(self.proc)
        return None


class NginxFfmpeg(Nginx):
    publisher = staticmethod(publish_ffmpeg)


class SrsFfmpeg(Srs):
    publisher = staticmethod(publish_ffmpeg)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def contenders(args, srs, tmp):
    out = [(Restreamer.name, lambda flv: Restreamer(args.build, flv, args.set))]
    if not args.only_ezrtmp:
        out.append((Nginx.name, lambda flv: NginxFfmpeg(args.build, flv, tmp)))
        for setting in SRS_SETTINGS if srs else ():
            out.append(("SRS " + setting, lambda flv, setting=setting: SrsFfmpeg(
                args.build, srs, setting, flv, tmp)))
    if args.without:
        out = [c for c in out if c[0] not in args.without.split(",")]
    return out


def one_run(args, name, start, flv, tmp):
    la0 = loadavg()
    server = start(flv)
    try:
        r = load_run(args.build, server, args.players, args.seconds,
                     log_path=os.path.join(tmp, "load.log"), rate=args.rate)
    finally:
        server.close()
    r.update(server=name, loadavg_start=la0, loadavg_end=loadavg())
    return r


ROW_HEAD = ("| server | run | playing / players | dropped | GB to players | server CPU s (of it "
            "ezrtmp's reactor thread, where it was found) | "
            "CPU s per GB | video lag p50 / p99 / max ms | audio lag p99 ms | longest gap ms | "
            "machine busy | load average at start, end |")


def row(r):
    ld = r["load"]
    lag, alag = ld.get("lag_ms") or {}, ld.get("audio_lag_ms") or {}
    return "| %s | %d | %d / %d | %d | %s | %s | %s | %s / %s / %s | %s | %d | %s | %s; %s |" % (
        r["server"], r["run"], ld["playing"], ld["players"], ld["dropped"], fmt(r["gb"], "%.2f"),
        fmt(r["cpu_s"]) + ("" if r.get("reactor_cpu_s") is None
                           else " (reactor %s)" % fmt(r["reactor_cpu_s"])),
        fmt(r["cpu_per_gb"], "%.2f"), fmt(lag.get("p50")), fmt(lag.get("p99")),
        fmt(lag.get("max")), fmt(alag.get("p99")), ld["max_gap_ms"], fmt(r["machine_busy"]),
        r["loadavg_start"], r["loadavg_end"])


def write(args, rows, srs_note, notes):
    names = []
    for r in rows:
        if r["server"] not in names:
            names.append(r["server"])
    commands = []
    for r in rows:
        c = r.get("command", "bench/run.sh --ingest --players %d --seconds %d --repeat 2"
                  % (r["n"], r.get("seconds", 20)))
        if c not in commands:
            commands.append(c)
    lines = ["# Ingest: one publisher through the restreamer to %d players" % args.players, "",
             "Written %s on %s, from the runs of: %s." % (
                 time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), machine(),
                 "; ".join("`%s`" % c for c in commands)), ""]
    lines += [n + "\n" for n in notes if n]
    lines += [
        "One publisher, `ffmpeg -re -i INPUT.flv -c copy -f flv rtmp://...`, sends %s (%d kbps "
        "video + 128 kbps AAC, encoded once by bench/inputs.py) to each server in turn; %d "
        "players of bench/ezrload (one process, one epoll loop; %d started a second) then play "
        "it for %d s after the last one started. The ezrtmp restreamer is the README's line, "
        "`gst-launch-1.0 ezrtmpserversrc stream-key=obs ! ezrtmpserversink stream-key=live` "
        "(both on one port): the publisher's FLV goes into the pipeline and out to the players "
        "with no demux and no mux. nginx-rtmp (Debian's, one worker) and SRS relay the same "
        "published stream as servers do. Server CPU: the server process (all its threads) over "
        "the players' run; the publisher's CPU counts for none. CPU per GB: that over the bytes "
        "the players received. Lag: each video frame's arrival time against its timestamp, "
        "relative to the best-served frame of the run (ezrload's measure, see bench/RESULTS.md)."
        % (STREAM["name"], STREAM["kbps"], args.players, rows[0].get("rate", args.rate),
           rows[0].get("seconds", args.seconds)), ""]
    if srs_note:
        lines += ["SRS: " + srs_note, ""]
    lines += ["## Every run", "", ROW_HEAD, "|" + "---|" * (ROW_HEAD.count("|") - 1)]
    lines += [row(r) for r in rows]
    short = ["%s run %d: %d" % (r["server"], r["run"], r["load"]["players"] - r["load"]["playing"])
             for r in rows if r["load"]["playing"] < r["load"]["players"]]
    lines += ["", "Players that connected and got no NetStream.Play.Start within the run: %s. "
              "GB to players differ because a server that falls behind delivers less in the same "
              "play time (the stream is %.1f GB to %d players over %d s), and a server with a "
              "GOP cache (ezrtmp, SRS) sends each joiner the GOP in progress (ezrload's "
              "burst_bytes in results-ingest.json)." % (
                  "; ".join(short) if short else "none",
                  (STREAM["kbps"] + 128) * 1000 / 8 * args.players * rows[0].get(
                      "seconds", args.seconds) / 1e9,
                  args.players, rows[0].get("seconds", args.seconds))]
    lines += ["", "## Median of the runs", "",
              "| server | runs | CPU s per GB | video lag p99 ms | audio lag p99 ms |",
              "|---|---|---|---|---|"]
    for name in names:
        rs = [r for r in rows if r["server"] == name]
        med = lambda f: fmt(statistics.median(f(r) for r in rs))  # noqa: E731
        lines.append("| %s | %d | %s | %s | %s |" % (
            name, len(rs), fmt(statistics.median(r["cpu_per_gb"] or 0 for r in rs), "%.2f"),
            med(lambda r: (r["load"].get("lag_ms") or {}).get("p99") or 0),
            med(lambda r: (r["load"].get("audio_lag_ms") or {}).get("p99") or 0)))
    with open(os.path.join(args.out, "RESULTS-ingest.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--players", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=20, help="play time after the last joins")
    ap.add_argument("--rate", type=int, default=500, help="players started per second")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="PROPERTY=VALUE",
                    help="a property of ezrtmpserversink in the restreamer; may be repeated")
    ap.add_argument("--only-ezrtmp", action="store_true")
    ap.add_argument("--no-srs", action="store_true")
    ap.add_argument("--without", default="", metavar="NAME,...",
                    help="leave out these servers (e.g. 'ezrtmp restreamer' for a look at the "
                    "others)")
    ap.add_argument("--srs-kit", default=None, metavar="DIR")
    ap.add_argument("--note", default=None, metavar="TEXT")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench"))
    ap.add_argument("--append", action="store_true",
                    help="keep the runs already in results-ingest.json and add these (numbered "
                    "after them): RESULTS-ingest.md then lists every run")
    ap.add_argument("--replot", action="store_true",
                    help="run nothing: RESULTS-ingest.md again from results-ingest.json")
    args = ap.parse_args()
    saved_path = os.path.join(args.out, "results-ingest.json")
    rows, notes = [], []
    if args.append or args.replot:
        with open(saved_path) as f:
            saved = json.load(f)
        rows, notes = saved["rows"], saved.get("notes") or [saved.get("note")]
    if args.replot:
        args.players = rows[0]["n"]
        write(args, rows, saved.get("srs"), notes)
        return 0
    notes = [n for n in notes if n] + ([args.note] if args.note else [])
    cache = os.path.join(args.build, "bench-inputs")
    os.makedirs(cache, exist_ok=True)
    # Long enough for the wait until served, the players' ramp and the play time.
    secs = args.seconds + args.players // args.rate + 40
    flv = os.path.join(cache, "ingest-720p30-8mbps-%ds.flv" % secs)
    make_stream_input(flv, STREAM, secs)
    srs, srs_note = None, None
    if not args.only_ezrtmp and not args.no_srs:
        srs, version = srs_install(args.build, args.srs_kit)
        srs_note = version if srs else "skipped: " + version
    first = max((r["run"] for r in rows), default=0) + 1
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(first, first + args.repeat):
            for name, start in contenders(args, srs, tmp):
                log("ingest: %s, %d players, run %d" % (name, args.players, run))
                r = one_run(args, name, start, flv, tmp)
                r.update(run=run, seconds=args.seconds, rate=args.rate,
                         command=" ".join(["bench/run.sh", "--ingest"] + sys.argv[1:]))
                log("  " + json.dumps({k: v for k, v in r.items() if k != "load"}))
                rows.append(r)
                with open(saved_path, "w") as f:
                    json.dump({"rows": rows, "srs": srs_note, "notes": notes}, f, indent=1)
    write(args, rows, srs_note, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
