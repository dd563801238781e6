"""RESULTS.md and results.json of a full run: the rows table, the flush-interval trade-off, the
targets and the reading of the figures."""

import datetime
import json
import os

from measure import SLOW_TIERS, machine
from rows import PROTOCOLS, burst_share, cpu_ms_per_player_min, fmt, median_of, names_in_order, protocol
from sections import HTTP_BEGIN, HTTP_END, TLS_BEGIN, TLS_END
from servers import ROOT
from targets import targets


def table(rows, kbps_of):
    out = ["| N | stream | server and setting | players | playing | dropped | GB sent "
           "| server CPU s (% of a core) "
           "| CPU s/GB | CPU ms per player-minute | join bursts, share of bytes "
           "| RSS MB (before → max) | RSS/player KB | TTFK p50 / p99 / max ms "
           "| video lag p50 / p99 / max ms | audio lag p99 ms | reactor busy, send latency p99 ms "
           "| first video not key | load client CPU s | both cores busy "
           "| ezrtmp/nginx CPU per GB, per player-minute |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    by = {(r["server"], protocol(r), r["n"], r.get("run", 1)): r for r in rows}
    repeated = any(r.get("run", 1) > 1 for r in rows)
    for r in rows:
        ld = r["load"]
        other = by.get(("nginx-rtmp", "rtmp", r["n"], r.get("run", 1)))
        ratio = ""
        if (r["server"].startswith("ezrtmp") and protocol(r) == "rtmp" and other
                and other["cpu_per_gb"] and r["cpu_per_gb"]):
            ratio = "%.2f, %.2f" % (r["cpu_per_gb"] / other["cpu_per_gb"],
                                    cpu_ms_per_player_min(r) / cpu_ms_per_player_min(other))
        cpu = "%.2f (%d%%)" % (r["cpu_s"], round(100 * r["cpu_s"] / r["wall_s"]))
        if r["reactor_cpu_s"] is not None:
            cpu += "; reactor %.2f (%d%%)" % (r["reactor_cpu_s"],
                                             round(100 * r["reactor_cpu_s"] / r["wall_s"]))
        lag, alag = ld.get("lag_ms") or {}, ld.get("audio_lag_ms") or {}
        sink = r.get("sink") or {}
        own = "-" if not sink else "%.2f, %s" % (sink["reactor_busy"],
                                                 fmt(sink["send_latency_p99_ms"]))
        busy = r.get("machine_busy")
        share = burst_share(r)
        out.append("| %s | %d kbps | %s | %s | %d / %d | %d | %.3f | %s | %s | %s | %s "
                   "| %s → %s | %s "
                   "| %s / %s / %s | %s / %s / %s | %s | %s | %d | %.2f | %s | %s |" % (
                       "%d, run %d" % (r["n"], r.get("run", 1)) if repeated else r["n"],
                       kbps_of(r["n"]), r["server"], PROTOCOLS[protocol(r)], ld["playing"],
                       ld["players"],
                       ld["dropped"], r["gb"], cpu, fmt(r["cpu_per_gb"], "%.2f"),
                       fmt(cpu_ms_per_player_min(r), "%.2f"),
                       "-" if share is None else "%.1f%%" % (100 * share),
                       r["rss0_mb"], r["rss_max_mb"], fmt(r["rss_per_player_kb"], "%.2f"),
                       fmt(ld["ttfk_ms"]["p50"]), fmt(ld["ttfk_ms"]["p99"]),
                       fmt(ld["ttfk_ms"]["max"]), fmt(lag.get("p50")), fmt(lag.get("p99")),
                       fmt(lag.get("max")), fmt(alag.get("p99")), own,
                       ld["first_video_not_key"], ld["client_cpu_s"],
                       "-" if busy is None else "%d%%" % round(100 * busy), ratio))
    return "\n".join(out)


def written(args):
    """When the figures were measured, and on what: a replot keeps the run's (args.written)."""
    if getattr(args, "written", None):
        return args.written
    args.written = "%s. Machine: %s" % (datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
                                        machine())
    return args.written


def save_results(args, rows, slow):
    """results.json: one row a line, so that the file stays short enough to read and diff."""
    head = {"slow": slow, "srs": getattr(args, "srs_version", None),
            "srs_skipped": getattr(args, "srs_skipped", None), "written": written(args),
            "note": getattr(args, "note", None)}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        f.write("{\n")
        for k, v in head.items():
            f.write(" %s: %s,\n" % (json.dumps(k), json.dumps(v)))
        f.write(' "rows": [\n%s\n ]\n}\n' % ",\n".join("  " + json.dumps(r) for r in rows))


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


def out_option(args):
    """--out DIR for the rerun command, when the run did not write into bench/."""
    out = os.path.relpath(os.path.abspath(args.out), ROOT)
    return "" if out == "bench" else " --out %s" % out


def trade_table(rows):
    """ezrtmp's settings (and SRS's, for comparison) at each N and protocol: medians."""
    out = ["| players | protocol | server and setting | CPU s per GB | of which ezrtmp's reactor "
           "thread | CPU ms per player-minute | video lag p99 ms | TTFK p99 ms |",
           "|---|---|---|---|---|---|---|---|"]
    names = [n for n in names_in_order(rows) if n.startswith(("ezrtmp", "SRS"))]
    for n in sorted({r["n"] for r in rows}):
        for proto in PROTOCOLS:
            for name in names:
                cpu = median_of(rows, name, proto, n, "cpu")
                if cpu is None:
                    continue
                out.append("| %d | %s | %s | %.2f | %s | %s | %s | %s |" % (
                    n, PROTOCOLS[proto], name, cpu,
                    fmt(median_of(rows, name, proto, n, "reactor"), "%.2f"),
                    fmt(median_of(rows, name, proto, n, "cpu_pm"), "%.2f"),
                    fmt(median_of(rows, name, proto, n, "lag")),
                    fmt(median_of(rows, name, proto, n, "ttfk"))))
    return "\n".join(out)


def write_results(args, rows, slow, kbps_of):
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/run.py` on %s." % written(args)
        + ("" if not getattr(args, "note", None) else " " + args.note),
        "",
        "Rerun: `bench/run.sh` (installs what it needs, builds `build-bench` in release mode, "
        "runs everything, rewrites this file and `results.png`), or after a build "
        "`/usr/bin/python3 bench/run.py --build build-bench --ns %s --seconds %d --repeat %d "
        "--flush-intervals %s --http-ns %s%s`."
        % (args.ns, args.seconds, args.repeat, args.flush_intervals or "''", args.http_ns or "''",
           (" --no-slow" if args.no_slow else "") + out_option(args)),
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
        "- Two CPU figures, and the targets against nginx-rtmp and SRS are judged on both. CPU "
        "per GB counts every byte sent as work done: ezrtmp and SRS send each new player the "
        "GOP in progress at once (up to 2 s of stream here), nginx-rtmp sends a player nothing "
        "until the next keyframe, so in the same play time ezrtmp delivers more bytes (at 1,000 "
        "players about 1.37 GB against nginx-rtmp's 1.25; `bench/join-burst/` measured how "
        "much of it is the bursts: 3-4%, the rest nginx-rtmp's wait) and looks cheaper per GB "
        "by that much. CPU ms per player-minute divides the server's CPU by N "
        "times the load client's run (from its first connect to the end of play), the same "
        "players over the same window for every server. The join bursts' share of the bytes "
        "is what `bench/ezrload` received that was no newer than what was live when the player "
        "asked to play (the first player of a run has none to tell it, so its burst is not "
        "counted); rows measured before ezrload counted it show `-`.",
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
