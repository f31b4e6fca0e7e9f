/**
 * The guard's rules, as data. A rule names a dimension of the request (the end user's address, the number's prefix,
 * its country, the app…) and a kind; its state is one row per (app, rule, value) in the store, so every node shares
 * it. Three kinds, each one small pure function in `evaluate.ts`:
 *
 * - `rate`: a plain rate limit, `limit` requests per `period` seconds per value (GCRA: the whole limit may come at
 *   once, then one per period/limit). A refusal is `rate_limited` with Retry-After; refused requests cost nothing.
 * - `unverified`: a budget of sends that were not (yet) verified per value: each send takes one unit, each
 *   verification gives back the units of its sends, and the budget drains by its capacity per `period`. The capacity
 *   follows the value's own verified history: max(`floor`, `ratio` × verified in the period, or the decaying
 *   maximum of earlier periods). Traffic that converts never fills it (a marketing spike passes); traffic that
 *   never converts (SMS pumping) fills it within `floor` sends. Filling it blocks the value for `block` seconds
 *   (`fraud_blocked`); sends refused while blocked still count, so a block is renewed while the attack goes on.
 * - `distinct`: how many countries one value (an address) sends to without a verification from it in `period`
 *   seconds; more than `max` blocks the value.
 *
 * A new rule of an existing kind is data (an app may add its own rate rules); a new kind is one function.
 */
import { OtpdError } from '../domain/errors.js';

export const DIMENSIONS = ['phone', 'ip', 'device', 'prefix', 'range', 'country', 'app', 'global'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export const GUARD_ACTIONS = ['start', 'resend', 'check'] as const;
export type GuardAction = (typeof GUARD_ACTIONS)[number];

export const LEVELS = ['basic', 'standard', 'max'] as const;
export type GuardLevel = (typeof LEVELS)[number];

export const MODES = ['off', 'shadow', 'enforce'] as const;
export type GuardMode = (typeof MODES)[number];

/** Digits dropped from the end of a number to form its prefix: +447700900123 → +447700900 (1,000 numbers). */
export const PREFIX_DROP = 3;
/**
 * Digits dropped to form its range: +447700900123 → +4477009 (100,000 numbers). Premium ranges that pump are blocks
 * of this order; an attack spread over one in a country with traffic stays under every prefix's floor and inside the
 * country's earned capacity (measured: 480 of 480 sends leaked in 8 minutes, then the whole country was blocked).
 */
export const RANGE_DROP = 5;

export interface RateRule {
  kind: 'rate';
  id: string;
  dimension: Dimension;
  actions: GuardAction[];
  limit: number;
  /** Seconds. */
  period: number;
}

export interface UnverifiedRule {
  kind: 'unverified';
  id: string;
  dimension: 'ip' | 'device' | 'prefix' | 'range' | 'country';
  floor: number;
  ratio: number;
  period: number;
  /** Seconds a value stays blocked once its budget is full. */
  block: number;
}

export interface DistinctRule {
  kind: 'distinct';
  id: string;
  dimension: 'ip' | 'device';
  /** Most countries without a verification from the value in the period. */
  max: number;
  period: number;
  block: number;
}

export type Rule = RateRule | UnverifiedRule | DistinctRule;

/** Reason codes per rule: what the calling backend reads, never thresholds or counts. */
export function reasonOf(rule: Rule): string {
  switch (rule.kind) {
    case 'rate': return `${rule.dimension}_velocity`;
    case 'unverified': return rule.dimension === 'prefix' || rule.dimension === 'range' ? `${rule.dimension}_concentration` : `poor_conversion_${rule.dimension}`;
    case 'distinct': return `many_countries_per_${rule.dimension}`;
  }
}

const HOUR = 3600;
const DAY = 86_400;
const BLOCK = 12 * HOUR;

/**
 * The standard level. Sends are starts and resends (each may cost money); checks have their own per-address limit
 * (the per-verification and per-phone tries are the engine's policy). Limits per app and global are off by default:
 * an app or the server sets them (`rules` / OTPD_GUARD_GLOBAL).
 */
export const STANDARD_RULES: readonly Rule[] = Object.freeze([
  // A backstop on volume only: one address can be a whole carrier's NAT (what never converts is the budget's). One a
  // second sustained: measured, a NAT at one start a second lost a third of its starts after ten minutes at 600/h.
  { kind: 'rate', id: 'ip-sends', dimension: 'ip', actions: ['start', 'resend'], limit: 3600, period: HOUR },
  { kind: 'rate', id: 'ip-checks', dimension: 'ip', actions: ['check'], limit: 60, period: 60 },
  { kind: 'rate', id: 'device-sends', dimension: 'device', actions: ['start', 'resend'], limit: 10, period: HOUR },
  { kind: 'rate', id: 'prefix-sends', dimension: 'prefix', actions: ['start', 'resend'], limit: 30, period: HOUR },
  { kind: 'unverified', id: 'prefix-unverified', dimension: 'prefix', floor: 10, ratio: 0.3, period: HOUR, block: BLOCK },
  { kind: 'unverified', id: 'range-unverified', dimension: 'range', floor: 15, ratio: 0.3, period: HOUR, block: BLOCK },
  { kind: 'unverified', id: 'country-unverified-hour', dimension: 'country', floor: 30, ratio: 0.3, period: HOUR, block: BLOCK },
  { kind: 'unverified', id: 'country-unverified-day', dimension: 'country', floor: 100, ratio: 0.3, period: DAY, block: BLOCK },
  { kind: 'unverified', id: 'ip-unverified', dimension: 'ip', floor: 10, ratio: 0.3, period: HOUR, block: BLOCK },
  { kind: 'distinct', id: 'ip-countries', dimension: 'ip', max: 3, period: DAY, block: BLOCK },
] satisfies Rule[]);

/** How a level scales the standard rules: `basic` lets twice as much through, `max` half (ratios likewise). */
const SCALE: Record<GuardLevel, { volume: number; ratio: number }> = {
  basic: { volume: 2, ratio: 0.5 },
  standard: { volume: 1, ratio: 0.3 },
  max: { volume: 0.5, ratio: 0.2 },
};

export function rulesForLevel(level: GuardLevel): Rule[] {
  const s = SCALE[level];
  const n = (v: number) => Math.max(1, Math.round(v * s.volume));
  return STANDARD_RULES.map((r): Rule => {
    switch (r.kind) {
      case 'rate': return { ...r, actions: [...r.actions], limit: n(r.limit) };
      case 'unverified': return { ...r, floor: n(r.floor), ratio: s.ratio };
      case 'distinct': return { ...r, max: n(r.max) };
    }
  });
}

/** What settings may change in a rule (false: the rule is off), or a whole new rate rule. */
export type RuleOverride = false | Partial<Omit<RateRule, 'kind' | 'id'>> | Partial<Omit<UnverifiedRule, 'kind' | 'id'>> | Partial<Omit<DistinctRule, 'kind' | 'id'>>;

const RULE_ID = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** `invalid_request` naming the settings field at `pointer` (guard settings and rule overrides). */
export const bad = (pointer: string, detail: string) =>
  new OtpdError('invalid_request', `${pointer.slice(1).replaceAll('/', '.')} ${detail}`, { extensions: { errors: [{ pointer, detail }] } });

function intIn(v: unknown, min: number, max: number, pointer: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(pointer, `must be an integer from ${min} to ${max}`);
  return v;
}

/**
 * The rules of a level with an app's overrides applied: `false` turns a rule off, an object changes its numbers, an
 * unknown id with `kind: 'rate'` adds a rate rule. Throws `invalid_request` naming the field.
 */
export function applyOverrides(base: readonly Rule[], overrides: Record<string, unknown> | undefined, where = '/settings/guard/rules'): Rule[] {
  const out = base.map((r) => ({ ...r }) as Rule);
  if (overrides === undefined) return out;
  if (!overrides || typeof overrides !== 'object' || Array.isArray(overrides)) throw bad(where, 'must be an object of rule id -> false or settings');
  for (const [id, o] of Object.entries(overrides)) {
    const p = `${where}/${id}`;
    if (!RULE_ID.test(id)) throw bad(p, 'is not a rule id (a-z, 0-9, -)');
    const i = out.findIndex((r) => r.id === id);
    if (o === false) {
      if (i >= 0) out.splice(i, 1);
      continue;
    }
    if (!o || typeof o !== 'object' || Array.isArray(o)) throw bad(p, 'must be false or an object');
    const v = o as Record<string, unknown>;
    let rule: Rule;
    if (i < 0) {
      if (v.kind !== 'rate') throw bad(p, 'is not a built-in rule; a new rule needs kind "rate", dimension, actions, limit and period');
      rule = { kind: 'rate', id, dimension: 'app', actions: ['start', 'resend'], limit: 0, period: 0 };
    } else {
      rule = out[i]!;
      if (v.kind !== undefined && v.kind !== rule.kind) throw bad(`${p}/kind`, `cannot change (${rule.kind})`);
    }
    const allowed = new Set(['kind', 'period', ...(rule.kind === 'rate' ? ['dimension', 'actions', 'limit'] : rule.kind === 'unverified' ? ['floor', 'ratio', 'block'] : ['max', 'block'])]);
    for (const k of Object.keys(v)) if (!allowed.has(k)) throw bad(`${p}/${k}`, `is not a setting of a ${rule.kind} rule`);
    if (v.period !== undefined) rule.period = intIn(v.period, 1, 30 * 86_400, `${p}/period`);
    if (rule.kind === 'rate') {
      if (v.dimension !== undefined) {
        if (i >= 0) throw bad(`${p}/dimension`, 'of a built-in rule cannot change');
        if (!DIMENSIONS.includes(v.dimension as Dimension)) throw bad(`${p}/dimension`, `must be one of ${DIMENSIONS.join(', ')}`);
        rule.dimension = v.dimension as Dimension;
      }
      if (v.actions !== undefined) {
        if (!Array.isArray(v.actions) || v.actions.length === 0 || !v.actions.every((a) => GUARD_ACTIONS.includes(a as GuardAction))) {
          throw bad(`${p}/actions`, `must be a non-empty list of ${GUARD_ACTIONS.join(', ')}`);
        }
        rule.actions = [...new Set(v.actions as GuardAction[])];
      }
      if (v.limit !== undefined) rule.limit = intIn(v.limit, 1, 1_000_000_000, `${p}/limit`);
      if (rule.limit === 0 || rule.period === 0) throw bad(p, 'needs limit and period');
    } else if (rule.kind === 'unverified') {
      if (v.floor !== undefined) rule.floor = intIn(v.floor, 1, 1_000_000, `${p}/floor`);
      if (v.ratio !== undefined) {
        if (typeof v.ratio !== 'number' || !(v.ratio >= 0 && v.ratio <= 10)) throw bad(`${p}/ratio`, 'must be a number from 0 to 10');
        rule.ratio = v.ratio;
      }
      if (v.block !== undefined) rule.block = intIn(v.block, 60, 30 * 86_400, `${p}/block`);
    } else {
      if (v.max !== undefined) rule.max = intIn(v.max, 1, 250, `${p}/max`);
      if (v.block !== undefined) rule.block = intIn(v.block, 60, 30 * 86_400, `${p}/block`);
    }
    if (i >= 0) out[i] = rule;
    else out.push(rule);
  }
  return out;
}

/** Parses a global limit such as `1000/60` (1,000 starts and resends a minute, all apps together). */
export function parseGlobalLimit(raw: string): RateRule {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(raw);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new Error(`OTPD_GUARD_GLOBAL must look like 1000/60 (sends per seconds), got ${JSON.stringify(raw)}`);
  return { kind: 'rate', id: 'global-sends', dimension: 'global', actions: ['start', 'resend'], limit: Number(m[1]), period: Number(m[2]) };
}
