/**
 * Lifecycle events sent to webhooks (seeds 001, 003). Payloads follow the Standard Webhooks shape
 * `{type, timestamp, data}` and never contain a code, its HMAC or its sealed form.
 */
import type { OutboxRecord } from './records.js';
import type { VerificationRecord } from './verification.js';

export const EVENT_TYPES = [
  'verification.created', 'verification.verified', 'verification.failed', 'verification.expired', 'verification.canceled',
  'message.sent', 'message.delivered', 'message.undelivered', 'message.failed',
  'fraud.blocked', 'fraud.unblocked', 'spend.warning',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** The `data` of a verification event. */
export function verificationEventData(v: VerificationRecord): Record<string, unknown> {
  return {
    id: v.id, to: v.to, countryIso: v.countryIso || null, channel: v.channel, channels: v.channels, status: v.status,
    attempts: v.attempts, maxAttempts: v.maxAttempts, sends: v.sends, createdAt: iso(v.createdAt), expiresAt: iso(v.expiresAt),
    verifiedAt: iso(v.verifiedAt), metadata: v.metadata,
  };
}

/** The `data` of a message event. */
export function messageEventData(m: Pick<OutboxRecord, 'id' | 'verificationId' | 'step' | 'channel' | 'to' | 'provider' | 'providerMessageId' | 'errorCode'> & { status: string }): Record<string, unknown> {
  return {
    id: m.id, verificationId: m.verificationId, step: m.step, channel: m.channel, to: m.to, status: m.status,
    provider: m.provider, providerMessageId: m.providerMessageId, errorCode: m.errorCode,
  };
}
