/** Test harness: a real otpd on 127.0.0.1 port 0, real SQLite in a temp dir, a fake clock, captured logs. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../src/config.js';
import { FakeClock } from '../src/domain/clock.js';
import type { AppSettings } from '../src/domain/policy.js';
import { createOtpd, type Otpd, type OtpdOptions } from '../src/server.js';

export const SECRET = 'test-secret-0123456789abcdef0123456789abcdef';
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef0123456789';

/** A writable that keeps everything written to it. */
export class Capture extends Writable {
  chunks: string[] = [];
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk.toString());
    cb();
  }
  text(): string {
    return this.chunks.join('');
  }
}

export interface Res {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

/** Which store this test run uses: the `postgres` vitest project sets OTPD_TEST_STORE=postgres. */
export const STORE: 'sqlite' | 'postgres' = process.env.OTPD_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

/**
 * A fresh, empty database for one test: a SQLite file in `dir`, or a new schema in the run's throwaway PostgreSQL
 * cluster (the URL sets search_path, so otpd's tables land in it). `drop` removes the schema.
 */
export async function testDatabase(dir: string): Promise<{ url: string; schema: string | null; drop(): Promise<void> }> {
  if (STORE === 'sqlite') return { url: `sqlite:${join(dir, 'otpd.sqlite')}`, schema: null, drop: async () => undefined };
  const base = inject('pgUrl');
  const schema = `t_${randomBytes(6).toString('hex')}`;
  await sql(base, `CREATE SCHEMA ${schema}`);
  return {
    url: `${base}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    schema,
    drop: () => sql(base, `DROP SCHEMA ${schema} CASCADE`).then(() => undefined),
  };
}

/** Runs one statement on a PostgreSQL URL with a short-lived connection. */
export async function sql(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(text, values);
  } finally {
    await c.end();
  }
}

export interface Harness {
  otpd: Otpd;
  url: string;
  clock: FakeClock;
  dir: string;
  dbFile: string;
  /** The database URL this harness runs on. */
  databaseUrl: string;
  logs: Capture;
  console: Capture;
  /** Every response body this harness saw (to prove codes never appear). */
  bodies: { path: string; text: string }[];
  key: string;
  appId: string;
  newApp(name?: string, settings?: AppSettings): Promise<{ key: string; appId: string }>;
  req(method: string, path: string, body?: unknown, opts?: { key?: string | null; headers?: Record<string, string>; raw?: string }): Promise<Res>;
  /** Starts a verification and reads its code from the dev inbox. */
  startAndRead(to: string, extra?: Record<string, unknown>, key?: string): Promise<{ id: string; code: string; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

export async function startHarness(o: { settings?: AppSettings; config?: Partial<Config>; dir?: string; keepDir?: boolean; worker?: OtpdOptions['worker']; databaseUrl?: string; keepDatabase?: boolean; firstApp?: boolean } = {}): Promise<Harness> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'otpd-test-'));
  const dbFile = join(dir, 'otpd.sqlite');
  const db = o.databaseUrl ? { url: o.databaseUrl, drop: async () => undefined } : await testDatabase(dir);
  const config = { ...loadConfig({ databaseUrl: db.url }, { OTPD_SECRET: SECRET, OTPD_ADMIN_TOKEN: ADMIN_TOKEN, OTPD_DATA_DIR: dir, OTPD_LOG_LEVEL: 'debug' }), ...o.config };
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  const logs = new Capture();
  const consoleOut = new Capture();
  const otpd = await createOtpd(config, { clock, logStream: logs, consoleStream: consoleOut, worker: o.worker });
  const url = await otpd.listen({ host: '127.0.0.1', port: 0 });
  const bodies: { path: string; text: string }[] = [];
  let closing: Promise<void> | null = null;

  const h: Harness = {
    otpd, url, clock, dir, dbFile, databaseUrl: db.url, logs, console: consoleOut, bodies, key: '', appId: '',
    async newApp(name = 'Acme', settings = o.settings ?? {}) {
      // The guard is off unless a test asks for it: engine tests hammer one phone or one country on purpose, the very
      // pattern the guard refuses (test/guard.test.ts runs it on).
      const a = await otpd.apps.create({ name, settings: { guard: { mode: 'off' }, ...settings } });
      return { key: a.apiKey, appId: a.id };
    },
    async req(method, path, body, ro = {}) {
      const headers: Record<string, string> = { ...ro.headers };
      const key = ro.key === undefined ? h.key : ro.key;
      if (key !== null) headers.authorization = `Bearer ${key}`;
      let payload: string | undefined = ro.raw;
      if (body !== undefined) payload = JSON.stringify(body);
      if (payload !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      const r = await fetch(url + path, { method, headers, body: payload });
      const text = await r.text();
      bodies.push({ path, text });
      let parsed: unknown = null;
      try { parsed = text ? JSON.parse(text) : null; } catch { parsed = text; }
      return { status: r.status, headers: r.headers, body: parsed, text };
    },
    async startAndRead(to, extra = {}, key) {
      const s = await h.req('POST', '/v1/verifications', { to, ...extra }, key ? { key } : {});
      if (s.status !== 201) throw new Error(`start failed: ${s.status} ${s.text}`);
      const m = await h.req('GET', `/dev/messages?to=${encodeURIComponent(to)}`, undefined, key ? { key } : {});
      const msg = m.body.messages.find((x: { verificationId: string }) => x.verificationId === s.body.id);
      if (!msg) throw new Error(`no message for ${s.body.id}: ${m.text}`);
      return { id: s.body.id, code: msg.code, body: s.body };
    },
    close() {
      closing ??= (async () => {
        await otpd.close();
        if (!o.keepDatabase) await db.drop();
        if (!o.keepDir) rmSync(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
  if (o.firstApp !== false) {
    const first = await h.newApp();
    h.key = first.key;
    h.appId = first.appId;
  }
  return h;
}

/** A phone number generator: valid French mobiles, unique per call. */
let seq = 0;
export function phone(): string {
  seq++;
  return `+3361${String(seq + Math.floor(Math.random() * 1000) * 10000).padStart(7, '0')}`;
}

/** A wrong code for a right one (same shape). */
export function wrong(code: string): string {
  return code.replace(/./, (c) => (c === '9' ? '0' : /\d/.test(c) ? String(Number(c) + 1) : c === 'Z' ? 'Y' : 'Z'));
}
