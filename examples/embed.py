#!/usr/bin/env python3
"""Embedding ezrtmpserversink from Python: serve a test stream, print players as they come and
go (from the element's signals) and the server's counters every two seconds.

    GST_PLUGIN_PATH=build/gst python3 examples/embed.py [--port N] [--seconds S]
"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="serve a test stream over RTMP")
    ap.add_argument("--port", type=int, default=1935, help="TCP port (0: any free port)")
    ap.add_argument("--seconds", type=int, default=0, help="stop after S seconds")
    args = ap.parse_args()

    Gst.init(None)
    pipeline = Gst.parse_launch(
        "videotestsrc is-live=true ! video/x-raw,width=640,height=360,framerate=30/1 "
        "! x264enc tune=zerolatency speed-preset=veryfast key-int-max=30 ! h264parse "
        "! flvmux streamable=true ! ezrtmpserversink name=sink host=127.0.0.1 port=%d"
        % args.port)
    sink = pipeline.get_by_name("sink")
    # Emitted from the server thread: print and return.
    sink.connect("client-added",
                 lambda s, cid, addr: print("client-added id=%d address=%s" % (cid, addr),
                                            flush=True))
    sink.connect("client-removed",
                 lambda s, cid, why: print('client-removed id=%d reason="%s"' % (cid, why),
                                           flush=True))
    loop = GLib.MainLoop()

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.ERROR:
            print("error: %s" % msg.parse_error()[0].message, file=sys.stderr)
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)

    def print_stats():
        s = sink.get_property("stats")
        print("stats: clients=%d bytes-sent=%d video-frames-in=%d" % (
            s.get_uint("clients")[1], s.get_uint64("bytes-sent")[1],
            s.get_uint64("video-frames")[1]), flush=True)
        return True

    if pipeline.set_state(Gst.State.READY) == Gst.StateChangeReturn.FAILURE:
        m = bus.pop_filtered(Gst.MessageType.ERROR)
        print("error: %s" % (m.parse_error()[0].message if m else "cannot start"),
              file=sys.stderr)
        pipeline.set_state(Gst.State.NULL)
        return 1
    print("serving rtmp://127.0.0.1:%d/live/stream" % sink.get_property("bound-port"),
          flush=True)
    pipeline.set_state(Gst.State.PLAYING)
    GLib.timeout_add_seconds(2, print_stats)
    if args.seconds > 0:
        GLib.timeout_add_seconds(args.seconds, loop.quit)
    try:
        loop.run()
    except KeyboardInterrupt:
        pass
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
