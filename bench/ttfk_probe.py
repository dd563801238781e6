#!/usr/bin/env python3
"""Whose time is the time to first keyframe at 10,000 players: the server's or the load client's?

bench/run.py's figure comes from the one ezrload process that also plays the other players: at
10,000 players of 200 kbps it reads 2 Gbit/s over 10,000 sockets, and each of a joiner's four
exchanges (handshake, connect, createStream, play) waits for that loop as well as for ours. Here
the same load runs against ezrtmp, and a second ezrload, the probe, joins a few players at a low
rate during the last part of the ramp (from 7,000 players playing on): its loop has little else
to do, so its figure is the server's answer as a lone player sees it.

    bench/run.sh --ttfk-probe [--repeat 3] [--set flush-interval=100]      # installs, builds, runs this
    /usr/bin/python3 bench/ttfk_probe.py --build build-bench [--repeat 3] [--set flush-interval=100]

Prints one line per run: the time to first keyframe (p50 / p99 / max, ms) at the load client
and at the probe, and how many players of each played.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import inputs  # bench/run.py's inputs
import servers
from measure import ezrload_cmd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def once(args, input_flv, tmp):
    # Room for the probe's players beside the load's: the default max-connections is 10,000.
    props = ("max-connections=%d" % (args.n + args.probe_n),) + tuple(args.set)
    server = servers.Ezrtmp(args.build, input_flv, tmp, props=props)
    main = subprocess.Popen(ezrload_cmd(args.build, server.url, args.n, rate=args.rate,
                                        seconds=args.seconds),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        # The ramp takes n / rate seconds; the probe starts when 70% of it is done and joins its
        # players over the rest of it and past it.
        time.sleep(0.7 * args.n / args.rate)
        probe = subprocess.run(ezrload_cmd(args.build, server.url, args.probe_n,
                                           rate=args.probe_rate, seconds=2),
                               capture_output=True, timeout=120)
        out, _ = main.communicate(timeout=args.seconds + args.n / args.rate + 120)
    finally:
        if main.poll() is None:  # the probe failed: the load stops with the server
            main.kill()
            main.wait()
        server.close()
    return json.loads(out), json.loads(probe.stdout)


def ttfk(r):
    t = r["ttfk_ms"]
    return "%s / %s / %s" % (t["p50"], t["p99"], t["max"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--n", type=int, default=10000, help="players of the load client")
    ap.add_argument("--rate", type=int, default=2000, help="its joins per second (run.py's)")
    ap.add_argument("--seconds", type=int, default=10, help="its play time after the last join")
    ap.add_argument("--probe-n", type=int, default=200)
    ap.add_argument("--probe-rate", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--set", action="append", default=[], metavar="PROPERTY=VALUE",
                    help="an element property for the server (run.py's --set)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ezr-probe-")
    input_flv = os.path.join(args.build, "bench-inputs", "input-200kbps-100s.flv")
    os.makedirs(os.path.dirname(input_flv), exist_ok=True)
    inputs.make_input(input_flv, 200, 100)  # run.py's, encoded once
    print("ezrtmp %s, %d players joining at %d/s, a probe of %d at %d/s from 70%% of the ramp" % (
        " ".join(args.set) or "defaults", args.n, args.rate, args.probe_n, args.probe_rate))
    for i in range(args.repeat):
        big, probe = once(args, input_flv, tmp)
        print("run %d: time to first keyframe p50 / p99 / max, load client %s ms (%d of %d "
              "playing), probe %s ms (%d of %d)" % (
                  i + 1, ttfk(big), big["got_keyframe"], args.n, ttfk(probe),
                  probe["got_keyframe"], args.probe_n), flush=True)


if __name__ == "__main__":
    sys.exit(main())
