"""End-to-end test that the play token stays secret: with play-token set, one player with the
right token and one with a wrong one, neither token appears in the element's and the library's log
lines (at the most verbose level), in any bus message, in the signals' arguments or in the stats.
Run as: test_secrets.py"""

import os
import shutil
import sys
import tempfile

# The debug log must be configured before GStreamer starts (ezrtest calls Gst.init()).
LOG_DIR = tempfile.mkdtemp(prefix="ezrtmp-secrets-")
LOG_FILE = os.path.join(LOG_DIR, "gst-debug.log")
os.environ["GST_DEBUG"] = "ezrtmpserversink:9"
os.environ["GST_DEBUG_FILE"] = LOG_FILE
os.environ["GST_DEBUG_NO_COLOR"] = "1"

from ezrtest import Gst, Server, check, fail, wait_for  # noqa: E402
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


def test_play_token_never_logged():
    s = Server()
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
        try:
            check(code == "NetStream.Play.Start", "the right token got %s" % code)
            good.read_until(is_keyframe)
            bad, code = play(s.port, "stream?token=" + WRONG)
            bad.close()
            check(code == "NetStream.Play.Failed", "a wrong token got %s" % code)
            wait_for(lambda: signals, 5, "client-added")
            cid = signals[0][1]
            st = s.sink.get_property("stats")
            stats.append(st.to_string())
            one = s.sink.emit("get-stats", cid)
            check(one is not None, "get-stats of the playing client is NULL")
            stats.append(one.to_string())
        finally:
            good.close()
        wait_for(lambda: len(signals) == 2, 5, "client-removed")
        wait_for(lambda: s.sink.get_property("stats").get_uint("connections")[1] == 0, 5,
                 "both connections to close")
        stats.append(s.sink.get_property("stats").to_string())
    finally:
        s.stop()
    with open(LOG_FILE, errors="replace") as f:
        log = f.read().splitlines()
    # The log and the notifications were really captured, or the test would prove nothing.
    check(any("wrong or missing play token" in x for x in log),
          "the library's refusal line is not in the debug log (%d lines)" % len(log))
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
        test_play_token_never_logged()
    finally:
        shutil.rmtree(LOG_DIR, ignore_errors=True)
    print("PASS: play_token_never_logged")
    sys.exit(0)
