"""Browsers play the pipeline: Debian's headless chromium opens examples/web's page from one
origin (127.0.0.1:PAGE_PORT) and plays the element's stream from another (127.0.0.1:PORT, the
RTMP port), so the browser enforces CORS; the page's <video> must decode 30 more frames within
the deadline while an RTMP player on the same port keeps receiving video.

Run as: test_browser.py browser_http_flv | browser_ws_flv [--stand-in]
  browser_http_flv  http://127.0.0.1:PORT/live/stream.flv (HTTP-FLV)
  browser_ws_flv    ws://127.0.0.1:PORT/live/stream.flv (WebSocket-FLV, binary messages)
  --stand-in        play flvrelay.py (an RTMP-to-FLV relay of the pipeline) instead of the
                    element's own HTTP-FLV; for developing the page and the test without it."""

import functools
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from ezrtest import PLAYER_ENV, Gst, Server, check, run_named_test
from flvrelay import FlvRelay
from rtmpclient import RtmpClient

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WEB_DIR = os.path.join(SOURCE_ROOT, "examples", "web")
BROWSER_DIR = os.path.join(SOURCE_ROOT, "tests", "browser")
NODE = os.environ.get("EZRTMP_NODE", "/usr/bin/node")
CHROMIUM = os.environ.get("EZRTMP_CHROMIUM", "/usr/bin/chromium")

# Frames the page must decode once playing, and how long it may take from the browser's start:
# 30 frames is one second of the 30 fps test stream; starting chromium on a busy 2-core machine
# has been seen to take several seconds, so the deadline is generous.
MIN_FRAMES = 30
BROWSER_TIMEOUT = 60


# ezrtest's pipeline with the H.264 profile pinned: Media Source Extensions in every browser
# take main (and baseline), which the page's README promises.
BROWSER_PIPELINE = (
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate=500 "
    "! video/x-h264,profile=main ! h264parse ! flvmux name=mux streamable=true "
    "! ezrtmpserversink name=sink host=127.0.0.1 port=0 "
    "audiotestsrc is-live=true ! audio/x-raw,rate=44100,channels=2 "
    "! avenc_aac ! aacparse ! mux.")


class BrowserServer(Server):
    """ezrtest.Server (start, stop, port, stats) running BROWSER_PIPELINE."""

    def __init__(self):
        self.pipeline = Gst.parse_launch(BROWSER_PIPELINE)
        self.sink = self.pipeline.get_by_name("sink")
        self.bus = self.pipeline.get_bus()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class PageServer:
    """examples/web over HTTP on 127.0.0.1, port 0, in a thread of this process."""

    def __init__(self):
        handler = functools.partial(QuietHandler, directory=WEB_DIR)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class RtmpWatcher(threading.Thread):
    """An RTMP player of the same port, counting the video messages it receives."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.client = RtmpClient("127.0.0.1", port)
        self.client.start_play("live", "stream")
        self.frames = 0
        self.frames_at_start = 0
        self.error = None
        self.stop = False

    def run(self):
        try:
            while not self.stop:
                if self.client.read_message(10).type == 9:
                    self.frames += 1
        except Exception as e:  # reported by the main thread
            if not self.stop:
                self.error = e

    def close(self):
        self.stop = True
        try:
            # Wakes the thread's blocking recv; close alone would leave it waiting.
            self.client.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.client.close()
        self.join(5)


def kill_processes_using(profile):
    """SIGKILLs every process whose command line names this browser profile directory: the
    chromium processes of one run, whatever happened to the node script that started them."""
    needle = ("--user-data-dir=" + profile).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                if needle not in f.read():
                    continue
            os.kill(int(entry), signal.SIGKILL)
        except OSError:  # gone meanwhile, or not ours to read
            pass


def play_in_browser(page_url):
    """Runs tests/browser/play.mjs; returns (exit code, its output)."""
    return run_browser_script("play.mjs", [page_url, "--min-frames", str(MIN_FRAMES)],
                              BROWSER_TIMEOUT)


def run_browser_script(script, args, timeout):
    """Runs a script of tests/browser with chromium, a fresh profile and --timeout; returns (exit
    code, its output). Whatever happens, the node process and every chromium process it started
    are gone when this returns."""
    profile = tempfile.mkdtemp(prefix="ezrtmp-chromium-")
    cmd = [NODE, os.path.join(BROWSER_DIR, script)] + args + [
        "--chromium", CHROMIUM, "--timeout", str(timeout), "--user-data-dir", profile]
    node = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=PLAYER_ENV, start_new_session=True)
    out = ""
    try:
        out, _ = node.communicate(timeout=timeout + 20)
    except subprocess.TimeoutExpired:
        os.killpg(node.pid, signal.SIGTERM)  # puppeteer closes the browser on SIGTERM
        try:
            out, _ = node.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            out = ""
        out += "\n(%s did not finish in time and was stopped)" % script
    finally:
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait()
        # Chromium runs in a process group of its own, which node normally ends; if node died
        # first, its processes are still there.
        kill_processes_using(profile)
        shutil.rmtree(profile, ignore_errors=True)
    return node.returncode, out


def test_browser_http_flv():
    play_page("http")


def test_browser_ws_flv():
    play_page("ws")


def play_page(scheme):
    stand_in = "--stand-in" in sys.argv[2:]
    for path, what in ((os.path.join(WEB_DIR, "node_modules", "mpegts.js"), "mpegts.js"),
                       (os.path.join(BROWSER_DIR, "node_modules", "puppeteer-core"),
                        "puppeteer-core")):
        check(os.path.isdir(path), "%s is not installed (%s missing): run "
              "scripts/install-deps.sh --test" % (what, path))

    started = time.monotonic()
    with PageServer() as page:
        page_origin = "http://127.0.0.1:%d" % page.port
        srv = BrowserServer()
        if not stand_in:
            # HTTP on the RTMP port is off by default. The exact origin of the page, not "*":
            # the browser checks it against its own, and the element checks WebSocket Origins.
            if srv.sink.find_property("http") is not None:
                srv.sink.set_property("http", True)
            srv.sink.set_property("http-cors-origin", page_origin)
        with srv:
            srv.wait_video_frames(1)
            watcher = RtmpWatcher(srv.port)
            watcher.start()
            try:
                if stand_in:
                    with FlvRelay(srv.port, cors_origin=page_origin) as relay:
                        rc, out, stream_url = run_page(page.port, scheme, relay.port, watcher)
                else:
                    rc, out, stream_url = run_page(page.port, scheme, srv.port, watcher)
            finally:
                frames_before, frames_after = watcher.frames_at_start, watcher.frames
                watcher.close()
            print(out.rstrip(), flush=True)
            check(rc == 0, "the page did not play %s (play.mjs exit %s)" % (stream_url, rc))
            check(watcher.error is None, "the RTMP player failed: %r" % watcher.error)
            check(frames_after - frames_before >= MIN_FRAMES,
                  "the RTMP player received %d video frames while the browser played, "
                  "expected at least %d" % (frames_after - frames_before, MIN_FRAMES))
            srv.check_no_error()
    print("the page played %s from %s; the RTMP player on the same port got %d video frames "
          "meanwhile; %.1f s in all" % (stream_url, page_origin,
                                        frames_after - frames_before,
                                        time.monotonic() - started), flush=True)


def run_page(page_port, scheme, stream_port, watcher):
    stream_url = "%s://127.0.0.1:%d/live/stream.flv" % (scheme, stream_port)
    page_url = "http://127.0.0.1:%d/index.html?src=%s" % (
        page_port, urllib.parse.quote(stream_url, safe=""))
    watcher.frames_at_start = watcher.frames
    rc, out = play_in_browser(page_url)
    return rc, out, stream_url


if __name__ == "__main__":
    # meson ends a test that runs too long with SIGTERM: unwind, so that every "finally" stops
    # what it started (browser, page server, pipeline).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("FAIL: stopped by SIGTERM"))
    run_named_test(globals())
