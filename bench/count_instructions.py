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

Both builds are release builds of the plugin (`meson setup --buildtype=release`, then
`ninja gst/libgstezrtmp.so bench/ezrload`); the players are the new build's ezrload, the input is
bench/compare_builds.py's (encoded once into NEW/bench-inputs). Valgrind runs the server about 50
times slower: keep N small enough that every player plays (the output says how many did).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

from inputs import make_input
from measure import ezrload_cmd
from servers import PY, ROOT, log, read_line, stop

KBPS = 1000  # bench/compare_builds.py's stream


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


def one_build(args, which, build, input_flv, tmp):
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "gst"),
               GST_REGISTRY=os.path.join(tmp, "registry-%s.bin" % which))
    out = os.path.join(tmp, "callgrind-%s.out" % which)
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                             "--toggle-collect=" + args.function, PY,
                             os.path.join(ROOT, "bench", "serve.py"), input_flv, "--stats-out",
                             os.path.join(tmp, "stats-%s.json" % which), "--set=http=true"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        port = int(read_line(proc, 300).split()[1])
        if read_line(proc, 300) != "PLAYING":
            raise RuntimeError("serve.py did not start playing")
        url = ("http://127.0.0.1:%d/live/stream.flv" if args.protocol == "http-flv"
               else "rtmp://127.0.0.1:%d/live/stream") % port
        load = json.loads(subprocess.run(
            ezrload_cmd(args.new, url, args.n, rate=500, seconds=args.seconds, fps=25),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout)
    finally:
        stop(proc)
    annotated = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--tree=caller", out],
                               stdout=subprocess.PIPE, text=True, check=True).stdout
    m = re.search(r"([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS", annotated)
    instructions = int(m.group(1).replace(",", "")) if m else 0
    calls = calls_of(annotated, args.per)
    return {"build": which, "playing": load["playing"], "n": args.n, "bytes": load["bytes"],
            "instructions": instructions, "calls": calls,
            "per_call": round(instructions / calls, 1) if calls else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--protocol", default="http-flv", choices=["http-flv", "rtmp"])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--function", default="ezr_fan_offer")
    ap.add_argument("--per", default="ezr_client_offer")
    args = ap.parse_args()
    cache = os.path.join(args.new, "bench-inputs")
    os.makedirs(cache, exist_ok=True)
    input_flv = os.path.join(cache, "input-%dkbps-%ds.flv" % (KBPS, args.seconds + 60))
    make_input(input_flv, KBPS, args.seconds + 60)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for which, build in (("old", args.old), ("new", args.new)):
            log("%s: %s, %d %s players, %d s under callgrind" % (which, build, args.n,
                                                                   args.protocol, args.seconds))
            rows.append(one_build(args, which, build, input_flv, tmp))
            log("  " + json.dumps(rows[-1]))
    old, new = rows
    print("%s per call of %s, %s, %d players: old %s, new %s, new/old %.4f" % (
        args.function, args.per, args.protocol, args.n, old["per_call"], new["per_call"],
        new["per_call"] / old["per_call"] if old["per_call"] and new["per_call"] else float("nan")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
