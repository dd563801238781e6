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

This file holds the options and the order of the runs; the rest is one job a module: inputs.py
(the encoded streams), servers.py (starting and stopping each server), measure.py (what a load
run measures), rows.py (how a result row is read), targets.py, report.py (RESULTS.md and
results.json), plot.py, streams.py (--streams) and sections.py (--tls, --http).
"""

import argparse
import json
import os
import sys
import tempfile

from inputs import make_input
from measure import SLOW_SEND_BUFFER, SLOW_TIERS, load_run, serve_and_load, slow_summary
from plot import plot
from report import save_results, write_results
from rows import flush_label
from sections import http_comparison, tls_comparison
from servers import ROOT, SRS_SETTINGS, Ezrtmp, Nginx, Srs, log, srs_install
from streams import streams_main


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
    ap.add_argument("--note", default=None, metavar="TEXT",
                    help="a sentence on the conditions of the run (a shared machine, ...), "
                    "printed under its date in RESULTS.md and kept in results.json")
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
        args.note = args.note or saved.get("note")
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


if __name__ == "__main__":
    sys.exit(main())
