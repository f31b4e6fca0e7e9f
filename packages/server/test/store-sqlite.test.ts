import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OtpdError } from '../src/domain/errors.js';
import type { VerificationRecord } from '../src/domain/verification.js';
import type { OutboxRecord, StartDecision } from '../src/store/ports.js';
import { SqliteStore } from '../src/store/sqlite/index.js';

let dir: string;
let store: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'otpd-store-'));
  store = new SqliteStore(join(dir, 'db.sqlite'));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const now = Date.UTC(2026, 0, 1);
function plan(id: string, to: string, msgId: string): StartDecision {
  const v: VerificationRecord = {
    id, appId: 'app_1', to, countryIso: 'FR', channel: 'sms', locale: 'en', status: 'pending', codeType: 'numeric', codeLength: 6,
    codeHash: Buffer.alloc(32, 1), codeSealed: Buffer.alloc(40, 2), attempts: 0, maxAttempts: 3, sends: 1, maxSends: 6,
    resendAvailableAt: now + 60_000, expiresAt: now + 300_000, createdAt: now, updatedAt: now, verifiedAt: null, parts: 1, cost: 0, metadata: null,
    channels: ['sms'], step: 0, stepTimeout: 30,
  };
  const message: OutboxRecord = {
    id: msgId, appId: 'app_1', verificationId: id, channel: 'sms', to, locale: 'en', body: 'code {{pin}}', status: 'queued', attempts: 0,
    availableAt: now, createdAt: now, sentAt: null, provider: null, error: null, parts: 1, cost: 0,
    step: 0, route: ['console'], routeIndex: 0, providerAttempts: 0, providerMessageId: null, errorCode: null, price: null, priceCurrency: null,
    deliveredAt: null, failedAt: null, fallbackAt: null, outcomeUnknown: false,
  };
  return { ok: true, phone: { sends: 1, failures: 0, windowStartedAt: now, lastSendAt: now, lockedUntil: null, lockReason: null }, verification: v, messages: [message], response: '{}' };
}
const start = (id: string, to: string, msgId: string) =>
  store.startVerification({ appId: 'app_1', to, now, lockout: 86_400 }, () => plan(id, to, msgId));

describe('SqliteStore', () => {
  it('runs WAL with synchronous=FULL', () => {
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('no prepared statement scans a whole table (every hot path has its index)', () => {
    const plans = store.explainPlans();
    expect(plans.length).toBeGreaterThan(30);
    // Listing apps reads them all on purpose; everything else must search an index.
    const scans = plans.filter((p) => /\bSCAN (?!CONSTANT)/.test(p.plan) && p.name !== 'appList');
    expect(scans).toEqual([]);
  });

  it('group commit: an op that fails rolls back alone, leaving no half-written state', async () => {
    // Same tick, so one group: the second reuses the first's id (primary key violation) after writing nothing else.
    const results = await Promise.allSettled([
      start('ver_A', '+33611111111', 'msg_A'),
      start('ver_A', '+33622222222', 'msg_B'),
      start('ver_C', '+33633333333', 'msg_C'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const count = (sql: string) => (store.db.prepare(sql).get() as { n: number }).n;
    expect(count('SELECT count(*) AS n FROM verifications')).toBe(2);
    expect(count("SELECT count(*) AS n FROM outbox WHERE id = 'msg_B'")).toBe(0);
    expect(count("SELECT count(*) AS n FROM phone_states WHERE to_addr = '+33622222222'")).toBe(0);
    // The verification of the second phone was never half-created.
    expect(count("SELECT count(*) AS n FROM verifications WHERE to_addr = '+33622222222'")).toBe(0);
  });

  it('a refusal is thrown after its lock is committed', async () => {
    const err = new OtpdError('phone_locked');
    const lock = { sends: 6, failures: 0, windowStartedAt: now, lastSendAt: now, lockedUntil: now + 1000, lockReason: 'sends' as const };
    await expect(store.startVerification({ appId: 'app_1', to: '+33644444444', now, lockout: 86_400 }, () => ({ ok: false, error: err, phone: lock }))).rejects.toBe(err);
    expect(store.db.prepare("SELECT locked_until FROM phone_states WHERE to_addr = '+33644444444'").get()).toEqual({ locked_until: now + 1000 });
  });

  it('the one-pending-per-recipient invariant is enforced by the schema', async () => {
    await start('ver_D', '+33655555555', 'msg_D');
    expect(() => store.db.prepare(`INSERT INTO verifications SELECT 'ver_E', app_id, to_addr, country_iso, channel, locale, status, code_type, code_length,
      code_hash, code_sealed, attempts, max_attempts, sends, max_sends, resend_available_at, expires_at, created_at, updated_at, verified_at, parts, cost, metadata,
      channels, step, step_timeout, callback_url FROM verifications WHERE id = 'ver_D'`).run()).toThrow(/UNIQUE/);
  });
});
