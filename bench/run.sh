#!/usr/bin/env bash
# Installs what the benchmark needs (Debian packages: the test set, nginx with its RTMP module,
# gnuplot), builds build-bench in release mode and runs bench/run.py, which builds SRS from its
# kit when it is beside the checkout and rewrites bench/RESULTS.md and its plots. Arguments go to
# run.py (e.g. --ns 100,1000).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --bench
if [[ ! -f build-bench/build.ninja ]]; then
    meson setup build-bench --buildtype=release >/dev/null
fi
ninja -C build-bench
# --join [ARGS]: the late joiners' latency at real players instead (bench/join.py, JOIN.md).
[[ "${1:-}" == "--join" ]] && exec /usr/bin/python3 bench/join.py --build build-bench "${@:2}"
# --ttfk-probe [ARGS]: the time to first keyframe at 10,000 players, at the load client and at
# a lone probe beside it (bench/ttfk_probe.py).
[[ "${1:-}" == "--ttfk-probe" ]] && exec /usr/bin/python3 bench/ttfk_probe.py --build build-bench "${@:2}"
# --hls-players [ARGS]: LL-HLS latency and first frame at hls.js and shaka-player in headless
# chromium (bench/hls_players.py, RESULTS-hls.md; npm ci in bench/hls when needed).
[[ "${1:-}" == "--hls-players" ]] && exec /usr/bin/python3 bench/hls_players.py --build build-bench "${@:2}"
# --hls-peers [ARGS]: HLS latency at hls.js (and CPU per GB at the load client) of the element
# against hlssink2 + nginx, nginx-rtmp's hls and SRS 6's (bench/hls_peers.py, RESULTS-hls.md).
[[ "${1:-}" == "--hls-peers" ]] && exec /usr/bin/python3 bench/hls_peers.py --build build-bench "${@:2}"
# --hls-cdn [ARGS]: 1,000 LL-HLS viewers through Debian's nginx as a caching edge and 1,000
# direct: origin requests per part, latency, CPU per GB against HTTP-FLV (bench/hls_cdn.py,
# RESULTS-hls.md).
[[ "${1:-}" == "--hls-cdn" ]] && exec /usr/bin/python3 bench/hls_cdn.py --build build-bench "${@:2}"
# --compare-builds OLD_BUILD [ARGS]: server CPU of an old build (e.g. of an older commit in a
# worktree of its own, meson setup --buildtype=release) against build-bench, taking turns
# (bench/compare_builds.py, RESULTS-hls.md).
[[ "${1:-}" == "--compare-builds" ]] && exec /usr/bin/python3 bench/compare_builds.py --old "$2" --new build-bench "${@:3}"
# --count-instructions OLD_BUILD [ARGS]: instructions per call of a hot function of an old build
# (e.g. of an older commit, meson setup --buildtype=release) against build-bench, counted by
# callgrind in the server: by default the fan-out's per player per frame (--protocol http-flv or
# rtmp); --protocol ll-hls: the reactor thread's per LL-HLS request (bench/count_instructions.py).
[[ "${1:-}" == "--count-instructions" ]] && exec /usr/bin/python3 bench/count_instructions.py --old "$2" --new build-bench "${@:3}"
# --ingest [ARGS]: one publisher (ffmpeg, 8 Mbps) through the restreamer line
# (ezrtmpserversrc ! ezrtmpserversink) to 1,000 players, against nginx-rtmp and SRS relaying
# the same (bench/ingest.py, RESULTS-ingest.md).
[[ "${1:-}" == "--ingest" ]] && exec /usr/bin/python3 bench/ingest.py --build build-bench "${@:2}"
exec /usr/bin/python3 bench/run.py --build build-bench "$@"
