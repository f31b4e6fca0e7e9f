/** What a delivery provider plugin implements. Providers know nothing of HTTP routes or the store. */
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
  code: string;
}

export interface SendResult {
  providerMessageId?: string;
}

export interface DeliveryProvider {
  /** Stable name recorded on each message, e.g. `console`, `twilio`. */
  readonly name: string;
  /** Channels this provider can deliver. */
  readonly channels: readonly Channel[];
  send(message: OutgoingMessage): Promise<SendResult>;
}
