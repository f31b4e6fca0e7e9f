/** Analytics rollups (store/rollups.ts): additive upserts into the three rollup tables, sums by range and filter. */
import type Database from 'better-sqlite3';
import type { AnalyticsPort } from '../ports/index.js';
import {
  ADD_ON_CONFLICT, COUNT_COLUMNS, KEY_COLUMNS, PARAM_ORDER, SUMS, TABLES, TABLE_NAME, countsOf, filterSql, filterValues, groupColumn, groupsOf,
  mergeByChannelProvider, rowValues, rowsFor, sourceOf, splitRange, SOURCES, PREFIX_SOURCES, limitGroups, othersOf, prefixGroupSql,
  type SeriesRow, type Source, type Table,
} from '../rollups.js';
import type { Row } from '../rows.js';
import type { SqliteContext } from './db.js';

export function sqliteAnalytics(c: SqliteContext): AnalyticsPort {
  const per = <T>(make: (t: Table, name: string) => T) => Object.fromEntries(TABLES.map((t) => [t, make(t, TABLE_NAME[t])])) as Record<Table, T>;
  const perSource = <T>(make: (s: Source, name: string) => T) => Object.fromEntries(SOURCES.map((x) => [x, make(x, TABLE_NAME[x])])) as Record<Source, T>;
  const upsert = per((t, table) => {
    const cols = [...KEY_COLUMNS[t], ...COUNT_COLUMNS];
    return c.prepare(`rollupAdd.${t}`, `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})
      ON CONFLICT (${KEY_COLUMNS[t].join(', ')}) DO UPDATE SET ${ADD_ON_CONFLICT(table)}`);
  });
  const where = (x: Source) => filterSql(x, (n) => `@${n}`);
  const sum = perSource((x, table) => c.prepare(`rollupSum.${x}`, `SELECT channel, provider, ${SUMS} FROM ${table} WHERE ${where(x)} GROUP BY channel, provider`));
  const series = perSource((x, table) => Object.fromEntries(groupsOf(x).map((g) => [g, c.prepare(`rollupSeries.${x}.${g}`,
    `SELECT bucket, ${groupColumn(g)} AS grp, ${SUMS} FROM ${table} WHERE ${where(x)} GROUP BY bucket, grp ORDER BY bucket, grp`)])));
  const byPrefix = Object.fromEntries(PREFIX_SOURCES.map((x) => {
    const t = x === 'onePrefix' ? 'onePrefix' : 'day';
    const q = prefixGroupSql(where(x), { table: TABLE_NAME[t], where: where(t), nullText: 'NULL' }, '@limit', 'prefix IN (SELECT value FROM json_each(@prefixes))');
    return [x, { top: c.prepare(`rollupTopPrefixes.${x}`, q.top), series: c.prepare(`rollupPrefixSeries.${x}`, q.series) }];
  })) as Record<(typeof PREFIX_SOURCES)[number], { top: Database.Statement; series: Database.Statement }>;
  const purge = c.prepare('rollupPurgeHours', 'DELETE FROM rollup_hours WHERE bucket < ?');
  const rowsOf = (rows: Row[]): SeriesRow[] => rows.map((r) => ({ bucket: Number(r.bucket), group: r.grp as string, counts: countsOf(r) }));
  const params = (...a: Parameters<typeof filterValues>) => {
    const v = filterValues(...a);
    return Object.fromEntries(PARAM_ORDER.map((n, i) => [n, v[i]]));
  };

  return {
    async add(rows) {
      if (rows.length === 0) return;
      const by = per((t) => rowsFor(rows, t));
      // Relaxed commit: a power cut may lose the last second of counts, as a crash loses what was not flushed yet.
      await c.txRelaxed(() => {
        for (const t of TABLES) for (const r of by[t]) upsert[t].run(...rowValues(r, t));
      });
    },

    async sum(range, f) {
      if (f.prefix !== undefined) return mergeByChannelProvider([sum.onePrefix.all(params(range, f)) as Row[]]);
      const { days, hours } = splitRange(range);
      return mergeByChannelProvider([...(days ? [sum.day.all(params(days, f)) as Row[]] : []), ...hours.map((h) => sum.hour.all(params(h, f)) as Row[])]);
    },

    async series(range, f, interval, groupBy, limit) {
      const source = sourceOf(f, groupBy, interval);
      const p = params(range, f);
      if (groupBy !== 'prefix') return limitGroups(rowsOf(series[source][groupBy]!.all(p) as Row[]), limit);
      // By prefix: the top prefixes from a five-column aggregate, then only their series; the others are the total less them.
      const x = source as (typeof PREFIX_SOURCES)[number];
      const top = (byPrefix[x].top.all({ ...p, limit }) as Row[]).map((r) => r.grp as string);
      const rows = byPrefix[x].series.all({ ...p, prefixes: JSON.stringify(top) }) as Row[];
      const kept = rowsOf(rows.filter((r) => r.grp !== null));
      return [...kept, ...othersOf(rowsOf(rows.filter((r) => r.grp === null)), kept)];
    },

    async purgeHours(before) {
      return (await c.tx(() => purge.run(before))).changes;
    },
  };
}
