#!/usr/bin/env python3
"""LL-HLS latency at real players: ezrtmpserversink (hls=true, http=true) serves a stream and
hls.js (lowLatencyMode; and with maxLiveSyncPlaybackRate 1.5, which lets it play faster until it
is at its target latency, where the default, 1, keeps whatever latency its start-up left) or
shaka-player (streaming.lowLatencyMode) plays it in Debian's headless
chromium, driven by puppeteer-core (bench/hls/players.mjs, bench/hls/player.html).

    bench/run.sh --hls-players [--runs 3] [--seconds 10] [--configs 720p-gop1,...]
    /usr/bin/python3 bench/hls_players.py --build build-bench [...]

Streams (CONFIGS): 720p30 2 Mbps with a 1 s and with a 4 s GOP, 1080p30 8 Mbps with a 1 s GOP;
videotestsrc pattern=snow, x264enc tune=zerolatency key-int-max=30 or 120
option-string=scenecut=0 (a keyframe exactly every GOP), audiotestsrc + avenc_aac 128 kbps,
encoded once into an FLV and served at real-time rate by bench/serve.py (sync=true), so the
frames reach the sink at the pace of a live source and the program date-time (when a segment's
first frame entered the sink) means what it means live.

Each run: a fresh server; a warm-up (WARMUP_S plus a share of the GOP that differs run by run,
so the players join at different points of it); then one player loads the page. Figures:
  first frame: from the page's navigation start to the first frame shown
               (requestVideoFrameCallback), and from the player's script loaded;
  latency:     Date.now() minus the program date-time of the playhead (hls.js: hls.playingDate;
               shaka: getPlayheadTimeAsDate()) every second from the first frame, the one after
               --seconds being the figure; the player's own estimate beside it;
  stalls:      'waiting' events after the first frame; the players' errors and warnings and
               every non-2xx response of the server, kept in the JSON (--json);
  PDT check:   a poller of the playlist beside the player (blocking reloads on the preload
               hint) notes when each part first appears; per part, that time minus the end of
               the part by its program date-time (segment PDT + earlier parts' durations + its
               own): about one frame interval when the date-time is right (a part is closed by
               the next frame), negative if the date-time is later than the truth.
It writes its section of bench/RESULTS-hls.md and every run's data to --json.
"""

import argparse
import datetime
import http.client
import http.server
import json
import math
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

from sections import replace_section
from servers import ROOT, Ezrtmp, log

HLS_DIR = os.path.join(ROOT, "bench", "hls")
FPS = 30
AUDIO_KBPS = 128
WARMUP_S = 6
CONFIGS = [
    dict(key="720p-gop1", name="720p30 2 Mbps, 1 s GOP", width=1280, height=720, kbps=2000,
         gop_s=1),
    dict(key="720p-gop4", name="720p30 2 Mbps, 4 s GOP", width=1280, height=720, kbps=2000,
         gop_s=4),
    dict(key="1080p-gop1", name="1080p30 8 Mbps, 1 s GOP", width=1920, height=1080, kbps=8000,
         gop_s=1),
]
PLAYERS = {"hlsjs": "hls.js", "hlsjs-sync": "hls.js maxLiveSyncPlaybackRate=1.5",
           "hlsjs-edge": "hls.js maxLiveSyncPlaybackRate=1.5, seek to liveSyncPosition once playing",
           "shaka": "shaka-player"}
BEGIN = "<!-- hls-players: written by bench/hls_players.py -->"
END = "<!-- /hls-players -->"
BEGIN_PROXY = "<!-- hls-players-proxy: written by bench/hls_players.py --video-first-proxy -->"
END_PROXY = "<!-- /hls-players-proxy -->"


def make_input(path, cfg, seconds):
    if os.path.exists(path):
        return
    log("encoding %s (%s, %d s)" % (path, cfg["name"], seconds))
    tmp = path + ".part"
    pipeline = (
        "flvmux name=m ! filesink location=%s "
        "videotestsrc num-buffers=%d pattern=snow ! video/x-raw,width=%d,height=%d,"
        "framerate=%d/1 ! x264enc tune=zerolatency speed-preset=ultrafast bitrate=%d "
        "key-int-max=%d option-string=scenecut=0 ! h264parse ! m. "
        "audiotestsrc num-buffers=%d samplesperbuffer=1024 volume=0.3 "
        "! audio/x-raw,rate=48000,channels=2 ! avenc_aac bitrate=%d ! aacparse ! m."
        % (tmp, seconds * FPS, cfg["width"], cfg["height"], FPS, cfg["kbps"],
           cfg["gop_s"] * FPS, math.ceil(seconds * 48000 / 1024), AUDIO_KBPS * 1000))
    subprocess.run(["gst-launch-1.0", "-q"] + pipeline.split(), check=True)
    os.rename(tmp, path)


class PageServer:
    """bench/hls (player.html, node_modules) over HTTP on loopback, in a thread."""

    def __init__(self):
        handler = lambda *a, **k: Quiet(*a, directory=HLS_DIR, **k)  # noqa: E731
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def video_first(body):
    """An fMP4 part or segment (moof + mdat pairs, one sample each) with its first video pair
    moved to the front: each pair's data offset is from its own moof, so pairs move freely."""
    boxes, off = [], 0
    while off + 8 <= len(body):
        size, typ = struct.unpack(">I4s", body[off:off + 8])
        if size < 8:
            return body
        boxes.append((typ, body[off:off + size]))
        off += size
    for i, (typ, box) in enumerate(boxes):
        # moof: mfhd (16 bytes) then traf; tfhd's track_ID at traf + 8 + 12.
        if typ == b"moof" and i + 1 < len(boxes) and boxes[i + 1][0] == b"mdat":
            track = struct.unpack(">I", box[8 + 16 + 8 + 12:8 + 16 + 8 + 16])[0]
            if track == 1:
                if i == 0:
                    return body
                return b"".join(b for _, b in boxes[i:i + 2] + boxes[:i] + boxes[i + 2:])
    return body


class VideoFirstProxy:
    """--video-first-proxy: a reverse proxy in front of the server for the player (not the PDT
    poller) that passes everything through but starts every part and segment with its first
    video fragment; what the server would send if it wrote a part's first video frame before the
    audio that arrived while that frame waited for its duration (see RESULTS-hls.md)."""

    def __init__(self, upstream_port):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                up = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                up.request("GET", self.path)
                resp = up.getresponse()
                body = resp.read()
                up.close()
                if ".m4s" in self.path.split("?")[0]:
                    body = video_first(body)
                self.send_response(resp.status)
                for k in ("Content-Type", "Cache-Control", "Access-Control-Allow-Origin"):
                    if resp.getheader(k):
                        self.send_header(k, resp.getheader(k))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


DATE = re.compile(r"#EXT-X-PROGRAM-DATE-TIME:(.*)")
PART = re.compile(r"#EXT-X-PART:DURATION=([0-9.]+),URI=\"([^\"]+)\"")
HINT = re.compile(r"#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"[^\"]*?-(\d+)\.(\d+)\.m4s\"")


def parse_date(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000


def parse_playlist(text):
    """(parts {(msn, index): (pdt_start_ms, duration_ms)}, segments {msn: (pdt_ms, duration_ms)},
    the preload hint (msn, index) or None)."""
    parts, segs = {}, {}
    msn, pdt, offset, index = None, None, 0.0, 0
    hint = None
    for line in text.splitlines():
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            msn = int(line.split(":", 1)[1])
        elif DATE.match(line):
            pdt = parse_date(DATE.match(line).group(1))
        elif PART.match(line):
            dur = float(PART.match(line).group(1)) * 1000
            if pdt is not None:
                parts[(msn, index)] = (pdt + offset, dur)
            offset += dur
            index += 1
        elif line.startswith("#EXTINF:"):
            seg_dur = float(line.split(":", 1)[1].rstrip(",")) * 1000
        elif line and not line.startswith("#"):
            segs[msn] = (pdt, seg_dur)
            msn += 1
            pdt = pdt + seg_dur if pdt is not None else None
            offset, index = 0.0, 0
        elif HINT.match(line):
            hint = (int(HINT.match(line).group(1)), int(HINT.match(line).group(2)))
    return parts, segs, hint


class PdtPoller(threading.Thread):
    """Follows the playlist by blocking reloads on each preload hint; notes when each part and
    segment first appears, and any change of a segment's date-time between reloads."""

    def __init__(self, port, path):
        super().__init__(daemon=True)
        self.port, self.path = port, path
        self.stop = threading.Event()
        self.parts, self.segs = {}, {}  # key -> (appear_ms, pdt_ms, duration_ms)
        self.pdt_changes, self.errors = [], []
        self.reloads = 0
        self.first_seen = None

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        query = ""
        while not self.stop.is_set():
            try:
                conn.request("GET", self.path + query)
                resp = conn.getresponse()
                body = resp.read().decode()
                now = time.time() * 1000
            except Exception as e:  # noqa: BLE001 - a server gone at the end ends the poll
                if not self.stop.is_set():
                    self.errors.append("%s%s: %s" % (self.path, query, e))
                return
            if resp.status != 200:
                self.errors.append("GET %s%s: %d %s" % (self.path, query, resp.status,
                                                         body[:300]))
                time.sleep(0.2)
                query = ""
                continue
            self.reloads += 1
            parts, segs, hint = parse_playlist(body)
            first = self.first_seen is None
            if first:
                self.first_seen = now
            for key, (pdt, dur) in parts.items():
                if key not in self.parts:
                    self.parts[key] = (None if first else now, pdt, dur)
            for msn, (pdt, dur) in segs.items():
                if msn not in self.segs:
                    self.segs[msn] = (None if first else now, pdt, dur)
                elif self.segs[msn][1] != pdt:
                    self.pdt_changes.append((msn, self.segs[msn][1], pdt))
            query = "?_HLS_msn=%d&_HLS_part=%d" % hint if hint else ""

    def figures(self):
        lag = sorted(appear - (pdt + dur) for appear, pdt, dur in self.parts.values()
                     if appear is not None and pdt is not None)
        # A segment's date-time against the one before plus its duration: drift of the stamps.
        msns = sorted(m for m in self.segs if self.segs[m][1] is not None)
        steps = [self.segs[b][1] - (self.segs[a][1] + self.segs[a][2])
                 for a, b in zip(msns, msns[1:]) if b == a + 1]
        return {
            "parts_seen": len(lag), "reloads": self.reloads,
            "part_listed_after_pdt_end_ms": {
                "min": round(lag[0], 1) if lag else None,
                "p50": round(statistics.median(lag), 1) if lag else None,
                "max": round(lag[-1], 1) if lag else None},
            "segment_pdt_step_error_ms": {
                "min": round(min(steps), 1) if steps else None,
                "max": round(max(steps), 1) if steps else None},
            "pdt_changes": self.pdt_changes[:10], "errors": self.errors[:10],
            "first_playlist_ms": self.first_seen,
            # (msn, index, first listed, PDT start, duration) of every part, for timelines.
            "parts": sorted((k[0], k[1], v[0], v[1], v[2]) for k, v in self.parts.items()),
        }


def kill_group(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def play(args, page_url, tmp):
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp)
    cmd = ["node", os.path.join(HLS_DIR, "players.mjs"), page_url, "--seconds",
           str(args.seconds), "--timeout", str(args.timeout), "--user-data-dir", profile]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=args.timeout + args.seconds + 60)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        return {"error": "players.mjs did not finish"}
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    try:
        return json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": "players.mjs: %s" % err.decode()[-500:]}


def one_run(args, cfg, player, run, input_flv, pages, tmp):
    props = ["http=true", "hls=true", "hls-part-target=%d" % args.part_target] + args.set
    server = Ezrtmp(args.build, input_flv, tmp, props)
    path = "/live/stream/index.m3u8"
    poller = proxy = None
    try:
        # Join at a different point of the GOP run by run.
        warm = WARMUP_S + cfg["gop_s"] * ((run - 1) % args.runs) / args.runs
        time.sleep(warm)
        poller = PdtPoller(server.port, path)
        poller.start()
        port = server.port
        if args.video_first_proxy:
            proxy = VideoFirstProxy(server.port)
            port = proxy.port
        src = "http://127.0.0.1:%d%s" % (port, path)
        page = "http://127.0.0.1:%d/player.html?player=%s&src=%s%s" % (
            pages.port, player, src, "&verbose=1" if args.verbose else "")
        res = play(args, page, tmp)
    finally:
        if poller:
            poller.stop.set()
        if proxy:
            proxy.close()
        stats = server.close()
    res["pdt"] = poller.figures() if poller else None
    with open("/proc/loadavg") as f:
        res["loadavg_1m"] = float(f.read().split()[0])
    res["warmup_s"] = round(warm, 2)
    res["server_error"] = stats.get("error")
    res.update(config=cfg["key"], player=player, run=run)
    last = res["samples"][-1] if res.get("samples") else None
    res["latency_ms"] = last["latency"]["ms"] if last and last["latency"] else None
    res["own_latency_ms"] = last["latency"]["own_ms"] if last and last["latency"] else None
    res["from_script_ms"] = (res["first_frame_ms"] - res["script_loaded_ms"]
                             if res.get("first_frame_ms") is not None
                             and res.get("script_loaded_ms") is not None else None)
    return res


def fmt(v, spec="%.0f"):
    return "-" if v is None else spec % v


def med(rows, key):
    vs = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vs) if vs else None


def first_media_ms(r):
    """When the first part or segment had arrived, ms from the page's navigation (players.mjs
    starts its clock just before it navigates): the server's and the network's share of the
    time to the first frame; the rest is the browser's."""
    done = [x[0] for x in r.get("requests") or []
            if len(x) > 2 and x[1].startswith(("part-", "seg-"))]
    return min(done) if done else None


def write_section(args, rows, when):
    begin, end = (BEGIN_PROXY, END_PROXY) if args.video_first_proxy else (BEGIN, END)
    cmd = "bench/run.sh --hls-players --runs %d --seconds %d --configs %s --players %s" % (
        args.runs, args.seconds, args.configs, args.players)
    if args.set:
        cmd += "".join(" --set " + s for s in args.set)
    if args.video_first_proxy:
        cmd += " --video-first-proxy"
    versions = sorted({r["version"] for r in rows if r.get("version")})
    chromium = next((r["chromium"] for r in rows if r.get("chromium")), "?")
    title = ("## shaka-player through --video-first-proxy (a diagnosis)" if args.video_first_proxy
             else "## LL-HLS at real players")
    lines = [begin, "", title, "",
             "`%s` (%s; %s; %s in headless Debian chromium, puppeteer-core; `hls-part-target=%d`, "
             "the other HLS properties at their defaults). See `bench/hls_players.py` for what "
             "each figure is; the data of every run, with the players' logs, is in the JSON it "
             "writes (`--json`)." % (cmd, when, ", ".join(versions), chromium, args.part_target),
             "",
             "| stream | player | run | joined after s | first frame ms (from script; first part "
             "in) "
             "| latency after %d s ms (player's own) | latency at 1 / 5 s ms | waiting events "
             "| frames shown in %d s (dropped), buffered ranges | errors, warnings | part listed after its PDT end ms "
             "(min / p50 / max, parts) | segment PDT step error ms | load 1 min |"
             % (args.seconds, args.seconds),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        samples = r.get("samples") or []
        at = {s["t"]: s["latency"]["ms"] if s.get("latency") else None for s in samples}
        q = samples[-1]["quality"] if samples else {}
        p = r.get("pdt") or {}
        pl = p.get("part_listed_after_pdt_end_ms") or {}
        ps = p.get("segment_pdt_step_error_ms") or {}
        lines.append(
            "| %s | %s | %d | %.1f | %s (%s; %s) | %s (%s) | %s / %s | %d | %s (%s), %s | %d, %d%s "
            "| %s / %s / %s (%s) | %s .. %s | %s |" % (
                r["config"], PLAYERS[r["player"]], r["run"], r["warmup_s"],
                fmt(r.get("first_frame_ms")), fmt(r.get("from_script_ms")),
                fmt(first_media_ms(r)),
                fmt(r.get("latency_ms")), fmt(r.get("own_latency_ms")),
                fmt(at.get(1)), fmt(at.get(5)), len(r.get("waiting") or []),
                q.get("frames", "-"),
                q.get("dropped", "-"), len(q.get("ranges") or []) if q else "-",
                len(r.get("errors") or []),
                len(r.get("warnings") or []), "; **%s**" % r["error"] if r.get("error") else "",
                fmt(pl.get("min"), "%.1f"), fmt(pl.get("p50"), "%.1f"),
                fmt(pl.get("max"), "%.1f"), p.get("parts_seen", "-"),
                fmt(ps.get("min"), "%.1f"), fmt(ps.get("max"), "%.1f"),
                fmt(r.get("loadavg_1m"), "%.1f")))
    lines += ["", "Medians over the runs:", "",
              "| stream | player | latency after %d s ms | first frame ms | runs |"
              % args.seconds, "|---|---|---|---|---|"]
    for cfg in dict.fromkeys(r["config"] for r in rows):
        for player in dict.fromkeys(r["player"] for r in rows):
            these = [r for r in rows if r["config"] == cfg and r["player"] == player]
            if these:
                lines.append("| %s | %s | %s | %s | %d |" % (
                    cfg, PLAYERS[player], fmt(med(these, "latency_ms")),
                    fmt(med(these, "first_frame_ms")), len(these)))
    lines += ["", end]
    replace_section(args.out, begin, end, lines)
    log("wrote a section of %s" % args.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--runs", type=int, default=3, help="runs of each stream and player")
    ap.add_argument("--seconds", type=int, default=10, help="play time from the first frame")
    ap.add_argument("--timeout", type=int, default=30, help="seconds to wait for a first frame")
    ap.add_argument("--configs", default=",".join(c["key"] for c in CONFIGS))
    ap.add_argument("--players", default="hlsjs,hlsjs-sync,shaka",
                    help="of " + ", ".join(PLAYERS))
    ap.add_argument("--part-target", type=int, default=200, help="hls-part-target, ms")
    ap.add_argument("--set", action="append", default=[], metavar="PROPERTY=VALUE",
                    help="another property of the sink; may be repeated")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS-hls.md"))
    ap.add_argument("--json", default=None,
                    help="every run's data (default BUILD/hls-players.json)")
    ap.add_argument("--video-first-proxy", action="store_true",
                    help="the players through VideoFirstProxy (a diagnosis, not a benchmark)")
    ap.add_argument("--verbose", action="store_true",
                    help="hls.js's log and info lines too, in the JSON")
    ap.add_argument("--from-json", default=None,
                    help="run nothing: the section again from this JSON")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        write_section(args, saved["rows"], saved["when"])
        return 0
    if not os.path.isdir(os.path.join(HLS_DIR, "node_modules", "hls.js")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HLS_DIR, check=True)
    cache = os.path.join(args.build, "bench-inputs")
    os.makedirs(cache, exist_ok=True)
    configs = [c for c in CONFIGS if c["key"] in args.configs.split(",")]
    secs = WARMUP_S + 4 + args.timeout + args.seconds + 20
    inputs = {}
    for cfg in configs:
        inputs[cfg["key"]] = os.path.join(cache, "hls-%s-%ds.flv" % (cfg["key"], secs))
        make_input(inputs[cfg["key"]], cfg, secs)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    pages = PageServer()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for cfg in configs:
                for run in range(1, args.runs + 1):
                    for player in args.players.split(","):
                        log("%s, %s, run %d of %d" % (cfg["name"], PLAYERS[player], run,
                                                      args.runs))
                        r = one_run(args, cfg, player, run, inputs[cfg["key"]], pages, tmp)
                        log("  latency %s ms (own %s), first frame %s ms, waiting %d, errors %d, "
                            "warnings %d, pdt %s%s" % (
                                r["latency_ms"], r["own_latency_ms"], r.get("first_frame_ms"),
                                len(r.get("waiting") or []), len(r.get("errors") or []),
                                len(r.get("warnings") or []),
                                json.dumps((r["pdt"] or {}).get("part_listed_after_pdt_end_ms")),
                                " ERROR " + r["error"] if r.get("error") else ""))
                        rows.append(r)
                        with open(args.json or os.path.join(args.build, "hls-players.json"),
                                  "w") as f:
                            json.dump({"rows": rows, "when": when, "argv": sys.argv}, f, indent=1)
    finally:
        pages.close()
    write_section(args, rows, when)
    return 0


if __name__ == "__main__":
    sys.exit(main())
