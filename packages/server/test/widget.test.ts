/**
 * The browser's way in (issue 18): client sessions and the /client/v1 API (scope, CORS), the WebOTP line, the hosted
 * page; and <otpd-verify> in Debian's Chromium on a demo page of another origin: a verification completed with the
 * code read from /dev/messages, a wrong code then a pasted "123-456"-style one, the resend countdown, the locked
 * state, the hosted page's round trip, axe-core without serious violations. Screenshots with OTPD_SCREENSHOTS=1.
 */
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenLocal, closeLocal } from './fakes/local-server.js';
import { startHarness, wrong, type Harness } from './helpers.js';

const SHOTS = process.env.OTPD_SCREENSHOTS === '1' ? resolve(import.meta.dirname, '../../../docs/screenshots') : mkdtempSync(join(tmpdir(), 'otpd-widget-'));
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
let h: Harness;
let demo: Server;
let demoUrl = '';
let browser: Browser;
let page: Page;

const session = async (to: string, extra: Record<string, unknown> = {}) => {
  const r = await h.req('POST', '/v1/client-sessions', { to, ...extra });
  expect(r.status, r.text).toBe(201);
  return r.body.token as string;
};
const client = (token: string, method: string, path: string, body?: unknown, origin?: string) => fetch(`${h.url}/client/v1${path}`, {
  method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}), ...(origin ? { origin } : {}) },
  body: body ? JSON.stringify(body) : undefined,
});
const codeOf = async (to: string) => (await h.req('GET', `/dev/messages?to=${encodeURIComponent(to)}`)).body.messages[0];

beforeAll(async () => {
  h = await startHarness();
  h.clock.advance(Date.now() - h.clock.now()); // the browser counts down with its own clock
  demo = createServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const token = q.get('session') ?? '';
    const locale = (q.get('locale') ?? 'en').replace(/[^a-z]/g, '');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(req.url?.startsWith('/done') ? '<!doctype html><html lang="en"><title>Done</title><h1>Back on the shop</h1>'
      : `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop checkout</title><script type="module" src="${h.url}/widget.js"></script></head>
<body><main><h1>Confirm your order</h1><otpd-verify session="${token}" base-url="${h.url}" locale="${locale}"></otpd-verify></main>
<script>window.events=[];document.addEventListener('verified',e=>events.push(['verified',e.detail]));document.addEventListener('failed',e=>events.push(['failed',e.detail]));</script></body></html>`);
  });
  demoUrl = await listenLocal(demo);
  await h.req('PATCH', `/admin/v1/apps/${h.appId}`, { settings: { widget: { origins: [demoUrl] }, webOtpDomain: 'shop.example.com', brandName: 'Shop' } }, { key: 'test-admin-token-0123456789abcdef0123456789' });
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.OTPD_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 520, height: 560 } });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  if (demo) await closeLocal(demo);
  await h?.close();
});

describe('client sessions and the browser API', () => {
  it('are scoped to one recipient, refuse other origins, and answer preflights', async () => {
    const to = '+33612350001';
    const token = await session(to, { channels: ['sms', 'voice'] });
    const s = await (await client(token, 'GET', '/session', undefined, demoUrl)).json();
    expect(s).toMatchObject({ to: '+336••••••01', channels: ['sms', 'voice'], brand: 'Shop', verification: null });
    const started = await client(token, 'POST', '/verifications', { channel: 'sms' }, demoUrl);
    expect(started.status).toBe(201);
    expect(started.headers.get('access-control-allow-origin')).toBe(demoUrl);
    const v = await started.json();
    // The SMS ends with the WebOTP line, bound to the app's site.
    const m = await codeOf(to);
    expect(m.text).toMatch(new RegExp(`\\n\\n@shop\\.example\\.com #${m.code}$`));
    expect((await (await client(token, 'POST', `/verifications/${v.id}/check`, { code: wrong(m.code) })).json())).toMatchObject({ valid: false, attemptsRemaining: 2 });
    // Another recipient's verification is not this session's.
    const other = (await h.req('POST', '/v1/verifications', { to: '+33612350002' })).body.id;
    expect((await client(token, 'POST', `/verifications/${other}/check`, { code: '000000' })).status).toBe(404);
    expect((await client(token, 'POST', '/verifications', { channel: 'whatsapp' })).status).toBe(422); // not offered
    // Another origin: refused before anything is done, and without CORS headers.
    const evil = await client(token, 'POST', '/verifications', {}, 'https://evil.example');
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    expect((await evil.json()).code).toBe('origin_not_allowed');
    const pre = await fetch(`${h.url}/client/v1/verifications`, { method: 'OPTIONS', headers: { origin: demoUrl, 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    // Resending without a channel keeps the verification's (the session's first channel is only the default of a start).
    h.clock.advance(61_000);
    const voice = await (await client(token, 'POST', '/verifications', { channel: 'voice' })).json();
    h.clock.advance(61_000);
    expect((await client(token, 'POST', `/verifications/${voice.id}/resend`, {})).status).toBe(200);
    expect((await h.req('GET', `/v1/verifications/${voice.id}/messages`)).body.data.map((x: { channel: string }) => x.channel)).toEqual(['voice', 'voice']);
    // The token is opaque: the recipient cannot be read from it (a URL, a browser's history).
    expect(Buffer.from(token.slice('otpd_cs_'.length), 'base64url').toString('latin1')).not.toMatch(/3361235/);
    // Without channels, a session offers the app's defaults only (here SMS), and an email address is an email session.
    const plain = await session('+33612350005');
    expect((await client(plain, 'POST', '/verifications', { channel: 'voice' })).status).toBe(422);
    const mail = await session('someone@example.com');
    expect((await (await client(mail, 'GET', '/session')).json())).toMatchObject({ channels: ['email'], to: 's•••@example.com' });
    // A forged or expired token is no session.
    expect((await client(`${token.slice(0, -3)}abc`, 'GET', '/session')).status).toBe(401);
    expect((await client(token.replace('otpd_cs_', 'otpd_cs_x'), 'GET', '/session')).status).toBe(401);
  });

  it('the hosted page returns only to an allowed origin', async () => {
    const token = await session('+33612350003');
    const ok = await fetch(`${h.url}/verify?session=${token}&return_to=${encodeURIComponent(`${demoUrl}/done`)}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(await ok.text()).toMatch(/<otpd-verify session="otpd_cs_/);
    const bad = await fetch(`${h.url}/verify?session=${token}&return_to=${encodeURIComponent('https://evil.example/steal')}`);
    expect(bad.status).toBe(422);
    expect((await fetch(`${h.url}/verify?session=nope`)).status).toBe(401);
  });

  it('the widget script is small and loads anywhere', async () => {
    const r = await fetch(`${h.url}/widget.js`, { headers: { 'accept-encoding': 'identity' } });
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    const { gzipSync } = await import('node:zlib');
    expect(gzipSync(Buffer.from(await r.text())).length).toBeLessThan(10 * 1024);
  });
});

async function accessible(what: string): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => (window as unknown as { axe: { run: (c: Document) => Promise<{ violations: { id: string; impact: string }[] }> } }).axe.run(document));
  expect(result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id), what).toEqual([]);
}
const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });
const widget = () => page.locator('otpd-verify');

describe('<otpd-verify> in Chromium', () => {
  it('sends a code, says a wrong one plainly, takes a pasted one with a dash, and tells the page', async () => {
    const to = '+33612350010';
    await page.goto(`${demoUrl}/?session=${await session(to, { channels: ['sms', 'voice'] })}`);
    await widget().getByRole('button', { name: 'Send the code' }).waitFor();
    expect(await widget().getByText(/^We will send a code to \u2066\+336••••••10\u2069\.$/).count()).toBe(1);
    await accessible('intro');
    await shot('widget-intro');
    await widget().getByRole('button', { name: 'Send the code' }).click();
    const input = widget().getByLabel('Code');
    await input.waitFor();
    expect(await input.getAttribute('autocomplete')).toBe('one-time-code');
    expect(await input.getAttribute('inputmode')).toBe('numeric');
    // The resend countdown follows the server's cooldown (60 s).
    await expect.poll(() => widget().getByRole('button', { name: /New code in \d+ s/ }).isDisabled()).toBe(true);
    const { code } = await codeOf(to);
    await input.fill(wrong(code));
    await widget().getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => widget().getByRole('alert').innerText()).toBe('That code is not right. 2 tries left.');
    await accessible('wrong code');
    await shot('widget-wrong-code');
    // Pasted as "123-456": normalised to the code.
    await input.fill(`${code.slice(0, 3)}-${code.slice(3)}`);
    expect(await input.inputValue()).toBe(code);
    await widget().getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => widget().getByText('Verified.').count()).toBe(1);
    const events = await page.evaluate(() => (window as unknown as { events: unknown[] }).events);
    expect(events).toHaveLength(1);
    const [name, detail] = events[0] as [string, { verificationId: string }];
    expect(name).toBe('verified');
    // The backend learns it from the API, not from the browser.
    expect((await h.req('GET', `/v1/verifications/${detail.verificationId}`)).body.status).toBe('verified');
    await shot('widget-verified');
  });

  it('shows the locked state after the last wrong code, and tells the page it failed', async () => {
    const to = '+33612350011';
    await page.goto(`${demoUrl}/?session=${await session(to)}`);
    await widget().getByRole('button', { name: 'Send the code' }).click();
    const input = widget().getByLabel('Code');
    await input.waitFor();
    const { code } = await codeOf(to);
    for (let i = 0; i < 3; i++) {
      await input.fill(wrong(code));
      await widget().getByRole('button', { name: 'Verify' }).click();
      if (i < 2) await expect.poll(() => widget().getByRole('alert').innerText()).toMatch(/not right/);
    }
    // The app's lockout (a day by default), in words.
    await expect.poll(() => widget().getByRole('alert').innerText()).toBe('Too many wrong codes. Try again in 24 hours.');
    expect(await input.isDisabled()).toBe(true);
    const events = await page.evaluate(() => (window as unknown as { events: [string, { reason: string }][] }).events);
    expect(events.map(([n]) => n)).toEqual(['failed']);
    await accessible('locked');
    await shot('widget-locked');
  });

  it("speaks the page's language (texts fetched from otpd), right to left where it is written so", async () => {
    const to = '+33612350013';
    await page.goto(`${demoUrl}/?locale=fr&session=${await session(to)}`);
    await widget().getByRole('button', { name: 'Envoyer le code' }).click();
    const input = widget().getByLabel('Code');
    await input.fill(wrong((await codeOf(to)).code));
    await widget().getByRole('button', { name: 'Vérifier' }).click();
    await expect.poll(() => widget().getByRole('alert').innerText()).toBe("Ce code n'est pas le bon. Il reste 2 essais.");
    await page.goto(`${demoUrl}/?locale=ar&session=${await session('+33612350014')}`);
    await widget().getByRole('button', { name: 'إرسال الرمز' }).waitFor();
    expect(await widget().getAttribute('dir')).toBe('rtl');
    await accessible('arabic');
    await shot('widget-arabic');
  });

  it('the hosted page verifies and returns to the site with the verification id', async () => {
    const to = '+33612350012';
    const token = await session(to);
    await page.goto(`${h.url}/verify?session=${token}&return_to=${encodeURIComponent(`${demoUrl}/done?order=42`)}`);
    await widget().getByRole('button', { name: 'Send the code' }).click();
    await widget().getByLabel('Code').fill((await codeOf(to)).code);
    await widget().getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/\/done\?/);
    const u = new URL(page.url());
    expect(u.searchParams.get('order')).toBe('42');
    expect(u.searchParams.get('otpd_status')).toBe('verified');
    expect((await h.req('GET', `/v1/verifications/${u.searchParams.get('otpd_verification')}`)).body.status).toBe('verified');
  });
});
