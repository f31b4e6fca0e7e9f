/**
 * Records as the JSON rows the group statements take (`jsonb_populate_recordset`, one parameter for many rows), and
 * the order phones are locked in.
 */
import type { OutboxRecord, PhoneState, VerificationRecord } from '../../domain/records.js';

/** Byte order: the order of `COLLATE "C"`, in which every statement locks phones. */
export const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const hex = (b: Buffer | null): string | null => (b === null ? null : `\\x${b.toString('hex')}`);

/** A phone_states row as JSON (jsonb_populate_recordset). */
export function phoneRow(appId: string, to: string, p: PhoneState): Record<string, unknown> {
  return {
    app_id: appId, to_addr: to, sends: p.sends, failures: p.failures, window_started_at: p.windowStartedAt, last_send_at: p.lastSendAt,
    locked_until: p.lockedUntil, lock_reason: p.lockReason,
  };
}

/** A verifications row as JSON (binary columns in bytea's hex input form). */
export function verificationRow(v: VerificationRecord): Record<string, unknown> {
  return {
    id: v.id, app_id: v.appId, to_addr: v.to, country_iso: v.countryIso, channel: v.channel, locale: v.locale, status: v.status,
    code_type: v.codeType, code_length: v.codeLength, code_hash: hex(v.codeHash), code_sealed: hex(v.codeSealed), attempts: v.attempts,
    max_attempts: v.maxAttempts, sends: v.sends, max_sends: v.maxSends, resend_available_at: v.resendAvailableAt, expires_at: v.expiresAt,
    created_at: v.createdAt, updated_at: v.updatedAt, verified_at: v.verifiedAt, parts: v.parts, cost: v.cost, metadata: v.metadata,
    channels: v.channels, step: v.step, step_timeout: v.stepTimeout, callback_url: v.callbackUrl ?? null,
    signals: v.signals ?? null,
    payment: v.payment ?? null,
  };
}

/** An outbox row as JSON. */
export function outboxRow(m: OutboxRecord): Record<string, unknown> {
  return {
    id: m.id, app_id: m.appId, verification_id: m.verificationId, channel: m.channel, to_addr: m.to, locale: m.locale, body: m.body,
    status: m.status, attempts: m.attempts, available_at: m.availableAt, created_at: m.createdAt, sent_at: m.sentAt, provider: m.provider,
    error: m.error, parts: m.parts, cost: m.cost, step: m.step, route: m.route, route_index: m.routeIndex, provider_attempts: m.providerAttempts ?? 0,
    provider_message_id: m.providerMessageId ?? null, error_code: m.errorCode ?? null, price: m.price ?? null, price_currency: m.priceCurrency ?? null,
    delivered_at: m.deliveredAt ?? null, failed_at: m.failedAt ?? null, fallback_at: m.fallbackAt ?? null, outcome_unknown: m.outcomeUnknown ?? false,
    sender: m.sender ?? null,
  };
}
