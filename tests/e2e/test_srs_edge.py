"""SRS as an edge pulling from the element (README, "Scaling out"): SRS 6 in `cluster { mode
remote; }`, built from the SRS kit beside the checkout (../shared/peers/srs; skipped where it is
not). In the long run only (scripts/test.sh --long, suite long): the build takes minutes of both
cores, which the default run does not spend on one case; nginx-rtmp's edge (test_edges.py) is in
the default run.
Run as: test_srs_edge.py TEST_NAME (meson registers each name as its own test)."""

import json
import subprocess
import time

from edges import srs_edge
from ezrtest import PLAYER_ENV, Server, check, decode_errors, run_named_test


def test_srs_edge_pull():
    """SRS in mode remote as an edge of the element: an RTMP player (ffmpeg, decoding 6 s) and an
    HTTP-FLV player (ffprobe) of the edge play at once, both tracks, while the origin serves one
    connection, the edge's. Skipped where the SRS kit is absent."""
    with Server() as s:
        s.wait_video_frames(1)
        with srs_edge(s.port) as (edge_port, http_port):
            players = [
                subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-i",
                                  "rtmp://127.0.0.1:%d/live/stream" % edge_port, "-t", "6",
                                  "-fps_mode", "vfr", "-f", "null", "-"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=PLAYER_ENV),
                subprocess.Popen(["ffprobe", "-v", "error", "-show_streams", "-of", "json",
                                  "http://127.0.0.1:%d/live/stream.flv" % http_port],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=PLAYER_ENV)]
            # The origin's players, sampled while both of the edge's play.
            origin_players = []
            deadline = time.monotonic() + 30
            try:
                while any(p.poll() is None for p in players) and time.monotonic() < deadline:
                    if all(p.poll() is None for p in players):
                        origin_players.append(s.stat("clients"))
                    time.sleep(0.05)
            finally:
                for p in players:
                    if p.poll() is None:
                        p.kill()
            (_, rtmp_err), (out, err) = [p.communicate() for p in players]
        s.check_no_error()
    rtmp_err, err = rtmp_err.decode(errors="replace"), err.decode(errors="replace")
    check(players[1].returncode == 0, "ffprobe of the edge's HTTP-FLV failed: %s" % err)
    codecs = sorted(x["codec_name"] for x in json.loads(out)["streams"])
    check(codecs == ["aac", "h264"], "streams of the edge's HTTP-FLV: %r" % codecs)
    check(players[0].returncode == 0, "ffmpeg through the SRS edge failed (%d): %s"
          % (players[0].returncode, rtmp_err))
    check(not decode_errors(rtmp_err), "ffmpeg through the SRS edge: %s" % decode_errors(rtmp_err))
    print("the origin's players while both of the edge's played: %s" % sorted(set(origin_players)))
    check(origin_players, "the edge's two players never played at the same time")
    check(max(origin_players) == 1, "the origin served %d players for the edge's two (one "
          "expected: the edge's own)" % max(origin_players))


if __name__ == "__main__":
    run_named_test(globals())
