/**
 * Phones: the per-(app, phone) counters as the admin sees and clears them. Every transaction that reads or writes a
 * phone's counters locks its row FIRST (`phoneLock`), then its verifications: one lock order everywhere.
 */
import type { AuditEntry, PhoneState } from '../../domain/records.js';
import type { PhonesPort } from '../ports/index.js';
import { toPhoneState } from '../rows.js';
import { writeAudit } from './audit.js';
import { NoRow, q, type Db, type TxCtx } from './connection.js';

export function putPhone(t: TxCtx, appId: string, to: string, p: PhoneState): Promise<unknown> {
  return q(t.c, 'phonePut', [appId, to, p.sends, p.failures, p.windowStartedAt, p.lastSendAt, p.lockedUntil, p.lockReason]);
}

export class PgPhones implements PhonesPort {
  constructor(private readonly db: Db) {}

  async list(appId: string, f: { to?: string | undefined; now: number; limit: number }): Promise<(PhoneState & { to: string })[]> {
    const rows = f.to !== undefined ? await this.db.read('phoneGet', [appId, f.to]) : await this.db.read('phoneLocked', [appId, f.now, f.limit]);
    return rows.map((r) => ({ ...toPhoneState(r)!, to: r.to_addr as string }));
  }

  async clear(appId: string, to: string, now: number, audit: (before: PhoneState) => AuditEntry[]): Promise<PhoneState | null> {
    return this.db.tx(async (t) => {
      const r = (await q(t.c, 'phoneLock', [appId, to])).rows[0]!;
      if (r.fresh) throw new NoRow(); // nothing to clear: roll back the empty row
      const before = toPhoneState(r)!;
      await putPhone(t, appId, to, { sends: 0, failures: 0, windowStartedAt: now, lastSendAt: null, lockedUntil: null, lockReason: null });
      await writeAudit(t, audit(before));
      return before;
    }).catch((e: unknown) => {
      if (e instanceof NoRow) return null;
      throw e;
    });
  }
}
