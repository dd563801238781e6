"""End-to-end tests of who may play over IPv6 and dual stack: a pipeline listening on "::" with
allowed-clients, played from ::1 and from 127.0.0.1. Without IPv6 on loopback they are skipped
(exit status 77), never passed.
Run as: test_access.py TEST_NAME (meson registers each name as its own test)."""

import json

from ezrtest import Gst, Server, check, fail, ipv6_loopback_missing, run, run_named_test, skip
from rtmpclient import Closed, RtmpClient, is_keyframe


def need_ipv6():
    why = ipv6_loopback_missing()
    if why:
        skip(why)


def play(host, port, name="stream"):
    """Plays from host; returns (client, final status code). The caller closes the client."""
    c = RtmpClient(host, port)
    try:
        return c, c.start_play("live", name)[-1].status_code()
    except Closed:
        return c, "closed"


def expect_refused_and_closed(host, port):
    c, code = play(host, port)
    try:
        check(code == "NetStream.Play.Failed", "a player from %s got %s" % (host, code))
        try:
            while True:
                c.read_message(5)
        except Closed:
            pass
        except TimeoutError:
            fail("the refused player from %s was not closed" % host)
    finally:
        c.close()


def ffprobe_codecs(url):
    rc, out, err = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", url], 30)
    check(rc == 0, "ffprobe %s failed (%d): %s" % (url, rc, err))
    return sorted(x["codec_name"] for x in json.loads(out)["streams"])


def element_messages(bus, name):
    out = []
    while True:
        m = bus.pop_filtered(Gst.MessageType.ELEMENT)
        if not m:
            return out
        if m.get_structure().get_name() == name:
            out.append(m.get_structure().get_string("address"))


def test_ipv6_dual_stack_access():
    """host=:: serves IPv6 and IPv4 players; allowed-clients matches ::1 and the IPv4 player
    (v4-mapped on the socket); addresses are "[::1]:port" and "127.0.0.1:port" everywhere."""
    need_ipv6()
    with Server(host="::", props='allowed-clients="::1, 127.0.0.1"') as s:
        s.wait_video_frames(1)
        check(ffprobe_codecs(s.url(host="::1")) == ["aac", "h264"], "ffprobe over ::1")
        check(ffprobe_codecs(s.url(host="127.0.0.1")) == ["aac", "h264"],
              "ffprobe over 127.0.0.1")
        # Both at once, to see how each is written in the client list and on the bus.
        element_messages(s.bus, "ezrtmp-client-added")  # the ffprobe runs' messages
        c6, code6 = play("::1", s.port)
        c4, code4 = play("127.0.0.1", s.port)
        try:
            check(code6 == "NetStream.Play.Start", "the player from ::1 got %s" % code6)
            check(code4 == "NetStream.Play.Start", "the player from 127.0.0.1 got %s" % code4)
            c6.read_until(is_keyframe)
            c4.read_until(is_keyframe)
            want = sorted(["[::1]:%d" % c6.sock.getsockname()[1],
                           "127.0.0.1:%d" % c4.sock.getsockname()[1]])
            stats = s.sink.get_property("stats")
            got = sorted(x.get_string("address") for x in stats.get_value("client-list"))
            check(got == want, "client-list addresses %r, expected %r" % (got, want))
            added = sorted(element_messages(s.bus, "ezrtmp-client-added"))
            check(added == want, "client-added addresses %r, expected %r" % (added, want))
        finally:
            c6.close()
            c4.close()
        s.check_no_error()
    with Server(host="::", props='allowed-clients="fd00::/8"') as s:
        s.wait_video_frames(1)
        expect_refused_and_closed("::1", s.port)
        expect_refused_and_closed("127.0.0.1", s.port)
        check(s.stat("clients-total") == 0, "a refused player was counted as playing")
        s.check_no_error()


def test_ipv6_loopback_only():
    """host=::1 serves players over IPv6 loopback, written "[::1]:port"."""
    need_ipv6()
    with Server(host="::1") as s:
        s.wait_video_frames(1)
        check(ffprobe_codecs(s.url(host="::1")) == ["aac", "h264"], "ffprobe over ::1")
        c, code = play("::1", s.port)
        try:
            check(code == "NetStream.Play.Start", "the player from ::1 got %s" % code)
            c.read_until(is_keyframe)
            want = "[::1]:%d" % c.sock.getsockname()[1]
            got = [x.get_string("address")
                   for x in s.sink.get_property("stats").get_value("client-list")]
            check(got == [want], "client-list addresses %r, expected %r" % (got, [want]))
        finally:
            c.close()
        s.check_no_error()


if __name__ == "__main__":
    run_named_test(globals())
