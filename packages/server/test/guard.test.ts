/**
 * The fraud and abuse guard over HTTP, on both stores: every kind of rule and its answer, nothing sent for a
 * refusal, the modes, allow lists, spend caps, decisions, blocks and unblock, the events, trusted proxies, and
 * blocks surviving a restart.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeLocal, listenLocal } from './fakes/local-server.js';
import { ADMIN_TOKEN, phone, startHarness, wrong, type Harness } from './helpers.js';

const hits: { type: string; data: Record<string, unknown> }[] = [];
let receiver: Server;
let receiverUrl = '';
let h: Harness;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits.push(JSON.parse(Buffer.concat(chunks).toString()) as never);
      res.writeHead(204).end();
    });
  });
  receiverUrl = await listenLocal(receiver);
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
  await closeLocal(receiver);
});

const admin = (method: string, path: string, body?: unknown) => h.req(method, `/admin/v1${path}`, body, { key: ADMIN_TOKEN });

/** A new app with the guard on (and these guard settings), listening for guard events. */
async function guarded(guard: Record<string, unknown> = {}, settings: Record<string, unknown> = {}) {
  const a = await h.newApp('Guarded', { ...settings, guard: { mode: 'enforce', ...guard } } as never);
  await admin('POST', `/apps/${a.appId}/webhooks`, { url: `${receiverUrl}/${a.appId}`, events: ['fraud.blocked', 'fraud.unblocked', 'spend.warning'] });
  const start = (body: Record<string, unknown>, headers?: Record<string, string>) => h.req('POST', '/v1/verifications', body, { key: a.key, ...(headers ? { headers } : {}) });
  return { ...a, start };
}

const seq = (prefix: string, i: number) => `${prefix}${String(i).padStart(3, '0')}`;
const events = async (type: string) => {
  await h.otpd.webhookWorker.flush();
  return hits.filter((e) => e.type === type);
};
/** Messages handed to the provider for `to` (after the worker's in-flight sends). */
const sent = async (appId: string, to: string) => {
  await h.otpd.worker?.flush();
  return h.otpd.devInbox!.list(appId, to, 10).length;
};
const codeOf = async (appId: string, to: string) => {
  await h.otpd.worker?.flush();
  return h.otpd.devInbox!.list(appId, to, 1)[0]!.code;
};

describe('SMS pumping: sequential numbers in one prefix', () => {
  it('are refused once the prefix budget is full (403 fraud_blocked, reason codes only, nothing sent); two minutes full block the prefix', async () => {
    const a = await guarded();
    const statuses: number[] = [];
    // At one instant (the test's clock stands still): the floor (10), and as many sends too young to have been
    // verified; then refused.
    for (let i = 0; i < 24; i++) statuses.push((await a.start({ to: seq('+33612345', i), ip: `198.51.100.${i}` })).status);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(201));
    expect(statuses.slice(20)).toEqual([403, 403, 403, 403]);
    expect((await admin('GET', `/apps/${a.appId}/guard/blocks`)).body.data).toEqual([]); // full, not blocked yet
    h.clock.advance(120_000);
    const r = await a.start({ to: seq('+33612345', 30) });
    // Its 20 sends are old now: they fill the prefix's range too (15), which refuses as well.
    expect(r.body).toMatchObject({ code: 'fraud_blocked', reasons: ['prefix_concentration', 'range_concentration'] });
    expect(r.headers.get('retry-after')).toBeNull();
    expect(r.text).not.toMatch(/floor|capacity|\blevel\b|\bratio\b/);
    // Nothing was sent for a refusal.
    expect(await sent(a.appId, seq('+33612345', 22))).toBe(0);
    expect(await sent(a.appId, seq('+33612345', 19))).toBe(1);
    // Another prefix, in another range, passes (a random number could fall in this prefix's range, +336123, which is full).
    expect((await a.start({ to: '+33687654321' })).status).toBe(201);

    const blocks = (await admin('GET', `/apps/${a.appId}/guard/blocks`)).body.data;
    expect(blocks).toEqual([expect.objectContaining({ dimension: 'prefix', value: '+33612345', rule: 'prefix-unverified', reason: 'prefix_concentration' })]);
    expect(Date.parse(blocks[0].blockedUntil) - Date.parse(blocks[0].blockedAt)).toBe(12 * 3600_000);
    const decisions = (await admin('GET', `/apps/${a.appId}/guard/decisions?rule=prefix-unverified`)).body.data;
    expect(decisions).toHaveLength(5);
    expect(decisions[0]).toMatchObject({ action: 'start', outcome: 'refused', mode: 'enforce', code: 'fraud_blocked', prefix: '+33612345', country: 'FR', reasons: ['prefix_concentration', 'range_concentration'] });
    expect(decisions.at(-1)).toMatchObject({ to: seq('+33612345', 20), ip: '198.51.100.20' });
    const blocked = await events('fraud.blocked');
    expect(blocked.filter((e) => e.data.value === '+33612345')).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ dimension: 'prefix', rule: 'prefix-unverified', mode: 'enforce' }) }),
    ]);

    // An operator lifts the block: the next start passes, the change is audited and announced.
    const lifted = await admin('POST', `/apps/${a.appId}/guard/unblock`, { dimension: 'prefix', value: '+33612345' });
    expect(lifted.status).toBe(200);
    expect((await a.start({ to: seq('+33612345', 40) })).status).toBe(201);
    expect((await admin('POST', `/apps/${a.appId}/guard/unblock`, { dimension: 'prefix', value: '+33612345' })).status).toBe(404);
    const audit = (await admin('GET', `/audit?appId=${a.appId}`)).body.data;
    expect(audit.map((x: { action: string }) => x.action)).toContain('guard.unblock');
    expect((await events('fraud.unblocked')).some((e) => e.data.value === '+33612345')).toBe(true);
  });

  it('an attack spread over the prefixes of one range is refused by the range: each prefix stays under its floor', async () => {
    const a = await guarded();
    // Four numbers in each of 12 prefixes of the range +336123 (+336123PPxxx): no prefix fills (10, and 10 young),
    // the range does (15, and 15 young).
    const statuses: number[] = [];
    for (let i = 0; i < 48; i++) statuses.push((await a.start({ to: `+336123${String(i % 12).padStart(2, '0')}${String(1000 + i).slice(1)}` })).status);
    expect(statuses.filter((x) => x === 201)).toHaveLength(30);
    const r = await a.start({ to: '+33612399999' });
    expect(r.body).toMatchObject({ code: 'fraud_blocked', reasons: ['range_concentration'] });
    expect((await a.start({ to: '+33612400123' })).status).toBe(201); // the next range is another budget
  });

  it('conversions keep a prefix open: users who verify are never refused', async () => {
    const a = await guarded();
    for (let i = 0; i < 25; i++) {
      const s = await a.start({ to: seq('+33698765', i) });
      expect(s.status).toBe(201);
      const code = await codeOf(a.appId, seq('+33698765', i));
      expect((await h.req('POST', `/v1/verifications/${s.body.id}/check`, { code }, { key: a.key })).body.valid).toBe(true);
      await h.otpd.guard.idle();
    }
  });
});

describe('rate limits per address', () => {
  it('answer 429 rate_limited with Retry-After; another address passes; X-Forwarded-For from an untrusted hop counts for nothing', async () => {
    const a = await guarded({ rules: { 'ip-sends': { limit: 3, period: 60 } } });
    for (let i = 0; i < 3; i++) expect((await a.start({ to: phone(), ip: '203.0.113.5' })).status).toBe(201);
    const r = await a.start({ to: phone(), ip: '203.0.113.5' });
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ code: 'rate_limited', reasons: ['ip_velocity'] });
    expect(r.headers.get('retry-after')).toBe('20');
    expect((await a.start({ to: phone(), ip: '203.0.113.6' })).status).toBe(201);
    // IPv6 counts per /64: another address in the same /64 is the same client.
    for (let i = 0; i < 3; i++) expect((await a.start({ to: phone(), ip: `2001:db8:5:5::${i + 1}` })).status).toBe(201);
    expect((await a.start({ to: phone(), ip: '2001:db8:5:5:ffff::1' })).status).toBe(429);
    // Without OTPD_TRUST_PROXY the connection is the backend, not the end user: no address counts without the signal.
    for (let i = 0; i < 5; i++) expect((await a.start({ to: phone() }, { 'x-forwarded-for': '203.0.113.5' })).status).toBe(201);
    h.clock.advance(20_000);
    expect((await a.start({ to: phone(), ip: '203.0.113.5' })).status).toBe(201);
    expect((await a.start({ to: phone(), ip: 'not-an-ip' })).body).toMatchObject({ code: 'invalid_request', errors: [{ pointer: '/ip' }] });
  });

  it('wrong codes are limited per address too; a refused check uses no try; right codes are never counted', async () => {
    const a = await guarded({ rules: { 'ip-checks': { limit: 2, period: 60 } } });
    const s = await a.start({ to: phone() });
    const bad = wrong(await codeOf(a.appId, s.body.to));
    const check = async (ip: string) => {
      const r = await h.req('POST', `/v1/verifications/${s.body.id}/check`, { code: bad, ip }, { key: a.key });
      await h.otpd.guard.idle(); // wrong codes are counted in the background
      return r;
    };
    expect((await check('192.0.2.77')).body.attemptsRemaining).toBe(2);
    expect((await check('192.0.2.77')).body.attemptsRemaining).toBe(1);
    const r = await check('192.0.2.77');
    expect(r.status).toBe(429);
    expect(r.body.code).toBe('rate_limited');
    expect((await h.req('GET', `/v1/verifications/${s.body.id}`, undefined, { key: a.key })).body.attempts).toBe(2);
    for (let i = 0; i < 4; i++) {
      const v = await a.start({ to: phone() });
      const ok = await h.req('POST', `/v1/verifications/${v.body.id}/check`, { code: await codeOf(a.appId, v.body.to), ip: '192.0.2.78' }, { key: a.key });
      await h.otpd.guard.idle();
      expect(ok.body.valid).toBe(true);
    }
  });

  it('an address sending to a fourth country without any verification from it is blocked', async () => {
    const a = await guarded();
    for (const to of ['+33612000001', '+4915123456789', '+447400123456']) expect((await a.start({ to, ip: '192.0.2.200' })).status).toBe(201);
    const r = await a.start({ to: '+2348021234567', ip: '192.0.2.200' });
    expect(r.status).toBe(403);
    expect(r.body.reasons).toEqual(['many_countries_per_ip']);
    expect((await a.start({ to: phone(), ip: '192.0.2.200' })).status).toBe(403); // the address is blocked now
    expect((await a.start({ to: phone(), ip: '192.0.2.201' })).status).toBe(201);
  });

  it('users behind one shared address who verify are not refused; its traffic that never converts is', async () => {
    const a = await guarded({ rules: { 'ip-unverified': { floor: 5 } } });
    for (let i = 0; i < 30; i++) {
      const to = phone();
      const s = await a.start({ to, ip: '100.64.0.1' });
      expect(s.status, s.text).toBe(201);
      if (i % 10 !== 0) { // most verify, as in life
        const code = await codeOf(a.appId, to);
        await h.req('POST', `/v1/verifications/${s.body.id}/check`, { code }, { key: a.key });
        await h.otpd.guard.idle();
      }
    }
    // Later (the room its recent verifications made for sends in flight has gone), traffic that never converts:
    h.clock.advance(15 * 60_000);
    let refused = 0;
    for (let i = 0; i < 40; i++) if ((await a.start({ to: phone(), ip: '100.64.0.1' })).status === 403) refused++;
    expect(refused).toBeGreaterThan(25);
  });
});

describe('behind trusted proxies', () => {
  it('the connection address counts, and client-written X-Forwarded-For entries do not', async () => {
    const p = await startHarness({ config: { trustProxy: ['127.0.0.1'] } });
    try {
      const a = await p.newApp('Proxied', { guard: { mode: 'enforce', rules: { 'ip-sends': { limit: 2, period: 3600 } } } } as never);
      const start = (xff: string) => p.req('POST', '/v1/verifications', { to: phone() }, { key: a.key, headers: { 'x-forwarded-for': xff } });
      expect((await start('203.0.113.9')).status).toBe(201);
      expect((await start('203.0.113.9')).status).toBe(201);
      expect((await start('203.0.113.9')).status).toBe(429);
      // An attacker writes its own entries to the left; the proxy appends the address it saw: that one counts.
      expect((await start('198.51.100.1, 203.0.113.9')).status).toBe(429);
      expect((await start('203.0.113.10')).status).toBe(201);
      const d = (await p.req('GET', `/admin/v1/apps/${a.appId}/guard/decisions`, undefined, { key: ADMIN_TOKEN })).body.data;
      expect(d.map((x: { ip: string }) => x.ip)).toEqual(['203.0.113.9', '203.0.113.9']);
    } finally {
      await p.close();
    }
  });
});

describe('modes and allow lists', () => {
  it('shadow mode decides and records, and never refuses', async () => {
    const a = await guarded({ mode: 'shadow' });
    for (let i = 0; i < 24; i++) expect((await a.start({ to: seq('+33655555', i) })).status).toBe(201);
    const d = (await admin('GET', `/apps/${a.appId}/guard/decisions`)).body.data;
    expect(d.length).toBeGreaterThanOrEqual(4);
    expect(d.every((x: { outcome: string; mode: string }) => x.outcome === 'flagged' && x.mode === 'shadow')).toBe(true);
  });

  it('off runs no rule', async () => {
    const a = await guarded({ mode: 'off' });
    for (let i = 0; i < 14; i++) expect((await a.start({ to: seq('+33644444', i) })).status).toBe(201);
    expect((await admin('GET', `/apps/${a.appId}/guard/decisions`)).body.data).toEqual([]);
  });

  it('numbers, prefixes and address ranges on the allow lists pass every rule', async () => {
    const a = await guarded({ rules: { 'ip-sends': { limit: 1, period: 3600 } }, allow: { prefixes: ['+3363333'], numbers: ['+33622222000'], ips: ['10.20.0.0/16'] } });
    for (let i = 0; i < 14; i++) expect((await a.start({ to: seq('+33633333', i), ip: '192.0.2.1' })).status).toBe(201);
    for (let i = 0; i < 5; i++) expect((await a.start({ to: phone(), ip: `10.20.${i}.1` })).status).toBe(201);
    expect((await a.start({ to: '+33622222000', ip: '192.0.2.1' })).status).toBe(201);
    // None of those was counted: the address's one send an hour is still there, then it is limited.
    expect((await a.start({ to: phone(), ip: '192.0.2.1' })).status).toBe(201);
    expect((await a.start({ to: phone(), ip: '192.0.2.1' })).status).toBe(429);
  });
});

describe('spend caps', () => {
  it('refuse past the daily cap with spend_cap_reached and Retry-After to midnight UTC, warn at 80 %, and never charge a send the engine refused', async () => {
    const a = await guarded({ spendCap: { daily: 0.2 } }, { prices: { currency: 'EUR', sms: { FR: 0.05 } } });
    const to = phone();
    expect((await a.start({ to })).status).toBe(201);
    // The engine refuses this one (the phone's cooldown): nothing sent, nothing charged.
    expect((await a.start({ to })).status).toBe(429);
    for (let i = 0; i < 3; i++) expect((await a.start({ to: phone() })).status).toBe(201);
    const r = await a.start({ to: phone() });
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ code: 'spend_cap_reached', reasons: ['spend_cap_daily'] });
    const midnight = new Date(h.clock.now()).setUTCHours(24, 0, 0, 0);
    expect(r.headers.get('retry-after')).toBe(String(Math.ceil((midnight - h.clock.now()) / 1000)));
    const g = (await admin('GET', `/apps/${a.appId}/guard`)).body;
    expect(g.spend).toMatchObject({ currency: 'EUR', daily: { spent: 0.2, cap: 0.2 }, monthly: { cap: null } });
    const warnings = (await events('spend.warning')).filter((e) => e.data.cap === 0.2);
    expect(warnings).toEqual([expect.objectContaining({ data: expect.objectContaining({ period: 'daily', spent: 0.2, currency: 'EUR' }) })]);
    const d = (await admin('GET', `/apps/${a.appId}/guard/decisions`)).body.data;
    expect(d[0]).toMatchObject({ code: 'spend_cap_reached', rules: ['spend-day'], outcome: 'refused' });
  });
});

describe('guard settings', () => {
  it('are read and changed through the admin API, validated naming the field, and take effect at once', async () => {
    const a = await guarded();
    const g = (await admin('GET', `/apps/${a.appId}/guard`)).body;
    expect(g).toMatchObject({ mode: 'enforce', level: 'standard', activeBlocks: 0 });
    expect(g.rules.map((r: { id: string }) => r.id)).toContain('prefix-unverified');
    const p = await admin('PATCH', `/apps/${a.appId}/guard`, { level: 'max', rules: { 'ip-countries': false } });
    expect(p.status).toBe(200);
    expect(p.body.rules.find((r: { id: string }) => r.id === 'prefix-unverified').floor).toBe(5);
    expect(p.body.rules.some((r: { id: string }) => r.id === 'ip-countries')).toBe(false);
    const bad = await admin('PATCH', `/apps/${a.appId}/guard`, { rules: { 'prefix-unverified': { floor: 0 } } });
    expect(bad.status).toBe(422);
    expect(bad.body.errors[0].pointer).toBe('/settings/guard/rules/prefix-unverified/floor');
    for (let i = 0; i < 10; i++) expect((await a.start({ to: seq('+33677777', i) })).status).toBe(201); // floor 5, and 5 young
    expect((await a.start({ to: seq('+33677777', 19) })).status).toBe(403);
    expect((await admin('PATCH', `/apps/${a.appId}/guard`, { level: null })).body.level).toBe('standard');
  });
});

describe('restarts', () => {
  it('blocks and counters survive a restart', async () => {
    const first = await startHarness({ keepDir: true, keepDatabase: true });
    const app = await first.newApp('R', { guard: { mode: 'enforce' } } as never);
    for (let i = 0; i < 21; i++) await first.req('POST', '/v1/verifications', { to: seq('+33611111', i) }, { key: app.key });
    first.clock.advance(120_000);
    expect((await first.req('POST', '/v1/verifications', { to: seq('+33611111', 40) }, { key: app.key })).body.code).toBe('fraud_blocked');
    await first.close();
    const again = await startHarness({ dir: first.dir, databaseUrl: first.databaseUrl, firstApp: false });
    try {
      const r = await again.req('POST', '/v1/verifications', { to: seq('+33611111', 50) }, { key: app.key });
      expect(r.body.code).toBe('fraud_blocked');
      expect((await again.req('GET', `/admin/v1/apps/${app.appId}/guard/blocks`, undefined, { key: ADMIN_TOKEN })).body.data).toHaveLength(1);
    } finally {
      await again.close();
    }
  });
});

describe('codes', () => {
  it('a wrong code from a guarded app is still only a wrong code', async () => {
    const a = await guarded();
    const s = await a.start({ to: phone() });
    const code = await codeOf(a.appId, s.body.to);
    expect((await h.req('POST', `/v1/verifications/${s.body.id}/check`, { code: wrong(code) }, { key: a.key })).body.valid).toBe(false);
  });
});

describe('blocks that run out', () => {
  it('are announced once (fraud.unblocked, by expiry) and leave the list (moves the clock 13 h)', async () => {
    const a = await guarded();
    for (let i = 0; i < 21; i++) await a.start({ to: seq('+33622334', i) });
    h.clock.advance(120_000);
    expect((await a.start({ to: seq('+33622334', 20) })).body.code).toBe('fraud_blocked');
    expect((await admin('GET', `/apps/${a.appId}/guard/blocks`)).body.data).toHaveLength(1);
    expect(await h.otpd.guardAdmin.endBlocks(500)).toBe(0); // not over yet
    h.clock.advance(12 * 3600_000 + 1000);
    expect(await h.otpd.guardAdmin.endBlocks(500)).toBeGreaterThanOrEqual(1);
    expect(await h.otpd.guardAdmin.endBlocks(500)).toBe(0); // announced once
    expect((await admin('GET', `/apps/${a.appId}/guard/blocks`)).body.data).toEqual([]);
    const ended = (await events('fraud.unblocked')).filter((e) => e.data.value === '+33622334');
    expect(ended).toEqual([expect.objectContaining({ data: expect.objectContaining({ dimension: 'prefix', rule: 'prefix-unverified', by: 'expiry' }) })]);
  });
});

describe('the sweep', () => {
  it('deletes the rows that remember nothing any more, and keeps the others (runs last: it moves the clock 40 days)', async () => {
    const a = await guarded();
    const to = phone();
    expect((await a.start({ to, ip: '192.0.2.250' })).status).toBe(201);
    const keys = [`${a.appId}|prefix|${to.slice(0, -3)}`, `${a.appId}|ip|192.0.2.250`, `${a.appId}|country|FR`];
    expect(await h.otpd.guard.sweep(7)).toBeGreaterThanOrEqual(0);
    expect((await h.otpd.store.guard.get(keys)).map((r) => r.key).sort()).toEqual([...keys].sort());
    h.clock.advance(40 * 86_400_000);
    expect(await h.otpd.guard.sweep(7)).toBeGreaterThanOrEqual(3);
    expect(await h.otpd.store.guard.get(keys)).toEqual([]);
  });
});
