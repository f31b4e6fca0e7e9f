/** Templates (seeds 001, 002): CRUD with the app's key, placeholder rule, selection order, preview, isolation, audit. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, phone, startHarness, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => { h = await startHarness({ config: { prices: { currency: 'EUR', sms: { BE: 0.08, '*': 0.05 } } } }); });
afterAll(async () => { await h.close(); });

const tpl = (body: Record<string, unknown>, key?: string) => h.req('POST', '/v1/templates', { channel: 'sms', name: 't', ...body }, key ? { key } : {});
const textOf = async (to: string, extra: Record<string, unknown> = {}) => (await h.startAndRead(to, extra)).body && (await h.req('GET', `/dev/messages?to=${encodeURIComponent(to)}`)).body.messages[0].text as string;

describe('templates', () => {
  it('refuses a template without the code placeholder, and bad fields', async () => {
    for (const [body, pointer] of [
      [{ text: 'Hello from {{app}}' }, '/text'], [{ text: 'Code {{pin}}', prefix: '32' }, '/prefix'], [{ text: 'Code {{pin}}', country: 'Belgium' }, '/country'],
      [{ text: 'Code {{pin}}', subject: 'x' }, '/subject'], [{ channel: 'email', text: 'Code {{pin}}', html: '<p>no code</p>' }, '/html'], [{ text: 'Code {{pin}}', locale: 'français' }, '/locale'],
    ] as const) {
      const r = await tpl(body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.body.errors?.[0]?.pointer ?? r.body.detail, JSON.stringify(body)).toContain(pointer.slice(1));
    }
  });

  it('selects: explicit template, then request language, then number prefix, then country, then the default, then built-in', async () => {
    const def = (await tpl({ name: 'default', text: 'DEFAULT {{pin}}' })).body;
    const fr = (await tpl({ name: 'fr', locale: 'fr', text: 'FR {{pin}} ({{ttl}} min, {{app}})' })).body;
    const be = (await tpl({ name: 'be', country: 'BE', text: 'BE {code}' })).body;
    const proximus = (await tpl({ name: 'proximus', prefix: '+32472', text: 'PROXIMUS {{pin}}' })).body;
    const special = (await tpl({ name: 'promo', text: 'PROMO {{pin}}' })).body;
    expect([def, fr, be, proximus, special].every((t) => t.id?.startsWith('tpl_'))).toBe(true);

    expect(await textOf(phone(), { template: special.id })).toMatch(/^PROMO \d{6}$/);
    expect(await textOf(phone(), { locale: 'fr-BE' })).toMatch(/^FR \d{6} \(5 min, Acme\)$/);
    h.clock.advance(61_000);
    expect(await textOf('+32472123456')).toMatch(/^PROXIMUS \d{6}$/);
    expect(await textOf('+32470123456')).toMatch(/^BE \d{6}$/);
    expect(await textOf(phone())).toMatch(/^DEFAULT \d{6}$/);
    const bad = await h.req('POST', '/v1/verifications', { to: phone(), template: 'tpl_01ARZ3NDEKTSV4RRFFQ69G5FAV' });
    expect(bad.status).toBe(422);
    expect(bad.body.errors[0].pointer).toBe('/template');
    // The oldest template without language or destination is the default: deleting it promotes the next one...
    expect((await h.req('DELETE', `/v1/templates/${def.id}`)).status).toBe(204);
    expect(await textOf(phone())).toMatch(/^PROMO \d{6}$/);
    // ...and with none left, the built-in text of the language is used.
    expect((await h.req('DELETE', `/v1/templates/${special.id}`)).status).toBe(204);
    expect(await textOf(phone())).toMatch(/^Votre code de vérification Acme est \d{6}/);
  });

  it('a resend repeats the text chosen at start', async () => {
    const t = (await tpl({ name: 'resend', text: 'ONCE MORE {{pin}}' })).body;
    const to = phone();
    const v = await h.startAndRead(to, { template: t.id });
    h.clock.advance(61_000);
    await h.req('POST', `/v1/verifications/${v.id}/resend`, {});
    const msgs = (await h.req('GET', `/dev/messages?to=${encodeURIComponent(to)}`)).body.messages;
    expect(msgs.map((m: { text: string }) => m.text)).toEqual([`ONCE MORE ${v.code}`, `ONCE MORE ${v.code}`]);
  });

  it('email templates: subject and HTML with the code, the brand escaped in HTML', async () => {
    await tpl({ channel: 'email', name: 'mail', text: 'Use {{pin}}', subject: '{{app}} code {{pin}}', html: '<h1>{{app}}</h1><p>{{pin}}</p>' });
    const apps = await h.req('POST', '/admin/v1/apps', { name: 'Mail <Co>' }, { key: ADMIN_TOKEN });
    const key = apps.body.apiKey.apiKey;
    await h.req('POST', '/v1/templates', { channel: 'email', name: 'mail', text: 'Use {{pin}}', subject: '{{app}} code {{pin}}', html: '<h1>{{app}}</h1><p>{{pin}}</p>' }, { key });
    const s = await h.req('POST', '/v1/verifications', { to: 'ada@example.com', channel: 'email' }, { key });
    expect(s.status).toBe(201);
    await h.otpd.worker!.flush();
    const msgs = await h.otpd.store.outbox.list(apps.body.app.id, s.body.id);
    const body = JSON.parse(msgs[0]!.body) as { subject: string; text: string; html: string };
    expect(body).toEqual({ subject: 'Mail <Co> code {{pin}}', text: 'Use {{pin}}', html: '<h1>Mail &lt;Co&gt;</h1><p>{{pin}}</p>' });
  });

  it('preview renders a sample with parts and cost; GSM-7 vs UCS-2', async () => {
    const p = await h.req('POST', '/v1/templates/preview', { channel: 'sms', to: '+32470123456', text: 'Votre code {{pin}} expire dans {{ttl}} minutes' });
    expect(p.body).toMatchObject({ text: 'Votre code 777777 expire dans 5 minutes', encoding: 'GSM-7', parts: 1, cost: 0.08, currency: 'EUR' });
    const u = await h.req('POST', '/v1/templates/preview', { channel: 'sms', to: phone(), text: `Código ${'ó'.repeat(70)} {{pin}}` });
    expect(u.body).toMatchObject({ encoding: 'UCS-2', parts: 2, cost: 0.1 });
    const chosen = await h.req('POST', '/v1/templates/preview', { channel: 'sms', to: '+32472123456' });
    expect(chosen.body.text).toBe('PROXIMUS 777777');
    expect(chosen.body.templateId).toMatch(/^tpl_/);
  });

  it("preview prices with the app's own price table, as its starts are charged (it used the server's)", async () => {
    const app = await h.req('POST', '/admin/v1/apps', { name: 'Priced', settings: { prices: { currency: 'USD', sms: { BE: 0.031 } } } }, { key: ADMIN_TOKEN });
    const p = await h.req('POST', '/v1/templates/preview', { channel: 'sms', to: '+32470123456', text: 'Code {{pin}}' }, { key: app.body.apiKey.apiKey });
    expect(p.body).toMatchObject({ parts: 1, cost: 0.031, currency: 'USD' });
    const s = await h.req('POST', '/v1/verifications', { to: '+32470123456' }, { key: app.body.apiKey.apiKey });
    expect(s.body).toMatchObject({ cost: 0.031, currency: 'USD' });
  });

  it("templates are the app's own: another app neither sees nor uses them; changes are audited with the key id", async () => {
    const other = await h.req('POST', '/admin/v1/apps', { name: 'Other' }, { key: ADMIN_TOKEN });
    const okey = other.body.apiKey.apiKey;
    const mine = (await tpl({ name: 'mine', text: 'MINE {{pin}}' })).body;
    expect((await h.req('GET', '/v1/templates', undefined, { key: okey })).body.data).toEqual([]);
    expect((await h.req('GET', `/v1/templates/${mine.id}`, undefined, { key: okey })).status).toBe(404);
    expect((await h.req('DELETE', `/v1/templates/${mine.id}`, undefined, { key: okey })).status).toBe(404);
    expect((await h.req('POST', '/v1/verifications', { to: phone(), template: mine.id }, { key: okey })).status).toBe(422);
    const put = await h.req('PUT', `/v1/templates/${mine.id}`, { channel: 'sms', name: 'mine2', text: 'MINE2 {{pin}}' });
    expect(put.body.name).toBe('mine2');
    const audit = (await h.req('GET', `/admin/v1/audit?targetId=${mine.id}`, undefined, { key: ADMIN_TOKEN })).body.data;
    expect(audit.map((e: { action: string; actor: string }) => `${e.action}:${e.actor.slice(0, 4)}`)).toEqual(['template.update:key_', 'template.create:key_']);
  });
});
