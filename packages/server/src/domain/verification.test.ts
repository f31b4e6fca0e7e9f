import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from './policy.js';
import type { PhoneState, VerificationRecord } from './records.js';
import { decideResend, decideStart, settleCheck, type VerificationDraft } from './verification.js';

const now = Date.UTC(2026, 0, 1);
const policy = { ...DEFAULT_POLICY };
const draft: VerificationDraft = {
  id: 'ver_1', appId: 'app_1', to: '+33612345678', countryIso: 'FR', channel: 'sms', locale: 'fr', status: 'pending', codeType: 'numeric',
  codeLength: 6, codeHash: Buffer.alloc(32), codeSealed: Buffer.alloc(40), maxAttempts: 3, maxSends: 6, resendAvailableAt: now + 60_000,
  expiresAt: now + 300_000, createdAt: now, updatedAt: now, verifiedAt: null, parts: 1, cost: 0, metadata: null, channels: ['sms'], step: 0,
  stepTimeout: 30, callbackUrl: null, signals: { ip: "192.0.2.1" }, payment: null,
};
const pending: VerificationRecord = { ...draft, attempts: 0, sends: 1 };
const phone = (p: Partial<PhoneState> = {}): PhoneState => ({ sends: 1, failures: 0, windowStartedAt: now - 1000, lastSendAt: now - 120_000, lockedUntil: null, lockReason: null, ...p });

describe('settleCheck', () => {
  it('a match verifies, wipes the sealed code and clears the phone', () => {
    const s = settleCheck({ ...pending, attempts: 1 }, phone({ failures: 1 }), true, policy, now);
    expect(s).toMatchObject({ outcome: 'verified', clearPhone: true, event: 'verification.verified', verification: { status: 'verified', verifiedAt: now, codeSealed: null, attempts: 1 } });
    expect(s.phone).toMatchObject({ sends: 0, failures: 0, lockedUntil: null });
  });
  it('a miss with tries left counts a failure on the phone and keeps the verification pending', () => {
    const s = settleCheck({ ...pending, attempts: 1 }, phone(), false, policy, now);
    expect(s).toMatchObject({ outcome: 'wrong', clearPhone: false, event: null, verification: { status: 'pending', attempts: 1 } });
    expect(s.verification.codeSealed).not.toBeNull();
    expect(s.phone).toMatchObject({ failures: 1, lockedUntil: null });
  });
  it('the miss that uses the last try fails the verification and locks the phone', () => {
    const s = settleCheck({ ...pending, attempts: 3 }, phone({ failures: 2 }), false, policy, now);
    expect(s).toMatchObject({ outcome: 'wrong', event: 'verification.failed', verification: { status: 'failed', codeSealed: null } });
    expect(s.phone).toMatchObject({ failures: 3, lockedUntil: now + policy.lockout * 1000, lockReason: 'attempts' });
  });
  it('counts from a fresh window when the stored one is over (no row counts as fresh too)', () => {
    expect(settleCheck({ ...pending, attempts: 1 }, phone({ failures: 2, windowStartedAt: now - policy.lockout * 1000 }), false, policy, now).phone.failures).toBe(1);
    expect(settleCheck({ ...pending, attempts: 1 }, undefined, false, policy, now).phone).toMatchObject({ failures: 1, sends: 0 });
  });
});

describe('decideStart', () => {
  it('inherits the phone\'s earlier wrong tries and counts the send', () => {
    const d = decideStart(draft, phone({ failures: 2 }), policy, now);
    expect(d).toMatchObject({ ok: true, verification: { attempts: 2, sends: 2 }, phone: { sends: 2, lastSendAt: now } });
    expect(Object.keys(d.ok ? d.verification : {}).sort()).toEqual(Object.keys({ ...draft, attempts: 0, sends: 0 }).sort());
  });
  it('refuses a locked phone, and records the lock when the tries are used up', () => {
    expect(decideStart(draft, phone({ lockedUntil: now + 1000, lockReason: 'sends' }), policy, now)).toMatchObject({ ok: false, error: { code: 'phone_locked' } });
    const d = decideStart(draft, phone({ failures: 3 }), policy, now);
    expect(d).toMatchObject({ ok: false, error: { code: 'phone_locked' }, phone: { lockReason: 'attempts' } });
  });
  it('refuses within the cooldown without recording anything', () => {
    const d = decideStart(draft, phone({ lastSendAt: now - 1000 }), policy, now);
    expect(d).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    expect('phone' in d).toBe(false);
  });
});

describe('decideResend', () => {
  it('says why a closed verification cannot be sent again', () => {
    expect(decideResend({ ...pending, status: 'failed' }, phone(), policy, now)).toMatchObject({ ok: false, error: { code: 'max_attempts_reached' } });
    expect(decideResend({ ...pending, expiresAt: now }, phone(), policy, now)).toMatchObject({ ok: false, error: { code: 'verification_expired' } });
    expect(decideResend({ ...pending, status: 'canceled' }, phone(), policy, now)).toMatchObject({ ok: false, error: { code: 'verification_not_pending' } });
  });
  it('runs under the verification\'s own limits and counts as a send', () => {
    const d = decideResend({ ...pending, maxSends: 2 }, phone(), policy, now);
    expect(d).toMatchObject({ ok: true, policy: { maxSends: 2 }, phone: { sends: 2, lockReason: 'sends' } });
    expect(decideResend(pending, phone({ sends: 6, lockedUntil: now + 5000, lockReason: 'sends' }), policy, now)).toMatchObject({ ok: false, error: { code: 'max_sends_reached' } });
  });
});
