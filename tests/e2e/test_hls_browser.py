"""Low-Latency HLS in a browser: Debian's headless chromium opens examples/web's page (another
origin than the stream: CORS) playing http://127.0.0.1:PORT/live/stream/index.m3u8 with hls.js
(lowLatencyMode) or shaka-player (streaming.lowLatencyMode), for 10 s from its first frame.

Measured and printed: the time from the start of the page's navigation to its first presented
frame; how far behind live the picture is after 10 s of play (Date.now() minus the player's
program date time of the playhead: hls.js's playingDate, shaka's getPlayheadTimeAsDate()); and,
from hlsclient.py following the playlist with blocking reloads alongside, when each part first
showed up in a playlist against its program date time (the wall-clock time its first frame
entered the sink): the server's share of the latency.

Asserted is what holds on a loaded 2-core machine: the page plays (30 more frames in 10 s), the
latency is reported and under 3 s plus a GOP's length (a player starts at an independent part),
the first frame comes within 15 s of the page's start, no segment's first part is listed before
its first frame entered the sink, and parts are listed within 1 s of their end. The issue's
targets (1.0 s behind live with a 1 s GOP and 200 ms parts, first frame within 1.5 s) are
printed against the figures, not asserted.

Run as: test_hls_browser.py NAME [--gop FRAMES] [--size 720p|1080p] [--trace]
  hls_hlsjs_latency   hls.js
  hls_shaka_latency   shaka-player
  --gop 120 (4 s at 30 fps; default 30, 1 s), --size 1080p (1920x1080 at 8 Mbps; default
  720p: 1280x720 at 2 Mbps): the other measurements of the issue; --trace: the page's
  requests until its first frame with their times, then what it sampled every 250 ms."""

import json
import os
import signal
import statistics
import sys
import urllib.parse

from ezrtest import Server, alone, check, fail, run_named_test, wait_for
from hlsclient import HlsViewer, fetch
from test_browser import BROWSER_DIR, WEB_DIR, PageServer, run_browser_script
from test_hls import GROUP, hls_server, renditions_pipeline, url, wait_playlist

PLAY_SECONDS = 10
MAX_LATENCY = 3.0       # s behind live after 10 s of play, plus a GOP's length
MAX_FIRST_FRAME = 15.0  # s from the page's navigation start
TARGET_LATENCY = 1.0    # the issue's, printed only
TARGET_FIRST_FRAME = 1.5
# A part is complete when the frame after its last arrives: listed a frame (33 ms) after its end
# on an idle machine. A second is far beyond what a server that lists parts as they are made
# needs on a loaded one.
MAX_PUBLISH_DELAY = 1.0


def option(name, default):
    args = sys.argv[2:]
    return args[args.index(name) + 1] if name in args else default


def stream_config():
    gop = int(option("--gop", "30"))
    size = option("--size", "720p")
    check(size in ("720p", "1080p"), "--size is 720p or 1080p")
    kw = dict(width=1280, height=720, kbps=2000) if size == "720p" else \
        dict(width=1920, height=1080, kbps=8000)
    return gop, size, kw


@alone("the latency behind live and the first frame")
def test_hls_hlsjs_latency():
    play("hlsjs")


@alone("the latency behind live and the first frame")
def test_hls_shaka_latency():
    play("shaka")


def play(player):
    for d, what in ((os.path.join(WEB_DIR, "node_modules", "hls.js"), "hls.js"),
                    (os.path.join(WEB_DIR, "node_modules", "shaka-player"), "shaka-player"),
                    (os.path.join(BROWSER_DIR, "node_modules", "puppeteer-core"),
                     "puppeteer-core")):
        check(os.path.isdir(d), "%s is not installed (%s missing): run "
              "scripts/install-deps.sh --test" % (what, d))
    gop, size, kw = stream_config()
    with PageServer() as page, hls_server(gop=gop, **kw) as s:
        # A stream that has run a while, as a viewer finds it: two complete segments.
        wait_playlist(s, segments=2)
        follower = HlsViewer(s.port, fetch_parts=False)
        follower.start()
        try:
            stream = url(s)
            page_url = "http://127.0.0.1:%d/index.html?src=%s&player=%s" % (
                page.port, urllib.parse.quote(stream, safe=""), player)
            rc, out = run_browser_script("hls.mjs", [page_url, "--seconds", str(PLAY_SECONDS)],
                                         60)
        finally:
            follower.close()
        s.check_no_error()
    result = None
    for line in out.splitlines():
        if line.startswith("{"):
            result = json.loads(line)
    check(result is not None, "hls.mjs printed no result:\n%s" % out)
    for line in result["log"][-30:]:
        print("  page: " + line)
    if "--trace" in sys.argv[2:]:
        for r in result.get("requests", []):
            print("  %6d ms %-5s %s" % tuple(r))
        for x in result["samples"]:
            print("  %5.2f s %-10s frames %4d dropped %3d behind live %s at %.2f buffered %s "
                  "rate %s" % (x["t"], x["status"], x["frames"], x["dropped"],
                               "-" if x["latency"] is None else "%.2f" % x["latency"],
                               x["time"], x["ranges"], x["rate"]))
    played = rc == 0 and result["ok"]
    if not played and result.get("firstFrameMs") is None:
        fail("the page did not play %s with %s: %s" % (stream, player, result.get("error")))
    check(follower.error is None, "the playlist follower failed: %r" % follower.error)

    # The server's share: each part's first listing against its program date time.
    # The program date time is when a segment's first frame entered the sink; a later part's
    # is the segment's plus the media time before it, which frames that come late and in a
    # burst (a busy machine) reach sooner than the clock does: only a segment's first part is
    # held to never being listed before its date.
    listed = [(follower.appeared[u] - pdt, follower.appeared[u] - pdt - d, index)
              for u, (pdt, d, index) in follower.pdts.items()
              if u in follower.appeared and u not in follower.initial]
    check(len(listed) >= 20, "the follower saw %d parts with a program date time" % len(listed))
    firsts = [a for a, _, index in listed if index == 0]
    check(firsts, "the follower saw no segment start")
    early = min(firsts)
    check(early >= -0.05, "a segment's first part was listed %.3f s before its first frame "
          "entered the sink (its program date time)" % -early)
    after_end = sorted(b for _, b, _ in listed)
    median_after_end = statistics.median(after_end)
    check(median_after_end < MAX_PUBLISH_DELAY, "parts were listed a median %.3f s after their "
          "end" % median_after_end)

    drift = follower.pdt_drift()
    worst = max(drift, key=lambda x: abs(x[1])) if drift else (None, 0.0)
    print("program date times against EXTINF over %d segments: worst %+.3f s (segment %s)" % (
        len(drift), worst[1], worst[0]), flush=True)

    latencies = [x["latency"] for x in result["samples"] if x["latency"] is not None]
    check(latencies, "the player reported no program date time of its playhead")
    latency = latencies[-1]
    first = result["firstFrameMs"] / 1000
    frames = result.get("framesPlayed", 0)
    # Printed before they are judged: a rerun with --gop or --size measures even what fails.
    print("%s %s GOP %d frames: %s, first frame %.2f s after navigation start (target %.1f: %s); "
          "%.2f s behind live after %d s (target %.1f: %s; min %.2f, median %.2f, max %.2f over "
          "the %d s); %d frames played, %d dropped; parts listed %.3f s (median; max %.3f) "
          "after their end, %d parts; chromium started in %.1f s" % (
              player, size, gop, result.get("size"), first, TARGET_FIRST_FRAME,
              "met" if first <= TARGET_FIRST_FRAME else "missed", latency, PLAY_SECONDS,
              TARGET_LATENCY, "met" if latency <= TARGET_LATENCY else "missed",
              min(latencies), statistics.median(latencies), max(latencies), PLAY_SECONDS,
              frames, result.get("dropped", -1), median_after_end, after_end[-1],
              len(listed), result["startedMs"] / 1000), flush=True)
    print("RESULT " + json.dumps({
        "player": player, "size": size, "gop": gop, "first_frame_s": round(first, 3),
        "latency_s": round(latency, 3), "latency_median_s": round(statistics.median(latencies),
                                                                  3),
        "part_listed_after_end_median_s": round(median_after_end, 3),
        "pdt_drift_worst_s": round(worst[1], 3),
        "frames": frames, "dropped": result.get("dropped"), "played": played}), flush=True)
    check(played, "the page did not play %s with %s: %s" % (stream, player,
                                                            result.get("error")))
    # A player starts at an independent part, so a GOP's length more may be behind at first.
    bound = MAX_LATENCY + gop / 30.0
    check(0 < latency < bound, "%.2f s behind live after %d s of play, expected under %.1f" % (
        latency, PLAY_SECONDS, bound))
    check(first < MAX_FIRST_FRAME, "first frame %.2f s after the page's start" % first)


def renditions(mode, extra=()):
    """hls.js plays the 720p/360p group of test_hls.renditions_pipeline and switches (--mode of
    tests/browser/renditions.mjs); returns its result, the levels checked."""
    with PageServer() as page, Server(pipeline=renditions_pipeline(), one_port=True) as s:
        for key in ("hi", "lo"):
            wait_for(lambda: fetch(s.port, "/live/%s/index.m3u8" % key).status == 200, 20,
                     "the %s rendition's playlist" % key)
        page_url = "http://127.0.0.1:%d/index.html?src=%s" % (
            page.port, urllib.parse.quote(url(s, GROUP), safe=""))
        rc, out = run_browser_script("renditions.mjs", [page_url, "--mode", mode] + list(extra),
                                     60)
        s.check_no_error()
    result = None
    for line in out.splitlines():
        if line.startswith("{"):
            result = json.loads(line)
    check(result is not None, "renditions.mjs printed no result:\n%s" % out)
    for line in result["log"][-20:]:
        print("  page: " + line)
    for x in result["samples"]:
        print("  %5.2f s level %s height %s frames %d time %.2f estimate %s" % tuple(x))
    rec = result.get("rec") or {}
    print("levels %r; chromium and the first frame %.1f s; asked %r; switched %r; stalls %r; "
          "errors %r" % (result.get("levels"), result.get("firstFrameAfter", -1),
                         result.get("asked"), rec.get("switched"), result.get("stalls"),
                         rec.get("errors")), flush=True)
    check(rc == 0 and result["ok"], "renditions.mjs (%s): %s" % (mode, result.get("error")))
    check(sorted((w, h) for w, h, _ in result["levels"]) == [(640, 360), (1280, 720)],
          "hls.js read the levels %r" % result["levels"])
    return result


@alone("no stall of the playhead; hls.js measures the bandwidth")
def test_hls_renditions_hlsjs_switch_when_told():
    """hls.js plays the group and switches when told, immediately (currentLevel, away from the
    level it plays) and smoothly (nextLevel, back): no fatal error, the playhead never still
    for half a second, and no error at all around the smooth switch. An immediate switch drops
    the buffer by design: hls.js then reports its own abort of the old level's loads
    ("aborted") and may report the refill ("bufferStalledError", "bufferSeekOverHole"), which
    it recovers from by itself; they are printed, not failed."""
    r = renditions("switch", ["--seconds", "2"])
    rec = r["rec"]
    fatal = [e for e in rec["errors"] if e[3]]
    check(not fatal, "hls.js fatal errors: %r" % fatal)
    smooth_from = r["asked"][1]["at"] * 1000
    after = [e for e in rec["errors"] if e[0] >= smooth_from and e[2] != "aborted"]
    check(not after, "hls.js errors after the smooth switch: %r" % after)
    asked_from = r["asked"][0]["at"] * 1000
    check([lvl for t, lvl in rec["switched"] if t >= asked_from][:2] == [r["first"], r["second"]],
          "LEVEL_SWITCHED: %r" % rec["switched"])
    # From the first switch asked on (hls.js's own start, switching up by itself, is not ours).
    stalls = [x for x in r["stalls"] if x[0] + x[1] >= r["asked"][0]["at"]]
    check(not stalls, "the playhead stood still (at s, for s): %r" % stalls)


@alone("hls.js measures the bandwidth to switch")
def test_hls_renditions_hlsjs_abr_switches_down_when_throttled():
    """Automatic level selection: hls.js plays 720p, on automatic selection it stays there
    unthrottled for 2 s (the control: it measures the link, not the stream), then with the
    page's network throttled to 1.2 Mbit/s (720p snow is about 2.4, 360p about 0.9) it switches
    down to 360p by itself, with no fatal error."""
    r = renditions("abr", ["--kbps", "1200", "--seconds", "2"])
    rec = r["rec"]
    print("before the throttle: level %s, estimate %s bit/s; switched down %.1f s after it" % (
        r.get("levelBeforeThrottle"), r.get("estimateBeforeThrottle"),
        r["asked"][1].get("seenAfter", -1)), flush=True)
    check(r.get("levelBeforeThrottle") == r["high"],
          "on automatic selection unthrottled hls.js left the highest level (estimate %s)" %
          r.get("estimateBeforeThrottle"))
    fatal = [e for e in rec["errors"] if e[3]]
    check(not fatal, "hls.js fatal errors: %r" % fatal)
    check(rec["switched"] and rec["switched"][-1][1] == r["low"],
          "LEVEL_SWITCHED: %r" % rec["switched"])


if __name__ == "__main__":
    # meson ends a test that runs too long with SIGTERM: unwind, so that every "finally" stops
    # what it started (browser, page server, pipeline).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("FAIL: stopped by SIGTERM"))
    run_named_test(globals())
