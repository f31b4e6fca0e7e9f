/**
 * Many nodes: three real `otpd serve` processes on one PostgreSQL database, started together (they migrate under
 * an advisory lock), delivering through one HTTP provider. Every race of the core, spread over the three nodes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES_MIGRATIONS } from '../../src/store/migrations/postgres.js';
import { FakeProvider } from '../fakes/http-provider.js';
import { ADMIN_TOKEN, SECRET, phone, sql, testDatabase, wrong } from '../helpers.js';
import { assertBuilt, call, cli, killAll, serve } from '../proc.js';

let dir: string;
let db: Awaited<ReturnType<typeof testDatabase>>;
const provider = new FakeProvider();
let nodes: string[] = [];
let key = '';
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'otpd-nodes-'));
  db = await testDatabase(dir);
  await provider.start();
  env = {
    ...process.env, OTPD_DATABASE_URL: db.url, OTPD_SECRET: SECRET, OTPD_ADMIN_TOKEN: ADMIN_TOKEN, OTPD_DATA_DIR: dir, OTPD_LOG_LEVEL: 'info',
    OTPD_DELIVERY: 'providers',
    OTPD_PROVIDERS: JSON.stringify({
      providers: [{
        name: 'gw', type: 'http', url: `${provider.url}/send`, apiKey: 'k', auth: 'bearer', senderName: 'Acme',
        body: { to: '{{to}}', text: '{{text}}', ref: '{{messageId}}' }, successField: { path: 'status', equals: 'ok' }, messageIdPath: 'id',
      }],
    }),
  };
  // Started at the same time: each applies migrations on start, one at a time.
  nodes = (await Promise.all([serve(env), serve(env), serve(env)])).map((n) => n.url);
  // The engine's races hammer single phones, which the guard would refuse: its own test below uses another app.
  const created = cli(['apps', 'create', '--name', 'Acme', '--settings', JSON.stringify({ resendCooldown: 0, maxSends: 3, maxAttempts: 3, guard: { mode: 'off' } }), '--json'], env);
  expect(created.code, created.stderr).toBe(0);
  key = (JSON.parse(created.stdout) as { apiKey: string }).apiKey;
}, 60_000);

afterAll(async () => {
  killAll();
  await provider.close();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

const node = (i: number) => nodes[i % nodes.length]!;
const api = (i: number, method: string, path: string, body?: unknown, headers?: Record<string, string>) => call(node(i), key, method, path, body, headers);

/** The code the provider was asked to send for a verification (the message's text holds it). */
async function codeFor(to: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const hit = [...provider.requests].reverse().find((r) => r.json?.to === to);
    if (hit) return /\b(\d{6})\b/.exec(hit.json.text as string)![1]!;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no message to ${to}`);
}

describe('three nodes on one database', () => {
  it('all three migrated the same schema once and serve', async () => {
    const applied = await sql(db.url, 'SELECT name FROM schema_migrations');
    expect(applied.rows.map((r) => r.name).sort()).toEqual(POSTGRES_MIGRATIONS.map((m) => m.name));
    for (let i = 0; i < 3; i++) expect((await call(node(i), '', 'GET', '/readyz')).status).toBe(200);
  });

  it('50 concurrent wrong checks over the 3 nodes count exactly maxAttempts tries', async () => {
    const to = phone();
    const s = await api(0, 'POST', '/v1/verifications', { to });
    expect(s.status).toBe(201);
    const code = await codeFor(to);
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => api(i, 'POST', `/v1/verifications/${s.body.id}/check`, { code: wrong(code) })));
    expect(rs.every((r) => r.status === 200 && r.body.valid === false)).toBe(true);
    expect(rs.filter((r) => r.body.status === 'pending')).toHaveLength(2);
    const v = (await api(1, 'GET', `/v1/verifications/${s.body.id}`)).body;
    expect(v.attempts).toBe(3);
    expect(v.status).toBe('failed');
    // The lock recorded by whichever node counted the last try holds on every node.
    for (let i = 0; i < 3; i++) {
      const again = await api(i, 'POST', '/v1/verifications', { to });
      expect(again.status).toBe(429);
      expect(again.body.code).toBe('phone_locked');
    }
  });

  it('20 concurrent correct checks over the 3 nodes verify exactly once', async () => {
    const to = phone();
    const s = await api(2, 'POST', '/v1/verifications', { to });
    const code = await codeFor(to);
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => api(i, 'POST', `/v1/verifications/${s.body.id}/check`, { code })));
    expect(rs.filter((r) => r.body.valid === true)).toHaveLength(1);
    expect(rs.every((r) => r.status === 200 && r.body.status === 'verified')).toBe(true);
  });

  it('one Idempotency-Key sent to all nodes at once creates one verification and sends one message', async () => {
    const to = phone();
    const before = provider.requests.length;
    const rs = await Promise.all(Array.from({ length: 9 }, (_, i) => api(i, 'POST', '/v1/verifications', { to }, { 'idempotency-key': `k-${to}` })));
    expect(rs.map((r) => r.status)).toEqual(Array(9).fill(201));
    expect(new Set(rs.map((r) => r.body.id)).size).toBe(1);
    const list = await api(0, 'GET', `/v1/verifications?to=${encodeURIComponent(to)}`);
    expect(list.body.data).toHaveLength(1);
    await codeFor(to);
    await new Promise((r) => setTimeout(r, 200));
    expect(provider.requests.slice(before).filter((r) => r.json?.to === to)).toHaveLength(1);
  });

  it('sends per phone are counted across nodes: never more than maxSends, then the phone is locked everywhere', async () => {
    const to = phone();
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => api(i, 'POST', '/v1/verifications', { to })));
    // With no cooldown only the send limit refuses, as on one node: a start served after another node's, whose clock
    // read a little later than its own, is not "too soon" after that send.
    expect(rs.filter((r) => r.status === 201)).toHaveLength(3);
    expect(rs.filter((r) => r.status !== 201).map((r) => r.body.code)).toEqual(Array(7).fill('phone_locked'));
    for (let i = 0; i < 3; i++) expect((await api(i, 'POST', '/v1/verifications', { to })).body.code).toBe('phone_locked');
    const pending = await api(1, 'GET', `/v1/verifications?to=${encodeURIComponent(to)}&status=pending`);
    expect(pending.body.data).toHaveLength(1);
  });

  for (const n of [2, 3]) {
    it(`concurrent starts for one phone with no cooldown, split over ${n} nodes, all succeed one after another`, async () => {
      const created = cli(['apps', 'create', '--name', `No cooldown ${n}`, '--settings', JSON.stringify({ resendCooldown: 0, maxSends: 20, guard: { mode: 'off' } }), '--json'], env);
      const app = JSON.parse(created.stdout) as { id: string; apiKey: string };
      const on = (i: number, method: string, path: string, body?: unknown) => call(nodes[i % n]!, app.apiKey, method, path, body);
      const to = phone();
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => on(i, 'POST', '/v1/verifications', { to })));
      expect(rs.map((r) => `${r.status} ${r.body.code ?? ''}`.trim())).toEqual(Array(20).fill('201'));
      expect(rs.map((r) => r.body.sends as number).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      const all = (await on(1, 'GET', `/v1/verifications?to=${encodeURIComponent(to)}&limit=100`)).body.data as { id: string; status: string; sends: number }[];
      expect(all.map((v) => v.status).sort()).toEqual([...Array(19).fill('canceled'), 'pending']);
      const pending = all.find((v) => v.status === 'pending')!;
      expect(pending.sends).toBe(20);
      const counters = await call(node(2), ADMIN_TOKEN, 'GET', `/admin/v1/apps/${app.id}/lockouts?to=${encodeURIComponent(to)}`);
      expect(counters.body.data).toMatchObject([{ sends: 20, failures: 0, locked: true, lockReason: 'sends' }]);
      // A check by recipient, on any node, is for the pending verification (whatever order the nodes' ids sort in).
      const [msg] = (await on(0, 'GET', `/v1/verifications/${pending.id}/messages`)).body.data as { id: string }[];
      let code: string | undefined;
      for (let i = 0; i < 200 && !code; i++) {
        const sent = provider.requests.find((r) => r.json?.ref === msg!.id);
        if (sent) code = /\b(\d{6})\b/.exec(sent.json.text as string)![1]!;
        else await new Promise((r) => setTimeout(r, 25));
      }
      expect(code).toBeDefined();
      const check = await on(n - 1, 'POST', '/v1/verifications/check', { to, code });
      expect(check.body).toMatchObject({ id: pending.id, valid: true, status: 'verified' });
    });
  }

  it('the guard keeps one budget for all nodes: exactly the limit passes, whichever node serves', async () => {
    const made = cli(['apps', 'create', '--name', 'Guarded', '--settings', JSON.stringify({ guard: { rules: { 'ip-sends': { limit: 5, period: 3600 } } } }), '--json'], env);
    expect(made.code, made.stderr).toBe(0);
    const gkey = (JSON.parse(made.stdout) as { apiKey: string }).apiKey;
    const go = (i: number, body: unknown) => call(node(i), gkey, 'POST', '/v1/verifications', body);
    // One address, 30 starts at once over three nodes: five pass.
    const byIp = await Promise.all(Array.from({ length: 30 }, (_, i) => go(i, { to: phone(), ip: '203.0.113.50' })));
    expect(byIp.filter((r) => r.status === 201)).toHaveLength(5);
    expect(new Set(byIp.filter((r) => r.status !== 201).map((r) => r.body.code))).toEqual(new Set(['rate_limited']));
    // Sequential numbers in one prefix from many addresses: the prefix's budget holds (10 sends nobody verified, and
    // 10 too young to have been verified).
    const byPrefix = await Promise.all(Array.from({ length: 34 }, (_, i) => go(i, { to: `+33687654${String(i).padStart(3, '0')}`, ip: `198.51.100.${i}` })));
    expect(byPrefix.filter((r) => r.status === 201)).toHaveLength(20);
    expect(new Set(byPrefix.filter((r) => r.status !== 201).map((r) => r.body.code))).toEqual(new Set(['fraud_blocked']));
    for (let i = 0; i < 3; i++) expect((await go(i, { to: '+33687654900' })).body.code).toBe('fraud_blocked');
  });

  it('outbox workers on every node send each message exactly once', async () => {
    const phones = Array.from({ length: 60 }, () => phone());
    const mine = () => provider.requests.filter((r) => phones.includes(r.json?.to));
    const rs = await Promise.all(phones.map((to, i) => api(i, 'POST', '/v1/verifications', { to })));
    expect(rs.every((r) => r.status === 201)).toBe(true);
    for (let i = 0; i < 400 && mine().length < 60; i++) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 300)); // would a second send arrive?
    const sent = mine();
    expect(sent).toHaveLength(60);
    expect(new Set(sent.map((r) => r.json.ref)).size).toBe(60);
    expect(new Set(sent.map((r) => r.json.to))).toEqual(new Set(phones));
    const states = await sql(db.url, `SELECT status, count(*)::int AS n FROM outbox WHERE to_addr = ANY($1) GROUP BY status`, [phones]);
    expect(states.rows).toEqual([{ status: 'sent', n: 60 }]);
  });

  it('an API key revoked on one node is refused by the others at once (cache invalidated by NOTIFY)', async () => {
    const created = cli(['apps', 'create', '--name', 'Revoke', '--json'], env);
    const app = JSON.parse(created.stdout) as { id: string; apiKey: string };
    // Warm every node's credential cache.
    for (let i = 0; i < 3; i++) expect((await call(node(i), app.apiKey, 'GET', '/v1/verifications')).status).toBe(200);
    const keys = await call(node(0), ADMIN_TOKEN, 'GET', `/admin/v1/apps/${app.id}/keys`);
    const r = await call(node(0), ADMIN_TOKEN, 'DELETE', `/admin/v1/apps/${app.id}/keys/${keys.body.data[0].id}`);
    expect(r.status).toBe(200);
    await new Promise((res) => setTimeout(res, 300));
    for (let i = 0; i < 3; i++) expect((await call(node(i), app.apiKey, 'GET', '/v1/verifications')).status).toBe(401);
  });

  it("a provider connection created on one node is every node's at once (NOTIFY), and routes that app's messages", async () => {
    const own = await new FakeProvider({ status: 200, json: { status: 'ok', id: 'own-1' } }).start();
    try {
      const made = cli(['apps', 'create', '--name', 'Tenant', '--settings', JSON.stringify({ guard: { mode: 'off' } }), '--json'], env);
      const app = JSON.parse(made.stdout) as { id: string; apiKey: string };
      const c = await call(node(0), ADMIN_TOKEN, 'POST', `/admin/v1/apps/${app.id}/connections`, {
        name: 'own', type: 'http', url: `${own.url}/send`, apiKey: 'own-key', auth: 'bearer',
        body: { to: '{{to}}', text: '{{text}}' }, successField: { path: 'status', equals: 'ok' }, messageIdPath: 'id',
      });
      expect(c.status, JSON.stringify(c.body)).toBe(201);
      // Nodes 1 and 2 route through it within moments of the commit (the first start on each may race the notice).
      for (const i of [1, 2]) {
        let route: string[] = [];
        for (let tries = 0; tries < 40 && route[0] !== c.body.id; tries++) {
          const s = await call(node(i), app.apiKey, 'POST', '/v1/verifications', { to: phone() });
          expect(s.status).toBe(201);
          route = (await call(node(i), app.apiKey, 'GET', `/v1/verifications/${s.body.id}/messages`)).body.data[0].route;
          if (route[0] !== c.body.id) await new Promise((r) => setTimeout(r, 50));
        }
        expect(route).toEqual([c.body.id]);
      }
      await own.received(2);
      // Deleted on node 2: node 0 forgets it too (its next start goes through the server's provider again).
      expect((await call(node(2), ADMIN_TOKEN, 'DELETE', `/admin/v1/apps/${app.id}/connections/${c.body.id}`)).status).toBe(204);
      let route: string[] = [c.body.id];
      for (let tries = 0; tries < 40 && route[0] === c.body.id; tries++) {
        await new Promise((r) => setTimeout(r, 50));
        const s = await call(node(0), app.apiKey, 'POST', '/v1/verifications', { to: phone() });
        route = (await call(node(0), app.apiKey, 'GET', `/v1/verifications/${s.body.id}/messages`)).body.data[0].route;
      }
      expect(route).toEqual(['gw']);
    } finally {
      await own.close();
    }
  });

  // Last: it leaves 127.0.0.1 blocked for unknown credentials for a minute on every node.
  it('failed authentications from one address share one budget over the nodes (20 a minute in all, not 20 each)', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 45; i++) codes.push((await call(node(i), 'otpd_wrong_key_000000000000000000', 'GET', '/v1/verifications')).status);
    const unauthorized = codes.filter((c) => c === 401).length;
    // Each node alone would let all 45 through as 401 (15 each, under its 20); shared, the 20 of the window (the
    // revoked key's three above included, when run with it) plus, per node, the failures it answered while the count
    // that tells it was on its way (counting is off the request's path): one, at most two, here.
    expect(unauthorized).toBeGreaterThan(0);
    expect(unauthorized).toBeLessThanOrEqual(20 + 2 * 3);
    expect(codes.slice(-3)).toEqual([429, 429, 429]);
  });
});
