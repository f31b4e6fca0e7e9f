import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomInt } from 'node:crypto';
import { ADMIN_TOKEN, phone, sql, startHarness, STORE, wrong, type Harness } from './helpers.js';

/** Every file of a directory tree. */
function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

let h: Harness;
const codes: string[] = [];
beforeAll(async () => {
  h = await startHarness();
  // Exercise every route that touches a code: start, resend, check (wrong and right), by recipient, cancel.
  for (let i = 0; i < 8; i++) {
    const to = phone();
    const type = (['numeric', 'alpha', 'alphanumeric'] as const)[i % 3];
    const { id, code } = await h.startAndRead(to, { codeType: type, codeLength: 10 });
    codes.push(code);
    await h.req('POST', `/v1/verifications/${id}/check`, { code: wrong(code) });
    h.clock.advance(60_000);
    await h.req('POST', `/v1/verifications/${id}/resend`, {});
    await h.req('GET', `/v1/verifications/${id}`);
    await h.req('GET', `/v1/verifications/${id}/messages`);
    await h.req('GET', `/v1/verifications?to=${encodeURIComponent(to)}`);
    if (i % 2) await h.req('POST', '/v1/verifications/check', { to, code });
    else await h.req('POST', `/v1/verifications/${id}/cancel`);
  }
  // Codes the caller chose (customCode): the same holds, Idempotency-Key included (its body hash).
  await h.req('PATCH', `/admin/v1/apps/${h.appId}`, { settings: { allowCustomCode: true } }, { key: ADMIN_TOKEN });
  for (let i = 0; i < 2; i++) {
    const custom = String(randomInt(1_000_000_000, 9_999_999_999));
    codes.push(custom);
    const to = phone();
    const body = { to, customCode: custom };
    const r = await h.req('POST', '/v1/verifications', body, { headers: { 'idempotency-key': `custom-${i}-${custom.slice(0, 2)}` } });
    expect(r.status, r.text).toBe(201);
    await h.req('POST', '/v1/verifications', body, { headers: { 'idempotency-key': `custom-${i}-${custom.slice(0, 2)}` } });
    await h.req('POST', `/v1/verifications/${r.body.id}/check`, { code: wrong(custom) });
    expect((await h.req('POST', `/v1/verifications/${r.body.id}/check`, { code: custom })).body.valid).toBe(true);
  }
  await h.otpd.worker?.flush();
});
afterAll(async () => { await h.close(); });

describe('a code never leaves except through its channel', () => {
  it('is delivered (dev inbox and console) so the test is meaningful', () => {
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(h.console.text()).toContain(c);
  });

  it('appears in no API response body except /dev/messages', () => {
    const api = h.bodies.filter((b) => !b.path.startsWith('/dev/'));
    expect(api.length).toBeGreaterThan(40);
    for (const c of codes) for (const b of api) expect(b.text, b.path).not.toContain(c);
  });

  it('appears in no log line', () => {
    const logs = h.logs.text();
    expect(logs.split('\n').length).toBeGreaterThan(40);
    for (const c of codes) expect(logs).not.toContain(c);
  });

  it('appears in no database file (SQLite: main, WAL, shared memory; PostgreSQL: every file of the cluster, WAL included)', async () => {
    let files: string[];
    if (STORE === 'sqlite') {
      files = readdirSync(h.dir).filter((f) => f.startsWith('otpd.sqlite')).map((f) => join(h.dir, f));
      expect(files.map((f) => f.slice(h.dir.length + 1))).toContain('otpd.sqlite-wal');
    } else {
      await sql(h.databaseUrl, 'CHECKPOINT'); // table files written out too, not only the WAL
      files = walk(inject('pgDataDir'));
      expect(files.some((f) => f.includes('pg_wal'))).toBe(true);
    }
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const c of codes) {
        expect(bytes.includes(Buffer.from(c, 'utf8')), `${c} in ${f}`).toBe(false);
        expect(bytes.includes(Buffer.from(c, 'utf16le')), `${c} (UTF-16) in ${f}`).toBe(false);
      }
    }
  });
});
