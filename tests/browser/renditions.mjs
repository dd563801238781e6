// Plays an hls-group's multivariant playlist with hls.js in examples/web's page in Debian's
// headless chromium (puppeteer-core), and switches between its renditions (ABR).
//
//   --mode switch: after SECONDS of play, hls.currentLevel to the level hls.js is not playing
//     (an immediate switch: hls.js drops what it buffered of the other), then after SECONDS
//     more hls.nextLevel back (a smooth switch, at the next fragment), then SECONDS more.
//   --mode abr: plays the highest level with automatic level selection on, then throttles the
//     page's network (Chrome DevTools Protocol Network.emulateNetworkConditions) to --kbps, and
//     waits for hls.js to switch down by itself.
//
// Prints one JSON object: the levels hls.js read (width, height, bitrate), each switch asked and
// when hls.js reported it done (LEVEL_SWITCHED) and the picture's size changed, the hls.js
// errors (fatal or not), the stalls (the playhead still for 500 ms or more while playing, from
// 250 ms samples) and the frames decoded; exits 0 when the run went as asked, 1 otherwise.
//
// Usage: node renditions.mjs PAGE_URL --mode switch|abr [--seconds 3] [--kbps 1500]
//        --chromium PATH --user-data-dir DIR [--timeout 60]

import { launch } from './chromium.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function option(name, fallback) {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : fallback;
}

// In the page: hooks on the page's hls.js (window.ezr.player) that record its events.
function hook() {
    const hls = window.ezr.player;
    const rec = window.rec = { errors: [], switched: [], t0: performance.now() };
    const now = () => Math.round(performance.now() - rec.t0);
    hls.on(window.Hls.Events.ERROR, (e, d) => rec.errors.push([now(), d.type, d.details, d.fatal]));
    hls.on(window.Hls.Events.LEVEL_SWITCHED, (e, d) => rec.switched.push([now(), d.level]));
    return true;
}

function state() {
    const v = document.querySelector('video');
    const hls = window.ezr.player;
    return {
        status: document.getElementById('status').textContent,
        frames: v.getVideoPlaybackQuality().totalVideoFrames,
        time: v.currentTime,
        paused: v.paused,
        width: v.videoWidth,
        height: v.videoHeight,
        level: hls ? hls.currentLevel : null,
        auto: hls ? hls.autoLevelEnabled : null,
        levels: hls && hls.levels ? hls.levels.map((l) => [l.width, l.height, l.bitrate]) : [],
        bandwidth: hls ? Math.round(hls.bandwidthEstimate) : null,
        rec: window.rec || null,
    };
}

async function main() {
    const pageUrl = process.argv[2];
    const mode = option('--mode', 'switch');
    const seconds = Number(option('--seconds', '3'));
    const kbps = Number(option('--kbps', '1500'));
    const timeout = Number(option('--timeout', '60'));
    const out = { mode, samples: [], asked: [], log: [], stalls: [] };
    const t0 = Date.now();
    const browser = await launch(option('--chromium', '/usr/bin/chromium'),
                                 option('--user-data-dir'));
    try {
        const [page] = await browser.pages();
        page.on('pageerror', (e) => out.log.push('page error: ' + e.message));
        page.on('console', (m) => out.log.push('console.' + m.type() + ': ' + m.text()));
        await page.goto(pageUrl, { waitUntil: 'load', timeout: timeout * 1000 });
        const deadline = t0 + timeout * 1000;
        let st = await page.evaluate(state);
        while (Date.now() < deadline && !(st.frames > 0 && st.levels.length)) {
            if (st.status.startsWith('error'))
                throw new Error('the page reports "' + st.status + '"');
            await sleep(250);
            st = await page.evaluate(state);
        }
        if (!(st.frames > 0))
            throw new Error('no frame within ' + timeout + ' s: ' + JSON.stringify(st));
        await page.evaluate(hook);
        out.firstFrameAfter = (Date.now() - t0) / 1000;
        out.levels = st.levels;
        const low = st.levels.reduce((b, l, i) => (l[2] < st.levels[b][2] ? i : b), 0);
        const high = st.levels.reduce((b, l, i) => (l[2] > st.levels[b][2] ? i : b), 0);
        out.low = low;
        out.high = high;
        const started = Date.now();
        let still = null; // when the playhead last moved, while playing
        let lastTime = st.time;
        // Samples every 250 ms until until() holds or ms pass; returns whether it held.
        const play = async (ms, until) => {
            const end = Date.now() + ms;
            while (Date.now() < Math.min(end, deadline)) {
                await sleep(250);
                st = await page.evaluate(state);
                const t = (Date.now() - started) / 1000;
                out.samples.push([+t.toFixed(2), st.level, st.height, st.frames, +st.time.toFixed(2),
                                  st.bandwidth]);
                if (st.status.startsWith('error'))
                    throw new Error('the page reports "' + st.status + '"');
                if (st.time !== lastTime || st.paused) {
                    if (still !== null && Date.now() - still >= 500)
                        out.stalls.push([+((still - started) / 1000).toFixed(2),
                                         (Date.now() - still) / 1000]);
                    still = null;
                    lastTime = st.time;
                } else if (still === null) {
                    still = Date.now() - 250;
                }
                if (until && until(st))
                    return true;
            }
            return !until;
        };
        const ask = async (what, level, js) => {
            out.asked.push({ what, level, at: (Date.now() - started) / 1000 });
            await page.evaluate(js, level);
        };
        const height = (i) => st.levels[i][1];
        if (mode === 'switch') {
            // Away from the level hls.js plays now at once, then back at the next fragment.
            await play(seconds * 1000);
            const first = st.level === low ? high : low;
            const second = first === low ? high : low;
            out.first = first;
            out.second = second;
            await ask('currentLevel', first, (l) => { window.ezr.player.currentLevel = l; });
            const a = Date.now();
            if (!await play(20000, (s) => s.height === height(first) && s.level === first))
                throw new Error('currentLevel = ' + first + ' not done: ' + JSON.stringify(st));
            out.asked[0].seenAfter = (Date.now() - a) / 1000;
            await play(seconds * 1000);
            await ask('nextLevel', second, (l) => { window.ezr.player.nextLevel = l; });
            const b = Date.now();
            if (!await play(20000, (s) => s.height === height(second) && s.level === second))
                throw new Error('nextLevel = ' + second + ' not done: ' + JSON.stringify(st));
            out.asked[1].seenAfter = (Date.now() - b) / 1000;
            await play(seconds * 1000);
        } else {
            // The highest level, then automatic selection from there.
            await ask('currentLevel', high, (l) => { window.ezr.player.currentLevel = l; });
            if (!await play(20000, (s) => s.height === height(high)))
                throw new Error('the highest level did not play: ' + JSON.stringify(st));
            await page.evaluate(() => { window.ezr.player.nextAutoLevel = -1;
                                        window.ezr.player.currentLevel = -1; });
            await play(seconds * 1000);
            // The control: on automatic selection, unthrottled, it is still at the highest.
            out.levelBeforeThrottle = st.level;
            out.estimateBeforeThrottle = st.bandwidth;
            const cdp = await page.createCDPSession();
            await cdp.send('Network.enable');
            await cdp.send('Network.emulateNetworkConditions', {
                offline: false, latency: 0, downloadThroughput: kbps * 1000 / 8,
                uploadThroughput: -1 });
            out.asked.push({ what: 'throttle', kbps, at: (Date.now() - started) / 1000 });
            const c = Date.now();
            if (!await play(25000, (s) => s.level === low && s.height === height(low)))
                throw new Error('hls.js did not switch down at ' + kbps + ' kbit/s: ' +
                                JSON.stringify(st));
            out.asked[1].seenAfter = (Date.now() - c) / 1000;
            await play(seconds * 1000);
        }
        st = await page.evaluate(state);
        out.framesPlayed = st.frames;
        out.rec = st.rec;
        out.ok = true;
    } catch (e) {
        out.ok = false;
        out.error = e.message;
    } finally {
        await browser.close().catch(() => browser.process().kill('SIGKILL'));
    }
    console.log(JSON.stringify(out));
    return out.ok ? 0 : 1;
}

process.exitCode = await main();
