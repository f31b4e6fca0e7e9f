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
import type { PhoneState, Status, VerificationRecord } from './records.js';

export { STATUSES, type PhoneState, type Status, type VerificationRecord } from './records.js';

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

/** A new verification as drafted before the phone's counters are read: its tries and sends come from them. */
export type VerificationDraft = Omit<VerificationRecord, 'attempts' | 'sends'>;

export type StartOutcome =
  | { ok: true; verification: VerificationRecord; phone: PhoneState }
  | { ok: false; error: OtpdError; phone?: PhoneState };

/**
 * The start rule, run by the store on the phone's counters as stored (`stored`, undefined: no row): the send is
 * decided (`decideSend`), and the new verification inherits the phone's earlier wrong tries, so a new code never
 * brings fresh tries. A refusal may carry a lock to record.
 */
export function decideStart(draft: VerificationDraft, stored: PhoneState | undefined, policy: Policy, now: number): StartOutcome {
  const d = decideSend(currentPhoneState(stored, policy, now), policy, now, 'start');
  if (!d.ok) return d.state ? { ok: false, error: d.error, phone: d.state } : { ok: false, error: d.error };
  // Written out field by field (no spread): one object shape on the start path, which V8 keeps fast.
  const x = draft;
  const verification: VerificationRecord = {
    id: x.id, appId: x.appId, to: x.to, countryIso: x.countryIso, channel: x.channel, locale: x.locale, status: x.status, codeType: x.codeType,
    codeLength: x.codeLength, codeHash: x.codeHash, codeSealed: x.codeSealed, attempts: Math.min(d.state.failures, policy.maxAttempts),
    maxAttempts: x.maxAttempts, sends: d.state.sends, maxSends: x.maxSends, resendAvailableAt: x.resendAvailableAt, expiresAt: x.expiresAt,
    createdAt: x.createdAt, updatedAt: x.updatedAt, verifiedAt: x.verifiedAt, parts: x.parts, cost: x.cost, metadata: x.metadata,
    channels: x.channels, step: x.step, stepTimeout: x.stepTimeout, callbackUrl: x.callbackUrl ?? null, signals: x.signals ?? null,
    payment: x.payment ?? null,
  };
  return { ok: true, verification, phone: d.state };
}

/**
 * The resend rule, on the verification as stored and the phone's counters: only a pending verification can be
 * sent again (a closed one says why), under the policy it was started with, and a resend counts as a send
 * (cooldown, send limit, lock) exactly like a start.
 */
export function decideResend(cur: VerificationRecord, stored: PhoneState | undefined, base: Policy, now: number): { ok: true; phone: PhoneState; policy: Policy } | { ok: false; error: OtpdError; phone?: PhoneState } {
  const status = effectiveStatus(cur, now);
  if (status !== 'pending') {
    const code = status === 'expired' ? 'verification_expired' : status === 'failed' ? 'max_attempts_reached' : 'verification_not_pending';
    return { ok: false, error: new OtpdError(code, `The verification is ${status}; start a new one`, { extensions: { verificationStatus: status } }) };
  }
  const policy: Policy = { ...base, maxAttempts: cur.maxAttempts, maxSends: cur.maxSends, codeLength: cur.codeLength };
  const d = decideSend(currentPhoneState(stored, policy, now), policy, now, 'resend');
  if (!d.ok) return d.state ? { ok: false, error: d.error, phone: d.state } : { ok: false, error: d.error };
  return { ok: true, phone: d.state, policy };
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

/** What one counted try comes to: the verification and the phone's counters after it, and the event it makes. */
export interface CheckSettlement {
  outcome: 'verified' | 'wrong';
  /** The verification after the try: still pending, verified, or failed (its sealed code wiped when it closed). */
  verification: VerificationRecord;
  /** The phone's counters after the try (what a later try of the same batch starts from). */
  phone: PhoneState;
  /** The phone's row is removed instead of written: a success brings it back to the counters of a phone never seen. */
  clearPhone: boolean;
  event: 'verification.verified' | 'verification.failed' | null;
}

/**
 * The whole outcome of a try, once the store counted it (`tried`: the verification with this try counted, by the
 * guarded update or the compare-and-set that wrote it) and the code was compared (`matched`). `stored` is the
 * phone's row as read (undefined: none). A match verifies and clears the phone; a miss counts a failure on the
 * phone, and the try that used up the last one fails the verification and locks the phone.
 */
export function settleCheck(tried: VerificationRecord, stored: PhoneState | undefined, matched: boolean, policy: Pick<Policy, 'lockout'>, now: number): CheckSettlement {
  if (matched) {
    return {
      outcome: 'verified', verification: { ...tried, status: 'verified', verifiedAt: now, codeSealed: null }, phone: afterVerified(now),
      clearPhone: true, event: 'verification.verified',
    };
  }
  const exhausted = tried.attempts >= tried.maxAttempts;
  return {
    outcome: 'wrong',
    verification: exhausted ? { ...tried, status: 'failed', codeSealed: null } : tried,
    phone: afterWrongCode(currentPhoneState(stored, policy, now), policy, now, exhausted),
    clearPhone: false,
    event: exhausted ? 'verification.failed' : null,
  };
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
  /** PSD2: the amount and payee the code approves (said in its messages, bound into its HMAC). */
  payment: { amount: string | null; payee: string | null } | null;
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
    payment: v.payment ? { amount: v.payment.amount ?? null, payee: v.payment.payee ?? null } : null,
  };
}
