// Measures examples/web's page playing Low-Latency HLS in Debian's headless chromium (driven by
// puppeteer-core): how long from the start of the page's navigation to its first presented frame
// (window.ezr.firstFrameMs, from requestVideoFrameCallback), and, sampled every 250 ms for
// SECONDS of play from that frame, how far behind live the frame playing is (window.ezr.latency():
// Date.now() minus the player's program date time of the playhead). Prints one JSON object
// and exits 0 when the page played (30 more frames decoded over the SECONDS), 1 when it did not.
//
// Usage: node hls.mjs PAGE_URL --chromium PATH --user-data-dir DIR [--seconds 10] [--timeout 60]

import { launch } from './chromium.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function pageState() {
    const v = document.querySelector('video');
    const q = v.getVideoPlaybackQuality();
    const b = v.buffered;
    return {
        status: document.getElementById('status').textContent,
        frames: q.totalVideoFrames,
        dropped: q.droppedVideoFrames,
        firstFrameMs: window.ezr ? window.ezr.firstFrameMs : null,
        latency: window.ezr ? window.ezr.latency() : null,
        time: v.currentTime,
        ahead: b.length ? b.end(b.length - 1) - v.currentTime : null,
        ranges: Array.from({ length: b.length }, (_, i) => [+b.start(i).toFixed(2),
                                                             +b.end(i).toFixed(2)]),
        rate: v.playbackRate,
        width: v.videoWidth,
        height: v.videoHeight,
    };
}

function option(name, fallback) {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : fallback;
}

async function main() {
    const pageUrl = process.argv[2];
    const seconds = Number(option('--seconds', '10'));
    const timeout = Number(option('--timeout', '60'));
    const out = { samples: [], log: [] };
    const t0 = Date.now();
    const browser = await launch(option('--chromium', '/usr/bin/chromium'),
                                 option('--user-data-dir'));
    try {
        out.chromium = await browser.version();
        out.startedMs = Date.now() - t0;
        const [page] = await browser.pages();
        page.on('console', async (m) => {
            let text = m.text();
            if (m.type() === 'error' && text.includes('[object')) { // the objects' contents
                const args = await Promise.all(m.args().map((a) => a.jsonValue().catch(() => '?')));
                text = args.map((a) => typeof a === 'string' ? a : JSON.stringify(a)).join(' ');
            }
            out.log.push('console.' + m.type() + ': ' + text);
        });
        page.on('pageerror', (e) => out.log.push('page error: ' + e.message));
        page.on('requestfailed', (r) => out.log.push('request failed: ' + r.url() + ' ' +
                                                     (r.failure() ? r.failure().errorText : '')));
        // The stream's requests until the first frame, in ms from the navigation's start (as
        // firstFrameMs): where the time to the first frame goes.
        const navStart = Date.now();
        out.requests = [];
        const since = () => Date.now() - navStart;
        const name = (r) => r.url().replace(/^.*\//, '');
        const keep = (r) => r.url().startsWith('http') && out.firstFrameMs === undefined &&
            out.requests.length < 60;
        page.on('request', (r) => {
            if (keep(r))
                out.requests.push([since(), 'start', name(r)]);
        });
        page.on('requestfinished', (r) => {
            if (keep(r))
                out.requests.push([since(), 'done', name(r)]);
        });
        await page.goto(pageUrl, { waitUntil: 'load', timeout: timeout * 1000 });
        const deadline = t0 + timeout * 1000;
        let st = null;
        let first = null;
        while (Date.now() < deadline) {
            st = await page.evaluate(pageState);
            if (st.status.startsWith('error') || st.status.startsWith('no stream'))
                throw new Error('the page reports "' + st.status + '"');
            if (first === null && st.firstFrameMs !== null && st.frames > 0) {
                first = { at: Date.now(), frames: st.frames };
                out.firstFrameMs = st.firstFrameMs;
                out.size = st.width + 'x' + st.height;
            }
            if (first !== null) {
                st.t = (Date.now() - first.at) / 1000;
                out.samples.push(st);
                if (st.t >= seconds)
                    break;
            }
            await sleep(250);
        }
        if (first === null)
            throw new Error('no frame within ' + timeout + ' s; last state ' + JSON.stringify(st));
        out.framesPlayed = st.frames - first.frames;
        out.dropped = st.dropped;
        out.latency = st.latency;
        if (st.t < seconds)
            throw new Error('played ' + st.t.toFixed(1) + ' s of ' + seconds + ' before the ' +
                            'deadline');
        if (out.framesPlayed < 30)
            throw new Error('only ' + out.framesPlayed + ' frames decoded in ' + seconds + ' s');
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
