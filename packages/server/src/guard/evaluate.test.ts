import { describe, expect, it } from 'vitest';
import type { GuardRow } from '../domain/records.js';
import { BLOCK_AFTER_MS, capacityOf, evaluate, onNotSent, onVerified, rowKey, type GuardRequest } from './evaluate.js';
import { prefixOf } from './guard.js';
import { applyOverrides, rulesForLevel, STANDARD_RULES, type Rule, type UnverifiedRule } from './rules.js';
import { compileGuard, validateGuardSettings } from './settings.js';
import { chargeSpend, refundSpend, spendKeys } from './spend.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 5, 1, 10);
const scope = (r: Rule) => (r.dimension === 'global' ? '*' : 'app_1');

/** The rows a store would hold, changed as a store would change them. */
class Rows {
  readonly map = new Map<string, GuardRow>();
  write(rows: GuardRow[]) {
    for (const r of rows) this.map.set(r.key, r);
  }
}

const start = (values: GuardRequest['values'], country: string | null = 'FR'): GuardRequest => ({ action: 'start', values: { app: 'app', global: 'all', ...values }, country, sends: 1 });

function run(rules: Rule[], rows: Rows, req: GuardRequest, now: number) {
  const e = evaluate(rules, rows.map, scope, req, now);
  rows.write(e.rows);
  return e;
}

describe('rate rules (GCRA)', () => {
  const rule: Rule = { kind: 'rate', id: 'ip-sends', dimension: 'ip', actions: ['start', 'resend'], limit: 3, period: 60 };

  it('lets the whole limit through at once, then one per period/limit, with the wait as Retry-After', () => {
    const rows = new Rows();
    for (let i = 0; i < 3; i++) expect(run([rule], rows, start({ ip: '192.0.2.1' }), T0).refusals).toEqual([]);
    const refused = run([rule], rows, start({ ip: '192.0.2.1' }), T0);
    expect(refused.refusals.map((r) => [r.reason, r.retryAfter])).toEqual([['ip_velocity', 20]]);
    expect(run([rule], rows, start({ ip: '192.0.2.2' }), T0).refusals).toEqual([]); // another address has its own limit
    expect(run([rule], rows, start({ ip: '192.0.2.1' }), T0 + 19_000).refusals).toHaveLength(1);
    expect(run([rule], rows, start({ ip: '192.0.2.1' }), T0 + 20_000).refusals).toEqual([]);
  });

  it('applies only to its actions, and not without a value for its dimension', () => {
    const rows = new Rows();
    for (let i = 0; i < 10; i++) {
      expect(run([rule], rows, { ...start({ ip: '192.0.2.1' }), action: 'check', sends: 0 }, T0).refusals).toEqual([]);
      expect(run([rule], rows, start({}), T0).refusals).toEqual([]);
    }
  });
});

describe('unverified budgets', () => {
  const rule: UnverifiedRule = { kind: 'unverified', id: 'prefix-unverified', dimension: 'prefix', floor: 5, ratio: 0.3, period: 3600, block: 12 * 3600 };

  it('refuses a prefix after floor sends that nobody verifies; blocks it once the budget stayed full two minutes; says only the reason', () => {
    const rows = new Rows();
    // The floor, and the floor again of sends too young to have been verified (nobody types a code in 10 ms).
    for (let i = 0; i < 10; i++) expect(run([rule], rows, start({ prefix: '+447700900' }), T0 + i).refusals).toEqual([]);
    const e = run([rule], rows, start({ prefix: '+447700900' }), T0 + 10);
    expect(e.refusals.map((r) => [r.reason, r.retryAfter])).toEqual([['prefix_concentration', null]]);
    expect(e.blocked).toEqual([]); // full, not yet blocked: in-flight sends may still be verified
    const t = T0 + 10 + BLOCK_AFTER_MS;
    const b = run([rule], rows, start({ prefix: '+447700900' }), t);
    expect(b.refusals).toHaveLength(1);
    expect(b.blocked).toHaveLength(1);
    expect(b.blocked[0]!.state.blockedUntil).toBe(t + 12 * HOUR);
    expect(rows.map.get(rowKey('app_1', 'prefix', '+447700900'))!.blockedUntil).toBe(t + 12 * HOUR);
    // Blocked: refused even when the budget drained, until the block ends; only a new block is reported as one.
    const later = run([rule], rows, start({ prefix: '+447700900' }), t + 2 * HOUR);
    expect(later.refusals).toHaveLength(1);
    expect(later.blocked).toEqual([]);
    expect(run([rule], rows, start({ prefix: '+447700901' }), t + 2 * HOUR).refusals).toEqual([]);
  });

  it('a verification while the budget is full restarts the two minutes: traffic whose codes come back is not blocked', () => {
    const rows = new Rows();
    const req = start({ prefix: '+447700902' });
    for (let i = 0; i < 10; i++) run([rule], rows, req, T0 + i);
    expect(run([rule], rows, req, T0 + 10).refusals).toHaveLength(1); // full since T0 + 10
    // A code typed after 90 s: one send given back, and the budget is no longer "full since" T0 + 10.
    rows.write(onVerified([rule], rows.map, scope, req, T0 + 90_000));
    // Two minutes after it first filled, it is full again (the room the verification gave is taken), not blocked.
    const t1 = T0 + 10 + BLOCK_AFTER_MS;
    let e = run([rule], rows, req, t1);
    for (let i = 1; i < 4 && e.refusals.length === 0; i++) e = run([rule], rows, req, t1 + i);
    expect(e.refusals).toHaveLength(1);
    expect(e.blocked).toEqual([]);
    // Without another verification it stays full for two minutes from then, and is blocked.
    expect(run([rule], rows, req, t1 + 3 + BLOCK_AFTER_MS).blocked).toHaveLength(1);
  });

  it('sends too young to have been verified are not counted, up to the floor, once: an attack gains the floor, no more', () => {
    const rows = new Rows();
    const req = start({ prefix: '+447700903' });
    // A value seen for the first time: room for its floor of codes being typed before any comes back.
    let passed = 0;
    for (let i = 0; i < 100; i++) if (run([rule], rows, req, T0 + i * 100).refusals.length === 0) passed++;
    expect(passed).toBe(10);
    // The young sends grow old unverified: they count, and no new allowance opens while the level stands above the
    // floor (a pause does not buy the attacker another floor; only the drain, 5 an hour, does).
    passed = 0;
    for (let i = 0; i < 100; i++) if (run([rule], rows, req, T0 + 60_000 + i * 30_000).refusals.length === 0) passed++;
    expect(passed).toBeLessThanOrEqual(5 * (50 / 60) + 1);
    // Slow traffic never has more than a few young sends: one every 10 s gets floor + about 2.
    const slow = new Rows();
    passed = 0;
    for (let i = 0; i < 30; i++) if (run([rule], slow, start({ prefix: '+447700904' }), T0 + i * 10_000).refusals.length === 0) passed++;
    expect(passed).toBeLessThanOrEqual(8);
  });

  it('a block ends when the attack stops, and is renewed while it goes on', () => {
    const quiet = new Rows();
    for (let i = 0; i < 6; i++) run([rule], quiet, start({ prefix: '+1555' }), T0);
    expect(run([rule], quiet, start({ prefix: '+1555' }), T0 + 12 * HOUR + 1).refusals).toEqual([]);

    const loud = new Rows();
    for (let h = 0; h <= 16; h++) for (let i = 0; i < 100; i++) run([rule], loud, start({ prefix: '+1555' }), T0 + h * HOUR + i * 3000);
    // The first block (from about T0 + 2 min) ran out at T0 + 12 h, but the refused sends kept the budget full, so
    // the attack still going on blocked it again.
    expect(loud.map.get(rowKey('app_1', 'prefix', '+1555'))!.blockedUntil).toBeGreaterThan(T0 + 24 * HOUR);
    // Bounded: at most one block period after the last refused send, the value is free again.
    expect(run([rule], loud, start({ prefix: '+1555' }), T0 + 16 * HOUR + 300_000 + 12 * HOUR + 1).refusals).toEqual([]);
  });

  it('verifications give their sends back: traffic that converts never fills the budget', () => {
    const rows = new Rows();
    for (let i = 0; i < 200; i++) {
      const req = start({ prefix: '+3361234' });
      expect(run([rule], rows, req, T0 + i * 1000).refusals).toEqual([]);
      rows.write(onVerified([rule], rows.map, scope, req, T0 + i * 1000 + 500));
    }
  });

  it('the capacity follows the verified history (a spike that converts passes), with the floor as its minimum', () => {
    const country: UnverifiedRule = { kind: 'unverified', id: 'country-unverified-hour', dimension: 'country', floor: 10, ratio: 0.3, period: 3600, block: 12 * 3600 };
    const rows = new Rows();
    // A steady market: 1,000 verified in the last hour.
    for (let i = 0; i < 1000; i++) {
      const req = start({ country: 'FR' });
      run([country], rows, req, T0 + i * 3600);
      rows.write(onVerified([country], rows.map, scope, req, T0 + i * 3600 + 1000));
    }
    const now = T0 + HOUR;
    const state = () => rows.map.get(rowKey('app_1', 'country', 'FR'))!.rules[country.id]!;
    expect(capacityOf(country, state(), now)).toBeGreaterThan(250);
    // A spike: 2,000 starts in ten minutes, 85 % verified: never refused.
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const req = start({ country: 'FR' });
      const t = now + i * 300;
      refused += run([country], rows, req, t).refusals.length;
      if (i % 20 >= 3) rows.write(onVerified([country], rows.map, scope, req, t + 200));
    }
    expect(refused).toBe(0);
    // The same volume that never converts is refused within the capacity.
    let passed = 0;
    for (let i = 0; i < 2000; i++) if (run([country], rows, start({ country: 'FR' }), now + 600_000 + i * 300).refusals.length === 0) passed++;
    // Within the capacity plus the room the last minutes' verifications made for sends in flight (981 when this was
    // written: that room decays within minutes, and the budget is full from then on).
    expect(passed).toBeLessThan(1100);
    let later = 0;
    for (let i = 0; i < 100; i++) if (run([country], rows, start({ country: 'FR' }), now + 1_300_000 + i * 300).refusals.length === 0) later++;
    expect(later).toBe(0);
    expect(capacityOf(country, state(), now + 600_000)).toBeGreaterThan(500);
  });

  it('a start the engine refused gives back what it took', () => {
    const rows = new Rows();
    for (let i = 0; i < 20; i++) {
      const req = start({ prefix: '+336' });
      expect(run([rule], rows, req, T0).refusals).toEqual([]);
      rows.write(onNotSent([rule], rows.map, scope, req, T0));
    }
  });
});

describe('distinct countries per address', () => {
  const rule: Rule = { kind: 'distinct', id: 'ip-countries', dimension: 'ip', max: 3, period: 86_400, block: 12 * 3600 };

  it('blocks an address that sends to a fourth country without a verification from it, for a day', () => {
    const rows = new Rows();
    for (const c of ['FR', 'DE', 'GB', 'FR', 'DE']) expect(run([rule], rows, start({ ip: '198.51.100.9' }, c), T0).refusals).toEqual([]);
    const e = run([rule], rows, start({ ip: '198.51.100.9' }, 'NG'), T0);
    expect(e.refusals.map((r) => r.reason)).toEqual(['many_countries_per_ip']);
    expect(run([rule], rows, start({ ip: '198.51.100.9' }, 'FR'), T0 + 1000).refusals).toHaveLength(1); // blocked now
  });

  it('countries verified from the address do not count', () => {
    const rows = new Rows();
    for (const c of ['FR', 'DE', 'GB', 'IT', 'ES']) {
      const req = start({ ip: '198.51.100.10' }, c);
      expect(run([rule], rows, req, T0).refusals).toEqual([]);
      rows.write(onVerified([rule], rows.map, scope, req, T0 + 1));
    }
  });
});

describe('several rules', () => {
  it('all or nothing: a refusal by one rule takes nothing from the others', () => {
    const rules: Rule[] = [
      { kind: 'rate', id: 'ip-sends', dimension: 'ip', actions: ['start'], limit: 1, period: 3600 },
      { kind: 'rate', id: 'prefix-sends', dimension: 'prefix', actions: ['start'], limit: 5, period: 3600 },
      { kind: 'unverified', id: 'ip-unverified', dimension: 'ip', floor: 3, ratio: 0.3, period: 3600, block: 3600 },
    ];
    const rows = new Rows();
    expect(run(rules, rows, start({ ip: 'a', prefix: 'p' }), T0).refusals).toEqual([]);
    for (let i = 0; i < 10; i++) expect(run(rules, rows, start({ ip: 'a', prefix: 'p' }), T0).refusals.map((r) => r.reason)).toEqual(['ip_velocity']);
    // The prefix's limit was not spent by the refused requests, nor an unverified budget that did not refuse.
    for (let i = 0; i < 4; i++) expect(run(rules, rows, start({ ip: `b${i}`, prefix: 'p' }), T0).refusals).toEqual([]);
    expect(run(rules, rows, start({ ip: 'c', prefix: 'p' }), T0).refusals.map((r) => r.rule.id)).toEqual(['prefix-sends']);
  });

  it('one row per value holds every rule on it, and says when it stops mattering', () => {
    const rows = new Rows();
    run(rulesForLevel('standard'), rows, start({ ip: '192.0.2.1', prefix: '+336123', country: 'FR', device: 'd1' }), T0);
    expect([...rows.map.keys()].sort()).toEqual(['app_1|country|FR', 'app_1|device|d1', 'app_1|ip|192.0.2.1', 'app_1|prefix|+336123']);
    expect(Object.keys(rows.map.get('app_1|ip|192.0.2.1')!.rules).sort()).toEqual(['ip-countries', 'ip-sends', 'ip-unverified']);
    for (const r of rows.map.values()) expect(r.expiresAt).toBeGreaterThan(T0);
  });
});

describe('levels and overrides', () => {
  it('basic lets twice the standard through, max half', () => {
    const lim = (lvl: 'basic' | 'standard' | 'max') => (rulesForLevel(lvl).find((r) => r.id === 'prefix-unverified') as UnverifiedRule).floor;
    expect(lim('basic')).toBe(2 * lim('standard'));
    expect(lim('max')).toBe(lim('standard') / 2);
  });

  it('turns rules off, changes their numbers, adds rate rules, and names the field that is wrong', () => {
    const rules = applyOverrides(STANDARD_RULES, {
      'ip-countries': false, 'prefix-unverified': { floor: 3 }, 'country-cap': { kind: 'rate', dimension: 'country', actions: ['start'], limit: 100, period: 3600 },
    });
    expect(rules.find((r) => r.id === 'ip-countries')).toBeUndefined();
    expect((rules.find((r) => r.id === 'prefix-unverified') as UnverifiedRule).floor).toBe(3);
    expect(rules.find((r) => r.id === 'country-cap')).toMatchObject({ kind: 'rate', dimension: 'country', limit: 100 });
    const err = (o: unknown) => {
      try {
        applyOverrides(STANDARD_RULES, o as Record<string, unknown>);
      } catch (e) {
        return (e as { extensions: { errors: { pointer: string }[] } }).extensions.errors[0]!.pointer;
      }
      return null;
    };
    expect(err({ 'prefix-unverified': { floor: 0 } })).toBe('/settings/guard/rules/prefix-unverified/floor');
    expect(err({ 'prefix-unverified': { limit: 3 } })).toBe('/settings/guard/rules/prefix-unverified/limit');
    expect(err({ 'my-rule': { floor: 3 } })).toBe('/settings/guard/rules/my-rule');
    expect(err({ 'ip-sends': { dimension: 'country' } })).toBe('/settings/guard/rules/ip-sends/dimension');
  });

  it('validates allow lists and caps, and matches numbers, prefixes and address ranges', () => {
    const s = validateGuardSettings({ allow: { numbers: ['+33612345678'], prefixes: ['+3247'], ips: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] }, spendCap: { daily: 5 } });
    const g = compileGuard(s, []);
    expect(g.allowed('+33612345678', null)).toBe(true);
    expect(g.allowed('+32470000000', null)).toBe(true);
    expect(g.allowed('+33612345679', null)).toBe(false);
    expect(g.allowed(null, '10.1.2.3')).toBe(true);
    expect(g.allowed(null, '::ffff:10.1.2.3')).toBe(true);
    expect(g.allowed(null, '2001:db8:1::1')).toBe(true);
    expect(g.allowed(null, '192.0.2.8')).toBe(false);
    expect(g.caps).toEqual({ daily: 5, monthly: null });
    expect(() => validateGuardSettings({ allow: { ips: ['10.0.0.0/33'] } })).toThrow(/not an IP address or CIDR/);
    expect(() => validateGuardSettings({ allow: { numbers: ['0612'] } })).toThrow(/E.164/);
    expect(() => validateGuardSettings({ spendCap: { daily: -1 } })).toThrow(/positive/);
    expect(() => validateGuardSettings({ mode: 'loud' })).toThrow(/mode/);
  });
});

describe('spend caps', () => {
  it('charges each send, warns once at 80 %, refuses past the cap until the next UTC day', () => {
    const rows = new Rows();
    const caps = { daily: 1, monthly: null };
    expect(spendKeys('app_1', caps, T0)).toEqual(['app_1|spend|2026-06-01']);
    const warnings: number[] = [];
    let i = 0;
    for (; i < 20; i++) {
      const o = chargeSpend('app_1', caps, rows.map, 0.07, T0);
      if (o.refused) break;
      rows.write(o.rows);
      warnings.push(...o.warnings.map((w) => w.spent));
    }
    expect(i).toBe(14); // 14 × 0.07 = 0.98; the 15th would pass 1
    expect(warnings).toEqual([0.84]);
    const refused = chargeSpend('app_1', caps, rows.map, 0.07, T0);
    expect(refused.refused).toEqual({ period: 'daily', retryAfter: 14 * 3600 });
    rows.write(refundSpend('app_1', caps, rows.map, 0.07, T0));
    expect(rows.map.get('app_1|spend|2026-06-01')!.rules['spend-day']!.level).toBeCloseTo(0.91, 6);
    expect(chargeSpend('app_1', caps, rows.map, 0.07, T0 + 14 * HOUR).refused).toBeNull(); // a new day
  });
});

describe('prefixOf', () => {
  it('drops the last three digits of a number, keeps the domain of an address', () => {
    expect(prefixOf('+447700900123')).toBe('+447700900');
    expect(prefixOf('ada@example.com')).toBe('@example.com');
  });
});

describe('sends in flight', () => {
  it('a tenfold spike whose codes take people 30 s to type mostly passes; the same volume that never verifies does not', () => {
    const country: UnverifiedRule = { kind: 'unverified', id: 'country-unverified-hour', dimension: 'country', floor: 30, ratio: 0.3, period: 3600, block: 12 * 3600 };
    const rows = new Rows();
    // Events in time order: starts, and verifications 30 s after 90 % of them.
    const simulate = (from: number, seconds: number, perSecond: number, verify: boolean) => {
      const due: { t: number; req: GuardRequest }[] = [];
      let refused = 0;
      for (let i = 0; i < seconds * perSecond; i++) {
        const t = from + (i * 1000) / perSecond;
        while (due.length > 0 && due[0]!.t <= t) {
          const d = due.shift()!;
          rows.write(onVerified([country], rows.map, scope, d.req, d.t));
        }
        const req = start({ country: 'FR' });
        const e = run([country], rows, req, t);
        refused += e.refusals.length;
        if (e.refusals.length === 0 && verify && i % 10 !== 0) due.push({ t: t + 30_000, req });
      }
      for (const d of due) rows.write(onVerified([country], rows.map, scope, d.req, d.t));
      return refused;
    };
    // A new country at 2 a second: 60 codes being typed before the first comes back, against its floor and the floor
    // of young sends; then each verification makes room for four (1 refused when this was written; 28 with one).
    expect(simulate(T0, 600, 2, true)).toBeLessThan(5);
    // Two minutes at 20 a second: 600 sends in flight at once, plus the 10 % never verified, against room for four
    // per verification of the last minutes: none refused when this was written (63 of 2,400 with room for one; 1,169
    // without any room for sends in flight).
    expect(simulate(T0 + 600_000, 120, 20, true)).toBeLessThan(10);
    // Pumping later: refused once the capacity this busy country earned (0.3 × its verified history) is used up.
    expect(simulate(T0 + 3 * 3600_000, 120, 20, false)).toBeGreaterThan(1500);
  });
});
