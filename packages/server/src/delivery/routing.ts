/**
 * Routing: which providers, in which order, deliver a channel to a destination country. Rules are tried in order;
 * the first whose `countries` contains the destination (or that has no `countries`) gives the ordered failover
 * list. An app's rules for a channel replace the server's. Without any rule, every provider of the channel is
 * used in configuration order.
 */
import type { Channel } from '../domain/policy.js';

export interface RouteRule {
  /** ISO country codes this rule applies to; absent or empty = every country. */
  countries?: string[];
  /** Provider names, first choice first. */
  providers: string[];
}

export type RoutingTable = Partial<Record<Channel, RouteRule[]>>;

/** The ordered provider names for a message. */
export function routeFor(o: {
  channel: Channel;
  countryIso: string;
  appRouting?: RoutingTable | undefined;
  serverRouting?: RoutingTable | undefined;
  providersByChannel: ReadonlyMap<Channel, readonly string[]>;
}): string[] {
  const rules = o.appRouting?.[o.channel] ?? o.serverRouting?.[o.channel];
  const known = new Set(o.providersByChannel.get(o.channel) ?? []);
  if (rules) {
    for (const r of rules) {
      if (!r.countries || r.countries.length === 0 || r.countries.includes(o.countryIso)) return r.providers.filter((p) => known.has(p));
    }
    return [];
  }
  return [...known];
}
