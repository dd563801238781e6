// The browser of the join-latency instrument (tests/e2e/joinlatency.py): Debian's headless
// chromium opens examples/web's page (mpegts.js) playing STREAM_URL, but holds the page's request
// for the stream until a line on stdin says to join (READY is printed once it holds it), so that
// the join is on time however long the browser and the page took to start. From then on it
// samples the page's <video> every 50 ms for SECONDS: how far currentTime is behind the end of
// what is buffered. It prints the samples as one JSON object. Times are process.hrtime
// (CLOCK_MONOTONIC, the clock the measuring process reads).
//
// Usage: node join.mjs PAGE_URL STREAM_URL SECONDS --chromium PATH --user-data-dir DIR

import { createInterface } from 'node:readline';
import { launch } from './chromium.mjs';

const now = () => Number(process.hrtime.bigint()) / 1e9;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function videoState() {
    const v = document.querySelector('video');
    const b = v.buffered;
    const q = v.getVideoPlaybackQuality();
    return {
        status: document.getElementById('status').textContent,
        cur: v.currentTime,
        end: b.length ? b.end(b.length - 1) : null,
        frames: q.totalVideoFrames,
        dropped: q.droppedVideoFrames,
    };
}

async function main() {
    const [pageUrl, streamUrl, seconds] = process.argv.slice(2, 5);
    const opt = (name) => process.argv[process.argv.indexOf(name) + 1];
    const browser = await launch(opt('--chromium'), opt('--user-data-dir'));
    const out = { samples: [], log: [] };
    try {
        const [page] = await browser.pages();
        page.on('console', (m) => out.log.push('console.' + m.type() + ': ' + m.text()));
        page.on('pageerror', (e) => out.log.push('page error: ' + e.message));
        let held = null;
        const holding = new Promise((resolve) => { held = resolve; });
        await page.setRequestInterception(true);
        page.on('request', (r) => {
            if (r.url() === streamUrl)
                held(r);
            else
                r.continue();
        });
        await page.goto(pageUrl, { waitUntil: 'load' });
        const request = await holding;
        console.log('READY');
        const lines = createInterface({ input: process.stdin });
        await new Promise((resolve) => lines.once('line', resolve));
        lines.close();
        out.go = now();
        await request.continue();
        const end = out.go + Number(seconds);
        while (now() < end) {
            try {
                const s = await page.evaluate(videoState);
                s.t = now();
                out.samples.push(s);
            } catch (e) { // the page is between documents
            }
            await sleep(50);
        }
    } finally {
        await browser.close().catch(() => browser.process().kill('SIGKILL'));
    }
    console.log(JSON.stringify(out));
}

await main();
