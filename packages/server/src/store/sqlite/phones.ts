/** Phones: the per-(app, phone) counters. The verification use cases read and write them through `phoneRows`. */
import type { PhoneState } from '../../domain/records.js';
import type { PhonesPort } from '../ports/index.js';
import { toPhoneState, type Row } from '../rows.js';
import type { SqliteContext } from './db.js';

/** A phone's row, read and written inside the caller's transaction. */
export function phoneRows(c: SqliteContext) {
  const phoneGet = c.prepare('phoneGet', 'SELECT * FROM phone_states WHERE app_id = ? AND to_addr = ?');
  const phoneDel = c.prepare('phoneDel', 'DELETE FROM phone_states WHERE app_id = ? AND to_addr = ?');
  const phonePut = c.prepare('phonePut', `INSERT INTO phone_states (app_id, to_addr, sends, failures, window_started_at, last_send_at, locked_until, lock_reason)
    VALUES (@app_id, @to_addr, @sends, @failures, @window_started_at, @last_send_at, @locked_until, @lock_reason)
    ON CONFLICT (app_id, to_addr) DO UPDATE SET sends = excluded.sends, failures = excluded.failures,
      window_started_at = excluded.window_started_at, last_send_at = excluded.last_send_at,
      locked_until = excluded.locked_until, lock_reason = excluded.lock_reason`);
  return {
    /** The stored counters (undefined: no row). */
    get: (appId: string, to: string): PhoneState | undefined => toPhoneState(phoneGet.get(appId, to) as Row | undefined),
    /** The phone's row as a list (none or one): the admin listing of one phone. */
    rows: (appId: string, to: string): Row[] => phoneGet.all(appId, to) as Row[],
    put(appId: string, to: string, p: PhoneState): void {
      phonePut.run({
        app_id: appId, to_addr: to, sends: p.sends, failures: p.failures, window_started_at: p.windowStartedAt,
        last_send_at: p.lastSendAt, locked_until: p.lockedUntil, lock_reason: p.lockReason,
      });
    },
    delete(appId: string, to: string): void {
      phoneDel.run(appId, to);
    },
  };
}
export type PhoneRows = ReturnType<typeof phoneRows>;

export function sqlitePhones(c: SqliteContext, phones: PhoneRows): PhonesPort {
  const phoneLocked = c.prepare('phoneLocked', 'SELECT * FROM phone_states WHERE app_id = ? AND locked_until > ? ORDER BY locked_until DESC LIMIT ?');

  return {
    async list(appId, q) {
      const rows = q.to !== undefined ? phones.rows(appId, q.to) : (phoneLocked.all(appId, q.now, q.limit) as Row[]);
      return rows.map((r) => ({ ...toPhoneState(r)!, to: r.to_addr as string }));
    },

    async clear(appId, to, now, audit) {
      return c.tx(() => {
        const before = phones.get(appId, to);
        if (!before) return null;
        phones.put(appId, to, { sends: 0, failures: 0, windowStartedAt: now, lastSendAt: null, lockedUntil: null, lockReason: null });
        c.writeAudit(audit(before));
        return before;
      });
    },
  };
}
