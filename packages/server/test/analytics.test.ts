/**
 * Analytics (issue 17): a known mix driven through a real otpd with the fake clock — verified, wrong codes, out of
 * tries, expired, canceled, a failed provider, a WhatsApp-then-SMS fallback, delivery receipts, a guard refusal —
 * and every figure of the summary and the series checked exactly, on both stores; filters, scopes and bad queries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeProvider } from './fakes/http-provider.js';
import { ADMIN_TOKEN, startHarness, type Harness } from './helpers.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const body = { to: '{{to}}', text: '{{text}}', ref: '{{messageId}}', callback: '{{statusCallbackUrl}}' };
let wa: FakeProvider;
let sms: FakeProvider;
let bad: FakeProvider;
let h: Harness;
let app2: { key: string; appId: string };
const ids: Record<string, { id: string; to: string; code: string }> = {};

const admin = (path: string) => h.req('GET', `/admin/v1${path}`, undefined, { key: ADMIN_TOKEN });
const day = 'from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z';

async function start(name: string, to: string, extra: Record<string, unknown> = {}, key?: string) {
  const r = await h.req('POST', '/v1/verifications', { to, ...extra }, key ? { key } : {});
  expect(r.status, r.text).toBe(201);
  ids[name] = { id: r.body.id, to, code: '' };
}
const check = (name: string, code: string) => h.req('POST', `/v1/verifications/${ids[name]!.id}/check`, { code });
/** The code the gateway was sent for a recipient (the last request to it). */
const codeSent = (fake: FakeProvider, to: string) => /(\d{6})/.exec(fake.requests.filter((r) => r.json?.to === to).at(-1)!.json.text)![1]!;
async function receipt(to: string, status: string): Promise<void> {
  const u = new URL(sms.requests.filter((r) => r.json?.to === to).at(-1)!.json.callback as string);
  const r = await fetch(`${h.url}${u.pathname}${u.search}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status, id: 'sms-1' }) });
  expect(r.status).toBe(204);
}

beforeAll(async () => {
  [wa, sms, bad] = await Promise.all([
    new FakeProvider({ status: 400, json: { status: 'error', error: 'not on whatsapp' } }).start(),
    new FakeProvider({ status: 200, json: { status: 'ok', id: 'sms-1' } }).start(),
    new FakeProvider({ status: 400, json: { status: 'error', error: 'unroutable' } }).start(),
  ]);
  h = await startHarness({
    config: {
      delivery: 'providers', publicUrl: 'https://otpd.example.com',
      providers: {
        providers: [
          { name: 'wagw', type: 'http', channels: ['whatsapp'], url: `${wa.url}/send`, body, successField: { path: 'status', equals: 'ok' }, messageIdPath: 'id' },
          { name: 'smsgw', type: 'http', url: `${sms.url}/send`, body, messageIdPath: 'id' },
          { name: 'bad', type: 'http', url: `${bad.url}/send`, body, messageIdPath: 'id' },
        ],
        routing: { sms: [{ countries: ['BE'], providers: ['bad'] }, { providers: ['smsgw'] }], whatsapp: [{ providers: ['wagw'] }] },
      } as never,
    },
    settings: { prices: { currency: 'EUR', sms: { FR: 0.05, BE: 0.07 }, whatsapp: { '*': 0.02 } } } as never,
  });
  expect(h.clock.now()).toBe(T0);
  // 12:00, the calling app: seven verifications.
  await start('v1', '+33611000001'); // delivered after 4 s, verified after 20 s
  await start('v2', '+33611000002'); // undelivered receipt, one wrong code, verified after 50 s
  await start('v3', '+33611000003'); // three wrong codes: failed
  await start('v4', '+33611000004'); // expires
  await start('v5', '+33611000005'); // canceled
  await start('v6', '+32470000006'); // BE: its provider refuses (message failed), then it expires
  await start('v7', '+33611000007', { channels: ['whatsapp', 'sms'] }); // WhatsApp fails, SMS sent (a fallback), verified after 10 s
  await h.otpd.worker!.flush();
  await h.otpd.worker!.flush();
  h.clock.advance(4_000);
  await receipt('+33611000001', 'DELIVRD');
  await receipt('+33611000002', 'UNDELIV');
  h.clock.advance(6_000);
  expect((await check('v7', codeSent(sms, '+33611000007'))).body.valid).toBe(true);
  h.clock.advance(10_000);
  expect((await check('v1', codeSent(sms, '+33611000001'))).body.valid).toBe(true);
  const v3 = codeSent(sms, '+33611000003');
  const wrong = (c: string) => c.replace(/^./, (d) => String((Number(d) + 1) % 10));
  for (let i = 0; i < 3; i++) expect((await check('v3', wrong(v3))).body.valid).toBe(false);
  expect((await check('v2', wrong(codeSent(sms, '+33611000002')))).body.valid).toBe(false);
  h.clock.advance(30_000);
  expect((await check('v2', codeSent(sms, '+33611000002'))).body.valid).toBe(true);
  expect((await h.req('POST', `/v1/verifications/${ids.v5!.id}/cancel`)).status).toBe(200);
  // 13:00: v4 and v6 expire (the sweep); another app, whose spend cap lets one SMS through and refuses the next.
  h.clock.advance(3_600_000);
  await h.otpd.store.verifications.expireDue(h.clock.now(), 100);
  app2 = await h.newApp('Capped', { prices: { currency: 'EUR', sms: { FR: 0.05 } }, guard: { mode: 'enforce', spendCap: { daily: 0.06 } } } as never);
  await start('w1', '+33611000008', {}, app2.key);
  const refused = await h.req('POST', '/v1/verifications', { to: '+33611000009' }, { key: app2.key });
  expect(refused.status, refused.text).toBe(429);
  expect(refused.body.code).toBe('spend_cap_reached');
  await h.otpd.worker!.flush();
});
afterAll(async () => { await h?.close(); await Promise.all([wa?.close(), sms?.close(), bad?.close()]); });

const smsFigures = { sent: 6, failed: 1, delivered: 1, undelivered: 1, fallbacks: 1, deliveryRate: 0.1667, acceptanceRate: 0.8571, timeToDeliver: { p50: 4, p95: 4.9 } };

describe('the summary adds up', () => {
  it("the calling app's figures, exactly (/v1/analytics/summary)", async () => {
    const r = await h.req('GET', `/v1/analytics/summary?${day}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({
      from: '2026-01-01T00:00:00.000Z', to: '2026-01-02T00:00:00.000Z',
      verifications: {
        started: 7, verified: 3, failed: 1, expired: 2, canceled: 1, pending: 0, wrongCodes: 4, conversionRate: 0.4286,
        // 10 s, 20 s and 50 s: the median in the (15, 20] bucket, the 95th in (45, 60], interpolated.
        timeToVerify: { p50: 17.5, p95: 57.75 },
      },
      messages: { sent: 6, failed: 2, delivered: 1, undelivered: 1, fallbacks: 1, deliveryRate: 0.1667, acceptanceRate: 0.75, timeToDeliver: { p50: 4, p95: 4.9 } },
      cost: { total: 0.3, perVerified: 0.1 },
      guard: { refused: 0, costSaved: 0 },
      channels: [
        { channel: 'sms', ...smsFigures },
        { channel: 'whatsapp', sent: 0, failed: 1, delivered: 0, undelivered: 0, fallbacks: 0, deliveryRate: null, acceptanceRate: 0, timeToDeliver: { p50: null, p95: null } },
      ],
      providers: [
        { provider: 'bad', sent: 0, failed: 1, delivered: 0, undelivered: 0, fallbacks: 0, deliveryRate: null, acceptanceRate: 0, timeToDeliver: { p50: null, p95: null } },
        { provider: 'smsgw', sent: 6, failed: 0, delivered: 1, undelivered: 1, fallbacks: 1, deliveryRate: 0.1667, acceptanceRate: 1, timeToDeliver: { p50: 4, p95: 4.9 } },
        { provider: 'wagw', sent: 0, failed: 1, delivered: 0, undelivered: 0, fallbacks: 0, deliveryRate: null, acceptanceRate: 0, timeToDeliver: { p50: null, p95: null } },
      ],
    });
  });

  it('across apps for the admin, with the refusal and the cost it saved; one app with app=', async () => {
    const all = (await admin(`/analytics/summary?${day}`)).body;
    expect(all.verifications).toMatchObject({ started: 8, verified: 3, pending: 1 });
    expect(all.cost).toEqual({ total: 0.35, perVerified: 0.116667 });
    expect(all.guard).toEqual({ refused: 1, costSaved: 0.05 });
    const one = (await admin(`/analytics/summary?${day}&app=${app2.appId}`)).body;
    expect(one.verifications).toMatchObject({ started: 1, verified: 0, pending: 1, conversionRate: 0 });
    expect(one.messages).toMatchObject({ sent: 1, failed: 0 });
    expect(one.guard).toEqual({ refused: 1, costSaved: 0.05 });
  });

  it('filters by country, prefix, channel and provider', async () => {
    const q = async (f: string) => (await h.req('GET', `/v1/analytics/summary?${day}&${f}`)).body;
    const be = await q('country=be');
    expect(be.verifications).toMatchObject({ started: 1, expired: 1, verified: 0 });
    expect(be.messages).toMatchObject({ sent: 0, failed: 1 });
    expect((await q('prefix=%2B32')).verifications.started).toBe(1);
    expect((await q('prefix=3361')).verifications.started).toBe(6);
    // A workflow's verification counts under its first channel; its messages under their own.
    const w = await q('channel=whatsapp');
    expect(w.verifications).toMatchObject({ started: 1, verified: 1 });
    expect(w.messages).toMatchObject({ sent: 0, failed: 1 });
    const p = await q('provider=smsgw');
    expect(p.verifications.started).toBe(0); // verification figures have no provider
    expect(p.messages).toMatchObject({ sent: 6, delivered: 1 });
    expect(p.cost.total).toBe(0.3);
  });

  it('a range that leaves out the hour of the starts has none of them (figures by cohort)', async () => {
    const r = (await h.req('GET', '/v1/analytics/summary?from=2026-01-01T13:00:00Z&to=2026-01-02T00:00:00Z')).body;
    expect(r.verifications.started).toBe(0);
    expect(r.verifications.expired).toBe(0); // v4 and v6 expired at 13:05 but started at 12:00
  });
});

describe('the series', () => {
  it('per hour, every bucket present, grouped by app', async () => {
    const r = await admin(`/analytics/series?${day}&interval=hour&groupBy=app`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.series.map((s: { group: string }) => s.group)).toEqual([h.appId, app2.appId]);
    const first = r.body.series[0].points;
    expect(first).toHaveLength(24);
    expect(first[12]).toMatchObject({ t: '2026-01-01T12:00:00.000Z', started: 7, verified: 3, conversionRate: 0.4286, sent: 6, cost: 0.3, timeToVerifyP50: 17.5 });
    expect(first.filter((p: { started: number }) => p.started > 0)).toHaveLength(1);
    expect(r.body.series[1].points[13]).toMatchObject({ started: 1, refused: 1, costSaved: 0.05, sent: 1 });
  });

  it('per day by channel, and the groups past the limit summed as other', async () => {
    const r = (await h.req('GET', '/v1/analytics/series?from=2025-12-30T00:00:00Z&to=2026-01-02T00:00:00Z&groupBy=channel')).body;
    expect(r.series.map((s: { group: string }) => s.group)).toEqual(['sms', 'whatsapp']);
    expect(r.series[0].points.map((p: { started: number }) => p.started)).toEqual([0, 0, 6]);
    expect(r.series[0].points[2]).toMatchObject({ t: '2026-01-01T00:00:00.000Z', sent: 6, delivered: 1, deliveryRate: 0.1667 });
    const limited = (await h.req('GET', `/v1/analytics/series?${day}&groupBy=country&limit=1`)).body;
    expect(limited.series.map((s: { group: string }) => s.group)).toEqual(['FR', 'other']);
    expect(limited.series[1].points[0]).toMatchObject({ started: 1, messagesFailed: 1 });
    // By prefix: the top prefix, and the others as the total less it (exact), per UTC day only.
    const prefixes = (await h.req('GET', `/v1/analytics/series?${day}&groupBy=prefix&limit=1`)).body;
    expect(prefixes.series.map((s: { group: string }) => s.group)).toEqual(['33611', 'other']);
    expect(prefixes.series[0].points[0]).toMatchObject({ started: 6, verified: 3, sent: 6, cost: 0.3, timeToVerifyP50: 17.5 });
    expect(prefixes.series[1].points[0]).toMatchObject({ started: 1, expired: 1, messagesFailed: 1, sent: 0, cost: 0 });
    const all = (await h.req('GET', `/v1/analytics/series?${day}&groupBy=prefix`)).body;
    expect(all.series.map((s: { group: string }) => s.group)).toEqual(['33611', '32470']);
    const one = (await h.req('GET', `/v1/analytics/series?${day}&groupBy=channel&prefix=%2B32`)).body;
    expect(one.series.map((s: { group: string }) => s.group)).toEqual(['sms']);
    expect((await h.req('GET', `/v1/analytics/series?${day}&groupBy=prefix&interval=hour`)).status).toBe(422);
  });
});

describe('bad queries are problems', () => {
  it('422 for a reversed or too long range, an hourly series over 31 days, a bad filter; 404 for an unknown app', async () => {
    const bad422 = async (path: string) => {
      const r = await admin(path);
      expect(r.status, `${path}: ${r.text}`).toBe(422);
      expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
      return r.body;
    };
    expect((await bad422('/analytics/summary?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z')).errors[0].pointer).toBe('/from');
    await bad422('/analytics/summary?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z');
    expect((await bad422('/analytics/series?from=2025-11-01T00:00:00Z&to=2026-01-01T00:00:00Z&interval=hour')).errors[0].pointer).toBe('/interval');
    await bad422('/analytics/summary?prefix=33612345');
    await bad422('/analytics/summary?from=yesterday');
    expect((await admin('/analytics/summary?app=app_nope')).status).toBe(404);
    expect((await h.req('GET', '/v1/analytics/summary?app=x')).status).toBe(422); // no app filter on /v1
    // Older than the hourly rows kept (90 days): whole days from the daily rows, and no hourly series.
    expect((await admin('/analytics/summary?days=365')).body.from).toMatch(/T00:00:00\.000Z$/);
    expect((await admin('/analytics/series?from=2025-09-01T00:00:00Z&to=2025-09-02T00:00:00Z&interval=hour')).status).toBe(422);
  });

  it('needs credentials', async () => {
    expect((await h.req('GET', '/v1/analytics/summary', undefined, { key: null })).status).toBe(401);
    expect((await h.req('GET', '/admin/v1/analytics/summary')).status).toBe(401); // an app key is not the admin token
  });
});

describe('under concurrency', () => {
  it('concurrent starts and checks (right and wrong) are each counted once: the rollups equal the stored verifications', async () => {
    const app3 = await h.newApp('Busy');
    const phones = Array.from({ length: 40 }, (_, i) => `+336120000${String(i).padStart(2, '0')}`);
    const started = await Promise.all(phones.map((to) => h.req('POST', '/v1/verifications', { to }, { key: app3.key })));
    expect(started.every((r) => r.status === 201)).toBe(true);
    await h.otpd.worker!.flush();
    // Each number gets a wrong code and the right one at once (either may come first), every third only a wrong one.
    await Promise.all(started.flatMap((r, i) => {
      const right = codeSent(sms, phones[i]!);
      const wrongCode = right.replace(/^./, (d) => String((Number(d) + 1) % 10));
      const check = (code: string) => h.req('POST', `/v1/verifications/${r.body.id}/check`, { code }, { key: app3.key });
      return i % 3 === 0 ? [check(wrongCode)] : [check(wrongCode), check(right)];
    }));
    const list = (await h.req('GET', '/v1/verifications?limit=100', undefined, { key: app3.key })).body.data as { status: string; attempts: number }[];
    const s = (await admin(`/analytics/summary?from=2026-01-01T00:00:00Z&to=2026-01-03T00:00:00Z&app=${app3.appId}`)).body;
    expect(s.verifications.started).toBe(40);
    expect(s.verifications.verified).toBe(list.filter((v) => v.status === 'verified').length);
    expect(s.verifications.verified).toBe(26);
    // A wrong code that lands after the right one finds the verification settled: no try, not a wrong code.
    expect(s.verifications.wrongCodes).toBe(list.reduce((n, v) => n + v.attempts - (v.status === 'verified' ? 1 : 0), 0));
    expect(s.verifications.wrongCodes).toBeGreaterThanOrEqual(14);
    expect(s.messages.sent).toBe(40);
  });
});
