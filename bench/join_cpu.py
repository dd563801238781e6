#!/usr/bin/env python3
"""What the live-edge replay costs the server: CPU per GB sent with players joining all the time,
under sync-method=latest-keyframe and sync-method=live-edge, the two taking turns.

A 720p30 2 Mbps snow stream with a 4 s GOP (encoded once as bench/run.py encodes its streams) is
served by bench/serve.py; bench/ezrload opens N players at N/4 per second, so that joins are spread
over one GOP (a joiner at every point of it, about two per video frame at N=300: nearly every
join moment builds its own replay), and plays SECONDS after the last one. Server CPU is the
serving process's, as in bench/run.py.

    /usr/bin/python3 bench/join_cpu.py --build build [--n 300] [--seconds 5] [--repeat 2]
"""

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import inputs  # noqa: E402
import measure  # noqa: E402
import servers  # noqa: E402

STREAM = dict(name="720p30 2 Mbps snow, 4 s GOP", key="720p-2m-gop4", width=1280, height=720,
              kbps=2000, gop_s=4, pattern="snow", tracks="av")
METHODS = ("latest-keyframe", "live-edge")


def one_run(args, path, tmp, method):
    server = servers.Ezrtmp(args.build, path, tmp, ["sync-method=" + method])
    try:
        r = measure.load_run(args.build, server, args.n, args.seconds,
                           rate=max(1, args.n // STREAM["gop_s"]),
                           extra=["-f", str(inputs.STREAM_FPS)])
    finally:
        stats = server.close()
    if stats and stats.get("error"):
        raise RuntimeError("ezrtmp pipeline: %s" % stats["error"])
    ld = r["load"]
    return dict(method=method, cpu_s=r["cpu_s"], gb=r["gb"], cpu_per_gb=r["cpu_per_gb"],
                playing=ld["playing"], players=ld["players"], ttfk_p99_ms=ld["ttfk_ms"]["p99"],
                first_video_not_key=ld["first_video_not_key"], rss_max_mb=r["rss_max_mb"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(servers.ROOT, "build-bench"))
    ap.add_argument("--n", type=int, default=300, help="players (the issue's target is at "
                    "1,000: run that only on a machine of your own)")
    ap.add_argument("--seconds", type=int, default=5, help="play time after the last joins")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    cache = os.path.join(args.build, "bench-inputs")
    os.makedirs(cache, exist_ok=True)
    secs = STREAM["gop_s"] + args.seconds + 15
    path = os.path.join(cache, "stream-%s-%ds.flv" % (STREAM["key"], secs))
    inputs.make_stream_input(path, STREAM, secs)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.repeat):
            for method in METHODS:
                row = dict(one_run(args, path, tmp, method), run=run + 1)
                print(json.dumps(row), flush=True)
                rows.append(row)
    per = {m: [r["cpu_per_gb"] for r in rows if r["method"] == m] for m in METHODS}
    ratio = (sum(per["live-edge"]) / len(per["live-edge"])) / (
        sum(per["latest-keyframe"]) / len(per["latest-keyframe"]))
    print("%d players joining over one GOP: CPU s/GB latest-keyframe %s, live-edge %s: "
          "live-edge / latest-keyframe = %.3f" % (args.n, per["latest-keyframe"],
                                                   per["live-edge"], ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
