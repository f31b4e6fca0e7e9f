/**
 * The guard: what the verification use cases ask before a send or a check, and tell after a verification. It
 * compiles an app's guard settings (cached per app version), finds the request's value per dimension, and runs the
 * pure rules (evaluate.ts) and spend caps (spend.ts) on the store's shared rows in one transaction. Refusals (and,
 * in shadow mode, would-be refusals) are recorded as decisions; new blocks and spend warnings become events.
 */
import type { Clock } from '../domain/clock.js';
import { OtpdError } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import type { AppRecord, GuardDecisionRecord, GuardRow, RuleState, Signals, VerificationRecord } from '../domain/records.js';
import type { GuardChange, GuardEvent, Store } from '../store/ports/index.js';
import { sourceKey } from './client-address.js';
import { evaluate, keysOf, onFailedCheck, onNotSent, onVerified, type GuardRequest, type Refusal } from './evaluate.js';
import { PREFIX_DROP, RANGE_DROP, reasonOf, type Dimension, type GuardAction, type Rule } from './rules.js';
import { compileGuard, type CompiledGuard, type GuardSettings } from './settings.js';
import { chargeSpend, refundSpend, SPEND_RULE, spendKeys, type SpendOutcome } from './spend.js';

export interface GuardDeps {
  store: Store;
  clock: Clock;
  /** A decision recorded (refused, or flagged in shadow mode), per rule: metrics. */
  onDecision?: ((rule: string, outcome: 'refused' | 'flagged') => void) | undefined;
  /** Server-wide rules (OTPD_GUARD_GLOBAL), counted across all apps. */
  globalRules?: readonly Rule[];
  /** The app's price-table currency (spend caps are in it). */
  currencyOf: (app: AppRecord) => string;
  /** Where background work (refunds after a verification) reports a failure. */
  onError?: (err: unknown, what: string) => void;
}

export interface GuardInput {
  action: GuardAction;
  /** The recipient (E.164 number or email address); null when not known (a check by id). */
  to: string | null;
  countryIso: string | null;
  signals: Signals;
  /** What the send costs (starts and resends). */
  cost: number;
  verificationId?: string | null;
}

/** A request the guard let through (and charged): what to give back if the engine then refuses it. */
export interface Admission {
  app: AppRecord;
  g: CompiledGuard;
  req: GuardRequest;
  ruleKeys: string[];
  spend: number;
}

/** The number's prefix (the last PREFIX_DROP digits dropped), or an email address's domain. */
export function prefixOf(to: string): string {
  const at = to.lastIndexOf('@');
  if (at >= 0) return to.slice(at);
  return to.slice(0, Math.max(2, to.length - PREFIX_DROP));
}

/** The number's range (the last RANGE_DROP digits dropped); an email address has none (its prefix is its domain). */
export function rangeOf(to: string): string | undefined {
  return to.includes('@') ? undefined : to.slice(0, Math.max(2, to.length - RANGE_DROP));
}

export class Guard {
  /** Per app: the settings object last seen, its JSON, and what it compiled to. */
  private readonly compiled = new Map<string, { src: unknown; json: string; g: CompiledGuard }>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly deferred: { keys: string[]; fn: (rows: ReadonlyMap<string, GuardRow>) => GuardRow[] }[] = [];
  private deferTimer: NodeJS.Immediate | null = null;
  private readonly global: readonly Rule[];

  constructor(private readonly d: GuardDeps) {
    this.global = d.globalRules ?? [];
  }

  /** An app's guard settings as they run (compiled again only when they change). */
  settingsOf(app: AppRecord): CompiledGuard {
    const src = app.settings.guard;
    const hit = this.compiled.get(app.id);
    if (hit && hit.src === src) return hit.g;
    const json = JSON.stringify(src ?? null);
    if (hit && hit.json === json) {
      hit.src = src;
      return hit.g;
    }
    const g = compileGuard(src as GuardSettings | undefined, this.global);
    if (this.compiled.size > 10_000) this.compiled.clear();
    this.compiled.set(app.id, { src, json, g });
    return g;
  }

  private scope(appId: string) {
    return (rule: Rule) => (rule.dimension === 'global' ? '*' : appId);
  }

  private request(action: GuardAction, to: string | null, countryIso: string | null, signals: Signals, sends: number): GuardRequest {
    const values: Partial<Record<Dimension, string>> = { app: 'app', global: 'all' };
    if (to) {
      values.phone = to;
      values.prefix = prefixOf(to);
      const range = rangeOf(to);
      if (range) values.range = range;
    }
    if (countryIso) values.country = countryIso;
    if (signals.ip) values.ip = sourceKey(signals.ip);
    if (signals.deviceId) values.device = signals.deviceId;
    return { action, values, country: countryIso || null, sends };
  }

  /**
   * Decides a send or a check. Throws `rate_limited`, `fraud_blocked` or `spend_cap_reached` when refused (in
   * shadow mode only spend caps refuse; the rest is recorded). Returns what was charged, or null when nothing was.
   */
  async admit(app: AppRecord, input: GuardInput): Promise<Admission | null> {
    const g = this.settingsOf(app);
    const sends = input.action === 'check' ? 0 : 1;
    const spendOn = sends > 0 && (g.caps.daily !== null || g.caps.monthly !== null);
    const rulesOn = g.mode !== 'off' && !g.allowed(input.to, input.signals.ip ?? null);
    if (!rulesOn && !spendOn) return null;
    const now = this.d.clock.now();
    const req = this.request(input.action, input.to, input.countryIso, input.signals, sends);
    const scope = this.scope(app.id);
    const ruleKeys = rulesOn ? keysOf(g.rules, scope, req) : [];
    const moneyKeys = spendOn ? spendKeys(app.id, g.caps, now) : [];
    if (ruleKeys.length === 0 && moneyKeys.length === 0) return null;
    const result = await this.d.store.guard.apply([...ruleKeys, ...moneyKeys], now, (rows) => {
      const ev = rulesOn ? evaluate(g.rules, rows, scope, req, now) : { refusals: [], rows: [], blocked: [] };
      const refusedByRules = ev.refusals.length > 0 && g.mode === 'enforce';
      let spend: SpendOutcome | null = null;
      if (spendOn && !refusedByRules) spend = chargeSpend(app.id, g.caps, rows, input.cost, now);
      const refusedBySpend = spend?.refused != null;
      const change: GuardChange = { rows: [], decisions: [], events: [] };
      // Rules' rows: as decided, unless the spend cap refused a request the rules let through (nothing taken then).
      if (!(refusedBySpend && ev.refusals.length === 0)) change.rows.push(...ev.rows);
      if (spend && !refusedBySpend) change.rows.push(...spend.rows);
      for (const b of ev.blocked) change.events.push(this.blockedEvent(app.id, b.rule, b.value, b.state, g.mode));
      change.events.push(...this.spendWarnings(app, spend));
      // The answer, and the decision record: every refusal, and in shadow mode every request the rules would refuse.
      const ruleRefusal = ev.refusals.length > 0 ? ruleError(ev.refusals) : null;
      const p = spend?.refused;
      const spendRefusal = p ? new OtpdError('spend_cap_reached', `The app's ${p.period} spend cap is reached`, { retryAfter: p.retryAfter, extensions: { reasons: [`spend_cap_${p.period}`] } }) : null;
      const error = refusedByRules ? ruleRefusal : spendRefusal;
      if (ruleRefusal || spendRefusal) {
        change.decisions.push(this.decision(app.id, input, req, now, {
          outcome: error ? 'refused' : 'flagged', mode: g.mode,
          rules: [...ev.refusals.map((r) => r.rule.id), ...(p ? [SPEND_RULE[p.period]] : [])],
          reasons: [...new Set([...ev.refusals.map((r) => r.reason), ...(p ? [`spend_cap_${p.period}`] : [])])],
          code: (error ?? ruleRefusal)!.code,
        }));
      }
      return { change, out: { error, charged: spend && !refusedBySpend ? input.cost : 0, decided: change.decisions[0] ?? null } };
    });
    // Counted once it is written (the store may run `decide` more than once: a compare-and-set retried).
    if (result.decided) this.counted(result.decided);
    if (result.error) throw result.error;
    return { app, g, req, ruleKeys: rulesOn ? ruleKeys : [], spend: result.charged };
  }

  /**
   * A later workflow step of one of the app's verifications (a fallback channel) is about to be sent: its cost is
   * charged to the spend caps like a start's. False: a cap is reached (recorded as a decision, action `resend`), and
   * the step must not be sent. Spend caps apply in every mode and to allowed numbers alike.
   */
  async chargeStep(app: AppRecord, m: { verificationId: string; to: string; cost: number }): Promise<boolean> {
    const g = this.settingsOf(app);
    if ((g.caps.daily === null && g.caps.monthly === null) || m.cost <= 0) return true;
    const now = this.d.clock.now();
    const req = this.request('resend', m.to, null, {}, 1);
    const outcome = await this.d.store.guard.apply(spendKeys(app.id, g.caps, now), now, (rows) => {
      const spend = chargeSpend(app.id, g.caps, rows, m.cost, now);
      const change: GuardChange = { rows: spend.rows, decisions: [], events: this.spendWarnings(app, spend) };
      const p = spend.refused;
      if (p) {
        change.decisions.push(this.decision(app.id, { action: 'resend', to: m.to, countryIso: null, signals: {}, cost: m.cost, verificationId: m.verificationId }, req, now, {
          outcome: 'refused', mode: g.mode, rules: [SPEND_RULE[p.period]], reasons: [`spend_cap_${p.period}`], code: 'spend_cap_reached',
        }));
      }
      return { change, out: { ok: p === null, decided: change.decisions[0] ?? null } };
    });
    if (outcome.decided) this.counted(outcome.decided);
    return outcome.ok;
  }

  private counted(d: GuardDecisionRecord): void {
    if (this.d.onDecision) for (const r of d.rules) this.d.onDecision(r, d.outcome);
  }

  private spendWarnings(app: AppRecord, spend: SpendOutcome | null): GuardEvent[] {
    return (spend?.warnings ?? []).map((w) => ({
      appId: app.id, type: 'spend.warning' as const, data: { period: w.period, periodId: w.periodId, spent: w.spent, cap: w.cap, currency: this.d.currencyOf(app) },
    }));
  }

  /**
   * The outcome of a check the guard let through: a wrong code counts against the check limits of its address (in
   * the background, like `verified`).
   */
  checked(app: AppRecord, a: Admission | null, wrong: boolean): void {
    if (!a || !wrong) return;
    const now = this.d.clock.now();
    this.later(a.ruleKeys, (rows) => onFailedCheck(a.g.rules, rows, this.scope(app.id), a.req, now));
  }

  /** The engine refused a send the guard let through: nothing was sent, so its budgets and spend are given back. */
  async notSent(a: Admission): Promise<void> {
    const now = this.d.clock.now();
    const moneyKeys = a.spend > 0 ? spendKeys(a.app.id, a.g.caps, now) : [];
    if (a.ruleKeys.length === 0 && moneyKeys.length === 0) return;
    await this.d.store.guard.apply([...a.ruleKeys, ...moneyKeys], now, (rows) => ({
      change: {
        rows: [...onNotSent(a.g.rules, rows, this.scope(a.app.id), a.req, now), ...(a.spend > 0 ? refundSpend(a.app.id, a.g.caps, rows, a.spend, now) : [])],
        decisions: [], events: [],
      },
      out: undefined,
    }));
  }

  /**
   * A verification succeeded: the budgets its sends took are given back and its verified history grows. Runs in the
   * background (the check's answer does not wait); `idle()` waits for it.
   */
  verified(app: AppRecord, v: VerificationRecord): void {
    const g = this.settingsOf(app);
    if (g.mode === 'off') return;
    const now = this.d.clock.now();
    const req = this.request('start', v.to, v.countryIso || null, v.signals ?? {}, Math.max(1, v.sends));
    const scope = this.scope(app.id);
    const keys = keysOf(g.rules.filter((r) => r.kind !== 'rate'), scope, req);
    if (keys.length === 0) return;
    this.later(keys, (rows) => onVerified(g.rules, rows, scope, req, now));
  }

  /**
   * Bookkeeping nobody waits for (verifications given back, wrong codes counted), gathered until the next turn of the
   * event loop and written as one decision. Not longer: a verification given back late leaves its send counted as
   * unverified meanwhile (measured: 100 ms at 1,000 verifications a second filled a young country budget).
   */
  private later(keys: string[], fn: (rows: ReadonlyMap<string, GuardRow>) => GuardRow[]): void {
    if (keys.length === 0) return;
    this.deferred.push({ keys, fn });
    if (!this.deferTimer) this.deferTimer = setImmediate(() => this.flushLater());
  }

  private flushLater(): void {
    if (this.deferTimer) clearImmediate(this.deferTimer);
    this.deferTimer = null;
    const ops = this.deferred.splice(0);
    if (ops.length === 0) return;
    const keys = [...new Set(ops.flatMap((o) => o.keys))];
    this.background(this.d.store.guard.apply(keys, this.d.clock.now(), (rows) => {
      const view = new Map(rows);
      const changed = new Map<string, GuardRow>();
      for (const op of ops) {
        for (const g of op.fn(view)) {
          view.set(g.key, g);
          changed.set(g.key, g);
        }
      }
      return { change: { rows: [...changed.values()], decisions: [], events: [] }, out: undefined };
    }));
  }

  private background(work: Promise<unknown>): void {
    const p: Promise<unknown> = work.catch((err: unknown) => this.d.onError?.(err, 'guard bookkeeping')).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /**
   * Deletes the rows that remember nothing any more, walking the whole table in steps of `step` keys (between steps
   * the event loop runs). Returns how many were deleted.
   */
  async sweep(step = 1000): Promise<number> {
    const now = this.d.clock.now();
    let after: string | null = null;
    let deleted = 0;
    do {
      const r: { deleted: number; next: string | null } = await this.d.store.guard.purge(now, after, step);
      deleted += r.deleted;
      after = r.next;
      await new Promise((res) => setImmediate(res));
    } while (after !== null);
    return deleted;
  }

  /** Resolves when the background work so far is written (tests, shutdown). */
  async idle(): Promise<void> {
    this.flushLater();
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private blockedEvent(appId: string, rule: Rule, value: string, s: RuleState, mode: string): GuardEvent {
    return {
      appId, type: 'fraud.blocked',
      data: { dimension: rule.dimension, value, rule: rule.id, reason: reasonOf(rule), mode, blockedAt: iso(s.blockedAt), blockedUntil: iso(s.blockedUntil) },
    };
  }

  private decision(appId: string, input: GuardInput, req: GuardRequest, now: number,
    d: Pick<GuardDecisionRecord, 'outcome' | 'mode' | 'rules' | 'reasons' | 'code'>): GuardDecisionRecord {
    return {
      id: newId('gdc', now), appId, at: now, action: input.action, ...d, to: input.to, prefix: req.values.prefix ?? null, country: input.countryIso || null,
      ip: input.signals.ip ?? null, deviceId: input.signals.deviceId ?? null, userAgent: input.signals.userAgent ?? null, verificationId: input.verificationId ?? null,
    };
  }
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/**
 * The answer to a refusal: `fraud_blocked` (403) when a budget or distinct rule refused (no Retry-After: a block's
 * end is not said), else `rate_limited` (429) with the longest Retry-After. The reason codes go to the calling
 * backend; thresholds and counts never do.
 */
export function ruleError(refusals: Refusal[]): OtpdError {
  const reasons = [...new Set(refusals.map((r) => r.reason))];
  if (refusals.some((r) => r.rule.kind !== 'rate')) {
    return new OtpdError('fraud_blocked', `Refused by fraud protection (${reasons.join(', ')})`, { extensions: { reasons } });
  }
  const retryAfter = Math.max(...refusals.map((r) => r.retryAfter ?? 1));
  return new OtpdError('rate_limited', `Too many requests (${reasons.join(', ')}); retry after ${retryAfter} s`, { retryAfter, extensions: { reasons } });
}
