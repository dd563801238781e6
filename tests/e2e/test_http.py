"""End-to-end tests of HTTP-FLV, WebSocket-FLV and /metrics on the element's RTMP port: ffprobe
and ffmpeg play http://, a WebSocket client written here from RFC 6455 plays ws://, refusals are
answered as HTTP statuses, and an RTMP player on the same port keeps playing throughout.
Run as: test_http.py TEST_NAME (meson registers each name as its own test)."""

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time

from ezrtest import (Gst, Server, alone, check, decode_errors, fail, run, run_named_test, skip,
                     wait_for)
from rtmpclient import RtmpClient

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def http_url(s, path="/live/stream.flv"):
    return "http://127.0.0.1:%d%s" % (s.port, path)


def exchange(port, request, timeout=10):
    """Sends a raw request and reads until the server closes; returns the bytes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(request)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            b = sock.recv(65536)
            if not b:
                return out
            out += b
        fail("the server did not close after answering %r" % request[:40])
    finally:
        sock.close()


def status_of(answer):
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", answer)
    return int(m.group(1)) if m else None


def get(port, path, extra=b""):
    """One request on its own connection, which the answer closes (the server keeps HTTP/1.1
    connections open otherwise)."""
    return exchange(port, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Connection: close\r\n" + extra + b"\r\n")


class RtmpWitness:
    """An RTMP player on the same port: it must keep receiving video the whole time."""

    def __init__(self, port, name="stream"):
        self.c = RtmpClient("127.0.0.1", port)
        self.c.start_play("live", name)
        self.last = time.monotonic()

    def drain(self, seconds):
        """Reads for `seconds`, failing on a gap of more than a second without video."""
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            m = self.c.read_message(2.0)
            if m.type == 9:
                now = time.monotonic()
                check(now - self.last < 1.0, "RTMP player went %.1f s without video"
                      % (now - self.last))
                self.last = now
                n += 1
        return n

    def close(self):
        self.c.close()


class WsClient:
    """A minimal WebSocket client (RFC 6455): handshake, masked frames out, frames in."""

    def __init__(self, port, path, extra=b"", sock=None):
        # sock: an already connected socket, e.g. wrapped in TLS for wss:// (test_tls.py).
        self.sock = sock or socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n" +
                          extra + b"\r\n")
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            b = self.sock.recv(4096)
            if not b:
                break
            self.buf += b
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.head = head
        self.expected_accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())

    def _need(self, n):
        while len(self.buf) < n:
            b = self.sock.recv(65536)
            if not b:
                raise EOFError("closed")
            self.buf += b

    def read_frame(self):
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        check(not (b1 & 0x80), "the server masked a frame")
        n, pos = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, pos = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, pos = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(pos + n)
        payload = self.buf[pos:pos + n]
        self.buf = self.buf[pos + n:]
        return b0 & 0x0F, bool(b0 & 0x80), payload

    def send(self, opcode, payload, masked=True):
        key = os.urandom(4)
        head = bytes([0x80 | opcode, (0x80 if masked else 0) | len(payload)])
        body = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if masked else payload
        self.sock.sendall(head + (key if masked else b"") + body)

    def close(self):
        self.sock.close()


def flv_tags(data):
    """Splits FLV tags (each with its PreviousTagSize) into (type, timestamp, body)."""
    tags, i = [], 0
    while i + 11 <= len(data):
        size = int.from_bytes(data[i + 1:i + 4], "big")
        if i + 11 + size + 4 > len(data):
            break
        ts = int.from_bytes(data[i + 4:i + 7], "big") | data[i + 7] << 24
        check(int.from_bytes(data[i + 11 + size:i + 15 + size], "big") == 11 + size,
              "PreviousTagSize does not match the tag")
        tags.append((data[i], ts, data[i + 11:i + 11 + size]))
        i += 15 + size
    return tags, data[i:]


def test_http_flv_ffmpeg_decodes_h264_aac():
    with Server(props="http=true") as s:
        s.wait_video_frames(1)
        rc, out, err = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json",
                            http_url(s)], 30)
        check(rc == 0, "ffprobe failed (%d): %s" % (rc, err))
        streams = json.loads(out)["streams"]
        kinds = sorted((x["codec_type"], x["codec_name"]) for x in streams)
        check(kinds == [("audio", "aac"), ("video", "h264")], "streams: %r" % kinds)
        # Three seconds decoded with every decoder error fatal. framecrc writes one line per
        # decoded frame (raw video, PCM audio), "stream index, dts, ...": both are counted.
        rc, out, err = run(["ffmpeg", "-v", "error", "-xerror", "-i", http_url(s), "-t", "3",
                            "-map", "0:v", "-map", "0:a", "-f", "framecrc", "-"], 60)
        check(rc == 0 and not decode_errors(err), "ffmpeg could not decode HTTP-FLV: %s" % err)
        lines = [x for x in out.splitlines() if x and not x.startswith("#")]
        video = sum(1 for x in lines if x.split(",")[0].strip() == "0")
        audio = sum(1 for x in lines if x.split(",")[0].strip() == "1")
        # 30 fps, and AAC at 44.1 kHz is 43 frames of 1024 samples a second: at least two of the
        # three seconds of each.
        print("# %d video and %d audio frames decoded" % (video, audio))
        check(video >= 60, "only %d video frames decoded in 3 s" % video)
        check(audio >= 86, "only %d AAC frames decoded in 3 s" % audio)
        s.check_no_error()


def read_http_flv(port, until, timeout=10):
    """GETs the stream as HTTP-FLV; returns (head, FLV header, tags) once until(tags) holds."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(b"GET /live/stream.flv HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        buf, head, tags = b"", None, []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            b = sock.recv(65536)
            check(b, "the server ended the body early")
            buf += b
            if head is None and b"\r\n\r\n" in buf:
                head, _, buf = buf.partition(b"\r\n\r\n")
            if head is None or len(buf) < 13:
                continue
            got, _ = flv_tags(buf[13:])
            if until(got):
                return head, buf[:13], got
        fail("timed out reading HTTP-FLV")
    finally:
        sock.close()


def is_keyframe(tag):
    t, _, b = tag
    return t == 9 and b[0] >> 4 == 1 and b[1] == 1


def test_http_flv_body_starts_with_headers_and_keyframe():
    with Server(props="http=true") as s:
        # Well into the first GOP (30 frames), so a keyframe is cached and frames follow it.
        s.wait_video_frames(10)
        head, header, tags = read_http_flv(s.port, lambda t: any(map(is_keyframe, t)))
        check(head.startswith(b"HTTP/1.1 200 OK\r\n") and
              b"\r\nContent-Type: video/x-flv\r\n" in head + b"\r\n", "answer: %r" % head)
        # Signature, version 1, audio and video, header size 9, PreviousTagSize0 0.
        check(header == b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00",
              "FLV header: %r" % header)
        check(tags[0][0] == 18 and b"onMetaData" in tags[0][2][:20],
              "first tag is not onMetaData: %r" % (tags[0][:2],))
        heads = tags[1:3]
        kinds = sorted((t, b[:2]) for t, _, b in heads)
        check(kinds == [(8, b"\xaf\x00"), (9, b"\x17\x00")],
              "tags 2 and 3 are not the AAC and AVC sequence headers: %r" % kinds)
        media = tags[3:]
        first_video = next(x for x in media if x[0] == 9)
        check(is_keyframe(first_video), "first video frame is not a keyframe")
        check(is_keyframe(media[0]), "the first frame after the headers is not the keyframe: %r"
              % (media[0][:2],))
        check(all(b[1] == 1 for t, _, b in media if t in (8, 9)),
              "a sequence header among the frames")
        s.check_no_error()


def test_ws_flv_python_client():
    with Server(props="http=true") as s:
        s.wait_video_frames(1)
        ws = WsClient(s.port, "/live/stream.flv")
        try:
            check(ws.head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"),
                  "upgrade answer: %r" % ws.head)
            check(b"Sec-WebSocket-Accept: " + ws.expected_accept in ws.head,
                  "wrong Sec-WebSocket-Accept: %r" % ws.head)
            op, fin, first = ws.read_frame()
            check(op == 2 and fin and len(first) == 13 and first[:4] == b"FLV\x01" and
                  first[4] == 0x05 and first[5:9] == b"\x00\x00\x00\x09",
                  "first message is not an FLV header with audio and video: %r" % first)
            tags = []
            while not any(t == 9 and b[0] >> 4 == 1 and b[1] == 1 for t, _, b in tags):
                op, fin, msg = ws.read_frame()
                check(op == 2 and fin, "a message other than one binary frame: op %d" % op)
                got, rest = flv_tags(msg)
                check(len(got) == 1 and rest == b"", "a message is not exactly one FLV tag")
                tags += got
            check(tags[0][0] == 18 and b"onMetaData" in tags[0][2][:20],
                  "first tag is not onMetaData: %r" % (tags[0][:2],))
            video = [b for t, _, b in tags if t == 9]
            audio = [b for t, _, b in tags if t == 8]
            check(video[0][:2] == b"\x17\x00", "first video tag is not the AVC sequence header")
            check(video[1][0] >> 4 == 1, "first video frame is not a keyframe")
            check(audio and audio[0][0] >> 4 == 10 and audio[0][1] == 0,
                  "first audio tag is not the AAC sequence header")
            # The player is listed with its protocol.
            wait_for(lambda: added_protocols(s), 5, "ezrtmp-client-added")
            check(added_protocols(s, "ws-flv"), "client-added protocol is not ws-flv")
            # Ping -> pong with the same payload, among the media messages.
            ws.send(9, b"are you there")
            for _ in range(1000):
                op, fin, msg = ws.read_frame()
                if op != 2:
                    break
            check(op == 10 and msg == b"are you there", "ping answered by op %d %r" % (op, msg))
            # Close -> a close reply with the same code, then the connection ends.
            ws.send(8, struct.pack(">H", 1000))
            for _ in range(1000):
                op, fin, msg = ws.read_frame()
                if op != 2:
                    break
            check(op == 8 and msg == struct.pack(">H", 1000), "close answered by op %d" % op)
            try:
                ws.read_frame()
                fail("the server did not close after the close handshake")
            except EOFError:
                pass
        finally:
            ws.close()
        s.check_no_error()


_protocols = []


def added_protocols(s, want=None):
    while True:
        m = s.bus.pop_filtered(Gst.MessageType.ELEMENT)
        if not m:
            break
        st = m.get_structure()
        if st.get_name() == "ezrtmp-client-added":
            _protocols.append(st.get_string("protocol"))
    return want in _protocols if want else bool(_protocols)


@alone("the RTMP player never a second without video")
def test_http_refusals_while_rtmp_plays():
    props = 'http=true play-token=S3cret allowed-clients="127.0.0.1"'
    with Server(props=props) as s:
        s.wait_video_frames(1)
        witness = RtmpWitness(s.port, "stream?token=S3cret")
        try:
            check(witness.drain(0.5) > 0, "the RTMP player got no video")
            cases = [
                ("GET", "/live/stream.flv", 403),              # no token
                ("GET", "/live/stream.flv?token=wrong", 403),
                ("GET", "/live/other.flv?token=S3cret", 404),
                ("GET", "/nothing", 404),
                ("POST", "/live/stream.flv", 405),
                ("DELETE", "/live/stream.flv", 405),
            ]
            for method, path, want in cases:
                a = exchange(s.port, method.encode() + b" " + path.encode() +
                             b" HTTP/1.1\r\nHost: h\r\n\r\n")
                check(status_of(a) == want, "%s %s: %r" % (method, path, a[:60]))
                if want == 405:
                    check(b"\r\nAllow: GET, HEAD, OPTIONS\r\n" in a, "405 without Allow")
                witness.drain(0.2)
            a = exchange(s.port, b"GET /live/stream.flv HTTP/1.1\r\nHost h\r\n\r\n")
            check(status_of(a) == 400, "malformed header: %r" % a[:60])
            a = exchange(s.port, b"GET /live/stream.flv HTTP/1.1\r\nHost: h\r\n" +
                         b"X-Big: " + b"a" * 9000 + b"\r\n\r\n")
            check(status_of(a) == 431, "oversized head: %r" % a[:60])
            # The right token plays.
            sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            sock.sendall(b"GET /live/stream.flv?token=S3cret HTTP/1.1\r\nHost: h\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data or len(data) < data.find(b"\r\n\r\n") + 4 + 13:
                data += sock.recv(65536)
            sock.close()
            check(status_of(data) == 200 and b"Content-Type: video/x-flv\r\n" in data,
                  "with the token: %r" % data[:80])
            check(witness.drain(1.0) > 0, "the RTMP player stopped")
        finally:
            witness.close()
    # allowed-clients: loopback is not in 10.0.0.0/8.
    with Server(props='http=true allowed-clients="10.0.0.0/8"') as s:
        s.wait_video_frames(1)
        a = get(s.port, "/live/stream.flv")
        check(status_of(a) == 403, "allowed-clients refusal: %r" % a[:60])
        s.check_no_error()


@alone("RTMP video within a second")
def test_http_off_port_is_rtmp_only():
    with Server() as s:  # http defaults to false
        s.wait_video_frames(1)
        a = get(s.port, "/live/stream.flv")
        check(a == b"", "an HTTP request was answered with http off: %r" % a[:60])
        w = RtmpWitness(s.port)
        try:
            check(w.drain(1.0) > 0, "RTMP does not play with http off")
        finally:
            w.close()
        s.check_no_error()


def test_metrics_prometheus_text():
    with Server(props="http=true metrics=true") as s:
        s.wait_video_frames(1)
        w = RtmpWitness(s.port)
        try:
            w.drain(0.5)
            a = get(s.port, "/metrics")
        finally:
            w.close()
        head, _, body = a.partition(b"\r\n\r\n")
        check(status_of(a) == 200 and b"Content-Type: text/plain; version=0.0.4" in head,
              "metrics head: %r" % head)
        declared, samples = {}, {}
        for line in body.decode().splitlines():
            m = re.match(r"^# (HELP|TYPE) (\w+) (.+)$", line)
            if m:
                declared.setdefault(m.group(2), set()).add(m.group(1))
                continue
            m = re.match(r'^(\w+)(\{(\w+="[^"]*"(,\w+="[^"]*")*)\})? (\d+(\.\d+)?(e-?\d+)?)$',
                         line)
            check(m is not None, "not a Prometheus sample line: %r" % line)
            name = m.group(1)
            check(name.startswith("ezrtmp_") and declared.get(name) == {"HELP", "TYPE"},
                  "%s without HELP and TYPE first" % name)
            samples[(name, m.group(3) or "")] = float(m.group(5))
        lab = 'app="live",stream="stream"'
        for name in ["ezrtmp_clients_total", "ezrtmp_bytes_sent_total", "ezrtmp_frames_in_total",
                     "ezrtmp_gop_cache_frames", "ezrtmp_gop_cache_bytes"]:
            check((name, lab) in samples, "no %s{%s}" % (name, lab))
        check(samples[("ezrtmp_clients", lab + ',protocol="rtmp"')] == 1, "rtmp clients != 1")
        check(samples[("ezrtmp_frames_in_total", lab)] > 0, "no frames counted")
        check(samples[("ezrtmp_bytes_sent_total", lab)] > 0, "no bytes counted")
        # One player that reads everything: every tier's drop series and every reason's
        # disconnect series is there, each at zero.
        for tier in ("normal", "warning", "high"):
            key = ("ezrtmp_frames_dropped_total", lab + ',tier="%s"' % tier)
            check(key in samples, "no %s{%s}" % key)
            check(samples[key] == 0, "%s{%s} is %g, not 0" % (key + (samples[key],)))
        for reason in ("player", "slow", "timeout", "protocol", "removed", "server"):
            key = ("ezrtmp_disconnects_total", lab + ',reason="%s"' % reason)
            check(key in samples, "no %s{%s}" % key)
            check(samples[key] == 0, "%s{%s} is %g, not 0" % (key + (samples[key],)))
        check(samples[("ezrtmp_connections_accepted_total", "")] >= 2, "connections accepted")
        check(("ezrtmp_connections", "") in samples, "no ezrtmp_connections")
        check(samples[("ezrtmp_ingest_tags_total", lab)] > 0, "the element's input not counted")
        s.check_no_error()


def test_metrics_pass_promtool():
    """promtool, Prometheus' own checker, accepts the /metrics answer of a server with an RTMP
    and an HTTP-FLV player (so that every series, frame copies included, has a value)."""
    if shutil.which("promtool") is None:
        skip("promtool not installed (scripts/install-deps.sh --test installs package prometheus)")
    with Server(props="http=true metrics=true") as s:
        s.wait_video_frames(1)
        w = RtmpWitness(s.port)
        flv = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        try:
            flv.sendall(b"GET /live/stream.flv HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            w.drain(0.5)
            check(len(flv.recv(65536)) > 0, "the HTTP-FLV player got nothing")
            a = get(s.port, "/metrics")
        finally:
            flv.close()
            w.close()
        check(status_of(a) == 200, "metrics answer: %r" % a[:60])
        body = a.partition(b"\r\n\r\n")[2]
        check(b"ezrtmp_frame_copies_total{" in body, "no frame copies series")
        p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                           timeout=30)
        check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
              "promtool check metrics (exit %d): %s%s" % (p.returncode, p.stdout.decode(),
                                                          p.stderr.decode()))
        s.check_no_error()


if __name__ == "__main__":
    run_named_test(globals())
