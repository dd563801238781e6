"""The realistic stream that is long to publish: 1080p30 at 20 Mbps of snow (2 s GOP) published
by ffmpeg and by rtmp2sink through ezrtmpserversrc ! ezrtmpserversink; every media tag must
reach an HTTP-FLV player and rtmpdump as sent, in order (test_ingest_publishers.py says how).
Suite streams: x264's fixture and 20 Mbps through two players and the pipeline take the
machine for a while, so scripts/test.sh runs these in the default build only.

Run as: test_ingest_streams.py CASE (meson registers each as streams_ingest_CASE)."""

import test_streams
from ezrtest import alone, run_named_test
from ingestkit import Restreamer, ffmpeg_publish, gst_publish, play_and_compare

NAME = "1080p30_20mbps_gop2"
TIMEOUT_S = test_streams.FIXTURES[NAME]["seconds"] + 40


@alone("a player 0.4 s behind (1 MB at 20 Mbps) loses frames to the tiers")
def test_ffmpeg_1080p30_20mbps_snow():
    with Restreamer() as r:
        play_and_compare(r, lambda: ffmpeg_publish(test_streams.fixture(NAME), r.publish_url()),
                         TIMEOUT_S, "ffmpeg, " + NAME)


@alone("a player 0.4 s behind (1 MB at 20 Mbps) loses frames to the tiers")
def test_rtmp2sink_1080p30_20mbps_snow():
    with Restreamer() as r:
        play_and_compare(r, lambda: gst_publish(test_streams.fixture(NAME),
                                                "rtmp2sink location=%s" % r.publish_url()),
                         TIMEOUT_S, "rtmp2sink, " + NAME)


if __name__ == "__main__":
    run_named_test(globals())
