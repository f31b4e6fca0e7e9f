import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, resolvePolicy, validateSettings } from './policy.js';

describe('policy', () => {
  it('defaults to seed 000 standard configuration', () => {
    expect(DEFAULT_POLICY).toEqual({ codeType: 'numeric', codeLength: 6, ttl: 300, maxAttempts: 3, maxSends: 6, resendCooldown: 60, lockout: 86_400 });
    expect(resolvePolicy({})).toEqual(DEFAULT_POLICY);
  });
  it("applies the app's settings as defaults, which a request overrides within the ranges (seed 001)", () => {
    expect(resolvePolicy({ codeLength: 8, ttl: 600 }, { codeLength: 10, ttl: 120 })).toMatchObject({ codeLength: 10, ttl: 120 });
    expect(resolvePolicy({ codeLength: 8, ttl: 120, maxAttempts: 3 }, { codeLength: 4, ttl: 900, maxAttempts: 5 })).toMatchObject({ codeLength: 4, ttl: 900, maxAttempts: 5 });
    expect(resolvePolicy({ codeLength: 8 })).toMatchObject({ codeLength: 8 });
    expect(resolvePolicy({}, { codeLength: 4, maxAttempts: 10 })).toMatchObject({ codeLength: 4, maxAttempts: 10 });
  });
  it("binds a request only by the app's explicit limits, naming the field", () => {
    const limits = { maxTtl: 600, maxAttempts: 3, minCodeLength: 6 };
    expect(resolvePolicy({ limits }, { ttl: 600, maxAttempts: 3, codeLength: 6 })).toMatchObject({ ttl: 600, maxAttempts: 3, codeLength: 6 });
    expect(() => resolvePolicy({ limits }, { ttl: 900 })).toThrow('ttl must be at most 600 for this app (settings.limits.maxTtl)');
    expect(() => resolvePolicy({ limits }, { maxAttempts: 4 })).toThrow('maxAttempts must be at most 3');
    expect(() => resolvePolicy({ limits }, { codeLength: 4 })).toThrow('codeLength must be at least 6');
    expect(validateSettings({ ttl: 300, limits })).toMatchObject({ limits });
    expect(() => validateSettings({ ttl: 900, limits })).toThrow('settings.ttl (900) is outside settings.limits.maxTtl (600)');
    expect(() => validateSettings({ limits: { maxTtl: 5 } })).toThrow('settings.limits.maxTtl must be an integer from 60 to 1800');
  });
  it('names the field and the range when out of range', () => {
    expect(() => resolvePolicy({}, { codeLength: 11 })).toThrow('codeLength must be an integer from 4 to 10');
    expect(() => validateSettings({ ttl: 30 })).toThrow('settings.ttl must be an integer from 60 to 1800');
    expect(() => validateSettings({ maxAttempts: 0 })).toThrow('settings.maxAttempts must be an integer from 1 to 10');
  });
  it('normalises country lists', () => {
    expect(validateSettings({ allowedCountries: ['fr', ' be '] }).allowedCountries).toEqual(['FR', 'BE']);
    expect(() => validateSettings({ deniedCountries: ['FRA'] })).toThrow('ISO 3166-1');
  });
});

describe('delivery settings', () => {
  it('validates default channels and routing', () => {
    expect(validateSettings({ defaultChannels: ['whatsapp', 'sms'], routing: { sms: [{ countries: ['fr'], providers: ['twilio'] }] } }).routing).toEqual({ sms: [{ countries: ['FR'], providers: ['twilio'] }] });
    expect(() => validateSettings({ defaultChannels: ['sms', 'sms'] })).toThrow('distinct');
    expect(() => validateSettings({ defaultChannels: ['fax' as never] })).toThrow('not a channel');
    expect(() => validateSettings({ routing: { sms: [{ providers: [] }] } })).toThrow('providers');
    expect(() => validateSettings({ routing: { pigeon: [{ providers: ['a'] }] } as never })).toThrow('not a channel');
    expect(() => validateSettings({ stepTimeout: 5 })).toThrow('settings.stepTimeout must be an integer from 15 to 300');
  });
});
