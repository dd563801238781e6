// Plays one LL-HLS stream in Debian's headless chromium (puppeteer-core, never a downloaded
// browser) with hls.js or shaka-player (player.html beside this file, served over HTTP by the
// caller), and prints one JSON object: the time from navigation start to the first frame shown,
// the latency (Date.now() minus the program date-time being played) every second for --seconds
// from the first frame, stalls, the player's errors and warnings, and every HTTP response of the
// stream that was not a 2xx (with its request).
//
// Usage: node players.mjs PAGE_URL [--seconds 10] [--timeout 30] [--chromium PATH]
//                                  [--user-data-dir DIR]
// As tests/browser/play.mjs: a caller that may kill this script passes a fresh --user-data-dir,
// which names every chromium process it started.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

function parseArgs(argv) {
    const opts = { chromium: '/usr/bin/chromium', seconds: 10, timeout: 30, page: null,
                   profile: null };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--chromium') opts.chromium = argv[++i];
        else if (a === '--seconds') opts.seconds = Number(argv[++i]);
        else if (a === '--timeout') opts.timeout = Number(argv[++i]);
        else if (a === '--user-data-dir') opts.profile = argv[++i];
        else if (!opts.page) opts.page = a;
        else throw new Error('unexpected argument ' + a);
    }
    if (!opts.page) throw new Error('usage: players.mjs PAGE_URL [--seconds N] [--timeout S]');
    return opts;
}

// tests/browser/play.mjs's flags: nothing phones home or updates itself; autoplay needs no click.
const CHROMIUM_FLAGS = [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--disable-extensions', '--mute-audio',
    '--autoplay-policy=no-user-gesture-required', '--window-size=800,600',
];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const ownProfile = !opts.profile;
    const profile = opts.profile || mkdtempSync(join(tmpdir(), 'ezrtmp-hls-chromium-'));
    const out = { console: [], http: [], failed: [], samples: [], requests: [] };
    let browser = null;
    try {
        browser = await puppeteer.launch({
            executablePath: opts.chromium,
            headless: true,
            args: [...CHROMIUM_FLAGS, '--user-data-dir=' + profile],
            env: Object.fromEntries(Object.entries(process.env)
                                    .filter(([k]) => k !== 'LD_PRELOAD')),
            defaultViewport: { width: 800, height: 600 },
        });
        out.chromium = await browser.version();
        const [page] = await browser.pages();
        page.on('console', (m) => {
            if (m.type() === 'error' || m.type() === 'warn' || m.type() === 'warning')
                out.console.push(m.type() + ': ' + m.text());
        });
        page.on('pageerror', (e) => out.console.push('page error: ' + e.message));
        page.on('requestfailed', (r) => {
            const f = r.failure() ? r.failure().errorText : '';
            // A blocking reload or preload hint the player gave up on is aborted by design.
            out.failed.push(r.method() + ' ' + r.url() + ' ' + f);
        });
        // Every request of the stream: [start, end] in ms since this script's navigation, the
        // path and query, status and bytes (the timeline of a start-up or a stall).
        const t0 = Date.now();
        page.on('requestfinished', async (req) => {
            const u = new URL(req.url());
            if (u.pathname.endsWith('.html') || u.pathname.includes('node_modules')) return;
            const r = req.response();
            out.requests.push([Date.now() - t0, u.pathname.split('/').pop() + u.search,
                               r ? r.status() : 0, r ? Number(r.headers()['content-length'] || 0)
                                                      : 0]);
        });
        page.on('request', (req) => {
            const u = new URL(req.url());
            if (u.pathname.endsWith('.html') || u.pathname.includes('node_modules')) return;
            out.requests.push([Date.now() - t0, 'start ' + u.pathname.split('/').pop() + u.search]);
        });
        page.on('response', async (r) => {
            if (r.status() >= 200 && r.status() < 300) return;
            const req = r.request();
            let body = '';
            try { body = (await r.text()).slice(0, 2000); } catch (e) { body = '(' + e.message + ')'; }
            out.http.push({ url: r.url(), method: req.method(), status: r.status(),
                            request_headers: req.headers(), response_headers: r.headers(), body });
        });
        await page.goto(opts.page, { waitUntil: 'load', timeout: opts.timeout * 1000 });

        const deadline = Date.now() + opts.timeout * 1000;
        let st = null;
        while (Date.now() < deadline) {
            st = await page.evaluate(() => ({ first: window.bench.firstFrameMs,
                                              errors: window.bench.errors.length }));
            if (st.first !== null) break;
            await sleep(50);
        }
        if (st.first === null) {
            out.error = 'no frame within ' + opts.timeout + ' s';
        } else {
            // One sample a second from the first frame; the last is the figure "after N s".
            const firstWall = Date.now();
            for (let s = 1; s <= opts.seconds; s++) {
                await sleep(firstWall + s * 1000 - Date.now());
                const sample = await page.evaluate(() => ({ latency: window.bench.latency(),
                                                            quality: window.bench.quality() }));
                sample.t = s;
                out.samples.push(sample);
            }
        }
        Object.assign(out, await page.evaluate(() => {
            const b = window.bench;
            const extra = {};
            if (b.player === 'shaka' && b.instance) {
                extra.shaka_buffered = b.instance.getBufferedInfo();
                extra.shaka_stats = b.instance.getStats();
            }
            return { ...extra, log: b.log, player: b.player, version: b.version,
                     script_loaded_ms: b.scriptLoadedMs,
                     first_frame_ms: b.firstFrameMs, playing_ms: b.playingMs, errors: b.errors,
                     warnings: b.warnings, events: b.events, waiting: b.waiting };
        }));
    } catch (e) {
        out.error = e.message;
    } finally {
        if (browser) await browser.close().catch(() => browser.process().kill('SIGKILL'));
        if (ownProfile)
            rmSync(profile, { recursive: true, force: true });
    }
    console.log(JSON.stringify(out));
    return out.error ? 1 : 0;
}

process.exitCode = await main();
