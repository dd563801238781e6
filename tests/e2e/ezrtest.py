"""Shared helpers of the end-to-end tests: a real GStreamer pipeline ending in ezrtmpserversink on
an ephemeral port, and external players run with deadlines."""

import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import flvtags  # noqa: E402  (beside this file)

Gst.init(None)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def wait_for(pred, timeout, what):
    """Polls pred until it is true; fails the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    fail("timed out after %.0f s waiting for %s" % (timeout, what))


PIPELINE = (
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=500 "
    "! h264parse ! flvmux name=mux streamable=true "
    "! ezrtmpserversink name=sink host={host} port={port} {props} "
    "audiotestsrc is-live=true ! audio/x-raw,rate=44100,channels=2 "
    "! avenc_aac ! aacparse ! mux.")


def bus_error(bus):
    """The error posted on bus, read once, or None."""
    m = bus.pop_filtered(Gst.MessageType.ERROR)
    if not m:
        return None
    err, dbg = m.parse_error()
    return "%s (%s)" % (err.message, dbg)


class BusErrors:
    """The error a pipeline posted on its bus (self.bus), read once."""

    def error_text(self):
        return bus_error(self.bus)

    def check_no_error(self):
        e = self.error_text()
        check(e is None, "pipeline error: %s" % e)


def share_port(pipeline, bus, first=None):
    """Gives every ezrtmpserversink and ezrtmpserversrc of pipeline one server on a free port:
    first (asking for port 0; by default the first of them the pipeline would bring to READY,
    in its sorted order: sinks first) goes to READY alone, where it opens the server on a port
    of the kernel's choosing, and the others are given that port (its bound-port), so that
    they join that server (gst/ezrserverpool.h) in the order they would have. A port picked
    free beforehand and given to all could be taken by another test in between (cases run two
    at a time). Returns the port."""
    it = pipeline.iterate_sorted()
    ours = []
    while True:
        ok, e = it.next()
        if ok != Gst.IteratorResult.OK:
            break
        if e.get_factory().get_name().startswith("ezrtmpserver"):
            ours.append(e)
    check(ours, "no ezrtmpserversink or ezrtmpserversrc in the pipeline")
    first = first or ours[0]
    if first.set_state(Gst.State.READY) == Gst.StateChangeReturn.FAILURE:
        fail("%s did not reach READY: %s" % (first.get_name(), bus_error(bus)))
    port = first.get_property("bound-port")
    check(port > 0, "%s's bound-port is %d in READY" % (first.get_name(), port))
    for e in ours:
        if e is not first:
            e.set_property("port", port)
    return port


class Server(BusErrors):
    """The pipeline under test. Use as a context manager; it stops what it started."""

    one_port = False  # (for subclasses with a pipeline of their own)

    def __init__(self, gop=30, port=0, props="", host="127.0.0.1", pipeline=None,
                 one_port=False):
        """pipeline: a launch line with {gop}, {port}, {props} and {host} to fill in, whose sink
        is named "sink"; the default is a live test pattern and tone. one_port: the pipeline's
        ezrtmpserver elements share one server (share_port), port being 0."""
        self.pipeline = Gst.parse_launch((pipeline or PIPELINE).format(
            gop=gop, port=port, props=props, host=host))
        self.sink = self.pipeline.get_by_name("sink")
        self.bus = self.pipeline.get_bus()
        self.one_port = one_port

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if self.one_port:
            share_port(self.pipeline, self.bus)
        ret = self.pipeline.set_state(Gst.State.READY)
        if ret == Gst.StateChangeReturn.FAILURE:
            fail("pipeline did not reach READY: %s" % self.error_text())
        self.port = self.sink.get_property("bound-port")
        check(self.port > 0, "bound-port is %d after READY" % self.port)
        self.pipeline.set_state(Gst.State.PLAYING)

    def stop(self):
        self.pipeline.set_state(Gst.State.NULL)

    def stat(self, field):
        """A numeric field of the stats: the counters are guint64, the gauges (clients, ...)
        guint; a field of neither type fails the test rather than read as 0."""
        stats = self.sink.get_property("stats")
        for get in (stats.get_uint64, stats.get_uint):
            ok, value = get(field)
            if ok:
                return value
        fail("stats has no unsigned field %s: %s" % (field, stats.to_string()))

    def wait_video_frames(self, n, timeout=20):
        wait_for(lambda: self.stat("video-frames") >= n, timeout, "%d video frames" % n)

    def url(self, app="live", key="stream", host="127.0.0.1"):
        if ":" in host:
            host = "[%s]" % host
        return "rtmp://%s:%d/%s/%s" % (host, self.port, app, key)


# Exit status meson reports as a skipped test.
SKIP_EXIT = 77


def skip_if_sanitized(what):
    """Memory figures mean nothing under AddressSanitizer (its allocator pads and quarantines
    every block): a test that measures them is reported skipped there, never passed."""
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        skip("%s: not measurable under AddressSanitizer" % what)


def skip(reason):
    """Ends the test as skipped (never as passed) when this machine cannot run it."""
    print("SKIP: " + reason, flush=True)
    sys.exit(SKIP_EXIT)


def ipv6_loopback_missing():
    """None when ::1 can be bound here; otherwise why not. Any other failure is not a missing
    feature and is raised."""
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError as e:
        if e.errno == errno.EAFNOSUPPORT:
            return "no IPv6 on this machine: %s" % e
        raise
    with sock:
        try:
            sock.bind(("::1", 0))
        except OSError as e:
            if e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                return "no IPv6 on loopback: bind(::1): %s" % e
            raise
    return None


# External players run without the sanitizer runtime that a sanitizer build preloads into this
# process (it is there for our plugin, not for ffmpeg or rtmpdump).
PLAYER_ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def run(cmd, timeout):
    """Runs a player to completion; returns (exit code, stdout, stderr)."""
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, text=True, env=PLAYER_ENV)
    except subprocess.TimeoutExpired as e:
        fail("%s did not finish within %d s; stderr: %s" % (cmd[0], timeout, e.stderr))
    return p.returncode, p.stdout, p.stderr


def stop_rtmpdump(p, path=None):
    """Stops a live recording as a user does (Ctrl-C): rtmpdump closes its file cleanly on
    SIGINT. One that does not stop within 10 s is killed and fails the test.

    rtmpdump writes what it reads 64 KiB at a time, so a tag larger than that (a 720p keyframe)
    can be cut off at the end of the file when the signal comes between two reads: seen as
    "Invalid NAL unit size (74841 > 65469)" when ffmpeg decoded the file, a tag of 74,841 bytes
    with 65,525 of them written. With the file's path, that partial last tag is dropped (and
    said), so that decoding checks what the server sent and not where the recording stopped; a
    tag cut anywhere else still fails to decode."""
    p.send_signal(signal.SIGINT)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        fail("rtmpdump did not stop on SIGINT")
    if path and os.path.exists(path):
        dropped = flvtags.trim_partial_tail(path)
        if dropped:
            print("the recording ended inside a tag: its last %d bytes dropped" % dropped)


# flvmux itself now and then writes two AAC tags of the same millisecond (seen in its own file
# output, with no server in the way), and ffmpeg's muxer then says the dts did not increase. A
# repeated timestamp is the source's; one that goes backwards would be ours and stays an error.
REPEATED_DTS = re.compile(
    r"non monotonically increasing dts to muxer in stream \d+: (\d+) >= (\d+)$")


# ffmpeg's log folds a message repeated at once into this line after it.
LAST_REPEATED = re.compile(r"^\s*Last message repeated \d+ times?$")


def decode_errors(err):
    """The lines of ffmpeg's stderr that are errors: all of them but a repeat of the source's
    timestamp (REPEATED_DTS), and ffmpeg's note that the line before it came again."""
    lines = []
    dropped = False
    for line in err.splitlines():
        m = REPEATED_DTS.search(line)
        if m and m.group(1) == m.group(2) or (dropped and LAST_REPEATED.search(line)):
            dropped = True
            continue
        dropped = False
        if line.strip():
            lines.append(line)
    return "\n".join(lines)


def test_names(tests):
    """The names of the cases a test file defines: its functions test_NAME, without the prefix
    (functions it imported do not count)."""
    return [k[5:] for k, v in tests.items() if k.startswith("test_") and callable(v)
            and getattr(v, "__module__", None) == tests["__name__"]]


def alone(bound):
    """Marks a case that runs alone: it asserts a wall-clock bound (a gap, a latency, a window
    for a timeout, frames in a time) that a second test sharing the CPU could make it miss.
    bound says which. tests/e2e/meson.build registers such a case is_parallel: false (meson
    starts it when nothing else runs and starts nothing beside it) and in suite timing; every
    other case runs beside one other (meson test --num-processes 2), as it mostly waits on
    streams in real time and asserts what players get, not when."""
    def mark(case):
        case.runs_alone = bound
        return case
    return mark


def run_named_test(tests, fixture=None):
    """The main of a test file: runs tests["test_" + argv[1]] and says PASS when it returns;
    with fixture (a context manager factory) the case is called with what the fixture gives.
    With --list it prints the names of the cases instead, one a line, "NAME alone" for a case
    marked alone(): tests/e2e/meson.build registers each as its own meson test from that list."""
    if sys.argv[1:] == ["--list"]:
        print("\n".join(n + (" alone" if hasattr(tests["test_" + n], "runs_alone") else "")
                        for n in test_names(tests)))
        return
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in test_names(tests):
        fail("no test %r (--list names them)" % name)
    if fixture is None:
        tests["test_" + name]()
    else:
        with fixture() as ctx:
            tests["test_" + name](ctx)
    print("PASS: " + name)


class GapWatcher(threading.Thread):
    """A valid player reading the whole time (over TLS when given a context); records the
    largest wall-clock gap between video frames. Call start(); errors are kept for the main
    thread."""

    def __init__(self, port, tls=None):
        from rtmpclient import RtmpClient  # rtmpclient has no GStreamer: keep it apart
        super().__init__(daemon=True)
        self.c = RtmpClient("127.0.0.1", port, tls=tls)
        self.c.start_play("live", "stream")
        self.stop = False
        self.frames = 0
        self.max_gap = 0.0
        self.error = None

    def run(self):
        last = None
        try:
            while not self.stop:
                m = self.c.read_message(5)
                if m.type != 9:
                    continue
                now = time.monotonic()
                if last is not None:
                    self.max_gap = max(self.max_gap, now - last)
                last = now
                self.frames += 1
        except Exception as e:  # reported by the main thread
            self.error = e


# bench/ezrload, the C load client, built beside the plugin (EZRTMP_BUILD_ROOT is the build's).
EZRLOAD = os.path.join(os.environ.get("EZRTMP_BUILD_ROOT", ""), "bench", "ezrload")


class LoadPlayer:
    """One RTMP player of bench/ezrload in a process of its own, for a test that asserts how a
    player was served while this process is busy elsewhere (polling, flooding, hostile sockets):
    what it measures (the longest wall-clock gap between media messages, up to when it is
    stopped; whether its first video frame was a keyframe; timestamps going back) shares no interpreter lock and no thread with the
    pipeline. Use as a context manager, or stop() for its report (bench/ezrload.c's JSON)."""

    def __init__(self, url, fps=30, gap_ms=500, max_seconds=600):
        self.log = tempfile.TemporaryFile(mode="w+")
        self.p = subprocess.Popen([EZRLOAD, "-n", "1", "-d", str(max_seconds), "-f", str(fps),
                                   "-g", str(gap_ms), "-j", url], stdout=subprocess.PIPE,
                                  stderr=self.log, text=True, env=PLAYER_ENV)
        self.report = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.log.close()

    def stop(self):
        """Ends the player (SIGTERM: it reports as at the end of its run) and returns its
        report."""
        if self.report is None:
            check(self.p.poll() is None, "ezrload ended early (%s)" % self.p.returncode)
            self.p.send_signal(signal.SIGTERM)
            try:
                out, _ = self.p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                fail("ezrload did not stop on SIGTERM")
            self.log.seek(0)
            check(self.p.returncode == 0 and out.strip(), "ezrload failed (%s): %s"
                  % (self.p.returncode, self.log.read()[-2000:]))
            self.report = json.loads(out.strip().splitlines()[-1])
        return self.report

    def check_served(self, server, what):
        """The player played from a keyframe and was never cut, saw no timestamp go back and no
        gap over its threshold (the run's end included), and the server dropped no frame for
        any player (its own counters: a gap in the source's timestamps, which a starved encoder
        can leave, is not the server's)."""
        r = self.stop()
        stats = server.sink.get_property("stats")
        dropped = {t: stats.get_uint64("frames-dropped-" + t)[1]
                   for t in ("normal", "warning", "high")}
        print("%s: the player (ezrload) got %d video and %d audio messages, its longest gap "
              "%d ms, %d video frames missing by their timestamps; the server dropped %r"
              % (what, r["video_msgs"], r["audio_msgs"], r["max_gap_ms"], r["video_missing"],
                 dropped), flush=True)
        check(r["playing"] == 1 and r["got_keyframe"] == 1 and r["first_video_not_key"] == 0,
              "%s: the player did not play from a keyframe: %r" % (what, r))
        check(r["dropped"] == 0, "%s: the server cut the player" % what)
        check(r["ts_regressions"] == 0, "%s: %d timestamps went back" % (
            what, r["ts_regressions"]))
        check(not any(dropped.values()), "%s: the server dropped frames: %r" % (what, dropped))
        check(r["gaps_over"] == 0, "%s: the player saw a %d ms gap (limit %d ms)"
              % (what, r["max_gap_ms"], r["gap_threshold_ms"]))
        return r
