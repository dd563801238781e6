"""Counts meson's test logs (testlog*.json, one JSON object a line) for .ci/run.

Meson marks a TAP test SKIP only when every one of its cases skips, and OK when some pass and
the rest skip: counted per meson test, a binary whose IPv6 cases skip would read as passed. So a
TAP test counts case by case from its output: "ok" passed, "ok ... # SKIP" skipped, "not ok"
failed ("# TODO" cases as meson counts them: an expected failure passes, an unexpected pass
fails). A TAP test that meson failed without a failing case (a crash, a timeout, a wrong plan)
adds one failure. Every other test counts once by meson's result.

Prints each skipped case or test with its reason, then the closing line
"N passed, N failed" followed by ", N skipped" when any skipped. STATUS in the environment is the
test run's exit status: a failed run that ran no failing test (setup or build) counts one
failure, or the line would read as clean."""

import json
import os
import re
import sys

TAP_PLAN = re.compile(r"^1\.\.\d+", re.M)
TAP_CASE = re.compile(r"^(not ok|ok)\b\s*(\d*)\s*-?\s*(.*)$")
DIRECTIVE = re.compile(r"\s#\s*(SKIP|TODO)\b\s*(.*)$", re.I)
PASS_RESULTS = ("OK", "EXPECTEDFAIL")


def tap_cases(stdout):
    """(status, name, reason) per TAP case line: status passed, failed or skipped. None when
    the output is not TAP."""
    if not stdout or not TAP_PLAN.search(stdout):
        return None
    cases = []
    for line in stdout.splitlines():
        m = TAP_CASE.match(line.strip())
        if not m:
            continue
        ok, rest = m.group(1) == "ok", m.group(3)
        d = DIRECTIVE.search(rest)
        name = rest[:d.start()].strip() if d else rest.strip()
        kind = d.group(1).upper() if d else None
        if kind == "SKIP":
            cases.append(("skipped", name, d.group(2).strip()))
        elif kind == "TODO":  # expected to fail: a failure is fine, a pass is news
            cases.append(("passed" if not ok else "failed", name, None))
        else:
            cases.append(("passed" if ok else "failed", name, None))
    return cases


def skip_reason(stdout):
    for line in (stdout or "").splitlines():
        if line.startswith("SKIP:"):
            return line[5:].strip()
    return "exit status 77"


def count(paths):
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    skipped = []
    for path in sorted(paths):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                t = json.loads(line)
                name = t.get("name", "?").split(" / ")[-1]
                where = "%s (%s)" % (name, os.path.basename(os.path.dirname(os.path.dirname(
                    os.path.abspath(path)))))
                result = t.get("result")
                cases = tap_cases(t.get("stdout"))
                if cases:
                    for status, case, reason in cases:
                        totals[status] += 1
                        if status == "skipped":
                            skipped.append("%s: %s: %s" % (where, case, reason or "no reason"))
                    if result not in PASS_RESULTS + ("SKIP",) and not any(
                            c[0] == "failed" for c in cases):
                        totals["failed"] += 1
                elif result in PASS_RESULTS:
                    totals["passed"] += 1
                elif result == "SKIP":
                    totals["skipped"] += 1
                    skipped.append("%s: %s" % (where, skip_reason(t.get("stdout"))))
                else:
                    totals["failed"] += 1
    return totals, skipped


def main():
    totals, skipped = count(sys.argv[1:])
    if os.environ.get("STATUS", "0") != "0" and totals["failed"] == 0:
        totals["failed"] = 1
    for s in skipped:
        print("skipped: " + s)
    line = "%d passed, %d failed" % (totals["passed"], totals["failed"])
    if totals["skipped"]:
        line += ", %d skipped" % totals["skipped"]
    print(line)


if __name__ == "__main__":
    main()
