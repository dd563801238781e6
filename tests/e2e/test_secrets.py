"""End-to-end test that the play token stays secret: with play-token set, one player with the
right token and one with a wrong one, over RTMP and over HTTP-FLV (`?token=`, http=true): neither
token appears in the element's and the library's log lines (at the most verbose level), in any
bus message, in the signals' arguments or in the stats.
Run as: test_secrets.py play_token_never_logged"""

import os
import re
import shutil
import socket
import tempfile

# The debug log must be configured before GStreamer starts (ezrtest calls Gst.init()).
LOG_DIR = tempfile.mkdtemp(prefix="ezrtmp-secrets-")
LOG_FILE = os.path.join(LOG_DIR, "gst-debug.log")
os.environ["GST_DEBUG"] = "ezrtmp:9"
os.environ["GST_DEBUG_FILE"] = LOG_FILE
os.environ["GST_DEBUG_NO_COLOR"] = "1"

from ezrtest import Gst, Server, check, run_named_test, wait_for  # noqa: E402
from rtmpclient import Closed, RtmpClient, is_keyframe  # noqa: E402

TOKEN = "S3cr3tT0ken"
WRONG = "WrongGuess123"


def describe(m):
    """Everything a message carries, as text."""
    parts = [Gst.MessageType.get_name(m.type)]
    st = m.get_structure()
    if st:
        parts.append(st.to_string())
    if m.type == Gst.MessageType.PROPERTY_NOTIFY:
        obj, name, value = m.parse_property_notify()
        parts.append("%s = %r" % (name, value))
    elif m.type in (Gst.MessageType.ERROR, Gst.MessageType.WARNING, Gst.MessageType.INFO):
        parse = {Gst.MessageType.ERROR: m.parse_error, Gst.MessageType.WARNING: m.parse_warning,
                 Gst.MessageType.INFO: m.parse_info}[m.type]
        err, dbg = parse()
        parts.append("%s (%s)" % (err.message, dbg))
    return " ".join(parts)


def play(port, name):
    c = RtmpClient("127.0.0.1", port)
    try:
        return c, c.start_play("live", name)[-1].status_code()
    except Closed:
        return c, "closed"


def http_play(port, token):
    """GET /live/stream.flv?token=TOKEN; returns (status, socket). A 200 is read up to the FLV
    header and its first tag header, and the socket left open (the player plays on); any other
    answer is read to the server's close and the socket is None."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /live/stream.flv?token=" + token.encode() +
                 b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or len(data) < data.find(b"\r\n\r\n") + 4 + 13 + 11:
        b = sock.recv(65536)
        if not b:
            break
        data += b
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", data)
    code = int(m.group(1)) if m else None
    if code == 200:
        body = data[data.find(b"\r\n\r\n") + 4:]
        check(body[:3] == b"FLV", "the HTTP-FLV body does not start with FLV: %r" % body[:16])
        return code, sock
    sock.close()
    return code, None


def test_play_token_never_logged():
    s = Server(props="http=true")
    messages, signals, stats = [], [], []
    bus = s.pipeline.get_bus()
    # Every message as it is posted (a pipeline going to NULL flushes its bus).
    bus.enable_sync_message_emission()
    bus.connect("sync-message", lambda b, m: messages.append(describe(m)))
    # What gst-launch-1.0 -v does: property changes posted with their values.
    s.pipeline.add_property_deep_notify_watch(None, True)
    s.sink.connect("client-added", lambda e, cid, addr: signals.append(("added", cid, addr)))
    s.sink.connect("client-removed", lambda e, cid, why: signals.append(("removed", cid, why)))
    s.sink.set_property("play-token", TOKEN)
    s.sink.set_property("app", "live")  # shows the notifications are captured
    try:
        s.start()
        s.wait_video_frames(1)
        good, code = play(s.port, "stream?token=" + TOKEN)
        web = None
        try:
            check(code == "NetStream.Play.Start", "the right token got %s" % code)
            good.read_until(is_keyframe)
            bad, code = play(s.port, "stream?token=" + WRONG)
            bad.close()
            check(code == "NetStream.Play.Failed", "a wrong token got %s" % code)
            # The same over HTTP-FLV, the token in the query string.
            code, web = http_play(s.port, TOKEN)
            check(code == 200, "HTTP-FLV with the right token got %r" % code)
            code, _ = http_play(s.port, WRONG)
            check(code == 403, "HTTP-FLV with a wrong token got %r" % code)
            wait_for(lambda: len(signals) == 2, 5, "client-added of both players")
            st = s.sink.get_property("stats")
            stats.append(st.to_string())
            check("http-flv" in stats[-1] and "rtmp" in stats[-1],
                  "client-list does not show both players: %s" % stats[-1])
            for _, cid, _ in signals:
                one = s.sink.emit("get-stats", cid)
                check(one is not None, "get-stats of playing client %d is NULL" % cid)
                stats.append(one.to_string())
        finally:
            good.close()
            if web:
                web.close()
        wait_for(lambda: len(signals) == 4, 5, "client-removed of both players")
        wait_for(lambda: s.sink.get_property("stats").get_uint("connections")[1] == 0, 5,
                 "every connection to close")
        stats.append(s.sink.get_property("stats").to_string())
    finally:
        s.stop()
    with open(LOG_FILE, errors="replace") as f:
        log = f.read().splitlines()
    # The log and the notifications were really captured, or the test would prove nothing.
    check(any("wrong or missing play token" in x for x in log),
          "the library's refusal line is not in the debug log (%d lines)" % len(log))
    check(len([x for x in log if "/live/stream.flv" in x and "query not shown" in x]) >= 2,
          "the library's lines of the two HTTP requests are not in the debug log")
    check(any("serving rtmp://" in x for x in log), "the element's lines are not in the log")
    check(any("app = 'live'" in x for x in messages), "property notifications not captured")
    check(any("ezrtmp-client-added" in x for x in messages), "no client-added message")
    places = ([("log", x) for x in log] + [("bus", x) for x in messages] +
              [("signal", repr(x)) for x in signals] + [("stats", x) for x in stats])
    leaks = [(where, text) for where, text in places if TOKEN in text or WRONG in text]
    for where, text in leaks:
        print("# token in %s: %s" % (where, text), flush=True)
    check(not leaks, "a token appeared in %d places (listed above)" % len(leaks))


if __name__ == "__main__":
    try:
        run_named_test(globals())
    finally:
        shutil.rmtree(LOG_DIR, ignore_errors=True)
