/**
 * Outbound webhooks (seeds 001, 003): events go to each app endpoint that listens, signed per the Standard Webhooks
 * spec (`webhook-id`, `webhook-timestamp`, `webhook-signature`, with the `standardwebhooks` package), at least
 * once, from the durable `webhook_deliveries` table. Only a 2xx answer counts; other answers and network
 * errors are retried on the schedule below, then the delivery fails. 410 Gone disables the endpoint. (Callbacks
 * that providers post to otpd are `provider-callbacks.ts`.)
 */
import type { Logger } from 'pino';
import { TIMINGS } from '../config.js';
import { request } from 'undici';
import { Webhook } from 'standardwebhooks';
import { openCode, type CodeKeys } from '../domain/code.js';
import type { Clock } from '../domain/clock.js';
import type { ClaimedDelivery, DeliveryOutcome, Store } from '../store/ports/index.js';
import { DrainLoop } from './drain-loop.js';

/** Delay before each attempt after the first (Standard Webhooks / Svix schedule), in ms. */
export const RETRY_SCHEDULE_MS: readonly number[] = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];

export interface WebhookWorkerOptions {
  timeoutMs?: number;
  leaseMs?: number;
  batch?: number;
  /** Refuses a destination address (SSRF guard); returns a reason to refuse, or null. */
  checkAddress?: (url: string) => Promise<string | null>;
}

/** Opens an endpoint's sealed signing secret (sealed like codes, under the endpoint id). */
export function openSecret(keys: CodeKeys, endpointId: string, sealed: Buffer): string {
  return openCode(keys, endpointId, sealed);
}

export class WebhookWorker extends DrainLoop {
  private readonly o: Required<Omit<WebhookWorkerOptions, 'checkAddress'>> & Pick<WebhookWorkerOptions, 'checkAddress'>;

  constructor(private readonly store: Store, private readonly keys: CodeKeys, private readonly clock: Clock, log: Logger, opts: WebhookWorkerOptions = {}) {
    super(log, 'webhook');
    const d = TIMINGS.webhooks;
    this.o = { timeoutMs: opts.timeoutMs ?? d.timeoutMs, leaseMs: opts.leaseMs ?? d.leaseMs, batch: opts.batch ?? d.batch, checkAddress: opts.checkAddress };
  }

  protected now(): number {
    return this.clock.now();
  }

  protected nextDueAt(): Promise<number | null> {
    return this.store.webhooks.nextDueAt();
  }

  protected async drain(): Promise<void> {
    for (;;) {
      const claimed = await this.store.webhooks.claim(this.clock.now(), this.o.batch, this.o.leaseMs);
      if (claimed.length === 0) return;
      const outcomes = await Promise.all(claimed.map((d) => this.deliver(d)));
      await this.store.webhooks.complete(outcomes);
      if (claimed.length < this.o.batch) return;
    }
  }

  private retryOrFail(d: ClaimedDelivery, at: number): Pick<DeliveryOutcome, 'status' | 'nextAttemptAt'> {
    const delay = RETRY_SCHEDULE_MS[d.attempts];
    return delay === undefined ? { status: 'failed' } : { status: 'pending', nextAttemptAt: at + delay };
  }

  private async deliver(d: ClaimedDelivery): Promise<DeliveryOutcome> {
    const started = this.clock.now();
    const base = { id: d.id, at: started, durationMs: 0 };
    if (!d.secretSealed) {
      return { ...base, status: 'failed', statusCode: null, error: d.endpointId ? 'the endpoint was deleted or disabled' : 'the app has no callback secret' };
    }
    const refused = this.o.checkAddress ? await this.o.checkAddress(d.url) : null;
    if (refused) return { ...base, status: 'failed', statusCode: null, error: `refused destination: ${refused}` };
    const body = JSON.stringify({ type: d.eventType, timestamp: new Date(d.eventCreatedAt).toISOString(), data: d.eventData });
    const wh = new Webhook(openSecret(this.keys, d.secretOwner, d.secretSealed));
    const ts = new Date(Math.floor(started / 1000) * 1000);
    const headers = {
      'content-type': 'application/json', 'user-agent': 'otpd-webhooks/1',
      'webhook-id': d.id, 'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)), 'webhook-signature': wh.sign(d.id, ts, body),
    };
    const t0 = performance.now();
    try {
      const r = await request(d.url, { method: 'POST', headers, body, headersTimeout: this.o.timeoutMs, bodyTimeout: this.o.timeoutMs, maxRedirections: 0 } as Parameters<typeof request>[1]);
      await r.body.dump();
      const durationMs = Math.round(performance.now() - t0);
      if (r.statusCode >= 200 && r.statusCode < 300) return { ...base, durationMs, status: 'succeeded', statusCode: r.statusCode, error: null };
      if (r.statusCode === 410) return { ...base, durationMs, status: 'failed', statusCode: 410, error: 'endpoint gone (410)', disableEndpoint: d.endpointId ?? undefined };
      return { ...base, durationMs, ...this.retryOrFail(d, started), statusCode: r.statusCode, error: `HTTP ${r.statusCode}` };
    } catch (e) {
      const durationMs = Math.round(performance.now() - t0);
      const code = (e as { code?: string }).code ?? (e as Error).message;
      return { ...base, durationMs, ...this.retryOrFail(d, started), statusCode: null, error: String(code).slice(0, 200) };
    }
  }
}
