import { describe, expect, it } from 'vitest';
import { DELIVER_BOUNDS, VERIFY_BOUNDS, applyFact, bucketOf, figures, prefixOf, quantile, zeroCounts } from './analytics.js';

describe('analytics histograms', () => {
  it('puts a time in the first bucket whose bound holds it; past the last bound, the open bucket', () => {
    expect(bucketOf(VERIFY_BOUNDS, 0)).toBe(0);
    expect(bucketOf(VERIFY_BOUNDS, 5)).toBe(0);
    expect(bucketOf(VERIFY_BOUNDS, 5.01)).toBe(1);
    expect(bucketOf(VERIFY_BOUNDS, 600)).toBe(11);
    expect(bucketOf(VERIFY_BOUNDS, 601)).toBe(12);
  });

  it('interpolates a quantile inside its bucket, gives the last bound in the open bucket, null when empty', () => {
    const c = new Array<number>(13).fill(0);
    expect(quantile(DELIVER_BOUNDS, c, 0.5)).toBeNull();
    c[3] = 4; // four deliveries in (3, 5]
    expect(quantile(DELIVER_BOUNDS, c, 0.5)).toBe(4);
    expect(quantile(DELIVER_BOUNDS, c, 0.25)).toBe(3.5);
    c[12] = 4; // and four past 300 s
    expect(quantile(DELIVER_BOUNDS, c, 0.95)).toBe(300);
    expect(quantile(DELIVER_BOUNDS, c, 0.5)).toBe(5);
  });

  it('figures: rates rounded, null without a denominator; delivery rate only once a receipt came', () => {
    const c = zeroCounts();
    expect(figures(c).verifications.conversionRate).toBeNull();
    const s = { appId: 'a', at: 0, countryIso: 'FR', to: '+33612345678', channel: 'sms', provider: 'p' };
    for (let i = 0; i < 3; i++) applyFact(c, { kind: 'started', subject: s });
    applyFact(c, { kind: 'verified', subject: s, seconds: 12 });
    applyFact(c, { kind: 'sent', subject: s, cost: 0.05, fallback: false });
    applyFact(c, { kind: 'sent', subject: s, cost: 0.05, fallback: true });
    const f = figures(c);
    expect(f.verifications).toMatchObject({ started: 3, verified: 1, pending: 2, conversionRate: 0.3333 });
    expect(f.messages).toMatchObject({ sent: 2, fallbacks: 1, deliveryRate: null, acceptanceRate: 1 });
    expect(f.cost).toEqual({ total: 0.1, perVerified: 0.1 });
    applyFact(c, { kind: 'undelivered', subject: s });
    expect(figures(c).messages.deliveryRate).toBe(0);
  });

  it('keeps the calling code and the first national digits as the prefix; none for an email', () => {
    expect(prefixOf('+33612345678')).toBe('33612');
    expect(prefixOf('someone@example.com')).toBe('');
  });
});
