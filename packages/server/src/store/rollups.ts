/**
 * The rollup tables of analytics (domain/analytics.ts), written alike by both adapters: `rollup_hours` and
 * `rollup_days` (UTC days), one row per bucket × app × country × prefix × channel × provider, every counter added by
 * an upsert (`col = col + excluded.col`), so nodes that write the same row concurrently add up.
 */
import { COUNTERS, DAY_MS, HIST, zeroCounts, type Counts, type RollupKey, type RollupRow } from '../domain/analytics.js';
import type { AnalyticsFilter, AnalyticsRange } from './ports/analytics.js';
import type { Row } from './rows.js';

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The counter columns in order: the counters, then the two histograms. */
export const COUNT_COLUMNS: readonly string[] = [
  ...COUNTERS.map(snake), ...Array.from({ length: HIST }, (_, i) => `tv${i}`), ...Array.from({ length: HIST }, (_, i) => `td${i}`),
];
export const KEY_COLUMNS = ['bucket', 'app_id', 'country', 'prefix', 'channel', 'provider'] as const;

/** The dimensions a series may be grouped by, and their columns. */
export const GROUP_COLUMNS = { app: 'app_id', country: 'country', prefix: 'prefix', channel: 'channel', provider: 'provider' } as const;
export type GroupBy = keyof typeof GROUP_COLUMNS | 'none';

/** A row's values in column order (keys, then counters), for an insert. */
export function rowValues(r: RollupRow): (string | number)[] {
  return [r.bucket, r.appId, r.country, r.prefix, r.channel, r.provider, ...COUNTERS.map((c) => r[c]), ...r.tv, ...r.td];
}

/** The row as an object keyed by column (PostgreSQL's jsonb_populate_recordset). */
export function rowObject(r: RollupRow): Record<string, string | number> {
  const v = rowValues(r);
  return Object.fromEntries([...KEY_COLUMNS, ...COUNT_COLUMNS].map((c, i) => [c, v[i]!]));
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

/** Rows summed into the rows of a coarser bucket (hours into UTC days): one row per key. */
export function regroup(rows: readonly RollupRow[], bucketOf: (t: number) => number): RollupRow[] {
  const out = new Map<string, RollupRow>();
  for (const r of rows) {
    const k: RollupKey = { bucket: bucketOf(r.bucket), appId: r.appId, country: r.country, prefix: r.prefix, channel: r.channel, provider: r.provider };
    const id = rollupId(k);
    const cur = out.get(id);
    if (!cur) {
      out.set(id, { ...r, ...k, tv: [...r.tv], td: [...r.td] });
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

export const rollupId = (k: RollupKey): string => `${k.bucket}\u0000${k.appId}\u0000${k.country}\u0000${k.prefix}\u0000${k.channel}\u0000${k.provider}`;

/** The filter's parameter names, in order. */
export const FILTER_PARAMS = ['app', 'country', 'prefix', 'channel', 'provider'] as const;

/**
 * The filter's conditions, the same for both adapters: each one is `(param IS NULL OR column = param)` so one prepared
 * statement serves every combination (`param` writes a parameter by name). A prefix matches rows whose (at most
 * PREFIX_DIGITS) prefix starts with it.
 */
export function filterSql(param: (name: (typeof FILTER_PARAMS)[number]) => string): string {
  return [
    `(${param('app')} IS NULL OR app_id = ${param('app')})`, `(${param('country')} IS NULL OR country = ${param('country')})`,
    `(${param('prefix')} IS NULL OR substr(prefix, 1, length(${param('prefix')})) = ${param('prefix')})`,
    `(${param('channel')} IS NULL OR channel = ${param('channel')})`, `(${param('provider')} IS NULL OR provider = ${param('provider')})`,
  ].join(' AND ');
}

export const filterValues = (f: AnalyticsFilter): (string | null)[] => [f.appId ?? null, f.country ?? null, f.prefix ?? null, f.channel ?? null, f.provider ?? null];

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

/** The column a series groups by (a constant for none). */
export const groupColumn = (g: GroupBy): string => (g === 'none' ? "''" : GROUP_COLUMNS[g]);
