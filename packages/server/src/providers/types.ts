/**
 * What a delivery provider plugin implements, and how it reports failure. Providers know nothing of HTTP routes
 * or the store: they turn one message into one provider call and classify the outcome.
 */
import type { Channel } from '../domain/policy.js';
import type { OutboxRecord } from '../domain/records.js';

/** One message ready to go out (the code in its text). `code` is given separately for providers that template it themselves. */
export interface OutgoingMessage extends Pick<OutboxRecord, 'id' | 'appId' | 'verificationId' | 'channel' | 'to' | 'locale'> {
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

import type { FailureKind } from '../domain/delivery.js';

export type { FailureKind };

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

/** Providers by key (a server provider's name, or a connection's id): what the worker and the receipt routes read. */
export interface ProviderLookup {
  get(key: string): DeliveryProvider | undefined;
  has(key: string): boolean;
}
