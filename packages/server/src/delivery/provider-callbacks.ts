/**
 * Provider callbacks: the delivery receipts providers post back (Twilio, Vonage, Meta, generic HTTP gateways), on
 * `/webhooks/{type}/{name}`. (Not the webhooks otpd sends to apps: that is `webhook-worker.ts`.) Each provider's
 * `callbacks.ts` authenticates a callback its own way before anything is read from it, and reads it into receipts;
 * here the receipts are applied, and refused callbacks (unknown or forged) are recorded and counted, never applied.
 * An applied receipt can start the next workflow step (undelivered, failed) or cancel the pending fallback
 * (delivered).
 */
import type { Logger } from 'pino';
import type { Clock } from '../domain/clock.js';
import type { CodeKeys } from '../domain/code.js';
import { OtpdError } from '../domain/errors.js';
import type { CallbackRequest, CallbackRoute } from '../providers/plugin.js';
import type { ProviderLookup } from '../providers/types.js';
import type { Store } from '../store/ports/index.js';
import type { Receipt, ReceiptResult } from '../domain/delivery.js';

export class ProviderCallbacks {
  constructor(
    private readonly store: Store,
    private readonly keys: CodeKeys,
    private readonly clock: Clock,
    private readonly providers: ProviderLookup,
    private readonly publicUrl: string | undefined,
    private readonly onAdvance: (appId: string, to: string) => void,
    private readonly log: Logger,
    /** A receipt applied, after its commit (analytics). */
    private readonly onApplied?: (r: Extract<ReceiptResult, { result: 'applied' }>, provider: string, status: Receipt['status'], at: number) => void,
  ) {}

  private async refuse(source: string, code: 'invalid_signature' | 'unknown_callback', reason: string): Promise<never> {
    await this.store.callbacks.recordRejected(source, reason, this.clock.now());
    this.log.warn({ source, reason }, 'callback refused');
    throw new OtpdError(code, reason);
  }

  /**
   * Handles one callback on a route of provider type `type` for the provider named `name`: its receipts are
   * applied; a refusal is recorded and thrown (403 or 404). Returns the text to answer, if the route answers one.
   */
  async handle(type: string, route: CallbackRoute, name: string, req: CallbackRequest): Promise<string | undefined> {
    const source = `${type}:${name}`;
    const clock = this.clock;
    const r = await route.handle({ name, provider: this.providers.get(name), keys: this.keys, now: () => clock.now(), publicUrl: this.publicUrl }, req);
    if (r.kind === 'reply') return r.text;
    if (r.kind === 'refused') return this.refuse(source, r.code, r.reason);
    for (const fields of r.receipts) {
      const at = this.clock.now();
      const res = await this.store.callbacks.applyReceipt({ provider: name, ...fields, at });
      if (res.result === 'unknown' || res.result === 'mismatch') {
        if (r.unmatched === 'record') await this.store.callbacks.recordRejected(source, `status for an unknown message (${res.result})`, this.clock.now());
        else await this.refuse(source, 'unknown_callback', res.result === 'unknown' ? 'no such message for this provider' : 'provider message id does not match');
      }
      if (res.result === 'applied') {
        this.onApplied?.(res, name, fields.status, at);
        if (res.advanced) this.onAdvance(res.appId, res.to);
      }
    }
    return undefined;
  }
}
