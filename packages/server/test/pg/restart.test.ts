/**
 * PostgreSQL goes away under otpd: requests in flight get a 503 problem (`store_unavailable`), /readyz says so,
 * the service reconnects by itself when the database is back, and nothing it acknowledged is lost. Own cluster:
 * restarting the shared one would break the other test files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, phone, type Harness, type Res } from '../helpers.js';
import { startCluster, type Cluster } from './cluster.js';

let cluster: Cluster;
let h: Harness;

beforeAll(async () => {
  cluster = await startCluster();
  h = await startHarness({ databaseUrl: cluster.url });
}, 60_000);

afterAll(async () => {
  await h?.close();
  cluster?.stop();
});

async function until(what: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await what()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out');
}

function expectUnavailable(r: Res): void {
  expect(r.status).toBe(503);
  expect(r.headers.get('content-type')).toContain('application/problem+json');
  expect(r.body.code).toBe('store_unavailable');
}

describe('the database goes away', () => {
  it('while it is down: 503 store_unavailable for work, /readyz 503; back up: served again without a restart of otpd', async () => {
    expect((await h.req('GET', '/readyz')).status).toBe(200);
    await cluster.stopServer('fast');
    try {
      const refused = await h.req('POST', '/v1/verifications', { to: phone() });
      expectUnavailable(refused);
      expect(refused.headers.get('retry-after')).toBe('1');
      const ready = await h.req('GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.code).toBe('store_unavailable');
    } finally {
      await cluster.startServer();
    }
    await until(async () => (await h.req('GET', '/readyz')).status === 200);
    const { id, code } = await h.startAndRead(phone());
    expect((await h.req('POST', `/v1/verifications/${id}/check`, { code })).body.status).toBe('verified');
  });

  it('restarted mid-load: only successes or 503s, never a 500; every acknowledged verification and check is there afterwards', async () => {
    const started: string[] = [];
    const verified: string[] = [];
    const statuses = new Map<number, number>();
    let stop = false;
    const note = (r: Res) => {
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status >= 500) expectUnavailable(r);
    };
    const worker = async () => {
      while (!stop) {
        const to = phone();
        const s = await h.req('POST', '/v1/verifications', { to });
        note(s);
        if (s.status !== 201) { await new Promise((r) => setTimeout(r, 20)); continue; }
        started.push(s.body.id);
        const m = await h.req('GET', `/dev/messages?to=${encodeURIComponent(to)}`);
        const code = m.body.messages?.find((x: { verificationId: string }) => x.verificationId === s.body.id)?.code;
        if (!code) continue;
        const c = await h.req('POST', `/v1/verifications/${s.body.id}/check`, { code });
        note(c);
        if (c.status === 200 && c.body.status === 'verified') verified.push(s.body.id);
      }
    };
    const workers = Array.from({ length: 12 }, () => worker());
    await new Promise((r) => setTimeout(r, 700));
    const before = started.length;
    await cluster.restart('fast');
    await until(async () => (await h.req('GET', '/readyz')).status === 200);
    const atRestart = started.length;
    await until(async () => started.length > atRestart + 20); // served again, by itself
    stop = true;
    await Promise.all(workers);

    expect(before).toBeGreaterThan(10);
    expect(statuses.get(503), JSON.stringify([...statuses])).toBeGreaterThan(0);
    expect([...statuses.keys()].every((s) => s === 200 || s === 201 || s === 503)).toBe(true);
    for (const id of started) expect((await h.req('GET', `/v1/verifications/${id}`)).status, id).toBe(200);
    for (const id of verified) expect((await h.req('GET', `/v1/verifications/${id}`)).body.status, id).toBe('verified');
  });
});
