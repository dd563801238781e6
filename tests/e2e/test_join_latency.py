"""A late joiner plays at the live edge (issue 19), at the element's default sync-method: real
players join issue 19's stream (720p30, 2 Mbps, a 4 s GOP, x264enc tune=zerolatency) 3.5 s
after a keyframe, and right after the next one; 5 s later the first may be at most 250 ms
further behind live than the second. joinlatency.py is the instrument (bench/join.py runs it
for every method and writes bench/JOIN.md).

Chromium's case is test_join_browser.py's, registered with the browser tests.

Run as: test_join_latency.py CASE (meson registers each case as its own test)."""

import joinlatency as jl
from ezrtest import check, run_named_test

STREAM = "720p30_2mbps_gop4"
TARGET = 0.25  # the most a 3.5 s-in joiner may be further behind than one right after a keyframe
FIRST_PICTURE = 0.1  # connect to first keyframe
AV_GAP = 0.15  # newest audio to newest video timestamp a player holds
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


def test_join_model_player_latency_first_picture_timestamps():
    """The timestamp-paced model player: the latency target, and for both joins the first
    keyframe within 100 ms of the connect, no timestamp going back, audio and video together."""
    late, base = late_and_baseline("model")
    checks = [j.player.checks(j.result) for j in (late, base)]
    for j, c in zip((late, base), checks):
        print("%.2f s in: first keyframe %.0f ms after the connect; newest audio and video at "
              "most %.0f ms apart; timestamps going back: %s" % (
                  j.phase, c["first_key"] * 1000, c["av_gap"] * 1000, c["backwards"]),
              flush=True)
    for c in checks:
        check(c["first_key"] <= FIRST_PICTURE, "the first keyframe came %.0f ms after the "
              "connect (at most %.0f)" % (c["first_key"] * 1000, FIRST_PICTURE * 1000))
        b = c["backwards"]
        check(b is None, b and "%s timestamps went back from %d to %d ms" % b)
        check(c["av_gap"] <= AV_GAP, "the newest audio and video timestamps held were %.0f ms "
              "apart (at most %.0f)" % (c["av_gap"] * 1000, AV_GAP * 1000))
    check_target(late, base)


def test_join_rtmp2src_latency():
    late, base = late_and_baseline("rtmp2src")
    for j in (late, base):
        check(j.result["error"] is None, "rtmp2src's pipeline failed: %s" % j.result["error"])
    check_target(late, base)


def test_join_mpv_latency():
    check_target(*late_and_baseline("mpv"))


def test_join_ffmpeg_decodes_late_join_clean():
    gop = jl.STREAMS[STREAM]["gop_s"]
    done, _ = jl.measure(STREAM, [("ffmpeg", 0, gop - jl.LATE_MARGIN)])
    j = done[0]
    print("ffmpeg joined %.3f s after a keyframe, decoded %d frames in %.0f s, exit %d; errors: "
          "%r" % (j.phase, j.result["frames"], j.player.run_for, j.result["rc"],
                  j.result["errors"]), flush=True)
    check_phase(j)
    check(j.result["errors"] == "", "ffmpeg -v error said: %s" % j.result["errors"])
    check(j.result["rc"] == 0, "ffmpeg exited with %d" % j.result["rc"])
    # At least the live frames of its run, whatever it did with the replay.
    check(j.result["frames"] >= jl.FPS * (j.player.run_for - 1), "ffmpeg decoded only %d frames"
          % j.result["frames"])


if __name__ == "__main__":
    run_named_test(globals())
