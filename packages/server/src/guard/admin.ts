/**
 * The guard as an operator sees it: an app's guard settings and the rules they give, its spend this period, the
 * decisions recorded, the blocks in force, and lifting a block (audited; `fraud.unblocked`).
 */
import type { Clock } from '../domain/clock.js';
import { OtpdError } from '../domain/errors.js';
import { isId, newId } from '../domain/ids.js';
import type { AppRecord, GuardDecisionRecord, GuardRow, RuleState } from '../domain/records.js';
import type { AppsService } from '../services/apps.js';
import type { Store } from '../store/ports/index.js';
import { sourceKey } from './client-address.js';
import { rowKey, withStates } from './evaluate.js';
import { rangeOf, type Guard } from './guard.js';
import { DIMENSIONS, PREFIX_DROP, reasonOf, type Dimension, type Rule } from './rules.js';
import type { GuardSettings } from './settings.js';
import { spendKey, spentIn } from './spend.js';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export interface BlockView {
  dimension: Dimension;
  value: string;
  rule: string;
  reason: string;
  blockedAt: string | null;
  blockedUntil: string | null;
}

export class GuardAdmin {
  constructor(private readonly d: { store: Store; clock: Clock; guard: Guard; apps: AppsService; currencyOf: (app: AppRecord) => string }) {}

  private ruleOf(app: AppRecord, id: string): Rule | undefined {
    return this.d.guard.settingsOf(app).rules.find((r) => r.id === id);
  }

  /** The blocks of a row in force at `now`, one per rule that set one. */
  private blocksOf(app: AppRecord, row: GuardRow, now: number): BlockView[] {
    return Object.entries(row.rules)
      .filter(([, s]) => s.blockedUntil !== null && s.blockedUntil > now)
      .map(([id, s]) => this.blockView(app, row, id, s));
  }

  private blockView(app: AppRecord, row: GuardRow, ruleId: string, s: RuleState): BlockView {
    const rule = this.ruleOf(app, ruleId);
    return {
      dimension: row.dimension as Dimension, value: row.value, rule: ruleId, reason: rule ? reasonOf(rule) : ruleId,
      blockedAt: iso(s.blockedAt), blockedUntil: iso(s.blockedUntil),
    };
  }

  /** The settings, the rules they give (level and overrides applied), this period's spend and the number of blocks. */
  async view(app: AppRecord) {
    const g = this.d.guard.settingsOf(app);
    const s = (app.settings.guard ?? {}) as GuardSettings;
    const now = this.d.clock.now();
    const [spend, blocks] = await Promise.all([
      this.d.store.guard.get([spendKey(app.id, 'daily', now), spendKey(app.id, 'monthly', now)]), this.d.store.guard.blocks(app.id, now, 1000),
    ]);
    const period = (p: 'daily' | 'monthly') => spendKey(app.id, p, now).split('|')[2]!;
    return {
      mode: g.mode, level: g.level, rules: g.rules, overrides: s.rules ?? {}, allow: s.allow ?? {}, spendCap: s.spendCap ?? {},
      spend: {
        currency: this.d.currencyOf(app),
        daily: { period: period('daily'), spent: spentIn(spend, 'daily', now), cap: g.caps.daily },
        monthly: { period: period('monthly'), spent: spentIn(spend, 'monthly', now), cap: g.caps.monthly },
      },
      activeBlocks: blocks.reduce((n, r) => n + this.blocksOf(app, r, now).length, 0),
    };
  }

  /**
   * Announces the blocks that ran out (`fraud.unblocked`, `by: "expiry"`) and clears them, so each is announced once
   * whichever node sees it first. Returns how many.
   */
  async endBlocks(limit: number): Promise<number> {
    const now = this.d.clock.now();
    let ended = 0;
    for (const found of await this.d.store.guard.endedBlocks(now, limit)) {
      const app = found.scope === '*' ? null : await this.d.apps.get(found.scope).catch(() => null);
      ended += await this.d.store.guard.apply([found.key], now, (rows) => {
        const row = rows.get(found.key);
        const over = row ? Object.entries(row.rules).filter(([, s]) => s.blockedUntil !== null && s.blockedUntil <= now) : [];
        if (!row || over.length === 0) return { change: { rows: [], decisions: [], events: [] }, out: 0 };
        const states = Object.fromEntries(over.map(([id, s]) => [id, { ...s, blockedUntil: null, blockedAt: null }]));
        const events = app ? over.map(([id, s]) => ({ appId: app.id, type: 'fraud.unblocked' as const, data: { ...this.blockView(app, row, id, s), unblockedAt: iso(now), by: 'expiry' } })) : [];
        return { change: { rows: [withStates(row, states)], decisions: [], events }, out: over.length };
      });
    }
    return ended;
  }

  /** Changes guard settings as a merge patch (null removes a member); validated and audited like any app change. */
  async update(app: AppRecord, patch: Record<string, unknown>, actor: string) {
    const merged: Record<string, unknown> = { ...(app.settings.guard ?? {}) };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    const after = await this.d.apps.update(app.id, { settings: { guard: Object.keys(merged).length > 0 ? merged : null } }, actor);
    return this.view(after);
  }

  async decisions(app: AppRecord, q: { rule?: string | undefined; prefix?: string | undefined; country?: string | undefined; since?: string | undefined; until?: string | undefined; limit?: number | undefined; cursor?: string | undefined }) {
    const limit = q.limit ?? 50;
    let before: string | undefined;
    if (q.cursor !== undefined) {
      before = Buffer.from(q.cursor, 'base64url').toString('utf8');
      if (!isId('gdc', before)) throw new OtpdError('invalid_request', 'cursor is not valid', { extensions: { errors: [{ pointer: '/cursor', detail: 'not a cursor from this API' }] } });
    }
    const time = (v: string | undefined, name: string) => {
      if (v === undefined) return undefined;
      const t = Date.parse(v);
      if (Number.isNaN(t)) throw new OtpdError('invalid_request', `${name} must be a date-time`, { extensions: { errors: [{ pointer: `/${name}`, detail: 'not a date-time' }] } });
      return t;
    };
    const rows = await this.d.store.guard.decisions(app.id, {
      rule: q.rule, prefix: q.prefix, country: q.country?.toUpperCase(), since: time(q.since, 'since'), until: time(q.until, 'until'), limit: limit + 1, before,
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { data: page.map(decisionView), nextCursor: rows.length > limit && last ? Buffer.from(last.id).toString('base64url') : null };
  }

  async blocks(app: AppRecord): Promise<{ data: BlockView[] }> {
    const now = this.d.clock.now();
    const rows = await this.d.store.guard.blocks(app.id, now, 1000);
    return { data: rows.flatMap((r) => this.blocksOf(app, r, now)) };
  }

  /**
   * Lifts every block on a value of a dimension (whatever rule set it) and empties those rules' budgets for it, so
   * the next request starts afresh. 404 when nothing blocks it. Audited; emits `fraud.unblocked`.
   */
  async unblock(app: AppRecord, dimension: string, rawValue: string, actor: string): Promise<{ data: BlockView[] }> {
    if (!DIMENSIONS.includes(dimension as Dimension) || dimension === 'global') {
      throw new OtpdError('invalid_request', `dimension must be one of ${DIMENSIONS.filter((d) => d !== 'global').join(', ')}`, { extensions: { errors: [{ pointer: '/dimension', detail: 'unknown dimension' }] } });
    }
    const value = dimension === 'ip' ? sourceKey(rawValue.trim()) : dimension === 'country' ? rawValue.trim().toUpperCase() : rawValue.trim();
    const now = this.d.clock.now();
    const key = rowKey(app.id, dimension, value);
    // A prefix's sends are also its range's (the 100,000 numbers around it): they are given back there too, or the
    // next start to the prefix would be refused by the range they filled.
    const range = dimension === 'prefix' ? rangeOf(`${value}${'0'.repeat(PREFIX_DROP)}`) : undefined;
    const rangeKey = range === undefined ? null : rowKey(app.id, 'range', range);
    const lifted = await this.d.store.guard.apply(rangeKey ? [key, rangeKey] : [key], now, (rows) => {
      const row = rows.get(key);
      const views = row ? this.blocksOf(app, row, now) : [];
      const states = Object.fromEntries(views.map((b) => [b.rule, { ...row!.rules[b.rule]!, level: 0, y: 0, at: now, blockedUntil: null, blockedAt: null }]));
      const changed = row && views.length > 0 ? [withStates(row, states)] : [];
      const rangeRow = rangeKey ? rows.get(rangeKey) : undefined;
      if (rangeRow && changed.length > 0) {
        const given = Math.max(...views.map((b) => row!.rules[b.rule]!.level));
        const back = Object.fromEntries(Object.entries(rangeRow.rules).map(([id, st]) => [id, { ...st, level: Math.max(0, st.level - given) }]));
        changed.push(withStates(rangeRow, back));
      }
      return {
        change: {
          rows: changed, decisions: [],
          events: views.map((b) => ({ appId: app.id, type: 'fraud.unblocked' as const, data: { ...b, unblockedAt: iso(now), by: actor } })),
          audit: views.map((b) => ({ id: newId('aud', now), actor, action: 'guard.unblock', targetType: 'guard_block' as const, targetId: `${b.rule}:${b.value}`, appId: app.id, before: b, after: null, at: now })),
        },
        out: views,
      };
    });
    if (lifted.length === 0) throw new OtpdError('not_found', `No block on ${dimension} ${value}`);
    return { data: lifted };
  }
}

export function decisionView(d: GuardDecisionRecord) {
  return {
    id: d.id, at: new Date(d.at).toISOString(), action: d.action, outcome: d.outcome, mode: d.mode, rules: d.rules, reasons: d.reasons, code: d.code,
    to: d.to, prefix: d.prefix, country: d.country, ip: d.ip, deviceId: d.deviceId, userAgent: d.userAgent, verificationId: d.verificationId,
  };
}
