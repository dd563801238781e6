"""A stand-in for the element's own HTTP-FLV and WebSocket-FLV, for developing the browser tests
before the element serves them: each HTTP or WebSocket client of this relay gets its own RTMP
player (rtmpclient.py) of the real pipeline, and the media it receives rewritten as FLV tags.
Only test_browser.py --stand-in uses it; the registered tests play the element itself."""

import base64
import hashlib
import socket
import struct
import threading

from rtmpclient import RtmpClient

FLV_HEADER = b"FLV\x01\x05\x00\x00\x00\x09" + b"\x00\x00\x00\x00"  # audio + video, tag size 0
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3


def flv_tag(mtype, ts, payload):
    """One FLV tag and the PreviousTagSize after it."""
    head = (bytes([mtype]) + len(payload).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big")
            + bytes([(ts >> 24) & 0xFF]) + b"\x00\x00\x00")
    return head + payload + struct.pack(">I", 11 + len(payload))


def ws_binary_frame(data):
    """An unmasked, final, binary WebSocket frame (a server's frames are never masked)."""
    n = len(data)
    if n < 126:
        head = bytes([0x82, n])
    elif n < 65536:
        head = bytes([0x82, 126]) + struct.pack(">H", n)
    else:
        head = bytes([0x82, 127]) + struct.pack(">Q", n)
    return head + data


class FlvRelay:
    """Listens on 127.0.0.1, port 0; serves /APP/KEY.flv from rtmp://127.0.0.1:rtmp_port/APP/KEY.
    Use as a context manager; it closes every socket it opened."""

    def __init__(self, rtmp_port, cors_origin="*"):
        self.rtmp_port = rtmp_port
        self.cors_origin = cors_origin
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.open = set()
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        try:
            # Wakes the blocking accept (Linux); close alone would leave it waiting.
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            for s in list(self.open):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        self.thread.join(5)

    def _track(self, s):
        with self.lock:
            if self.stopping:
                s.close()
                return False
            self.open.add(s)
            return True

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self._track(conn):
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        rtmp = None
        try:
            conn.settimeout(10)
            req = b""
            while b"\r\n\r\n" not in req:
                d = conn.recv(4096)
                if not d:
                    return
                req += d
            lines = req.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            path = target.split("?")[0].strip("/")
            if method != "GET" or not path.endswith(".flv") or path.count("/") != 1:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                return
            app, key = path[:-len(".flv")].split("/")
            websocket = headers.get("upgrade", "").lower() == "websocket"
            if websocket:
                accept = base64.b64encode(hashlib.sha1(
                    headers["sec-websocket-key"].encode() + WS_GUID).digest())
                conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
                             b"\r\n\r\n")
                send = lambda data: conn.sendall(ws_binary_frame(data))  # noqa: E731
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\n"
                             b"Cache-Control: no-cache\r\nConnection: close\r\n"
                             b"Access-Control-Allow-Origin: " + self.cors_origin.encode() +
                             b"\r\n\r\n")
                send = conn.sendall
            rtmp = RtmpClient("127.0.0.1", self.rtmp_port)
            with self.lock:
                self.open.add(rtmp.sock)
            send(FLV_HEADER)
            for m in rtmp.start_play(app, key):
                self._relay(m, send)
            while not self.stopping:
                self._relay(rtmp.read_message(10), send)
        except Exception:
            # The browser went away or the pipeline stopped: this client is done.
            pass
        finally:
            with self.lock:
                self.open.discard(conn)
                if rtmp:
                    self.open.discard(rtmp.sock)
            conn.close()
            if rtmp:
                rtmp.close()

    @staticmethod
    def _relay(m, send):
        if m.type in (8, 9) or (m.type == 18 and m.name() == "onMetaData"):
            send(flv_tag(m.type, m.ts, m.payload))
