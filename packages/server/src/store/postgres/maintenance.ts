/**
 * Housekeeping: expired idempotency records, and retention in batches (one node at a time).
 */
import { encodeTime } from 'ulidx';
import type { MaintenancePort, PurgeCounts } from '../ports/index.js';
import { RETAINED } from '../retention.js';
import { unavailable, type Db } from './connection.js';
import { MAINTENANCE_SQL } from './sql/maintenance.js';

const RETENTION_LOCK = 7_345_118_002;

export class PgMaintenance implements MaintenancePort {
  constructor(private readonly db: Db) {}

  async purgeIdempotency(now: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = (await this.db.pool.query({ name: 'idemPurge', text: MAINTENANCE_SQL.idemPurge, values: [now, 1000] }).catch((e: unknown) => { throw unavailable(e); })).rowCount ?? 0;
      total += n;
      if (n < 1000) return total;
    }
  }

  /**
   * One batch of retention: rows created before `before` (by their time-ordered ids, so each batch is a short
   * primary-key range scan whatever the table's size), at most `limit` per table. One node at a time: the others
   * skip the round while the advisory lock is held.
   */
  async purgeBefore(before: number, limit: number): Promise<PurgeCounts> {
    return this.db.tx(async (t) => {
      const got = (await t.c.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [RETENTION_LOCK])).rows[0]!.ok;
      const counts: PurgeCounts = {};
      if (!got) return counts;
      const time = encodeTime(before, 10);
      for (const [table, prefix] of RETAINED) {
        const res = await t.c.query(`DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE id < $1 ORDER BY id LIMIT $2)`, [`${prefix}_${time}`, limit]);
        counts[table] = res.rowCount ?? 0;
      }
      return counts;
    });
  }
}
