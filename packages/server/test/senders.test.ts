/** Sender ids (seed 002): validation, choice by destination country, use by the provider, isolation, audit. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeProvider } from './fakes/http-provider.js';
import { ADMIN_TOKEN, phone, startHarness, type Harness } from './helpers.js';

let h: Harness;
let gw: FakeProvider;
beforeAll(async () => {
  gw = await new FakeProvider().start();
  h = await startHarness({
    config: { delivery: 'providers', providers: { providers: [{ name: 'gw', type: 'http', url: `${gw.url}/send`, senderName: 'Default', body: { to: '{{to}}', from: '{{senderName}}', text: '{{text}}' } }] } },
  });
});
afterAll(async () => { await h.close(); await gw.close(); });

const add = (body: Record<string, unknown>, key?: string) => h.req('POST', '/v1/senders', { channel: 'sms', ...body }, key ? { key } : {});
async function sentFrom(to: string): Promise<string> {
  expect((await h.req('POST', '/v1/verifications', { to })).status).toBe(201);
  await h.otpd.worker!.flush();
  return gw.requests.at(-1)!.json.from as string;
}

describe('senders', () => {
  it('validates sender ids per channel', async () => {
    for (const [body, pointer] of [
      [{ value: 'TooLongSender1' }, '/value'], [{ value: '12-34' }, '/value'], [{ value: 'Ünïcode' }, '/value'], [{ value: 'Acme', country: 'FRA' }, '/country'],
      [{ channel: 'whatsapp', value: 'Acme' }, '/channel'], [{ channel: 'email', value: 'not an address' }, '/value'], [{ channel: 'email', value: 'a@b.example', country: 'FR' }, '/country'],
    ] as const) {
      const r = await add(body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.body.errors[0].pointer, JSON.stringify(body)).toBe(pointer);
    }
    for (const value of ['Acme', 'ACME 2', '+15551234567', '38383']) expect((await add({ value, country: ['BE', 'NL', 'US', 'IE'][['Acme', 'ACME 2', '+15551234567', '38383'].indexOf(value)] })).status).toBe(201);
    expect((await add({ value: 'Again', country: 'BE' })).status).toBe(422); // one per (channel, country)
    expect((await h.req('POST', '/v1/senders', { channel: 'email', value: 'Acme <no-reply@acme.example>' })).status).toBe(201);
  });

  it('chooses the destination country\'s sender, then the app default, then the provider\'s', async () => {
    expect(await sentFrom(phone())).toBe('Default'); // no FR sender, no default yet
    const def = (await add({ value: 'AcmeShop' })).body;
    expect(await sentFrom(phone())).toBe('AcmeShop');
    expect(await sentFrom('+32470123456')).toBe('Acme');
    expect(await sentFrom('+31612345678')).toBe('ACME 2');
    expect((await h.req('DELETE', `/v1/senders/${def.id}`)).status).toBe(204);
    h.clock.advance(61_000);
    expect(await sentFrom(phone())).toBe('Default');
    const list = (await h.req('GET', '/v1/senders')).body.data;
    expect(list.map((x: { value: string }) => x.value).sort()).toEqual(['+15551234567', '38383', 'ACME 2', 'Acme', 'Acme <no-reply@acme.example>']);
  });

  it("a start names its sender (seed 001's from), among the app's registered ones only", async () => {
    expect((await add({ value: 'Verify', country: 'AT' })).status).toBe(201);
    // Registered for another country: still the app's, so it may be named for a French number.
    const to = phone();
    expect((await h.req('POST', '/v1/verifications', { to, from: 'Verify' })).status).toBe(201);
    await h.otpd.worker!.flush();
    expect(gw.requests.at(-1)!.json).toMatchObject({ to, from: 'Verify' });
    const no = await h.req('POST', '/v1/verifications', { to: phone(), from: 'Unknown' });
    expect(no.status).toBe(422);
    expect(no.body.errors[0].pointer).toBe('/from');
    // Another app cannot name this app's sender.
    const other = await h.newApp('Other');
    expect((await h.req('POST', '/v1/verifications', { to: phone(), from: 'Verify' }, { key: other.key })).status).toBe(422);
  });

  it("are the app's own, and audited with the key id", async () => {
    const other = (await h.req('POST', '/admin/v1/apps', { name: 'Other' }, { key: ADMIN_TOKEN })).body;
    const s = (await add({ value: 'Mine', country: 'DE' })).body;
    expect((await h.req('GET', '/v1/senders', undefined, { key: other.apiKey.apiKey })).body.data).toEqual([]);
    expect((await h.req('DELETE', `/v1/senders/${s.id}`, undefined, { key: other.apiKey.apiKey })).status).toBe(404);
    const audit = (await h.req('GET', `/admin/v1/audit?targetId=${s.id}`, undefined, { key: ADMIN_TOKEN })).body.data;
    expect(audit).toMatchObject([{ action: 'sender.create', actor: expect.stringMatching(/^key_/), after: { value: 'Mine', country: 'DE' } }]);
  });
});
