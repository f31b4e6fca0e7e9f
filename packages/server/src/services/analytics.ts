/**
 * Analytics (issue 17): the facts this process commits, added up in memory per rollup row and written every second
 * as additive upserts (`store.analytics.add`: no row is touched by a request, so keeping the rollups costs a map
 * increment per transition); and the summary and series read from the rollups (domain/analytics.ts, store/rollups.ts).
 *
 * What a process has not flushed is lost if it dies (at most a second of counts; a graceful stop flushes). Reads on
 * this process flush first, so its own facts are always in what it answers; other nodes' arrive within a second.
 */
import type { Logger } from 'pino';
import { TIMINGS } from '../config.js';
import {
  DAY_MS, HOUR_MS, addCounts, applyFact, figures, keyOf, zeroCounts, type Counts, type Fact, type FactSubject, type RollupRow,
} from '../domain/analytics.js';
import type { Clock } from '../domain/clock.js';
import { OtpdError } from '../domain/errors.js';
import type { ClaimedMessage, MessageOutcome, ReceiptResult } from '../domain/delivery.js';
import type { EventType } from '../domain/events.js';
import type { VerificationRecord } from '../domain/records.js';
import type { AnalyticsFilter, AnalyticsRange, Store } from '../store/ports/index.js';
import { needsPrefixTable, rollupId, volumeOf, type GroupBy } from '../store/rollups.js';

/** The longest range a query may cover, and the most hourly points a series may have. */
const MAX_RANGE_DAYS = 400;
const MAX_HOURLY_POINTS = 24 * 31;
const DEFAULT_DAYS = 30;

export interface AnalyticsQuery extends AnalyticsFilter {
  from?: string | undefined;
  to?: string | undefined;
  /** Instead of `from`: this many days before `to` (by the server's clock when `to` is not given). */
  days?: number | undefined;
}
export interface SeriesQuery extends AnalyticsQuery {
  interval?: 'hour' | 'day' | undefined;
  groupBy?: GroupBy | undefined;
  /** Groups kept (by volume); the others are summed as `other`. */
  limit?: number | undefined;
}

const invalid = (pointer: string, detail: string) =>
  new OtpdError('invalid_request', `${pointer.slice(1)} ${detail}`, { extensions: { errors: [{ pointer, detail }] } });

function parseTime(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw invalid(`/${name}`, 'is not a date-time');
  return t;
}

const EVENT_FACT: Partial<Record<EventType, 'started' | 'verified' | 'failed' | 'expired' | 'canceled'>> = {
  'verification.created': 'started', 'verification.verified': 'verified', 'verification.failed': 'failed',
  'verification.expired': 'expired', 'verification.canceled': 'canceled',
};

/** A verification's row: the hour it started, its country and first channel (its figures stay in one row). */
const verificationSubject = (v: VerificationRecord): FactSubject => ({
  appId: v.appId, at: v.createdAt, countryIso: v.countryIso, to: v.to, channel: v.channels[0] ?? v.channel,
});

export class Analytics {
  private pending = new Map<string, RollupRow>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  /** Hourly rows are kept this many days (OTPD_ANALYTICS_HOURLY_DAYS): older ranges are read by whole days. */
  private readonly hourlyDays: number;

  constructor(private readonly store: Store, private readonly clock: Clock, private readonly log?: Logger, opts: { hourlyDays?: number } = {}) {
    this.hourlyDays = opts.hourlyDays ?? 90;
  }

  /** Adds one fact to the counts waiting to be written. */
  record(f: Fact): void {
    const k = keyOf(f);
    const id = rollupId(k);
    let row = this.pending.get(id);
    if (!row) this.pending.set(id, (row = { ...k, ...zeroCounts() }));
    applyFact(row, f);
  }

  /** A verification transition the store committed (`hooks.onVerificationEvent`). */
  verificationEvent(type: EventType, v: VerificationRecord): void {
    const kind = EVENT_FACT[type];
    if (!kind) return;
    const subject = verificationSubject(v);
    if (kind === 'verified') this.record({ kind, subject, seconds: Math.max(0, ((v.verifiedAt ?? v.updatedAt) - v.createdAt) / 1000) });
    else this.record({ kind, subject });
  }

  /** A wrong code, counted (the verification goes on; its last try is a `failed` transition too). */
  wrongCode(v: VerificationRecord): void {
    this.record({ kind: 'wrong', subject: verificationSubject(v) });
  }

  /** A message outcome the store recorded (the outbox worker's `onRecorded`): sent or failed for good. */
  messageRecorded(m: ClaimedMessage, o: MessageOutcome): void {
    if (o.status !== 'sent' && o.status !== 'failed') return;
    const subject: FactSubject = { appId: m.appId, at: m.createdAt, countryIso: m.countryIso, to: m.to, channel: m.channel, provider: o.provider ?? m.attempt?.provider ?? '' };
    if (o.status === 'sent') this.record({ kind: 'sent', subject, cost: m.cost, fallback: m.step > 0 && m.workflowStep });
    else this.record({ kind: 'msgFailed', subject });
  }

  /** A delivery receipt applied: delivered (with the time since the message was created), or not. */
  receipt(r: Extract<ReceiptResult, { result: 'applied' }>, provider: string, status: 'delivered' | 'undelivered' | 'failed' | 'sent', at: number): void {
    if (status === 'sent') return;
    const subject: FactSubject = { appId: r.appId, at: r.createdAt, countryIso: r.countryIso, to: r.to, channel: r.channel, provider };
    if (status === 'delivered') this.record({ kind: 'delivered', subject, seconds: Math.max(0, (at - r.createdAt) / 1000) });
    else this.record({ kind: 'undelivered', subject });
  }

  /** A start the guard refused: counted when refused, with what its first message would have cost. */
  refused(subject: Omit<FactSubject, 'at'>, cost: number): void {
    this.record({ kind: 'refused', subject: { ...subject, at: this.clock.now() }, cost });
  }

  /** Writes the counts waiting (one at a time; on failure they wait for the next flush). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const rows = [...this.pending.values()];
      this.pending = new Map();
      try {
        await this.store.analytics.add(rows);
      } catch (err) {
        for (const r of rows) {
          const id = rollupId(r);
          const cur = this.pending.get(id);
          if (cur) addCounts(cur, r);
          else this.pending.set(id, r);
        }
        this.log?.warn({ err, rows: rows.length }, 'writing analytics rollups failed; kept for the next flush');
      }
    });
    return this.flushing;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), TIMINGS.analytics.flushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** The range of a query on `unit` boundaries: [from, to), the last 30 days to now by default. */
  private range(q: AnalyticsQuery, unit: number): AnalyticsRange {
    // No `to`: up to now, the current hour (or day) included even at its first millisecond.
    const to = parseTime('to', q.to) ?? this.clock.now() + 1;
    if (q.from !== undefined && q.days !== undefined) throw invalid('/days', 'cannot be given with from');
    const from = parseTime('from', q.from) ?? to - (q.days ?? DEFAULT_DAYS) * DAY_MS;
    if (from >= to) throw invalid('/from', 'must be before to');
    if (to - from > MAX_RANGE_DAYS * DAY_MS) throw invalid('/from', `must be at most ${MAX_RANGE_DAYS} days before to`);
    // Hours older than the hourly rows kept are only in the daily rows: such an edge is a whole UTC day.
    const hourlyFrom = this.clock.now() - this.hourlyDays * DAY_MS;
    const step = (t: number) => (unit === HOUR_MS && t < hourlyFrom ? DAY_MS : unit);
    return { from: Math.floor(from / step(from)) * step(from), to: Math.ceil(to / step(to)) * step(to) };
  }

  /**
   * Everything over a range, with the message figures per channel and per provider. Verification figures have no
   * provider (a verification may use several): with a provider filter they are zero.
   */
  async summary(q: AnalyticsQuery) {
    // A prefix is kept per UTC day only: such a range is whole days.
    const range = this.range(q, needsPrefixTable(q) ? DAY_MS : HOUR_MS);
    await this.flush();
    const total = zeroCounts();
    const byChannel = new Map<string, Counts>();
    const byProvider = new Map<string, Counts>();
    const into = (m: Map<string, Counts>, k: string, c: Counts) => addCounts(m.get(k) ?? m.set(k, zeroCounts()).get(k)!, c);
    for (const r of await this.store.analytics.sum(range, q)) {
      addCounts(total, r.counts);
      into(byChannel, r.channel, r.counts);
      into(byProvider, r.provider, r.counts);
    }
    const messagesOf = (m: Map<string, Counts>) => [...m.entries()].filter(([k, c]) => k !== '' && c.sent + c.msgFailed + c.delivered + c.undelivered > 0)
      .sort(([a], [b]) => a.localeCompare(b)).map(([k, c]) => [k, figures(c).messages] as const);
    return {
      from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString(),
      ...figures(total),
      channels: messagesOf(byChannel).map(([channel, m]) => ({ channel, ...m })),
      providers: messagesOf(byProvider).map(([provider, m]) => ({ provider, ...m })),
    };
  }

  /** Points per hour or UTC day (every bucket of the range, zeros included), per group. */
  async series(q: SeriesQuery) {
    const interval = q.interval ?? 'day';
    const unit = interval === 'hour' ? HOUR_MS : DAY_MS;
    const groupBy = q.groupBy ?? 'none';
    if (interval === 'hour' && needsPrefixTable(q, groupBy)) throw invalid('/interval', 'prefixes are counted per UTC day: ask for interval=day');
    const range = this.range(q, unit);
    if (interval === 'hour' && range.from < this.clock.now() - this.hourlyDays * DAY_MS) {
      throw invalid('/interval', `hourly figures are kept ${this.hourlyDays} days (OTPD_ANALYTICS_HOURLY_DAYS): ask for interval=day`);
    }
    if (interval === 'hour' && (range.to - range.from) / HOUR_MS > MAX_HOURLY_POINTS) throw invalid('/interval', `hour covers at most ${MAX_HOURLY_POINTS / 24} days: ask for interval=day`);
    const limit = q.limit ?? 10;
    await this.flush();
    const rows = await this.store.analytics.series(range, q, interval, groupBy, limit);
    const buckets: number[] = [];
    for (let t = range.from; t < range.to; t += unit) buckets.push(t);
    const index = new Map(buckets.map((t, i) => [t, i]));
    // The groups the store kept, by volume; the others (group null) last, as `other`.
    const groups = new Map<string | null, Counts[]>();
    const volume = new Map<string | null, number>();
    for (const r of rows) {
      let points = groups.get(r.group);
      if (!points) groups.set(r.group, (points = buckets.map(() => zeroCounts())));
      addCounts(points[index.get(r.bucket)!]!, r.counts);
      volume.set(r.group, (volume.get(r.group) ?? 0) + volumeOf(r.counts));
    }
    const order = [...groups.keys()].filter((g): g is string => g !== null)
      .sort((a, b) => volume.get(b)! - volume.get(a)! || a.localeCompare(b));
    const named: [string, Counts[]][] = order.map((g) => [g, groups.get(g)!]);
    if (groups.has(null)) named.push(['other', groups.get(null)!]);
    return {
      interval, groupBy, from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString(),
      series: named.map(([group, points]) => ({
        group,
        points: points.map((c, i) => {
          const f = figures(c);
          return {
            t: new Date(buckets[i]!).toISOString(),
            started: f.verifications.started, verified: f.verifications.verified, failed: f.verifications.failed, expired: f.verifications.expired,
            canceled: f.verifications.canceled, conversionRate: f.verifications.conversionRate,
            sent: f.messages.sent, delivered: f.messages.delivered, undelivered: f.messages.undelivered, messagesFailed: f.messages.failed,
            deliveryRate: f.messages.deliveryRate, fallbacks: f.messages.fallbacks, cost: f.cost.total, refused: f.guard.refused, costSaved: f.guard.costSaved,
            timeToVerifyP50: f.verifications.timeToVerify.p50, timeToVerifyP95: f.verifications.timeToVerify.p95,
            timeToDeliverP50: f.messages.timeToDeliver.p50, timeToDeliverP95: f.messages.timeToDeliver.p95,
          };
        }),
      })),
    };
  }

  /** Hourly rows older than `days` are deleted (the daily rows stay): called by retention. */
  purgeHours(days: number): Promise<number> {
    return this.store.analytics.purgeHours(Math.floor((this.clock.now() - days * DAY_MS) / HOUR_MS) * HOUR_MS);
  }
}
