"""The scripted publisher: rtmpclient.py publishing the tags of an FLV file at their real-time
pace, in a process of its own (so its timing shares no interpreter with the pipeline under
test), with what real publishers do that ffmpeg and GStreamer cannot be made to do:

  --chunk-sizes N,N,...  Set Chunk Size before the first tag, then the next size of the list
                         every --chunk-every tags, round and round (sizes 1 to 2^31-1)
  --window N             Window Acknowledgement Size N to the server: it must acknowledge
                         every N bytes it reads from us
  --read-every S         reads the server's messages (its acknowledgements) only every S
                         seconds, so they wait in the socket
  --late-acks S          every second an Acknowledgement of the bytes we had received S
                         seconds before: stale and late
  --pad-keyframes N      each AVC keyframe gets a filler NAL unit of N bytes (H.264 nal type
                         12, which decoders skip): keyframe messages over 1 MB from a real stream
  --sent FILE            the tags as sent (after padding), as an FLV file: what a player must
                         receive
  --stamps FILE          per media tag sent: type, timestamp, CRC-32 of the body and the
                         CLOCK_MONOTONIC nanoseconds just before its first byte went to the socket

It prints "PUBLISHING" once publish is accepted and "DONE tags=N" at the end; it exits 1 when the
publish is refused (printing the status code) or the server closes the connection.

    publisher.py rtmp://127.0.0.1:PORT/live/KEY input.flv [options]   (rtmps:// too)"""

import argparse
import socket
import ssl
import sys
import threading
import time
import zlib
from urllib.parse import urlsplit

import flvtags
from rtmpclient import Closed, RtmpClient, amf0_encode


def connect(url, timeout=10.0):
    """An RtmpClient for rtmp:// or rtmps:// URL (a server certificate is not verified, as with
    ffmpeg -tls_verify 0), and (app, key)."""
    u = urlsplit(url)
    tls = None
    if u.scheme == "rtmps":
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    c = RtmpClient(u.hostname, u.port or (443 if tls else 1935), timeout=timeout, tls=tls)
    app, _, key = u.path.lstrip("/").rpartition("/")
    if u.query:
        key += "?" + u.query
    return c, app, key


def pad_keyframe(tag, n):
    """An AVC keyframe NALU packet with a filler NAL unit of n bytes appended (length prefix,
    NAL header 0x0C, 0xFF bytes, the stop bit 0x80)."""
    if n <= 0 or tag.type != flvtags.VIDEO or len(tag.body) < 5 or tag.body[:2] != b"\x17\x01":
        return tag
    filler = b"\x0c" + b"\xff" * (n - 2) + b"\x80"
    body = tag.body + len(filler).to_bytes(4, "big") + filler
    return flvtags.Tag(tag.type, tag.ts, body)


def as_sent(tag):
    """What goes on the wire for a tag: onMetaData behind @setDataFrame, as ffmpeg sends it."""
    if tag.type == flvtags.SCRIPT and tag.body.startswith(amf0_encode("onMetaData")):
        return amf0_encode("@setDataFrame") + tag.body
    return tag.body


class Drain(threading.Thread):
    """Reads the server's messages (acknowledgements, pings, statuses) so its replies do not
    pile up, every `every` seconds (0: as they come)."""

    def __init__(self, c, every):
        super().__init__(daemon=True)
        self.c, self.every = c, every
        self.closed = False
        self.codes = []

    def run(self):
        try:
            while True:
                if not self.every:
                    self.note(self.c.read_message(3600))
                    continue
                time.sleep(self.every)  # the socket left unread on purpose
                end = time.monotonic() + 0.05
                try:
                    while True:
                        self.note(self.c.read_message(max(0.001, end - time.monotonic())))
                except TimeoutError:
                    pass
        except (Closed, OSError, ValueError):
            self.closed = True

    def note(self, m):
        code = m.status_code()
        if code:
            self.codes.append(code)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("url")
    ap.add_argument("flv")
    ap.add_argument("--chunk-sizes", default="4096")
    ap.add_argument("--chunk-every", type=int, default=0)
    ap.add_argument("--window", type=int, default=0)
    ap.add_argument("--read-every", type=float, default=0)
    ap.add_argument("--late-acks", type=float, default=None)
    ap.add_argument("--pad-keyframes", type=int, default=0)
    ap.add_argument("--sent", default=None)
    ap.add_argument("--stamps", default=None)
    ap.add_argument("--unpublish", action="store_true", help="FCUnpublish and deleteStream at "
                    "the end, as ffmpeg does")
    a = ap.parse_args()
    tags = flvtags.read_file(a.flv)
    tags = [pad_keyframe(t, a.pad_keyframes) for t in tags]
    sizes = [int(x) for x in a.chunk_sizes.split(",")]
    c, app, key = connect(a.url)
    code, _ = c.start_publish(app, key, chunk_size=sizes[0])
    if code != "NetStream.Publish.Start":
        print("REFUSED %s" % code, flush=True)
        return 1
    if a.window:
        c._send_chunked(2, 0, 5, 0, a.window.to_bytes(4, "big"))
    drain = Drain(c, a.read_every)
    drain.start()
    print("PUBLISHING", flush=True)
    stamps = open(a.stamps, "w") if a.stamps else None
    sent = open(a.sent, "wb") if a.sent else None
    if sent:
        sent.write(flvtags.flv_header())
    history = []  # (time, bytes received) for the late acknowledgements
    t0 = time.monotonic()
    first = next((t.ts for t in tags if t.is_media()), 0)
    last_ack = t0
    n = 0
    try:
        for i, t in enumerate(tags):
            wait = t0 + (t.ts - first) / 1000.0 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if a.chunk_every and i and i % a.chunk_every == 0:
                c.set_chunk_size(sizes[(i // a.chunk_every) % len(sizes)])
            now = time.monotonic()
            if a.late_acks is not None:
                history.append((now, c.received))
                if now - last_ack >= 1:
                    last_ack = now
                    old = [b for (w, b) in history if w <= now - a.late_acks]
                    c._send_chunked(2, 0, 3, 0, (old[-1] if old else 0).to_bytes(4, "big"))
            if stamps and t.is_media():
                stamps.write("%d %d %08x %d\n" % (t.type, t.ts, zlib.crc32(t.body),
                                                  time.monotonic_ns()))
            c.send_media(t.type, t.ts, as_sent(t))
            if sent:
                sent.write(t.flv())
            n += 1
        if a.unpublish:
            c.unpublish(key)
    except (Closed, OSError) as e:
        print("CLOSED after %d tags: %s" % (n, e), flush=True)
        return 1
    finally:
        for f in (stamps, sent):
            if f:
                f.close()
    print("DONE tags=%d" % n, flush=True)
    # FIN after the last byte, then wait for the server's close: closing at once with unread
    # bytes from the server would send a reset, which may cost the server what it has not read.
    c.sock.shutdown(socket.SHUT_WR)
    drain.every = 0
    drain.join(10)
    c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
