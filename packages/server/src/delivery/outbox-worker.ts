/**
 * The outbox worker: claims due messages, puts the code into the stored text, hands them to the provider and
 * records the outcome. Woken on every insert (no polling on the hot path); a slow timer only picks up leases left
 * behind by a crashed worker. `flush()` resolves once everything committed before the call has been handled,
 * which is what `/dev/messages` waits on.
 */
import type { Logger } from 'pino';
import { openCode, type CodeKeys } from '../domain/code.js';
import type { Clock } from '../domain/clock.js';
import type { DeliveryProvider } from '../channels/types.js';
import type { ClaimedMessage, Store } from '../store/ports.js';

export interface OutboxWorkerOptions {
  batch?: number;
  /** How long a claim lasts before another worker may take the message again. */
  leaseMs?: number;
  /** Safety-net poll for expired leases. */
  pollMs?: number;
}

export class OutboxWorker {
  private running: Promise<void> = Promise.resolve();
  private next: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Messages this process queued and has not handed to the provider yet, per `${appId} ${to}`. */
  private readonly inFlight = new Map<string, number>();
  /** Callers waiting until a drain that starts after their call has handed its messages to the provider. */
  private handedWaiters: (() => void)[] = [];
  private readonly batch: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;

  constructor(
    private readonly store: Store,
    private readonly keys: CodeKeys,
    private readonly clock: Clock,
    private readonly provider: DeliveryProvider,
    private readonly log: Logger,
    opts: OutboxWorkerOptions = {},
  ) {
    this.batch = opts.batch ?? 256;
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.pollMs = opts.pollMs ?? 5_000;
  }

  /** Starts the safety-net timer. */
  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
  }

  /** Notes a message just committed for (app, recipient) and wakes the worker. */
  queued(appId: string, to: string): void {
    const k = `${appId} ${to}`;
    this.inFlight.set(k, (this.inFlight.get(k) ?? 0) + 1);
    this.kick();
  }

  /** True while a message this process queued for (app, recipient) has not been handed to the provider. */
  hasQueued(appId: string, to: string): boolean {
    return this.inFlight.has(`${appId} ${to}`);
  }

  private handedOne(appId: string, to: string): void {
    const k = `${appId} ${to}`;
    const n = (this.inFlight.get(k) ?? 0) - 1;
    if (n > 0) this.inFlight.set(k, n);
    else this.inFlight.delete(k);
  }

  /** Asks for a drain soon; many kicks in a row coalesce into one drain. */
  kick(): void {
    if (this.stopped) return;
    this.flush().catch((err: unknown) => this.log.error({ err }, 'outbox drain failed'));
  }

  /** Resolves after a drain that started after this call has finished. */
  flush(): Promise<void> {
    if (!this.next) {
      this.next = this.running.then(() => {
        this.next = null;
        this.running = this.drain();
        return this.running;
      });
    }
    return this.next;
  }

  /**
   * Resolves once every message committed before the call has been handed to the provider (its outcome may not
   * be recorded yet). What `/dev/messages` waits on: one commit sooner than `flush()`.
   */
  handed(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.handedWaiters.push(resolve);
      this.flush().catch(reject);
    });
  }

  /** Stops waking up and waits for the drain in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await (this.next ?? this.running).catch(() => undefined);
  }

  private async drain(): Promise<void> {
    const waiting = this.handedWaiters.splice(0);
    const release = () => { for (const w of waiting.splice(0)) w(); };
    try {
      for (;;) {
        const now = this.clock.now();
        const claimed = await this.store.claimMessages(now, this.batch, this.leaseMs);
        if (claimed.length === 0) return;
        const results = await Promise.all(claimed.map((m) => this.deliver(m)));
        for (const m of claimed) this.handedOne(m.appId, m.to);
        const last = claimed.length < this.batch;
        if (last) release();
        await this.store.completeMessages(results);
        if (last) return;
      }
    } finally {
      release();
    }
  }

  private async deliver(m: ClaimedMessage): Promise<{ id: string; status: 'sent' | 'failed'; provider: string; error: string | null; at: number }> {
    const done = (status: 'sent' | 'failed', error: string | null) => ({ id: m.id, status, provider: this.provider.name, error, at: this.clock.now() });
    // A code whose verification closed (a newer start canceled it, or it expired) is not worth sending.
    if (m.verificationStatus !== 'pending' || !m.codeSealed) return done('failed', 'verification_closed');
    try {
      const code = openCode(this.keys, m.verificationId, m.codeSealed);
      const text = m.body.replaceAll('{{pin}}', code);
      await this.provider.send({ id: m.id, appId: m.appId, verificationId: m.verificationId, channel: m.channel, to: m.to, locale: m.locale, text, code });
      return done('sent', null);
    } catch (err) {
      this.log.warn({ err, messageId: m.id, verificationId: m.verificationId }, 'delivery failed');
      return done('failed', err instanceof Error ? err.message.slice(0, 200) : 'error');
    }
  }
}
