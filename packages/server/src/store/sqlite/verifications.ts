/**
 * Verifications: each use case is one transaction that reads what the domain's decision needs, calls it, and writes
 * what it returns (the phone's counters, the verification, its outbox messages and events).
 */
import { OtpdError } from '../../domain/errors.js';
import type { VerificationRecord } from '../../domain/records.js';
import { settleCheck } from '../../domain/verification.js';
import { newestFirst, verificationsWhere } from '../list-query.js';
import { phoneAsOf, phoneToWrite } from '../phone-time.js';
import type { CheckResult, StartResult, VerificationsPort } from '../ports/index.js';
import { toVerification, type Row } from '../rows.js';
import type { SqliteContext } from './db.js';
import type { OutboxRows } from './outbox.js';
import type { PhoneRows } from './phones.js';

export function sqliteVerifications(c: SqliteContext, phones: PhoneRows, outbox: OutboxRows): VerificationsPort {
  const s = {
    idemGet: c.prepare('idemGet', 'SELECT request_hash, response FROM idempotency_keys WHERE app_id = ? AND key = ?'),
    idemPut: c.prepare('idemPut', 'INSERT INTO idempotency_keys (app_id, key, request_hash, response, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)'),
    closePending: c.prepare('closePending', `UPDATE verifications SET status = CASE WHEN expires_at <= @now THEN 'expired' ELSE 'canceled' END,
        code_sealed = NULL, updated_at = @now
      WHERE app_id = @app_id AND to_addr = @to_addr AND status = 'pending' RETURNING *`),
    verInsert: c.prepare('verInsert', `INSERT INTO verifications (id, app_id, to_addr, country_iso, channel, locale, status, code_type, code_length,
        code_hash, code_sealed, attempts, max_attempts, sends, max_sends, resend_available_at, expires_at, created_at, updated_at,
        verified_at, parts, cost, metadata, channels, step, step_timeout, callback_url, signals, payment)
      VALUES (@id, @app_id, @to_addr, @country_iso, @channel, @locale, @status, @code_type, @code_length,
        @code_hash, @code_sealed, @attempts, @max_attempts, @sends, @max_sends, @resend_available_at, @expires_at, @created_at, @updated_at,
        @verified_at, @parts, @cost, @metadata, @channels, @step, @step_timeout, @callback_url, @signals, @payment)`),
    verGet: c.prepare('verGet', 'SELECT * FROM verifications WHERE id = ? AND app_id = ?'),
    // The phone's pending verification, else its newest (id NULL: none): see the PostgreSQL statement.
    verNewestFor: c.prepare('verNewestFor', `SELECT coalesce((SELECT id FROM verifications WHERE app_id = @app AND to_addr = @to AND status = 'pending' LIMIT 1),
      (SELECT id FROM verifications WHERE app_id = @app AND to_addr = @to ORDER BY id DESC LIMIT 1)) AS id`),
    // The try is counted here, atomically and only while the code can still be tried.
    verBump: c.prepare('verBump', `UPDATE verifications SET attempts = attempts + 1, updated_at = ?
      WHERE id = ? AND app_id = ? AND status = 'pending' AND expires_at > ? AND attempts < max_attempts
      RETURNING *`),
    verSettle: c.prepare('verSettle', `UPDATE verifications SET status = @status, verified_at = @verified_at, code_sealed = NULL, updated_at = @now
      WHERE id = @id AND status = 'pending'`),
    verExpire: c.prepare('verExpire', `UPDATE verifications SET status = 'expired', code_sealed = NULL, updated_at = ?
      WHERE id = ? AND status = 'pending' AND expires_at <= ?`),
    verCancel: c.prepare('verCancel', `UPDATE verifications SET status = CASE WHEN expires_at <= @now THEN 'expired' ELSE 'canceled' END,
        code_sealed = NULL, updated_at = @now
      WHERE id = @id AND app_id = @app_id AND status = 'pending' RETURNING *`),
    verResent: c.prepare('verResent', `UPDATE verifications SET channel = @channel, sends = @sends, resend_available_at = @resend_available_at,
        parts = @parts, cost = @cost, updated_at = @updated_at WHERE id = @id AND status = 'pending'`),
    verExpireDue: c.prepare('verExpireDue', `UPDATE verifications SET status = 'expired', code_sealed = NULL, updated_at = @now
      WHERE id IN (SELECT id FROM verifications WHERE status = 'pending' AND expires_at <= @now ORDER BY expires_at LIMIT @limit) RETURNING *`),
    verExpireAny: c.prepare('verExpireAny', `SELECT 1 FROM verifications WHERE status = 'pending' AND expires_at <= ? LIMIT 1`),
  };

  const row = (appId: string, id: string): VerificationRecord | null => {
    const r = s.verGet.get(id, appId) as Row | undefined;
    return r ? toVerification(r) : null;
  };

  return {
    async start(input, decide) {
      const { appId, to, now, idempotency } = input;
      const out = await c.tx((): StartResult | { kind: 'refused'; error: OtpdError } => {
        if (idempotency) {
          const prior = s.idemGet.get(appId, idempotency.key) as { request_hash: Buffer; response: string } | undefined;
          if (prior) {
            if (!prior.request_hash.equals(idempotency.requestHash)) {
              return { kind: 'refused', error: new OtpdError('idempotency_key_reused', 'This Idempotency-Key was used with another request body') };
            }
            return { kind: 'replayed', response: prior.response };
          }
        }
        // Seen as of this start's clock: another process may have served a later-stamped start first (see phone-time.ts).
        const stored = phones.get(appId, to);
        const d = decide(phoneAsOf(stored, now));
        if (!d.ok) {
          if (d.phone) phones.put(appId, to, phoneToWrite(d.phone, stored));
          return { kind: 'refused', error: d.error };
        }
        const v = d.verification;
        for (const r of s.closePending.all({ now, app_id: appId, to_addr: to }) as Row[]) {
          const old = toVerification(r);
          c.emitVerification(old.status === 'expired' ? 'verification.expired' : 'verification.canceled', old, now);
        }
        s.verInsert.run({
          id: v.id, app_id: v.appId, to_addr: v.to, country_iso: v.countryIso, channel: v.channel, locale: v.locale,
          status: v.status, code_type: v.codeType, code_length: v.codeLength, code_hash: v.codeHash, code_sealed: v.codeSealed,
          attempts: v.attempts, max_attempts: v.maxAttempts, sends: v.sends, max_sends: v.maxSends,
          resend_available_at: v.resendAvailableAt, expires_at: v.expiresAt, created_at: v.createdAt, updated_at: v.updatedAt,
          verified_at: v.verifiedAt, parts: v.parts, cost: v.cost, metadata: v.metadata === null ? null : JSON.stringify(v.metadata),
          channels: JSON.stringify(v.channels), step: v.step, step_timeout: v.stepTimeout, callback_url: v.callbackUrl ?? null,
          signals: v.signals ? JSON.stringify(v.signals) : null,
          payment: v.payment ? JSON.stringify(v.payment) : null,
        });
        for (const m of d.messages) outbox.insertMessage(m);
        for (const a of d.attempts ?? []) outbox.insertAttempt(a);
        phones.put(appId, to, phoneToWrite(d.phone, stored));
        c.emitVerification('verification.created', v, now);
        if (idempotency) {
          s.idemPut.run(appId, idempotency.key, idempotency.requestHash, d.response, now, idempotency.expiresAt);
        }
        return { kind: 'created', verification: v, response: d.response };
      });
      if (out.kind === 'refused') throw out.error;
      return out;
    },

    async check(input, judge) {
      const { appId, target, now, lockout } = input;
      return c.tx((): CheckResult | null => {
        let id: string;
        if ('id' in target) id = target.id;
        else {
          const newest = s.verNewestFor.get({ app: appId, to: target.to }) as { id: string | null };
          if (!newest.id) return null;
          id = newest.id;
        }
        const bumped = s.verBump.get(now, id, appId, now) as Row | undefined;
        if (bumped) {
          const tried = toVerification(bumped);
          const settled = settleCheck(tried, phones.get(appId, tried.to), judge(tried), { lockout }, now);
          const v = settled.verification;
          if (v.status !== 'pending') s.verSettle.run({ id, status: v.status, verified_at: v.verifiedAt, now });
          // Proof of possession: the phone's counters go back to those of a phone never seen (no row).
          if (settled.clearPhone) phones.delete(appId, tried.to);
          // The event before the counters are written: the statements run in the order they always have.
          if (settled.event) c.emitVerification(settled.event, v, now);
          if (!settled.clearPhone) phones.put(appId, tried.to, settled.phone);
          return { outcome: settled.outcome, verification: v };
        }
        let v = row(appId, id);
        if (!v) return null;
        if (v.status === 'pending' && v.expiresAt <= now) {
          s.verExpire.run(now, id, now);
          v = { ...v, status: 'expired', codeSealed: null, updatedAt: now };
          c.emitVerification('verification.expired', v, now);
        }
        return { outcome: 'closed', verification: v };
      });
    },

    async resend(input, decide) {
      const { appId, id } = input;
      const out = await c.tx((): VerificationRecord | null | { error: OtpdError } => {
        const v = row(appId, id);
        if (!v) return null;
        const stored = phones.get(appId, v.to);
        const d = decide(v, phoneAsOf(stored, input.now));
        if (!d.ok) {
          if (d.phone) phones.put(appId, v.to, phoneToWrite(d.phone, stored));
          return { error: d.error };
        }
        const n = d.verification;
        s.verResent.run({
          id, channel: n.channel, sends: n.sends, resend_available_at: n.resendAvailableAt, parts: n.parts, cost: n.cost, updated_at: n.updatedAt,
        });
        outbox.insertMessage(d.message);
        phones.put(appId, v.to, phoneToWrite(d.phone, stored));
        return n;
      });
      if (out && 'error' in out) throw out.error;
      return out;
    },

    async cancel(appId, id, now) {
      return c.tx(() => {
        const changed = s.verCancel.get({ id, app_id: appId, now }) as Row | undefined;
        if (changed) {
          const v = toVerification(changed);
          c.emitVerification(v.status === 'expired' ? 'verification.expired' : 'verification.canceled', v, now);
          return v;
        }
        return row(appId, id);
      });
    },

    async get(appId, id) {
      return row(appId, id);
    },

    async idempotent(appId, key) {
      const r = s.idemGet.get(appId, key) as { request_hash: Buffer; response: string } | undefined;
      return r ? { requestHash: r.request_hash, response: r.response } : null;
    },

    async list(appId, q, now) {
      const { sql, values } = newestFirst('verifications', verificationsWhere(appId, q, now), q.limit);
      return (c.db.prepare(sql).all(...values) as Row[]).map(toVerification);
    },

    async expireDue(now, limit) {
      if (!s.verExpireAny.get(now)) return 0; // a plain read first: usually nothing is due
      return c.tx(() => {
        const rows = s.verExpireDue.all({ now, limit }) as Row[];
        for (const r of rows) c.emitVerification('verification.expired', toVerification(r), now);
        return rows.length;
      });
    },
  };
}
