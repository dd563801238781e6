#!/usr/bin/env bash
# Installs the test dependencies, builds, and runs every test but the long ones (with --long,
# those too: the whole run then takes the machine for well over the default's 15 minutes).
# Each build and what it runs:
#   build-test  epoll reactor (the default): unit, check, e2e but suite long; with --long, also
#               suite long (the SRS edge, built from the SRS kit first: minutes of both cores;
#               the late joiners' timestamps, suite join)
#   build-poll  poll(2) reactor (-Dreactor=poll): unit, check, and of e2e the cases where real
#               peers' partial reads and writes, stalls and garbage meet the server (suite
#               sockets: delivery, HTTP, TLS, hostile clients, floods; not the hostile
#               publishers, which the ASan build runs), and of the realistic
#               streams the 20 Mbps one; the failmalloc sweep, for the backend's own allocation
#               sites (logs testlog-poll*)
#   build-asan  epoll, AddressSanitizer + UndefinedBehaviorSanitizer: unit, check, e2e suite
#               sockets but six of the hostile publishers (asan_long below: with --long only);
#               built with the failing allocator (-Dfailmalloc=true, idle unless a test
#               arms it), it also runs the failmalloc sweep, sampled (FAILMALLOC_FULL=1: every
#               allocation)
#   The rest of e2e (commands, pipeline events, access, edges, the realistic streams, late
#   joiners, LL-HLS players) reads what players see, which the backend and the sanitizers do
#   not change, and the same code runs in both through the unit tests over real sockets
#   (unit/server, unit/replay, unit/join, unit/hls_serve, ...) and the failmalloc scenarios.
#   With --long both also run every e2e case but the long ones and the realistic streams.
#   build-fuzz  the libFuzzer targets (clang), each for FUZZ_SECONDS (default 10), at the lowest
#               priority
# The order: build-test's end-to-end cases that assert a wall-clock bound (suite timing), one at
# a time, while the other builds compile at the lowest priority; then the rest of build-test two
# at a time, and beside them, one at a time, the failmalloc sweeps and the poll and sanitizer
# builds' tests but their timing cases, and the fuzzers at the lowest priority; last the timing
# cases of the poll and sanitizer builds, one at a time with nothing beside them.
# The realistic streams' FLV fixtures are encoded once into build-test/e2e-streams and shared,
# and SRS (the edge test's) built once into build-test/peers, beside the first tests
# (tests/e2e/prepare.py).
# Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
long=0
for arg in "$@"; do
    case $arg in
        --long) long=1 ;;
        *) echo "usage: scripts/test.sh [--long]" >&2; exit 2 ;;
    esac
done
export EZRTMP_LONG=$long
# What the poll and sanitizer builds run of e2e, and what every build leaves out.
if [[ $long == 1 ]]; then
    e2e_other=(--suite e2e --no-suite streams --no-suite join --no-suite hls --no-suite long)
    e2e_poll=("${e2e_other[@]}")
    no_long=()
    asan_long=()
else
    # The poll build leaves out the hostile publishers (they are in the ASan build): about a
    # minute of set-up per case for the same reads the hostile clients make of the backend.
    e2e_poll=(--suite sockets --no-suite ingest)
    e2e_other=(--suite sockets)
    no_long=(--no-suite long)
    # Of the hostile publishers, the sanitizer build runs by default those that take large and
    # partial messages end to end (over the limit, a 16 MB sequence header, partial messages on
    # many chunk streams, a stall mid-message); these six only add length there, as its unit
    # tests and fuzzers already run their paths under the sanitizers (chunk sizes: fuzz/chunk,
    # fuzz/session and hostile_clients' players; a publish or media before connect or publish
    # and a second publisher of a key: unit/session_publish; no keyframe: a counter). The
    # default build runs all ten, and the sanitizer build with --long.
    asan_long=(e2e/ingest_chunk_size_zero e2e/ingest_chunk_size_two_to_the_31
        e2e/ingest_publish_before_connect e2e/ingest_media_before_publish
        e2e/ingest_a_thousand_publishers_of_the_same_key e2e/ingest_never_a_keyframe)
fi
export EZRTMP_FIXTURES="$PWD/build-test/e2e-streams"
# The SRS edge (tests/e2e/edges.py), built once from the SRS kit for every build's tests.
export EZRTMP_PEERS="$PWD/build-test/peers"

scripts/install-deps.sh --test || exit 1

status=0
if [[ ! -f build-test/build.ninja ]]; then
    meson setup build-test -Dtests=enabled -De2e=enabled >/dev/null || exit 1
fi
ninja -C build-test || exit 1

# The other builds compile meanwhile, at the lowest priority and one job at a time: the
# end-to-end cases that run first, one by one, mostly wait on streams in real time, so the spare
# CPU builds the rest instead of the run waiting for it afterwards.
setup_others() {
    if [[ ! -f build-poll/build.ninja ]]; then
        meson setup build-poll -Dreactor=poll -Dtests=enabled -De2e=enabled >/dev/null || return 1
    fi
    # The poll backend's own allocation sites are swept there (the injector is idle otherwise).
    meson configure build-poll -Dfailmalloc=true >/dev/null || return 1
    if [[ ! -f build-asan/build.ninja ]]; then
        meson setup build-asan -Dtests=enabled -De2e=enabled \
            -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || return 1
    fi
    meson configure build-asan -Dfailmalloc=true \
        -Dfailmalloc_full="$([[ ${FAILMALLOC_FULL:-0} != 0 ]] && echo true || echo false)" \
        >/dev/null || return 1
    if command -v clang >/dev/null && [[ ! -f build-fuzz/build.ninja ]]; then
        CC=clang meson setup build-fuzz -Dfuzzing=true -Dfuzz_seconds="${FUZZ_SECONDS:-10}" \
            -Dtests=disabled -Dgst=disabled >/dev/null || return 1
    fi
    local b
    for b in build-poll build-asan build-fuzz; do
        [[ -f $b/build.ninja ]] || continue
        nice -n 19 ninja -C $b -j 1 >"$b/prebuild.log" 2>&1 || { cat "$b/prebuild.log"; return 1; }
    done
}
setup_others &
others=$!
# The SRS edge's build and the realistic streams' fixtures, made meanwhile at the same low
# priority (a test that needs one before it is done waits for it; a failure fails that test).
nice -n 19 /usr/bin/python3 tests/e2e/prepare.py >build-test/prepare.log 2>&1 &
prepared=$!

# First the end-to-end cases that assert a wall-clock bound (a gap, a latency, a timeout's
# window: suite timing, tests/e2e/ezrtest.py's alone()), one at a time with no other test beside
# them; only the builds and the fixtures above, at the lowest priority, share the CPU with them.
meson test -C build-test --print-errorlogs --suite timing "${no_long[@]}" --logbase testlog-timing \
    || status=1
wait $others || exit 1
wait $prepared || cat build-test/prepare.log

# The timing cases (tests/e2e/meson.build puts them in suite timing) among the tests that
# `meson test -C BUILD ARGS...` would run: their names, one a line.
timing_cases() {
    local build=$1
    shift
    meson test -C "$build" --list "$@" 2>/dev/null |
        awk -F' / ' '$1 ~ /[:+]timing([+]|$)/ {print $2}'
}

# Then the rest of build-test, two at a time: cases that mostly wait on streams in real time and
# assert what players get, not when, and the unit and harness tests. Beside them, where those
# streams leave the CPU idle, the other builds' tests but their timing cases, one at a time in two
# sequences (each about two minutes, within build-test's three and a half): the poll build's
# failmalloc sweep and tests, then the sanitizer build's end-to-end cases; the sanitizer build's
# unit and harness tests and its sweep. And the libFuzzer targets (clang is installed with the
# test packages), each for a bounded time, at the lowest priority. Their output goes to logs
# printed after the wait below.
beside_poll() {
    local rc=0
    ninja -C build-poll >build-poll/ninja.log 2>&1 || { cat build-poll/ninja.log; return 1; }
    # The poll backend's allocation sites, which the epoll build (the sanitizer build's sweep)
    # does not compile. Without the sanitizers: crashes, the errors reported and the server
    # serving again are checked, leaks only in the build-asan sweep.
    meson test -C build-poll --print-errorlogs --suite failmalloc \
        --logbase testlog-poll-failmalloc >build-poll/beside.log 2>&1 || rc=1
    # The same suites through the portable reactor backend, so that both backends serve real
    # players.
    meson test -C build-poll --print-errorlogs --num-processes 1 --suite unit --suite check \
        "${e2e_poll[@]}" --no-suite timing --logbase testlog-poll >>build-poll/beside.log 2>&1 \
        || rc=1
    asan_e2e --num-processes 1 "${e2e_other[@]}" --no-suite timing \
        --logbase testlog-asan-e2e >>build-poll/beside.log 2>&1 || rc=1
    return $rc
}
beside_asan() {
    local rc=0
    ninja -C build-asan >build-asan/ninja.log 2>&1 || { cat build-asan/ninja.log; return 1; }
    # LeakSanitizer on for both: any definite leak fails the test. The sweep: every allocation
    # site of the library made to fail in some scenario.
    UBSAN_OPTIONS=$ubsan ASAN_OPTIONS=detect_leaks=1 \
        meson test -C build-asan --print-errorlogs --num-processes 1 --suite unit --suite check \
        --logbase testlog-asan >build-asan/beside.log 2>&1 || rc=1
    UBSAN_OPTIONS=$ubsan ASAN_OPTIONS=detect_leaks=1 \
        meson test -C build-asan --print-errorlogs --suite failmalloc \
        --logbase testlog-failmalloc >>build-asan/beside.log 2>&1 || rc=1
    return $rc
}
# The end-to-end tests under the sanitizers load the instrumented plugin into Python and gst
# tools, so their runtimes are preloaded; leak detection stays with the tests above (Python
# never frees all).
ubsan=halt_on_error=1:print_stacktrace=1
asan_e2e() {
    UBSAN_OPTIONS=$ubsan ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 \
        LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
        meson test -C build-asan --print-errorlogs "$@"
}
fuzz() {
    command -v clang >/dev/null || return 0
    ninja -C build-fuzz >build-fuzz/ninja.log 2>&1 || { cat build-fuzz/ninja.log; return 1; }
    nice -n 19 meson test -C build-fuzz --print-errorlogs --suite fuzz >build-fuzz/fuzz-run.log 2>&1
}
beside_poll &
poll_beside=$!
beside_asan &
asan_beside=$!
fuzz &
fuzzing=$!
meson test -C build-test --print-errorlogs --num-processes 2 --no-suite timing "${no_long[@]}" \
    || status=1
wait $poll_beside || status=1
wait $asan_beside || status=1
wait $fuzzing || status=1
cat build-poll/beside.log build-asan/beside.log
grep -ho 'failmalloc: [0-9]* of [0-9]* allocation sites failed' \
    build-poll/meson-logs/testlog-poll-failmalloc.txt | sed 's/$/ (poll backend build)/'
grep -ho 'failmalloc: [0-9]* of [0-9]* allocation sites failed' \
    build-asan/meson-logs/testlog-failmalloc.txt
[[ -f build-fuzz/fuzz-run.log ]] && cat build-fuzz/fuzz-run.log

# Last, with nothing else beside them, the timing cases of the poll and sanitizer builds, one at
# a time; and through the poll backend, of the realistic streams the one at 20 Mbps: the most
# partial writes the backend must resume.
mapfile -t cases < <(timing_cases build-poll "${e2e_poll[@]}")
if [[ ${#cases[@]} -gt 0 ]]; then
    meson test -C build-poll --print-errorlogs "${cases[@]}" --logbase testlog-poll-timing \
        || status=1
fi
meson test -C build-poll --print-errorlogs e2e/streams_1080p30_20mbps_gop2_snow_late_joiner \
    --logbase testlog-poll-streams || status=1
mapfile -t cases < <(timing_cases build-asan "${e2e_other[@]}" |
    grep -vxF -f <(printf '%s\n' "${asan_long[@]}"))
if [[ ${#cases[@]} -gt 0 ]]; then
    asan_e2e "${cases[@]}" --logbase testlog-asan-timing || status=1
fi
exit $status
