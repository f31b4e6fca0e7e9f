/** Housekeeping: expired idempotency records and retention. */
import { encodeTime } from 'ulidx';
import { RETAINED } from '../retention.js';
import type { MaintenancePort, PurgeCounts } from '../ports/index.js';
import type { SqliteContext } from './db.js';

export function sqliteMaintenance(c: SqliteContext): MaintenancePort {
  const idemPurge = c.prepare('idemPurge', 'DELETE FROM idempotency_keys WHERE expires_at <= ?');
  const purge = RETAINED.map(([table, prefix]) => ({
    table, prefix, stmt: c.prepare(`purge.${table}`, `DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE id < ? ORDER BY id LIMIT ?)`),
  }));

  return {
    async purgeIdempotency(now) {
      return idemPurge.run(now).changes;
    },

    /** One retention batch (see the port): each table's oldest rows by primary key, in one short transaction. */
    async purgeBefore(before, limit) {
      const time = encodeTime(before, 10);
      return c.tx(() => {
        const counts: PurgeCounts = {};
        for (const { table, prefix, stmt } of purge) counts[table] = stmt.run(`${prefix}_${time}`, limit).changes;
        return counts;
      });
    },
  };
}
