// Plays the FLV stream named by the page's `src` query parameter with mpegts.js and shows what
// happened: a status line (playing, or the error) and the frames the browser decoded.
'use strict';

(function () {
    const video = document.getElementById('video');
    const statusEl = document.getElementById('status');
    const framesEl = document.getElementById('frames');
    const droppedEl = document.getElementById('dropped');

    function setStatus(text, isError) {
        statusEl.textContent = text;
        statusEl.className = isError ? 'error' : '';
    }

    // A token in the stream URL must reach us encoded (src=...%3Ftoken%3D...) or it would be
    // read as a parameter of this page; URLSearchParams decodes it back.
    const src = new URLSearchParams(window.location.search).get('src');
    document.getElementById('src').textContent = src || '';
    if (!src) {
        setStatus('no stream: open this page as ' +
                  'index.html?src=http://127.0.0.1:1935/live/stream.flv', true);
        return;
    }
    if (typeof mpegts === 'undefined') {
        setStatus('error: mpegts.js did not load (run npm install in examples/web)', true);
        return;
    }
    if (!mpegts.getFeatureList().mseLivePlayback) {
        setStatus('error: this browser cannot play live streams through Media Source Extensions',
                  true);
        return;
    }

    const player = mpegts.createPlayer({ type: 'flv', isLive: true, url: src }, {
        // Hand each chunk to the decoder as it arrives and skip ahead when the buffer grows:
        // a live stream should stay live rather than smooth.
        enableStashBuffer: false,
        liveBufferLatencyChasing: true,
        // Play a little faster (1.2x) while more than half a second is buffered, back to normal
        // at 0.3 s: a player that fell behind (it joined mid-GOP and stalled while decoding the
        // server's fast-forward, or the network hiccuped) creeps back to the live edge without
        // the jump that latency chasing makes only past 1.5 s.
        liveSync: true,
        liveSyncMaxLatency: 0.5,
        liveSyncTargetLatency: 0.3,
        liveSyncPlaybackRate: 1.2,
    });

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
    video.addEventListener('playing', function () { setStatus('playing', false); });
    video.addEventListener('waiting', function () {
        if (!statusEl.classList.contains('error'))
            setStatus('buffering', false);
    });

    player.attachMediaElement(video);
    player.load();
    setStatus('connecting', false);
    const started = player.play();
    if (started && started.catch) {
        started.catch(function (e) {
            // A stream that failed to load also refuses play(); keep the error that says why.
            if (!statusEl.classList.contains('error'))
                setStatus('error: play() refused: ' + e.message, true);
        });
    }

    setInterval(function () {
        if (!video.getVideoPlaybackQuality)
            return;
        const q = video.getVideoPlaybackQuality();
        framesEl.textContent = String(q.totalVideoFrames);
        droppedEl.textContent = String(q.droppedVideoFrames);
    }, 500);

    window.addEventListener('pagehide', function () { player.destroy(); });
})();
