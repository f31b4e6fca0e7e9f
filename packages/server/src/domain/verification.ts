/**
 * The verification state machine and the per-(app, phone) counters that guard it. Pure: the store calls these
 * decisions inside its transaction, so what is decided and what is written can never drift apart.
 *
 *   pending ──check ok──────────────▶ verified
 *   pending ──last try wrong────────▶ failed      (phone locked)
 *   pending ──ttl passed────────────▶ expired
 *   pending ──cancel / new start────▶ canceled
 *
 * Counters live on the phone, not on the code (NIST SP 800-63B-4 §3.2.2): sends and wrong tries count since the
 * phone's last successful verification, so neither a resend nor a new verification ever brings fresh tries or
 * sends. A code gets `maxAttempts` tries minus the phone's earlier wrong tries.
 */
import type { Channel, CodeType, Policy } from './policy.js';
import { OtpdError } from './errors.js';

export const STATUSES = ['pending', 'verified', 'failed', 'expired', 'canceled'] as const;
export type Status = (typeof STATUSES)[number];

/** A verification as stored (times in epoch milliseconds). */
export interface VerificationRecord {
  id: string;
  appId: string;
  to: string;
  countryIso: string;
  channel: Channel;
  locale: string;
  status: Status;
  codeType: CodeType;
  codeLength: number;
  codeHash: Buffer;
  /** AES-GCM sealed code; null once the verification left `pending`. */
  codeSealed: Buffer | null;
  attempts: number;
  maxAttempts: number;
  sends: number;
  maxSends: number;
  resendAvailableAt: number;
  expiresAt: number;
  createdAt: number;
  updatedAt: number;
  verifiedAt: number | null;
  parts: number;
  cost: number;
  metadata: Record<string, unknown> | null;
  /** The channel workflow, e.g. ['whatsapp', 'sms']; `channel` is the step being delivered. */
  channels: Channel[];
  step: number;
  /** Seconds to wait for a delivery receipt before moving to the next channel. */
  stepTimeout: number;
  /** Where this verification's events are posted (seed 001), besides the app's webhook endpoints. */
  callbackUrl?: string | null;
}

/** Counters per (app, phone). */
export interface PhoneState {
  sends: number;
  failures: number;
  /** Start of the counting window; counters reset once a whole lockout period has passed without a lock. */
  windowStartedAt: number;
  lastSendAt: number | null;
  lockedUntil: number | null;
  lockReason: 'attempts' | 'sends' | null;
}

/** The status a reader should see: a pending verification past its expiry is expired. */
export function effectiveStatus(v: Pick<VerificationRecord, 'status' | 'expiresAt'>, now: number): Status {
  return v.status === 'pending' && v.expiresAt <= now ? 'expired' : v.status;
}

/** Phone counters as they stand at `now`: a served lockout or a whole quiet window starts the count afresh. */
export function currentPhoneState(s: PhoneState | undefined, policy: Pick<Policy, 'lockout'>, now: number): PhoneState {
  if (!s) return { sends: 0, failures: 0, windowStartedAt: now, lastSendAt: null, lockedUntil: null, lockReason: null };
  if (s.lockedUntil !== null) {
    if (s.lockedUntil > now) return s;
    return { sends: 0, failures: 0, windowStartedAt: now, lastSendAt: s.lastSendAt, lockedUntil: null, lockReason: null };
  }
  if (now - s.windowStartedAt >= policy.lockout * 1000) {
    return { ...s, sends: 0, failures: 0, windowStartedAt: now };
  }
  return s;
}

const secondsUntil = (t: number, now: number) => Math.max(1, Math.ceil((t - now) / 1000));

/** Outcome of asking for a send: either the new phone state, or a refusal (possibly with a lock to record). */
export type SendDecision =
  | { ok: true; state: PhoneState }
  | { ok: false; error: OtpdError; state?: PhoneState };

/**
 * May this phone be sent a code now? `kind` tells a new verification from a resend of the pending one.
 * On success the send is counted; the phone is locked as soon as its sends are used up (the send that used
 * them up is still delivered, and its code can still be checked).
 */
export function decideSend(prev: PhoneState, policy: Policy, now: number, kind: 'start' | 'resend'): SendDecision {
  const s = prev;
  if (s.lockedUntil !== null && s.lockedUntil > now) {
    const retryAfter = secondsUntil(s.lockedUntil, now);
    if (kind === 'resend' && s.lockReason === 'sends') {
      return { ok: false, error: new OtpdError('max_sends_reached', `All ${policy.maxSends} sends are used; retry after ${retryAfter} s`, { retryAfter }) };
    }
    return { ok: false, error: new OtpdError('phone_locked', `This phone is locked for ${retryAfter} s after too many ${s.lockReason === 'sends' ? 'sends' : 'failed tries'}`, { retryAfter }) };
  }
  const lockUntil = now + policy.lockout * 1000;
  if (s.failures >= policy.maxAttempts) {
    const state: PhoneState = { ...s, lockedUntil: lockUntil, lockReason: 'attempts' };
    return { ok: false, state, error: new OtpdError('phone_locked', `This phone has used all ${policy.maxAttempts} tries; locked for ${policy.lockout} s`, { retryAfter: policy.lockout }) };
  }
  if (s.sends >= policy.maxSends) {
    const state: PhoneState = { ...s, lockedUntil: lockUntil, lockReason: 'sends' };
    const code = kind === 'resend' ? 'max_sends_reached' : 'phone_locked';
    return { ok: false, state, error: new OtpdError(code, `This phone has used all ${policy.maxSends} sends; locked for ${policy.lockout} s`, { retryAfter: policy.lockout }) };
  }
  if (s.lastSendAt !== null && now < s.lastSendAt + policy.resendCooldown * 1000) {
    const retryAfter = secondsUntil(s.lastSendAt + policy.resendCooldown * 1000, now);
    return { ok: false, error: new OtpdError('rate_limited', `Wait ${retryAfter} s before sending another code to this phone`, { retryAfter }) };
  }
  const sends = s.sends + 1;
  const exhausted = sends >= policy.maxSends;
  return {
    ok: true,
    state: { ...s, sends, lastSendAt: now, lockedUntil: exhausted ? lockUntil : null, lockReason: exhausted ? 'sends' : null },
  };
}

/** Phone state after a wrong try; `exhausted` when that try was the code's last one. */
export function afterWrongCode(s: PhoneState, policy: Pick<Policy, 'lockout'>, now: number, exhausted: boolean): PhoneState {
  const failures = s.failures + 1;
  if (!exhausted) return { ...s, failures };
  return { ...s, failures, lockedUntil: now + policy.lockout * 1000, lockReason: 'attempts' };
}

/**
 * Phone state after a successful verification: proof of possession clears the counters, the lock and the cooldown.
 * The stores remove the phone's row instead: the same counters as a phone never seen, and no row kept per phone.
 */
export function afterVerified(now: number): PhoneState {
  return { sends: 0, failures: 0, windowStartedAt: now, lastSendAt: null, lockedUntil: null, lockReason: null };
}

/** The public shape of a verification (never the code, its HMAC or its sealed form). */
export interface VerificationView {
  id: string;
  to: string;
  /** Null for email recipients. */
  countryIso: string | null;
  channel: Channel;
  locale: string;
  status: Status;
  codeLength: number;
  codeType: CodeType;
  attempts: number;
  maxAttempts: number;
  attemptsRemaining: number;
  sends: number;
  maxSends: number;
  resendAvailableAt: string;
  expiresAt: string;
  createdAt: string;
  updatedAt: string;
  verifiedAt: string | null;
  parts: number;
  cost: number;
  currency: string;
  metadata: Record<string, unknown> | null;
  channels: Channel[];
  step: number;
}

const iso = (t: number) => new Date(t).toISOString();

/** Maps a stored verification to its public view as of `now`. */
export function toView(v: VerificationRecord, now: number, currency: string): VerificationView {
  const status = effectiveStatus(v, now);
  return {
    id: v.id,
    to: v.to,
    countryIso: v.countryIso || null,
    channel: v.channel,
    locale: v.locale,
    status,
    codeLength: v.codeLength,
    codeType: v.codeType,
    attempts: v.attempts,
    maxAttempts: v.maxAttempts,
    attemptsRemaining: status === 'pending' ? Math.max(0, v.maxAttempts - v.attempts) : 0,
    sends: v.sends,
    maxSends: v.maxSends,
    resendAvailableAt: iso(v.resendAvailableAt),
    expiresAt: iso(v.expiresAt),
    createdAt: iso(v.createdAt),
    updatedAt: iso(v.updatedAt),
    verifiedAt: v.verifiedAt === null ? null : iso(v.verifiedAt),
    parts: v.parts,
    cost: v.cost,
    currency,
    metadata: v.metadata,
    channels: v.channels,
    step: v.step,
  };
}
