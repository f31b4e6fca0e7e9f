/**
 * The SQLite adapter's own guarantees: WAL with synchronous=FULL, indexed plans, group commit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OtpdError } from '../src/domain/errors.js';
import { newId } from '../src/domain/ids.js';
import type { VerificationRecord } from '../src/domain/verification.js';
import { openStore } from '../src/server.js';
import type { OutboxRecord, StartDecision, Store } from '../src/store/ports.js';
import { PgStore } from '../src/store/postgres/index.js';
import { SQL } from '../src/store/postgres/sql.js';
import { SqliteStore } from '../src/store/sqlite/index.js';
import { STORE, testDatabase } from './helpers.js';

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

describe('SQLite store', () => {
  const sqlite = () => store as SqliteStore;

  it('runs WAL with synchronous=FULL', () => {
    expect(sqlite().db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(sqlite().db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('no prepared statement scans a whole table (every hot path has its index)', () => {
    const plans = sqlite().explainPlans();
    expect(plans.length).toBeGreaterThan(30);
    // Listing apps reads them all on purpose; everything else must search an index.
    const scans = plans.filter((p) => /\bSCAN (?!CONSTANT)/.test(p.plan) && p.name !== 'appList');
    expect(scans).toEqual([]);
  });

});

