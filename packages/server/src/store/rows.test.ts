import { describe, expect, it } from 'vitest';
import type { RuleState } from '../domain/records.js';
import { packRules, unpackRules } from './rows.js';

const at = 1_796_104_846_516;
const base: RuleState = { level: 0, at, vCur: 0, vPrev: 0, vStart: at, vBase: 0, seen: null, blockedUntil: null, blockedAt: null, fullSince: null, rv: 0, rvAt: at, y: 0, exp: at };

describe('guard rule states as stored', () => {
  it('round-trip exactly, every field', () => {
    const states: Record<string, RuleState> = {
      rate: { ...base, level: 0.8333333333333334, exp: at + 120_000 },
      unverified: { ...base, level: 3, vCur: 7, vPrev: 2, vStart: at - 1_000, vBase: 4.5, rv: 1.25, rvAt: at - 30, blockedUntil: at + 43_200_000, blockedAt: at, fullSince: at - 120_000, exp: at + 9e7 },
      distinct: { ...base, seen: { u: ['GB'], v: ['FR', 'DE'] }, blockedUntil: null, exp: at + 86_400_000 },
      fresh: base,
      fullNow: { ...base, level: 10, fullSince: at },
      blockedNow: { ...base, blockedAt: at, blockedUntil: at + 5 },
      verifiedNow: { ...base, rv: 1, rvAt: at },
      young: { ...base, level: 4, y: 3.5 },
    };
    const stored = JSON.parse(JSON.stringify(packRules(states))) as Parameters<typeof unpackRules>[0];
    expect(unpackRules(stored)).toEqual(states);
    // Without a recent verification its time is not kept (it weighs nothing): it reads back as the state's time.
    const none = unpackRules(JSON.parse(JSON.stringify(packRules({ r: { ...base, at: at + 7, rvAt: at } }))) as Parameters<typeof unpackRules>[0]);
    expect([none.r!.rv, none.r!.rvAt]).toEqual([0, at + 7]);
  });

  it('are a fraction of the object form (the guard writes one per start and verification)', () => {
    const s = { ...base, level: 1, exp: at + 120_000, vCur: 1, rv: 1, rvAt: at + 12 };
    const packed = JSON.stringify(packRules({ 'ip-sends': s, 'ip-unverified': s }));
    expect(packed.length * 3).toBeLessThan(JSON.stringify({ 'ip-sends': s, 'ip-unverified': s }).length);
    expect(JSON.parse(JSON.stringify(packRules({ r: base })))).toEqual({ r: [0, at, 0] });
  });

  it('read rows written in the object form', () => {
    const { rv: _rv, rvAt: _rvAt, fullSince: _f, y: _y, ...old } = { ...base, level: 2, exp: at + 5 };
    expect(unpackRules({ r: old as RuleState })).toEqual({ r: { ...base, level: 2, exp: at + 5 } });
  });
});
