"""What the publisher tests of ezrtmpserversrc share: the restreamer line under test
(ezrtmpserversrc ! ezrtmpserversink on one port, in this process), real publishers (ffmpeg,
GStreamer's rtmp2sink and rtmpsink, the scripted publisher.py) with the tags each sends, known
by writing its input once to a file the same way, and players that keep every tag they receive
with the time it came (HTTP-FLV read here, rtmpdump recording)."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import flvtags
from ezrtest import (PLAYER_ENV, BusErrors, Gst, check, fail, run, share_port, stop_rtmpdump,
                     wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))

# The README's restreamer line, host and port made explicit; the sink records from the first
# keyframe on for a player that joins late (latest-keyframe keeps the cached GOP's timestamps
# as published, which the comparison needs).
LINE = ("ezrtmpserversrc name=src host=127.0.0.1 port=0 stream-key=obs {src} "
        "! ezrtmpserversink name=sink host=127.0.0.1 port=0 stream-key=live http=true "
        "sync-method=latest-keyframe {sink}")


class Restreamer(BusErrors):
    """The pipeline under test; a context manager that stops what it started. The sink reaches
    READY first on a free port and the source is given the port it bound, so both share one
    server."""

    def __init__(self, src="", sink="", line=LINE):
        self.pipeline = Gst.parse_launch(line.format(src=src, sink=sink))
        self.src = self.pipeline.get_by_name("src")
        self.sink = self.pipeline.get_by_name("sink")
        self.bus = self.pipeline.get_bus()

    def __enter__(self):
        # The sink opens the server (its settings, http=true, are the server's), the others
        # join it on the port it bound.
        self.port = share_port(self.pipeline, self.bus, self.sink)
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self.pipeline.set_state(Gst.State.NULL)
            fail("the restreamer did not start: %s" % self.error_text())
        return self

    def __exit__(self, *exc):
        self.pipeline.set_state(Gst.State.NULL)

    def publish_url(self, scheme="rtmp", key="obs"):
        return "%s://127.0.0.1:%d/live/%s" % (scheme, self.port, key)

    def play_url(self):
        return "rtmp://127.0.0.1:%d/live/live" % self.port

    def src_stat(self, field):
        stats = self.src.get_property("stats")
        for get in (stats.get_uint64, stats.get_uint):
            ok, value = get(field)
            if ok:
                return value
        fail("the source's stats have no unsigned field %s: %s" % (field, stats.to_string()))


class FlvPlayer(threading.Thread):
    """An HTTP-FLV player of the restreamer's output: every tag it receives, each with the
    CLOCK_MONOTONIC nanoseconds of the read that completed it. Call start(); stop() ends it."""

    def __init__(self, port, path="/live/live.flv"):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.reader = flvtags.Reader()
        self.tags, self.times = [], []
        self.head = b""
        self.error = None
        self.closed = False
        self.stopping = False

    def run(self):
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                d = self.sock.recv(65536)
                if not d:
                    raise EOFError("closed before the response head")
                buf += d
            self.head, _, rest = buf.partition(b"\r\n\r\n")
            if not self.head.startswith(b"HTTP/1.1 200"):
                raise ValueError("answered %r" % self.head[:60])
            if b"chunked" in self.head.lower():
                raise ValueError("a chunked body: this reader takes the plain one")
            self._take(rest)
            self.sock.settimeout(None)
            while True:
                d = self.sock.recv(262144)
                if not d:
                    self.closed = True
                    return
                self._take(d)
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            if not self.stopping:
                self.error = e

    def _take(self, d):
        now = time.monotonic_ns()
        for t in self.reader.feed(d):
            self.tags.append(t)
            self.times.append(now)

    def media_count(self):
        return sum(1 for t in self.tags if t.is_media())

    def has(self, tag):
        """Whether a tag of this type, length and CRC has come (the tags list is only appended
        to, so reading it from another thread is safe)."""
        key = (tag.type, len(tag.body), tag.crc)
        return any((t.type, len(t.body), t.crc) == key for t in reversed(self.tags))

    def stop(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.join(10)
        self.sock.close()
        check(self.error is None, "the HTTP-FLV player failed: %r" % self.error)


class Recorder:
    """rtmpdump recording the restreamer's RTMP output."""

    def __init__(self, url):
        self.dir = tempfile.TemporaryDirectory(prefix="ezrtmp-ingest-")
        self.path = os.path.join(self.dir.name, "rec.flv")
        self.p = subprocess.Popen(["rtmpdump", "-q", "-r", url, "--live", "-o", self.path],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  env=PLAYER_ENV)

    def stop(self):
        """Ends the recording (SIGINT, as a user stops it) and returns its tags."""
        stop_rtmpdump(self.p, self.path)
        check(os.path.exists(self.path), "rtmpdump wrote nothing: %s"
              % self.p.stderr.read().decode())
        tags = flvtags.read_file(self.path)
        self.dir.cleanup()
        return tags


def is_end_of_sequence(t):
    """An AVC end of sequence (packet type 2): a publisher's last tag, which a server has no
    reason to relay (ezrtmpserversink does not: there is nothing to play in it)."""
    return t.type == flvtags.VIDEO and len(t.body) >= 2 and (t.body[0] & 0x0F) == 7 \
        and t.body[1] == 2


def relayed(tags):
    return [t for t in tags if t.is_media() and not is_end_of_sequence(t)]


# ---- publishers: each returns a Popen and, made first, the tags it will send ----------------

def tracks(av):
    out = ""
    if "v" in av:
        out += "d.video ! queue ! h264parse ! m.video "
    if "a" in av:
        out += "d.audio ! queue ! aacparse ! m.audio "
    return out


def ffmpeg_args(av):
    return ([] if "v" in av else ["-vn"]) + ([] if "a" in av else ["-an"])


def ffmpeg_publish(fixture, url, av="av", extra=()):
    """ffmpeg -re -c copy to url, and the tags it sends: the same muxing to a file."""
    tmp = tempfile.mkdtemp(prefix="ezrtmp-ref-")
    ref = os.path.join(tmp, "sent.flv")
    rc, _, err = run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", fixture]
                     + ffmpeg_args(av) + ["-c", "copy", "-f", "flv", ref], 120)
    check(rc == 0, "ffmpeg could not write the reference: %s" % err)
    sent = flvtags.read_file(ref)
    p = subprocess.Popen(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
                          "-i", fixture] + ffmpeg_args(av) + list(extra)
                         + ["-c", "copy", "-f", "flv", url],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=PLAYER_ENV)
    return p, sent


GST_PUBLISH = ("filesrc location={fixture} ! flvdemux name=d flvmux name=m streamable=true "
               "! {sink} {tracks}")


def gst_publish(fixture, sink, av="av"):
    """A GStreamer publisher (sink: "rtmp2sink location=URL" or "rtmpsink location=URL"), and
    the tags it sends: the same flvdemux ! flvmux to a file."""
    tmp = tempfile.mkdtemp(prefix="ezrtmp-ref-")
    ref = os.path.join(tmp, "sent.flv")
    rc, _, err = run(["gst-launch-1.0", "-q"] + GST_PUBLISH.format(
        fixture=fixture, sink="filesink location=" + ref, tracks=tracks(av)).split(), 120)
    check(rc == 0, "flvmux could not write the reference: %s" % err)
    sent = flvtags.read_file(ref)
    p = subprocess.Popen(["gst-launch-1.0", "-q"] + GST_PUBLISH.format(
        fixture=fixture, sink=sink + " sync=true", tracks=tracks(av)).split(),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=PLAYER_ENV)
    return p, sent


def scripted_publish(flv, url, *options):
    """publisher.py publishing flv's tags to url (options: its command line), and the tags it
    sends, which it writes itself (--sent) as it sends them: read them after it ends."""
    tmp = tempfile.mkdtemp(prefix="ezrtmp-ref-")
    sent = os.path.join(tmp, "sent.flv")
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "publisher.py"), url, flv,
                          "--sent", sent] + list(options), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=PLAYER_ENV)
    return p, sent


def wait_publisher(p, timeout, what):
    """Waits for a publisher process to end by itself; it must exit 0."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        fail("%s did not finish within %d s" % (what, timeout))
    check(p.returncode == 0, "%s failed (%d): %s %s" % (what, p.returncode, out or "",
                                                          err if isinstance(err, str) else
                                                          (err or b"").decode()[-2000:]))
    return out


def kill(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def rss_kb(pid=None):
    with open("/proc/%s/status" % (pid or "self")) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RssWatch(threading.Thread):
    """Samples this process's resident memory every 50 ms; .peak_kb is the largest seen."""

    def __init__(self):
        super().__init__(daemon=True)
        self.base_kb = self.peak_kb = rss_kb()
        self.halt = threading.Event()

    def run(self):
        while not self.halt.wait(0.05):
            self.peak_kb = max(self.peak_kb, rss_kb())

    def stop(self):
        self.halt.set()
        self.join(5)
        self.peak_kb = max(self.peak_kb, rss_kb())
        return (self.peak_kb - self.base_kb) / 1024.0


def check_received(sent, received, what, whole=True, skip_before=False):
    """The media tags a player received are the relayed ones the publisher sent, in order, each
    with its CRC; prints the figures. skip_before: see flvtags.compare."""
    want = relayed(sent)
    try:
        n, offset = flvtags.compare(want, received, whole=whole, skip_before=skip_before)
    except flvtags.Mismatch as e:
        fail("%s: %s (sent %s; received %s)" % (what, e, flvtags.summary(want),
                                                  flvtags.summary(received)))
    print("%s: %d media tags as sent, in order, timestamps moved by %d ms (%s)"
          % (what, n, offset, flvtags.summary(received)), flush=True)
    return n


def play_and_compare(r, start_publisher, timeout, what, rtmp=True, check_meta=True):
    """Players first (an HTTP-FLV one, and rtmpdump), then the publisher start_publisher()
    returns as (Popen, sent tags or the path of the file where it writes them); once it is
    done and the HTTP-FLV player has every tag, both players' tags must be the sent ones."""
    player = FlvPlayer(r.port)
    player.start()
    rec = Recorder(r.play_url()) if rtmp else None
    try:
        wait_for(lambda: r.sink.get_property("stats").get_uint("clients")[1] >= (2 if rtmp
                                                                               else 1),
                 10, "the players to be connected")
        p, sent = start_publisher()
        wait_publisher(p, timeout, what)
        if isinstance(sent, str):
            sent = flvtags.read_file(sent)
        last = relayed(sent)[-1]
        wait_for(lambda: player.has(last) or player.error, 20,
                 "the last media tag sent, %r, at the HTTP-FLV player" % last)
    finally:
        player.stop()
        got_rtmp = rec.stop() if rec else None
    r.check_no_error()
    check_received(sent, player.tags, what + ", HTTP-FLV player")
    if check_meta:
        check(any(t.type == flvtags.SCRIPT and b"onMetaData" in t.body for t in player.tags),
              "%s: no onMetaData reached the HTTP-FLV player" % what)
    if rec:
        # rtmpdump is stopped once the other player has every tag; what it had not yet written
        # may be left out of its file (whole=False), but only the stream's last second.
        n = check_received(sent, got_rtmp, what + ", rtmpdump", whole=False)
        rel = relayed(sent)
        check(n == len(rel) or rel[n].ts >= rel[-1].ts - 1000,
              "%s: rtmpdump recorded %d of %d media tags, up to %d ms of %d" % (
                  what, n, len(rel), rel[n - 1].ts if n else -1, rel[-1].ts))
    return sent, player
