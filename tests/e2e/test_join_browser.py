"""Issue 19's latency target for chromium with mpegts.js over HTTP-FLV (examples/web's page), as
test_join_latency.py checks it for the other players: how far video.currentTime is behind the
end of what is buffered, 5 s after joining 3.5 s into a GOP, is at most 250 ms above that of a
join right after a keyframe. Registered with the browser tests (it needs node and chromium).

Run as: test_join_browser.py join_chromium_latency"""

import os

from ezrtest import check, run_named_test
from joinlatency import SOURCE_ROOT
from test_join_latency import check_target, late_and_baseline


def test_join_chromium_latency():
    for d in (os.path.join(SOURCE_ROOT, "examples", "web", "node_modules", "mpegts.js"),
              os.path.join(SOURCE_ROOT, "tests", "browser", "node_modules", "puppeteer-core")):
        check(os.path.isdir(d), "%s is missing: run scripts/install-deps.sh --test" % d)
    check_target(*late_and_baseline("chromium"))


if __name__ == "__main__":
    run_named_test(globals())
