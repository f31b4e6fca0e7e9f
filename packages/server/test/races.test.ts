import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phone, startHarness, wrong, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.close(); });

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
});
