#!/usr/bin/env python3
"""Server CPU of two builds of ezrtmp in one run: an old build and this checkout's, taking turns
(old, new, old, new, ...) at N players of the default benchmark stream (640x360 25 fps H.264 +
AAC, 1 Mbps, a keyframe every 2 s), RTMP and HTTP-FLV, so that a change of the machine over time
falls on both.

    bench/run.sh --compare-builds OLD_BUILD [--pairs 3] [--n 1000] [--seconds 20]
    /usr/bin/python3 bench/compare_builds.py --old OLD_BUILD --new build-bench [...]

Both builds serve through this checkout's bench/serve.py (only GST_PLUGIN_PATH differs, and each
build has a GStreamer registry of its own, so neither plugin can be taken for the other: the
script checks which libgstezrtmp.so the server process mapped) and are played by the same
ezrload (the new build's). Per run: server CPU (user + system of the whole process, from /proc)
over the load run, per GB the players received and per player-minute (players playing x wall
time of the load run); then per protocol the medians and new/old. Writes every run as JSON to
--json (default BUILD/compare-builds.json) and its section of bench/RESULTS-hls.md (--out).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from inputs import FPS, make_input
from measure import ezrload_cmd, machine_ticks, proc_cpu
from sections import replace_section
from servers import ROOT, Ezrtmp, log

KBPS = 1000  # bench/run.py's stream below its --big-n
BEGIN = "<!-- compare-builds: written by bench/compare_builds.py -->"
END = "<!-- /compare-builds -->"


def plugin_of(pid):
    """The libgstezrtmp.so the process mapped."""
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            if "libgstezrtmp" in line:
                return os.path.realpath(line.split()[-1])
    return None


def one_run(args, which, build, proto, input_flv, tmp):
    os.environ["GST_REGISTRY"] = os.path.join(tmp, "registry-%s.bin" % which)
    server = Ezrtmp(build, input_flv, tmp, ["http=true"] if proto == "http-flv" else [])
    try:
        plugin = plugin_of(server.pid)
        if not plugin or not plugin.startswith(os.path.realpath(build) + os.sep):
            raise RuntimeError("the %s server loaded %s, not the plugin of %s"
                               % (which, plugin, build))
        url = server.urls[proto]
        cmd = ezrload_cmd(args.new, url, args.n, rate=2000, seconds=args.seconds, fps=FPS)
        cpu0, rcpu0 = proc_cpu(server.pid), proc_cpu(server.pid, server.reactor)
        busy0, total0 = machine_ticks()
        t0 = time.monotonic()
        with open(os.path.join(tmp, "load.log"), "w") as err:
            out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, check=True).stdout
        wall = time.monotonic() - t0
        cpu = proc_cpu(server.pid) - cpu0
        rcpu = proc_cpu(server.pid, server.reactor) - rcpu0
        busy1, total1 = machine_ticks()
    finally:
        stats = server.close()
    if stats.get("error"):
        raise RuntimeError("%s pipeline: %s" % (which, stats["error"]))
    ld = json.loads(out)
    gb = ld["bytes"] / 1e9
    player_min = ld["playing"] * wall / 60
    with open("/proc/loadavg") as f:
        loadavg = f.read().split()[0]
    return {"build": which, "protocol": proto, "n": args.n, "playing": ld["playing"],
            "dropped": ld["dropped"], "wall_s": round(wall, 2), "gb": round(gb, 4),
            "cpu_s": round(cpu, 2), "reactor_cpu_s": round(rcpu, 2),
            "cpu_per_gb": round(cpu / gb, 3) if gb else None,
            "reactor_per_gb": round(rcpu / gb, 3) if gb else None,
            "cpu_ms_per_player_min": round(1000 * cpu / player_min, 3) if player_min else None,
            "lag_p99_ms": (ld.get("lag_ms") or {}).get("p99"),
            "ttfk_p99_ms": ld["ttfk_ms"]["p99"], "video_missing": ld.get("video_missing"),
            "load_client_cpu_s": ld["client_cpu_s"],
            "machine_busy": round((busy1 - busy0) / (total1 - total0), 3),
            "loadavg_1m": float(loadavg), "plugin": plugin}


def summary(runs):
    """Per protocol: the median of each build and new/old."""
    out = {}
    for proto in dict.fromkeys(r["protocol"] for r in runs):
        row = {}
        for key in ("cpu_per_gb", "reactor_per_gb", "cpu_ms_per_player_min"):
            med = {b: statistics.median(r[key] for r in runs
                                        if r["protocol"] == proto and r["build"] == b)
                   for b in ("old", "new")}
            row[key] = dict(med, ratio=round(med["new"] / med["old"], 3))
        out[proto] = row
    return out


def tables(result):
    out = ["| pair | protocol | build | playing | GB | server CPU s (reactor) | CPU s/GB "
           "| reactor CPU s/GB | CPU ms per player-minute | lag p99 ms | machine busy "
           "| load 1 min |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["runs"]:
        out.append("| %d | %s | %s | %d / %d | %.3f | %.2f (%.2f) | %.3f | %.3f | %.2f | %s "
                   "| %d%% | %.2f |" % (
                       r["pair"], r["protocol"], r["build"], r["playing"], r["n"], r["gb"],
                       r["cpu_s"], r["reactor_cpu_s"], r["cpu_per_gb"], r["reactor_per_gb"],
                       r["cpu_ms_per_player_min"], r["lag_p99_ms"],
                       round(100 * r["machine_busy"]), r["loadavg_1m"]))
    out += ["", "| protocol | figure | old (median) | new (median) | new/old |",
            "|---|---|---|---|---|"]
    names = {"cpu_per_gb": "server CPU s per GB", "reactor_per_gb": "reactor CPU s per GB",
             "cpu_ms_per_player_min": "server CPU ms per player-minute"}
    for proto, row in result["summary"].items():
        for key, v in row.items():
            out.append("| %s | %s | %.3f | %.3f | **%.3f** |" % (proto, names[key], v["old"],
                                                                 v["new"], v["ratio"]))
    return out


def write_section(args, result):
    r0 = result["runs"][0]
    lines = [BEGIN, "", "## CPU of the restructured frames against the code before", "",
             "`%s` (%s): old = `%s` (%s), new = `%s` (%s), both `meson setup "
             "--buildtype=release`; %d players of the default stream (640x360 25 fps, %d kbps, "
             "keyframe every 2 s) per run, opened at 2,000/s and playing %d s after the last, "
             "the builds taking turns, each run a fresh server. Server CPU: user + system of the "
             "whole serve.py process over the load run (/proc); per GB the players received; "
             "per player-minute: players playing x the load run's wall time. Machine busy and "
             "load average: the machine is shared with other engineers' builds and tests."
             % (result["command"], result["when"], args.old, result.get("old_rev", "?"),
                args.new, result.get("new_rev", "?"), r0["n"], KBPS, r0.get("seconds", 0)),
             ""] + tables(result) + ["", END]
    replace_section(args.out, BEGIN, END, lines)
    log("wrote a section of %s" % args.out)


def rev(build):
    """The commit a build directory's source tree is at (its parent's git HEAD)."""
    return subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(build)), "rev-parse",
                           "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True, help="the old build directory (release)")
    ap.add_argument("--new", required=True, help="this checkout's build directory (release)")
    ap.add_argument("--n", type=int, default=1000, help="players")
    ap.add_argument("--seconds", type=int, default=20, help="play time after the last joins")
    ap.add_argument("--pairs", type=int, default=3, help="old/new pairs per protocol")
    ap.add_argument("--protocols", default="rtmp,http-flv")
    ap.add_argument("--json", default=None, help="where every run goes (JSON)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS-hls.md"))
    ap.add_argument("--from-json", default=None,
                    help="run nothing: the section again from this JSON")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            result = json.load(f)
        result["summary"] = summary(result["runs"])
        write_section(args, result)
        print("\n".join(tables(result)))
        return 0
    cache = os.path.join(args.new, "bench-inputs")
    os.makedirs(cache, exist_ok=True)
    secs = args.seconds + 60
    input_flv = os.path.join(cache, "input-%dkbps-%ds.flv" % (KBPS, secs))
    make_input(input_flv, KBPS, secs)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for pair in range(1, args.pairs + 1):
            for proto in args.protocols.split(","):
                for which, build in (("old", args.old), ("new", args.new)):
                    log("%s, %s, %d players, pair %d of %d" % (which, proto, args.n, pair,
                                                                args.pairs))
                    r = one_run(args, which, build, proto, input_flv, tmp)
                    r.update(pair=pair, seconds=args.seconds)
                    log("  " + json.dumps(r))
                    runs.append(r)
    result = {"runs": runs, "summary": summary(runs), "old_rev": rev(args.old),
              "new_rev": rev(args.new),
              "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": "bench/run.sh --compare-builds %s --n %d --seconds %d --pairs %d%s" % (
                  args.old, args.n, args.seconds, args.pairs,
                  "" if args.protocols == "rtmp,http-flv" else " --protocols " + args.protocols)}
    with open(args.json or os.path.join(args.new, "compare-builds.json"), "w") as f:
        json.dump(result, f, indent=1)
    print("\n".join(tables(result)))
    write_section(args, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
