/**
 * The statements of analytics.ts: additive upserts of rollup rows and sums by range and filter (store/rollups.ts).
 * Parameters of the reads: $1 from, $2 to (epoch ms), $3..$7 the filter (app, country, prefix, channel, provider;
 * NULL: any). Names: rollupSum_{table}, rollupSeries_{table}_{group}.
 */
import { ADD_ON_CONFLICT, KEY_COLUMNS, PARAM_ORDER, PREFIX_SOURCES, SOURCES, SUMS, TABLE_NAME, filterSql, groupColumn, groupsOf, prefixGroupSql, type GroupBy, type Source, type Table } from '../../rollups.js';

const where = (t: Source) => filterSql(t, (n) => `$${1 + PARAM_ORDER.indexOf(n)}${n === 'from' || n === 'to' ? '::bigint' : '::text'}`);
const upsert = (t: Table, param: string) => `INSERT INTO ${TABLE_NAME[t]} SELECT * FROM jsonb_populate_recordset(NULL::${TABLE_NAME[t]}, ${param}::jsonb)
  ON CONFLICT (${KEY_COLUMNS[t].join(', ')}) DO UPDATE SET ${ADD_ON_CONFLICT(TABLE_NAME[t])}`;

type ReadName = `rollupSum_${Source}` | `rollupSeries_${Source}_${Exclude<GroupBy, 'prefix'>}` | `rollupTopPrefixes_${(typeof PREFIX_SOURCES)[number]}` | `rollupPrefixSeries_${(typeof PREFIX_SOURCES)[number]}`;
const reads = Object.fromEntries(SOURCES.flatMap((t) => [
  [`rollupSum_${t}`, `SELECT channel, provider, ${SUMS} FROM ${TABLE_NAME[t]} WHERE ${where(t)} GROUP BY channel, provider`],
  ...groupsOf(t).map((g) => [`rollupSeries_${t}_${g}`,
    `SELECT bucket, ${groupColumn(g)} AS grp, ${SUMS} FROM ${TABLE_NAME[t]} WHERE ${where(t)} GROUP BY bucket, grp ORDER BY bucket, grp`]),
]).concat(PREFIX_SOURCES.flatMap((x) => {
  // $8: how many prefixes (top), which ones (series; prefix leads the table's primary key).
  const t: Source = x === 'onePrefix' ? 'onePrefix' : 'day';
  const q = prefixGroupSql(where(x), { table: TABLE_NAME[t], where: where(t), nullText: 'NULL::text' }, '$8::int', 'prefix = ANY($8::text[])');
  return [[`rollupTopPrefixes_${x}`, q.top], [`rollupPrefixSeries_${x}`, q.series]];
}))) as Record<ReadName, string>;

export const ANALYTICS_SQL = {
  // $1 hourly, $2 daily, $3 per-prefix daily rows (each sorted by key: concurrent flushes lock rows in one order), in one statement.
  rollupAdd: `WITH h AS (${upsert('hour', '$1')} RETURNING 1), d AS (${upsert('day', '$2')} RETURNING 1) ${upsert('prefix', '$3')}`,
  ...reads,
  rollupPurgeHours: 'WITH d AS (DELETE FROM rollup_hours WHERE bucket < $1 RETURNING 1) SELECT count(*) AS n FROM d',
};
