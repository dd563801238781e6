#!/usr/bin/env python3
"""Feeds a pre-encoded FLV (H.264 + AAC) at real-time rate to one server of bench/hls_peers.py,
and tells when: prints "BASE <ms>", the wall-clock time (Unix ms) of the pipeline's running time
0, so frame n of bench/hls_stamp.py's input entered the server's side at BASE + n/30 s.

    feed.py INPUT.flv ezrtmp [PROPERTY=VALUE ...]     ezrtmpserversink (prints "PORT <n>" first)
    feed.py INPUT.flv rtmp URL                        rtmp2sink: a publisher for nginx-rtmp, SRS
    feed.py INPUT.flv hlssink2 DIR [PROPERTY=VALUE ...]  hlssink2 writing DIR/stream.m3u8

Each sink paces the frames by their timestamps: ezrtmpserversink and rtmp2sink with sync=true,
hlssink2 (whose file sinks do not sync) behind a clocksync on each track. Stops on SIGTERM;
an error or the end of the input ends it with status 1 and a line on stderr.
"""

import os
import signal
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from serve import tracks_launch  # noqa: E402


def launch_line(src, mode, rest):
    if mode == "ezrtmp":
        return ("%s flvmux name=m streamable=true ! ezrtmpserversink name=sink host=127.0.0.1 "
                "port=0 sync=true %s %s" % (src, " ".join(rest), tracks_launch("av")))
    if mode == "rtmp":
        return ("%s flvmux name=m streamable=true ! rtmp2sink location=%s sync=true %s"
                % (src, rest[0], tracks_launch("av")))
    if mode == "hlssink2":
        where = rest[0]
        return ("%s hlssink2 name=sink location=%s/segment%%05d.ts "
                "playlist-location=%s/stream.m3u8 %s "
                "d.video ! queue ! clocksync ! h264parse ! sink.video "
                "d.audio ! queue ! clocksync ! aacparse ! sink.audio"
                % (src, where, where, " ".join(rest[1:])))
    raise SystemExit("unknown mode " + mode)


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    Gst.init(None)
    src = "filesrc location=\"%s\" ! flvdemux name=d" % sys.argv[1]
    pipeline = Gst.parse_launch(launch_line(src, sys.argv[2], sys.argv[3:]))
    loop = GLib.MainLoop()
    failed = []

    def on_message(_bus, msg):
        if msg.type == Gst.MessageType.ERROR:
            failed.append(msg.parse_error()[0].message)
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            failed.append("the input ended")
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    if pipeline.set_state(Gst.State.READY) == Gst.StateChangeReturn.FAILURE:
        print("feed.py: cannot start the pipeline", file=sys.stderr)
        return 1
    if sys.argv[2] == "ezrtmp":
        print("PORT %d" % pipeline.get_by_name("sink").get_property("bound-port"), flush=True)
    pipeline.set_state(Gst.State.PLAYING)

    def announce_base():
        base = pipeline.get_base_time()
        clock = pipeline.get_clock()
        if clock is None or base == Gst.CLOCK_TIME_NONE or base == 0:
            return True
        wall, now = time.time(), clock.get_time()
        print("BASE %.3f" % (wall * 1000 - (now - base) / 1e6), flush=True)
        return False

    GLib.timeout_add(20, announce_base)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, loop.quit)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    if failed:
        print("feed.py: %s" % failed[0], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
