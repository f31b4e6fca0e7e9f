/**
 * The statements of analytics.ts: additive upserts of rollup rows and sums by range and filter. Parameters of the
 * reads: $1 from, $2 to (epoch ms), $3..$7 the filter (app, country, prefix, channel, provider; NULL: any).
 */
import { ADD_ON_CONFLICT, FILTER_PARAMS, GROUP_COLUMNS, KEY_COLUMNS, SUMS, filterSql, groupColumn, type GroupBy } from '../../rollups.js';

const where = `bucket >= $1 AND bucket < $2 AND ${filterSql((n) => `$${3 + FILTER_PARAMS.indexOf(n)}::text`)}`;
const series = (table: string, g: GroupBy) =>
  `SELECT bucket, ${groupColumn(g)} AS grp, ${SUMS} FROM ${table} WHERE ${where} GROUP BY bucket, grp ORDER BY bucket, grp`;
const upsert = (table: string, param: string) => `INSERT INTO ${table} SELECT * FROM jsonb_populate_recordset(NULL::${table}, ${param}::jsonb)
  ON CONFLICT (${KEY_COLUMNS.join(', ')}) DO UPDATE SET ${ADD_ON_CONFLICT(table)}`;

export const ANALYTICS_SQL = {
  // $1 the hourly rows, $2 the daily rows (each sorted by key: concurrent flushes lock rows in one order), in one statement.
  rollupAdd: `WITH h AS (${upsert('rollup_hours', '$1')} RETURNING 1) ${upsert('rollup_days', '$2')}`,
  rollupSumHour: `SELECT ${SUMS} FROM rollup_hours WHERE ${where}`,
  rollupSumDay: `SELECT ${SUMS} FROM rollup_days WHERE ${where}`,
  rollupSeriesHourNone: series('rollup_hours', 'none'),
  rollupSeriesHourApp: series('rollup_hours', 'app'),
  rollupSeriesHourCountry: series('rollup_hours', 'country'),
  rollupSeriesHourPrefix: series('rollup_hours', 'prefix'),
  rollupSeriesHourChannel: series('rollup_hours', 'channel'),
  rollupSeriesHourProvider: series('rollup_hours', 'provider'),
  rollupSeriesDayNone: series('rollup_days', 'none'),
  rollupSeriesDayApp: series('rollup_days', 'app'),
  rollupSeriesDayCountry: series('rollup_days', 'country'),
  rollupSeriesDayPrefix: series('rollup_days', 'prefix'),
  rollupSeriesDayChannel: series('rollup_days', 'channel'),
  rollupSeriesDayProvider: series('rollup_days', 'provider'),
  rollupPurgeHours: 'WITH d AS (DELETE FROM rollup_hours WHERE bucket < $1 RETURNING 1) SELECT count(*) AS n FROM d',
} as const;

export const SERIES_STATEMENTS = {
  hour: { none: 'rollupSeriesHourNone', app: 'rollupSeriesHourApp', country: 'rollupSeriesHourCountry', prefix: 'rollupSeriesHourPrefix', channel: 'rollupSeriesHourChannel', provider: 'rollupSeriesHourProvider' },
  day: { none: 'rollupSeriesDayNone', app: 'rollupSeriesDayApp', country: 'rollupSeriesDayCountry', prefix: 'rollupSeriesDayPrefix', channel: 'rollupSeriesDayChannel', provider: 'rollupSeriesDayProvider' },
} as const satisfies Record<'hour' | 'day', Record<keyof typeof GROUP_COLUMNS | 'none', keyof typeof ANALYTICS_SQL>>;
