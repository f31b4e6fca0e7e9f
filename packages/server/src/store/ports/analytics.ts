/**
 * Analytics rollups (domain/analytics.ts, store/rollups.ts): sums added by every node, read by range and filters.
 */
import type { Counts, RollupRow } from '../../domain/analytics.js';
import type { GroupBy } from '../rollups.js';

/** Which rows count (undefined: all). */
export interface AnalyticsFilter {
  appId?: string | undefined;
  country?: string | undefined;
  /** Digits a row's number prefix starts with (at most PREFIX_DIGITS). */
  prefix?: string | undefined;
  channel?: string | undefined;
  provider?: string | undefined;
}

/**
 * Counts of one bucket and group. At most `limit` groups (by volume: started + sent + refused over the range); the
 * others summed under `group: null`.
 */
export interface SeriesRow { bucket: number; group: string | null; counts: Counts }

/** A time range [from, to) in epoch ms, on hour boundaries. */
export interface AnalyticsRange { from: number; to: number }

export interface AnalyticsPort {
  /** Adds hourly rows (one per key, prefix included) into the hourly, daily and per-prefix daily rollups, in one transaction. */
  add(rows: readonly RollupRow[]): Promise<void>;
  /**
   * The counts summed over [from, to) per channel and provider (one scan; the caller adds them up as it needs): whole
   * UTC days from the daily rollup, the hours at either end from the hourly; with a prefix filter, from the per-prefix
   * daily rollup (the range in whole days).
   */
  sum(range: AnalyticsRange, f: AnalyticsFilter): Promise<{ channel: string; provider: string; counts: Counts }[]>;
  /**
   * Counts per bucket (hour or UTC day) and group, over [from, to) (on the interval's boundaries); by prefix (filter or
   * grouping), per UTC day only.
   */
  series(range: AnalyticsRange, f: AnalyticsFilter, interval: 'hour' | 'day', groupBy: GroupBy, limit: number): Promise<SeriesRow[]>;
  /** Deletes hourly rows of buckets before `before` (the daily rows stay). */
  purgeHours(before: number): Promise<number>;
}
