"""Edges pulling from the element: an existing engine in front of it serves its own players, the
way users scale out (README, "Scaling out"). nginx-rtmp (`pull`) here; SRS (`cluster { mode
remote; }`) is test_srs_edge.py's, in the long run (scripts/test.sh --long), as it is built
from the SRS kit first.
A late joiner through nginx under each sync-method is test_join.py's.
Run as: test_edges.py TEST_NAME (meson registers each name as its own test)."""

import json

from edges import nginx_edge
from ezrtest import Server, check, run, run_named_test


def test_nginx_edge_pull():
    """nginx-rtmp as an edge pulling from the element; a player reads the stream from nginx."""
    with Server() as s:
        s.wait_video_frames(1)
        with nginx_edge(s.port) as edge_port:
            rc, out, err = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json",
                                "rtmp://127.0.0.1:%d/live/stream" % edge_port], 30)
            check(rc == 0, "ffprobe through nginx failed: %s" % err)
            streams = json.loads(out)["streams"]
            codecs = sorted(x["codec_name"] for x in streams)
            check(codecs == ["aac", "h264"], "streams through nginx: %r" % codecs)
            check(s.stat("clients-total") >= 1, "nginx never played from the origin")


if __name__ == "__main__":
    run_named_test(globals())
