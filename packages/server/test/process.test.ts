/**
 * The real `otpd` binary (built dist/, as `npm test` builds first): CLI commands, kill -9 durability, two
 * processes racing on one SQLite file, graceful SIGTERM, production refusals.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, SECRET, phone, wrong } from './helpers.js';
import { assertBuilt, call, cli, exited, killAll, serve } from './proc.js';

let dir: string;

beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'otpd-proc-'));
});
afterAll(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

const baseEnv = (db: string, extra: Record<string, string> = {}) => ({
  ...process.env, OTPD_DATABASE_URL: `sqlite:${db}`, OTPD_SECRET: SECRET, OTPD_ADMIN_TOKEN: ADMIN_TOKEN, OTPD_DATA_DIR: dir, OTPD_LOG_LEVEL: 'info', ...extra,
});

function createApp(db: string, settings?: Record<string, unknown>): { id: string; apiKey: string } {
  expect(cli(['migrate'], baseEnv(db)).code).toBe(0);
  const r = cli(['apps', 'create', '--name', 'proc', '--json', ...(settings ? ['--settings', JSON.stringify(settings)] : [])], baseEnv(db));
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { id: string; apiKey: string };
}

describe('CLI', () => {
  it('migrates, creates an app (key shown once, stored hashed) and lists apps', () => {
    const db = join(dir, 'cli.sqlite');
    const m = cli(['migrate'], baseEnv(db));
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toContain('001_core');
    expect(cli(['migrate'], baseEnv(db)).stdout).toContain('up to date');
    const app = createApp(db);
    expect(app.id).toMatch(/^app_/);
    expect(app.apiKey).toMatch(/^otpd_[A-Za-z0-9_-]{43}$/);
    const l = cli(['apps', 'list', '--json'], baseEnv(db));
    expect(JSON.parse(l.stdout).map((a: { id: string }) => a.id)).toContain(app.id);
    expect(l.stdout).not.toContain(app.apiKey);
    const bad = cli(['apps', 'create', '--name', 'x', '--allow-countries', 'France'], baseEnv(db));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('ISO 3166');
  });

  it('prints its version', () => {
    const v = cli(['--version'], baseEnv(join(dir, 'v.sqlite')));
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('never creates a database for apps create|list: a missing SQLite file is an error naming it', () => {
    const db = join(dir, 'elsewhere', 'otpd.sqlite');
    for (const args of [['apps', 'create', '--name', 'x'], ['apps', 'list']]) {
      const r = cli(args, baseEnv(db));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`no otpd database at ${db}`);
      expect(existsSync(db)).toBe(false);
    }
  });

  it('finds the project\'s database from any folder of the project (npm and npx run commands at its root)', () => {
    const root = mkdtempSync(join(tmpdir(), 'otpd-root-'));
    try {
      const { OTPD_DATABASE_URL: _u, OTPD_DATA_DIR: _d, ...env } = baseEnv('unused');
      const inRoot = { ...env, npm_config_local_prefix: root };
      expect(cli(['migrate'], inRoot).code).toBe(0);
      expect(existsSync(join(root, 'data', 'otpd.sqlite'))).toBe(true);
      const made = cli(['apps', 'create', '--name', 'rooted'], inRoot);
      expect(made.code, made.stderr).toBe(0);
      expect(made.stdout).toContain(`created in sqlite:${join(root, 'data', 'otpd.sqlite')}`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('says what is wrong in one line, without a stack trace: port in use, a host that is not local, a bad log level', async () => {
    const db = join(dir, 'errs.sqlite');
    const p = await serve(baseEnv(db));
    const port = new URL(p.url).port;
    const cases: [string[], Record<string, string>, string][] = [
      [['serve', '--port', port], {}, 'the port is in use'],
      [['serve', '--port', '0', '--host', '192.0.2.123'], {}, 'is not an address of this machine'],
      [['serve', '--port', '0', '--host', 'no-such-host.invalid'], {}, 'does not resolve'],
      [['serve', '--port', '0'], { OTPD_LOG_LEVEL: 'loud' }, 'OTPD_LOG_LEVEL must be one of'],
      [['serve', '--port', '0'], { OTPD_TRUST_PROXY: 'true' }, 'OTPD_TRUST_PROXY=true'],
      [['serve', '--port', '0'], { OTPD_HEADERS_TIMEOUT: '60', OTPD_REQUEST_TIMEOUT: '30' }, 'OTPD_HEADERS_TIMEOUT must not be longer'],
    ];
    for (const [args, extra, says] of cases) {
      const r = cli(args, baseEnv(db, extra));
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain(says);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    p.child.kill('SIGTERM');
    expect(await exited(p.child)).toBe(0);
  });
});

describe('durability', () => {
  it('an acknowledged start survives kill -9, and its code still checks after restart', async () => {
    const db = join(dir, 'kill.sqlite');
    const app = createApp(db);
    const a = await serve(baseEnv(db));
    const started: { id: string; code: string }[] = [];
    for (let i = 0; i < 10; i++) {
      const to = phone();
      const s = await call(a.url, app.apiKey, 'POST', '/v1/verifications', { to });
      expect(s.status).toBe(201);
      const m = await call(a.url, app.apiKey, 'GET', `/dev/messages?to=${encodeURIComponent(to)}`);
      started.push({ id: s.body.id, code: m.body.messages[0].code });
    }
    a.child.kill('SIGKILL');
    await exited(a.child);
    const b = await serve(baseEnv(db));
    for (const s of started) {
      expect((await call(b.url, app.apiKey, 'GET', `/v1/verifications/${s.id}`)).body.status).toBe('pending');
      expect((await call(b.url, app.apiKey, 'POST', `/v1/verifications/${s.id}/check`, { code: s.code })).body.valid).toBe(true);
    }
    b.child.kill('SIGTERM');
    expect(await exited(b.child)).toBe(0);
  });

  it('SIGTERM under load: in-flight requests finish, the database closes cleanly, exit 0, nothing acknowledged lost', async () => {
    const db = join(dir, 'term.sqlite');
    // Unverified starts to random numbers as fast as possible is what the guard refuses; this test is about shutdown.
    const app = createApp(db, { guard: { mode: 'off' } });
    const a = await serve(baseEnv(db));
    const acked: string[] = [];
    const statuses = new Map<string, number>();
    let stop = false;
    let loaded!: () => void;
    const underLoad = new Promise<void>((r) => { loaded = r; });
    // 8 clients keep starting verifications until the server stops answering.
    const clients = Array.from({ length: 8 }, async () => {
      while (!stop) {
        try {
          const r = await call(a.url, app.apiKey, 'POST', '/v1/verifications', { to: phone() });
          statuses.set(String(r.status), (statuses.get(String(r.status)) ?? 0) + 1);
          if (r.status === 201) acked.push(r.body.id);
          if (acked.length === 20) loaded();
        } catch {
          return; // connection refused or closed: the server is gone
        }
      }
    });
    await underLoad; // SIGTERM lands while 8 clients are mid-flight
    const before = acked.length;
    a.child.kill('SIGTERM');
    const code = await exited(a.child);
    stop = true;
    await Promise.all(clients);
    expect(code).toBe(0);
    expect(a.out()).toContain('shutting down');
    expect(before).toBeGreaterThan(0);
    // Only 201s, or 503 for requests that arrived while closing: never a 500.
    expect([...statuses.keys()].every((s) => s === '201' || s === '503')).toBe(true);
    expect(existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0).toBe(0); // checkpointed on a clean close
    const b = await serve(baseEnv(db));
    for (const id of acked) expect((await call(b.url, app.apiKey, 'GET', `/v1/verifications/${id}`)).status).toBe(200);
    b.child.kill('SIGTERM');
    await exited(b.child);
  });
});

describe('two processes on one SQLite file', () => {
  it('count tries atomically: 50 wrong checks over both count 3; 20 right checks give one verified', async () => {
    const db = join(dir, 'multi.sqlite');
    const app = createApp(db);
    const [a, b] = await Promise.all([serve(baseEnv(db)), serve(baseEnv(db))]);
    const urls = [a.url, b.url];
    const one = async () => {
      const to = phone();
      const s = await call(a.url, app.apiKey, 'POST', '/v1/verifications', { to });
      const m = await call(a.url, app.apiKey, 'GET', `/dev/messages?to=${encodeURIComponent(to)}`);
      return { id: s.body.id as string, code: m.body.messages[0].code as string };
    };
    const x = await one();
    const wrongs = await Promise.all(Array.from({ length: 50 }, (_, i) => call(urls[i % 2]!, app.apiKey, 'POST', `/v1/verifications/${x.id}/check`, { code: wrong(x.code) })));
    expect(wrongs.every((r) => r.status === 200 && r.body.valid === false)).toBe(true);
    const v = await call(b.url, app.apiKey, 'GET', `/v1/verifications/${x.id}`);
    expect(v.body).toMatchObject({ attempts: 3, status: 'failed' });

    const y = await one();
    const rights = await Promise.all(Array.from({ length: 20 }, (_, i) => call(urls[i % 2]!, app.apiKey, 'POST', `/v1/verifications/${y.id}/check`, { code: y.code })));
    expect(rights.filter((r) => r.body.valid === true)).toHaveLength(1);
    expect(rights.every((r) => r.body.status === 'verified')).toBe(true);
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    await Promise.all([exited(a.child), exited(b.child)]);
  });
});

describe('production mode', () => {
  it('refuses to start without a secret or with the console channel', () => {
    const db = join(dir, 'prod.sqlite');
    const noSecret = cli(['serve', '--port', '0'], { ...baseEnv(db, { OTPD_ENV: 'production' }), OTPD_SECRET: '' });
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toContain('OTPD_SECRET is required in production');
    const shortSecret = cli(['serve', '--port', '0'], baseEnv(db, { OTPD_ENV: 'production', OTPD_SECRET: 'short' }));
    expect(shortSecret.code).toBe(1);
    expect(shortSecret.stderr).toContain('at least 32 bytes');
    const consoleCh = cli(['serve', '--port', '0'], baseEnv(db, { OTPD_ENV: 'production', OTPD_DELIVERY: 'console' }));
    expect(consoleCh.code).toBe(1);
    expect(consoleCh.stderr).toContain('console channel');
  });

  it('has no /dev routes, and refuses starts while no provider can deliver', async () => {
    const db = join(dir, 'prod2.sqlite');
    const app = createApp(db);
    const p = await serve(baseEnv(db, { OTPD_ENV: 'production' }));
    expect((await call(p.url, app.apiKey, 'GET', '/dev/messages?to=%2B33612345678')).status).toBe(404);
    const s = await call(p.url, app.apiKey, 'POST', '/v1/verifications', { to: phone() });
    expect(s.status).toBe(503);
    expect(s.body.code).toBe('channel_unavailable');
    expect((await call(p.url, app.apiKey, 'GET', '/v1/verifications')).body.data).toEqual([]);
    p.child.kill('SIGTERM');
    expect(await exited(p.child)).toBe(0);
  });
});
