/**
 * The wake-up machinery both workers share: `kick()` asks for a drain soon, many kicks coalesce into one,
 * `flush()` resolves after a drain that started after the call, and after each drain a timer is set to the next
 * due time the store knows of (retries, fallbacks, expired leases) — at most a minute away, so a moved fake clock
 * or a missed wake-up is noticed.
 */
import type { Logger } from 'pino';
import { TIMINGS } from '../config.js';

export abstract class DrainLoop {
  private running: Promise<void> = Promise.resolve();
  private next: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  protected stopped = true;

  /** `idleRecheckMs`: how soon to look again when nothing is due (at most a minute). */
  constructor(protected readonly log: Logger, private readonly what: string, private readonly idleRecheckMs: number = TIMINGS.idleRecheckMs) {}

  /** One pass over everything due. */
  protected abstract drain(): Promise<void>;
  /** When something next becomes due, or null. */
  protected abstract nextDueAt(): Promise<number | null>;
  /** The current time (the injected clock). */
  protected abstract now(): number;

  /** Starts waking up on its own. */
  start(): void {
    this.stopped = false;
    this.kick();
  }

  /** Asks for a drain soon; many kicks in a row coalesce into one drain. */
  kick(): void {
    if (this.stopped) return;
    this.flush().catch((err: unknown) => this.log.error({ err }, `${this.what} drain failed`));
  }

  /** Resolves after a drain that started after this call has finished. */
  flush(): Promise<void> {
    if (!this.next) {
      this.next = this.running.then(() => {
        this.next = null;
        this.running = this.drain().finally(() => this.schedule());
        return this.running;
      });
    }
    return this.next;
  }

  /** Stops waking up and waits for the drain in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await (this.next ?? this.running).catch(() => undefined);
  }

  private schedule(): void {
    // Another drain is already asked for (a busy server): it will schedule after itself; no need to ask the store.
    if (this.stopped || this.next) return;
    this.nextDueAt().then((due) => {
      if (this.stopped) return;
      // Nothing due that this store knows of: still look again within a minute, so work another node left behind
      // (it died holding a lease, or scheduled a retry after our last look) is picked up without a kick.
      const at = due ?? this.now() + this.idleRecheckMs;
      if (this.timer && at >= this.timerAt) return;
      if (this.timer) clearTimeout(this.timer);
      this.timerAt = at;
      this.timer = setTimeout(() => { this.timer = null; this.timerAt = Infinity; this.kick(); }, Math.min(Math.max(0, at - this.now()), 60_000));
      this.timer.unref();
    }, (err: unknown) => this.log.warn({ err }, `${this.what} schedule failed`));
  }
}
