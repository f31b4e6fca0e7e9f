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

/** A time range [from, to) in epoch ms, on hour boundaries. */
export interface AnalyticsRange { from: number; to: number }

export interface AnalyticsPort {
  /** Adds hourly rows (one per key) into the hourly and the daily rollups, in one transaction. */
  add(rows: readonly RollupRow[]): Promise<void>;
  /** The counts summed over [from, to): whole UTC days from the daily rollup, the hours at either end from the hourly. */
  sum(range: AnalyticsRange, f: AnalyticsFilter): Promise<Counts>;
  /** Counts per bucket (hour or UTC day) and group, over [from, to) (on the interval's boundaries). */
  series(range: AnalyticsRange, f: AnalyticsFilter, interval: 'hour' | 'day', groupBy: GroupBy): Promise<{ bucket: number; group: string; counts: Counts }[]>;
  /** Deletes hourly rows of buckets before `before` (the daily rows stay). */
  purgeHours(before: number): Promise<number>;
}
