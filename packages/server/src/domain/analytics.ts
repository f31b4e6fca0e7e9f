/**
 * Analytics as rollups (issue 17): what happened, counted per hour and per day × app × country × number prefix ×
 * channel × provider, as additive rows. Facts come from committed transitions (a verification's events, a message's
 * recorded outcome or receipt, a wrong code, a guard refusal); a process adds them up in memory and writes the sums
 * every second (services/analytics.ts). Pure: the row shape, the facts, the histograms and the figures read from them.
 *
 * Figures are by cohort: a verification's outcome counts in the hour its verification started, a message's in the
 * hour it was created (a workflow's steps are created with their verification), so a conversion rate never
 * exceeds 100 % and a past hour's figures only grow while its verifications settle. Guard refusals count when refused.
 */
import type { Channel } from './policy.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Digits of a number's prefix kept as a dimension: calling code and the start of the national number ("33612"). */
export const PREFIX_DIGITS = 5;

/** Upper bounds (seconds) of the time-to-verify histogram; the last bucket is open. */
export const VERIFY_BOUNDS = [5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600] as const;
/** Upper bounds (seconds) of the time-to-deliver histogram; the last bucket is open. */
export const DELIVER_BOUNDS = [1, 2, 3, 5, 7, 10, 15, 20, 30, 60, 120, 300] as const;
/** Buckets per histogram (the bounds and one open bucket). */
export const HIST = VERIFY_BOUNDS.length + 1;

/** The counters of a rollup row, in column order (the histograms are `tv0..` and `td0..`). */
export const COUNTERS = [
  'started', 'verified', 'failed', 'expired', 'canceled', 'wrong', 'sent', 'msgFailed', 'delivered', 'undelivered', 'fallbacks', 'cost',
  'refused', 'saved',
] as const;
export type Counter = (typeof COUNTERS)[number];

/** The dimensions of a rollup row (`''`: none, e.g. an email's country, a verification's provider). */
export interface RollupKey {
  /** Start of the hour (or of the UTC day), epoch ms. */
  bucket: number;
  appId: string;
  country: string;
  prefix: string;
  channel: string;
  provider: string;
}

export type Counts = Record<Counter, number> & { tv: number[]; td: number[] };
export type RollupRow = RollupKey & Counts;

export const zeroCounts = (): Counts => ({
  ...(Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<Counter, number>), tv: new Array<number>(HIST).fill(0), td: new Array<number>(HIST).fill(0),
});

/** Adds `b` into `a`. */
export function addCounts(a: Counts, b: Counts): Counts {
  for (const c of COUNTERS) a[c] += b[c];
  for (let i = 0; i < HIST; i++) {
    a.tv[i]! += b.tv[i]!;
    a.td[i]! += b.td[i]!;
  }
  return a;
}

/** Takes `b` from `a` (a total less a part of it). */
export function subtractCounts(a: Counts, b: Counts): Counts {
  for (const c of COUNTERS) a[c] = c === 'cost' || c === 'saved' ? Math.round((a[c] - b[c]) * 1e9) / 1e9 : a[c] - b[c];
  for (let i = 0; i < HIST; i++) {
    a.tv[i]! -= b.tv[i]!;
    a.td[i]! -= b.td[i]!;
  }
  return a;
}

/** The bucket index of `seconds` in a histogram with `bounds`. */
export function bucketOf(bounds: readonly number[], seconds: number): number {
  for (let i = 0; i < bounds.length; i++) if (seconds <= bounds[i]!) return i;
  return bounds.length;
}

/**
 * The q-quantile (0 < q < 1) of a histogram, interpolated linearly inside its bucket (as Prometheus'
 * histogram_quantile does); in the open bucket, its lower bound. Null when the histogram is empty.
 */
export function quantile(bounds: readonly number[], counts: readonly number[], q: number): number | null {
  const total = counts.reduce((s, n) => s + n, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (n > 0 && below + n >= rank) {
      if (i === bounds.length) return bounds[bounds.length - 1]!;
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      const hi = bounds[i]!;
      return Math.round((lo + ((hi - lo) * (rank - below)) / n) * 100) / 100;
    }
    below += n;
  }
  return bounds[bounds.length - 1]!;
}

export const hourOf = (t: number): number => t - (t % HOUR_MS);
export const dayOf = (t: number): number => t - (t % DAY_MS);

/** The prefix dimension of a recipient: the first digits of an E.164 number, nothing for an email address. */
export const prefixOf = (to: string): string => (to.startsWith('+') ? to.slice(1, 1 + PREFIX_DIGITS) : '');

/** What a fact is about: the dimensions a rollup row is keyed by, less the bucket (given by `at`). */
export interface FactSubject {
  appId: string;
  /** Where the fact counts (the cohort's time: a verification's start, a message's creation, a refusal's time). */
  at: number;
  countryIso: string;
  to: string;
  channel: Channel | string;
  provider?: string | null | undefined;
}

/** One committed transition, as analytics counts it. */
export type Fact =
  | { kind: 'started' | 'failed' | 'expired' | 'canceled' | 'wrong'; subject: FactSubject }
  | { kind: 'verified'; subject: FactSubject; seconds: number }
  /** A message accepted by its provider (`cost`: its estimate; `fallback`: a later workflow step). */
  | { kind: 'sent'; subject: FactSubject; cost: number; fallback: boolean }
  | { kind: 'msgFailed' | 'undelivered'; subject: FactSubject }
  | { kind: 'delivered'; subject: FactSubject; seconds: number }
  /** A start the guard refused (`cost`: what its first message would have cost). */
  | { kind: 'refused'; subject: FactSubject; cost: number };

/** Adds one fact to its row's counts. */
export function applyFact(c: Counts, f: Fact): void {
  switch (f.kind) {
    case 'verified':
      c.verified++;
      c.tv[bucketOf(VERIFY_BOUNDS, f.seconds)]!++;
      return;
    case 'delivered':
      c.delivered++;
      c.td[bucketOf(DELIVER_BOUNDS, f.seconds)]!++;
      return;
    case 'sent':
      c.sent++;
      c.cost += f.cost;
      if (f.fallback) c.fallbacks++;
      return;
    case 'refused':
      c.refused++;
      c.saved += f.cost;
      return;
    default:
      c[f.kind]++;
  }
}

/** The row key of a fact in the hourly rollup. */
export function keyOf(f: Fact): RollupKey {
  const s = f.subject;
  return { bucket: hourOf(s.at), appId: s.appId, country: s.countryIso ?? '', prefix: prefixOf(s.to), channel: s.channel, provider: s.provider ?? '' };
}

const ratio = (a: number, b: number): number | null => (b > 0 ? Math.round((a / b) * 10_000) / 10_000 : null);
const money = (n: number): number => Math.round(n * 1e6) / 1e6;

/** The figures of summed counts, as the API answers them. */
export function figures(c: Counts) {
  const settled = c.verified + c.failed + c.expired + c.canceled;
  const receipts = c.delivered + c.undelivered;
  return {
    verifications: {
      started: c.started, verified: c.verified, failed: c.failed, expired: c.expired, canceled: c.canceled,
      pending: Math.max(0, c.started - settled), wrongCodes: c.wrong,
      conversionRate: ratio(c.verified, c.started),
      timeToVerify: { p50: quantile(VERIFY_BOUNDS, c.tv, 0.5), p95: quantile(VERIFY_BOUNDS, c.tv, 0.95) },
    },
    messages: {
      sent: c.sent, failed: c.msgFailed, delivered: c.delivered, undelivered: c.undelivered, fallbacks: c.fallbacks,
      /** Delivered among those sent, once the provider sends receipts (null without any receipt). */
      deliveryRate: receipts > 0 ? ratio(c.delivered, c.sent) : null,
      /** Accepted by a provider among those that ended sent or failed. */
      acceptanceRate: ratio(c.sent, c.sent + c.msgFailed),
      timeToDeliver: { p50: quantile(DELIVER_BOUNDS, c.td, 0.5), p95: quantile(DELIVER_BOUNDS, c.td, 0.95) },
    },
    cost: { total: money(c.cost), perVerified: c.verified > 0 ? money(c.cost / c.verified) : null },
    guard: { refused: c.refused, costSaved: money(c.saved) },
  };
}
export type Figures = ReturnType<typeof figures>;
