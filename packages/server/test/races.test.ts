import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phone, startHarness, wrong, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.close(); });

const answer = (r: { status: number; body: { code?: string } }) => `${r.status} ${r.body.code ?? ''}`.trim();

/**
 * Runs `fn` with a clock that moves on by 1 ms at each reading, as a server's does while requests arrive: each request
 * is stamped a little later than the one before. With a new app's caches still cold, PostgreSQL loads them on several
 * connections that answer in any order, so requests reach the phone's lock out of the order they were stamped in.
 */
async function movingClock<T>(fn: () => Promise<T>): Promise<T> {
  const t0 = h.clock.now();
  let ticks = 0;
  h.clock.now = () => t0 + ticks++;
  try {
    return await fn();
  } finally {
    delete (h.clock as { now?: unknown }).now;
    h.clock.set(t0 + ticks);
  }
}

describe('concurrent checks (one process)', () => {
  it('50 concurrent wrong checks count at most maxAttempts tries', async () => {
    const { id, code } = await h.startAndRead(phone());
    const rs = await Promise.all(Array.from({ length: 50 }, () => h.req('POST', `/v1/verifications/${id}/check`, { code: wrong(code) })));
    expect(rs.every((r) => r.status === 200 && r.body.valid === false)).toBe(true);
    const counted = rs.filter((r) => r.body.status === 'pending' || (r.body.status === 'failed' && r.body.attemptsRemaining === 0));
    const v = (await h.req('GET', `/v1/verifications/${id}`)).body;
    expect(v.attempts).toBe(3);
    expect(v.status).toBe('failed');
    expect(counted.length).toBeGreaterThanOrEqual(3);
    // Exactly maxAttempts-1 answers still saw it pending.
    expect(rs.filter((r) => r.body.status === 'pending')).toHaveLength(2);
  });

  it('20 concurrent correct checks yield exactly one verified', async () => {
    const { id, code } = await h.startAndRead(phone());
    const rs = await Promise.all(Array.from({ length: 20 }, () => h.req('POST', `/v1/verifications/${id}/check`, { code })));
    expect(rs.filter((r) => r.body.valid === true)).toHaveLength(1);
    expect(rs.every((r) => r.body.status === 'verified')).toBe(true);
  });

  it('concurrent starts for one phone leave exactly one pending verification', async () => {
    const to = phone();
    const rs = await Promise.all(Array.from({ length: 10 }, () => h.req('POST', '/v1/verifications', { to })));
    expect(rs.filter((r) => r.status === 201)).toHaveLength(1);
    expect(rs.filter((r) => r.status === 429).every((r) => r.body.code === 'rate_limited')).toBe(true);
    const pending = await h.req('GET', `/v1/verifications?to=${encodeURIComponent(to)}&status=pending`);
    expect(pending.body.data).toHaveLength(1);
  });

  it('concurrent starts for one phone with no cooldown all succeed, one after another, each closing the one before', async () => {
    // maxSends at its highest (20): the send limit is not what refuses here, and nothing else may.
    const app = await h.newApp('No cooldown', { resendCooldown: 0, maxSends: 20 });
    const to = phone();
    const rs = await movingClock(() => Promise.all(Array.from({ length: 20 }, () => h.req('POST', '/v1/verifications', { to }, { key: app.key }))));
    expect(rs.map(answer)).toEqual(Array(20).fill('201'));
    // One send each, counted one after another: the answers carry the phone's sends 1 to 20.
    expect(rs.map((r) => r.body.sends as number).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const all = (await h.req('GET', `/v1/verifications?to=${encodeURIComponent(to)}&limit=100`, undefined, { key: app.key })).body.data as { id: string; status: string; sends: number }[];
    expect(all.map((v) => v.status).sort()).toEqual([...Array(19).fill('canceled'), 'pending']);
    const pending = all.find((v) => v.status === 'pending')!;
    expect(pending.sends).toBe(20); // the last one served is the one left pending
    expect(await h.otpd.apps.lockouts(app.appId, to)).toMatchObject([{ sends: 20, failures: 0, locked: true, lockReason: 'sends' }]);
    // A check by recipient is for that pending verification.
    const inbox = await h.req('GET', `/dev/messages?to=${encodeURIComponent(to)}`, undefined, { key: app.key });
    const code = inbox.body.messages.find((m: { verificationId: string }) => m.verificationId === pending.id).code as string;
    const check = await h.req('POST', '/v1/verifications/check', { to, code }, { key: app.key });
    expect(check.body).toMatchObject({ id: pending.id, valid: true, status: 'verified' });
  });

  it('concurrent starts for one phone with no cooldown, past its send limit: only the limit refuses', async () => {
    const app = await h.newApp('No cooldown, 5 sends', { resendCooldown: 0, maxSends: 5 });
    const to = phone();
    const rs = await movingClock(() => Promise.all(Array.from({ length: 30 }, () => h.req('POST', '/v1/verifications', { to }, { key: app.key }))));
    expect(rs.map(answer).sort()).toEqual([...Array(5).fill('201'), ...Array(25).fill('429 phone_locked')]);
    const pending = await h.req('GET', `/v1/verifications?to=${encodeURIComponent(to)}&status=pending`, undefined, { key: app.key });
    expect(pending.body.data).toMatchObject([{ sends: 5 }]);
    expect(await h.otpd.apps.lockouts(app.appId, to)).toMatchObject([{ sends: 5, locked: true, lockReason: 'sends' }]);
  });

  it('many phones at once (batched into groups on PostgreSQL): each request answered as if it were alone', async () => {
    const phones = Array.from({ length: 30 }, () => phone());
    const starts = await Promise.all(phones.map((to) => h.req('POST', '/v1/verifications', { to })));
    expect(starts.map((r) => r.status)).toEqual(Array(30).fill(201));
    const codes = await Promise.all(phones.map(async (to, i) => {
      const m = await h.req('GET', `/dev/messages?to=${encodeURIComponent(to)}`);
      return m.body.messages.find((x: { verificationId: string }) => x.verificationId === starts[i]!.body.id).code as string;
    }));
    // Two wrong tries first for the last ten, so their next wrong try is the last one.
    await Promise.all(phones.slice(20).map(async (_, j) => {
      const i = 20 + j;
      for (let k = 0; k < 2; k++) await h.req('POST', `/v1/verifications/${starts[i]!.body.id}/check`, { code: wrong(codes[i]!) });
    }));
    const checks = await Promise.all(phones.map((_, i) => h.req('POST', `/v1/verifications/${starts[i]!.body.id}/check`, { code: i < 10 ? codes[i] : wrong(codes[i]!) })));
    checks.forEach((r, i) => {
      expect(r.status).toBe(200);
      if (i < 10) expect(r.body).toMatchObject({ valid: true, status: 'verified' });
      else if (i < 20) expect(r.body).toMatchObject({ valid: false, status: 'pending', attemptsRemaining: 2 });
      else expect(r.body).toMatchObject({ valid: false, status: 'failed', attemptsRemaining: 0 });
    });
    // The failed ones locked their phones; the verified ones cleared theirs.
    const again = await Promise.all([phones[0]!, phones[25]!].map((to) => h.req('POST', '/v1/verifications', { to })));
    expect(again[1]!.body.code).toBe('phone_locked');
    expect(again[0]!.status === 201 || again[0]!.body.code === 'rate_limited').toBe(true);
  });
});
