/**
 * Spend caps per app, per UTC day and per UTC month, in the app's price-table currency: each send adds the cost otpd
 * computed for it (its parts × the price for the channel and country). A send that would go past a cap is refused
 * with `spend_cap_reached` and a Retry-After to the next period; crossing 80 % of a cap emits `spend.warning`
 * once per period. Pure: the rows come from the store (one per app and period, `level` = amount spent).
 */
import type { GuardRow, RuleState } from '../domain/records.js';
import { emptyRow, emptyState, rowKey, withStates } from './evaluate.js';

export type SpendPeriod = 'daily' | 'monthly';

/** Share of a cap that triggers `spend.warning`. */
export const WARN_AT = 0.8;

/** The rule id of each period's cap (in its row, and in decisions). */
export const SPEND_RULE: Record<SpendPeriod, string> = { daily: 'spend-day', monthly: 'spend-month' };

function periodOf(p: SpendPeriod, now: number): { id: string; endsAt: number } {
  const d = new Date(now);
  if (p === 'daily') return { id: d.toISOString().slice(0, 10), endsAt: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) };
  return { id: d.toISOString().slice(0, 7), endsAt: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

export type Caps = { daily: number | null; monthly: number | null };

const periods = (caps: Caps): SpendPeriod[] => (['daily', 'monthly'] as const).filter((p) => caps[p] !== null);

/** The row of an app's spend in the period that contains `now` (dimension `spend`, value the period). */
export const spendKey = (appId: string, p: SpendPeriod, now: number): string => rowKey(appId, 'spend', periodOf(p, now).id);

export const spendKeys = (appId: string, caps: Caps, now: number): string[] => periods(caps).map((p) => spendKey(appId, p, now));

/** What an app spent in the period that contains `now`, from its row (0: none). */
export const spentIn = (rows: readonly GuardRow[], p: SpendPeriod, now: number): number =>
  rows.find((r) => r.dimension === 'spend' && r.value === periodOf(p, now).id)?.rules[SPEND_RULE[p]]?.level ?? 0;

export interface SpendOutcome {
  refused: { period: SpendPeriod; retryAfter: number } | null;
  rows: GuardRow[];
  warnings: { period: SpendPeriod; spent: number; cap: number; periodId: string }[];
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** Charges `cost` to each capped period, or refuses when a period's cap is reached or would be passed. */
export function chargeSpend(appId: string, caps: Caps, rows: ReadonlyMap<string, GuardRow>, cost: number, now: number): SpendOutcome {
  const charged: { period: SpendPeriod; row: GuardRow; state: RuleState; cap: number; periodId: string; endsAt: number }[] = [];
  for (const p of periods(caps)) {
    const { id, endsAt } = periodOf(p, now);
    const row = rows.get(rowKey(appId, 'spend', id)) ?? emptyRow(appId, 'spend', id, now);
    const state = row.rules[SPEND_RULE[p]] ?? emptyState(now);
    const cap = caps[p]!;
    if (state.level >= cap - 1e-9 || state.level + cost > cap + 1e-9) {
      return { refused: { period: p, retryAfter: Math.max(1, Math.ceil((endsAt - now) / 1000)) }, rows: [], warnings: [] };
    }
    charged.push({ period: p, row, state, cap, periodId: id, endsAt });
  }
  const out: SpendOutcome = { refused: null, rows: [], warnings: [] };
  for (const c of charged) {
    const spent = round(c.state.level + cost);
    // `seen.u` holds 'warned' once the warning of this period was sent.
    const warned = c.state.seen?.u.includes('warned') ?? false;
    const warn = !warned && spent >= WARN_AT * c.cap;
    // Kept two months past the period (the dashboard's spend history).
    const state: RuleState = { ...c.state, level: spent, at: now, seen: warn ? { u: ['warned'], v: [] } : c.state.seen, exp: c.endsAt + 62 * 86_400_000 };
    out.rows.push(withStates(c.row, { [SPEND_RULE[c.period]]: state }));
    if (warn) out.warnings.push({ period: c.period, spent, cap: c.cap, periodId: c.periodId });
  }
  return out;
}

/** Gives back the cost of a send that was not made (the engine refused the start after the guard let it through). */
export function refundSpend(appId: string, caps: Caps, rows: ReadonlyMap<string, GuardRow>, cost: number, now: number): GuardRow[] {
  const out: GuardRow[] = [];
  for (const p of periods(caps)) {
    const row = rows.get(spendKey(appId, p, now));
    const state = row?.rules[SPEND_RULE[p]];
    if (row && state) out.push(withStates(row, { [SPEND_RULE[p]]: { ...state, level: Math.max(0, round(state.level - cost)), at: now } }));
  }
  return out;
}
