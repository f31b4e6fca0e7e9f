/**
 * The guard's decisions, pure: given the rules, the rows the store read for them and a request, what is refused and
 * what each row becomes. No I/O and no clock: the store runs these inside the transaction that holds the rows.
 *
 * One row per (scope, dimension, value), e.g. `app_…|prefix|+447700900`, holding the state of every rule on that
 * value: a start reads and writes four rows (its address, its prefix, its range, its country), not one per rule.
 *
 * Every rule is a leaky bucket over its state (GCRA, kept as the bucket's level so that a capacity that follows the
 * verified history can change between requests): `level` units at `at`, draining by `capacity` per `period`.
 */
import type { GuardRow, RuleState } from '../domain/records.js';
import { reasonOf, type Dimension, type DistinctRule, type GuardAction, type Rule, type UnverifiedRule } from './rules.js';

export interface GuardRequest {
  action: GuardAction;
  /** The request's value per dimension; rules of a dimension without a value do not apply. */
  values: Partial<Record<Dimension, string>>;
  /** The destination country (distinct rules). */
  country: string | null;
  /** Messages the request sends (starts and resends: 1). */
  sends: number;
}

export interface Refusal {
  rule: Rule;
  reason: string;
  /** Seconds until a rate rule would let the request through (null: a block, not said). */
  retryAfter: number | null;
}

export interface Evaluation {
  refusals: Refusal[];
  /** Rows changed (to write). */
  rows: GuardRow[];
  /** Rules whose state became blocked by this request, with the row's value. */
  blocked: { rule: Rule; value: string; state: RuleState }[];
}

/** A period's weight of memory: the decaying maximum keeps about 14 earlier periods (Authgear's 14-day max). */
const DECAY = 13 / 14;

export const rowKey = (scope: string, dimension: string, value: string): string => `${scope}|${dimension}|${value}`;

export function emptyRow(scope: string, dimension: string, value: string, now: number): GuardRow {
  return { key: rowKey(scope, dimension, value), scope, dimension, value, rules: {}, blockedUntil: null, expiresAt: now };
}

/** A state that remembers nothing (its fields in the order of `ruleState`: one shape for every state). */
export const emptyState = (now: number): RuleState =>
  ({ level: 0, at: now, vCur: 0, vPrev: 0, vStart: now, vBase: 0, seen: null, blockedUntil: null, blockedAt: null, fullSince: null, rv: 0, rvAt: now, y: 0, exp: now });

/** The state with the time after which it remembers nothing (drained, block over, verified history decayed). */
function withExpiry(rule: Rule, s: RuleState): RuleState {
  const p = rule.period * 1000;
  let until = s.blockedUntil ?? 0;
  if (rule.kind === 'rate') {
    until = Math.max(until, s.at + (s.level * p) / rule.limit);
  } else if (rule.kind === 'unverified') {
    until = Math.max(until, s.at + (s.level * p) / rule.floor);
    const history = Math.max(s.vBase, s.vCur, s.vPrev);
    if (history > 0.5) until = Math.max(until, s.vStart + (Math.ceil(Math.log(2 * history) / Math.log(1 / DECAY)) + 2) * p);
  } else {
    until = Math.max(until, s.vStart + p);
  }
  return { ...s, exp: Math.ceil(until) };
}

/** A row with some rules' states replaced; its block and expiry are those of its latest-ending state. */
export function withStates(row: GuardRow, states: Record<string, RuleState>): GuardRow {
  const rules: Record<string, RuleState> = {};
  for (const id in row.rules) rules[id] = row.rules[id]!;
  for (const id in states) rules[id] = states[id]!;
  let blockedUntil: number | null = null;
  let expiresAt = 0;
  for (const id in rules) {
    const s = rules[id]!;
    if (s.blockedUntil !== null && (blockedUntil === null || s.blockedUntil > blockedUntil)) blockedUntil = s.blockedUntil;
    if (s.exp > expiresAt) expiresAt = s.exp;
  }
  return { key: row.key, scope: row.scope, dimension: row.dimension, value: row.value, rules, blockedUntil, expiresAt };
}

/** The rules that apply to a request of this action, each with its value and its row's key. */
export function applicable(rules: readonly Rule[], scope: (rule: Rule) => string, req: Pick<GuardRequest, 'action' | 'values' | 'country'>): { rule: Rule; value: string; key: string }[] {
  const out: { rule: Rule; value: string; key: string }[] = [];
  const sends = req.action !== 'check';
  // The rules of one dimension share a row (and a scope): its key is built once.
  const keys: Partial<Record<string, string>> = {};
  for (const rule of rules) {
    const value = req.values[rule.dimension];
    if (value === undefined) continue;
    if (rule.kind === 'rate' ? !rule.actions.includes(req.action) : !sends) continue;
    if (rule.kind === 'distinct' && !req.country) continue;
    const key = (keys[rule.dimension] ??= rowKey(scope(rule), rule.dimension, value));
    out.push({ rule, value, key });
  }
  return out;
}

/** The keys of the rows a request's rules need (to read them in one go). */
export function keysOf(rules: readonly Rule[], scope: (rule: Rule) => string, req: Pick<GuardRequest, 'action' | 'values' | 'country'>): string[] {
  const out: string[] = [];
  for (const { key } of applicable(rules, scope, req)) if (!out.includes(key)) out.push(key);
  return out;
}

/** The state's verified history moved to the period that contains `now`. */
function rotate(s: RuleState, periodMs: number, now: number): RuleState {
  const k = Math.floor((now - s.vStart) / periodMs);
  if (k <= 0) return s;
  const base = Math.max(s.vBase * DECAY ** k, s.vCur * DECAY ** (k - 1), s.vPrev * DECAY ** k);
  return { ...s, vBase: base, vPrev: k === 1 ? s.vCur : 0, vCur: 0, vStart: s.vStart + k * periodMs, seen: s.seen && { u: [], v: [] } };
}

/** Verifications in the last period (sliding: this period plus the share of the last that is still inside). */
function verifiedRecently(s: RuleState, periodMs: number, now: number): number {
  const inside = 1 - Math.min(1, (now - s.vStart) / periodMs);
  return s.vCur + s.vPrev * inside;
}

/** The capacity of an unverified budget: max(floor, ratio × the value's verified history). */
export function capacityOf(rule: UnverifiedRule, s: RuleState, now: number): number {
  const history = Math.max(verifiedRecently(s, rule.period * 1000, now), s.vBase);
  return Math.max(rule.floor, rule.ratio * history);
}

/**
 * Sends in flight count as unverified until their codes are typed, which takes people 20 to 60 seconds: at one start
 * a second a budget holds 40 of them, at a tenfold spike 400. Two allowances keep that room without giving it to
 * traffic that never verifies:
 *
 * - Evidence: a budget has room for `PENDING_PER_VERIFIED` sends per verification that came back in about the last
 *   `PENDING_TAU_MS` (a decayed count). Steady traffic keeps room for 12 minutes of its verified volume (a tenfold
 *   spike with 60 s typing needs 10); a value's first verifications open the room fivefold per round trip. Traffic
 *   that never verifies gets none.
 * - Youth: sends younger than about `YOUNG_MS` cannot have been verified yet (nobody types a code that fast), so they
 *   are not counted, up to the rule's floor: a value seen for the first time (a new deployment, a carrier's NAT) has
 *   room for its floor of codes being typed before any came back. An attack gains at most the floor once: the
 *   allowance only moves sends from counted to not yet counted, and the level it leaves drains at the capacity.
 *
 * Measured with the model of bench/fraud-sim.mjs (20-60 s typing, 10 minutes): 43 % of legitimate starts refused
 * with one send per verification over 3 minutes and no youth allowance, 0.2-0.7 % with both.
 */
export const PENDING_TAU_MS = 180_000;
export const PENDING_PER_VERIFIED = 4;
export const YOUNG_MS = 20_000;

function recentVerified(s: RuleState, now: number): number {
  return s.rv === 0 ? 0 : s.rv * Math.exp(-Math.max(0, now - s.rvAt) / PENDING_TAU_MS);
}

/** Sends of about the last `YOUNG_MS` (decayed from `at`). */
function young(s: RuleState, now: number): number {
  return s.y === 0 ? 0 : s.y * Math.exp(-Math.max(0, now - s.at) / YOUNG_MS);
}

function drained(s: RuleState, capacity: number, periodMs: number, now: number): number {
  return Math.max(0, s.level - (Math.max(0, now - s.at) * capacity) / periodMs);
}

interface RuleCheck {
  rule: Rule;
  key: string;
  /** The state as read (or a fresh one). */
  from: RuleState;
  /** The state if the request goes through. */
  pass: RuleState;
  /** The state if the request is refused (unchanged unless the rule refused and counts refusals). */
  fail: RuleState;
  refusal: Refusal | null;
  /** This rule's refusal starts a block. */
  blocks: boolean;
}

type Check = Omit<RuleCheck, 'rule' | 'key' | 'from'>;

function checkRate(rule: Extract<Rule, { kind: 'rate' }>, s: RuleState, now: number, charge: boolean): Check {
  const periodMs = rule.period * 1000;
  const level = drained(s, rule.limit, periodMs, now);
  const pass = charge ? { ...s, level: level + 1, at: now } : s;
  if (level + 1 <= rule.limit + 1e-9) return { pass, fail: s, refusal: null, blocks: false };
  const retryAfter = Math.max(1, Math.ceil(((level + 1 - rule.limit) * periodMs) / rule.limit / 1000));
  return { pass, fail: s, refusal: { rule, reason: reasonOf(rule), retryAfter }, blocks: false };
}

/**
 * A full budget refuses at once; it blocks the value only once it has stayed full for `BLOCK_AFTER_MS`: sends still
 * in flight count as unverified, so a legitimate burst (a launch, a campaign) can fill a young budget for the
 * seconds its users take to type their codes. Their verifications empty it again; an attack's never do. "Full"
 * lasts until the level falls below half the capacity, so an attack that gets one send through whenever a unit
 * drains stays full, and is blocked.
 */
export const BLOCK_AFTER_MS = 120_000;

function checkUnverified(rule: UnverifiedRule, st: RuleState, sends: number, now: number): Check {
  const periodMs = rule.period * 1000;
  const s = rotate(st, periodMs, now);
  const cap = capacityOf(rule, s, now);
  const level = drained(s, cap, periodMs, now);
  const y = young(s, now);
  // What counts: the level without its young sends (up to the floor).
  const counted = level - Math.min(y, rule.floor, level);
  const blocked = s.blockedUntil !== null && s.blockedUntil > now;
  const room = cap + PENDING_PER_VERIFIED * recentVerified(s, now);
  const fits = counted + sends <= room + 1e-9;
  const pass = { ...s, level: level + sends, y: y + sends, at: now, fullSince: counted < room / 2 ? null : s.fullSince };
  // Passing here but refused by another rule: nothing is taken.
  if (!blocked && fits) return { pass, fail: s, refusal: null, blocks: false };
  if (!blocked) {
    // Full: refused, not counted (a legitimate burst recovers as soon as its codes are typed).
    const fullSince = s.fullSince ?? now;
    const fail = { ...s, level, y, at: now, fullSince };
    return { pass, fail, refusal: { rule, reason: reasonOf(rule), retryAfter: null }, blocks: now - fullSince >= BLOCK_AFTER_MS };
  }
  // Blocked: refused sends count, up to what drains in one block period, so a block that ends while the attack goes
  // on finds the budget full and is renewed, and the value is free one block period after the last attempt.
  const fail = { ...s, level: Math.min(level + sends, Math.max(cap, (cap * rule.block) / rule.period)), y, at: now };
  return { pass, fail, refusal: { rule, reason: reasonOf(rule), retryAfter: null }, blocks: false };
}

function checkDistinct(rule: DistinctRule, st: RuleState, country: string, now: number): Check {
  const s = rotate(st, rule.period * 1000, now);
  const seen = s.seen ?? { u: [], v: [] };
  const known = seen.u.includes(country) || seen.v.includes(country);
  const pass = known ? s : { ...s, seen: { u: [...seen.u, country], v: seen.v } };
  const blocked = s.blockedUntil !== null && s.blockedUntil > now;
  if (!blocked && (known || seen.u.length < rule.max)) return { pass, fail: s, refusal: null, blocks: false };
  return { pass, fail: s, refusal: { rule, reason: reasonOf(rule), retryAfter: null }, blocks: !blocked };
}

/** Gathers new states per row key and returns the rows that changed. */
function assemble(rows: ReadonlyMap<string, GuardRow>, rowOf: Map<string, GuardRow>, changes: { key: string; rule: Rule; state: RuleState }[]): GuardRow[] {
  const byKey = new Map<string, Record<string, RuleState>>();
  for (const c of changes) {
    const m = byKey.get(c.key) ?? {};
    m[c.rule.id] = withExpiry(c.rule, c.state);
    byKey.set(c.key, m);
  }
  return [...byKey].map(([key, states]) => withStates(rows.get(key) ?? rowOf.get(key)!, states));
}

/**
 * Decides a request against its rules. All or nothing: when any rule refuses, no rule's budget is taken (nothing is
 * sent), except that an unverified budget that refused counts the refused send; a full budget or too many countries
 * blocks the value.
 */
export function evaluate(rules: readonly Rule[], rows: ReadonlyMap<string, GuardRow>, scope: (rule: Rule) => string, req: GuardRequest, now: number): Evaluation {
  const checks: RuleCheck[] = [];
  const fresh = new Map<string, GuardRow>();
  for (const { rule, value, key } of applicable(rules, scope, req)) {
    let row = rows.get(key) ?? fresh.get(key);
    if (!row) fresh.set(key, (row = emptyRow(scope(rule), rule.dimension, value, now)));
    const s = row.rules[rule.id] ?? emptyState(now);
    // A check is only counted once it failed (`onFailedCheck`): a user who types the right code is never limited.
    const c = rule.kind === 'rate' ? checkRate(rule, s, now, req.action !== 'check')
      : rule.kind === 'unverified' ? checkUnverified(rule, s, Math.max(1, req.sends), now)
        : checkDistinct(rule, s, req.country!, now);
    checks.push({ rule, key, from: s, ...c });
  }
  const refusals = checks.flatMap((c) => (c.refusal ? [c.refusal] : []));
  if (refusals.length === 0) {
    return { refusals, rows: assemble(rows, fresh, checks.filter((c) => c.pass !== c.from).map((c) => ({ key: c.key, rule: c.rule, state: c.pass }))), blocked: [] };
  }
  const blocked: Evaluation['blocked'] = [];
  const changes: { key: string; rule: Rule; state: RuleState }[] = [];
  for (const c of checks) {
    let state = c.fail;
    if (c.blocks) {
      state = { ...state, blockedUntil: now + (c.rule as UnverifiedRule | DistinctRule).block * 1000, blockedAt: now };
      blocked.push({ rule: c.rule, value: (rows.get(c.key) ?? fresh.get(c.key)!).value, state });
    }
    if (state !== c.from) changes.push({ key: c.key, rule: c.rule, state });
  }
  return { refusals, rows: assemble(rows, fresh, changes), blocked };
}

/**
 * A verification of a send made under these rules: unverified budgets give back its sends and count one
 * verification; distinct rules move the country to those verified from the value. Rate rules are unchanged.
 */
export function onVerified(rules: readonly Rule[], rows: ReadonlyMap<string, GuardRow>, scope: (rule: Rule) => string, req: Omit<GuardRequest, 'action'>, now: number): GuardRow[] {
  const changes: { key: string; rule: Rule; state: RuleState }[] = [];
  for (const { rule, key } of applicable(rules, scope, { ...req, action: 'start' })) {
    if (rule.kind === 'rate') continue;
    const st = rows.get(key)?.rules[rule.id];
    if (!st) continue;
    const periodMs = rule.period * 1000;
    const s = rotate(st, periodMs, now);
    if (rule.kind === 'unverified') {
      const level = drained(s, capacityOf(rule, s, now), periodMs, now);
      // A verification also ends "full since": traffic whose codes come back is not blocked for filling its budget
      // while its users type (20-60 s each; measured: a cold start behind one address was blocked for 12 h).
      changes.push({ key, rule, state: { ...s, level: Math.max(0, level - Math.max(1, req.sends)), y: young(s, now), at: now, vCur: s.vCur + 1, rv: recentVerified(s, now) + 1, rvAt: now, fullSince: null } });
    } else if (req.country) {
      const seen = s.seen ?? { u: [], v: [] };
      if (seen.v.includes(req.country)) continue;
      changes.push({ key, rule, state: { ...s, seen: { u: seen.u.filter((c) => c !== req.country), v: [...seen.v, req.country] } } });
    }
  }
  return assemble(rows, new Map(), changes);
}

/** A wrong code: the rate rules on checks count it (a check that verified, or was refused, is not counted). */
export function onFailedCheck(rules: readonly Rule[], rows: ReadonlyMap<string, GuardRow>, scope: (rule: Rule) => string, req: GuardRequest, now: number): GuardRow[] {
  const changes: { key: string; rule: Rule; state: RuleState }[] = [];
  const fresh = new Map<string, GuardRow>();
  for (const { rule, value, key } of applicable(rules, scope, { ...req, action: 'check' })) {
    if (rule.kind !== 'rate') continue;
    const row = rows.get(key) ?? fresh.get(key) ?? emptyRow(scope(rule), rule.dimension, value, now);
    fresh.set(key, row);
    const s = row.rules[rule.id] ?? emptyState(now);
    changes.push({ key, rule, state: { ...s, level: drained(s, rule.limit, rule.period * 1000, now) + 1, at: now } });
  }
  return assemble(rows, fresh, changes);
}

/**
 * A start the guard let through but the engine then refused (a phone locked, a cooldown): nothing was sent, so its
 * unverified budgets get back what it took.
 */
export function onNotSent(rules: readonly Rule[], rows: ReadonlyMap<string, GuardRow>, scope: (rule: Rule) => string, req: GuardRequest, now: number): GuardRow[] {
  const changes: { key: string; rule: Rule; state: RuleState }[] = [];
  for (const { rule, key } of applicable(rules, scope, req)) {
    if (rule.kind !== 'unverified') continue;
    const s = rows.get(key)?.rules[rule.id];
    if (!s) continue;
    const level = drained(s, capacityOf(rule, s, now), rule.period * 1000, now);
    changes.push({ key, rule, state: { ...s, level: Math.max(0, level - Math.max(1, req.sends)), y: Math.max(0, young(s, now) - Math.max(1, req.sends)), at: now } });
  }
  return assemble(rows, new Map(), changes);
}
