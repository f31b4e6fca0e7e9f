/**
 * The rollup tables of analytics (domain/analytics.ts), written alike by both adapters, every counter added by an
 * upsert (`col = col + excluded.col`), so nodes that write the same row concurrently add up:
 *
 * - `rollup_hours` and `rollup_days` (UTC days): one row per bucket × app × country × channel × provider. Small
 *   (a day has at most apps × countries × channels × providers rows), so a 30-day summary sums a few thousand rows.
 * - `rollup_prefix_days`: the same per UTC day and number prefix (calling code and first national digits). Many more
 *   rows (a busy app reaches thousands of prefixes a day), read only by queries on a prefix (filter or grouping),
 *   which are therefore by whole UTC days. Keyed by prefix first: a prefix filter reads that prefix's rows only.
 */
import { COUNTERS, DAY_MS, HIST, addCounts, subtractCounts, zeroCounts, type Counts, type RollupRow } from '../domain/analytics.js';
import type { AnalyticsFilter, AnalyticsRange } from './ports/analytics.js';
import type { Row } from './rows.js';

export type Table = 'hour' | 'day' | 'prefix';
export const TABLES: readonly Table[] = ['hour', 'day', 'prefix'];
/**
 * Where a read comes from: a table, or `onePrefix`, the per-prefix table read by a prefix range (its primary key);
 * `prefix` reads that table by day (its bucket index), for a grouping by prefix without a prefix filter.
 */
export type Source = Table | 'onePrefix';
export const SOURCES: readonly Source[] = ['hour', 'day', 'prefix', 'onePrefix'];
export const TABLE_NAME: Record<Source, string> = { hour: 'rollup_hours', day: 'rollup_days', prefix: 'rollup_prefix_days', onePrefix: 'rollup_prefix_days' };

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The counter columns in order: the counters, then the two histograms. */
export const COUNT_COLUMNS: readonly string[] = [
  ...COUNTERS.map(snake), ...Array.from({ length: HIST }, (_, i) => `tv${i}`), ...Array.from({ length: HIST }, (_, i) => `td${i}`),
];
/** Each table's key, in its primary key's order. */
export const KEY_COLUMNS: Record<Table, readonly string[]> = {
  hour: ['bucket', 'app_id', 'country', 'channel', 'provider'],
  day: ['bucket', 'app_id', 'country', 'channel', 'provider'],
  prefix: ['prefix', 'bucket', 'app_id', 'country', 'channel', 'provider'],
};

/** The dimensions a series may be grouped by, and their columns. */
export const GROUP_COLUMNS = { app: 'app_id', country: 'country', prefix: 'prefix', channel: 'channel', provider: 'provider' } as const;
export type GroupBy = keyof typeof GROUP_COLUMNS | 'none';
export const GROUPS: readonly GroupBy[] = ['none', 'app', 'country', 'prefix', 'channel', 'provider'];
/** The groupings a source answers with one statement (by prefix: the top prefixes first, see the adapters' `series`). */
export const groupsOf = (_s: Source): GroupBy[] => GROUPS.filter((g) => g !== 'prefix');
/** The sources a grouping by prefix reads. */
export const PREFIX_SOURCES = ['prefix', 'onePrefix'] as const;

/**
 * The SQL of a grouping by prefix: the top prefixes by volume (`limit`), then in ONE statement (one snapshot, so the
 * others, the total less them, can never come out negative while a flush commits) the series of those (`prefixes`)
 * and the total per bucket (group NULL) from `total` (the daily rows, or the prefix's own with a prefix filter).
 */
export const prefixGroupSql = (where: string, total: { table: string; where: string; nullText: string }, limit: string, prefixes: string) => ({
  top: `SELECT prefix AS grp, sum(started) + sum(sent) + sum(refused) AS v FROM rollup_prefix_days WHERE ${where} GROUP BY prefix ORDER BY v DESC, prefix LIMIT ${limit}`,
  series: `SELECT bucket, prefix AS grp, ${SUMS} FROM rollup_prefix_days WHERE ${prefixes} AND ${where} GROUP BY bucket, prefix
    UNION ALL SELECT bucket, ${total.nullText} AS grp, ${SUMS} FROM ${total.table} WHERE ${total.where} GROUP BY bucket`,
});

/** Queries on a prefix (a filter or the grouping) read the per-prefix daily rows; the others the small tables. */
export const needsPrefixTable = (f: AnalyticsFilter, groupBy: GroupBy = 'none'): boolean => f.prefix !== undefined || groupBy === 'prefix';

/** The source of a read (the caller has checked that a prefix query is by day). */
export const sourceOf = (f: AnalyticsFilter, groupBy: GroupBy, interval: 'hour' | 'day'): Source =>
  f.prefix !== undefined ? 'onePrefix' : groupBy === 'prefix' ? 'prefix' : interval;

const keyValue = (r: RollupRow, c: string): string | number => (c === 'app_id' ? r.appId : (r as unknown as Record<string, string | number>)[c]!);

/** A row's values in a table's column order (keys, then counters), for an insert. */
export function rowValues(r: RollupRow, t: Table): (string | number)[] {
  return [...KEY_COLUMNS[t].map((c) => keyValue(r, c)), ...COUNTERS.map((c) => r[c]), ...r.tv, ...r.td];
}

/** The row as an object keyed by column (PostgreSQL's jsonb_populate_recordset). */
export function rowObject(r: RollupRow, t: Table): Record<string, string | number> {
  const v = rowValues(r, t);
  return Object.fromEntries([...KEY_COLUMNS[t], ...COUNT_COLUMNS].map((c, i) => [c, v[i]!]));
}

/** `sum(col) AS col` for every counter column. */
export const SUMS = COUNT_COLUMNS.map((c) => `sum(${c}) AS ${c}`).join(', ');

/** The `SET` of an additive upsert. */
export const ADD_ON_CONFLICT = (table: string) => COUNT_COLUMNS.map((c) => `${c} = ${table}.${c} + excluded.${c}`).join(', ');

/** Summed counts read back from a row of `SUMS` (NULL sums, no rows, are zeros). */
export function countsOf(r: Row | undefined): Counts {
  const c = zeroCounts();
  if (!r) return c;
  COUNTERS.forEach((k, i) => (c[k] = Number(r[COUNT_COLUMNS[i]!] ?? 0)));
  for (let i = 0; i < HIST; i++) {
    c.tv[i] = Number(r[`tv${i}`] ?? 0);
    c.td[i] = Number(r[`td${i}`] ?? 0);
  }
  return c;
}

/** The hourly rows (one per fact key) summed into one table's rows, sorted by key (one lock order for every writer). */
export function rowsFor(rows: readonly RollupRow[], t: Table): RollupRow[] {
  const bucketOf = t === 'hour' ? (x: number) => x : (x: number) => x - (x % DAY_MS);
  const out = new Map<string, RollupRow>();
  for (const r of rows) {
    const k = { ...r, bucket: bucketOf(r.bucket), prefix: t === 'prefix' ? r.prefix : '' };
    const id = KEY_COLUMNS[t].map((c) => keyValue(k, c)).join('\u0000');
    const cur = out.get(id);
    if (!cur) {
      out.set(id, { ...k, tv: [...r.tv], td: [...r.td] });
      continue;
    }
    for (const c of COUNTERS) cur[c] += r[c];
    for (let i = 0; i < HIST; i++) {
      cur.tv[i]! += r.tv[i]!;
      cur.td[i]! += r.td[i]!;
    }
  }
  // Sorted by key: concurrent writers upsert rows in one order (PostgreSQL: no deadlock between two nodes' flushes).
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}

/** The parameters of a read, in order: the range, then the filter. */
export const PARAM_ORDER = ['from', 'to', 'app', 'country', 'prefix', 'channel', 'provider'] as const;
export type Param = (typeof PARAM_ORDER)[number];

/**
 * The filter's conditions, the same for both adapters: each one is `(param IS NULL OR column = param)` so one prepared
 * statement serves every combination (`param` writes a parameter by name). Read by prefix (`onePrefix`), a prefix
 * matches the rows whose prefix starts with it (digits only: every such prefix sorts between it and it followed by
 * 9s), a range of the primary key; the other sources answer only queries without a prefix filter.
 */
export function filterSql(s: Source, param: (name: Param) => string): string {
  const p = param;
  return [
    s === 'onePrefix' ? `prefix BETWEEN ${p('prefix')} AND ${p('prefix')} || '99999'` : `${p('prefix')} IS NULL`,
    `bucket >= ${p('from')} AND bucket < ${p('to')}`,
    `(${p('app')} IS NULL OR app_id = ${p('app')})`, `(${p('country')} IS NULL OR country = ${p('country')})`,
    `(${p('channel')} IS NULL OR channel = ${p('channel')})`, `(${p('provider')} IS NULL OR provider = ${p('provider')})`,
  ].join(' AND ');
}

/** The values of `filterSql`'s parameters, in PARAM_ORDER. */
export const filterValues = (range: AnalyticsRange, f: AnalyticsFilter): (string | number | null)[] =>
  [range.from, range.to, f.appId ?? null, f.country ?? null, f.prefix ?? null, f.channel ?? null, f.provider ?? null];

/**
 * Where a range's sums are read: whole UTC days from the daily rollup, the hours at either end from the hourly one
 * (a 30-day summary reads about 30 days of daily rows and at most 46 hours of hourly ones).
 */
export function splitRange(r: AnalyticsRange): { days: AnalyticsRange | null; hours: AnalyticsRange[] } {
  const firstDay = Math.ceil(r.from / DAY_MS) * DAY_MS;
  const lastDay = Math.floor(r.to / DAY_MS) * DAY_MS;
  if (firstDay >= lastDay) return { days: null, hours: [r] };
  return { days: { from: firstDay, to: lastDay }, hours: [{ from: r.from, to: firstDay }, { from: lastDay, to: r.to }].filter((h) => h.from < h.to) };
}

/** Rows of per-(channel, provider) sums from several reads, merged. */
export function mergeByChannelProvider(parts: readonly Row[][]): { channel: string; provider: string; counts: Counts }[] {
  const out = new Map<string, { channel: string; provider: string; counts: Counts }>();
  for (const rows of parts) {
    for (const r of rows) {
      const k = `${r.channel as string}\u0000${r.provider as string}`;
      const cur = out.get(k);
      if (cur) addCounts(cur.counts, countsOf(r));
      else out.set(k, { channel: r.channel as string, provider: r.provider as string, counts: countsOf(r) });
    }
  }
  return [...out.values()];
}

export type SeriesRow = { bucket: number; group: string | null; counts: Counts };

/** What ranks a group: its volume (started + sent + refused). */
export const volumeOf = (c: Counts): number => c.started + c.sent + c.refused;

/** Keeps the `limit` largest groups (by volume, then name) and sums the others per bucket under group null. */
export function limitGroups(rows: readonly SeriesRow[], limit: number): SeriesRow[] {
  const volume = new Map<string, number>();
  for (const r of rows) if (r.group !== null) volume.set(r.group, (volume.get(r.group) ?? 0) + volumeOf(r.counts));
  if (volume.size <= limit) return [...rows];
  const kept = new Set([...volume.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, limit).map(([g]) => g));
  const out: SeriesRow[] = [];
  const others = new Map<number, Counts>();
  for (const r of rows) {
    if (r.group !== null && kept.has(r.group)) out.push(r);
    else addCounts(others.get(r.bucket) ?? others.set(r.bucket, zeroCounts()).get(r.bucket)!, r.counts);
  }
  for (const [bucket, counts] of others) out.push({ bucket, group: null, counts });
  return out;
}

/** The others of a grouping: per bucket, the total less the kept groups (exact: every counter is a sum). */
export function othersOf(total: readonly SeriesRow[], kept: readonly SeriesRow[]): SeriesRow[] {
  const rest = new Map<number, Counts>();
  for (const r of total) addCounts(rest.get(r.bucket) ?? rest.set(r.bucket, zeroCounts()).get(r.bucket)!, r.counts);
  for (const r of kept) {
    const c = rest.get(r.bucket);
    if (c) subtractCounts(c, r.counts);
  }
  return [...rest.entries()].filter(([, c]) => COUNTERS.some((k) => k !== 'cost' && k !== 'saved' && c[k] !== 0)).map(([bucket, counts]) => ({ bucket, group: null, counts }));
}

/** The column a series groups by (a constant for none). */
export const groupColumn = (g: GroupBy): string => (g === 'none' ? "''" : GROUP_COLUMNS[g]);

export const rollupId = (k: Pick<RollupRow, 'bucket' | 'appId' | 'country' | 'prefix' | 'channel' | 'provider'>): string =>
  `${k.bucket}\u0000${k.appId}\u0000${k.country}\u0000${k.prefix}\u0000${k.channel}\u0000${k.provider}`;
