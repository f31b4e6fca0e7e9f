/**
 * Provider connections (issue 16) over the admin API, on both stores: create, list, read, change and delete them
 * with their credentials sealed at rest and masked in every answer; validation naming the field; names unique in
 * what an app can route to; routing rules checked against them when written; delivery through an app's own
 * connection; a test send reporting what the provider answered.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeProvider } from './fakes/http-provider.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveKeys, sealCode } from '../src/domain/code.js';
import { ADMIN_TOKEN, SECRET, phone, startHarness, type Harness } from './helpers.js';
import { assertBuilt, cli } from './proc.js';

let h: Harness;
let gw: FakeProvider;
beforeAll(async () => {
  gw = await new FakeProvider({ status: 200, json: { status: 'ok', id: 'gw-1' } }).start();
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
  await gw.close();
});

const admin = (method: string, path: string, body?: unknown) => h.req(method, `/admin/v1${path}`, body, { key: ADMIN_TOKEN });
const SID = `AC${'0123456789abcdef'.repeat(2)}`;
const TOKEN = 'twilio-auth-token-never-shown';
const gateway = (name: string, extra: Record<string, unknown> = {}) => ({
  name, type: 'http', url: `${gw.url}/send`, apiKey: 'gw-key-never-shown', auth: 'bearer', senderName: 'Acme',
  body: { to: '{{to}}', text: '{{text}}', ref: '{{messageId}}' }, successField: { path: 'status', equals: 'ok' }, messageIdPath: 'id', ...extra,
});

describe('connections of an app', () => {
  it('are created, listed, read, changed and deleted, their credentials sealed at rest and masked in every answer', async () => {
    const a = await h.newApp('Tenant');
    const made = await admin('POST', `/apps/${a.appId}/connections`, { name: 'own-twilio', type: 'twilio', accountSid: SID, authToken: TOKEN, from: '+15005550006' });
    expect(made.status, made.text).toBe(201);
    expect(made.body).toMatchObject({ appId: a.appId, name: 'own-twilio', type: 'twilio', channels: ['sms', 'voice'], config: { accountSid: SID, authToken: '********', from: '+15005550006' } });
    expect(made.text).not.toContain(TOKEN);
    const id = made.body.id as string;
    expect(id).toMatch(/^con_/);

    // At rest: sealed (not in the stored bytes), bound to the connection.
    const stored = (await h.otpd.store.appConfig.listConnections()).find((c) => c.id === id)!;
    expect(stored.configSealed.includes(Buffer.from(TOKEN))).toBe(false);
    expect(stored.configSealed.includes(Buffer.from(SID))).toBe(false);
    // The provider built from it holds the real token.
    expect(h.otpd.connections.provider(id)!.secrets.join(' ')).toContain(TOKEN);

    expect((await admin('GET', `/apps/${a.appId}/connections`)).body.data.map((c: { id: string }) => c.id)).toEqual([id]);
    expect((await admin('GET', `/apps/${a.appId}/connections/${id}`)).body.config.authToken).toBe('********');
    // Another app does not see it.
    const other = await h.newApp('Other');
    expect((await admin('GET', `/apps/${other.appId}/connections`)).body.data).toEqual([]);
    expect((await admin('GET', `/apps/${other.appId}/connections/${id}`)).status).toBe(404);

    // A change: the masked token sent back is kept, the sender changes.
    const changed = await admin('PATCH', `/apps/${a.appId}/connections/${id}`, { ...made.body.config, from: '+15005550007' });
    expect(changed.status, changed.text).toBe(200);
    expect(changed.body.config).toMatchObject({ from: '+15005550007', authToken: '********' });
    expect(h.otpd.connections.provider(id)!.secrets.join(' ')).toContain(TOKEN);
    const renamed = await admin('PATCH', `/apps/${a.appId}/connections/${id}`, { name: 'else' });
    expect(renamed.status).toBe(422);
    expect(renamed.body.errors[0].pointer).toBe('/name');

    // A change of destination needs every credential again: a stored token is never sent to a host it was not given for.
    const moved = await admin('PATCH', `/apps/${a.appId}/connections/${id}`, { baseUrl: 'https://attacker.example' });
    expect(moved.status).toBe(422);
    expect(moved.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(['/authToken']);
    expect((await admin('PATCH', `/apps/${a.appId}/connections/${id}`, { baseUrl: 'https://attacker.example', authToken: '********' })).status).toBe(422);
    const audit = (await admin('GET', `/audit?appId=${a.appId}`)).body.data as { action: string; after: unknown; before: unknown }[];
    expect(audit.map((x) => x.action)).toEqual(expect.arrayContaining(['connection.create', 'connection.update']));
    expect(JSON.stringify(audit)).not.toContain(TOKEN);
    expect(h.logs.text()).not.toContain(TOKEN);

    expect((await admin('DELETE', `/apps/${a.appId}/connections/${id}`)).status).toBe(204);
    expect((await admin('GET', `/apps/${a.appId}/connections/${id}`)).status).toBe(404);
    expect(h.otpd.connections.provider(id)).toBeUndefined();
  });

  it('mask credentials in URLs: user, password and query values, not the rest of the address', async () => {
    const a = await h.newApp('Tenant');
    const smtp = await admin('POST', `/apps/${a.appId}/connections`, { name: 'mail', type: 'smtp', url: 'smtp://apikey:p@ss-word@smtp.example.net:587', from: 'Acme <no-reply@acme.example>' });
    expect(smtp.status, smtp.text).toBe(201);
    expect(smtp.body.config.url).toBe('smtp://********:********@smtp.example.net:587');
    expect(smtp.text).not.toContain('p@ss-word');
    const gw = await admin('POST', `/apps/${a.appId}/connections`, gateway('qs', { url: `${gateway('x').url}?api_key=sekret-in-query&x=1` }));
    expect(gw.status, gw.text).toBe(201);
    expect(gw.body.config.url).toMatch(/\/send\?api_key=\*{8}&x=\*{8}$/);
    expect(gw.text).not.toContain('sekret-in-query');
    // Sent back as read, the URL keeps its stored credentials.
    const same = await admin('PATCH', `/apps/${a.appId}/connections/${gw.body.id}`, gw.body.config);
    expect(same.status, same.text).toBe(200);
    expect(h.otpd.connections.provider(gw.body.id)).toBeDefined();
  });

  it('refuse a bad entry naming the field, an unknown type, and a name the app can already route to', async () => {
    const a = await h.newApp('Tenant');
    const bad = await admin('POST', `/apps/${a.appId}/connections`, { name: 'tw', type: 'twilio', accountSid: 'nope', authToken: TOKEN });
    expect(bad.status).toBe(422);
    expect(bad.body.code).toBe('invalid_request');
    expect(bad.body.errors.map((e: { pointer: string }) => e.pointer)).toContain('/accountSid');
    expect(bad.text).not.toContain(TOKEN);
    const type = await admin('POST', `/apps/${a.appId}/connections`, { name: 'x', type: 'pigeon' });
    expect(type.status).toBe(422);
    const name = await admin('POST', `/apps/${a.appId}/connections`, { ...gateway('Bad Name') });
    expect(name.status).toBe(422);
    expect(name.body.errors[0].pointer).toBe('/name');
    expect((await admin('POST', `/apps/${a.appId}/connections`, gateway('gw'))).status).toBe(201);
    const again = await admin('POST', `/apps/${a.appId}/connections`, gateway('gw'));
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('name_taken');
    // The server's own provider (the harness's console provider) is a name every app can route to.
    const server = h.otpd.connections.all()[0]!.name;
    expect((await admin('POST', `/apps/${a.appId}/connections`, gateway(server))).body.code).toBe('name_taken');
    // Another app may use the same name for its own account.
    const b = await h.newApp('Other');
    expect((await admin('POST', `/apps/${b.appId}/connections`, gateway('gw'))).status).toBe(201);
  });
});

describe('routing and delivery', () => {
  it("an app's own connection delivers its messages; routing rules are checked when written; a routed connection cannot be deleted", async () => {
    const a = await h.newApp('Tenant');
    const c = await admin('POST', `/apps/${a.appId}/connections`, gateway('own-gw'));
    expect(c.status, c.text).toBe(201);
    const before = gw.requests.length;
    const to = phone();
    const s = await h.req('POST', '/v1/verifications', { to }, { key: a.key });
    expect(s.status, s.text).toBe(201);
    await h.otpd.worker!.flush();
    expect(gw.requests.length).toBe(before + 1);
    expect(gw.requests.at(-1)!.json).toMatchObject({ to });
    expect(gw.requests.at(-1)!.headers.authorization).toBe('Bearer gw-key-never-shown');
    const [m] = (await h.req('GET', `/v1/verifications/${s.body.id}/messages`, undefined, { key: a.key })).body.data;
    expect(m).toMatchObject({ status: 'sent', provider: c.body.id, providerMessageId: 'gw-1' });

    // Another app (no connection of its own) still goes through the server's providers.
    const b = await h.newApp('Other');
    expect((await h.req('POST', '/v1/verifications', { to: phone() }, { key: b.key })).status).toBe(201);
    await h.otpd.worker!.flush();
    expect(gw.requests.length).toBe(before + 1);

    // Its health, as this node's worker saw it: a success, then a refusal by the provider.
    const health = (await admin('GET', `/apps/${a.appId}/connections/${c.body.id}`)).body.health;
    expect(health).toMatchObject({ circuit: 'closed', lastSuccessAt: new Date(h.clock.now()).toISOString(), lastError: null });
    gw.next({ status: 400, json: { status: 'error', message: 'number barred' } });
    await h.req('POST', '/v1/verifications', { to: phone() }, { key: a.key });
    await h.otpd.worker!.flush();
    expect((await admin('GET', `/apps/${a.appId}/connections/${c.body.id}`)).body.health).toMatchObject({ circuit: 'closed', lastError: expect.stringContaining('400') });

    // Routing names: checked against what the app can use, each problem naming its place.
    const wrong = await admin('PATCH', `/apps/${a.appId}`, { settings: { routing: { sms: [{ providers: ['own-gw', 'nope'] }] } } });
    expect(wrong.status).toBe(422);
    expect(wrong.body.errors[0].pointer).toBe('/settings/routing/sms/0/providers/1');
    expect((await admin('PATCH', `/apps/${b.appId}`, { settings: { routing: { sms: [{ providers: ['own-gw'] }] } } })).status).toBe(422); // not b's
    const right = await admin('PATCH', `/apps/${a.appId}`, { settings: { routing: { sms: [{ providers: ['own-gw'] }] } } });
    expect(right.status, right.text).toBe(200);
    const del = await admin('DELETE', `/apps/${a.appId}/connections/${c.body.id}`);
    expect(del.status).toBe(409);
    expect(del.body.code).toBe('connection_in_use');
    await admin('PATCH', `/apps/${a.appId}`, { settings: { routing: null } });
    expect((await admin('DELETE', `/apps/${a.appId}/connections/${c.body.id}`)).status).toBe(204);
  });

  it('a shared connection is one any app can route to', async () => {
    const shared = await admin('POST', '/connections', gateway('shared-gw'));
    expect(shared.status, shared.text).toBe(201);
    expect(shared.body.appId).toBeNull();
    const a = await h.newApp('Tenant', { routing: { sms: [{ providers: ['shared-gw'] }] } } as never);
    const before = gw.requests.length;
    expect((await h.req('POST', '/v1/verifications', { to: phone() }, { key: a.key })).status).toBe(201);
    await h.otpd.worker!.flush();
    expect(gw.requests.length).toBe(before + 1);
    expect((await admin('DELETE', `/connections/${shared.body.id}`)).body.code).toBe('connection_in_use');
    expect((await admin('GET', '/connections')).body.data.map((c: { name: string }) => c.name)).toContain('shared-gw');
  });
});

describe('a test send', () => {
  it('reports what the provider answered, and stores nothing', async () => {
    const a = await h.newApp('Tenant');
    const c = await admin('POST', `/apps/${a.appId}/connections`, gateway('test-gw'));
    const ok = await admin('POST', `/apps/${a.appId}/connections/${c.body.id}/test`, { to: '+33612345678' });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, channel: 'sms', to: '+33612345678', providerMessageId: 'gw-1' });
    expect(gw.requests.at(-1)!.json.text).toContain('test message');
    gw.next({ status: 400, json: { status: 'error', message: 'number barred, key gw-key-never-shown' } });
    const no = await admin('POST', `/apps/${a.appId}/connections/${c.body.id}/test`, { to: '+33612345678' });
    expect(no.body).toMatchObject({ ok: false, kind: 'rejected', httpStatus: 400 });
    expect(no.text).not.toContain('gw-key-never-shown');
    const bad = await admin('POST', `/apps/${a.appId}/connections/${c.body.id}/test`, { to: 'not a number' });
    expect(bad.status).toBe(422);
    expect(bad.body.errors[0].pointer).toBe('/to');
    expect((await h.req('GET', '/v1/verifications', undefined, { key: a.key })).body.data).toEqual([]);
  });
});

describe('receipts through a connection', () => {
  it("go to the connection's own URL and are checked with its own secret", async () => {
    const p = await startHarness({ config: { publicUrl: 'https://otpd.example.com' } });
    try {
      const a = await p.newApp('Tenant');
      const secret = 'tenant-signing-secret-0123';
      const c = await p.req('POST', `/admin/v1/apps/${a.appId}/connections`, {
        ...gateway('own-gw', { body: { to: '{{to}}', text: '{{text}}', callback: '{{statusCallbackUrl}}' } }),
        receipts: { signature: { header: 'X-Sig', secret, algorithm: 'sha256', encoding: 'hex' } },
      }, { key: ADMIN_TOKEN });
      expect(c.status, c.text).toBe(201);
      expect(c.body.config.receipts.signature.secret).toBe('********');
      const to = phone();
      const v = await p.req('POST', '/v1/verifications', { to }, { key: a.key });
      await p.otpd.worker!.flush();
      const callback = new URL(gw.requests.findLast((r) => r.json?.to === to)!.json.callback as string);
      expect(callback.pathname).toBe(`/webhooks/http/${c.body.id}`);
      const url = `${p.url}${callback.pathname}${callback.search}`;
      const raw = JSON.stringify({ status: 'delivered', id: 'gw-1' });
      const post = (key: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-sig': createHmac('sha256', key).update(raw).digest('hex') }, body: raw }).then((r) => r.status);
      expect(await post('another-secret-0123456789')).toBe(403);
      expect(await post(secret)).toBe(204);
      const [m] = (await p.req('GET', `/v1/verifications/${v.body.id}/messages`, undefined, { key: a.key })).body.data;
      expect(m).toMatchObject({ provider: c.body.id, status: 'delivered' });
    } finally {
      await p.close();
    }
  });
});

describe('the CLI', () => {
  it('creates, lists and deletes connections in the server\'s database; reseals those sealed under a previous secret', async () => {
    assertBuilt();
    const env = { ...process.env, OTPD_DATABASE_URL: h.databaseUrl, OTPD_SECRET: SECRET, OTPD_DATA_DIR: h.dir, OTPD_LOG_LEVEL: 'warn' };
    const a = await h.newApp('Cli');
    const made = cli(['connections', 'create', '--app', a.appId, '--entry', JSON.stringify(gateway('cli-gw')), '--json'], env);
    expect(made.code, made.stderr).toBe(0);
    const c = JSON.parse(made.stdout) as { id: string; config: Record<string, unknown> };
    expect(c.config.apiKey).toBe('********');
    expect(made.stdout).not.toContain('gw-key-never-shown');
    const bad = cli(['connections', 'create', '--app', a.appId, '--entry', JSON.stringify({ name: 'x', type: 'twilio', accountSid: 'nope' })], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('accountSid');
    expect(cli(['connections', 'list', '--app', a.appId], env).stdout).toContain('cli-gw');
    // The running server sees it at its next reload (every minute, or at once on PostgreSQL's notice).
    await h.otpd.connections.load();
    expect(h.otpd.connections.provider(c.id)).toBeDefined();

    // A connection sealed under a previous OTPD_SECRET: left out (not fatal) until resealed.
    const old = 'previous-secret-0123456789abcdef0123456789';
    const id = 'con_01JD3K5Q4V8Y2M9N7P6R5S4T3W';
    const entry = { type: 'http', url: `${gw.url}/send`, apiKey: 'k', body: { to: '{{to}}', text: '{{text}}' } };
    const now = h.clock.now();
    await h.otpd.store.appConfig.saveConnection(a.appId, id, () => ({ after: { id, appId: a.appId, name: 'old-gw', type: 'http', configSealed: sealCode(deriveKeys(old), id, JSON.stringify(entry)), createdAt: now, updatedAt: now }, audit: [] }));
    await h.otpd.connections.load();
    expect(h.otpd.connections.unreadable.has(id)).toBe(true);
    expect(h.otpd.connections.provider(c.id)).toBeDefined();
    // Not openable, yet its owner can see it gone: another app cannot delete it, its own can (then, here, put back).
    const other = await h.newApp('Other');
    expect((await admin('DELETE', `/apps/${other.appId}/connections/${id}`)).status).toBe(404);
    const file = join(mkdtempSync(join(tmpdir(), 'otpd-old-secret-')), 'secret');
    writeFileSync(file, old);
    const r = cli(['connections', 'reseal', '--previous-secret-file', file], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('1 connection(s) sealed again');
    await h.otpd.connections.load();
    expect(h.otpd.connections.unreadable.size).toBe(0);
    expect(h.otpd.connections.provider(id)).toBeDefined();

    // A connection left unreadable (its secret lost) is deleted through the API by its owner.
    const lostId = 'con_01JD3K5Q4V8Y2M9N7P6R5S4T3X';
    await h.otpd.store.appConfig.saveConnection(a.appId, lostId, () => ({ after: { id: lostId, appId: a.appId, name: 'lost-gw', type: 'http', configSealed: sealCode(deriveKeys('a-secret-nobody-has-any-more-0123456789'), lostId, '{}'), createdAt: now, updatedAt: now }, audit: [] }));
    await h.otpd.connections.load();
    expect(h.otpd.connections.unreadable.has(lostId)).toBe(true);
    expect((await admin('DELETE', `/apps/${a.appId}/connections/${lostId}`)).status).toBe(204);
    await h.otpd.connections.load();
    expect(h.otpd.connections.unreadable.size).toBe(0);
    expect(cli(['connections', 'delete', c.id, '--app', a.appId], env).code).toBe(0);
    expect(cli(['connections', 'list', '--app', a.appId], env).stdout).not.toContain('cli-gw');
  });
});
