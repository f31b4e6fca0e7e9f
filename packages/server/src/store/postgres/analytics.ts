/** Analytics rollups (store/rollups.ts): additive upserts into the hourly and daily rows, sums by range and filter. */
import { addCounts, dayOf, zeroCounts } from '../../domain/analytics.js';
import type { AnalyticsPort } from '../ports/index.js';
import { countsOf, filterValues, regroup, rowObject, splitRange } from '../rollups.js';
import type { Db } from './connection.js';
import { SERIES_STATEMENTS } from './sql/analytics.js';

export class PgAnalytics implements AnalyticsPort {
  constructor(private readonly db: Db) {}

  /** One statement for both tables; committed without waiting for the WAL flush (a lost second of counts is harmless). */
  async add(rows: Parameters<AnalyticsPort['add']>[0]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.readRelaxed('rollupAdd', [JSON.stringify(regroup(rows, (t) => t).map(rowObject)), JSON.stringify(regroup(rows, dayOf).map(rowObject))]);
  }

  async sum(range: Parameters<AnalyticsPort['sum']>[0], f: Parameters<AnalyticsPort['sum']>[1]) {
    const { days, hours } = splitRange(range);
    const parts = await Promise.all([
      ...(days ? [this.db.read('rollupSumDay', [days.from, days.to, ...filterValues(f)])] : []),
      ...hours.map((h) => this.db.read('rollupSumHour', [h.from, h.to, ...filterValues(f)])),
    ]);
    return parts.reduce((total, rows) => addCounts(total, countsOf(rows[0])), zeroCounts());
  }

  async series(...[range, f, interval, groupBy]: Parameters<AnalyticsPort['series']>) {
    return (await this.db.read(SERIES_STATEMENTS[interval][groupBy], [range.from, range.to, ...filterValues(f)]))
      .map((r) => ({ bucket: Number(r.bucket), group: r.grp as string, counts: countsOf(r) }));
  }

  async purgeHours(before: number): Promise<number> {
    return Number((await this.db.read('rollupPurgeHours', [before]))[0]?.n ?? 0);
  }
}
