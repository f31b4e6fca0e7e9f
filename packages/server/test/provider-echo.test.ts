/**
 * Providers echo what they refuse (issue 13): for every adapter, a provider whose first answer is a transient
 * error quoting the whole request (the code with it), then a success on the retry. The code, still live, must
 * reach no API response, no log line and no database file; the stored error must still say what happened.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { describe, expect, inject, it } from 'vitest';
import type { ProviderConfig } from '../src/providers/registry.js';
import { EchoHttp, EchoSmtp, type EchoExchange } from './fakes/echo.js';
import { phone, sql, startHarness, STORE, type Harness } from './helpers.js';

const SID = 'AC' + 'a'.repeat(32);

/** Every file of a directory tree (files PostgreSQL removes meanwhile are skipped). */
function walk(dir: string): string[] {
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  return names.flatMap((f) => {
    const p = join(dir, f);
    try { return statSync(p).isDirectory() ? walk(p) : [p]; } catch { return []; }
  });
}

/** The database files of a harness: SQLite main, WAL and shared memory; on PostgreSQL the whole cluster, checkpointed. */
async function databaseFiles(h: Harness): Promise<string[]> {
  if (STORE === 'sqlite') return readdirSync(h.dir).filter((f) => f.startsWith('otpd.sqlite')).map((f) => join(h.dir, f));
  await sql(h.databaseUrl, 'CHECKPOINT'); // table files written out too, not only the WAL
  return walk(inject('pgDataDir'));
}

const jsonAnswer = (status: number, body: unknown): { status: number; body: string } => ({ status, body: JSON.stringify(body) });
const tenDigits = (s: string | null | undefined) => /\b(\d{10})\b/.exec(s ?? '')?.[1] ?? '';

interface Case {
  name: string;
  channel: 'sms' | 'whatsapp' | 'email';
  /** Starts the fake and gives the provider configuration that points at it. */
  fake(): Promise<{ exchanges: EchoExchange[]; config: ProviderConfig; close(): Promise<void> }>;
  /** The code, read from the request the provider received. */
  code(request: string): string | Promise<string>;
  /** What the stored error must still say, and the error code (a pattern: one that echoed the request, redacted). */
  says: string;
  errorCode: string | RegExp;
  /** Where the echo is: the error text (default) or the error code. */
  echoIn?: 'errorCode';
  /** A provider credential the echo carries: it is redacted like the code. */
  secret?: string;
}

/** An HTTP provider whose first answer is `fail(request)`, then `ok`. */
function http(fail: (request: string) => { status: number; body: string }, ok: { status: number; body: string }, config: (url: string) => ProviderConfig) {
  return async () => {
    const f = await new EchoHttp((request, n) => (n === 0 ? fail(request) : ok)).start();
    return { exchanges: f.exchanges, config: config(f.url), close: () => f.close() };
  };
}

const twilioOk = jsonAnswer(201, { sid: 'SM' + 'b'.repeat(32), status: 'queued', price: null, price_unit: 'USD' });
const twilio = (url: string): ProviderConfig => ({ name: 'twilio', type: 'twilio', accountSid: SID, authToken: 'token', from: '+15005550006', baseUrl: url });
const gateway = (url: string): ProviderConfig => ({ name: 'gw', type: 'http', url: `${url}/send`, body: { to: '{{to}}', text: '{{text}}', code: '{{code}}' } });

const cases: Case[] = [
  {
    name: 'twilio (error JSON whose message quotes the form)',
    channel: 'sms',
    fake: http((request) => jsonAnswer(503, { code: 20503, message: `Service unavailable, request was: ${request}`, more_info: 'https://www.twilio.com/docs/errors/20503', status: 503 }), twilioOk, twilio),
    code: (request) => tenDigits(new URLSearchParams(request).get('Body')),
    says: 'twilio 503',
    errorCode: '20503',
  },
  {
    name: 'twilio behind a proxy whose error code quotes the form',
    channel: 'sms',
    fake: http((request) => jsonAnswer(503, { code: `refused ${new URLSearchParams(request).get('Body')}`, message: 'Service unavailable', status: 503 }), twilioOk, twilio),
    code: (request) => tenDigits(new URLSearchParams(request).get('Body')),
    says: 'twilio 503',
    errorCode: /^refused .*\[code\]/,
    echoIn: 'errorCode',
  },
  {
    name: 'vonage (status 1, throttled, error-text quoting the form)',
    channel: 'sms',
    fake: http(
      (request) => jsonAnswer(200, { 'message-count': '1', messages: [{ status: '1', 'error-text': `Throttled: ${request}` }] }),
      jsonAnswer(200, { 'message-count': '1', messages: [{ to: '33612345678', 'message-id': '0A0000000123ABCD1', status: '0', 'remaining-balance': '3.14', 'message-price': '0.0333', network: '20810' }] }),
      (url) => ({ name: 'vonage', type: 'vonage', apiKey: 'abcd1234', apiSecret: 'secret123', from: 'Acme', baseUrl: url }),
    ),
    code: (request) => tenDigits(new URLSearchParams(request).get('text')),
    says: 'vonage status 1',
    errorCode: '1',
    secret: 'secret123',
  },
  {
    name: 'whatsapp Cloud API (131000 with the request in the message)',
    channel: 'whatsapp',
    fake: http(
      (request) => jsonAnswer(500, { error: { message: `(#131000) Something went wrong: ${request}`, type: 'OAuthException', code: 131000, fbtrace_id: 'Atrace' } }),
      jsonAnswer(200, { messaging_product: 'whatsapp', contacts: [{ input: '33612345678', wa_id: '33612345678' }], messages: [{ id: 'wamid.echo' }] }),
      (url) => ({ name: 'meta', type: 'whatsapp', phoneNumberId: '106540352242922', accessToken: 'EAAJBtesttoken', appSecret: 'meta-app-secret', verifyToken: 'verify-me-123',
        templates: { '*': { name: 'otp_code', language: 'en_US' } }, baseUrl: url }),
    ),
    code: (request) => (JSON.parse(request) as { template: { components: { parameters: { text: string }[] }[] } }).template.components[0]!.parameters[0]!.text,
    says: 'whatsapp 500',
    errorCode: '131000',
  },
  {
    name: 'smtp (451 quoting the data)',
    channel: 'email',
    fake: async () => {
      const f = await new EchoSmtp().start();
      return { exchanges: f.exchanges, config: { name: 'mail', type: 'smtp', url: `smtp://127.0.0.1:${f.port}`, from: 'Acme <no-reply@acme.example>', timeoutMs: 5_000 }, close: () => f.close() };
    },
    code: async (request) => tenDigits((await simpleParser(request)).subject),
    says: '451',
    errorCode: '451',
  },
  {
    name: 'http gateway ({{code}} and {{text}} in the body, echoed)',
    channel: 'sms',
    fake: http((request) => ({ status: 503, body: `{"error":"unavailable","request":${request}}` }), jsonAnswer(200, { status: 'ok', id: 'gw-1' }), gateway),
    code: (request) => (JSON.parse(request) as { code: string }).code,
    says: 'gw 503',
    errorCode: 'transient',
  },
  {
    name: 'http gateway whose long echo is cut at the bound, past a code near its start',
    channel: 'sms',
    // The code sits where an adapter that kept the first 200 characters would have cut it.
    fake: http((request) => {
      const { code } = JSON.parse(request) as { code: string };
      return { status: 503, body: `${'unavailable, you sent '.padEnd(195, '_')}${code} in ${request}` };
    }, jsonAnswer(200, { status: 'ok', id: 'gw-1' }), gateway),
    code: (request) => (JSON.parse(request) as { code: string }).code,
    says: 'gw 503',
    errorCode: 'transient',
  },
];

describe('a provider echoing the request never leaks the code', () => {
  it.each(cases)('$name', async (c) => {
    const fake = await c.fake();
    let h: Harness | null = null;
    try {
      h = await startHarness({ config: { delivery: 'providers', providers: { providers: [fake.config] } }, worker: { random: () => 0.5, retryBaseMs: 1_000 } });
      const to = c.channel === 'email' ? `ada.${Date.now()}@example.com` : phone();
      const s = await h.req('POST', '/v1/verifications', { to, channel: c.channel, codeLength: 10 });
      expect(s.status, s.text).toBe(201);
      await h.otpd.worker!.flush();

      // The provider got the code and answered with it: the test is meaningful.
      expect(fake.exchanges).toHaveLength(1);
      const code = await c.code(fake.exchanges[0]!.request);
      expect(code).toMatch(/^\d{10}$/);
      expect(fake.exchanges[0]!.answer).toContain(code);

      // Until the retry, the message shows the failure: bounded, redacted, still useful.
      const [queued] = (await h.req('GET', `/v1/verifications/${s.body.id}/messages`)).body.data;
      expect(queued).toMatchObject({ status: 'queued' });
      expect(queued.error).toContain(c.says);
      if (c.echoIn !== 'errorCode') expect(queued.error).toContain('[code]');
      expect(queued.error.length).toBeLessThanOrEqual(300);
      expect(queued.error).not.toContain(code.slice(0, 5)); // no piece of it either, even where the adapter cut it
      if (c.secret) {
        expect(fake.exchanges[0]!.answer).toContain(c.secret);
        expect(queued.error).toContain('[secret]');
      }
      if (typeof c.errorCode === 'string') expect(queued.errorCode).toBe(c.errorCode);
      else expect(queued.errorCode).toMatch(c.errorCode);
      expect(queued.errorCode.length).toBeLessThanOrEqual(64);

      // The retry succeeds, with the same (live) code.
      h.clock.advance(5_000);
      await h.otpd.worker!.flush();
      expect(fake.exchanges).toHaveLength(2);
      expect(await c.code(fake.exchanges[1]!.request)).toBe(code);
      const [sent] = (await h.req('GET', `/v1/verifications/${s.body.id}/messages`)).body.data;
      expect(sent).toMatchObject({ status: 'sent' });
      const attempts = await h.otpd.store.outbox.listAttempts(sent.id);
      expect(attempts.map((a) => a.outcome)).toEqual(['transient', 'accepted']);
      expect(attempts[0]!.error).toBe(queued.error);
      expect((await h.req('POST', `/v1/verifications/${s.body.id}/check`, { code })).body.valid).toBe(true);

      // Nowhere: API responses, logs, database files (UTF-8 and UTF-16).
      expect(h.bodies.length).toBeGreaterThanOrEqual(4);
      const kept = c.secret ? [code, c.secret] : [code];
      for (const b of h.bodies) for (const k of kept) expect(b.text, b.path).not.toContain(k);
      expect(h.logs.text()).toContain('provider call failed');
      for (const k of kept) expect(h.logs.text()).not.toContain(k);
      const files = await databaseFiles(h);
      if (STORE === 'sqlite') expect(files.map((f) => f.slice(h!.dir.length + 1))).toContain('otpd.sqlite-wal');
      else expect(files.some((f) => f.includes('pg_wal'))).toBe(true);
      for (const f of files) {
        let bytes: Buffer;
        try { bytes = readFileSync(f); } catch { continue; } // removed by PostgreSQL meanwhile
        for (const k of kept) {
          expect(bytes.includes(Buffer.from(k, 'utf8')), `${k} in ${f}`).toBe(false);
          expect(bytes.includes(Buffer.from(k, 'utf16le')), `${k} (UTF-16) in ${f}`).toBe(false);
        }
      }
    } finally {
      await h?.close();
      await fake.close();
    }
  });
});
