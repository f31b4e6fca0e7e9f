/**
 * The SDK's build in a browser (Debian's Chromium, playwright-core): loaded as an ES module on otpd's origin, it starts
 * and checks a verification with fetch alone (no Node API).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../server/test/helpers.js';

let h: Harness;
let browser: Browser;
beforeAll(async () => {
  h = await startHarness();
  browser = await chromium.launch({
    executablePath: process.env.OTPD_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

it('runs in Chromium: start, then check with the code', async () => {
  const page = await browser.newPage();
  const dist = join(import.meta.dirname, '../dist');
  // The build served under otpd's origin (same origin: /v1 sends no CORS headers, as a backend API).
  await page.route(`${h.url}/__sdk/**`, (route) => route.fulfill({
    contentType: 'text/javascript', body: readFileSync(join(dist, new URL(route.request().url()).pathname.replace('/__sdk/', '')), 'utf8'),
  }));
  await page.route(`${h.url}/__sdk.html`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>sdk</title>' }));
  await page.goto(`${h.url}/__sdk.html`);
  const to = '+33612360001';
  // As source text: the test runner would rewrite an import() written in this file.
  const run = <T>(body: string) => page.evaluate(`(async () => { const { Otpd, OtpdError } = await import('${h.url}/__sdk/index.js');
    const otpd = new Otpd({ baseUrl: '${h.url}', apiKey: '${h.key}' }); ${body} })()`) as Promise<T>;
  const id = await run<string>(`return (await otpd.verifications.start({ to: '${to}' })).id;`);
  const code = (await h.req('GET', `/dev/messages?to=${encodeURIComponent(to)}`)).body.messages[0].code as string;
  const r = await run<{ bad: string; ok: unknown }>(`const bad = await otpd.verifications.check('${id}', { code: 'ZZ' }).catch((e) => (e instanceof OtpdError ? e.code : 'other'));
    return { bad, ok: await otpd.verifications.check('${id}', { code: '${code}' }) };`);
  expect(r.bad).toBe('invalid_code');
  expect(r.ok).toMatchObject({ valid: true, status: 'verified' });
});
