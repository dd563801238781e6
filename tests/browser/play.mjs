// Opens examples/web's page in Debian's headless chromium (driven by puppeteer-core, which never
// downloads a browser of its own) and waits until the page's <video> has decoded MIN_FRAMES more
// frames than when it started playing. Exit 0 when it did, 1 with the reason when it did not.
//
// Usage: node play.mjs PAGE_URL [--chromium PATH] [--min-frames N] [--timeout SECONDS]
//                                [--screenshot FILE.png]   (the page once it has passed)
//                                [--user-data-dir DIR]     (else a fresh temporary one)
// The browser runs in a process group of its own: a caller that may kill this script passes a
// fresh --user-data-dir, which names every chromium process it started, to end them all after.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch } from './chromium.mjs';

function parseArgs(argv) {
    const opts = { chromium: '/usr/bin/chromium', minFrames: 30, timeout: 30, page: null,
                   screenshot: null, profile: null };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--chromium') opts.chromium = argv[++i];
        else if (a === '--min-frames') opts.minFrames = Number(argv[++i]);
        else if (a === '--timeout') opts.timeout = Number(argv[++i]);
        else if (a === '--screenshot') opts.screenshot = argv[++i];
        else if (a === '--user-data-dir') opts.profile = argv[++i];
        else if (!opts.page) opts.page = a;
        else throw new Error('unexpected argument ' + a);
    }
    if (!opts.page) throw new Error('usage: play.mjs PAGE_URL [--chromium PATH] ' +
                                    '[--min-frames N] [--timeout SECONDS] [--screenshot FILE]');
    return opts;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function pageState() {
    const v = document.querySelector('video');
    const q = v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
    return {
        status: document.getElementById('status').textContent,
        frames: q ? q.totalVideoFrames : -1,
        dropped: q ? q.droppedVideoFrames : -1,
        time: v ? v.currentTime : -1,
        width: v ? v.videoWidth : 0,
        height: v ? v.videoHeight : 0,
    };
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const ownProfile = !opts.profile;
    const profile = opts.profile || mkdtempSync(join(tmpdir(), 'ezrtmp-chromium-'));
    const log = [];
    let browser = null;
    const t0 = Date.now();
    const elapsed = () => ((Date.now() - t0) / 1000).toFixed(2);
    try {
        browser = await launch(opts.chromium, profile);
        console.log('chromium ' + await browser.version() + ' started in ' + elapsed() + ' s');

        const [page] = await browser.pages(); // the one tab the browser opened
        page.on('console', (m) => log.push('console.' + m.type() + ': ' + m.text()));
        page.on('pageerror', (e) => log.push('page error: ' + e.message));
        page.on('requestfailed', (r) => log.push('request failed: ' + r.url() + ' ' +
                                                 (r.failure() ? r.failure().errorText : '')));
        await page.goto(opts.page, { waitUntil: 'load', timeout: opts.timeout * 1000 });

        const deadline = t0 + opts.timeout * 1000;
        let base = null;
        let st = null;
        while (Date.now() < deadline) {
            st = await page.evaluate(pageState);
            if (st.status.startsWith('error') || st.status.startsWith('no stream'))
                throw new Error('the page reports "' + st.status + '"');
            if (base === null && st.status === 'playing' && st.frames > 0) {
                base = st.frames;
                console.log('playing ' + st.width + 'x' + st.height + ' after ' + elapsed() +
                            ' s, ' + base + ' frames decoded');
            }
            if (base !== null && st.frames - base >= opts.minFrames) {
                console.log('PASS: ' + (st.frames - base) + ' more frames decoded (' +
                            st.frames + ' in all, ' + st.dropped + ' dropped, video time ' +
                            st.time.toFixed(2) + ' s) after ' + elapsed() + ' s');
                if (opts.screenshot)
                    await page.screenshot({ path: opts.screenshot });
                return 0;
            }
            await sleep(200);
        }
        throw new Error('timed out after ' + opts.timeout + ' s: ' +
                        (base === null ? 'never playing' :
                         (st.frames - base) + ' of ' + opts.minFrames + ' frames') +
                        '; last state ' + JSON.stringify(st));
    } catch (e) {
        console.log('FAIL: ' + e.message);
        for (const line of log) console.log('  ' + line);
        return 1;
    } finally {
        if (browser) await browser.close().catch(() => browser.process().kill('SIGKILL'));
        if (ownProfile)
            rmSync(profile, { recursive: true, force: true });
    }
}

process.exitCode = await main();
