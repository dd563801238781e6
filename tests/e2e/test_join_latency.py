"""A late joiner plays at the live edge (issue 19), at the element's default sync-method: real
players join issue 19's stream (720p30, 2 Mbps, a 4 s GOP, x264enc tune=zerolatency) 3.5 s
after a keyframe, and right after the next one; 5 s later the first may be at most 250 ms
further behind live than the second. joinlatency.py is the instrument (bench/join.py runs it
for every method and writes bench/JOIN.md).

Chromium's case is test_join_browser.py's, registered with the browser tests. The model
player's latency, first picture and timestamps, and ffmpeg's clean decode of the same join, are
test_join.py's (its model player and ffmpeg cases), so they are not measured twice here.

Run as: test_join_latency.py CASE (meson registers each case as its own test)."""

import joinlatency as jl
from ezrtest import check, run_named_test

STREAM = "720p30_2mbps_gop4"
TARGET = 0.25  # the most a 3.5 s-in joiner may be further behind than one right after a keyframe
# A join is on time when it is this close to the moment asked for; one further off measured
# something else (the machine was too busy to start the player on time) and fails.
PHASE_TOLERANCE = 0.3


def check_phase(j):
    check(j.phase is not None and abs(j.phase - j.phase_wanted) <= PHASE_TOLERANCE,
          "%s joined %s s after a keyframe, not %.2f s: the measurement is off (a busy "
          "machine?)" % (j.kind, j.phase and round(j.phase, 3), j.phase_wanted))


def late_and_baseline(kind):
    """kind joins 3.5 s into GOP 0 and right after the keyframe of GOP 1 (both play at once);
    returns both Joins, printed and checked for being on time, and the server."""
    gop = jl.STREAMS[STREAM]["gop_s"]
    done, server = jl.measure(STREAM, [(kind, 0, gop - jl.LATE_MARGIN),
                                       (kind, 1, jl.RIGHT_AFTER)])
    late, base = sorted(done, key=lambda j: j.gop)
    for j in (late, base):
        print("%s joined %.3f s after a keyframe: %s ms behind live %.0f s later "
              "(%d presentations)" % (kind, j.phase, j.latency and round(j.latency * 1000),
                                      jl.MEASURE_AT, len(j.samples)), flush=True)
    for j in (late, base):
        check_phase(j)
        check(j.latency is not None, "%s presented nothing %.0f s after it joined %.2f s after "
              "a keyframe" % (kind, jl.MEASURE_AT, j.phase))
    return late, base


def check_target(late, base):
    diff = late.latency - base.latency
    check(diff <= TARGET, "%s joining %.2f s after a keyframe is %.0f ms behind live, %.0f ms "
          "more than joining %.2f s after one (at most %.0f ms more)" % (
              late.kind, late.phase, late.latency * 1000, diff * 1000, base.phase,
              TARGET * 1000))


def test_join_rtmp2src_latency():
    late, base = late_and_baseline("rtmp2src")
    for j in (late, base):
        check(j.result["error"] is None, "rtmp2src's pipeline failed: %s" % j.result["error"])
    check_target(late, base)


def test_join_mpv_latency():
    check_target(*late_and_baseline("mpv"))


if __name__ == "__main__":
    run_named_test(globals())
