#!/usr/bin/env bash
# Installs what is needed, builds ezrtmp, and serves a stream over RTMP until Ctrl-C.
#   scripts/demo.sh              test pattern + tone, encoded with x264enc and avenc_aac
#   scripts/demo.sh movie.mp4    that file instead (video re-encoded to H.264, audio to AAC)
# Environment: PORT (default 1935), HOST (default localhost), APP, STREAM_KEY.
# Browsers play it too (http=true): HTTP-FLV, WebSocket-FLV and Low-Latency HLS (hls=true) on
# the same port, see scripts/web.sh for a page.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
if [[ ! -f build/build.ninja ]]; then
    meson setup build >/dev/null
fi
ninja -C build >/dev/null

export GST_PLUGIN_PATH="$PWD/build/gst${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
port=${PORT:-1935}
host=${HOST:-localhost}
app=${APP:-live}
key=${STREAM_KEY:-stream}
sink="ezrtmpserversink host=$host port=$port app=$app stream-key=$key http=true hls=true"
h264="x264enc tune=zerolatency speed-preset=veryfast key-int-max=30 bitrate=1500 ! h264parse"

if [[ $# -ge 1 ]]; then
    file=$1
    [[ -r "$file" ]] || { echo "cannot read $file" >&2; exit 1; }
    # Audio only if the file has some: flvmux would wait for an audio pad that never gets data.
    if gst-discoverer-1.0 "$file" 2>/dev/null | grep -qE "^ *audio( #[0-9]+)?:"; then
        audio="d. ! queue ! audioconvert ! audioresample ! avenc_aac ! aacparse ! mux."
    else
        audio=""
    fi
    pipeline="filesrc location=\"$file\" ! decodebin name=d \
        d. ! queue ! videoconvert ! $h264 ! flvmux name=mux streamable=true ! $sink $audio"
else
    pipeline="videotestsrc is-live=true pattern=smpte ! video/x-raw,width=1280,height=720,framerate=30/1 \
        ! videoconvert ! $h264 ! flvmux name=mux streamable=true ! $sink \
        audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=44100,channels=2 \
        ! avenc_aac ! aacparse ! mux."
fi

echo "Serving on rtmp://$host:$port/$app/$key"
echo "  HTTP-FLV:       http://$host:$port/$app/$key.flv"
echo "  LL-HLS:         http://$host:$port/$app/$key/index.m3u8   (Safari, TVs, hls.js, ExoPlayer)"
# The README says ffplay, which a fresh Debian 12 does not have: name what is there instead, and
# what to install (this script installs only what it needs to serve).
if command -v ffplay >/dev/null; then
    echo "Watch it with:  ffplay rtmp://$host:$port/$app/$key"
else
    echo "ffplay is not installed ('sudo apt-get install ffmpeg' brings it; mpv and vlc play it too)."
    echo "Watch it now with:  gst-play-1.0 rtmp://$host:$port/$app/$key"
fi
echo "In a browser:   scripts/web.sh (HTTP-FLV, WebSocket-FLV or LL-HLS)"
eval exec gst-launch-1.0 -e $pipeline
