"""A small RTMP player written from the RTMP 1.0 spec, independent of the C library: the tests'
witness of what the server really sends. Simple handshake, chunk reader (fmt 0-3, extended
timestamps, Set Chunk Size), AMF0, connect/createStream/play/publish, acknowledgements, the
NetStream commands a player sends while playing (pause, seek, receiveVideo/receiveAudio,
closeStream, deleteStream), and PingRequest answered with PingResponse as ffmpeg and librtmp do.
As a publisher: releaseStream/FCPublish/createStream/publish as ffmpeg sends them, media and
@setDataFrame messages, Set Chunk Size at any point, acknowledgements held back (late_acks), and
a message cut off halfway (send_partial)."""

import os
import socket
import struct
import threading
import time


class Closed(Exception):
    """The server closed the connection."""


# ---- AMF0 -------------------------------------------------------------------------------------

def amf0_encode(v):
    if v is None:
        return b"\x05"
    if isinstance(v, bool):
        return b"\x01" + (b"\x01" if v else b"\x00")
    if isinstance(v, (int, float)):
        return b"\x00" + struct.pack(">d", float(v))
    if isinstance(v, str):
        b = v.encode()
        return b"\x02" + struct.pack(">H", len(b)) + b
    if isinstance(v, dict):
        out = b"\x03"
        for k, val in v.items():
            kb = k.encode()
            out += struct.pack(">H", len(kb)) + kb + amf0_encode(val)
        return out + b"\x00\x00\x09"
    raise TypeError(type(v))


def _amf0_decode(b, i):
    t = b[i]
    i += 1
    if t == 0x00:
        return struct.unpack(">d", b[i:i + 8])[0], i + 8
    if t == 0x01:
        return b[i] != 0, i + 1
    if t == 0x02:
        n = struct.unpack(">H", b[i:i + 2])[0]
        return b[i + 2:i + 2 + n].decode("utf-8", "replace"), i + 2 + n
    if t == 0x0C:
        n = struct.unpack(">I", b[i:i + 4])[0]
        return b[i + 4:i + 4 + n].decode("utf-8", "replace"), i + 4 + n
    if t in (0x03, 0x08):
        if t == 0x08:
            i += 4
        obj = {}
        while True:
            n = struct.unpack(">H", b[i:i + 2])[0]
            i += 2
            if n == 0 and b[i] == 0x09:
                return obj, i + 1
            k = b[i:i + n].decode("utf-8", "replace")
            obj[k], i = _amf0_decode(b, i + n)
    if t == 0x0A:
        n = struct.unpack(">I", b[i:i + 4])[0]
        i += 4
        arr = []
        for _ in range(n):
            v, i = _amf0_decode(b, i)
            arr.append(v)
        return arr, i
    if t in (0x05, 0x06):
        return None, i
    raise ValueError("AMF0 marker 0x%02x" % t)


def amf0_decode_all(b):
    out, i = [], 0
    while i < len(b):
        v, i = _amf0_decode(b, i)
        out.append(v)
    return out


# ---- messages -----------------------------------------------------------------------------------

def is_video_header(m):
    """An AVC sequence header (video message, keyframe, AVCPacketType 0)."""
    return m.type == 9 and len(m.payload) >= 2 and m.payload[0] == 0x17 and m.payload[1] == 0


def is_keyframe(m):
    """A coded AVC keyframe (not its sequence header)."""
    return m.type == 9 and (m.payload[0] >> 4) == 1 and m.payload[1] == 1


class _Bits:
    """An H.264 RBSP read bit by bit, with Exp-Golomb codes (ITU-T H.264 7.2, 9.1)."""

    def __init__(self, nal):
        rbsp, zeros = bytearray(), 0
        for b in nal:
            if zeros >= 2 and b == 3:  # emulation prevention byte
                zeros = 0
                continue
            zeros = zeros + 1 if b == 0 else 0
            rbsp.append(b)
        self.data, self.pos = bytes(rbsp), 0

    def u(self, n):
        v = 0
        for _ in range(n):
            v = (v << 1) | ((self.data[self.pos >> 3] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self):
        n = 0
        while self.u(1) == 0:
            n += 1
        return (1 << n) - 1 + self.u(n)

    def se(self):
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def avc_header_size(m):
    """(width, height) of the first SPS in an AVC sequence header message (FLV video tag body:
    5 bytes, then the AVCDecoderConfigurationRecord), parsed as H.264 7.3.2.1.1 says."""
    rec = m.payload[5:]
    sps_len = struct.unpack(">H", rec[6:8])[0]
    b = _Bits(rec[8:8 + sps_len][1:])  # without the NAL header byte
    profile = b.u(8)
    b.u(16)  # constraint flags, level
    b.ue()  # seq_parameter_set_id
    chroma = 1
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma = b.ue()
        if chroma == 3:
            b.u(1)
        b.ue()
        b.ue()  # bit depths
        b.u(1)
        if b.u(1):  # scaling matrices
            for i in range(12 if chroma == 3 else 8):
                if b.u(1):
                    last = nxt = 8
                    for _ in range(16 if i < 6 else 64):
                        if nxt:
                            nxt = (last + b.se() + 256) % 256
                        last = nxt or last
    b.ue()  # log2_max_frame_num_minus4
    poc = b.ue()
    if poc == 0:
        b.ue()
    elif poc == 1:
        b.u(1)
        b.se()
        b.se()
        for _ in range(b.ue()):
            b.se()
    b.ue()  # max_num_ref_frames
    b.u(1)
    w_mbs, h_units = b.ue() + 1, b.ue() + 1
    frame_mbs_only = b.u(1)
    if not frame_mbs_only:
        b.u(1)
    b.u(1)  # direct_8x8_inference
    crop = [0, 0, 0, 0]
    if b.u(1):
        crop = [b.ue() for _ in range(4)]
    cx, cy = (1, 2 - frame_mbs_only) if chroma == 0 else (2, 2 * (2 - frame_mbs_only))
    return (w_mbs * 16 - cx * (crop[0] + crop[1]),
            (2 - frame_mbs_only) * h_units * 16 - cy * (crop[2] + crop[3]))


class Message:
    def __init__(self, mtype, csid, ts, msid, payload):
        self.type, self.csid, self.ts, self.msid, self.payload = mtype, csid, ts, msid, payload

    def amf(self):
        """The AMF0 values of a command (20) or data (18) message."""
        return amf0_decode_all(self.payload)

    def name(self):
        if self.type in (18, 20):
            try:
                return self.amf()[0]
            except (ValueError, IndexError, struct.error):
                return None
        return None

    def status_code(self):
        """The 'code' of an onStatus/_result/_error info object, if any."""
        if self.type != 20:
            return None
        for v in self.amf():
            if isinstance(v, dict) and "code" in v:
                return v["code"]
        return None

    def __repr__(self):
        return "Message(type=%d csid=%d ts=%d msid=%d len=%d name=%r)" % (
            self.type, self.csid, self.ts, self.msid, len(self.payload), self.name())


class RtmpClient:
    def __init__(self, host, port, timeout=10.0, rcvbuf=None, tls=None):
        # host is an IPv4 or IPv6 address ("::1", no brackets) or a name.
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            # Set before connecting so the advertised window stays small: a slow player.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect((host, port))
            if tls:  # an ssl.SSLContext: rtmps://, the same messages inside TLS
                self.sock = tls.wrap_socket(self.sock, server_hostname=host)
        except OSError:
            self.sock.close()
            raise
        self.buf = b""
        # piecewise: every chunk header and every chunk's data is a write of its own, as
        # ffmpeg's RTMP client writes them (with Nagle on, what it does until it plays).
        self.piecewise = False
        self.in_chunk = 128
        self.out_chunk = 128
        self.streams = {}  # csid -> dict(ts, delta, length, type, msid, ext, data)
        self.received = 0
        self.acked = 0
        self.window = 0
        self.txid = 1
        # PingRequest (User Control event 6) timestamps received, in order. A real player answers
        # each with a PingResponse (event 7) echoing it; set answer_pings to False to play one
        # that has stopped answering (it still reads, so only the ping tells it is not there).
        self.ping_requests = []
        self.answer_pings = True
        self.pongs_sent = 0
        # A publisher's reader thread and its sender share the socket: one message at a time.
        self.send_lock = threading.Lock()
        # late_acks: seconds each acknowledgement is held before it is sent (None: at once);
        # the held ones, (when due, sequence number), go out with the next message sent after.
        self.late_acks = None
        self.held_acks = []
        self.publish_msid = None  # the message stream createStream gave, once publishing

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- raw I/O
    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no data from the server before the deadline")
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no data from the server before the deadline")
        except ConnectionResetError:
            raise Closed()
        if not d:
            raise Closed()
        self.buf += d
        self.received += len(d)
        if self.window and self.received - self.acked >= self.window:
            self.acked = self.received
            if self.late_acks is None:
                self._send_chunked(2, 0, 3, 0, struct.pack(">I", self.received & 0xFFFFFFFF))
            else:
                self.held_acks.append((time.monotonic() + self.late_acks, self.received))

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)

    def _take(self, n, deadline):
        self._need(n, deadline)
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def handshake(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        c1 = struct.pack(">II", 0, 0) + os.urandom(1528)
        self.sock.sendall(b"\x03" + c1)
        s = self._take(1 + 1536 + 1536, deadline)
        if s[0] != 3:
            raise ValueError("S0 is %d" % s[0])
        s1 = s[1:1537]
        self.sock.sendall(s1)  # C2 echoes S1

    def _chunks(self, csid, ts, mtype, msid, payload):
        """The chunks of one message, fmt 0 then fmt 3; a timestamp of 0xFFFFFF or more is
        written in the extended field, repeated in every fmt 3 chunk as the spec says."""
        ext = ts >= 0xFFFFFF
        extb = struct.pack(">I", ts & 0xFFFFFFFF) if ext else b""
        pieces = [bytes([csid]) + struct.pack(">I", 0xFFFFFF if ext else ts)[1:]
                  + struct.pack(">I", len(payload))[1:] + bytes([mtype])
                  + struct.pack("<I", msid) + extb]
        for i in range(0, max(len(payload), 1), self.out_chunk):
            if i:
                pieces.append(bytes([0xC0 | csid]) + extb)
            pieces.append(payload[i:i + self.out_chunk])
        return pieces

    def _send_chunked(self, csid, ts, mtype, msid, payload):
        pieces = self._chunks(csid, ts, mtype, msid, payload)
        with self.send_lock:
            due = [a for a in self.held_acks if a[0] <= time.monotonic()]
            for a in due:
                self.held_acks.remove(a)
                pieces[:0] = self._chunks(2, 0, 3, 0, struct.pack(">I", a[1] & 0xFFFFFFFF))
            if self.piecewise:
                for p in pieces:
                    self.sock.sendall(p)
            else:
                self.sock.sendall(b"".join(pieces))

    def send_command(self, name, *args, msid=0, txid=None):
        """name(txid, args...). txid None: the next transaction id; NetStream commands that
        expect no _result (pause, seek, closeStream, receiveVideo) are sent with 0."""
        if txid is None:
            txid = self.txid
            self.txid += 1
        body = amf0_encode(name) + amf0_encode(txid)
        for a in args:
            body += amf0_encode(a)
        self._send_chunked(3 if msid == 0 else 8, 0, 20, msid, body)
        return txid

    # -- chunk reader
    def read_message(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            b0 = self._take(1, deadline)[0]
            fmt, csid = b0 >> 6, b0 & 0x3F
            if csid == 0:
                csid = 64 + self._take(1, deadline)[0]
            elif csid == 1:
                b = self._take(2, deadline)
                csid = 64 + b[0] + 256 * b[1]
            st = self.streams.setdefault(csid, {"ts": 0, "delta": 0, "length": 0, "type": 0,
                                                "msid": 0, "ext": False, "data": b"",
                                                "field": 0})
            hlen = (11, 7, 3, 0)[fmt]
            h = self._take(hlen, deadline)
            if fmt < 3:
                field = int.from_bytes(h[0:3], "big")
                st["ext"] = field == 0xFFFFFF
                st["field"] = field
            if fmt <= 1:
                st["length"] = int.from_bytes(h[3:6], "big")
                st["type"] = h[6]
            if fmt == 0:
                st["msid"] = struct.unpack("<I", h[7:11])[0]
            value = st["field"]
            if st["ext"]:
                value = struct.unpack(">I", self._take(4, deadline))[0]
            starting = not st["data"]
            if fmt == 0:
                st["ts"] = value
                st["delta"] = 0
            elif fmt in (1, 2):
                st["delta"] = value
                st["ts"] = (st["ts"] + value) & 0xFFFFFFFF
            elif starting:
                st["ts"] = (st["ts"] + st["delta"]) & 0xFFFFFFFF
            left = st["length"] - len(st["data"])
            st["data"] += self._take(min(left, self.in_chunk), deadline)
            if len(st["data"]) < st["length"]:
                continue
            m = Message(st["type"], csid, st["ts"], st["msid"], st["data"])
            st["data"] = b""
            if m.type == 1:
                self.in_chunk = struct.unpack(">I", m.payload[:4])[0] & 0x7FFFFFFF
            elif m.type == 5:
                self.window = struct.unpack(">I", m.payload[:4])[0]
            elif m.type == 4 and len(m.payload) >= 6 and m.payload[:2] == b"\x00\x06":
                stamp = struct.unpack(">I", m.payload[2:6])[0]
                self.ping_requests.append(stamp)
                if self.answer_pings:
                    self.send_ping_response(stamp)
            return m

    def read_until(self, pred, timeout=10.0):
        """Messages up to and including the first for which pred is true."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            m = self.read_message(max(0.001, deadline - time.monotonic()))
            got.append(m)
            if pred(m):
                return got

    # -- commands
    def connect(self, app, tc_url="rtmp://127.0.0.1/live"):
        return self.send_command("connect", {
            "app": app, "flashVer": "LNX 9,0,124,2", "tcUrl": tc_url, "fpad": False,
            "capabilities": 15.0, "audioCodecs": 4071.0, "videoCodecs": 252.0,
            "videoFunction": 1.0})

    def start_play(self, app, name, timeout=10.0):
        """Handshake, connect, createStream, play; returns the messages up to Play.Start."""
        self.handshake(timeout)
        self.connect(app)
        got = self.read_until(lambda m: m.name() in ("_result", "_error"), timeout)
        if got[-1].name() != "_result":
            raise ValueError("connect refused: %r" % got[-1].status_code())
        self.send_command("createStream", None)
        got += self.read_until(lambda m: m.name() == "_result", timeout)
        self.send_command("play", None, name, msid=1)
        got += self.read_until(lambda m: m.status_code() in (
            "NetStream.Play.Start", "NetStream.Play.StreamNotFound", "NetStream.Play.Failed"),
            timeout)
        return got

    # -- publishing: what ffmpeg's RTMP client (rtmpproto.c) sends
    def start_publish(self, app, key, timeout=10.0, tc_url=None, chunk_size=None):
        """Handshake, connect, releaseStream, FCPublish, createStream, publish(key, "live");
        returns the publish's onStatus code (NetStream.Publish.Start when accepted) and the
        messages up to it. chunk_size: a Set Chunk Size sent first, as ffmpeg sends 4096. A
        refused connect returns its _error's code."""
        self.handshake(timeout)
        if chunk_size:
            self.set_chunk_size(chunk_size)
        self.connect(app, tc_url or "rtmp://127.0.0.1/" + app)
        got = self.read_until(lambda m: m.name() in ("_result", "_error"), timeout)
        if got[-1].name() != "_result":
            return got[-1].status_code(), got
        self.send_command("releaseStream", None, key)
        self.send_command("FCPublish", None, key)
        txid = self.send_command("createStream", None)
        got += self.read_until(lambda m: m.name() in ("_result", "_error") and
                               m.amf()[1] == txid, timeout)
        if got[-1].name() != "_result":
            return got[-1].status_code(), got
        self.publish_msid = int(got[-1].amf()[3])
        self.send_command("publish", None, key, "live", msid=self.publish_msid)
        got += self.read_until(lambda m: (m.status_code() or "").startswith("NetStream.Publish")
                               or m.name() == "_error", timeout)
        return got[-1].status_code(), got

    def set_chunk_size(self, n):
        """Set Chunk Size (type 1) with n as it is (0 and 2^31 included, for hostile tests);
        the chunks sent after it are n bytes when n is a size one can send."""
        self._send_chunked(2, 0, 1, 0, struct.pack(">I", n & 0xFFFFFFFF))
        if 0 < n < 1 << 31:
            self.out_chunk = n

    def send_media(self, mtype, ts, body, msid=None):
        """An audio (8), video (9) or data (18) message on the publish stream; audio on chunk
        stream 4, video 6, data 5, as librtmp does."""
        msid = self.publish_msid if msid is None else msid
        self._send_chunked({8: 4, 9: 6}.get(mtype, 5), ts, mtype, msid, body)

    def send_metadata(self, meta, ts=0, msid=None):
        """@setDataFrame("onMetaData", ECMA array meta), as ffmpeg and OBS send it."""
        arr = b"\x08" + struct.pack(">I", len(meta))
        for k, v in meta.items():
            kb = k.encode()
            arr += struct.pack(">H", len(kb)) + kb + amf0_encode(v)
        body = amf0_encode("@setDataFrame") + amf0_encode("onMetaData") + arr + b"\x00\x00\x09"
        self.send_media(18, ts, body, msid)

    def send_partial(self, mtype, ts, body, nbytes, msid=None):
        """The first nbytes of a message's chunks (its header announcing the whole length), and
        nothing more: a publisher stalled mid-message."""
        self.send_sized(mtype, ts, body, len(body), nbytes, msid)

    def send_sized(self, mtype, ts, prefix, length, upto=None, msid=None, csid=None):
        """A message of length bytes, prefix then zeros, made chunk by chunk as it is sent (a
        16 MB message costs this process no 16 MB), and only its first upto bytes on the wire
        when upto is given. csid: its chunk stream (2-63), by default the type's."""
        msid = self.publish_msid if msid is None else msid
        csid = csid or {8: 4, 9: 6}.get(mtype, 5)
        first = self._chunks(csid, ts, mtype, msid, b"")[0]
        first = first[:4] + struct.pack(">I", length)[1:] + first[7:]
        wire, out, pos = 0, [first], 0
        with self.send_lock:
            while pos < length and (upto is None or wire + sum(map(len, out)) < upto):
                n = min(self.out_chunk, length - pos)
                piece = prefix[pos:pos + n]
                piece += bytes(n - len(piece))
                if pos:
                    out.append(bytes([0xC0 | csid]))
                out.append(piece)
                pos += n
                if sum(map(len, out)) >= 65536 or pos >= length:
                    data = b"".join(out)
                    if upto is not None:
                        data = data[:upto - wire]
                    self.sock.sendall(data)
                    wire += len(data)
                    out = []
            if out:
                data = b"".join(out)
                self.sock.sendall(data if upto is None else data[:upto - wire])

    def unpublish(self, key):
        """FCUnpublish and deleteStream, as ffmpeg sends when it ends."""
        self.send_command("FCUnpublish", None, key)
        self.delete_stream(self.publish_msid)

    # -- while playing: what ffmpeg (rtmpproto.c), librtmp and Flash send on the play stream
    def pause(self, paused, ms=0, msid=1):
        """pause(0, null, paused, ms): ffmpeg's and Flash's pause / resume."""
        return self.send_command("pause", None, bool(paused), float(ms), msid=msid, txid=0)

    def seek(self, ms, msid=1):
        """seek(0, null, ms): what ffmpeg's rtmp_seek sends (ffplay's seek keys)."""
        return self.send_command("seek", None, float(ms), msid=msid, txid=0)

    def receive_video(self, on, msid=1):
        return self.send_command("receiveVideo", None, bool(on), msid=msid, txid=0)

    def receive_audio(self, on, msid=1):
        return self.send_command("receiveAudio", None, bool(on), msid=msid, txid=0)

    def close_stream(self, msid=1):
        """closeStream(0, null) on the play stream: Flash's NetStream.close()."""
        return self.send_command("closeStream", None, msid=msid, txid=0)

    def delete_stream(self, stream_id=1):
        """deleteStream(txid, null, stream id) on message stream 0: what ffmpeg sends on close."""
        return self.send_command("deleteStream", None, float(stream_id))

    def send_ping_response(self, stamp):
        self._send_chunked(2, 0, 4, 0, struct.pack(">HI", 7, stamp & 0xFFFFFFFF))
        self.pongs_sent += 1

    def wait_ping(self, timeout=10.0):
        """Reads until the server's next PingRequest (answered unless answer_pings is False);
        returns (its timestamp, the messages read on the way)."""
        seen = len(self.ping_requests)
        got = self.read_until(lambda m: len(self.ping_requests) > seen, timeout)
        return self.ping_requests[seen], got
