"""The sections of RESULTS.md that runs of their own write: --tls (RTMPS against plain RTMP on
one port) and --http (HTTP-FLV and RTMP players at once on one server)."""

import json
import os
import subprocess
import tempfile

from inputs import FPS
from measure import load_together, machine, serve_and_load
from rows import fmt
from servers import Ezrtmp, log


def make_cert(tmp):
    """A throwaway self-signed certificate for 127.0.0.1 (ezrload does not verify it)."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


TLS_BEGIN = "<!-- tls: written by bench/run.py --tls; the rest of this file by a full run -->"
TLS_END = "<!-- /tls -->"


def tls_comparison(args, input_flv):
    """N RTMPS players, then N plain RTMP players, each against a fresh server with a certificate
    (the same port configuration both times), same 1 Mbps input: CPU per GB and memory per
    player of TLS against plain. Replaces only the TLS section of RESULTS.md."""
    n = args.tls
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_cert(tmp)
        props = args.set + ["tls-certificate=" + cert, "tls-key=" + key]
        for kind in ("rtmps", "rtmp"):
            log("TLS comparison: %d %s players, 1000 kbps" % (n, kind))
            server = Ezrtmp(args.build, input_flv, tmp, props)
            server.url = server.url.replace("rtmp://", kind + "://")
            r = serve_and_load(args, server, n, tmp)
            r["kind"] = kind
            log("  " + json.dumps({k: v for k, v in r.items() if k != "load"}))
            rows.append(r)
    with open(os.path.join(args.out, "results-tls.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open("/proc/loadavg") as f:
        loadavg = f.read().split()[:3]
    lines = [TLS_BEGIN, "", "## TLS: RTMPS against plain RTMP", "",
             "`bench/run.sh --tls %d` (%s; load average at the end %s): %d players of a 1 Mbps "
             "stream for %d s after the last joined, first over TLS (rtmps://, `ezrload -t`, "
             "OpenSSL on both sides, TLS 1.3 with its default suites), then plain "
             "rtmp://, each against a fresh server with the same certificate configured. "
             "Kernel TLS was not used: this kernel offers no `tls` ULP."
             % (n, machine(), " ".join(loadavg), n, args.seconds), "",
             "| players | playing | dropped | GB sent | server CPU s | CPU s per GB | "
             "memory per player KB | TTFK p50 / p99 ms | video lag p99 ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ld = r["load"]
        lines.append("| %d %s | %d | %d | %.2f | %.2f | %s | %.1f | %s / %s | %s |" % (
            n, r["kind"], ld["playing"], ld["dropped"], r["gb"], r["cpu_s"],
            fmt(r["cpu_per_gb"], "%.2f"), r["rss_per_player_kb"], fmt(ld["ttfk_ms"]["p50"]),
            fmt(ld["ttfk_ms"]["p99"]), fmt((ld.get("lag_ms") or {}).get("p99"))))
    tls_r, plain_r = rows
    if tls_r["cpu_per_gb"] and plain_r["cpu_per_gb"]:
        lines += ["", "TLS costs %.1fx the CPU per GB of plain RTMP and %.1f KB more memory per "
                  "player." % (tls_r["cpu_per_gb"] / plain_r["cpu_per_gb"],
                               tls_r["rss_per_player_kb"] - plain_r["rss_per_player_kb"])]
    lines += ["", TLS_END]
    replace_section(os.path.join(args.out, "RESULTS.md"), TLS_BEGIN, TLS_END, lines)
    return 0


def section_markers(script, section, default, begin, end):
    """The begin and end markers of the section a script writes: its usual ones (begin, end) for
    its default section name, else ones of their own for `--section NAME`, so that a named run
    keeps the usual section and those of other names."""
    if section == default:
        return begin, end
    return ("<!-- %s: written by bench/%s --section %s -->" % (section, script, section),
            "<!-- /%s -->" % section)


def replace_section(path, begin, end, lines):
    """Puts lines (from the begin marker to the end marker) in place of that section of the
    file, or at its end when it has none; the rest of the file is kept."""
    section = "\n".join(lines) + "\n"
    text = open(path).read() if os.path.exists(path) else ""
    if begin in text and end in text:
        a = text.index(begin)
        b = text.index(end) + len(end) + 1
        text = text[:a] + section + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)
    log("wrote a section of %s" % path)


HTTP_BEGIN = "<!-- http: written by bench/run.py --http; the rest of this file by a full run -->"
HTTP_END = "<!-- /http -->"


def http_comparison(args, input_flv):
    """N HTTP-FLV players and N RTMP players at the same time (two ezrload processes started
    together) against one server with http=true, same 1 Mbps input: per protocol players playing,
    time to first keyframe and video lag; CPU per GB of the server over both. Replaces only the
    HTTP section of RESULTS.md."""
    n = args.http
    with tempfile.TemporaryDirectory() as tmp:
        log("HTTP-FLV beside RTMP: %d + %d players, 1000 kbps" % (n, n))
        server = Ezrtmp(args.build, input_flv, tmp, args.set + ["http=true"])
        http_url = "http://127.0.0.1:%d/live/stream.flv" % server.port
        try:
            run = load_together(args.build, server, [http_url, server.url], n, args.seconds, tmp)
        finally:
            stats = server.close()
        if stats and stats.get("error"):
            raise RuntimeError("ezrtmp pipeline: %s" % stats["error"])
    with open("/proc/loadavg") as f:
        run["loadavg"] = f.read().split()[:3]
    run["protocols"] = ["http-flv", "rtmp"]
    total_gb = sum(ld["bytes"] for ld in run["loads"]) / 1e9
    run["gb"] = round(total_gb, 3)
    run["cpu_per_gb"] = round(run["cpu_s"] / total_gb, 2) if total_gb else None
    # Both processes' lags on one baseline: the best-served video frame of either protocol
    # (their clocks are the same CLOCK_MONOTONIC).
    bases = [(ld.get("lag_ms") or {}).get("base_ms") for ld in run["loads"]]
    common = min((b for b in bases if b is not None), default=None)
    for ld, b in zip(run["loads"], bases):
        lag = ld.get("lag_ms") or {}
        shift = b - common if b is not None else None
        ld["lag_common_ms"] = {k: None if lag.get(k) is None else round(lag[k] + shift, 1)
                               for k in ("p50", "p99", "max")}
    log("  " + json.dumps({k: v for k, v in run.items() if k != "loads"}))
    with open(os.path.join(args.out, "results-http.json"), "w") as f:
        json.dump(run, f, indent=1)

    lines = [HTTP_BEGIN, "", "## HTTP-FLV beside RTMP", "",
             "`bench/run.sh --http %d --seconds %d` (%s; load average at the end %s): one "
             "server with `http=true` serving the 1 Mbps stream of the table above; %d HTTP-FLV "
             "players (`ezrload http://127.0.0.1:PORT/live/stream.flv`: GET, the response head, "
             "then the FLV header and tags) and %d RTMP players (`ezrload rtmp://...`), two "
             "ezrload processes started together, each opening its players at 2,000/s and "
             "playing %d s after its last one started. TTFK and video lag as above; the lag of "
             "both protocols is relative to the best-served video frame of either (the two "
             "processes share the machine's monotonic clock), so the rows compare. Video frames "
             "missing: after a player's first keyframe, each video timestamp step of k frame "
             "durations (%d fps) counts k - 1."
             % (n, args.seconds, machine(), " ".join(run["loadavg"]), n, n, args.seconds, FPS),
             "",
             "| protocol | playing | dropped | got keyframe | GB received | TTFK p50 / p99 ms "
             "| video lag p50 / p99 ms | video frames missing (players) | load client CPU s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for proto, ld in zip(run["protocols"], run["loads"]):
        lag = ld["lag_common_ms"]
        lines.append("| %s | %d / %d | %d | %d | %.3f | %s / %s | %s / %s | %d (%d) | %.2f |" % (
            proto, ld["playing"], ld["players"], ld["dropped"], ld["got_keyframe"],
            ld["bytes"] / 1e9, fmt(ld["ttfk_ms"]["p50"]), fmt(ld["ttfk_ms"]["p99"]),
            fmt(lag["p50"]), fmt(lag["p99"]), ld["video_missing"], ld["players_missing"],
            ld["client_cpu_s"]))
    lines += ["",
              "Server (one process for both protocols): CPU %.2f s (%d%% of a core; reactor "
              "thread %.2f s) over %.1f s, %.3f GB sent in all: **%s CPU s per GB, the total** "
              "(server CPU over the run divided by the bytes both protocols received; the "
              "server's CPU cannot be told apart by protocol, and split by bytes it would give "
              "both the same figure). RSS %.1f → %.1f MB, %.2f KB per player over all %d."
              % (run["cpu_s"], round(100 * run["cpu_s"] / run["wall_s"]), run["reactor_cpu_s"],
                 run["wall_s"], total_gb, fmt(run["cpu_per_gb"], "%.2f"), run["rss0_mb"],
                 run["rss_max_mb"], run["rss_per_player_kb"], 2 * n),
              "", HTTP_END]
    replace_section(os.path.join(args.out, "RESULTS.md"), HTTP_BEGIN, HTTP_END, lines)
    return 0
