/** Analytics rollups (store/rollups.ts): additive upserts into the three rollup tables, sums by range and filter. */
import type { AnalyticsPort } from '../ports/index.js';
import { countsOf, filterValues, limitGroups, mergeByChannelProvider, othersOf, rowObject, rowsFor, sourceOf, splitRange, type SeriesRow, type Table } from '../rollups.js';
import type { Row } from '../rows.js';
import type { Db } from './connection.js';

export class PgAnalytics implements AnalyticsPort {
  constructor(private readonly db: Db) {}

  /** One statement for the three tables; committed without waiting for the WAL flush (a lost second of counts is harmless). */
  async add(rows: Parameters<AnalyticsPort['add']>[0]): Promise<void> {
    if (rows.length === 0) return;
    const json = (t: Table) => JSON.stringify(rowsFor(rows, t).map((r) => rowObject(r, t)));
    await this.db.readRelaxed('rollupAdd', [json('hour'), json('day'), json('prefix')]);
  }

  async sum(range: Parameters<AnalyticsPort['sum']>[0], f: Parameters<AnalyticsPort['sum']>[1]) {
    if (f.prefix !== undefined) return mergeByChannelProvider([await this.db.read('rollupSum_onePrefix', filterValues(range, f))]);
    const { days, hours } = splitRange(range);
    return mergeByChannelProvider(await Promise.all([
      ...(days ? [this.db.read('rollupSum_day', filterValues(days, f))] : []),
      ...hours.map((h) => this.db.read('rollupSum_hour', filterValues(h, f))),
    ]));
  }

  async series(...[range, f, interval, groupBy, limit]: Parameters<AnalyticsPort['series']>) {
    const source = sourceOf(f, groupBy, interval);
    const values = filterValues(range, f);
    const rowsOf = (rows: Row[]): SeriesRow[] => rows.map((r) => ({ bucket: Number(r.bucket), group: r.grp as string, counts: countsOf(r) }));
    if (groupBy !== 'prefix') return limitGroups(rowsOf(await this.db.read(`rollupSeries_${source}_${groupBy}`, values)), limit);
    // By prefix: the top prefixes from a five-column aggregate, then only their series; the others are the total less them.
    const x = source as 'prefix' | 'onePrefix';
    const top = (await this.db.read(`rollupTopPrefixes_${x}`, [...values, limit])).map((r) => r.grp as string);
    const rows = await this.db.read(`rollupPrefixSeries_${x}`, [...values, top]);
    const kept = rowsOf(rows.filter((r) => r.grp !== null));
    return [...kept, ...othersOf(rowsOf(rows.filter((r) => r.grp === null)), kept)];
  }

  async purgeHours(before: number): Promise<number> {
    return Number((await this.db.read('rollupPurgeHours', [before]))[0]?.n ?? 0);
  }
}
