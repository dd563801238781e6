#!/usr/bin/env bash
# Installs what the join-latency benchmark needs (the test packages: mpv, chromium, the browser
# tests' npm packages), builds build-bench in release mode and runs bench/join.py, which rewrites
# bench/JOIN.md. Arguments go to join.py (e.g. --repeat 3 --players model,mpv).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test
if [[ ! -f build-bench/build.ninja ]]; then
    meson setup build-bench --buildtype=release >/dev/null
fi
ninja -C build-bench
exec /usr/bin/python3 bench/join.py --build build-bench "$@"
