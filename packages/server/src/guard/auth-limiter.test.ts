import { describe, expect, it } from 'vitest';
import { FakeClock } from '../domain/clock.js';
import { OtpdError } from '../domain/errors.js';
import { AuthLimiter } from './auth-limiter.js';
import { sourceKey } from './client-address.js';

const refused = (l: AuthLimiter, ip: string, credential: string | null = null): boolean => {
  try {
    l.check(ip, credential);
    return false;
  } catch (e) {
    expect(e).toBeInstanceOf(OtpdError);
    expect((e as OtpdError).code).toBe('rate_limited');
    return true;
  }
};

describe('sourceKey', () => {
  it('keeps IPv4, groups IPv6 by /64, maps IPv4-mapped IPv6 to IPv4', () => {
    expect(sourceKey('203.0.113.7')).toBe('203.0.113.7');
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(sourceKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(sourceKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });
});

describe('AuthLimiter', () => {
  it('blocks a source after max failures until its window ends', () => {
    const clock = new FakeClock();
    const l = new AuthLimiter(clock, { max: 3, windowMs: 60_000 });
    for (let i = 0; i < 2; i++) l.fail('198.51.100.1');
    expect(refused(l, '198.51.100.1')).toBe(false);
    l.fail('198.51.100.1');
    expect(refused(l, '198.51.100.1')).toBe(true);
    expect(refused(l, '198.51.100.2')).toBe(false);
    clock.advance(59_999);
    expect(refused(l, '198.51.100.1')).toBe(true);
    clock.advance(1);
    expect(refused(l, '198.51.100.1')).toBe(false);
  });

  it('counts one IPv6 /64 as one source: fresh addresses in it buy nothing', () => {
    const l = new AuthLimiter(new FakeClock(), { max: 5 });
    for (let i = 0; i < 5; i++) l.fail(`2001:db8:7:7::${(i + 1).toString(16)}`);
    expect(refused(l, '2001:db8:7:7:dead:beef:0:1')).toBe(true);
    expect(refused(l, '2001:db8:7:8::1')).toBe(false);
  });

  it('lets a credential that worked through a blocked source, and nothing else', () => {
    const clock = new FakeClock();
    const l = new AuthLimiter(clock, { max: 2, knownGoodMs: 3_600_000 });
    l.succeed('otpd_good_key');
    l.fail('192.0.2.9');
    l.fail('192.0.2.9');
    expect(refused(l, '192.0.2.9', 'otpd_good_key')).toBe(false);
    expect(refused(l, '192.0.2.9', 'otpd_never_seen')).toBe(true);
    expect(refused(l, '192.0.2.9', null)).toBe(true);
    clock.advance(3_600_000);
    expect(refused(l, '192.0.2.9', 'otpd_good_key')).toBe(false); // the block itself ended after a minute
    l.fail('192.0.2.9');
    l.fail('192.0.2.9');
    expect(refused(l, '192.0.2.9', 'otpd_good_key')).toBe(true); // not seen working for an hour: no longer vouched for
  });

  it('a flood of new sources never evicts a blocked one, and memory stays bounded', () => {
    const clock = new FakeClock();
    const l = new AuthLimiter(clock, { max: 20, maxSources: 1_000 });
    for (let i = 0; i < 20; i++) l.fail('198.51.100.66');
    for (let i = 0; i < 50_000; i++) {
      l.fail(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      if (i % 1000 === 0) clock.advance(1);
    }
    expect(refused(l, '198.51.100.66')).toBe(true);
    expect(l.size.counting).toBeLessThanOrEqual(1_000);
    expect(l.size.blocked).toBe(1);
  });

  it('keeps counting an attacker that is still below the limit while others come and go, oldest evicted first', () => {
    const clock = new FakeClock();
    const l = new AuthLimiter(clock, { max: 10, maxSources: 100 });
    for (let i = 0; i < 9; i++) l.fail('198.51.100.77');
    // Expired windows are dropped before anything live.
    clock.advance(1_000);
    for (let i = 0; i < 99; i++) l.fail(`10.0.0.${i}`);
    clock.advance(60_000);
    l.fail('198.51.100.77'); // a new window for the attacker: re-inserted at the back
    for (let i = 0; i < 99; i++) l.fail(`10.0.1.${i}`); // the first 99 are expired and make room
    for (let i = 0; i < 9; i++) l.fail('198.51.100.77');
    expect(refused(l, '198.51.100.77')).toBe(true);
  });

  it('bounds the known-good credentials (least recently used dropped)', () => {
    const l = new AuthLimiter(new FakeClock(), { maxKnownGood: 3 });
    for (const c of ['a', 'b', 'c', 'a', 'd']) l.succeed(c);
    expect(l.size.knownGood).toBe(3);
  });
});
