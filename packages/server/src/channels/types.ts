/**
 * What a delivery provider plugin implements, and how it reports failure. Providers know nothing of HTTP routes
 * or the store: they turn one message into one provider call and classify the outcome.
 */
import type { Channel } from '../domain/policy.js';

/** One message ready to go out. `code` is given separately for providers that template it themselves. */
export interface OutgoingMessage {
  id: string;
  appId: string;
  verificationId: string;
  channel: Channel;
  to: string;
  locale: string;
  text: string;
  /** Email only: subject and HTML body (the text is the plain-text part). */
  subject?: string | undefined;
  html?: string | undefined;
  code: string;
  /** The app's sender id for this message, if it has one (else the provider's configured sender). */
  sender?: string | undefined;
  /** Minutes the code stays valid (for provider-side templates). */
  ttlMinutes: number;
}

export interface SendContext {
  /** Absolute URL the provider should post delivery receipts to, when otpd has a public URL. */
  statusCallbackUrl?: string | undefined;
}

/** The provider accepted the message. */
export interface SendResult {
  providerMessageId?: string | undefined;
  price?: number | undefined;
  priceCurrency?: string | undefined;
}

/**
 * How a send failed, which decides what the worker may do next:
 * - `rejected`: a definite refusal (4xx, invalid number, auth): nothing was sent, another provider may be tried;
 * - `transient`: nothing was accepted and trying again later may work (connection refused, 429, 5xx):
 *   retried on the same provider with backoff, then treated as a definite failure of that provider;
 * - `unknown`: the request may have been accepted (timeout or reset after it was written): never re-sent,
 *   never sent through another vendor; a delivery receipt or the workflow timeout settles it.
 */
export type FailureKind = 'rejected' | 'transient' | 'unknown';

export class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly info: { code?: string | undefined; httpStatus?: number | undefined; retryAfterMs?: number | undefined } = {},
  ) {
    super(message);
  }
}

export interface DeliveryProvider {
  /** Configured name, recorded on each message, e.g. `twilio-eu`. */
  readonly name: string;
  /** Implementation, e.g. `twilio`. */
  readonly type: string;
  /** Channels this provider can deliver. */
  readonly channels: readonly Channel[];
  /**
   * The credentials this provider sends in its requests (and their encoded forms on the wire), so that a provider
   * answer echoing a request has them redacted before it is stored, logged or returned.
   */
  readonly secrets: readonly string[];
  send(message: OutgoingMessage, ctx: SendContext): Promise<SendResult>;
}
