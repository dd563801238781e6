#!/usr/bin/env python3
"""LL-HLS at 1,000 viewers, through a CDN edge and direct: Debian's nginx as a caching reverse
proxy (bench/cdn/nginx-cdn.conf) in front of ezrtmpserversink, played by bench/ezrload's LL-HLS
viewers (blocking reloads, and each hinted part asked for before it is complete, as the
spec's preload hints invite; hls.js 1.7.4 asks for a part only once listed, ezrload -L).

    bench/run.sh --hls-cdn [--runs 2] [--n 1000] [--direct 20] [--seconds 30]
    /usr/bin/python3 bench/hls_cdn.py --build build-bench [...]

The stream: 720p30 2 Mbps snow with a 1 s GOP and AAC (bench/hls_players.py's 720p-gop1),
encoded once into an FLV and served at real-time rate by bench/serve.py, 200 ms parts. Each run
has three phases, each on a fresh server:

  together: N viewers through the edge and --direct (20) played direct at once, the latency
            reference (N of them would add N more viewers'
            load to the 2 cores the edge's viewers are timed on), for --seconds: the origin's
            requests per part (nginx's log of what it sent upstream: the blocking reloads and
            the parts, and apart the viewers' first playlists, which are not cacheable), and the
            latency of both groups (arrival of each part minus its end by program date-time);
  direct:   N direct viewers alone: the server's CPU per GB (user + system of the serve.py
            process over the load, per GB the viewers received) and the p99 time from a part's
            completion to the last blocked viewer receiving it (ezrload_hls_report.c);
  http-flv: N HTTP-FLV players alone (the same stream): the server's CPU per GB, for the ratio.

It writes its section of bench/RESULTS-hls.md and every run's data to --json.
"""

import argparse
import datetime
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "cdn"))
from edge import NginxEdge, per_part  # noqa: E402
from hls_players import CONFIGS, make_input  # noqa: E402
from measure import ezrload_cmd, load_run, machine, proc_cpu, sink_figures  # noqa: E402
from sections import replace_section, section_markers  # noqa: E402
from servers import ROOT, Ezrtmp, log, wait_for  # noqa: E402

PLAYLIST = "/live/stream/index.m3u8"
BEGIN = "<!-- hls-cdn: written by bench/hls_cdn.py -->"
END = "<!-- /hls-cdn -->"
LOAD_RATE = 500  # viewers opened a second: 2 s for 1,000, as players arriving


def playlist_ready(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", PLAYLIST)
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def server(args, input_flv, tmp):
    s = Ezrtmp(args.build, input_flv, tmp, ["http=true", "hls=true", "hls-part-target=200"])
    wait_for(lambda: playlist_ready(s.port), 20, "the first playlist")
    return s


def hls_flags(args):
    """ezrload's options for the LL-HLS viewers: -L with --listed."""
    return ["-L"] if args.listed else []


def ezrload(args, url, log_path, n):
    cmd = ezrload_cmd(args.build, url, n, rate=LOAD_RATE, seconds=args.seconds,
                      flags=hls_flags(args))
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(log_path, "w"))


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def summary(r):
    """The figures of one ezrload report kept for the section (per_viewer only summarised)."""
    pv = r.pop("per_viewer", [])
    r["viewer_latency_p50_ms"] = sorted(v[2] for v in pv if v[2] is not None)
    return r


def together(args, input_flv, tmp):
    s = server(args, input_flv, tmp)
    edge = None
    try:
        edge = NginxEdge(s.port, tmp)
        cpu0, ecpu0, t0 = proc_cpu(s.pid), proc_cpu(edge.pid), time.time()
        cdn = ezrload(args, "http://127.0.0.1:%d%s" % (edge.port, PLAYLIST),
                      os.path.join(tmp, "cdn.log"), args.n)
        direct = ezrload(args, "http://127.0.0.1:%d%s" % (s.port, PLAYLIST),
                         os.path.join(tmp, "direct.log"), args.direct)
        rc, rd = json.loads(cdn.communicate()[0]), json.loads(direct.communicate()[0])
        t1 = time.time()
        cpu, ecpu = proc_cpu(s.pid) - cpu0, proc_cpu(edge.pid) - ecpu0
    finally:
        if edge:
            edge.close()
        stats = s.close()
    reqs = edge.origin_requests(t0, t1)
    rows = per_part(reqs)
    # The parts asked for while every viewer was playing: from LOAD_RATE's ramp + 2 s on.
    counts = [r[2] + r[3] for r in rows]
    return {
        "cdn": summary(rc), "direct": summary(rd), "server_cpu_s": round(cpu, 2),
        "edge_cpu_s": round(ecpu, 2), "origin": {
            "parts": len(rows), "reloads": sum(r[2] for r in rows),
            "part_requests": sum(r[3] for r in rows), "playlists": reqs["playlists"],
            "other": reqs["other"], "statuses": reqs["statuses"],
            "max_per_part": max(counts) if counts else None,
            "parts_over_2": sum(1 for c in counts if c > 2)},
        "server_error": stats.get("error"), "sink": sink_figures(stats.get("samples"),
                                                                 args.seconds),
        "loadavg_1m": loadavg()}


def alone(args, input_flv, tmp, url_of, extra=()):
    s = server(args, input_flv, tmp)
    try:
        r = load_run(args.build, s, args.n, args.seconds, rate=LOAD_RATE, url=url_of(s),
                     log_path=os.path.join(tmp, "alone.log"), extra=extra)
    finally:
        stats = s.close()
    r["load"] = summary(r["load"]) if "viewers" in r["load"] else r["load"]
    r["server_error"] = stats.get("error")
    r["sink"] = sink_figures(stats.get("samples"), args.seconds)
    r["loadavg_1m"] = loadavg()
    return r


def one_run(args, input_flv, run):
    with tempfile.TemporaryDirectory() as tmp:
        log("run %d: %d viewers through nginx and %d direct, %d s" % (run, args.n, args.direct,
                                                                      args.seconds))
        t = together(args, input_flv, tmp)
        log("  origin %s; latency p50 cdn %s direct %s" % (
            t["origin"], t["cdn"]["latency_ms"]["p50"], t["direct"]["latency_ms"]["p50"]))
        log("run %d: %d direct LL-HLS viewers alone" % (run, args.n))
        d = alone(args, input_flv, tmp,
                  lambda s: "http://127.0.0.1:%d%s" % (s.port, PLAYLIST), hls_flags(args))
        log("  %s s/GB, blocked part last p99 %s" % (
            d["cpu_per_gb"], d["load"]["blocked_part_last_ms"]["p99"]))
        log("run %d: %d HTTP-FLV players alone" % (run, args.n))
        f = alone(args, input_flv, tmp,
                  lambda s: "http://127.0.0.1:%d/live/stream.flv" % s.port)
        log("  %s s/GB" % f["cpu_per_gb"])
    return {"run": run, "together": t, "direct": d, "http_flv": f}


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


def write_section(args, runs, when, commit):
    n = args.n
    begin, end = section_markers("hls_cdn.py", args.section, "hls-cdn", BEGIN, END)
    asking = ("each part asked for once a playlist lists it, as hls.js does (`-L`)" if args.listed
              else "each hinted part asked for before it is complete")
    lines = [begin, "", "## LL-HLS through a CDN edge (nginx) and direct, %d viewers%s" % (
                 n, "" if args.section == "hls-cdn" else " (%s)" % args.section), "",
             "`bench/run.sh --hls-cdn --runs %d --n %d --direct %d --seconds %d%s%s` (%s, %s; %s). "
             "The stream: "
             "720p30 2 Mbps snow, 1 s GOP, AAC, 200 ms parts, served at real-time rate from an "
             "FLV; the edge: Debian's nginx with `bench/cdn/nginx-cdn.conf` (one process); the "
             "viewers: `bench/ezrload` LL-HLS (blocking reloads with delta updates, %s, two "
             "keep-alive connections each), opened at %d a second and playing %d s. Latency: a "
             "part's arrival (%s) minus its end by program date-time, over every part of every "
             "viewer. Blocked: per part, the delay from its "
             "completion (its first arrival at any viewer) to the last viewer that had asked "
             "for it before; p99 over the parts. CPU: user + system of the serving process "
             "(serve.py; nginx's own apart) per GB the viewers received. The machine is a "
             "shared 2-core VM (load average in the tables)." % (
                 args.runs, n, args.direct, args.seconds, " --listed" if args.listed else "",
                 " --section " + args.section if args.section != "hls-cdn" else "", when, commit,
                 machine(), asking, LOAD_RATE, args.seconds,
                 "when its last byte reached the viewer's socket" if args.arrival == "socket"
                 else "when the load client read its last byte"),
             "", "### %d through nginx and %d direct at once" % (n, args.direct), "",
             "| run | origin requests per part (reloads + parts) | parts asked | most for one part "
             "(parts over 2) | first playlists at the origin | edge: playing, errors, parts "
             "missing | latency ms via edge p50 / p99 | direct p50 / p99 | via edge - direct, "
             "p50 / p99 | server CPU s | nginx CPU s | load 1 min |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        t, o = r["together"], r["together"]["origin"]
        c, d = t["cdn"], t["direct"]
        per = (o["reloads"] + o["part_requests"]) / o["parts"] if o["parts"] else None
        lines.append("| %d | %s (%d + %d) | %d | %s (%d) | %d | %d/%d, %d, %d | %s / %s | %s / %s "
                     "| %s / %s | %.2f | %.2f | %.1f |" % (
                         r["run"], fmt(per, "%.2f"), o["reloads"], o["part_requests"],
                         o["parts"], o["max_per_part"], o["parts_over_2"], o["playlists"],
                         c["playing"], n, c["errors"], c["media_missing"],
                         fmt(c["latency_ms"]["p50"]), fmt(c["latency_ms"]["p99"]),
                         fmt(d["latency_ms"]["p50"]), fmt(d["latency_ms"]["p99"]),
                         fmt(c["latency_ms"]["p50"] - d["latency_ms"]["p50"]),
                         fmt(c["latency_ms"]["p99"] - d["latency_ms"]["p99"]),
                         t["server_cpu_s"], t["edge_cpu_s"], t["loadavg_1m"]))
    lines += ["", "### %d direct alone, and %d HTTP-FLV players alone" % (n, n), "",
              "| run | LL-HLS: playing, errors, parts missing | GB | server CPU s | CPU s/GB | "
              "blocked part to last viewer ms p50 / p99 / max | blocked reload p99 ms | "
              "latency p50 / p99 ms | HTTP-FLV: playing | GB | CPU s | CPU s/GB | LL-HLS / "
              "HTTP-FLV CPU per GB | load 1 min (HLS, FLV) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        d, f = r["direct"], r["http_flv"]
        dl, fl = d["load"], f["load"]
        b = dl["blocked_part_last_ms"]
        ratio = d["cpu_per_gb"] / f["cpu_per_gb"] if d["cpu_per_gb"] and f["cpu_per_gb"] else None
        lines.append("| %d | %d/%d, %d, %d | %.3f | %.2f | %s | %s / %s / %s | %s | %s / %s | %d/%d "
                     "| %.3f | %.2f | %s | %s | %.1f, %.1f |" % (
                         r["run"], dl["playing"], n, dl["errors"], dl["media_missing"], d["gb"],
                         d["cpu_s"], fmt(d["cpu_per_gb"], "%.2f"), fmt(b["p50"]), fmt(b["p99"]),
                         fmt(b["max"]), fmt(dl["blocked_reload_last_ms"]["p99"]),
                         fmt(dl["latency_ms"]["p50"]), fmt(dl["latency_ms"]["p99"]),
                         fl["playing"], n, f["gb"], f["cpu_s"], fmt(f["cpu_per_gb"], "%.2f"),
                         fmt(ratio, "%.2f"), d["loadavg_1m"], f["loadavg_1m"]))
    lines += ["", end]
    replace_section(args.out, begin, end, lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--n", type=int, default=1000, help="viewers in each group")
    ap.add_argument("--direct", type=int, default=20,
                    help="viewers played direct beside the edge's, the latency reference")
    ap.add_argument("--seconds", type=int, default=30, help="play time after the last opened")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS-hls.md"))
    ap.add_argument("--json", default=None, help="every run's data (default BUILD/hls-cdn.json)")
    ap.add_argument("--from-json", default=None, help="run nothing: the section from this JSON")
    ap.add_argument("--listed", action="store_true",
                    help="viewers that ask for a part once a playlist lists it (ezrload -L, as "
                         "hls.js 1.7.4 does), not for the hinted part before it is complete")
    ap.add_argument("--section", default="hls-cdn",
                    help="the name of the section of --out it writes (another keeps this one)")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        args.listed = saved.get("listed", args.listed)
        # Before ezrload stamped arrivals with the socket's receive time, it took the time it
        # read them.
        args.arrival = saved.get("arrival", "read")
        write_section(args, saved["runs"], saved["when"], saved["commit"])
        return 0
    args.arrival = "socket"  # bench/ezrload_hls.c: read_stamped
    cfg = next(c for c in CONFIGS if c["key"] == "720p-gop1")
    cache = os.path.join(args.build, "bench-inputs")
    os.makedirs(cache, exist_ok=True)
    secs = max(90, args.seconds + 40)  # one input for the usual lengths: encoded once
    input_flv = os.path.join(cache, "hls-%s-%ds.flv" % (cfg["key"], secs))
    make_input(input_flv, cfg, secs)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    runs = []
    for run in range(1, args.runs + 1):
        runs.append(one_run(args, input_flv, run))
        with open(args.json or os.path.join(args.build, "hls-cdn.json"), "w") as f:
            json.dump({"runs": runs, "when": when, "commit": commit, "argv": sys.argv,
                       "listed": args.listed, "arrival": args.arrival}, f, indent=1)
    write_section(args, runs, when, commit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
