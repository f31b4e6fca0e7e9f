/**
 * The PostgreSQL adapter's own guarantees: indexed plans, notifications between nodes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OtpdError } from '../../src/domain/errors.js';
import { newId } from '../../src/domain/ids.js';
import type { VerificationRecord } from '../../src/domain/verification.js';
import { openStore } from '../../src/server.js';
import type { OutboxRecord, StartDecision, Store } from '../../src/store/ports.js';
import { PgStore } from '../../src/store/postgres/index.js';
import { SQL } from '../../src/store/postgres/sql.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { STORE, testDatabase } from '../helpers.js';

let dir: string;
let db: Awaited<ReturnType<typeof testDatabase>>;
let store: Store;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'otpd-store-'));
  db = await testDatabase(dir);
  store = await openStore(db.url);
});
afterEach(async () => {
  await store.close();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Rows of a query without parameters, on either store. */
async function rows(text: string): Promise<Record<string, unknown>[]> {
  if (store instanceof SqliteStore) {
    const st = store.db.prepare(text);
    if (!st.reader) { st.run(); return []; }
    return st.all() as Record<string, unknown>[];
  }
  return (await (store as PgStore).pool.query(text)).rows as Record<string, unknown>[];
}
const count = async (text: string) => Number(Object.values((await rows(text))[0]!)[0]);

const now = Date.UTC(2026, 0, 1);
function plan(id: string, to: string, msgId: string, at = now): StartDecision {
  const v: VerificationRecord = {
    id, appId: 'app_1', to, countryIso: 'FR', channel: 'sms', locale: 'en', status: 'pending', codeType: 'numeric', codeLength: 6,
    codeHash: Buffer.alloc(32, 1), codeSealed: Buffer.alloc(40, 2), attempts: 0, maxAttempts: 3, sends: 1, maxSends: 6,
    resendAvailableAt: at + 60_000, expiresAt: at + 300_000, createdAt: at, updatedAt: at, verifiedAt: null, parts: 1, cost: 0, metadata: null,
    channels: ['sms'], step: 0, stepTimeout: 30,
  };
  const message: OutboxRecord = {
    id: msgId, appId: 'app_1', verificationId: id, channel: 'sms', to, locale: 'en', body: 'code {{pin}}', status: 'queued', attempts: 0,
    availableAt: at, createdAt: at, sentAt: null, provider: null, error: null, parts: 1, cost: 0,
    step: 0, route: ['console'], routeIndex: 0, providerAttempts: 0, providerMessageId: null, errorCode: null, price: null, priceCurrency: null,
    deliveredAt: null, failedAt: null, fallbackAt: null, outcomeUnknown: false,
  };
  return { ok: true, phone: { sends: 1, failures: 0, windowStartedAt: at, lastSendAt: at, lockedUntil: null, lockReason: null }, verification: v, messages: [message], response: '{}' };
}
const start = (id: string, to: string, msgId: string, at = now) =>
  store.startVerification({ appId: 'app_1', to, now: at, lockout: 86_400 }, () => plan(id, to, msgId, at));

describe('PostgreSQL store', () => {
  const pgs = () => store as PgStore;

  it('no statement reads a whole table when an index would do (plans with sequential scans priced out)', async () => {
    const c = await pgs().pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL enable_seqscan = off');
      // The plan every connection settles on after a few executions of a named statement.
      await c.query('SET LOCAL plan_cache_mode = force_generic_plan');
      const scans: string[] = [];
      for (const [name, text] of Object.entries(SQL)) {
        if (['appList', 'ping', 'cbCounts'].includes(name)) continue; // whole-table on purpose, or no table
        const n = Math.max(0, ...[...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
        await c.query(`PREPARE p_${name} AS ${text}`);
        const plan = (await c.query(`EXPLAIN EXECUTE p_${name}${n ? `(${Array(n).fill('NULL').join(', ')})` : ''}`)).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
        if (/Seq Scan on (?!jsonb)/.test(plan)) scans.push(`${name}:\n${plan}`);
      }
      await c.query('ROLLBACK');
      expect(scans).toEqual([]);
    } finally {
      c.release();
    }
  });

  it('another node hears of queued work and of changed apps (LISTEN/NOTIFY)', async () => {
    const other = (await openStore(db.url, { listen: true })) as PgStore;
    try {
      const me = (await openStore(db.url, { listen: true })) as PgStore;
      await new Promise((r) => setTimeout(r, 200)); // both listening
      const work = new Promise<void>((resolve) => { other.onWork = resolve; });
      const changed = new Promise<string>((resolve) => { other.onAppChanged = resolve; });
      let selfWoken = false;
      me.onWork = () => { selfWoken = true; };
      await me.startVerification({ appId: 'app_1', to: '+33670000000', now, lockout: 86_400 }, () => plan(newId('ver', now), '+33670000000', newId('msg', now)));
      await work;
      await me.createApp({ id: 'app_N', name: 'n', enabled: true, settings: {}, createdAt: now, updatedAt: now },
        { id: 'key_N', appId: 'app_N', name: 'k', prefix: 'otpd_x', hash: Buffer.alloc(32, 9), createdAt: now, expiresAt: null, revokedAt: null });
      await me.updateApp('app_N', (before) => ({ after: { ...before, name: 'renamed' }, audit: [] }));
      expect(await changed).toBe('app_N');
      expect(selfWoken).toBe(false); // a node does not wake itself: it kicked its worker in-process already
      await me.close();
    } finally {
      await other.close();
    }
  });
});
