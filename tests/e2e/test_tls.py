"""End-to-end tests of TLS on the element's one port: rtmps://, https:// and wss:// played by
ffprobe, GStreamer's rtmp2src and clients written here (Python's ssl module under rtmpclient.py
and the WebSocket client of test_http.py), beside plain rtmp:// on the same port; tls-only; bad
certificate and key files failing READY; hostile TLS clients while a TLS player is watched for
gaps; a slow and a stalled TLS reader of a fast stream; kernel TLS as the stats and log report it. The certificates are made by each run with the openssl command, in a temporary directory.
Run as: test_tls.py TEST_NAME (meson registers each name as its own test)."""

import contextlib
import http.client
import json
import os
import re
import resource
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

from gi.repository import GObject

from ezrtest import (GapWatcher, Gst, Server, alone, check, decode_errors, fail, run,
                     run_named_test, skip_if_sanitized, wait_for)
import test_streams
from rtmpclient import Closed, RtmpClient, is_video_header
from test_http import WsClient, flv_tags


def openssl(*args):
    p = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "openssl %s failed: %s" % (args[0], p.stderr))


class Certs:
    """A CA, a leaf for 127.0.0.1 and localhost signed by it, and a chain: a root, an
    intermediate CA and a leaf signed by the intermediate (leaf + intermediate in one file)."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ezrtmp-tls-")
        d = self.tmp.name
        self.dir = d
        p = lambda name: os.path.join(d, name)  # noqa: E731
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        with open(p("leaf.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        with open(p("ca.ext"), "w") as f:
            f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
        openssl("req", "-x509", *ec, "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2",
                "-subj", "/CN=ezrtmp test CA")
        self.ca = p("ca.pem")
        self.leaf_cert, self.leaf_key = self._sign("leaf", "ca", "leaf.ext")
        # The chain: root -> intermediate -> leaf2.
        openssl("req", "-x509", *ec, "-keyout", p("root.key"), "-out", p("root.pem"), "-days",
                "2", "-subj", "/CN=ezrtmp test root")
        self.root = p("root.pem")
        self._sign("inter", "root", "ca.ext")
        leaf2, self.chain_key = self._sign("leaf2", "inter", "leaf.ext")
        self.chain_cert = p("chain.pem")
        with open(self.chain_cert, "w") as out:
            for part in (leaf2, p("inter.pem")):
                out.write(open(part).read())

    def _sign(self, name, issuer, ext):
        p = lambda n: os.path.join(self.dir, n)  # noqa: E731
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", p(name + ".key"), "-out", p(name + ".csr"), "-subj", "/CN=" + name)
        openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p(issuer + ".pem"), "-CAkey",
                p(issuer + ".key"), "-CAcreateserial", "-out", p(name + ".pem"), "-days", "2",
                "-extfile", p(ext))
        return p(name + ".pem"), p(name + ".key")

    def props(self, extra=""):
        return 'tls-certificate="%s" tls-key="%s" %s' % (self.leaf_cert, self.leaf_key, extra)

    def client_context(self, cafile=None):
        ctx = ssl.create_default_context(cafile=cafile or self.ca)
        return ctx

    def close(self):
        self.tmp.cleanup()


def tls_url(s, scheme, path):
    return "%s://127.0.0.1:%d%s" % (scheme, s.port, path)


class Witness(GapWatcher):
    """A GapWatcher started at once, with the checks the TLS tests make of it."""

    def __init__(self, port, tls=None):
        super().__init__(port, tls=tls)
        self.start()

    def check_playing(self, what):
        n = self.frames
        wait_for(lambda: self.frames >= n + 10 or self.error, 10, "%s: 10 more frames" % what)
        check(self.error is None, "%s: the player failed: %r" % (what, self.error))
        check(self.max_gap < 1.0, "%s: a gap of %.2f s between video frames" % (what,
                                                                                 self.max_gap))

    def close(self):
        self.stop = True
        self.join(10)
        self.c.close()


def ffprobe_streams(url, *opts):
    rc, out, err = run(["ffprobe", "-v", "error", *opts, "-show_streams", "-of", "json", url], 30)
    check(rc == 0, "ffprobe %s failed (%d): %s" % (url, rc, err))
    return sorted((x["codec_type"], x["codec_name"]) for x in json.loads(out)["streams"])


def connections(s):
    return s.sink.get_property("stats").get_uint("connections")[1]


H264_AAC = [("audio", "aac"), ("video", "h264")]


def test_tls_ffprobe_rtmps_and_https(certs):
    with Server(props=certs.props("http=true")) as s:
        s.wait_video_frames(1)
        kinds = ffprobe_streams(tls_url(s, "rtmps", "/live/stream"), "-tls_verify", "0")
        check(kinds == H264_AAC, "rtmps streams: %r" % kinds)
        # The CA given: ffmpeg verifies the certificate and its name (127.0.0.1 in the SAN).
        kinds = ffprobe_streams(tls_url(s, "https", "/live/stream.flv"), "-tls_verify", "1",
                                "-ca_file", certs.ca)
        check(kinds == H264_AAC, "https streams: %r" % kinds)
        # Three seconds of HTTPS-FLV decoded with every decoder error fatal. -fps_mode vfr: the
        # null muxer's 1/30 s ticks would call the live-edge replay's frames, 1 ms apart,
        # non-increasing (docs/join.md); every frame is decoded all the same.
        rc, out, err = run(["ffmpeg", "-v", "error", "-xerror", "-tls_verify", "0", "-i",
                            tls_url(s, "https", "/live/stream.flv"), "-t", "3", "-fps_mode",
                            "vfr", "-f", "null", "-", "-progress", "pipe:1", "-nostats"], 60)
        check(rc == 0 and not decode_errors(err), "ffmpeg could not decode HTTPS-FLV: %s" % err)
        frames = [int(x) for x in re.findall(r"^frame=(\d+)$", out, re.M)]
        check(frames and frames[-1] >= 60, "only %r video frames decoded in 3 s" % frames[-1:])
        s.check_no_error()


def test_tls_hls_over_https(certs):
    """LL-HLS over TLS on the same port: the playlist, the init segment and a part on one
    verified keep-alive HTTPS connection, and ffprobe finds both tracks through https://."""
    with Server(props=certs.props("http=true hls=true")) as s:
        s.wait_video_frames(1)
        conn = http.client.HTTPSConnection("127.0.0.1", s.port, timeout=10,
                                           context=certs.client_context())
        try:
            def get(path):
                conn.request("GET", path)
                r = conn.getresponse()
                return r.status, r.getheader("Content-Type"), r.read()
            # The first playlist request waits for the first part (no sleep: it is parked).
            status, ctype, body = get("/live/stream/index.m3u8")
            check(status == 200 and ctype == "application/vnd.apple.mpegurl",
                  "playlist: %d %s" % (status, ctype))
            text = body.decode()
            init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', text)
            part = re.search(r'#EXT-X-PART:[^\n]*URI="([^"]+)"', text)
            check(init and part, "no map or part in %r" % text[:300])
            status, ctype, body = get("/live/stream/" + init.group(1))
            check(status == 200 and body[4:8] == b"ftyp", "init: %d %r" % (status, body[:8]))
            status, ctype, body = get("/live/stream/" + part.group(1))
            check(status == 200 and body[4:8] == b"moof", "part: %d %r" % (status, body[:8]))
        finally:
            conn.close()
        # Not verified here: ffmpeg's HLS reader does not pass -ca_file on to the media requests
        # (the verified connection is the one above).
        kinds = ffprobe_streams(tls_url(s, "https", "/live/stream/index.m3u8"), "-tls_verify",
                                "0")
        check(kinds == H264_AAC, "https HLS streams: %r" % kinds)
        s.check_no_error()


def test_tls_rtmp2src_decodes(certs):
    with Server(props=certs.props()) as s:
        s.wait_video_frames(1)
        p = Gst.parse_launch(
            "rtmp2src location=%s tls-validation-flags=0 ! flvdemux name=d "
            "d.video ! queue ! h264parse ! avdec_h264 ! fakesink name=v signal-handoffs=true "
            "d.audio ! queue ! fakesink" % tls_url(s, "rtmps", "/live/stream"))
        decoded = [0]
        p.get_by_name("v").connect("handoff", lambda *a: decoded.__setitem__(0, decoded[0] + 1))
        p.set_state(Gst.State.PLAYING)
        try:
            bus = p.get_bus()

            def enough():
                m = bus.pop_filtered(Gst.MessageType.ERROR)
                if m:
                    fail("rtmp2src pipeline error: %s" % (m.parse_error()[0].message,))
                return decoded[0] >= 30

            wait_for(enough, 30, "30 frames decoded by rtmp2src over rtmps://")
        finally:
            p.set_state(Gst.State.NULL)
        s.check_no_error()


# The plugin's debug category: its elements' lines and the library's (gst/plugin.c).
CATEGORY = "ezrtmp"


class ElementLog:
    """The element's debug lines (the library's log included) at INFO and above, collected in
    this process while in use."""

    def __init__(self):
        self.lines = []
        self.lock = threading.Lock()

    def _log(self, cat, level, file, func, line, obj, msg, *user):
        if cat.get_name() == CATEGORY:
            with self.lock:
                self.lines.append(msg.get())

    def __enter__(self):
        Gst.debug_set_active(True)
        Gst.debug_set_threshold_for_name(CATEGORY, Gst.DebugLevel.INFO)
        Gst.debug_add_log_function(self._log, None)
        return self

    def __exit__(self, *exc):
        Gst.debug_remove_log_function(self._log)
        Gst.debug_set_threshold_for_name(CATEGORY, Gst.DebugLevel.NONE)

    def matching(self, pattern):
        with self.lock:
            return [m for m in (re.search(pattern, x) for x in self.lines) if m]


@alone("no gap of a second for either player")
def test_tls_and_plain_rtmp_play_together(certs):
    with ElementLog() as log, Server(props=certs.props()) as s:
        s.wait_video_frames(1)
        tls = Witness(s.port, tls=certs.client_context())
        plain = Witness(s.port)
        try:
            tls.check_playing("rtmps player")
            plain.check_playing("plain rtmp player")
            tls.check_playing("rtmps player, later")
            st = s.sink.get_property("stats")
            ok, clients = st.get_array("client-list")
            check(ok, "no client-list in stats")
            flags = []
            for i in range(clients.n_values):
                c = clients.get_nth(i)
                has_tls, is_tls = c.get_boolean("tls")
                # get_boolean is false for a field that is missing or not a boolean.
                check(has_tls and c.get_field_type("ktls") == GObject.TYPE_BOOLEAN,
                      "client-list entry without boolean tls and ktls: %s" % c.to_string())
                ktls = c.get_boolean("ktls")[1]
                check(is_tls or not ktls, "a plain player with ktls true: %s" % c.to_string())
                flags.append((bool(is_tls), bool(ktls)))
            check(sorted(f[0] for f in flags) == [False, True],
                  "client-list tls flags: %r" % flags)
            # The server says for each TLS connection whether the kernel sends and receives its
            # records, and the stats agree with it.
            said = log.matching(r"TLS: (TLSv1\.[23]) \S+, kernel TLS send (on|off), "
                                r"receive (on|off)$")
            check(len(said) == 1, "log lines on kernel TLS, one per TLS connection: %r"
                  % [m.group(0) for m in said])
            ktls_tls = [k for t, k in flags if t][0]
            check((said[0].group(2) == "on") == ktls_tls,
                  "the log says kernel TLS send %s, the stats say ktls %s"
                  % (said[0].group(2), ktls_tls))
            print("kernel TLS here: %s" % said[0].group(0), flush=True)
        finally:
            tls.close()
            plain.close()
        s.check_no_error()


@alone("no gap of a second for the TLS player")
def test_tls_only_refuses_plain(certs):
    with Server(props=certs.props("tls-only=true http=true")) as s:
        s.wait_video_frames(1)
        for first in (b"\x03" + bytes(1536), b"GET /live/stream.flv HTTP/1.1\r\nHost: h\r\n\r\n"):
            sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            try:
                sock.sendall(first)
                data = b""
                try:
                    while True:
                        b = sock.recv(65536)
                        if not b:
                            break
                        data += b
                except ConnectionResetError:
                    pass
                check(data == b"", "a plain connection was answered on a tls-only port: %r"
                      % data[:40])
            finally:
                sock.close()
        w = Witness(s.port, tls=certs.client_context())
        try:
            w.check_playing("rtmps on a tls-only port")
        finally:
            w.close()
        s.check_no_error()


def test_tls_wss_gets_flv(certs):
    with Server(props=certs.props("http=true")) as s:
        s.wait_video_frames(1)
        raw = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        tls = certs.client_context().wrap_socket(raw, server_hostname="127.0.0.1")
        ws = WsClient(s.port, "/live/stream.flv", sock=tls)  # wss://
        try:
            check(ws.head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"),
                  "upgrade answer: %r" % ws.head)
            op, fin, first = ws.read_frame()
            check(op == 2 and first[:4] == b"FLV\x01", "first message is not an FLV header")
            tags = []
            while len([t for t, _, b in tags if t == 9]) < 10:
                op, fin, msg = ws.read_frame()
                check(op == 2 and fin, "a message other than one binary frame: op %d" % op)
                got, rest = flv_tags(msg)
                check(len(got) == 1 and rest == b"", "a message is not exactly one FLV tag")
                tags += got
            check(tags[0][0] == 18 and b"onMetaData" in tags[0][2][:20], "no onMetaData first")
            video = [b for t, _, b in tags if t == 9]
            check(video[0][:2] == b"\x17\x00" and video[1][0] >> 4 == 1,
                  "video does not start with the sequence header and a keyframe")
        finally:
            ws.close()
        s.check_no_error()


def test_tls_certificate_chain_verifies(certs):
    props = 'tls-certificate="%s" tls-key="%s"' % (certs.chain_cert, certs.chain_key)
    with Server(props=props) as s:
        s.wait_video_frames(1)
        # Only the root is trusted: the server must send the intermediate too.
        c = RtmpClient("127.0.0.1", s.port, tls=certs.client_context(cafile=certs.root))
        try:
            chain = c.sock.getpeercert()
            check(chain and ("commonName", "leaf2") in [x[0] for x in chain["subject"]],
                  "peer certificate: %r" % chain)
            c.start_play("live", "stream")
            for _ in range(200):
                if c.read_message(5).type == 9:
                    break
            else:
                fail("no video over the chained certificate")
        finally:
            c.close()
        kinds = ffprobe_streams(tls_url(s, "rtmps", "/live/stream"), "-tls_verify", "1",
                                "-ca_file", certs.root)
        check(kinds == H264_AAC, "rtmps streams with the chain: %r" % kinds)
        s.check_no_error()


def ready_error(props):
    """Sets a pipeline with these sink properties to READY; returns the bus error text."""
    s = Server(props=props)
    try:
        ret = s.pipeline.set_state(Gst.State.READY)
        check(ret == Gst.StateChangeReturn.FAILURE, "READY succeeded with %s" % props)
        e = s.error_text()
        check(e is not None, "no error on the bus for %s" % props)
        return e
    finally:
        s.stop()


def test_tls_bad_files_fail_ready(certs):
    d = certs.dir
    missing = os.path.join(d, "missing.pem")
    not_pem = os.path.join(d, "not.pem")
    with open(not_pem, "w") as f:
        f.write("this is not a certificate\n")
    cases = [
        ('tls-certificate="%s" tls-key="%s"' % (missing, certs.leaf_key), missing,
         "No such file or directory"),
        ('tls-certificate="%s" tls-key="%s"' % (not_pem, certs.leaf_key), not_pem,
         "not a PEM certificate (no start line)"),
        ('tls-certificate="%s" tls-key="%s"' % (certs.leaf_cert, not_pem), not_pem,
         "not a PEM private key (unsupported)"),
        ('tls-certificate="%s" tls-key="%s"' % (certs.leaf_cert, missing), missing,
         "No such file or directory"),
        # The chain's key does not belong to the leaf.
        ('tls-certificate="%s" tls-key="%s"' % (certs.leaf_cert, certs.chain_key),
         certs.chain_key, "not the key of the certificate (key values mismatch)"),
    ]
    for props, name, reason in cases:
        e = ready_error(props)
        check(name in e and reason in e, "error for %s does not name %s and say %r: %s"
              % (props, name, reason, e))
    e = ready_error("tls-only=true")
    check("tls-only needs a tls-certificate" in e, "tls-only without a certificate: %s" % e)


def client_hello_prefix(port):
    """The first bytes of a real ClientHello (Python's), from a throwaway listener."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    out = []

    def connect():
        c = socket.create_connection(srv.getsockname(), timeout=5)
        try:
            ctx.wrap_socket(c, server_hostname="x", do_handshake_on_connect=True)
        except OSError:
            pass
        finally:
            c.close()

    t = threading.Thread(target=connect)
    t.start()
    conn, _ = srv.accept()
    conn.settimeout(5)
    data = b""
    while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
        b = conn.recv(65536)
        if not b:
            break
        data += b
    conn.close()
    srv.close()
    t.join()
    check(data[:1] == b"\x16", "not a ClientHello: %r" % data[:8])
    return data


def expect_closed(sock, timeout):
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return time.monotonic()
    except (ConnectionResetError, socket.timeout):
        if time.monotonic() < deadline:
            return time.monotonic()
    fail("the server did not close the connection within %d s" % timeout)


@alone("a truncated handshake closed 2.5 to 6 s in, no gap of a second")
def test_tls_hostile_clients(certs):
    hello = client_hello_prefix(0)
    with Server(props=certs.props("handshake-timeout=3")) as s:
        s.wait_video_frames(1)
        w = Witness(s.port, tls=certs.client_context())
        try:
            w.check_playing("before")
            # Garbage after the record type: OpenSSL refuses it, the connection is closed.
            for junk in (b"\x16" + os.urandom(4000), b"\x16\x03\x01\xff\xff" + bytes(64),
                         b"\x16GET / HTTP/1.1\r\n\r\n"):
                c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
                c.sendall(junk)
                expect_closed(c, 10)
                c.close()
            w.check_playing("after garbage ClientHellos")
            # Half a ClientHello, then silence: the handshake timeout closes it.
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(hello[:len(hello) // 2])
            t0 = time.monotonic()
            closed = expect_closed(c, 10)
            c.close()
            check(2.5 <= closed - t0 <= 6, "a truncated handshake closed after %.1f s, not by "
                  "the 3 s handshake timeout" % (closed - t0))
            # Many idle half-done handshakes at once; the player goes on and a new one plays.
            resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(
                resource.RLIMIT_NOFILE)[1],) * 2)
            idle = []
            try:
                for _ in range(500):
                    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
                    c.sendall(hello[:len(hello) // 2])
                    idle.append(c)
                wait_for(lambda: connections(s) >= 501, 10, "500 idle handshakes open")
                w.check_playing("with 500 half-done handshakes")
                late = Witness(s.port, tls=certs.client_context())
                try:
                    late.check_playing("a new TLS player beside 500 half-done handshakes")
                finally:
                    late.close()
                # The timeout closes all of them.
                wait_for(lambda: connections(s) <= 1, 10,
                         "the half-done handshakes closed by the timeout")
            finally:
                for c in idle:
                    c.close()
            w.check_playing("after")
        finally:
            w.close()
        s.check_no_error()


class PacedClient(RtmpClient):
    """A slow rtmps:// player: a small receive buffer, and once paced() is called it reads at most
    rate bytes a second, burst bytes at a time, waiting out its schedule between reads."""

    def __init__(self, port, tls, rate, burst):
        super().__init__("127.0.0.1", port, rcvbuf=8192, tls=tls)
        self.rate, self.burst = rate, burst
        self.t0 = None

    def paced(self):
        self.t0, self.taken = time.monotonic(), 0

    def _fill(self, deadline):
        if self.t0 is None:
            return super()._fill(deadline)
        due = self.t0 + (self.taken + self.burst) / self.rate
        while time.monotonic() < min(due, deadline):
            time.sleep(min(due, deadline) - time.monotonic())
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no data from the server before the deadline")
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(self.burst)
        except socket.timeout:
            raise TimeoutError("no data from the server before the deadline")
        if not d:
            raise Closed()
        self.buf += d
        self.taken += len(d)
        self.received += len(d)
        if self.window and self.received - self.acked >= self.window:
            self.acked = self.received
            self._send_chunked(2, 0, 3, 0, struct.pack(">I", self.received & 0xFFFFFFFF))


@alone("60 frames in 4 s to a reader paced at 1 MB/s")
def test_tls_slow_reader_gets_intact_messages(certs):
    """A 4 Mbps stream (720p snow, served at its real rate) to an rtmps:// player with an 8 KB
    receive buffer reading 4 KB at a time at 1 MB/s, the server's send buffer 16 KB: keyframes are
    many times what the sockets hold, so the server's TLS writes block and resume mid-record all
    the time. Every media message must be a frame of the file, byte for byte, in the file's
    order, with video timestamps that never go back."""
    path = test_streams.fixture("720p30_4mbps_gop2")
    with open(path, "rb") as f:
        tags, _ = flv_tags(f.read()[13:])  # after the FLV header and PreviousTagSize0
    order = {(t, body): i for i, (t, _, body) in enumerate(tags) if t in (8, 9)}
    launch = test_streams.SERVE.format(path=path, tracks=test_streams.VIDEO_TRACK +
                                       test_streams.AUDIO_TRACK)
    removed = []
    with Server(pipeline=launch, props=certs.props("send-buffer-size=16384")) as s:
        s.sink.connect("client-removed", lambda e, cid, why: removed.append(why))
        s.wait_video_frames(1)
        c = PacedClient(s.port, certs.client_context(), rate=1 << 20, burst=4096)
        try:
            c.start_play("live", "stream")
            c.paced()
            last_i, last_ts, video, biggest = -1, -1, 0, 0
            end = time.monotonic() + 4
            while time.monotonic() < end:
                try:
                    m = c.read_message(5)
                except (Closed, TimeoutError) as e:
                    fail("the slow TLS player's stream ended after %d video frames: %r"
                         % (video, e))
                if m.type not in (8, 9):
                    check(m.type in (1, 4, 5, 6, 18, 20) and m.msid in (0, 1),
                          "a message no server sends (a corrupted chunk stream?): %r" % m)
                    continue
                check(m.msid == 1, "media on message stream %d: %r" % (m.msid, m))
                if is_video_header(m) or (m.type == 8 and m.payload[1:2] == b"\x00"):
                    continue  # sequence headers: the muxer's own, not tags of the file
                i = order.get((m.type, m.payload))
                check(i is not None, "a media message that is no frame of the file: %r" % m)
                check(i > last_i, "frame %d of the file after frame %d" % (i, last_i))
                last_i = i
                if m.type == 9:
                    check(m.ts >= last_ts, "video timestamp %d after %d" % (m.ts, last_ts))
                    last_ts = m.ts
                    video += 1
                    biggest = max(biggest, len(m.payload))
            cut = list(removed)  # before our own close removes it
        finally:
            c.close()
        print("slow TLS player: %d video frames, the largest %d bytes, %d bytes in 4 s"
              % (video, biggest, c.received), flush=True)
        check(video >= 60, "only %d video frames in 4 s" % video)
        check(biggest > 64 * 1024, "no frame larger than the sockets hold (largest %d bytes)"
              % biggest)
        check(not cut, "the slow TLS player was disconnected: %r" % cut)
        s.check_no_error()


@alone("no gap of a second for the plain player")
def test_tls_stalled_player_cut_plain_plays(certs):
    """An rtmps:// player that stops reading climbs the tiers and is disconnected as too slow
    (its socket full, so the server's TLS writes block); a plain player on the same port plays
    on."""
    props = certs.props("queue-warning-bytes=8000 queue-high-bytes=16000 "
                        "queue-max-bytes=24000 client-timeout=0 send-buffer-size=16384")
    with Server(props=props) as s:
        removed = []
        s.sink.connect("client-removed", lambda e, cid, why: removed.append(why))
        s.wait_video_frames(1)
        stalled = RtmpClient("127.0.0.1", s.port, rcvbuf=4096, tls=certs.client_context())
        stalled.start_play("live", "stream")
        good = Witness(s.port)
        try:
            wait_for(lambda: removed or good.error, 30, "the stalled TLS player disconnected")
            good.check_playing("plain player after the TLS one was cut")
            check(len(removed) == 1 and "slow" in removed[0],
                  "removed: %r (the stalled TLS player only, as too slow)" % removed)
            st = s.sink.get_property("stats")
            check(st.get_uint64("disconnects-slow")[1] == 1, "disconnects-slow: %s"
                  % st.to_string())
            check(connections(s) == 1, "connections: %d, not the plain player alone"
                  % connections(s))
        finally:
            good.close()
            stalled.close()
        s.check_no_error()


IDLE_CLIENT = r"""
import socket, ssl, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
conns = []
for _ in range(n):
    c = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="x")
    conns.append(c)
print("ready", flush=True)
sys.stdin.read()
"""


def rss_kb():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def test_tls_idle_connection_memory(certs):
    """1,000 connections that finished the TLS handshake and send nothing: what the server
    holds for each (RSS of this process, the pipeline's, before and after; the clients are
    another process). SSL_MODE_RELEASE_BUFFERS keeps it to the session itself."""
    skip_if_sanitized("memory per idle TLS connection")
    n = 1000
    with Server(props=certs.props("handshake-timeout=0")) as s:
        s.wait_video_frames(1)
        before = rss_kb()
        p = subprocess.Popen([sys.executable, "-c", IDLE_CLIENT, str(s.port), str(n)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            check(p.stdout.readline().strip() == "ready", "the idle clients did not connect")
            wait_for(lambda: connections(s) >= n, 20, "%d connections" % n)
            after = rss_kb()
        finally:
            p.stdin.close()
            p.wait(20)
        per = (after - before) * 1024 / n
        print("memory per idle TLS connection: %.0f bytes (RSS %d -> %d kB)"
              % (per, before, after), flush=True)
        check(per < 48 * 1024, "an idle TLS connection costs %.0f bytes" % per)
        s.check_no_error()


if __name__ == "__main__":
    run_named_test(globals(), lambda: contextlib.closing(Certs()))
