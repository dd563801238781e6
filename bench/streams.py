"""--streams: the realistic stream matrix, each stream to N late joiners spread over one GOP,
ezrtmp then nginx-rtmp; writes STREAMS.md and results-streams.json."""

import json
import os
import tempfile
import datetime

from inputs import STREAM_AUDIO_KBPS, STREAM_FPS, STREAMS, make_stream_input
from measure import load_run, machine
from rows import burst_share, cpu_ms_per_player_min, fmt
from servers import Ezrtmp, Nginx, log


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
           "| CPU ms per player-minute | join bursts, share of bytes "
           "| ezrtmp/nginx CPU per GB, per player-minute |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    by = {(r["stream"], r["server"], r["n"]): r for r in rows}
    for r in rows:
        ld = r["load"]
        other = by.get((r["stream"], "nginx-rtmp", r["n"]))
        ratio = ""
        if r["server"] == "ezrtmp" and other and other["cpu_per_gb"] and r["cpu_per_gb"]:
            ratio = "%.2f, %.2f" % (r["cpu_per_gb"] / other["cpu_per_gb"],
                                    cpu_ms_per_player_min(r) / cpu_ms_per_player_min(other))
        share = burst_share(r)
        out.append("| %s | %d | %s | %d / %d | %d | %d | %d (%d) | %s | %d | %s / %s / %s | %d "
                   "| %.3f | %.2f | %s | %s | %s | %s |" % (
                       r["stream"], r["n"], r["server"], ld["playing"], ld["players"],
                       ld["got_keyframe"], ld["video_msgs"], ld["video_missing"],
                       ld["players_missing"],
                       "-" if r.get("server_dropped") is None else r["server_dropped"],
                       ld["audio_msgs"], fmt(ld["ttfk_ms"]["p50"]), fmt(ld["ttfk_ms"]["p99"]),
                       fmt(ld["ttfk_ms"]["max"]), ld["first_video_not_key"], r["gb"],
                       r["cpu_s"], fmt(r["cpu_per_gb"], "%.2f"),
                       fmt(cpu_ms_per_player_min(r), "%.2f"),
                       "-" if share is None else "%.1f%%" % (100 * share), ratio))
    return "\n".join(out)



def write_streams(args, rows, written=None):
    """STREAMS.md; written: when and on what the rows were measured (now, by default)."""
    written = written or "%s. Machine: %s" % (datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
                                              machine())
    lines = [
        "# Benchmark: realistic streams",
        "",
        "Written by `bench/run.py --streams` on %s." % written,
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
        "connect to the first video keyframe. CPU per GB counts a join burst's bytes as work "
        "done, and here every player is a late joiner: ezrtmp delivers its cached GOP, "
        "nginx-rtmp nothing until the next keyframe. CPU ms per player-minute (the server's "
        "CPU over N times the load client's run) compares the same players over the same "
        "time; the join bursts' share is of the media bytes the players received (`-`: not "
        "counted by the ezrload of that run; the CPU per player-minute of such a run is "
        "computed from its stored CPU, N and run time)." % (
            STREAM_AUDIO_KBPS, args.seconds, STREAM_FPS),
        "",
        streams_table(rows),
        "",
    ]
    with open(os.path.join(args.out, "STREAMS.md"), "w") as f:
        f.write("\n".join(lines))
