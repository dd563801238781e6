#!/usr/bin/env python3
"""Instructions a server function executes per call, old build against new, counted by callgrind
in the server process: for a change to the hot path that CPU time on a shared machine is too noisy
to judge (and where perf has no hardware counters, as in a VM). Per build: bench/serve.py runs
under `valgrind --tool=callgrind --toggle-collect=FUNCTION` (only what runs inside FUNCTION is
counted), N players of bench/ezrload play the default benchmark stream for SECONDS, and the
figure is FUNCTION's instructions divided by the calls counted of PER (the fan-out's instructions
per player per frame: FUNCTION ezr_fan_offer, PER ezr_client_offer; a write's: ezr_client_flush
and itself). User-space instructions only: the kernel's part of a write is not counted.

    /usr/bin/python3 bench/count_instructions.py --old OLD_BUILD --new build-bench \\
        [--protocol http-flv|rtmp] [--n 200] [--seconds 10] \\
        [--function ezr_fan_offer] [--per ezr_client_offer]

--protocol ll-hls: the reactor thread's instructions per LL-HLS request (FUNCTION reactor_main,
the loop the reactor thread runs: everything it does, request or not). One client on one
keep-alive HTTP/1.1 connection asks as an LL-HLS player does: the playlist, then in turn a
blocking reload for the hinted part (`index.m3u8?_HLS_msn=M&_HLS_part=P`) and a GET of the
newest part it lists, a reload and a part per 200 ms part. Each build serves two runs, of FEWER
and MORE requests (answered, 200 each; the stats' hls-requests is printed beside), and the
figure is (I(MORE) - I(FEWER)) / (MORE - FEWER): start-up, the reactor's work for each frame
and its ticks cancel, for the run of FEWER is held as long as that of MORE took (the frames of
both runs are printed, to check). MORE = 1,200 takes about two minutes a run.

    /usr/bin/python3 bench/count_instructions.py --old OLD_BUILD --new build-bench \\
        --protocol ll-hls [--requests 200,1200]

Both builds are release builds of the plugin (`meson setup --buildtype=release`, then
`ninja gst/libgstezrtmp.so bench/ezrload`); the players are the new build's ezrload, the input is
bench/compare_builds.py's (encoded once into NEW/bench-inputs). Valgrind runs the server about 50
times slower: keep N small enough that every player plays (the output says how many did).
"""

import argparse
import json
import os
import http.client
import re
import subprocess
import sys
import tempfile
import time

from inputs import make_input
from measure import ezrload_cmd
from servers import PY, ROOT, log, read_line, stop

sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from hlsclient import Playlist, get  # noqa: E402  (the e2e tests' LL-HLS playlist parser)

KBPS = 1000  # bench/compare_builds.py's stream
HLS_BASE = "/live/stream/"
PART_S = 0.2  # the element's default hls-part-target: a blocking reload and a part per part


def calls_of(annotated, fn):
    """How many calls of fn callgrind counted: in --tree=caller output a function's block is its
    callers ("<" lines, each with its count of calls) and then the function ("*" line)."""
    callers = []
    for line in annotated.splitlines():
        if re.search(r"\*\s+\S*:%s \[" % re.escape(fn), line):
            return sum(int(c.replace(",", "")) for b in callers
                       for c in re.findall(r"\(([\d,]+)x\)", b))
        callers = callers + [line] if " < " in line else []
    return 0


def start_server(args, which, build, input_flv, tmp, sets):
    """bench/serve.py of build under callgrind, counting only inside args.function: the process,
    its port, the callgrind output's path and the stats' path, once it plays."""
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "gst"),
               GST_REGISTRY=os.path.join(tmp, "registry-%s.bin" % which))
    out = os.path.join(tmp, "callgrind-%s.out" % which)
    stats = os.path.join(tmp, "stats-%s.json" % which)
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                             "--toggle-collect=" + args.function, PY,
                             os.path.join(ROOT, "bench", "serve.py"), input_flv, "--stats-out",
                             stats] + ["--set=" + s for s in sets],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        port = int(read_line(proc, 300).split()[1])
        if read_line(proc, 300) != "PLAYING":
            raise RuntimeError("serve.py did not start playing")
    except BaseException:
        stop_server(proc)
        raise
    return proc, port, out, stats


def stop_server(proc):
    """As long as valgrind takes to end the server and write its counts (a SIGKILL after the
    usual 15 s would lose them)."""
    stop(proc, 600)


def annotate(out):
    """callgrind_annotate's caller tree of out, and the instructions it counted in all."""
    annotated = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--tree=caller", out],
                               stdout=subprocess.PIPE, text=True, check=True).stdout
    m = re.search(r"([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS", annotated)
    return annotated, int(m.group(1).replace(",", "")) if m else 0


def one_build(args, which, build, input_flv, tmp):
    proc, port, out, _ = start_server(args, which, build, input_flv, tmp, ["http=true"])
    try:
        url = ("http://127.0.0.1:%d/live/stream.flv" if args.protocol == "http-flv"
               else "rtmp://127.0.0.1:%d/live/stream") % port
        load = json.loads(subprocess.run(
            ezrload_cmd(args.new, url, args.n, rate=500, seconds=args.seconds, fps=25),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout)
    finally:
        stop_server(proc)
    annotated, instructions = annotate(out)
    calls = calls_of(annotated, args.per)
    return {"build": which, "playing": load["playing"], "n": args.n, "bytes": load["bytes"],
            "instructions": instructions, "calls": calls,
            "per_call": round(instructions / calls, 1) if calls else None}


def hls_requests(port, n):
    """n requests on one keep-alive HTTP/1.1 connection, as an LL-HLS player makes them: the
    playlist, then a blocking reload for the hinted part (EXT-X-PRELOAD-HINT) and a GET of the
    newest part it lists, in turn, until n were answered (200 each, else RuntimeError)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    answered = 0

    def ask(path):
        nonlocal answered
        r = get(conn, path)
        if r.status != 200:
            raise RuntimeError("GET %s: %d %r" % (path, r.status, r.body[:200]))
        answered += 1
        return r.body

    try:
        pl = Playlist(ask(HLS_BASE + "index.m3u8").decode())
        while answered < n:
            if pl.hint is None or pl.hint[0] is None:
                raise RuntimeError("no EXT-X-PRELOAD-HINT of a part: %s" % pl.text[-300:])
            pl = Playlist(ask(HLS_BASE + "index.m3u8?_HLS_msn=%d&_HLS_part=%d"
                              % pl.hint[:2]).decode())
            if answered < n:
                ask(HLS_BASE + pl.parts[-1][2])
    finally:
        conn.close()
    return answered


def hls_run(args, which, build, input_flv, tmp, n, hold):
    """One server under callgrind answering n LL-HLS requests; it is stopped hold seconds after
    it began playing (at least once the requests were answered), so that two runs of different
    n carry the same stream (the reactor's work per frame, its ticks). Returns the reactor
    instructions counted, the requests answered and the seconds they took."""
    proc, port, out, stats = start_server(args, which, build, input_flv, tmp,
                                          ["http=true", "hls=true"])
    try:
        start = time.monotonic()
        answered = hls_requests(port, n)
        took = time.monotonic() - start
        time.sleep(max(0.0, hold - took))
        held = time.monotonic() - start
    finally:
        stop_server(proc)
    with open(stats) as f:
        final = json.load(f)["final"]
    return {"build": which, "requests": answered, "hls_requests": final.get("hls-requests"),
            "frames": final["video-frames"] + final["audio-frames"], "seconds": round(held, 1),
            "instructions": annotate(out)[1]}


def hls_build(args, which, build, input_flv, tmp):
    """The reactor's instructions per LL-HLS request of one build: (I(more) - I(fewer)) /
    (requests(more) - requests(fewer)), the run of more requests first so that the other is held
    as long."""
    fewer, more = args.requests
    big = hls_run(args, which + "-more", build, input_flv, tmp, more, 0)
    log("  " + json.dumps(big))
    small = hls_run(args, which + "-fewer", build, input_flv, tmp, fewer, big["seconds"])
    log("  " + json.dumps(small))
    dn = big["requests"] - small["requests"]
    return {"build": which, "more": big, "fewer": small,
            "per_request": round((big["instructions"] - small["instructions"]) / dn, 1)}


def requests_pair(text):
    fewer, more = (int(x) for x in text.split(","))
    if not 0 < fewer < more:
        raise argparse.ArgumentTypeError("FEWER,MORE with 0 < FEWER < MORE")
    return fewer, more


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--protocol", default="http-flv", choices=["http-flv", "rtmp", "ll-hls"])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--requests", type=requests_pair, default=(200, 1200), metavar="FEWER,MORE",
                    help="ll-hls: the requests of the two runs of each build")
    ap.add_argument("--function", help="default: ezr_fan_offer, for ll-hls reactor_main")
    ap.add_argument("--per", default="ezr_client_offer")
    args = ap.parse_args()
    hls = args.protocol == "ll-hls"
    args.function = args.function or ("reactor_main" if hls else "ezr_fan_offer")
    # LL-HLS: the stream the run of more requests needs (a part each two), and a minute to spare.
    seconds = (int(args.requests[1] / 2 * PART_S) if hls else args.seconds) + 60
    cache = os.path.join(args.new, "bench-inputs")
    os.makedirs(cache, exist_ok=True)
    input_flv = os.path.join(cache, "input-%dkbps-%ds.flv" % (KBPS, seconds))
    make_input(input_flv, KBPS, seconds)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for which, build in (("old", args.old), ("new", args.new)):
            if hls:
                log("%s: %s, %d and %d LL-HLS requests under callgrind" % (
                    which, build, *args.requests))
                rows.append(hls_build(args, which, build, input_flv, tmp))
                continue
            log("%s: %s, %d %s players, %d s under callgrind" % (which, build, args.n,
                                                                   args.protocol, args.seconds))
            rows.append(one_build(args, which, build, input_flv, tmp))
            log("  " + json.dumps(rows[-1]))
    old, new = (r["per_request" if hls else "per_call"] for r in rows)
    if hls:
        print("%s per LL-HLS request (%d requests less %d): old %s, new %s, new/old %.4f" % (
            args.function, args.requests[1], args.requests[0], old, new, new / old))
        return 0
    print("%s per call of %s, %s, %d players: old %s, new %s, new/old %.4f" % (
        args.function, args.per, args.protocol, args.n, old, new,
        new / old if old and new else float("nan")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
