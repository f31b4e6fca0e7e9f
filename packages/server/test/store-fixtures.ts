/**
 * Shared fixtures of the store tests: a fresh store per test on this run's database (SQLite file or PostgreSQL
 * schema), raw queries on either store, and a start plan the store can write without the services.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { VerificationRecord } from '../src/domain/verification.js';
import { openStore } from '../src/server.js';
import type { OutboxRecord } from '../src/domain/records.js';
import type { StartDecision, Store } from '../src/store/ports/index.js';
import type { PgStore } from '../src/store/postgres/index.js';
import { SqliteStore } from '../src/store/sqlite/index.js';
import { testDatabase } from './helpers.js';

/** The current test's store and database (replaced before each test). */
export const ctx = {} as { store: Store; db: Awaited<ReturnType<typeof testDatabase>> };

/** Registers the per-test store: opened (and migrated) before each test, closed and dropped after. */
export function useStore(): void {
  let dir: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'otpd-store-'));
    ctx.db = await testDatabase(dir);
    ctx.store = await openStore(ctx.db.url);
  });
  afterEach(async () => {
    await ctx.store.close();
    await ctx.db.drop();
    rmSync(dir, { recursive: true, force: true });
  });
}

/** Rows of a query without parameters, on either store. */
export async function rows(text: string): Promise<Record<string, unknown>[]> {
  const store = ctx.store;
  if (store instanceof SqliteStore) {
    const st = store.db.prepare(text);
    if (!st.reader) { st.run(); return []; }
    return st.all() as Record<string, unknown>[];
  }
  return (await (store as PgStore).pool.query(text)).rows as Record<string, unknown>[];
}
export const count = async (text: string) => Number(Object.values((await rows(text))[0]!)[0]);

export const now = Date.UTC(2026, 0, 1);

/** A successful start decision: the verification `id` for `to` with one queued message `msgId`. */
export function plan(id: string, to: string, msgId: string, at = now): StartDecision {
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

/** Starts verification `id` for `to` through the store. */
export const start = (id: string, to: string, msgId: string, at = now) =>
  ctx.store.verifications.start({ appId: 'app_1', to, now: at, lockout: 86_400 }, () => plan(id, to, msgId, at));
