/** Analytics rollups (store/rollups.ts): additive upserts into the hourly and daily rows, sums by range and filter. */
import { addCounts, dayOf, zeroCounts } from '../../domain/analytics.js';
import type { AnalyticsPort } from '../ports/index.js';
import {
  ADD_ON_CONFLICT, COUNT_COLUMNS, FILTER_PARAMS, GROUP_COLUMNS, KEY_COLUMNS, SUMS, countsOf, filterSql, filterValues, groupColumn, regroup, rowValues,
  splitRange, type GroupBy,
} from '../rollups.js';
import type { Row } from '../rows.js';
import type { SqliteContext } from './db.js';

const TABLES = { hour: 'rollup_hours', day: 'rollup_days' } as const;
const GROUPS: GroupBy[] = ['none', ...(Object.keys(GROUP_COLUMNS) as GroupBy[])];

export function sqliteAnalytics(c: SqliteContext): AnalyticsPort {
  const cols = [...KEY_COLUMNS, ...COUNT_COLUMNS];
  const where = `bucket >= @from AND bucket < @to AND ${filterSql((n) => `@${n}`)}`;
  const per = <T>(make: (table: string, kind: 'hour' | 'day') => T) => ({ hour: make(TABLES.hour, 'hour'), day: make(TABLES.day, 'day') });
  const upsert = per((t, k) => c.prepare(`rollupAdd.${k}`, `INSERT INTO ${t} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})
    ON CONFLICT (${KEY_COLUMNS.join(', ')}) DO UPDATE SET ${ADD_ON_CONFLICT(t)}`));
  const sum = per((t, k) => c.prepare(`rollupSum.${k}`, `SELECT ${SUMS} FROM ${t} WHERE ${where}`));
  const series = per((t, k) => Object.fromEntries(GROUPS.map((g) => [g, c.prepare(`rollupSeries.${k}.${g}`,
    `SELECT bucket, ${groupColumn(g)} AS grp, ${SUMS} FROM ${t} WHERE ${where} GROUP BY bucket, grp ORDER BY bucket, grp`)])));
  const purge = c.prepare('rollupPurgeHours', 'DELETE FROM rollup_hours WHERE bucket < ?');
  const params = (from: number, to: number, f: Parameters<AnalyticsPort['sum']>[1]) => {
    const v = filterValues(f);
    return { from, to, ...Object.fromEntries(FILTER_PARAMS.map((n, i) => [n, v[i]])) };
  };

  return {
    async add(rows) {
      if (rows.length === 0) return;
      const days = regroup(rows, dayOf);
      // Relaxed commit: a power cut may lose the last second of counts, as a crash loses what was not flushed yet.
      await c.txRelaxed(() => {
        for (const r of regroup(rows, (t) => t)) upsert.hour.run(...rowValues(r));
        for (const r of days) upsert.day.run(...rowValues(r));
      });
    },

    async sum(range, f) {
      const { days, hours } = splitRange(range);
      const total = zeroCounts();
      if (days) addCounts(total, countsOf(sum.day.get(params(days.from, days.to, f)) as Row | undefined));
      for (const h of hours) addCounts(total, countsOf(sum.hour.get(params(h.from, h.to, f)) as Row | undefined));
      return total;
    },

    async series(range, f, interval, groupBy) {
      return (series[interval][groupBy]!.all(params(range.from, range.to, f)) as Row[])
        .map((r) => ({ bucket: Number(r.bucket), group: r.grp as string, counts: countsOf(r) }));
    },

    async purgeHours(before) {
      return (await c.tx(() => purge.run(before))).changes;
    },
  };
}
