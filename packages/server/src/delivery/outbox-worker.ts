/**
 * The delivery worker. It claims due messages, calls a provider, records the outcome and drives the workflow:
 *
 * - **claim**: one transaction picks due messages, picks a provider for each from the message's route (skipping
 *   providers whose circuit is open), and records a 'started' attempt before any provider is called. A message
 *   whose previous attempt never finished (the worker died mid-send) is not re-sent: its outcome is unknown.
 * - **send**: the code is put into the text and the provider called; what follows (sent, retried after an
 *   exponential backoff with jitter, the next provider, the next workflow step, outcome unknown) is the delivery
 *   rule of domain/delivery.ts (`acceptedOutcome`, `failedOutcome`, `outcomeWithoutSending`).
 *
 * Woken on every insert (no polling on the hot path) and by a timer set to the next due time (retries, fallbacks,
 * expired leases). `flush()` resolves once everything due before the call has been handled.
 */
import type { Logger } from 'pino';
import { CHANNEL, codeAs } from '../domain/channels.js';
import { callbackToken, openCode, type CodeKeys } from '../domain/code.js';
import type { Clock } from '../domain/clock.js';
import { newId } from '../domain/ids.js';
import { ProviderError, type DeliveryProvider, type ProviderLookup } from '../providers/types.js';
import type { OutboxRecord } from '../domain/records.js';
import { acceptedOutcome, failedOutcome, outcomeWithoutSending, spendRefusedOutcome, type ClaimedMessage, type MessageOutcome, type StartedAttempt } from '../domain/delivery.js';
import type { Store } from '../store/ports/index.js';
import { TIMINGS } from '../config.js';
import { Breakers, backoffMs } from './breaker.js';
import { DrainLoop } from './drain-loop.js';
import { redactProviderText } from './provider-text.js';

const D = TIMINGS.delivery;

/** Bounds of a provider's error text and error code as stored (after the code is redacted from them). */
const ERROR_MAX = 300;
const ERROR_CODE_MAX = 64;

export interface OutboxWorkerOptions {
  batch?: number;
  /** How long a claim lasts before another worker may take the message again. */
  leaseMs?: number;
  /** Tries per provider on transient failures before moving on. */
  maxTries?: number;
  /** First retry delay; doubles each time. */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** Absolute base URL receipts are posted to, e.g. https://otpd.example.com (none: no status callbacks). */
  publicUrl?: string | undefined;
  breakers?: Breakers;
  random?: () => number;
  /** How soon to look for work again when nothing is due (default a minute); work other nodes left behind is found then. */
  idleRecheckMs?: number;
  /**
   * Charges a later workflow step (a fallback: the start charged only its first message) to its app's spend caps,
   * once, before its first provider call. False: a cap is reached, and the message is not sent.
   */
  chargeStep?: (m: ClaimedMessage) => Promise<boolean>;
  /** A provider call ended (`outcome`: accepted, rejected, transient, unknown) after `seconds`: metrics. */
  onProviderCall?: (provider: DeliveryProvider, outcome: string, seconds: number) => void;
  /** Each outcome the store recorded, with its message, after the commit (analytics). */
  onRecorded?: (m: ClaimedMessage, o: MessageOutcome) => void;
}

export class OutboxWorker extends DrainLoop {
  /** Recipients (`${appId} ${to}`) this process queued a message for that no finished drain has seen handed yet. */
  private readonly inFlight = new Map<string, number>();
  /** Drains started so far; an `inFlight` value is the number of the drain that will look for that message. */
  private drains = 0;
  /** Callers waiting until a drain that starts after their call has handed its messages to the provider. */
  private handedWaiters: (() => void)[] = [];
  private readonly providers: ProviderLookup;
  readonly breakers: Breakers;
  private readonly o: Required<Omit<OutboxWorkerOptions, 'publicUrl' | 'breakers' | 'idleRecheckMs' | 'chargeStep' | 'onProviderCall' | 'onRecorded'>> & Pick<OutboxWorkerOptions, 'publicUrl' | 'chargeStep' | 'onProviderCall' | 'onRecorded'>;

  constructor(
    private readonly store: Store,
    private readonly keys: CodeKeys,
    private readonly clock: Clock,
    providers: readonly DeliveryProvider[] | ProviderLookup,
    log: Logger,
    opts: OutboxWorkerOptions = {},
  ) {
    super(log, 'outbox', opts.idleRecheckMs);
    this.providers = Array.isArray(providers) ? new Map((providers as readonly DeliveryProvider[]).map((p) => [p.name, p])) : (providers as ProviderLookup);
    this.breakers = opts.breakers ?? new Breakers();
    this.o = {
      batch: opts.batch ?? D.batch, leaseMs: opts.leaseMs ?? D.leaseMs, maxTries: opts.maxTries ?? D.maxTries, retryBaseMs: opts.retryBaseMs ?? D.retryBaseMs,
      retryCapMs: opts.retryCapMs ?? D.retryCapMs, random: opts.random ?? Math.random, publicUrl: opts.publicUrl?.replace(/\/+$/, ''), chargeStep: opts.chargeStep, onProviderCall: opts.onProviderCall, onRecorded: opts.onRecorded,
    };
  }

  protected now(): number {
    return this.clock.now();
  }

  protected nextDueAt(): Promise<number | null> {
    return this.store.outbox.nextDueAt();
  }

  /** Notes a message just committed for (app, recipient) and wakes the worker. */
  queued(appId: string, to: string): void {
    const k = `${appId} ${to}`;
    // The drain that will pick it up (or see another node's worker took it) is the next one to start.
    this.inFlight.set(k, this.drains + 1);
    this.kick();
  }

  /** True while a message this process queued or is sending for (app, recipient) has not been handed to the provider. */
  hasQueued(appId: string, to: string): boolean {
    const k = `${appId} ${to}`;
    return this.inFlight.has(k) || this.sendingFor.has(k);
  }

  /** Per provider key, what this process last saw of it (connections' health; the circuit is `breakers`). */
  readonly health = new Map<string, { lastSuccessAt: number | null; lastErrorAt: number | null; lastError: string | null }>();

  private saw(provider: string, at: number, error: string | null): void {
    const h = this.health.get(provider) ?? { lastSuccessAt: null, lastErrorAt: null, lastError: null };
    if (error === null) h.lastSuccessAt = at;
    else {
      h.lastErrorAt = at;
      h.lastError = error;
    }
    this.health.set(provider, h);
  }

  /** Sends started by `sendClaimed` whose provider call has not returned, per recipient (`${appId} ${to}`). */
  private readonly sendingFor = new Map<string, Set<Promise<void>>>();
  /** Sends started by `sendClaimed` whose outcome is not recorded yet. */
  private readonly unsettled = new Set<Promise<void>>();
  /** Their outcomes waiting to be written (one batch at a time), each with what to call once it is. */
  private readonly toRecord: { m: ClaimedMessage; outcome: MessageOutcome; written: () => void }[] = [];
  private recording = false;

  /**
   * For the first message of a start, decided inside its transaction: claims it for this worker at once, so it is
   * sent right after the commit with no claim statement (one round trip and one row version fewer per message,
   * and the code leaves sooner). Returns the message as it must be stored ('sending', leased like a claim, its
   * provider chosen) and the attempt to record as started in the same transaction. Null leaves the message queued
   * for a drain: the worker is stopped, or the provider's circuit is not plainly closed (a half-open circuit's
   * single trial belongs to the drain).
   */
  claimAtStart(m: OutboxRecord, now: number): { message: OutboxRecord; attempt: StartedAttempt } | null {
    if (this.stopped || m.status !== 'queued' || m.availableAt > now) return null;
    const provider = m.route[m.routeIndex];
    if (provider === undefined || !this.providers.has(provider) || !this.breakers.closed(provider)) return null;
    const attempt = { id: newId('att', now), messageId: m.id, appId: m.appId, provider, startedAt: now };
    return { message: { ...m, status: 'sending', attempts: m.attempts + 1, availableAt: now + this.o.leaseMs, provider }, attempt };
  }

  /**
   * Sends a message committed as claimed by `claimAtStart` (this node holds its lease). Its outcome is recorded
   * with whatever other outcomes are waiting, in one statement. If this process dies first, the lease runs out
   * and another worker finds the started attempt: the outcome is unknown and the message is not sent twice.
   * `code` is the code the start just sealed into `m.codeSealed` (it is still in memory: no need to decrypt it).
   */
  sendClaimed(m: ClaimedMessage, code?: string): void {
    const k = `${m.appId} ${m.to}`;
    const delivered = this.deliver(m, code);
    const settled: Promise<void> = delivered
      .then((o) => this.record(m, o))
      .catch((err: unknown) => this.log.error({ err, messageId: m.id }, 'sending failed; the lease will expire'))
      .finally(() => this.unsettled.delete(settled));
    this.unsettled.add(settled);
    const handed: Promise<void> = delivered.then(() => undefined, () => undefined).finally(() => {
      const set = this.sendingFor.get(k);
      set?.delete(handed);
      if (set?.size === 0) this.sendingFor.delete(k);
    });
    const set = this.sendingFor.get(k);
    if (set) set.add(handed);
    else this.sendingFor.set(k, new Set([handed]));
  }

  /** Resolves once `o` is written: with the outcomes waiting when a batch starts, one batch at a time. */
  private record(m: ClaimedMessage, outcome: MessageOutcome): Promise<void> {
    return new Promise<void>((written) => {
      this.toRecord.push({ m, outcome, written });
      if (!this.recording) void this.writeRecords();
    });
  }

  private async writeRecords(): Promise<void> {
    this.recording = true;
    try {
      while (this.toRecord.length > 0) {
        const batch = this.toRecord.splice(0, this.o.batch);
        const outcomes = batch.map((x) => x.outcome);
        try {
          this.recorded(batch.map((x) => x.m), outcomes, await this.store.outbox.complete(outcomes, this.clock.now()));
          // A retry, a fallback timer or a next step is now due later: the drain loop sets its timer.
          if (outcomes.some((x) => x.status === 'queued' || x.advance || (x.fallbackAt ?? null) !== null)) this.kick();
        } catch (err) {
          this.log.error({ err }, 'recording message outcomes failed; their leases will expire');
        } finally {
          for (const x of batch) x.written();
        }
      }
    } finally {
      this.recording = false;
    }
  }

  /** Tells `onRecorded` of the outcomes the store recorded (`messages[i]` is `outcomes[i]`'s). */
  private recorded(messages: readonly ClaimedMessage[], outcomes: readonly MessageOutcome[], ids: ReadonlySet<string>): void {
    const tell = this.o.onRecorded;
    if (!tell) return;
    outcomes.forEach((o, i) => {
      if (ids.has(o.id)) tell(messages[i]!, o);
    });
  }

  /** The sends of `sendClaimed` started before the call, with their outcomes recorded (later ones are not waited for). */
  private async sendsSettled(): Promise<void> {
    await Promise.all([...this.unsettled]);
  }

  /**
   * After a drain that started at `started` found the queue empty: every message queued before it started is
   * handed, by this node or, on PostgreSQL, by another node's worker. Forget those (a map that only this node's
   * claims emptied would grow without end when other nodes deliver).
   */
  private handedUpTo(started: number): void {
    for (const [k, n] of this.inFlight) if (n <= started) this.inFlight.delete(k);
  }

  /** Outcome writes still in flight. */
  private readonly completing = new Set<Promise<void>>();

  /** Resolves after the sends started before the call and a drain that started after it, with their outcomes recorded. */
  override async flush(): Promise<void> {
    await this.sendsSettled();
    await super.flush();
    while (this.completing.size > 0) await Promise.all([...this.completing]);
  }

  override async stop(): Promise<void> {
    await super.stop();
    await this.sendsSettled();
    while (this.completing.size > 0) await Promise.all([...this.completing]);
  }

  /**
   * Resolves once every message committed before the call has been handed to the provider (its outcome may not
   * be recorded yet). What `/dev/messages` waits on: sooner than `flush()`.
   */
  handed(): Promise<void> {
    const sending = [...this.sendingFor.values()].flatMap((set) => [...set]);
    return Promise.all([...sending, new Promise<void>((resolve, reject) => {
      this.handedWaiters.push(resolve);
      this.flush().catch(reject);
    })]).then(() => undefined);
  }

  /** Like `handed()` for one recipient: waits only for what this process queued or is sending for it. */
  async handedFor(appId: string, to: string): Promise<void> {
    const k = `${appId} ${to}`;
    const sending = this.sendingFor.get(k);
    if (sending) await Promise.all([...sending]);
    if (this.inFlight.has(k)) await this.handed();
  }

  protected async drain(): Promise<void> {
    const started = ++this.drains;
    const waiting = this.handedWaiters.splice(0);
    const release = () => { for (const w of waiting.splice(0)) w(); };
    try {
      await this.store.outbox.fireFallbacks(this.clock.now(), this.o.batch);
      for (;;) {
        const now = this.clock.now();
        const claimed = await this.store.outbox.claim(now, this.o.batch, this.o.leaseMs, (m) => this.choose(m, now));
        if (claimed.length === 0) {
          this.handedUpTo(started);
          return;
        }
        const outcomes = await Promise.all(claimed.map((m) => this.deliver(m)));
        const last = claimed.length < this.o.batch;
        if (last) {
          this.handedUpTo(started);
          release();
        }
        // Outcomes are recorded while the next drain already claims: a busy worker's cycle is one claim long.
        // (Claimed rows are leased, so no drain can take them again meanwhile; flush() waits for these writes.)
        const done: Promise<void> = this.store.outbox.complete(outcomes, this.clock.now())
          .then((recorded) => this.recorded(claimed, outcomes, recorded))
          .catch((err: unknown) => this.log.error({ err }, 'recording message outcomes failed; their leases will expire'))
          .finally(() => this.completing.delete(done));
        this.completing.add(done);
        if (last) return;
      }
    } finally {
      release();
    }
  }

  /** The provider for a message: its current route entry, or the next one whose circuit is closed. */
  private choose(m: ClaimedMessage, now: number): { provider: string; routeIndex: number; attemptId: string } | null {
    const route = m.route;
    for (let i = m.routeIndex; i < route.length; i++) {
      const name = route[i]!;
      if (this.providers.has(name) && this.breakers.allow(name, now)) return { provider: name, routeIndex: i, attemptId: newId('att', now) };
    }
    // Every remaining provider's circuit is open: try the current one anyway rather than fail the message.
    const cur = route[m.routeIndex];
    return cur && this.providers.has(cur) ? { provider: cur, routeIndex: m.routeIndex, attemptId: newId('att', now) } : null;
  }

  private statusCallback(m: ClaimedMessage, provider: DeliveryProvider): string | undefined {
    if (!this.o.publicUrl) return undefined;
    return `${this.o.publicUrl}/webhooks/${provider.type}/${encodeURIComponent(provider.name)}?msg=${m.id}&t=${callbackToken(this.keys, provider.name, m.id)}`;
  }

  /** `chargeStep`; if charging fails (the store), the step is sent: its verification was admitted. */
  private async chargeStep(m: ClaimedMessage): Promise<boolean> {
    try {
      return await this.o.chargeStep!(m);
    } catch (err) {
      this.log.warn({ err, messageId: m.id }, 'charging a workflow step to the spend caps failed; sending it');
      return true;
    }
  }

  /** Hands the message to its provider; the outcome to record, as the rules of domain/delivery.ts decide it. */
  private async deliver(m: ClaimedMessage, knownCode?: string): Promise<MessageOutcome> {
    const skip = outcomeWithoutSending(m, this.clock.now());
    if (skip) {
      if (m.crashedAttempt) this.log.warn({ messageId: m.id, provider: m.crashedAttempt.provider }, 'unfinished attempt found; not re-sending');
      return skip;
    }
    // A later step, on its first claim: charged to the spend caps now (its start charged only the first message).
    if (m.step > 0 && m.workflowStep && m.attempts === 1 && this.o.chargeStep && !(await this.chargeStep(m))) return spendRefusedOutcome(m, this.clock.now());
    // Not skipped: the message has its attempt and its sealed code. Its provider may have gone meanwhile (a connection
    // deleted while the step was charged): then the message fails like one no provider can deliver.
    const provider = this.providers.get(m.attempt!.provider);
    if (!provider) return failedOutcome(m, m.attempt!.id, m.attempt!.provider, { kind: 'rejected', error: 'the provider is no longer configured', code: 'no_provider', httpStatus: undefined }, { maxTries: this.o.maxTries, retryDelayMs: () => 0 }, this.clock.now());
    const attemptId = m.attempt!.id;
    const sealed = m.codeSealed!;
    // Kept outside the try: a provider's answer may echo the request, and the code must be taken out of it.
    let sentCode = knownCode;
    const t0 = performance.now();
    try {
      const code = (sentCode ??= openCode(this.keys, m.verificationId, sealed));
      const spoken = codeAs(m.channel, code);
      const fill = (t: string) => t.replaceAll('{{pin}}', spoken);
      const parts = CHANNEL[m.channel].rich ? (JSON.parse(m.body) as { subject: string; text: string; html: string }) : null;
      const text = fill(parts ? parts.text : m.body);
      const r = await provider.send(
        {
          id: m.id, appId: m.appId, verificationId: m.verificationId, channel: m.channel, to: m.to, locale: m.locale, text, code,
          subject: parts ? fill(parts.subject) : undefined, html: parts ? fill(parts.html) : undefined, ttlMinutes: Math.ceil(m.ttlSeconds / 60),
          sender: m.sender ?? undefined,
        },
        { statusCallbackUrl: this.statusCallback(m, provider) },
      );
      this.breakers.success(provider.name);
      this.saw(provider.name, this.clock.now(), null);
      this.o.onProviderCall?.(provider, 'accepted', (performance.now() - t0) / 1000);
      return acceptedOutcome(m, attemptId, provider.name, r, this.clock.now());
    } catch (err) {
      const at = this.clock.now();
      const e = err instanceof ProviderError ? err : new ProviderError('unknown', err instanceof Error ? err.message : String(err));
      // Everything a provider said goes through here: redacted and bounded before it is stored, logged or returned.
      const secrets = provider.secrets;
      const error = redactProviderText(e.message, sentCode, ERROR_MAX, { secrets });
      const code = e.info.code === undefined ? undefined : redactProviderText(e.info.code, sentCode, ERROR_CODE_MAX, { whole: true, secrets }) || undefined;
      this.log.warn({ messageId: m.id, provider: provider.name, kind: e.kind, code, status: e.info.httpStatus }, 'provider call failed');
      if (e.kind !== 'rejected') this.breakers.failure(provider.name, at);
      this.o.onProviderCall?.(provider, e.kind, (performance.now() - t0) / 1000);
      this.saw(provider.name, at, code ? `${code}: ${error}` : error);
      return failedOutcome(m, attemptId, provider.name, { kind: e.kind, error, code, httpStatus: e.info.httpStatus }, {
        maxTries: this.o.maxTries,
        retryDelayMs: (tries) => backoffMs(tries, this.o.random, { baseMs: this.o.retryBaseMs, capMs: this.o.retryCapMs, retryAfterMs: e.info.retryAfterMs }),
      }, at);
    }
  }
}
