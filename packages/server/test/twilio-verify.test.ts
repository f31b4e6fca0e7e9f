/**
 * The Twilio Verify v2 surface (issue 18), driven by Twilio's official `twilio` npm package pointed at otpd (its
 * Verify domain's base URL): services, verifications (a new one to a pending number resends on it), checks (wrong,
 * right, out of tries), fetch after approval, cancel and approve, the attempts summary, and Twilio's error codes.
 * Every raw response body validates against the schemas of ../shared/specs/twilio/twilio_verify_v2.json.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import twilio from 'twilio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idOfSid, sidOf } from '../src/api/twilio-verify.js';
import { ADMIN_TOKEN, startHarness, wrong, type Harness } from './helpers.js';

const SPEC = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../../../shared/specs/twilio/twilio_verify_v2.json'), 'utf8'));
// OpenAPI 3.0's `nullable` for Ajv: kept beside a `type`, dropped where a schema has none (it then allows null anyway).
const openapi = (x: unknown): void => {
  if (!x || typeof x !== 'object') return;
  const o = x as Record<string, unknown>;
  if ('nullable' in o && !('type' in o)) delete o.nullable;
  Object.values(o).forEach(openapi);
};
openapi(SPEC);
const ajv = addFormats.default(new Ajv.default({ strict: false, allErrors: true }));
ajv.addSchema(SPEC, 'spec');
/** Validates a body against a schema of the spec (by its name under components.schemas). */
function conforms(name: string, body: unknown): void {
  const validate = ajv.getSchema(`spec#/components/schemas/${name}`)!;
  expect(validate, name).toBeDefined();
  expect(validate(body), `${name}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(body)}`).toBe(true);
}

const ACCOUNT = `AC${'0'.repeat(32)}`;
let h: Harness;
let serviceSid: string;
let key: string;

/** Twilio's client for a password (an app key or the admin token), sending to otpd. */
function client(password: string) {
  const c = twilio(ACCOUNT, password);
  c.verify.baseUrl = h.url;
  return c;
}
/** A raw request as Twilio's API takes it: form body, Basic auth. */
async function raw(method: string, path: string, form?: Record<string, string>, password = key) {
  const r = await fetch(`${h.url}${path}`, {
    method,
    headers: { authorization: `Basic ${Buffer.from(`${ACCOUNT}:${password}`).toString('base64')}`, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  return { status: r.status, body: r.status === 204 ? null : await r.json() };
}
const codeFor = async (to: string) => (await h.req('GET', `/dev/messages?to=${encodeURIComponent(to)}`, undefined, { key })).body.messages[0].code as string;

beforeAll(async () => {
  h = await startHarness({ firstApp: false });
  const s = await client(ADMIN_TOKEN).verify.v2.services.create({ friendlyName: 'Shop', codeLength: 6 });
  serviceSid = s.sid;
  const appId = idOfSid(serviceSid, 'VA', 'app')!;
  await h.req('PATCH', `/admin/v1/apps/${appId}`, { settings: { guard: { mode: 'off' }, allowApprove: true } }, { key: ADMIN_TOKEN });
  key = (await h.req('POST', `/admin/v1/apps/${appId}/keys`, { name: 'twilio-sdk' }, { key: ADMIN_TOKEN })).body.apiKey;
});
afterAll(async () => { await h?.close(); });

describe('Twilio Verify v2 through the official SDK', () => {
  it('creates a verification, refuses a wrong code, approves the right one, and still answers it afterwards', async () => {
    const v2 = client(key).verify.v2.services(serviceSid);
    const to = '+33612000001';
    const v = await v2.verifications.create({ to, channel: 'sms' });
    expect(v).toMatchObject({ to, channel: 'sms', status: 'pending', valid: false, serviceSid, accountSid: expect.stringMatching(/^AC[0-9a-f]{32}$/) });
    expect(v.sid).toMatch(/^VE[0-9a-f]{32}$/);
    expect(v.sendCodeAttempts).toHaveLength(1);
    const code = await codeFor(to);
    const bad = await v2.verificationChecks.create({ to, code: wrong(code) });
    expect(bad).toMatchObject({ sid: v.sid, status: 'pending', valid: false });
    const good = await v2.verificationChecks.create({ verificationSid: v.sid, code });
    expect(good).toMatchObject({ sid: v.sid, status: 'approved', valid: true, to });
    // otpd still answers a settled verification (Twilio would 404: the friendly choice)…
    expect(await v2.verifications(v.sid).fetch()).toMatchObject({ status: 'approved', valid: true });
    // …while a check of it answers Twilio's 20404, as integrations expect.
    await expect(v2.verificationChecks.create({ to, code })).rejects.toMatchObject({ status: 404, code: 20404 });
  });

  it('a second verification to a pending number sends the same code again on it (Twilio behaviour)', async () => {
    const v2 = client(key).verify.v2.services(serviceSid);
    const to = '+33612000002';
    const first = await v2.verifications.create({ to, channel: 'sms' });
    const code = await codeFor(to);
    h.clock.advance(61_000); // the cooldown between two sends
    const again = await v2.verifications.create({ to, channel: 'sms' });
    expect(again.sid).toBe(first.sid);
    expect(again.sendCodeAttempts).toHaveLength(2);
    expect(await codeFor(to)).toBe(code);
    // Too soon after: Twilio's 60212; the number's sends used up: 60203.
    await expect(v2.verifications.create({ to, channel: 'sms' })).rejects.toMatchObject({ status: 429, code: 60212 });
  });

  it('runs out of tries with max_attempts_reached, then 60202', async () => {
    const v2 = client(key).verify.v2.services(serviceSid);
    const to = '+33612000003';
    await v2.verifications.create({ to, channel: 'sms' });
    const code = await codeFor(to);
    for (let i = 0; i < 2; i++) expect((await v2.verificationChecks.create({ to, code: wrong(code) })).status).toBe('pending');
    expect(await v2.verificationChecks.create({ to, code: wrong(code) })).toMatchObject({ status: 'max_attempts_reached', valid: false });
    await expect(v2.verificationChecks.create({ to, code })).rejects.toMatchObject({ status: 429, code: 60202 });
  });

  it('cancels and approves by update, and fetches services', async () => {
    const c = client(key).verify.v2;
    const a = await c.services(serviceSid).verifications.create({ to: '+33612000004', channel: 'sms' });
    expect(await c.services(serviceSid).verifications(a.sid).update({ status: 'canceled' })).toMatchObject({ status: 'canceled' });
    const b = await c.services(serviceSid).verifications.create({ to: '+33612000005', channel: 'call' });
    expect(b.channel).toBe('call');
    expect(await c.services(serviceSid).verifications(b.sid).update({ status: 'approved' })).toMatchObject({ status: 'approved', valid: true });
    expect(await c.services(serviceSid).fetch()).toMatchObject({ sid: serviceSid, friendlyName: 'Shop', codeLength: 6 });
    const renamed = await client(ADMIN_TOKEN).verify.v2.services(serviceSid).update({ friendlyName: 'Shop EU' });
    expect(renamed.friendlyName).toBe('Shop EU');
    expect((await client(key).verify.v2.services.list()).map((s) => s.sid)).toEqual([serviceSid]);
  });

  it("keeps the app's settings the admin's: an app key can neither change its Service nor approve without the app's consent", async () => {
    const mine = client(key).verify.v2.services(serviceSid);
    await expect(mine.update({ customCodeEnabled: true, friendlyName: 'Pwned' })).rejects.toMatchObject({ status: 401, code: 20003 });
    expect((await mine.fetch()).customCodeEnabled).toBe(false);
    // Another app, without settings.allowApprove: its key cannot approve; the admin token can.
    const other = await client(ADMIN_TOKEN).verify.v2.services.create({ friendlyName: 'No approve' });
    const otherId = idOfSid(other.sid, 'VA', 'app')!;
    await h.req('PATCH', `/admin/v1/apps/${otherId}`, { settings: { guard: { mode: 'off' } } }, { key: ADMIN_TOKEN });
    const otherKey = (await h.req('POST', `/admin/v1/apps/${otherId}/keys`, { name: 'k' }, { key: ADMIN_TOKEN })).body.apiKey;
    const v = await client(otherKey).verify.v2.services(other.sid).verifications.create({ to: '+33612000020', channel: 'sms' });
    await expect(client(otherKey).verify.v2.services(other.sid).verifications(v.sid).update({ status: 'approved' })).rejects.toMatchObject({ status: 400, code: 60200 });
    expect(await client(ADMIN_TOKEN).verify.v2.services(other.sid).verifications(v.sid).update({ status: 'approved' })).toMatchObject({ status: 'approved' });
  });

  it('a new verification that asks for something else (a payment) replaces the pending one instead of resending it', async () => {
    const v2 = client(key).verify.v2.services(serviceSid);
    const to = '+33612000021';
    const first = await v2.verifications.create({ to, channel: 'sms', amount: '10 €', payee: 'Alice' });
    h.clock.advance(61_000); // a new verification is a new send: after the cooldown
    const second = await v2.verifications.create({ to, channel: 'sms', amount: '999 €', payee: 'Mallory' });
    expect(second.sid).not.toBe(first.sid);
    expect(second).toMatchObject({ amount: '999 €', payee: 'Mallory' });
    expect((await v2.verifications(first.sid).fetch()).status).toBe('canceled');
  });

  it("answers Twilio's errors: invalid number 60200, bad credentials 20003, another service 20404", async () => {
    const v2 = client(key).verify.v2.services(serviceSid);
    await expect(v2.verifications.create({ to: '+3361', channel: 'sms' })).rejects.toMatchObject({ status: 400, code: 60200 });
    await expect(v2.verifications.create({ to: '+33612000006', channel: 'sna' })).rejects.toMatchObject({ status: 400, code: 60200 });
    await expect(client('otpd_not-a-key').verify.v2.services(serviceSid).fetch()).rejects.toMatchObject({ status: 401, code: 20003 });
    const other = await client(ADMIN_TOKEN).verify.v2.services.create({ friendlyName: 'Other' });
    await expect(v2.verifications.create({ to: '+33612000007', channel: 'sms' }).then(() => client(key).verify.v2.services(other.sid).fetch()))
      .rejects.toMatchObject({ status: 404, code: 20404 });
    await expect(client(key).verify.v2.services.create({ friendlyName: 'x' })).rejects.toMatchObject({ status: 401, code: 20003 });
  });

  it('summarises attempts from the analytics rollups', async () => {
    const s = await client(key).verify.v2.verificationAttemptsSummary().fetch();
    expect(s.totalAttempts).toBeGreaterThanOrEqual(6);
    expect(s.totalConverted).toBeGreaterThanOrEqual(2);
    expect(s.totalAttempts - s.totalConverted).toBe(s.totalUnconverted);
  });
});

describe('raw responses conform to the spec', () => {
  it('services, verifications, checks, the summary and errors', async () => {
    conforms('verify.v2.service', (await raw('GET', `/v2/Services/${serviceSid}`)).body);
    const list = (await raw('GET', '/v2/Services', undefined, ADMIN_TOKEN)).body;
    for (const s of list.services) conforms('verify.v2.service', s);
    expect(list.meta).toMatchObject({ key: 'services', page: 0 });
    const to = '+33612000010';
    const created = await raw('POST', `/v2/Services/${serviceSid}/Verifications`, { To: to, Channel: 'sms', Locale: 'fr', Amount: '€12.30', Payee: 'Acme' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    conforms('verify.v2.service.verification', created.body);
    expect(created.body, JSON.stringify(created.body)).toMatchObject({ amount: '€12.30', payee: 'Acme' });
    conforms('verify.v2.service.verification', (await raw('GET', `/v2/Services/${serviceSid}/Verifications/${created.body.sid}`)).body);
    const code = await codeFor(to);
    const check = await raw('POST', `/v2/Services/${serviceSid}/VerificationCheck`, { To: to, Code: code, Amount: '€12.30', Payee: 'Acme' });
    expect(check).toMatchObject({ status: 200, body: { status: 'approved', valid: true } });
    conforms('verify.v2.service.verification_check', check.body);
    const summary = await raw('GET', '/v2/Attempts/Summary?Country=FR');
    conforms('verify.v2.verification_attempts_summary', summary.body);
    const err = await raw('GET', `/v2/Services/${serviceSid}/Verifications/VE${'f'.repeat(32)}`);
    expect(err).toMatchObject({ status: 404, body: { code: 20404, status: 404, more_info: 'https://www.twilio.com/docs/errors/20404' } });
    expect(typeof err.body.message).toBe('string');
  });

  it('maps sids to otpd ids and back', () => {
    const id = 'app_01KDWPVNG0Q214YR57Z7GZ171C';
    expect(idOfSid(sidOf('VA', id), 'VA', 'app')).toBe(id);
    expect(idOfSid('VA123', 'VA', 'app')).toBeNull();
    expect(idOfSid(sidOf('VA', id), 'VE', 'ver')).toBeNull();
  });
});
