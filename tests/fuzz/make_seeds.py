#!/usr/bin/python3
"""Makes the fuzzers' seed corpus from real sessions: what ffprobe and rtmpdump send to
ezrtmpserversink (through a recording proxy), and what flvmux writes.

    GST_PLUGIN_PATH=build/gst /usr/bin/python3 tests/fuzz/make_seeds.py tests/fuzz/corpus

Files: session/ (a player's bytes after the handshake, as fuzz_session takes them), handshake/
(C0+C1+C2), chunk/ (the chunk stream), amf0/ (command payloads are inside chunk/ and session/;
the connect object is extracted here), flv/ (flvmux output, and enhanced RTMP tags built byte by
byte: flvmux writes none of them), fmp4/ (the AVC and AAC sequence headers of that flvmux output,
as tag bodies; x264-1080i-avc, an interlaced stream's header, is kept from
tests/unit/fmp4_fixture.h and not remade here), hls_query/ (the LL-HLS queries hls.js and Apple's
players send, and the names of the muxer's files with fuzz_hls_query's tag "ezr")."""

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


def flv_tag(tag_type, ts, body):
    """One FLV tag: 11-byte header, body, PreviousTagSize."""
    head = bytes([tag_type]) + len(body).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big")
    head += bytes([ts >> 24, 0, 0, 0])
    return head + body + (11 + len(body)).to_bytes(4, "big")


def amf0_string(s):
    return b"\x02" + len(s).to_bytes(2, "big") + s.encode()


def enhanced_flv():
    """Enhanced RTMP (v1 and v2) video and audio tags and script data other than onMetaData, as the
    element's parser classifies them: every packet type, ModEx with 8- and 16-bit sizes,
    multitrack, a truncated ModEx."""
    nano = b"\x02\x00\x01\xf4"  # ModEx data size 3 - 1, then 500 ns
    tags = [
        (18, 0, amf0_string("@setDataFrame") + amf0_string("onMetaData") + b"\x08\0\0\0\0\0\0\x09"),
        (9, 0, b"\x90hvc1\x01\x02\x03"),                     # SequenceStart
        (9, 0, b"\x94hvc1" + amf0_string("colorInfo") + b"\x03\0\0\x09"),  # Metadata
        (9, 0, b"\x95av01\x80\x04\x81\x08\x0c\x00"),          # MPEG2TSSequenceStart
        (8, 0, b"\x90OpusOpusHead"),                          # audio SequenceStart
        (8, 0, b"\x94Opus\x01\x02"),                         # MultichannelConfig
        (9, 0, b"\x97" + nano + b"\x01hvc1\0\0\0\x26"),        # ModEx + CodedFrames, key
        (8, 10, b"\x97" + nano + b"\x01Opus\xfc"),             # ModEx + CodedFrames
        (9, 33, b"\xa3hvc1\x02"),                             # CodedFramesX, inter
        (9, 66, b"\xa7\xff\x01\x00" + bytes(257) + b"\x03hvc1\x02"),  # 16-bit ModEx size
        (18, 70, amf0_string("onCuePoint") + b"\x03\0\x04name" + amf0_string("x") + b"\0\0\x09"),
        (18, 80, amf0_string("onTextData") + b"\x03\0\0\x09"),
        (9, 100, b"\x96\x11hvc1\0\0\0\x04\0\0\0\x26\x01\0\0\x04\0\0\0\x26"),  # multitrack
        (8, 110, b"\x95\x00Opus\x00OpusHead"),                 # audio multitrack
        (9, 120, b"\x97\x02\x00"),                            # truncated ModEx
        (9, 130, b"\xd2hvc1"),                                # SequenceEnd, command frame type
        (9, 140, b"\x98hvc1"),                                # reserved packet type
    ]
    out = b"FLV\x01\x05\0\0\0\x09\0\0\0\0"
    for t in tags:
        out += flv_tag(*t)
    return out


def sequence_headers(flv):
    """The first AVC and AAC sequence header tag bodies of an FLV file: (video, audio)."""
    with open(flv, "rb") as f:
        data = f.read()
    pos, found = 13, {}
    while pos + 11 <= len(data):
        kind, size = data[pos], int.from_bytes(data[pos + 1:pos + 4], "big")
        body = data[pos + 11:pos + 11 + size]
        if kind in (8, 9) and len(body) > 1 and body[1] == 0:
            found.setdefault(kind, body)
        pos += 11 + size + 4
    return found.get(9), found.get(8)


def write_fmp4_seeds(out, flv):
    """fmp4/: the sequence headers of flvmux output, which fuzz_fmp4 takes as tag bodies."""
    video, audio = sequence_headers(flv)
    for name, body in (("flvmux-avc", video), ("flvmux-aac", audio)):
        with open(os.path.join(out, "fmp4", name), "wb") as f:
            f.write(body)


# hls.js sets _HLS_msn, _HLS_part, then _HLS_skip; a player's own parameters (a token) come first.
HLS_QUERY_SEEDS = {
    "blocking-part": "_HLS_msn=273&_HLS_part=2",
    "blocking-segment": "_HLS_msn=273",
    "delta": "_HLS_msn=273&_HLS_part=2&_HLS_skip=YES",
    "delta-v2": "token=a%2Fb&_HLS_skip=v2",
    "playlist": "index.m3u8",
    "init": "init-ezr-0.mp4",
    "segment": "seg-ezr-273.m4s",
    "part": "part-ezr-273.2.m4s",
}


def write_hls_query_seeds(out):
    """hls_query/: queries and names, one a file, as fuzz_hls_query takes them."""
    for name, text in HLS_QUERY_SEEDS.items():
        with open(os.path.join(out, "hls_query", name), "w") as f:
            f.write(text)


class _Capture:
    """A socket that keeps what is sent: rtmpclient.py's messages written offline."""

    def __init__(self):
        self.data = bytearray()

    def sendall(self, b):
        self.data += b


def _scripted_client():
    from rtmpclient import RtmpClient
    c = RtmpClient.__new__(RtmpClient)
    c.sock, c.out_chunk, c.piecewise, c.txid = _Capture(), 128, False, 1
    c.send_lock, c.held_acks, c.publish_msid = threading.Lock(), [], 1
    return c


def publish_seeds():
    """Publisher sessions after the handshake, as fuzz_session takes them, written with
    rtmpclient.py (the replies are not waited for: the session needs none): a whole publication
    with Set Chunk Size changes, an aggregate message, AMF3 data, and the orders the server must
    refuse (publish before connect, media before publish)."""
    from rtmpclient import amf0_encode
    avc = b"\x17\x00\x00\x00\x00\x01\x64\x00\x1f\xff\xe1\x00\x04\x67\x64\x00\x1f\x01\x00\x02\x68\xee"
    aac = b"\xaf\x00\x12\x10"
    seeds = {}

    def start(c, key="stream"):
        c.set_chunk_size(4096)
        c.connect("live")
        c.send_command("releaseStream", None, key)
        c.send_command("FCPublish", None, key)
        c.send_command("createStream", None)
        c.send_command("publish", None, key, "live", msid=1)

    c = _scripted_client()
    start(c)
    c.send_metadata({"width": 320.0, "height": 240.0, "videocodecid": 7.0, "audiocodecid": 10.0})
    c.send_media(9, 0, avc)
    c.send_media(8, 0, aac)
    c.send_media(9, 0, b"\x17\x01\x00\x00\x00" + bytes(300))
    c.set_chunk_size(50)
    for i in range(1, 4):
        c.send_media(8, i * 23, b"\xaf\x01" + bytes(60))
        c.send_media(9, i * 33, b"\x27\x01\x00\x00\x00" + bytes(120))
    c.send_command("FCUnpublish", None, "stream")
    c.send_command("deleteStream", None, 1.0)
    seeds["publish-scripted"] = bytes(c.sock.data)

    c = _scripted_client()
    start(c)
    agg = b""
    for t, ts, body in ((9, 0, avc), (8, 0, aac), (9, 40, b"\x17\x01\x00\x00\x00" + bytes(64))):
        agg += flv_tag(t, ts, body)
    c._send_chunked(5, 0, 22, 1, agg)  # an aggregate message (type 22) of three tags
    c._send_chunked(5, 0, 15, 1, b"\x00" + amf0_encode("@setDataFrame") + amf0_encode("onMetaData")
                    + b"\x08\x00\x00\x00\x00\x00\x00\x09")  # AMF3 data (type 15)
    seeds["publish-aggregate-amf3"] = bytes(c.sock.data)

    c = _scripted_client()
    c.send_command("publish", None, "stream", "live", msid=1)
    seeds["publish-before-connect"] = bytes(c.sock.data)

    c = _scripted_client()
    c.connect("live")
    c.send_command("createStream", None)
    c.send_media(9, 0, avc)
    seeds["media-before-publish"] = bytes(c.sock.data)
    return seeds


def main():
    out = sys.argv[1]
    for d in ("session", "handshake", "chunk", "amf0", "flv", "fmp4", "hls_query"):
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
    for name, data in publish_seeds().items():
        for d in ("session", "chunk"):
            with open(os.path.join(out, d, name), "wb") as f:
                f.write(data)
    with open(os.path.join(out, "flv", "enhanced"), "wb") as f:
        f.write(enhanced_flv())
    flv = os.path.join(out, "flv", "flvmux")
    p = Gst.parse_launch(
        "videotestsrc num-buffers=15 ! video/x-raw,width=160,height=120 ! x264enc "
        "key-int-max=5 ! flvmux name=m ! filesink location=%s "
        "audiotestsrc num-buffers=10 ! avenc_aac ! m." % flv)
    p.set_state(Gst.State.PLAYING)
    p.get_bus().timed_pop_filtered(30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    write_fmp4_seeds(out, flv)
    write_hls_query_seeds(out)
    print("seeds written to", out)


if __name__ == "__main__":
    main()
