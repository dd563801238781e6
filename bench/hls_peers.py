#!/usr/bin/env python3
"""HLS against the peers, in one run: the same 720p30 2 Mbps stream with a 1 s GOP
(bench/hls_stamp.py: videotestsrc pattern=snow, x264enc tune=zerolatency key-int-max=30, AAC,
each frame's number drawn in its top rows; encoded once, fed at real-time rate by
bench/hls_peers/feed.py) played by hls.js in Debian's headless chromium (bench/hls/player.html,
players.mjs, as bench/hls_players.py) from each of:

  ezrtmp:     ezrtmpserversink hls=true http=true (LL-HLS, CMAF parts), in the feeding process;
  edge:       the same, played through Debian's nginx as a caching edge (bench/cdn/nginx-cdn.conf):
              what a viewer behind a CDN sees (ours again, not a peer);
  hlssink2:   hlssink2 (MPEG-TS files) writing a directory that Debian's nginx serves;
  nginx-rtmp: nginx-rtmp's `hls on`, its fragments served by the same nginx, fed over RTMP;
  srs:        SRS 6's HLS (MPEG-TS), served by SRS's HTTP server, fed over RTMP;

each at its default settings and at its best low-latency ones (SETTINGS below, hls.js's config
with them), a fresh server for every run.

    bench/run.sh --hls-peers [--runs 2] [--seconds 10] [--servers ezrtmp,...] [--cpu 1000]
    /usr/bin/python3 bench/hls_peers.py --build build-bench [...]

Latency: the peers write no EXT-X-PROGRAM-DATE-TIME, so the figure is read off the picture for
every server alike: the frame number on screen (player.html stamp=1) read with Date.now(), minus
the wall time that frame entered the server's side (the feeder's running time 0 plus the frame's
timestamp: when it was handed to ezrtmpserversink, to hlssink2, or to rtmp2sink publishing to
nginx-rtmp or SRS on loopback). For ezrtmp the program date-time figure of bench/hls_players.py
(Date.now() minus hls.playingDate) is kept beside it, a check of the two methods. Each run: wait
until the playlist lists JOIN_SEGMENTS segments (hls.js starts liveSyncDurationCount, 3, target
durations from the end: with fewer it would start nearer the live edge than a viewer of a
running stream does), then a share of a target duration that differs run by run, then the
player; the figure is the sample --seconds after the first frame.

CPU (--cpu N, when bench/ezrload plays HLS): N viewers of ezrload against each server at its
low-latency settings; the server's CPU (ezrtmp: the feeding process, which is the server;
hlssink2: nginx plus the pipeline writing the files, both counted, and nginx alone beside it;
nginx-rtmp and SRS: their one process, which also muxes the TS; their RTMP publisher is not
counted and is shown apart) over the bytes the viewers received. With ezrtmp, one more run: the
same LL-HLS viewers through Debian's nginx as a caching edge in front of ours
(bench/cdn/nginx-cdn.conf), nginx's CPU apart: what nginx costs serving LL-HLS's requests.

It writes its section of bench/RESULTS-hls.md and every run's data to --json.
"""

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from hls_players import HLS_DIR, PageServer, fmt, play
from hls_stamp import entered_ms, make_stamped_input
from measure import ezrload_cmd, ezrload_path, machine, proc_cpu
from sections import replace_section, section_markers
from servers import (ROOT, HlsEzrtmp, HlsEzrtmpBehindNginx, HlsNginxRtmp, HlsSink2Nginx, HlsSrs,
                     log, srs_install)

JOIN_SEGMENTS = 4
INPUT_S = 240
# hls.js for a plain (not low-latency) HLS playlist at the peers' low-latency settings: start
# one target duration from the end instead of three (liveSyncDurationCount), and its worker on
# (hlsjs-edge turns it off, which is right for CMAF only: MPEG-TS needs its transmuxer).
PLAIN_LOW_HLSJS = {"liveSyncDurationCount": 1, "enableWorker": True}
# For each server and setting: what the server is given, how many segments its playlist lists
# before the player joins (JOIN_SEGMENTS, or all that a short playlist ever lists), the player
# variant of player.html (hlsjs: hls.js's defaults with lowLatencyMode; hlsjs-edge:
# maxLiveSyncPlaybackRate 1.5 and one seek to its live sync position once playing) and hls.js
# options over it.
SETTINGS = {
    "ezrtmp": {
        "default": dict(conf=[], player="hlsjs", hlsjs={},
                        what="element defaults (200 ms parts, 7-segment window)"),
        "low": dict(conf=[], player="hlsjs-edge", hlsjs={},
                    what="element defaults; hls.js seeks to its live sync position once"),
    },
    # Ours again, played through Debian's nginx as a caching edge (bench/cdn/nginx-cdn.conf):
    # what a viewer behind a CDN sees. Not a peer: the verdict compares it with ours direct.
    "edge": {
        "default": dict(conf=[], player="hlsjs", hlsjs={},
                        what="ours' defaults behind nginx-cdn.conf, hls.js's defaults"),
        "low": dict(conf=[], player="hlsjs-edge", hlsjs={},
                    what="ours' defaults behind nginx-cdn.conf; hls.js as for ours"),
    },
    "hlssink2": {
        "default": dict(conf=[], player="hlsjs", hlsjs={},
                        what="target-duration=15 playlist-length=5 (its defaults)"),
        "low": dict(conf=["target-duration=1", "playlist-length=3", "max-files=6"],
                    player="hlsjs-edge", hlsjs=PLAIN_LOW_HLSJS, join=3,
                    what="target-duration=1 playlist-length=3; hls.js liveSyncDurationCount=1"),
    },
    "nginx-rtmp": {
        "default": dict(conf="", player="hlsjs", hlsjs={},
                        what="hls_fragment 5s, hls_playlist_length 30s (its defaults)"),
        "low": dict(conf="            hls_fragment 1s;\n            hls_playlist_length 3s;",
                    player="hlsjs-edge", hlsjs=PLAIN_LOW_HLSJS, join=3,
                    what="hls_fragment 1s, hls_playlist_length 3s; hls.js "
                    "liveSyncDurationCount=1"),
    },
    "srs": {
        "default": dict(conf="", player="hlsjs", hlsjs={},
                        what="hls_fragment 10, hls_window 60 (its defaults)"),
        "low": dict(conf="        hls_fragment 1;\n        hls_window 3;\n        hls_ctx off;\n"
                    "        hls_ts_ctx off;",
                    player="hlsjs-edge", hlsjs=PLAIN_LOW_HLSJS, join=3,
                    what="hls_fragment 1, hls_window 3, hls_ctx and hls_ts_ctx off; hls.js "
                    "liveSyncDurationCount=1"),
    },
}
NAMES = {"ezrtmp": "ours (LL-HLS)", "hlssink2": "hlssink2 + nginx", "nginx-rtmp": "nginx-rtmp hls",
         "srs": "SRS 6 hls", "edge": "nginx serving ours' LL-HLS (a caching edge)"}
BEGIN = "<!-- hls-peers: written by bench/hls_peers.py -->"
END = "<!-- /hls-peers -->"


def start(key, setting, args, input_flv, tmp):
    conf = SETTINGS[key][setting]["conf"]
    if key == "ezrtmp":
        return HlsEzrtmp(args.build, input_flv, tmp, conf + args.ours_set)
    if key == "edge":
        return HlsEzrtmpBehindNginx(args.build, input_flv, tmp, conf + args.ours_set)
    if key == "hlssink2":
        return HlsSink2Nginx(args.build, input_flv, tmp, conf)
    if key == "nginx-rtmp":
        return HlsNginxRtmp(args.build, input_flv, tmp, conf)
    return HlsSrs(args.build, args.srs, input_flv, tmp, conf)


def get_playlist(url):
    """The media playlist's text, or None. A multivariant playlist is followed to its first
    variant (SRS with hls_ctx on answers one that names the session's playlist)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            text = r.read().decode()
        if "#EXT-X-STREAM-INF" in text:
            uri = [line for line in text.splitlines() if line and not line.startswith("#")][0]
            with urllib.request.urlopen(urllib.parse.urljoin(url, uri), timeout=10) as r:
                text = r.read().decode()
        return text
    except (OSError, IndexError):
        return None


def wait_segments(url, want, seconds):
    """Polls the playlist until it lists want segments; returns (its target duration, wait s)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        text = get_playlist(url) or ""
        if text.count("#EXTINF:") >= want:
            target = re.search(r"#EXT-X-TARGETDURATION:(\d+)", text)
            return int(target.group(1)) if target else 1, time.monotonic() - t0
        time.sleep(0.2)
    raise RuntimeError("%s listed fewer than %d segments after %d s" % (url, want, seconds))


def stamp_latencies(samples, base_ms):
    """(t, latency ms) of every sample whose picture's stamp read back, and the misreads."""
    out, misses = [], 0
    for s in samples:
        st = (s.get("latency") or {}).get("stamp") or {}
        if st.get("frame") is None:
            misses += 1
            continue
        out.append((s["t"], round(st["at_ms"] - entered_ms(base_ms, st["frame"]))))
    return out, misses


def one_run(args, key, setting, run, input_flv, pages, tmp):
    cfg = SETTINGS[key][setting]
    server = start(key, setting, args, input_flv, tmp)
    try:
        join = cfg.get("join", JOIN_SEGMENTS)
        target, waited = wait_segments(server.playlist, join, join * 20 + 30)
        # Join at a different point of a segment run by run.
        extra = target * ((run - 1) % args.runs) / args.runs
        time.sleep(extra)
        query = urllib.parse.urlencode({"player": cfg["player"], "src": server.playlist,
                                        "stamp": 1, "hlsjs": json.dumps(cfg["hlsjs"]),
                                        "verbose": int(args.verbose)})
        res = play(args, "http://127.0.0.1:%d/player.html?%s" % (pages.port, query), tmp)
    finally:
        server.close()
    with open("/proc/loadavg") as f:
        res["loadavg_1m"] = float(f.read().split()[0])
    res.update(server=key, setting=setting, run=run, target_s=target,
               joined_after_s=round(waited + extra, 1), base_ms=server.base_ms)
    samples = res.get("samples") or []
    res["stamp_ms"], res["stamp_misses"] = stamp_latencies(samples, server.base_ms)
    last = samples[-1] if samples else None
    res["latency_ms"] = (res["stamp_ms"][-1][1]
                         if res["stamp_ms"] and res["stamp_ms"][-1][0] == last["t"] else None)
    lat = (last or {}).get("latency") or {}
    res["pdt_latency_ms"], res["own_latency_ms"] = lat.get("ms"), lat.get("own_ms")
    return res


def med(rows, field):
    vs = [r[field] for r in rows if r.get(field) is not None]
    return statistics.median(vs) if vs else None


def ezrload_plays_hls(build):
    """Whether this build's ezrload plays HLS (its usage names .m3u8)."""
    load = ezrload_path(build)
    if not os.access(load, os.X_OK):
        return False
    done = subprocess.run([load, "-h"], capture_output=True, text=True)
    return ".m3u8" in done.stdout + done.stderr


# The load client's viewers open at this rate (2 s for 1,000, as bench/hls_cdn.py).
LOAD_RATE = 500
# The CPU runs: (server, ezrload's extra flags). Ours twice: as LL-HLS viewers (blocking
# reloads, parts) and, -P, as plain HLS viewers like the peers' (the playlist every half target
# duration, whole segments). "edge" (run with ours): the same LL-HLS viewers played through
# nginx as a caching edge in front of ours (bench/cdn/nginx-cdn.conf), which answers all but two
# requests a part from its cache: what nginx itself costs serving LL-HLS's requests, beside what
# it costs serving hlssink2's files. With -L (ours, and the edge) the LL-HLS viewers ask for a
# part only once a playlist lists it, as hls.js 1.7.4 does; without, each hinted part before it
# is complete (written to them frame by frame as it is made).
CPU_RUNS = [("ezrtmp", []), ("ezrtmp", ["-L"]), ("ezrtmp", ["-P"]), ("edge", []),
            ("edge", ["-L"]), ("hlssink2", []), ("nginx-rtmp", []), ("srs", [])]


def cpu_run(args, key, flags, input_flv, tmp):
    """args.cpu ezrload viewers of key at its low-latency settings for args.cpu_seconds: the
    server's CPU (each of its processes) over the bytes the viewers received."""
    server = start(key, "low", args, input_flv, tmp)
    try:
        wait_segments(server.playlist, 3, 60)
        feeder = getattr(server, "feeder", None)
        pids = {pid: proc_cpu(pid) for pid in server.pids}
        feeder_cpu0 = proc_cpu(feeder.pid) if feeder else None
        t0 = time.monotonic()
        cmd = ezrload_cmd(args.build, server.playlist, args.cpu, rate=LOAD_RATE,
                          seconds=args.cpu_seconds, flags=flags)
        with open(os.path.join(tmp, "load-%s.log" % key), "w") as err:
            out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err,
                                 timeout=args.cpu_seconds + 120).stdout
        wall = time.monotonic() - t0
        cpu = {pid: proc_cpu(pid) - c0 for pid, c0 in pids.items()}
        feeder_cpu = proc_cpu(feeder.pid) - feeder_cpu0 if feeder else None
        with open(os.path.join(tmp, "load-%s.log" % key)) as f:
            load_log = f.read()[-2000:]
    finally:
        server.close()
    with open("/proc/loadavg") as f:
        loadavg = f.read().split()[:3]
    load = json.loads(out or b"{}")
    # Each viewer's own figures (1,000 rows) are not kept: the totals are what the section reads.
    load.pop("per_viewer", None)
    gb = load.get("bytes", 0) / 1e9
    total = sum(cpu.values())
    res = {"server": key, "flags": flags, "n": args.cpu, "load": load, "wall_s": round(wall, 1),
           "cpu_s": round(total, 2), "gb": round(gb, 3),
           "cpu_per_gb": round(total / gb, 2) if gb else None, "loadavg": loadavg,
           "feeder_cpu_s": None if feeder_cpu is None else round(feeder_cpu, 2),
           "load_log": load_log}
    if key in ("hlssink2", "edge"):
        nginx = cpu[server.pids[0]]
        res["nginx_cpu_s"] = round(nginx, 2)
        res["nginx_cpu_per_gb"] = round(nginx / gb, 2) if gb else None
    return res


def spread(rows, field):
    vs = sorted(r[field] for r in rows if r.get(field) is not None)
    if not vs:
        return "-"
    return "%.0f (%.0f-%.0f)" % (statistics.median(vs), vs[0], vs[-1]) if len(vs) > 1 \
        else "%.0f" % vs[0]


def write_section(args, rows, cpu_rows, when, cpu_note):
    cmd = "bench/run.sh --hls-peers --runs %d --seconds %d --servers %s" % (
        args.runs, args.seconds, args.servers)
    cmd += " --section %s" % args.section if args.section != "hls-peers" else ""
    cmd += " --settings %s" % args.settings if args.settings != "default,low" else ""
    cmd += "".join(" --ours-set %s" % s for s in args.ours_set)
    cmd += " --cpu %d --cpu-seconds %d" % (args.cpu, args.cpu_seconds) if args.cpu else ""
    cmd += " --cpu-runs %s" % args.cpu_runs if args.cpu and args.cpu_runs != "all" else ""
    versions = sorted({r["version"] for r in rows if r.get("version")})
    chromium = next((r["chromium"] for r in rows if r.get("chromium")), "?")
    begin, end = section_markers("hls_peers.py", args.section, "hls-peers", BEGIN, END)
    lines = [begin, "", "## HLS against the peers: hlssink2 + nginx, nginx-rtmp, SRS 6%s" % (
                 "" if args.section == "hls-peers" else " (%s)" % args.section), "",
             "`%s` (%s; %s; %s in headless Debian chromium; %s; SRS: %s). The same 720p30 2 Mbps "
             "snow stream with a 1 s GOP and AAC, its frame numbers drawn in "
             "(`bench/hls_stamp.py`), fed at real-time rate to each server in turn, a fresh one "
             "for every run. **Latency** is read off the picture for every server alike: "
             "`Date.now()` when the page read the frame number on screen, minus the wall time "
             "that frame entered the server's side (handed to the element, to hlssink2, or to "
             "the RTMP publisher of nginx-rtmp and SRS on loopback), --seconds after the first "
             "frame; none of the peers writes EXT-X-PROGRAM-DATE-TIME. For ours the program "
             "date-time figure (`Date.now()` minus `hls.playingDate`) is beside it, a check of "
             "the method. The player joins once the playlist lists %d segments (3 for "
             "the peers' 3-segment playlists), plus a share of "
             "a target duration that differs run by run. First frame is from the page's "
             "navigation. See `bench/hls_peers.py` for the settings; every run's data, with the "
             "players' logs, is in the JSON it writes (`--json`)."
             % (cmd, when, ", ".join(versions), chromium, machine(), args.srs_version,
                JOIN_SEGMENTS), "",
             "| server | setting | run | target s | joined after s | first frame ms | latency "
             "after %d s ms (picture) | program date-time latency ms | picture latency at 1 / 5 s "
             "ms | waiting events | frames shown (dropped) | errors, warnings | stamps unread "
             "| load 1 min |" % args.seconds,
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    if not rows:  # --runs 0: the CPU runs alone
        lines[4:] = ["`%s` (%s; %s; SRS: %s). The same 720p30 2 Mbps snow stream with a 1 s GOP "
                     "and AAC, fed at real-time rate to each server in turn, a fresh one for "
                     "every run; no latency runs." % (cmd, when, machine(), args.srs_version)]
    for r in rows:
        at = dict(r.get("stamp_ms") or [])
        q = (r.get("samples") or [{}])[-1].get("quality") or {}
        lines.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s / %s | %d | %s (%s) | %d, %d%s "
                     "| %d | %.1f |" % (
                         NAMES[r["server"]], r["setting"], r["run"], r.get("target_s", "-"),
                         r.get("joined_after_s", "-"), fmt(r.get("first_frame_ms")),
                         fmt(r.get("latency_ms")), fmt(r.get("pdt_latency_ms")), fmt(at.get(1)),
                         fmt(at.get(5)), len(r.get("waiting") or []), q.get("frames", "-"),
                         q.get("dropped", "-"), len(r.get("errors") or []),
                         len(r.get("warnings") or []),
                         "; **%s**" % r["error"] if r.get("error") else "",
                         r.get("stamp_misses", 0), r.get("loadavg_1m") or 0))
    if rows:
        lines += ["", "Medians (and range) over the runs:", "",
                  "| server | setting | latency after %d s ms | first frame ms | runs |"
                  % args.seconds, "|---|---|---|---|---|"]
    for key in SETTINGS:
        for setting in ("default", "low"):
            these = [r for r in rows if r["server"] == key and r["setting"] == setting]
            if these:
                what = SETTINGS[key][setting]["what"]
                if key in ("ezrtmp", "edge") and args.ours_set:
                    what += "; ours with " + " ".join(args.ours_set)
                lines.append("| %s | %s: %s | %s | %s | %d |" % (
                    NAMES[key], setting, what,
                    spread(these, "latency_ms"), spread(these, "first_frame_ms"), len(these)))
    lines += [""] + cpu_lines(args, cpu_rows, cpu_note)
    for v in verdict(rows, cpu_rows):
        lines += ["", v]
    lines += ["", end]
    replace_section(args.out, begin, end, lines)


def verdict(rows, cpu_rows):
    """The issue's goal against this run's figures: the lowest latency of all (medians at the
    low-latency settings), at no more CPU per GB than nginx serving hlssink2's files."""
    low = {k: med([r for r in rows if r["server"] == k and r["setting"] == "low"], "latency_ms")
           for k in SETTINGS}
    out = []
    if low.get("ezrtmp") is not None:
        peers = {k: v for k, v in low.items() if k not in ("ezrtmp", "edge") and v is not None}
        best = min(peers, key=peers.get) if peers else None
        if best:
            out.append("**Latency: %s.** At their low-latency settings (medians): ours %.0f ms; "
                       "%s. The nearest peer, %s, is %.0f ms %s." % (
                           "met" if low["ezrtmp"] < peers[best] else "missed", low["ezrtmp"],
                           ", ".join("%s %.0f ms" % (NAMES[k], v) for k, v in peers.items()),
                           NAMES[best], abs(peers[best] - low["ezrtmp"]),
                           "behind ours" if low["ezrtmp"] < peers[best] else "ahead of ours"))
            # Run by run: ours against every peer's figure of the same run.
            by_run = {}
            for r in rows:
                if r["setting"] == "low" and r.get("latency_ms") is not None \
                        and r["server"] != "edge":
                    by_run.setdefault(r["run"], {})[r["server"]] = r["latency_ms"]
            won = [n for n, d in by_run.items() if "ezrtmp" in d and len(d) > 1
                   and d["ezrtmp"] < min(v for k, v in d.items() if k != "ezrtmp")]
            out[-1] += " Ours was the lowest in %d of %d runs." % (
                len(won), sum(1 for d in by_run.values() if "ezrtmp" in d and len(d) > 1))
        if low.get("edge") is not None:
            out.append("**Behind nginx (ours through a caching edge), at hls.js:** %.0f ms (median "
                       "at the low-latency settings), %+.0f ms against ours direct." % (
                           low["edge"], low["edge"] - low["ezrtmp"]))
    ours = next((c for c in cpu_rows if c["server"] == "ezrtmp" and not c["flags"]), None)
    sink = next((c for c in cpu_rows if c["server"] == "hlssink2"), None)
    if ours and sink and ours["cpu_per_gb"] and sink["cpu_per_gb"]:
        out.append("**CPU per GB: %s.** Ours (LL-HLS) %.2f s/GB against hlssink2 + nginx %.2f "
                   "(nginx alone %s): %.2fx." % (
                       "met" if ours["cpu_per_gb"] <= sink["cpu_per_gb"] else "missed",
                       ours["cpu_per_gb"], sink["cpu_per_gb"],
                       fmt(sink["nginx_cpu_per_gb"], "%.2f"),
                       ours["cpu_per_gb"] / sink["cpu_per_gb"]))
        edge = next((c for c in cpu_rows if c["server"] == "edge" and not c["flags"]), None)
        if edge and edge["nginx_cpu_per_gb"] and sink["nginx_cpu_per_gb"]:
            out[-1] += (" nginx itself, serving the same LL-HLS viewers from its cache in front "
                        "of ours, costs %.2f s/GB: %.2fx what it costs serving hlssink2's files."
                        % (edge["nginx_cpu_per_gb"],
                           edge["nginx_cpu_per_gb"] / sink["nginx_cpu_per_gb"]))
        listed = next((c for c in cpu_rows if c["server"] == "ezrtmp" and "-L" in c["flags"]),
                      None)
        if listed and listed["cpu_per_gb"]:
            out[-1] += (" With the viewers asking for each part once listed, as hls.js does "
                        "(`-L`), ours costs %.2f s/GB: %.2fx hlssink2 + nginx." % (
                            listed["cpu_per_gb"], listed["cpu_per_gb"] / sink["cpu_per_gb"]))
            edge_l = next((c for c in cpu_rows if c["server"] == "edge" and "-L" in c["flags"]),
                          None)
            if edge_l and edge_l["nginx_cpu_per_gb"]:
                out[-1] += (" nginx in front of ours, serving those viewers, costs %.2f s/GB "
                            "(nginx alone)." % edge_l["nginx_cpu_per_gb"])
    return out


def cpu_lines(args, cpu_rows, cpu_note):
    if not cpu_rows:
        return ["CPU per GB: not measured in this run (%s)." % cpu_note]
    lines = ["CPU per GB at %d viewers of `bench/ezrload` (plain HLS against the peers: the "
             "playlist every half target duration, whole segments; against ours LL-HLS, each "
             "hinted part asked for before it is complete, or with `-L` each part once listed "
             "as hls.js does, and plain HLS with `-P`), opened at %d a second, %d s, each "
             "server at its low-latency "
             "settings:" % (args.cpu, LOAD_RATE, args.cpu_seconds), "",
             "| server | viewers (playing) | requests (errors) | GB received | server CPU s "
             "| CPU s per GB | counted | not counted: publisher CPU s | load average after |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c in cpu_rows:
        ld, name = c["load"], NAMES[c["server"]]
        if c["server"] == "hlssink2":
            counted = "nginx %.2f s (%s per GB) + the hlssink2 pipeline %.2f s" % (
                c["nginx_cpu_s"], fmt(c["nginx_cpu_per_gb"], "%.2f"), c["feeder_cpu_s"])
            apart = "-"
        elif c["server"] == "edge":
            counted = "nginx %.2f s (%s per GB) + ours behind it %.2f s" % (
                c["nginx_cpu_s"], fmt(c["nginx_cpu_per_gb"], "%.2f"), c["feeder_cpu_s"])
            apart = "-"
            if "-L" in c["flags"]:
                name += ", viewers' parts once listed (`-L`)"
        elif c["server"] == "ezrtmp":
            counted, apart = "the pipeline with the element (one process)", "-"
            name = "ours, viewers " + ("as plain HLS (`-P`)" if "-P" in c["flags"]
                                       else "as LL-HLS, parts once listed (`-L`, as hls.js)"
                                       if "-L" in c["flags"] else "as LL-HLS")
        else:
            counted, apart = "the server process", fmt(c["feeder_cpu_s"], "%.2f")
        lines.append("| %s | %s (%s) | %s (%s) | %.3f | %.2f | %s | %s | %s | %s |" % (
            name, ld.get("viewers", "-"), ld.get("playing", "-"),
            ld.get("requests", "-"), ld.get("errors", "-"), c["gb"],
            c["cpu_s"], fmt(c["cpu_per_gb"], "%.2f"), counted, apart, " ".join(c["loadavg"])))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--runs", type=int, default=2, help="runs of each server and setting")
    ap.add_argument("--seconds", type=int, default=10, help="play time from the first frame")
    ap.add_argument("--timeout", type=int, default=40, help="seconds to wait for a first frame")
    ap.add_argument("--servers", default=",".join(SETTINGS), help="of " + ", ".join(SETTINGS))
    ap.add_argument("--settings", default="default,low")
    ap.add_argument("--cpu", type=int, default=1000,
                    help="viewers of the CPU runs (0: none; skipped when ezrload plays no HLS)")
    ap.add_argument("--cpu-seconds", type=int, default=30)
    ap.add_argument("--srs-kit", default=None, metavar="DIR")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS-hls.md"))
    ap.add_argument("--section", default="hls-peers",
                    help="the name of the section of --out it writes (another keeps this one)")
    ap.add_argument("--json", default=None, help="every run's data (default BUILD/hls-peers.json)")
    ap.add_argument("--from-json", default=None,
                    help="run nothing: the section again from this JSON")
    ap.add_argument("--verbose", action="store_true",
                    help="hls.js's log and info lines too, in the JSON")
    ap.add_argument("--ours-set", action="append", default=[], metavar="PROPERTY=VALUE",
                    help="another property of ours (and of ours behind the edge); may be repeated")
    ap.add_argument("--cpu-runs", default="all",
                    help="which CPU runs: all, or SERVER[:FLAG],... (ezrtmp:-L,hlssink2)")
    args = ap.parse_args()
    servers = args.servers.split(",")
    json_path = args.json or os.path.join(args.build, "hls-peers.json")
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        saved["args"].setdefault("settings", "default,low")
        saved["args"].setdefault("ours_set", [])
        saved["args"].setdefault("cpu_runs", "all")
        vars(args).update(saved["args"])
        write_section(args, saved["rows"], saved["cpu"], saved["when"], saved["cpu_note"])
        return 0
    args.srs, args.srs_version = None, "not run"
    if "srs" in servers:
        args.srs, args.srs_version = srs_install(args.build, args.srs_kit)
        if not args.srs:
            log("SRS skipped: %s" % args.srs_version)
            servers.remove("srs")
    if not os.path.isdir(os.path.join(HLS_DIR, "node_modules", "hls.js")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HLS_DIR, check=True)
    input_flv = os.path.join(args.build, "bench-inputs", "hls-peers-stamped-%ds.flv" % INPUT_S)
    os.makedirs(os.path.dirname(input_flv), exist_ok=True)
    make_stamped_input(input_flv, INPUT_S)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows, cpu_rows = [], []
    cpu_note = "--cpu 0"
    if args.cpu and not ezrload_plays_hls(args.build):
        cpu_note = "this build's bench/ezrload plays no HLS yet"
        args.cpu = 0

    def save():
        with open(json_path, "w") as f:
            json.dump({"rows": rows, "cpu": cpu_rows, "when": when, "cpu_note": cpu_note,
                       "argv": sys.argv, "args": {k: vars(args)[k] for k in (
                           "runs", "seconds", "servers", "cpu", "cpu_seconds", "srs_version",
                           "section", "settings", "ours_set", "cpu_runs")}},
                      f, indent=1)

    pages = PageServer()
    try:
        for run in range(1, args.runs + 1):
            # The servers take turns, in another order each run.
            order = servers[(run - 1) % len(servers):] + servers[:(run - 1) % len(servers)]
            for key in order:
                for setting in args.settings.split(","):
                    log("%s, %s, run %d of %d" % (NAMES[key], setting, run, args.runs))
                    with tempfile.TemporaryDirectory() as tmp:
                        r = one_run(args, key, setting, run, input_flv, pages, tmp)
                    log("  latency %s ms (program date-time %s), first frame %s ms, waiting %d, "
                        "errors %d, stamps unread %d%s" % (
                            r["latency_ms"], r["pdt_latency_ms"], r.get("first_frame_ms"),
                            len(r.get("waiting") or []), len(r.get("errors") or []),
                            r["stamp_misses"], " ERROR " + r["error"] if r.get("error") else ""))
                    rows.append(r)
                    save()
        picked = None if args.cpu_runs == "all" else args.cpu_runs.split(",")
        for key, flags in CPU_RUNS if args.cpu else []:
            # The edge's CPU run goes with ours (sections hls-peers-cpu-4/5 were run so).
            if key not in servers and not (key == "edge" and "ezrtmp" in servers):
                continue
            if picked is not None and ":".join([key] + flags) not in picked:
                continue
            log("%s: %d ezrload viewers %s, %d s" % (NAMES[key], args.cpu, " ".join(flags),
                                                     args.cpu_seconds))
            with tempfile.TemporaryDirectory() as tmp:
                c = cpu_run(args, key, flags, input_flv, tmp)
            log("  " + json.dumps({k: v for k, v in c.items() if k not in ("load", "load_log")}))
            cpu_rows.append(c)
            save()
    finally:
        pages.close()
    write_section(args, rows, cpu_rows, when, cpu_note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
