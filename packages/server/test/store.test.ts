/**
 * The store port's contract, on the store of this test run (SQLite, or PostgreSQL in the `postgres` project):
 * refusals that record a lock, the one-pending invariant in the schema, retention, and each adapter's own
 * guarantees (SQLite group commit; PostgreSQL query plans and cross-node notifications).
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

describe(`store contract (${STORE})`, () => {
  it('a refusal is thrown after its lock is committed', async () => {
    const err = new OtpdError('phone_locked');
    const lock = { sends: 6, failures: 0, windowStartedAt: now, lastSendAt: now, lockedUntil: now + 1000, lockReason: 'sends' as const };
    await expect(store.startVerification({ appId: 'app_1', to: '+33644444444', now, lockout: 86_400 }, () => ({ ok: false, error: err, phone: lock }))).rejects.toBe(err);
    expect(await rows("SELECT locked_until FROM phone_states WHERE to_addr = '+33644444444'")).toEqual([{ locked_until: now + 1000 }]);
  });

  it('a refusal with nothing to record leaves nothing behind', async () => {
    await expect(store.startVerification({ appId: 'app_1', to: '+33645454545', now, lockout: 86_400 }, () => ({ ok: false, error: new OtpdError('rate_limited') }))).rejects.toThrow();
    expect(await count("SELECT count(*) AS n FROM phone_states WHERE to_addr = '+33645454545'")).toBe(0);
  });

  it('a new start closes the pending one of the same phone; the one-pending invariant is also enforced by the schema', async () => {
    await start('ver_D', '+33655555555', 'msg_D');
    await start('ver_E', '+33655555555', 'msg_E');
    expect(await rows("SELECT id, status FROM verifications WHERE to_addr = '+33655555555' ORDER BY id")).toEqual([{ id: 'ver_D', status: 'canceled' }, { id: 'ver_E', status: 'pending' }]);
    await expect(rows(`INSERT INTO verifications SELECT 'ver_F', app_id, to_addr, country_iso, channel, locale, status, code_type, code_length,
      code_hash, code_sealed, attempts, max_attempts, sends, max_sends, resend_available_at, expires_at, created_at, updated_at, verified_at, parts, cost, metadata,
      channels, step, step_timeout, callback_url FROM verifications WHERE id = 'ver_E'`)).rejects.toThrow(/UNIQUE|duplicate key/i);
  });

  it('retention deletes what is older than the cutoff in batches, by primary key, and keeps the rest', async () => {
    const day = 86_400_000;
    for (let i = 0; i < 5; i++) {
      const at = now - 40 * day + i;
      await start(newId('ver', at), `+3366000000${i}`, newId('msg', at), at);
    }
    await start(newId('ver', now), '+33660000009', newId('msg', now));
    const cutoff = now - 30 * day;
    expect(await store.purgeBefore(cutoff, 2)).toMatchObject({ verifications: 2, outbox: 2 });
    expect(await store.purgeBefore(cutoff, 2)).toMatchObject({ verifications: 2, outbox: 2 });
    expect(await store.purgeBefore(cutoff, 2)).toMatchObject({ verifications: 1, outbox: 1 });
    expect(await store.purgeBefore(cutoff, 2)).toMatchObject({ verifications: 0, outbox: 0 });
    expect(await rows('SELECT to_addr FROM verifications')).toEqual([{ to_addr: '+33660000009' }]);
    expect(await count('SELECT count(*) AS n FROM outbox')).toBe(1);
  });
  it('starts arriving together (SQLite group commit, PostgreSQL batched groups): one that fails fails alone, leaving no half-written state', async () => {
    // Same tick, so one group: the second reuses the first's id (primary key violation) after writing nothing else.
    const results = await Promise.allSettled([
      start('ver_A', '+33611111111', 'msg_A'),
      start('ver_A', '+33622222222', 'msg_B'),
      start('ver_C', '+33633333333', 'msg_C'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await count('SELECT count(*) AS n FROM verifications')).toBe(2);
    expect(await count("SELECT count(*) AS n FROM outbox WHERE id = 'msg_B'")).toBe(0);
    expect(await count("SELECT count(*) AS n FROM phone_states WHERE to_addr = '+33622222222'")).toBe(0);
  });
});
