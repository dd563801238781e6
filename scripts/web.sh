#!/usr/bin/env bash
# Serves examples/web (a page that plays the element's HTTP-FLV or WebSocket-FLV stream with
# mpegts.js, and its LL-HLS with hls.js) next to a running pipeline, and prints the page's URL
# with the stream filled in.
#   scripts/web.sh                                       http://localhost:1935/live/stream.flv
#   scripts/web.sh ws://localhost:1935/live/stream.flv   any stream URL
#   scripts/web.sh http://localhost:1935/live/stream/index.m3u8   LL-HLS (hls=true)
# Environment: PORT, HOST, APP, STREAM_KEY as for scripts/demo.sh (they make the default stream
# URL); WEB_PORT (default 8080) and WEB_HOST (default 127.0.0.1) for the page itself.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --web
# npm ci installs exactly the pinned players; skipped when node_modules already matches.
if [[ ! -f examples/web/node_modules/.package-lock.json ||
      examples/web/package-lock.json -nt examples/web/node_modules/.package-lock.json ]]; then
    (cd examples/web && npm ci --no-audit --no-fund)
fi

stream=${1:-http://${HOST:-localhost}:${PORT:-1935}/${APP:-live}/${STREAM_KEY:-stream}.flv}
web_host=${WEB_HOST:-127.0.0.1}
web_port=${WEB_PORT:-8080}
# The stream URL goes in the page's query string encoded, so that a ?token= in it stays its own.
encoded=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' \
    "$stream")
echo "Open http://$web_host:$web_port/index.html?src=$encoded"
echo "(plays $stream; Ctrl-C stops the page server)"
exec python3 -m http.server "$web_port" --bind "$web_host" -d examples/web
