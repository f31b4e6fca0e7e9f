/** OAuth2 client credentials: clients, the token endpoint (form, JSON, Basic), token use, expiry, rotation, revocation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, phone, startHarness, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.close(); });

const admin = (method: string, path: string, body?: unknown) => h.req(method, `/admin/v1${path}`, body, { key: ADMIN_TOKEN });
async function client() {
  const c = (await admin('POST', `/apps/${h.appId}/clients`, { name: 'backend' })).body;
  return c as { id: string; clientSecret: string };
}
async function tokenForm(id: string, secret: string) {
  const r = await fetch(`${h.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: secret }).toString() });
  return { status: r.status, headers: r.headers, body: await r.json() };
}
const start = (token: string) => h.req('POST', '/v1/verifications', { to: phone() }, { key: token });

describe('OAuth client credentials', () => {
  it('issues a 1 h bearer token (form, JSON or Basic) that /v1 accepts for the client\'s app', async () => {
    const c = await client();
    expect(c.id).toMatch(/^cli_/);
    expect(c.clientSecret).toMatch(/^otpd_cs_/);
    const form = await tokenForm(c.id, c.clientSecret);
    expect(form.status).toBe(200);
    expect(form.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(form.headers.get('cache-control')).toBe('no-store');
    const json = await h.req('POST', '/oauth/token', { grant_type: 'client_credentials', client_id: c.id, client_secret: c.clientSecret }, { key: null });
    expect(json.status).toBe(200);
    const basic = await h.req('POST', '/oauth/token', { grant_type: 'client_credentials' }, { key: null, headers: { authorization: `Basic ${Buffer.from(`${c.id}:${c.clientSecret}`).toString('base64')}` } });
    expect(basic.status).toBe(200);
    const s = await start(form.body.access_token);
    expect(s.status).toBe(201);
    // Same app as the API key: it sees the verification.
    expect((await h.req('GET', `/v1/verifications/${s.body.id}`)).status).toBe(200);
    const list = (await admin('GET', `/apps/${h.appId}/clients`)).body.data;
    expect(list.find((x: { id: string }) => x.id === c.id)).toMatchObject({ name: 'backend', revokedAt: null });
    expect(JSON.stringify(list)).not.toContain(c.clientSecret);
  });

  it('refuses wrong secrets, unknown clients, other grants and missing fields with OAuth error members', async () => {
    const c = await client();
    const wrong = await tokenForm(c.id, `${c.clientSecret}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ code: 'invalid_client', error: 'invalid_client' });
    expect((await tokenForm('cli_01ARZ3NDEKTSV4RRFFQ69G5FAV', c.clientSecret)).status).toBe(401);
    const grant = await h.req('POST', '/oauth/token', { grant_type: 'password', client_id: c.id, client_secret: c.clientSecret }, { key: null });
    expect(grant.status).toBe(400);
    expect(grant.body).toMatchObject({ code: 'unsupported_grant_type', error: 'unsupported_grant_type' });
    const missing = await h.req('POST', '/oauth/token', { grant_type: 'client_credentials', client_id: c.id }, { key: null });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_request');
  });

  it('tokens expire (fake clock) and forged tokens are refused', async () => {
    const c = await client();
    const t = (await tokenForm(c.id, c.clientSecret)).body.access_token as string;
    h.clock.advance(3599_000);
    expect((await start(t)).status).toBe(201);
    h.clock.advance(1_000);
    const r = await start(t);
    expect(r.status).toBe(401);
    expect(r.body.detail).toContain('expired');
    const [payload, sig] = t.slice('otpd_at_'.length).split('.');
    const longer = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), e: h.clock.now() + 3600_000 })).toString('base64url');
    expect((await start(`otpd_at_${longer}.${sig}`)).status).toBe(401);
    expect((await start('otpd_at_garbage')).status).toBe(401);
  });

  it('rotation: the new secret works at once, the previous one until the overlap ends', async () => {
    const c = await client();
    const rotated = await admin('POST', `/apps/${h.appId}/clients/${c.id}/rotate`, { overlapSeconds: 600 });
    expect(rotated.status).toBe(200);
    expect(rotated.body.clientSecret).not.toBe(c.clientSecret);
    expect(rotated.body.previousSecretValidUntil).toBe(new Date(h.clock.now() + 600_000).toISOString());
    expect((await tokenForm(c.id, rotated.body.clientSecret)).status).toBe(200);
    expect((await tokenForm(c.id, c.clientSecret)).status).toBe(200);
    h.clock.advance(600_000);
    expect((await tokenForm(c.id, c.clientSecret)).status).toBe(401);
    expect((await tokenForm(c.id, rotated.body.clientSecret)).status).toBe(200);
    const noOverlap = await admin('POST', `/apps/${h.appId}/clients/${c.id}/rotate`, { overlapSeconds: 0 });
    expect((await tokenForm(c.id, rotated.body.clientSecret)).status).toBe(401);
    expect((await tokenForm(c.id, noOverlap.body.clientSecret)).status).toBe(200);
  });

  it('revoking a client stops its secret and its tokens at once; disabling the app stops its tokens', async () => {
    const c = await client();
    const t = (await tokenForm(c.id, c.clientSecret)).body.access_token as string;
    expect((await start(t)).status).toBe(201);
    expect((await admin('DELETE', `/apps/${h.appId}/clients/${c.id}`)).body.revokedAt).toEqual(expect.any(String));
    expect((await start(t)).status).toBe(401);
    expect((await tokenForm(c.id, c.clientSecret)).status).toBe(401);

    const other = (await admin('POST', '/apps', { name: 'Other' })).body;
    const oc = (await admin('POST', `/apps/${other.app.id}/clients`, { name: 'x' })).body;
    const ot = (await tokenForm(oc.id, oc.clientSecret)).body.access_token as string;
    await admin('PATCH', `/apps/${other.app.id}`, { enabled: false });
    expect((await start(ot)).body.code).toBe('app_disabled');
    // One app's admin routes cannot revoke another app's client.
    expect((await admin('DELETE', `/apps/${h.appId}/clients/${oc.id}`)).status).toBe(404);
    const audit = (await admin('GET', `/audit?targetId=${c.id}`)).body.data.map((e: { action: string }) => e.action);
    expect(audit).toEqual(['oauth_client.revoke', 'oauth_client.create']);
  });
});
