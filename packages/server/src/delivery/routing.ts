/**
 * Routing rules: which providers, in which order, deliver a channel to a destination country. Rules are tried in
 * order; the first whose `countries` contains the destination (or that has no `countries`) gives the ordered
 * failover list. Which rules apply to an app, and what its names stand for, is services/connections.ts (`route`).
 */
import type { Channel } from '../domain/policy.js';

export interface RouteRule {
  /** ISO country codes this rule applies to; absent or empty = every country. */
  countries?: string[];
  /** Provider names, first choice first. */
  providers: string[];
}

export type RoutingTable = Partial<Record<Channel, RouteRule[]>>;

/** The provider names of the first rule that applies to the destination country (none applies: empty). */
export function namesFor(rules: readonly RouteRule[], countryIso: string): string[] {
  for (const r of rules) if (!r.countries || r.countries.length === 0 || r.countries.includes(countryIso)) return r.providers;
  return [];
}
