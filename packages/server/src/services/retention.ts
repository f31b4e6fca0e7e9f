/**
 * Retention: deletes verifications, messages, provider attempts, events and webhook deliveries older than the
 * configured number of days, in small batches (each one a short transaction over the oldest primary keys), so a
 * purge never holds locks for long and costs the same at any table size. Audit log entries and phone counters are
 * kept (see docs/operations.md).
 */
import type { Logger } from 'pino';
import { TIMINGS } from '../config.js';
import type { Clock } from '../domain/clock.js';
import type { PurgeCounts, Store } from '../store/ports/index.js';

const DAY = 86_400_000;

export class RetentionJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PurgeCounts> | null = null;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly days: number,
    private readonly log: Logger,
    private readonly opts: { batch?: number; everyMs?: number } = {},
  ) {}

  /** Runs soon and then every `everyMs` (default: `TIMINGS.retention`). */
  start(): void {
    if (this.days <= 0) return;
    this.stopped = false;
    const tick = () => {
      this.run().catch((err: unknown) => this.log.warn({ err }, 'retention purge failed'));
    };
    this.timer = setInterval(tick, this.opts.everyMs ?? TIMINGS.retention.everyMs);
    this.timer.unref();
    setTimeout(tick, TIMINGS.retention.firstAfterMs).unref();
  }

  /** One whole purge: batches until every table is below the cutoff. Returns what it deleted, per table. */
  run(): Promise<PurgeCounts> {
    this.running ??= this.purge().finally(() => { this.running = null; });
    return this.running;
  }

  private async purge(): Promise<PurgeCounts> {
    const batch = this.opts.batch ?? TIMINGS.retention.batch;
    const before = this.clock.now() - this.days * DAY;
    const total: PurgeCounts = {};
    for (;;) {
      if (this.stopped) break;
      const counts = await this.store.maintenance.purgeBefore(before, batch);
      for (const [table, n] of Object.entries(counts)) total[table] = (total[table] ?? 0) + n;
      if (!Object.values(counts).some((n) => n >= batch)) break;
      await new Promise((r) => setImmediate(r)); // let requests in between batches
    }
    if (Object.values(total).some((n) => n > 0)) this.log.info({ deleted: total, before: new Date(before).toISOString() }, 'retention purge');
    return total;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }
}
