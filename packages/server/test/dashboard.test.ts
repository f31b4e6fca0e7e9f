/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core (nothing downloaded), against a real
 * otpd seeded with verifications over several days, a locked number, a template, a webhook endpoint and a guard
 * refusal. Sign-in (wrong token, then right), every page with real data and no serious accessibility violation
 * (axe-core), the charts drawn, a key created (shown once) and revoked, a number unblocked, a template preview that
 * follows the text, a verification's timeline, sign-out. The session's cookie and CSRF rules are checked over HTTP.
 * Screenshots go to a temporary folder, or to docs/screenshots with OTPD_SCREENSHOTS=1.
 */
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeProvider } from './fakes/http-provider.js';
import { ADMIN_TOKEN, startHarness, wrong, type Harness } from './helpers.js';

const CHROMIUM = process.env.OTPD_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.OTPD_SCREENSHOTS === '1' ? resolve(import.meta.dirname, '../../../docs/screenshots') : mkdtempSync(join(tmpdir(), 'otpd-shots-'));
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const DAY = 86_400_000;

let h: Harness;
let hook: FakeProvider;
let browser: Browser;
let page: Page;
let lockedPhone: string;
let verifiedId: string;

beforeAll(async () => {
  hook = await new FakeProvider({ status: 204 }).start();
  h = await startHarness({ settings: { prices: { currency: 'EUR', sms: { FR: 0.045, DE: 0.075 } } } as never });
  await h.req('PATCH', `/admin/v1/apps/${h.appId}`, { name: 'Acme Shop' }, { key: ADMIN_TOKEN });
  // Five days of traffic: most verified after a few seconds, some never, some canceled.
  let n = 0;
  for (let day = 0; day < 5; day++) {
    for (let i = 0; i < 4 + day; i++) {
      n++;
      const v = await h.startAndRead(i % 4 === 3 ? `+49171${1_000_000 + n}` : `+3361${String(100000 + n).padStart(7, '0')}`);
      h.clock.advance(8_000 + i * 3_000);
      if (i % 3 !== 2) {
        expect((await h.req('POST', `/v1/verifications/${v.id}/check`, { code: v.code })).body.valid).toBe(true);
        verifiedId = v.id;
      } else if (i % 2 === 0) {
        await h.req('POST', `/v1/verifications/${v.id}/cancel`);
      }
    }
    h.clock.advance(DAY);
  }
  // A number locked after three wrong codes.
  lockedPhone = '+33699000111';
  const l = await h.startAndRead(lockedPhone);
  for (let i = 0; i < 3; i++) await h.req('POST', `/v1/verifications/${l.id}/check`, { code: wrong(l.code) });
  await h.req('POST', '/v1/templates', { channel: 'sms', name: 'Short', text: 'Acme: {{pin}}' });
  await h.req('POST', '/v1/senders', { channel: 'sms', value: 'ACME' });
  await h.req('POST', `/admin/v1/apps/${h.appId}/webhooks`, { url: `${hook.url}/otpd` }, { key: ADMIN_TOKEN });
  // Another app whose spend cap refuses its second start: a guard decision and a refusal in the figures.
  const capped = await h.newApp('Capped', { prices: { currency: 'EUR', sms: { FR: 0.05 } }, guard: { mode: 'enforce', spendCap: { daily: 0.06 } } } as never);
  await h.req('POST', '/v1/verifications', { to: '+33611223344' }, { key: capped.key });
  expect((await h.req('POST', '/v1/verifications', { to: '+33611223355' }, { key: capped.key })).status).toBe(429);
  await h.otpd.worker!.flush();
  await h.otpd.webhookWorker.flush();

  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  page.on('dialog', (d) => void d.accept());
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await h?.close();
  await hook?.close();
});

/** axe-core on the page as it is: no serious or critical violation. */
async function accessible(what: string): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } })
    .axe.run(document, { resultTypes: ['violations'] }));
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((x) => x.target.join(' ')).join(', ')}`);
  expect(serious, `${what}: ${serious.join('; ')}`).toEqual([]);
}
const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const heading = (text: string) => page.getByRole('heading', { level: 1, name: text }).waitFor();
const noProblem = async () => expect(await page.locator('[role=alert]').count()).toBe(0);

describe('the dashboard in Chromium', () => {
  it('signs in with the admin token (a wrong one is a problem shown in plain words)', async () => {
    await page.goto(`${h.url}/dashboard/`);
    await page.getByLabel('Admin token').waitFor();
    await accessible('sign-in');
    await shot('sign-in');
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('[role=alert]').innerText()).toMatch(/not the admin token/i);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading('Overview');
  });

  it('the overview shows the figures and draws the charts', async () => {
    await page.locator('.kpi').first().waitFor();
    await expect.poll(async () => page.locator('.kpi', { hasText: 'Verifications started' }).locator('.kpi-value').innerText()).toBe('32');
    await expect.poll(() => page.locator('[data-testid=chart] canvas').count()).toBe(4);
    // The first chart's canvas has drawn lines (non-transparent pixels), not an empty frame.
    const inked = await page.locator('[data-testid=chart] canvas').first().evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(500);
    expect(await page.getByRole('table', { name: 'Delivery by channel' }).innerText()).toContain('sms');
    await noProblem();
    await accessible('overview');
    await shot('overview');
    // One app, compared by country.
    await page.getByLabel('App', { exact: true }).selectOption({ label: 'Acme Shop' });
    await page.getByLabel('Compare by').selectOption('country');
    await expect.poll(() => page.locator('.u-legend').first().innerText()).toMatch(/DE/);
    await accessible('overview by country');
  });

  it('every page renders with real data and no serious accessibility violation', async () => {
    const pages: [string, string, string][] = [
      ['Verifications', 'Verifications', '+3361'], ['Apps', 'Apps', 'Acme Shop'], ['Templates', 'Templates', 'Short'], ['Senders', 'Senders', 'ACME'],
      ['Providers', 'Providers', 'console'], ['Webhooks', 'Webhooks', '/otpd'], ['Guard', 'Fraud guard', 'spend-day'], ['Lockouts', 'Lockouts', lockedPhone],
      ['Audit log', 'Audit log', 'app'],
    ];
    for (const [link, title, shows] of pages) {
      await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: link, exact: true }).click();
      await heading(title);
      // Pages about one app: the picker (kept from page to page) set to the app with data for it.
      const picker = page.getByLabel('App', { exact: true });
      if (!['Apps', 'Audit log'].includes(link)) await picker.first().selectOption({ label: link === 'Guard' ? 'Capped' : 'Acme Shop' });
      await expect.poll(() => page.locator('main').innerText(), { message: `${title} shows ${shows}`, timeout: 5_000 }).toContain(shows);
      await noProblem();
      await accessible(title);
      await shot(title.toLowerCase().replace(/ /g, '-'));
    }
  });

  it('fits a phone-sized window: no page scrolls sideways', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      for (const hash of ['#/overview', '#/verifications', '#/templates', '#/guard', '#/audit']) {
        await page.goto(`${h.url}/dashboard/${hash}`);
        await page.locator('main h1').waitFor();
        await page.waitForTimeout(300);
        // Wide tables scroll inside themselves; the page itself does not.
        // (An absolutely positioned screen-reader label inside a scrolling table once widened the page: tables are positioned.)
        expect(await page.evaluate(() => document.documentElement.scrollWidth), hash).toBeLessThanOrEqual(390);
      }
      await page.goto(`${h.url}/dashboard/#/overview`);
      await page.locator('.kpi').first().waitFor();
      await shot('overview-narrow');
    } finally {
      await page.setViewportSize({ width: 1360, height: 900 });
    }
  });

  it('creates an API key, shows it once, and revokes it', async () => {
    await page.goto(`${h.url}/dashboard/#/apps/${h.appId}`);
    await heading('Acme Shop');
    await page.getByLabel('Key name').fill('ci-key');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = await page.getByTestId('secret').innerText();
    expect(secret).toMatch(/^otpd_/);
    // The new key works, until it is revoked.
    expect((await h.req('GET', '/v1/verifications', undefined, { key: secret })).status).toBe(200);
    await shot('app-key-created');
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.getByTestId('secret').count()).toBe(0);
    await page.getByRole('button', { name: 'Revoke key ci-key' }).click();
    await expect.poll(() => page.getByRole('row', { name: /ci-key/ }).innerText()).toMatch(/revoked/);
    expect((await h.req('GET', '/v1/verifications', undefined, { key: secret })).status).toBe(401);
    await accessible('app');
  });

  it('unblocks a locked number', async () => {
    await page.goto(`${h.url}/dashboard/#/lockouts`);
    await page.getByLabel('App', { exact: true }).selectOption({ label: 'Acme Shop' });
    await page.getByRole('button', { name: `Unblock ${lockedPhone}` }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'unblocked' }).count()).toBe(1);
    const left = (await h.req('GET', `/admin/v1/apps/${h.appId}/lockouts?to=${encodeURIComponent(lockedPhone)}`, undefined, { key: ADMIN_TOKEN })).body.data;
    expect(left.filter((x: { locked: boolean }) => x.locked)).toEqual([]);
  });

  it("edits the guard's allow lists, and shows a refused value's problem", async () => {
    await page.goto(`${h.url}/dashboard/#/guard`);
    await heading('Fraud guard');
    await page.getByLabel('App', { exact: true }).selectOption({ label: 'Capped' });
    await page.getByLabel('Numbers').fill('+33611223355\n');
    await page.getByRole('button', { name: 'Save allow lists' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Saved' }).count()).toBe(1);
    const capped = (await h.req('GET', '/admin/v1/apps', undefined, { key: ADMIN_TOKEN })).body.data.find((a: { name: string }) => a.name === 'Capped');
    expect((await h.req('GET', `/admin/v1/apps/${capped.id}/guard`, undefined, { key: ADMIN_TOKEN })).body.allow).toMatchObject({ numbers: ['+33611223355'] });
    await page.getByLabel('Addresses').fill('not an address');
    await page.getByRole('button', { name: 'Save allow lists' }).click();
    await expect.poll(() => page.locator('[role=alert]').count()).toBe(1);
    await accessible('guard with a problem');
  });

  it('updates the template preview as the text is typed', async () => {
    await page.goto(`${h.url}/dashboard/#/templates`);
    await heading('Templates');
    await page.getByLabel('App', { exact: true }).selectOption({ label: 'Acme Shop' });
    await page.getByLabel('Text', { exact: true }).fill('Ton code Acme est {{pin}}, valable {{ttl}} minutes.');
    await expect.poll(() => page.getByTestId('preview').innerText()).toMatch(/Ton code Acme est 777777, valable 5 minutes\./);
    expect(await page.getByTestId('preview').innerText()).toMatch(/GSM-7, 1 part, 0\.0450 EUR/);
    // A longer text in UCS-2 takes more parts.
    await page.getByLabel('Text', { exact: true }).fill(`Код {{pin}} ${'это длинное сообщение '.repeat(4)}`);
    await expect.poll(() => page.getByTestId('preview').innerText()).toMatch(/UCS-2, 2 parts/);
    await shot('templates-preview');
  });

  it("shows a verification's timeline, never its code", async () => {
    await page.goto(`${h.url}/dashboard/#/verifications/${h.appId}/${verifiedId}`);
    await page.locator('.timeline li').first().waitFor();
    const text = await page.locator('main').innerText();
    expect(text).toMatch(/created/);
    expect(text).toMatch(/sent by console/);
    expect(text).toMatch(/verified/);
    expect(text).not.toMatch(/\b\d{6}\b/);
    await accessible('timeline');
    await shot('verification-timeline');
  });

  it('signs out: the cookie is gone and the admin API refuses the old session', async () => {
    const cookie = (await page.context().cookies()).find((c) => c.name === 'otpd_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin token').waitFor();
    expect((await page.context().cookies()).some((c) => c.name === 'otpd_session' && c.value)).toBe(false);
  });
});

describe('dashboard sessions over HTTP', () => {
  const signIn = async () => {
    const r = await fetch(`${h.url}/dashboard/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: ADMIN_TOKEN }) });
    expect(r.status).toBe(200);
    const cookie = r.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    return { cookie: cookie.split(';')[0]!, csrf: ((await r.json()) as { csrfToken: string }).csrfToken };
  };

  it('the admin API takes the session cookie only with its CSRF token', async () => {
    const s = await signIn();
    const apps = (headers: Record<string, string>) => fetch(`${h.url}/admin/v1/apps`, { headers }).then((r) => r.status);
    expect(await apps({ cookie: s.cookie, 'x-csrf-token': s.csrf })).toBe(200);
    expect(await apps({ cookie: s.cookie })).toBe(401);
    expect(await apps({ cookie: s.cookie, 'x-csrf-token': `${s.csrf.slice(0, -2)}xx` })).toBe(401);
    // A forged or altered cookie is no session.
    expect(await apps({ cookie: s.cookie.replace(/.{4}$/, 'AAAA'), 'x-csrf-token': s.csrf })).toBe(401);
    const other = await signIn();
    expect(await apps({ cookie: s.cookie, 'x-csrf-token': other.csrf })).toBe(401);
    // Signing out ends the session itself, not only the cookie in that browser.
    const out = await fetch(`${h.url}/dashboard/api/session`, { method: 'DELETE', headers: { cookie: other.cookie, 'x-csrf-token': other.csrf } });
    expect(out.status).toBe(204);
    expect(await apps({ cookie: other.cookie, 'x-csrf-token': other.csrf })).toBe(401);
    // Sessions end with their time.
    h.clock.advance(9 * 3_600_000);
    expect(await apps({ cookie: s.cookie, 'x-csrf-token': s.csrf })).toBe(401);
    const g = await fetch(`${h.url}/dashboard/api/session`, { headers: { cookie: s.cookie } }).then((r) => r.json());
    expect(g).toEqual({ signedIn: false, csrfToken: null, expiresAt: null });
  });

  it('serves the app with a strict content security policy, and its routes fall back to it', async () => {
    const r = await fetch(`${h.url}/dashboard/apps`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(r.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(await r.text()).toMatch(/<div id="root">/);
  });
});
