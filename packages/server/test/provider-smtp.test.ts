/** Email through SMTP (nodemailer) against a real SMTP server in this process (smtp-server). */
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SmtpProvider } from '../src/providers/smtp/index.js';
import { startHarness, type Harness } from './helpers.js';

const mails: ParsedMail[] = [];
const rcptReplies = new Map<string, number>(); // address -> SMTP reply code to give at RCPT TO
let hangData = false;
let server: SMTPServer;
let port = 0;

beforeAll(async () => {
  server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onAuth(auth, _s, cb) { cb(auth.username === 'otpd' && auth.password === 'pw' ? null : new Error('bad credentials'), { user: auth.username }); },
    onRcptTo(address: SMTPServerAddress, _s: SMTPServerSession, cb: (err?: Error | null) => void) {
      const code = rcptReplies.get(address.address);
      if (code) return cb(Object.assign(new Error(code >= 500 ? 'no such user' : 'try again later'), { responseCode: code }));
      cb();
    },
    onData(stream, _s, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (hangData) return; // never answer the end of DATA
        simpleParser(Buffer.concat(chunks)).then((m) => { mails.push(m); cb(); }, cb);
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.server.address() as AddressInfo).port;
});
afterAll(async () => { await new Promise<void>((r) => server.close(() => r())); });

let h: Harness;
async function harness(brand = 'Acme') {
  h = await startHarness({
    settings: { brandName: brand },
    config: {
      delivery: 'providers',
      providers: { providers: [
        { name: 'mail', type: 'smtp', url: `smtp://otpd:pw@127.0.0.1:${port}`, from: 'Acme <no-reply@acme.example>', timeoutMs: 700 },
        { name: 'backup', type: 'smtp', url: `smtp://otpd:pw@127.0.0.1:${port}`, from: 'Acme backup <no-reply@acme.example>', timeoutMs: 700 },
      ], routing: { email: [{ providers: ['mail', 'backup'] }] } },
    },
    worker: { random: () => 0.5 },
  });
}
afterEach(async () => { await h?.close(); mails.length = 0; rcptReplies.clear(); hangData = false; });

const start = async (to: string, extra: Record<string, unknown> = {}) => {
  const r = await h.req('POST', '/v1/verifications', { to, channel: 'email', ...extra });
  expect(r.status, r.text).toBe(201);
  await h.otpd.worker!.flush();
  return r.body as { id: string; to: string; countryIso: null };
};
const messages = async (id: string) => (await h.req('GET', `/v1/verifications/${id}/messages`)).body.data as { status: string; provider: string; errorCode: string | null; outcomeUnknown: boolean }[];

describe('email channel', () => {
  it('sends subject, text and HTML with the code; the code checks; recipients are normalised', async () => {
    await harness();
    const v = await start('Ada.Lovelace@Example.COM', { locale: 'fr' });
    expect(v).toMatchObject({ to: 'Ada.Lovelace@example.com', countryIso: null });
    expect(mails).toHaveLength(1);
    const m = mails[0]!;
    const code = /(\d{6})/.exec(m.subject!)![1]!;
    expect(m.subject).toBe(`Votre code de vérification Acme : ${code}`);
    expect(m.text).toContain(code);
    expect(m.html).toContain(`>${code}</strong>`);
    expect(m.from?.value[0]).toMatchObject({ name: 'Acme', address: 'no-reply@acme.example' });
    expect(m.headers.get('x-otpd-message-id')).toMatch(/^msg_/);
    expect((await messages(v.id))[0]).toMatchObject({ status: 'sent', provider: 'mail' });
    const r = await h.req('POST', '/v1/verifications/check', { to: 'ada.lovelace@example.com', code });
    expect(r.status).toBe(404); // the local part keeps its case: only the domain is normalised
    expect((await h.req('POST', '/v1/verifications/check', { to: 'Ada.Lovelace@EXAMPLE.com', code })).body.valid).toBe(true);
  });

  it('escapes the brand in HTML', async () => {
    await harness('<b>Evil & Co</b>');
    await start('x@example.com');
    expect(mails[0]!.html).toContain('&lt;b&gt;Evil &amp; Co&lt;/b&gt;');
    expect(mails[0]!.html).not.toContain('<b>Evil');
  });

  it('validates the recipient against the channel', async () => {
    await harness();
    const cases: [Record<string, unknown>, string][] = [
      [{ to: 'not-an-email', channel: 'email' }, 'invalid_email'],
      [{ to: '+33612345678', channel: 'email' }, 'invalid_email'],
      [{ to: 'a@b', channel: 'email' }, 'invalid_email'],
      [{ to: 'ada@example.com', channel: 'sms' }, 'invalid_phone_number'],
      [{ to: 'ada@example.com', channels: ['email', 'sms'] }, 'invalid_request'],
    ];
    for (const [body, code] of cases) {
      const r = await h.req('POST', '/v1/verifications', body);
      expect(r.status, JSON.stringify(body)).toBe(422);
      expect(r.body.code, JSON.stringify(body)).toBe(code);
    }
  });

  it('a 550 at RCPT is a definite rejection: the next provider is tried, then the message fails', async () => {
    await harness();
    rcptReplies.set('gone@example.com', 550);
    const v = await start('gone@example.com');
    await h.otpd.worker!.flush();
    expect((await messages(v.id))[0]).toMatchObject({ status: 'failed', provider: 'backup', errorCode: '550' });
    const attempts = await h.otpd.store.outbox.listAttempts((await h.req('GET', `/v1/verifications/${v.id}/messages`)).body.data[0].id);
    expect(attempts.map((a) => `${a.provider}:${a.outcome}`)).toEqual(['mail:rejected', 'backup:rejected']);
  });

  it('a 451 is transient: retried on the same server after the backoff', async () => {
    await harness();
    rcptReplies.set('busy@example.com', 451);
    const v = await start('busy@example.com');
    rcptReplies.delete('busy@example.com');
    h.clock.advance(750);
    await h.otpd.worker!.flush();
    expect((await messages(v.id))[0]).toMatchObject({ status: 'sent', provider: 'mail' });
    expect(mails).toHaveLength(1);
  });

  it('no answer to the end of DATA is an unknown outcome: not re-sent, not sent through the backup', async () => {
    await harness();
    hangData = true;
    const v = await start('slow@example.com');
    await h.otpd.worker!.flush();
    expect((await messages(v.id))[0]).toMatchObject({ status: 'sent', provider: 'mail', outcomeUnknown: true });
    hangData = false;
    h.clock.advance(3600_000);
    await h.otpd.worker!.flush();
    expect(mails).toHaveLength(0);
  });

  it('a server that refuses the connection is transient (nothing was sent)', async () => {
    const p = new SmtpProvider({ name: 'down', type: 'smtp', url: 'smtp://127.0.0.1:9', from: 'a@acme.example', timeoutMs: 700 });
    try {
      await expect(p.send({ id: 'msg_1', appId: 'a', verificationId: 'v', channel: 'email', to: 'x@example.com', locale: 'en', text: 't', code: '123456', ttlMinutes: 5 }))
        .rejects.toMatchObject({ kind: 'transient', message: expect.stringContaining('ECONNREFUSED') });
    } finally {
      p.close();
    }
  });
});
