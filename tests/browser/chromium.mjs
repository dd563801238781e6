// Debian's headless chromium as every script here starts it (driven by puppeteer-core, which never
// downloads a browser of its own): nothing phones home, updates itself or takes more than a small
// share of a shared machine; autoplay needs no click.

import puppeteer from 'puppeteer-core';

export const CHROMIUM_FLAGS = [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--disable-extensions', '--mute-audio',
    '--autoplay-policy=no-user-gesture-required', '--window-size=800,600',
];

// Starts chromium with the profile directory `profile` (which names every process it starts).
export function launch(executablePath, profile) {
    return puppeteer.launch({
        executablePath,
        headless: true,
        args: [...CHROMIUM_FLAGS, '--user-data-dir=' + profile],
        // The caller's environment may preload sanitizer runtimes meant for our plugin.
        env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'LD_PRELOAD')),
        defaultViewport: { width: 800, height: 600 },
    });
}
