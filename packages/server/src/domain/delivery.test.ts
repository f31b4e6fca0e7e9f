import { describe, expect, it } from 'vitest';
import { acceptedOutcome, claimedMessage, failedOutcome, outcomeWithoutSending, receiptStep, type ClaimedMessage, type Receipt } from './delivery.js';

const r = (x: Partial<Receipt> = {}): Receipt => ({ provider: 'twilio', messageId: 'msg_1', providerMessageId: 'SM1', status: 'delivered', at: 0, ...x });
const m = (x: Partial<{ provider: string | null; providerMessageId: string | null; status: 'sending' | 'sent' | 'delivered' | 'failed' | 'queued' }> = {}) =>
  ({ provider: 'twilio', providerMessageId: 'SM1', status: 'sent' as const, ...x });

describe('receiptStep', () => {
  it('applies only to a message of the provider that sent it, with the same provider message id', () => {
    expect(receiptStep(undefined, r())).toEqual({ action: 'unknown' });
    expect(receiptStep(m({ provider: 'vonage' }), r())).toEqual({ action: 'unknown' });
    expect(receiptStep(m({ providerMessageId: 'SM2' }), r())).toEqual({ action: 'mismatch' });
  });
  it('moves a message forward only', () => {
    expect(receiptStep(m(), r())).toEqual({ action: 'apply', advance: false });
    expect(receiptStep(m({ status: 'sending' }), r({ status: 'undelivered' }))).toEqual({ action: 'apply', advance: true });
    expect(receiptStep(m({ status: 'delivered' }), r({ status: 'failed' }))).toEqual({ action: 'ignore', setProviderMessageId: null });
    expect(receiptStep(m({ status: 'queued' }), r())).toEqual({ action: 'ignore', setProviderMessageId: null });
  });
  it('a `sent` receipt changes nothing but records the provider message id the message lacks', () => {
    expect(receiptStep(m({ providerMessageId: null }), r({ status: 'sent' }))).toEqual({ action: 'ignore', setProviderMessageId: 'SM1' });
    expect(receiptStep(m(), r({ status: 'sent' }))).toEqual({ action: 'ignore', setProviderMessageId: null });
  });
});

const claimed = (x: Partial<ClaimedMessage> = {}): ClaimedMessage => ({
  ...claimedMessage({
    id: 'msg_1', appId: 'app_1', verificationId: 'ver_1', channel: 'sms', to: '+33612345678', locale: 'fr', body: 'code {{pin}}', status: 'sending', attempts: 1,
    availableAt: 0, createdAt: 0, sentAt: null, provider: 'a', error: null, parts: 1, cost: 0, step: 0, route: ['a', 'b'], sender: null, routeIndex: 0,
    providerAttempts: 0, providerMessageId: null, errorCode: null, price: null, priceCurrency: null, deliveredAt: null, failedAt: null, fallbackAt: null,
    outcomeUnknown: false,
  }, {
    codeSealed: Buffer.alloc(1), verificationStatus: 'pending', ttlSeconds: 300, hasNextStep: true, stepTimeout: 30, crashedAttempt: null,
    attempt: { id: 'att_1', provider: 'a' }, callbackUrl: null, workflowStep: true, countryIso: 'FR',
  }),
  ...x,
});
const failure = (kind: 'rejected' | 'transient' | 'unknown') => ({ kind, error: 'boom', code: undefined, httpStatus: 500 });
const opts = { maxTries: 3, retryDelayMs: (tries: number) => tries * 1000 };

describe('delivery outcome', () => {
  it('sends nothing for a crashed attempt, a closed verification, or no provider', () => {
    expect(outcomeWithoutSending(claimed({ crashedAttempt: { id: 'att_0', provider: 'a' } }), 10)).toMatchObject({ status: 'sent', outcomeUnknown: true, fallbackAt: 30_010, attempt: { outcome: 'unknown' } });
    expect(outcomeWithoutSending(claimed({ verificationStatus: 'verified' }), 10)).toMatchObject({ status: 'skipped', errorCode: 'verification_closed' });
    expect(outcomeWithoutSending(claimed({ attempt: null }), 10)).toMatchObject({ status: 'failed', errorCode: 'no_provider', advance: true });
    expect(outcomeWithoutSending(claimed(), 10)).toBeNull();
  });
  it('an accepted message is sent and its step\'s fallback timer starts', () => {
    expect(acceptedOutcome(claimed(), 'att_1', 'a', { providerMessageId: 'SM1' }, 10)).toMatchObject({ status: 'sent', fallbackAt: 30_010, providerAttempts: 1, attempt: { outcome: 'accepted' } });
  });
  it('transient: the same provider after the backoff while tries are left, then the next provider, then the next step', () => {
    expect(failedOutcome(claimed({ providerAttempts: 1 }), 'att_1', 'a', failure('transient'), opts, 10)).toMatchObject({ status: 'queued', availableAt: 2010, routeIndex: 0, providerAttempts: 2 });
    expect(failedOutcome(claimed({ providerAttempts: 2 }), 'att_1', 'a', failure('transient'), opts, 10)).toMatchObject({ status: 'queued', availableAt: 10, routeIndex: 1, providerAttempts: 0 });
    expect(failedOutcome(claimed({ routeIndex: 1 }), 'att_1', 'b', failure('rejected'), opts, 10)).toMatchObject({ status: 'failed', advance: true, errorCode: 'rejected' });
  });
  it('unknown: counted as sent, never re-sent nor sent elsewhere', () => {
    const o = failedOutcome(claimed(), 'att_1', 'a', failure('unknown'), opts, 10);
    expect(o).toMatchObject({ status: 'sent', outcomeUnknown: true, fallbackAt: 30_010, attempt: { outcome: 'unknown' } });
    expect('routeIndex' in o || 'availableAt' in o).toBe(false);
  });
});
