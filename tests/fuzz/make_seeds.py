#!/usr/bin/python3
"""Makes the fuzzers' seed corpus from real sessions: what ffprobe and rtmpdump send to
ezrtmpserversink (through a recording proxy), and what flvmux writes.

    GST_PLUGIN_PATH=build/gst /usr/bin/python3 tests/fuzz/make_seeds.py tests/fuzz/corpus

Files: session/ (a player's bytes after the handshake, as fuzz_session takes them), handshake/
(C0+C1+C2), chunk/ (the chunk stream), amf0/ (command payloads are inside chunk/ and session/;
the connect object is extracted here), flv/ (flvmux output)."""

import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from ezrtest import Gst, Server, wait_for  # noqa: E402


def record(origin_port, client_cmd, url_port_holder):
    """Runs client_cmd against a proxy to origin_port; returns what the client sent."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    port = lst.getsockname()[1]
    sent = bytearray()

    def pump(src, dst, keep):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                if keep is not None:
                    keep.extend(d)
                dst.sendall(d)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        c, _ = lst.accept()
        o = socket.create_connection(("127.0.0.1", origin_port))
        t = threading.Thread(target=pump, args=(o, c, None), daemon=True)
        t.start()
        pump(c, o, sent)
        t.join(5)

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    subprocess.run([a.replace("PORT", str(port)) for a in client_cmd], capture_output=True,
                   timeout=30)
    th.join(10)
    lst.close()
    return bytes(sent)


def main():
    out = sys.argv[1]
    for d in ("session", "handshake", "chunk", "amf0", "flv"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    with Server() as s:
        s.wait_video_frames(30)
        clients = {
            "ffprobe": ["ffprobe", "-v", "error", "rtmp://127.0.0.1:PORT/live/stream"],
            "rtmpdump": ["timeout", "-s", "INT", "3", "rtmpdump", "-q", "-r",
                         "rtmp://127.0.0.1:PORT/live/stream", "--live", "-o", "/dev/null"],
        }
        for name, cmd in clients.items():
            data = record(s.port, cmd, None)
            hs = 1 + 1536 + 1536
            with open(os.path.join(out, "handshake", name), "wb") as f:
                f.write(data[:hs])
            with open(os.path.join(out, "session", name), "wb") as f:
                f.write(data[hs:])
            with open(os.path.join(out, "chunk", name), "wb") as f:
                f.write(data[hs:])
            # The connect command's AMF0 body: after the first chunk's 12-byte header.
            body = data[hs + 12:hs + 12 + 128]
            with open(os.path.join(out, "amf0", name + "-connect"), "wb") as f:
                f.write(body)
    flv = os.path.join(out, "flv", "flvmux")
    p = Gst.parse_launch(
        "videotestsrc num-buffers=15 ! video/x-raw,width=160,height=120 ! x264enc "
        "key-int-max=5 ! flvmux name=m ! filesink location=%s "
        "audiotestsrc num-buffers=10 ! avenc_aac ! m." % flv)
    p.set_state(Gst.State.PLAYING)
    p.get_bus().timed_pop_filtered(30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    print("seeds written to", out)


if __name__ == "__main__":
    main()
