#!/usr/bin/env bash
# Installs the Debian 12 packages ezrtmp needs. `install-deps.sh` alone: build and run;
# `install-deps.sh --test`: also what the tests use (ffmpeg, rtmpdump, python3-gi, clang, ...);
# `install-deps.sh --bench`: the test packages and gnuplot, for bench/run.sh.
# `install-deps.sh --web`: Node.js and npm, for scripts/web.sh (--test and --bench include them).
# --test also installs the browser tests' and the web page's npm packages (npm ci).
# Does nothing when everything is already installed, so reruns are fast.
set -euo pipefail

packages=(
    meson ninja-build pkg-config gcc libc6-dev libssl-dev
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
    gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
    gstreamer1.0-plugins-base-apps
)
if [[ "${1:-}" == "--test" || "${1:-}" == "--bench" ]]; then
    # python3-gst-1.0: the overrides that turn GstValueArray (the stats' client-list) into a list.
    packages+=(ffmpeg rtmpdump python3 python3-gi python3-gst-1.0 gir1.2-gstreamer-1.0
               gir1.2-gst-plugins-base-1.0
               nginx libnginx-mod-rtmp clang libclang-rt-14-dev
               prometheus # promtool checks the /metrics answer
               # What the SRS kit's build.sh needs (the SRS edge test builds SRS from it).
               g++ make patch unzip perl automake autoconf)
    # The TLS tests make their certificates with the openssl command.
    command -v openssl >/dev/null || packages+=(openssl)
fi
if [[ "${1:-}" == "--bench" ]]; then
    # The plots; mpv, which the join-latency benchmark (bench/join.py) plays with.
    packages+=(gnuplot-nox mpv)
fi
if [[ "${1:-}" == "--test" || "${1:-}" == "--bench" || "${1:-}" == "--web" ]]; then
    # Debian 12's nodejs and npm, unless a node and npm are installed already (e.g. a newer
    # Node.js from another source, whose nodejs package conflicts with Debian's npm).
    command -v node >/dev/null || packages+=(nodejs)
    command -v npm >/dev/null || packages+=(npm)
fi
if [[ "${1:-}" == "--test" || "${1:-}" == "--bench" ]]; then
    # Headless browser tests (tests/browser) drive Debian's chromium, never a downloaded one.
    packages+=(chromium)
    # tests/e2e/test_hls.py plays the LL-HLS stream with VLC (cvlc, its HLS, MP4 and decoder
    # plugins).
    packages+=(vlc-bin vlc-plugin-base)
fi

# npm ci installs exactly the committed package-lock.json; skipped when node_modules matches it.
npm_installs() {
    [[ "${1:-}" == "--test" || "${1:-}" == "--bench" ]] || return 0
    local dir
    for dir in tests/browser examples/web; do
        if [[ ! -f "$dir/node_modules/.package-lock.json" ||
              "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
            (cd "$dir" && npm ci --no-audit --no-fund)
        fi
    done
}
cd "$(dirname "$0")/.."

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    npm_installs "${1:-}"
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    sudo=(sudo)
fi
echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
npm_installs "${1:-}"
