// Plays the stream named by the page's `src` query parameter and shows what happened: a status
// line (playing, or the error), the frames the browser decoded and, for HLS, how far behind live
// the picture is. An FLV URL (http://.../live/stream.flv or ws://...) plays with mpegts.js; an
// HLS playlist (http://.../live/stream/index.m3u8) with hls.js in low-latency mode, or with
// shaka-player when the page is opened with player=shaka.
//
// For tests and the curious, window.ezr holds what the page measured: firstFrameMs (from the
// start of the page's navigation to the first decoded frame presented) and latency() (seconds
// from the program date time of the frame playing now to this moment, HLS only).
'use strict';

(function () {
    const video = document.getElementById('video');
    const statusEl = document.getElementById('status');
    const framesEl = document.getElementById('frames');
    const droppedEl = document.getElementById('dropped');
    const latencyEl = document.getElementById('latency');
    const ezr = window.ezr = { player: null, firstFrameMs: null, latency: function () {
        return null;
    } };

    function setStatus(text, isError) {
        statusEl.textContent = text;
        statusEl.className = isError ? 'error' : '';
    }

    function isError() {
        return statusEl.classList.contains('error');
    }

    // A token in the stream URL must reach us encoded (src=...%3Ftoken%3D...) or it would be
    // read as a parameter of this page; URLSearchParams decodes it back.
    const params = new URLSearchParams(window.location.search);
    const src = params.get('src');
    document.getElementById('src').textContent = src || '';
    if (!src) {
        setStatus('no stream: open this page as index.html?src=http://127.0.0.1:1935/live/' +
                  'stream.flv (HTTP-FLV), ws://127.0.0.1:1935/live/stream.flv (WebSocket-FLV) ' +
                  'or http://127.0.0.1:1935/live/stream/index.m3u8 (LL-HLS)', true);
        return;
    }

    video.addEventListener('playing', function () { setStatus('playing', false); });
    video.addEventListener('waiting', function () {
        if (!isError())
            setStatus('buffering', false);
    });
    // The first frame the browser presents: requestVideoFrameCallback where there is one, else
    // the first `playing`.
    function firstFrame() {
        if (ezr.firstFrameMs === null)
            ezr.firstFrameMs = performance.now();
    }
    if (video.requestVideoFrameCallback)
        video.requestVideoFrameCallback(firstFrame);
    else
        video.addEventListener('playing', firstFrame, { once: true });

    function startVideo() {
        const started = video.play();
        if (started && started.catch) {
            started.catch(function (e) {
                // A stream that failed to load also refuses play(); keep the error that says why.
                if (!isError())
                    setStatus('error: play() refused: ' + e.message, true);
            });
        }
    }

    function playFlv() {
        if (typeof mpegts === 'undefined') {
            setStatus('error: mpegts.js did not load (run npm install in examples/web)', true);
            return;
        }
        if (!mpegts.getFeatureList().mseLivePlayback) {
            setStatus('error: this browser cannot play live streams through Media Source ' +
                      'Extensions', true);
            return;
        }
        const player = mpegts.createPlayer({ type: 'flv', isLive: true, url: src }, {
            // Hand each chunk to the decoder as it arrives and skip ahead when the buffer grows:
            // a live stream should stay live rather than smooth.
            enableStashBuffer: false,
            liveBufferLatencyChasing: true,
            // Play a little faster (1.2x) while more than half a second is buffered, back to
            // normal at 0.3 s: a player that fell behind (it joined mid-GOP and stalled while
            // decoding the server's fast-forward, or the network hiccuped) creeps back to the
            // live edge without the jump that latency chasing makes only past 1.5 s.
            liveSync: true,
            liveSyncMaxLatency: 0.5,
            liveSyncTargetLatency: 0.3,
            liveSyncPlaybackRate: 1.2,
        });
        ezr.player = player;
        player.on(mpegts.Events.ERROR, function (type, detail, info) {
            let text = 'error: ' + type + ' ' + detail;
            if (info && (info.code !== undefined || info.msg)) {
                text += ' (' + [info.code, info.msg].filter(function (x) {
                    return x !== undefined && x !== -1 && x !== '';
                }).join(' ') + ')';
            }
            setStatus(text, true);
        });
        player.on(mpegts.Events.LOADING_COMPLETE, function () {
            setStatus('stream ended', false);
        });
        player.attachMediaElement(video);
        player.load();
        setStatus('connecting', false);
        startVideo();
        window.addEventListener('pagehide', function () { player.destroy(); });
    }

    function latencyFrom(date) {
        return date ? (Date.now() - date.getTime()) / 1000 : null;
    }

    function playHlsJs() {
        if (typeof Hls === 'undefined') {
            setStatus('error: hls.js did not load (run npm install in examples/web)', true);
            return;
        }
        if (!Hls.isSupported()) {
            setStatus('error: this browser cannot play HLS through Media Source Extensions',
                      true);
            return;
        }
        // Low-latency mode: parts, blocking playlist reloads and preload hints. hls.js starts at
        // the independent part before its target (PART-HOLD-BACK from the live edge), so up to a
        // GOP further behind, and plays faster (here up to 1.5x) only while more than 1 s is
        // buffered: one seek to its live sync position once playing puts it at its target. CMAF
        // needs no transmuxing, and its worker (hls.js again, started from a blob) only delays the
        // first part.
        const hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5,
                              enableWorker: false });
        video.addEventListener('playing', function () {
            const sync = hls.liveSyncPosition;
            if (sync != null && video.currentTime < sync - 0.1)
                video.currentTime = sync;
        }, { once: true });
        ezr.player = hls;
        ezr.latency = function () { return latencyFrom(hls.playingDate); };
        hls.on(Hls.Events.ERROR, function (event, data) {
            if (data.fatal)
                setStatus('error: ' + data.type + ' ' + data.details, true);
            else
                console.warn('hls.js: ' + data.type + ' ' + data.details);
        });
        hls.loadSource(src);
        hls.attachMedia(video);
        setStatus('connecting', false);
        startVideo();
        window.addEventListener('pagehide', function () { hls.destroy(); });
    }

    function playShaka() {
        if (typeof shaka === 'undefined') {
            setStatus('error: shaka-player did not load (run npm install in examples/web)',
                      true);
            return;
        }
        shaka.polyfill.installAll();
        if (!shaka.Player.isBrowserSupported()) {
            setStatus('error: this browser cannot play HLS with shaka-player', true);
            return;
        }
        const player = new shaka.Player();
        ezr.player = player;
        ezr.latency = function () { return latencyFrom(player.getPlayheadTimeAsDate()); };
        player.configure({ streaming: { lowLatencyMode: true } });
        player.addEventListener('error', function (e) {
            setStatus('error: shaka ' + e.detail.code + ' ' + e.detail.message, true);
        });
        setStatus('connecting', false);
        player.attach(video).then(function () {
            return player.load(src);
        }).then(startVideo).catch(function (e) {
            setStatus('error: shaka ' + e.code + ' ' + (e.message || ''), true);
        });
        window.addEventListener('pagehide', function () { player.destroy(); });
    }

    // Only the library this stream needs is loaded; one that is missing is reported by its
    // player function.
    function load(script, then) {
        const el = document.createElement('script');
        el.src = 'node_modules/' + script;
        el.onload = el.onerror = then;
        document.head.appendChild(el);
    }
    const isHls = /\.m3u8$/.test(new URL(src, window.location.href).pathname);
    if (isHls && params.get('player') === 'shaka')
        load('shaka-player/dist/shaka-player.compiled.js', playShaka);
    else if (isHls)
        load('hls.js/dist/hls.min.js', playHlsJs);
    else
        load('mpegts.js/dist/mpegts.js', playFlv);

    setInterval(function () {
        if (video.getVideoPlaybackQuality) {
            const q = video.getVideoPlaybackQuality();
            framesEl.textContent = String(q.totalVideoFrames);
            droppedEl.textContent = String(q.droppedVideoFrames);
        }
        const l = ezr.latency();
        latencyEl.textContent = l === null ? '-' : l.toFixed(2) + ' s';
    }, 500);
})();
