"""Hostile clients against a real pipeline: each is closed or answered as a well-behaved RTMP
server would, while a valid player beside them keeps receiving frames without a gap.
Run as: test_hostile.py (one meson test; each case prints its name)."""

import os
import socket
import struct
import time

from ezrtest import GapWatcher, Server, check, fail, wait_for
from rtmpclient import Closed, RtmpClient, amf0_encode


def raw(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def expect_closed(sock, timeout=10):
    """Reads until EOF; fails if the server keeps the connection open past the timeout."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return
    except ConnectionResetError:
        return
    except socket.timeout:
        pass
    fail("the server did not close the connection")


def handshaken(port):
    """A raw socket past the simple handshake."""
    s = raw(port)
    s.sendall(b"\x03" + bytes(1536))
    got = b""
    while len(got) < 3073:
        d = s.recv(65536)
        check(d, "closed during the handshake")
        got += d
    s.sendall(got[1:1537])
    return s


def chunk(csid, mtype, payload, msid=0, ts=0):
    """One type-0 chunk carrying a whole message (payload <= 128 bytes or chunk size)."""
    return (bytes([csid]) + ts.to_bytes(3, "big") + len(payload).to_bytes(3, "big") +
            bytes([mtype]) + struct.pack("<I", msid) + payload)


def command(name, txid, *args, msid=0, chunk_size=128):
    body = amf0_encode(name) + amf0_encode(txid) + b"".join(amf0_encode(a) for a in args)
    head = (bytes([3]) + bytes(3) + len(body).to_bytes(3, "big") + bytes([20]) +
            struct.pack("<I", msid))
    out = head + body[:chunk_size]
    for i in range(chunk_size, len(body), chunk_size):
        out += bytes([0xC3]) + body[i:i + chunk_size]
    return out


def connected(port):
    s = handshaken(port)
    s.sendall(command("connect", 1, {"app": "live"}))
    return s


def case_garbage_instead_of_c0(port):
    s = raw(port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    expect_closed(s)


def case_wrong_version_byte(port):
    s = raw(port)
    s.sendall(b"\x06" + os.urandom(1536))
    expect_closed(s)


def case_handshake_stops_halfway(port):
    s = raw(port)
    s.sendall(b"\x03" + bytes(700))
    expect_closed(s, 10)  # handshake-timeout=2


def case_thousand_silent_connections(port):
    socks = [raw(port) for _ in range(1000)]
    for s in socks:
        expect_closed(s, 15)


def case_set_chunk_size_zero(port):
    s = handshaken(port)
    s.sendall(chunk(2, 1, struct.pack(">I", 0)))
    expect_closed(s)


def case_set_chunk_size_top_bit(port):
    s = handshaken(port)
    s.sendall(chunk(2, 1, struct.pack(">I", 0x80000000)))
    expect_closed(s)


def case_set_chunk_size_one_still_works(port):
    s = handshaken(port)
    s.sendall(chunk(2, 1, struct.pack(">I", 1)))
    s.sendall(command("connect", 1, {"app": "live"}, chunk_size=1))
    c = RtmpClient.__new__(RtmpClient)
    RtmpClient.__init__(c, "127.0.0.1", port)  # only to reuse the reader on our socket
    c.close()
    c.sock, c.buf = s, b""
    got = c.read_until(lambda m: m.name() in ("_result", "_error"))
    check(got[-1].name() == "_result", "connect at chunk size 1 was not accepted")
    s.close()


def case_sixteen_megabyte_message(port):
    # The largest length a chunk header can state (16 MiB - 1): refused from the header alone.
    s = handshaken(port)
    s.sendall(bytes([3]) + bytes(3) + (0xFFFFFF).to_bytes(3, "big") + b"\x14" + bytes(4))
    expect_closed(s)


def case_thousands_of_chunk_stream_ids(port):
    s = handshaken(port)
    out = b""
    for csid in range(320, 320 + 2000):
        # three-byte basic header (ids 320..2319), each a message that never completes
        n = csid - 64
        out += bytes([1, n & 0xFF, n >> 8]) + bytes(3) + (100).to_bytes(3, "big") + b"\x12"
        out += bytes(4) + b"x"
    try:
        s.sendall(out)
    except (BrokenPipeError, ConnectionResetError):
        return  # closed while we were still sending
    expect_closed(s)


def case_message_never_completes(port):
    s = connected(port)
    # A 60000-byte message sent 10 bytes at a time, forever: the player never plays, so the
    # handshake timeout closes it.
    s.sendall(bytes([5]) + bytes(3) + (60000).to_bytes(3, "big") + b"\x12" + bytes(4) + b"x" * 128)
    deadline = time.monotonic() + 15
    try:
        while time.monotonic() < deadline:
            s.sendall(b"\xC5" + b"y" * 10)
            time.sleep(0.05)  # a deliberately slow sender, not synchronisation
    except (BrokenPipeError, ConnectionResetError):
        return
    fail("a never-completing message kept the connection open")


def case_amf_nested_ten_thousand_deep(port):
    s = handshaken(port)
    body = amf0_encode("connect") + amf0_encode(1) + b"\x03" + (b"\x00\x01a\x03" * 10000)
    s.sendall(chunk(2, 1, struct.pack(">I", 65536)))
    s.sendall(bytes([3]) + bytes(3) + len(body).to_bytes(3, "big") + b"\x14" + bytes(4) + body)
    expect_closed(s)


def case_string_claims_four_gigabytes(port):
    s = handshaken(port)
    body = amf0_encode("connect") + amf0_encode(1) + b"\x0c\xff\xff\xff\xff" + b"abc"
    s.sendall(chunk(3, 20, body))
    expect_closed(s)


def case_unknown_message_types_ignored(port):
    s = handshaken(port)
    s.sendall(chunk(3, 0x7F, b"hello") + chunk(3, 0x30, b""))
    s.sendall(command("connect", 1, {"app": "live"}))
    c = RtmpClient.__new__(RtmpClient)
    RtmpClient.__init__(c, "127.0.0.1", port)
    c.close()
    c.sock, c.buf = s, b""
    got = c.read_until(lambda m: m.name() in ("_result", "_error"))
    check(got[-1].name() == "_result", "connect after unknown messages failed")
    s.close()


def case_command_before_connect(port):
    s = handshaken(port)
    s.sendall(command("createStream", 2, None))
    expect_closed(s)


def case_play_before_create_stream(port):
    s = connected(port)
    s.sendall(command("play", 0, None, "stream", msid=1))
    expect_closed(s)


def case_many_create_stream_calls(port):
    s = connected(port)
    s.sendall(b"".join(command("createStream", 2 + i, None) for i in range(50)))
    expect_closed(s)


def case_publish_any_name(port):
    for name in ("stream", "other", "../x", "a" * 300):
        c = RtmpClient("127.0.0.1", port)
        c.handshake()
        c.connect("live")
        c.read_until(lambda m: m.name() == "_result")
        c.send_command("createStream", None)
        c.read_until(lambda m: m.name() == "_result")
        c.send_command("publish", None, name, "live", msid=1)
        try:
            got = c.read_until(lambda m: m.status_code() is not None)
            check(got[-1].status_code() == "NetStream.Publish.BadName",
                  "publish %r: %r" % (name[:20], got[-1].status_code()))
        except Closed:
            pass
        c.close()


def case_acknowledgement_window_of_one_byte(port):
    s = handshaken(port)
    s.sendall(chunk(2, 5, struct.pack(">I", 1)))
    s.sendall(command("connect", 1, {"app": "live"}))
    s.settimeout(5)
    check(s.recv(65536), "no answer with a 1-byte acknowledgement window")
    s.close()


def case_close_mid_chunk(port):
    s = connected(port)
    s.sendall(bytes([3]) + bytes(3) + (500).to_bytes(3, "big") + b"\x14" + bytes(4) + b"abc")
    s.close()


CASES = [v for k, v in sorted(globals().items()) if k.startswith("case_")]


def main():
    props = "handshake-timeout=2"
    with Server(props=props) as s:
        s.wait_video_frames(1)
        watcher = GapWatcher(s.port)
        watcher.start()
        for case in CASES:
            print("case " + case.__name__[5:], flush=True)
            before = watcher.frames
            case(s.port)
            wait_for(lambda: watcher.frames > before or watcher.error, 5,
                     "the valid player to keep receiving after " + case.__name__)
            check(watcher.error is None, "the valid player failed: %r" % watcher.error)
        watcher.stop = True
        watcher.join(10)
        check(watcher.error is None, "the valid player failed: %r" % watcher.error)
        check(watcher.max_gap < 0.5, "the valid player saw a %.0f ms gap" %
              (watcher.max_gap * 1000))
        wait_for(lambda: s.sink.get_property("stats").get_uint("connections")[1] == 1, 15,
                 "every hostile connection to be closed")
        s.check_no_error()
    print("PASS: hostile")


if __name__ == "__main__":
    main()
