/**
 * Prometheus metrics (`GET /metrics`, issue 17), on both stores: protected by the admin token or OTPD_METRICS_TOKEN,
 * counting what happened (HTTP by route pattern, verification events, provider calls, guard decisions), reading the
 * backlogs when scraped, with bounded labels (no phone number, no id).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, phone, startHarness, wrong, type Harness } from './helpers.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef0123456789';
let h: Harness;
beforeAll(async () => { h = await startHarness({ config: { metricsToken: METRICS_TOKEN } }); });
afterAll(async () => { await h.close(); });

const scrape = async (key: string | null = ADMIN_TOKEN) => {
  const r = await fetch(`${h.url}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
};
/** The value of one series (labels in any order), or null. */
function value(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return null;
}

describe('GET /metrics', () => {
  it('needs the admin token or OTPD_METRICS_TOKEN; an app key or nothing is a 401 problem', async () => {
    for (const key of [null, h.key, 'x'.repeat(40)]) {
      const r = await scrape(key);
      expect(r.status).toBe(401);
      expect(r.type).toContain('application/problem+json');
    }
    expect((await scrape(METRICS_TOKEN)).status).toBe(200);
    const ok = await scrape();
    expect(ok.status).toBe(200);
    expect(ok.type).toContain('text/plain');
    expect(ok.text).toContain('otpd_nodejs_eventloop_lag_seconds');
  });

  it('counts requests by route pattern, verification events, provider calls and guard decisions, with no number or id in a label', async () => {
    const to = phone();
    const { id, code } = await h.startAndRead(to);
    await h.req('POST', `/v1/verifications/${id}/check`, { code: wrong(code) });
    await h.req('POST', `/v1/verifications/${id}/check`, { code });
    const guarded = await h.newApp('Guarded', { guard: { mode: 'enforce', rules: { 'ip-sends': { limit: 1, period: 3600 } } } } as never);
    await h.req('POST', '/v1/verifications', { to: phone(), ip: '203.0.113.9' }, { key: guarded.key });
    expect((await h.req('POST', '/v1/verifications', { to: phone(), ip: '203.0.113.9' }, { key: guarded.key })).status).toBe(429);
    await h.otpd.worker!.flush();

    const { text } = await scrape();
    expect(value(text, 'otpd_verification_events_total', { event: 'started', channel: 'sms' })).toBeGreaterThanOrEqual(2);
    expect(value(text, 'otpd_verification_events_total', { event: 'wrong_code', channel: 'sms' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'otpd_verification_events_total', { event: 'verified', channel: 'sms' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'otpd_provider_calls_total', { provider: 'console', outcome: 'accepted' })).toBeGreaterThanOrEqual(2);
    expect(value(text, 'otpd_provider_call_duration_seconds_count', { provider: 'console' })).toBeGreaterThanOrEqual(2);
    expect(value(text, 'otpd_guard_decisions_total', { rule: 'ip-sends', outcome: 'refused' })).toBe(1);
    expect(value(text, 'otpd_http_request_duration_seconds_count', { route: '/v1/verifications/:id/check', method: 'POST', status: '2xx' })).toBeGreaterThanOrEqual(2);
    expect(value(text, 'otpd_http_request_duration_seconds_count', { route: '/v1/verifications', method: 'POST', status: '4xx' })).toBeGreaterThanOrEqual(1);
    expect(value(text, 'otpd_outbox_due')).toBe(0);
    expect(value(text, 'otpd_webhook_deliveries_oldest_due_age_seconds')).toBe(0);
    // Bounded labels: route patterns, never the URL; no number, no verification or app id.
    expect(text).not.toContain(to.slice(1));
    expect(text).not.toContain(id);
    expect(text).not.toContain(guarded.appId);
    expect(text).not.toMatch(/route="\/v1\/verifications\/ver_/);
  });

  it('reads the outbox backlog when scraped: due messages and the age of the oldest', async () => {
    await h.otpd.worker!.stop();
    const s = await h.req('POST', '/v1/verifications', { to: phone() });
    expect(s.status).toBe(201);
    h.clock.advance(30_000);
    const { text } = await scrape();
    expect(value(text, 'otpd_outbox_due')).toBe(1);
    expect(value(text, 'otpd_outbox_oldest_due_age_seconds')).toBeGreaterThanOrEqual(30);
  });
});
