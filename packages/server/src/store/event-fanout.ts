/**
 * Who hears an event, the same in both adapters: the app's enabled webhook endpoints that take its type (an empty
 * list takes all), plus the verification's callback URL (seed 001). Endpoints are cached per app for 5 s (changes
 * made through this store, and on PostgreSQL through any node, are seen at once: the cache forgets the app).
 * Apps that listen to nothing pay one cached lookup, no write, and the event's payload is never built.
 */
import { TIMINGS } from '../config.js';
import type { Clock } from '../domain/clock.js';
import type { EventType } from '../domain/events.js';
import { newId } from '../domain/ids.js';

export interface ListeningEndpoint { id: string; url: string; events: string[] }

/** One webhook delivery to create for an event (`endpoint_id` null: the verification's callback URL). */
export interface DeliveryTarget { id: string; endpoint_id: string | null; url: string }

/** Whether a webhook endpoint takes events of `type` (an empty list takes all). */
export const takes = (type: EventType) => (e: { events: string[] }): boolean => e.events.length === 0 || e.events.includes(type);

/** The deliveries of an event of `type` at `now`: one per endpoint that takes it, one for the callback URL if any. */
export function deliveryTargets(endpoints: readonly ListeningEndpoint[], type: EventType, callbackUrl: string | null, now: number): DeliveryTarget[] {
  const out: DeliveryTarget[] = [];
  for (const e of endpoints) if (takes(type)(e)) out.push({ id: newId('whd', now), endpoint_id: e.id, url: e.url });
  if (callbackUrl) out.push({ id: newId('whd', now), endpoint_id: null, url: callbackUrl });
  return out;
}

const MAX_APPS = 10_000;

/** Apps' enabled endpoints, cached for a few seconds (the caller loads on a miss and puts the result). */
export class EndpointCache {
  private readonly byApp = new Map<string, { list: ListeningEndpoint[]; until: number }>();

  constructor(private readonly clock: Clock) {}

  get(appId: string): ListeningEndpoint[] | undefined {
    const hit = this.byApp.get(appId);
    return hit && hit.until > this.clock.now() ? hit.list : undefined;
  }

  put(appId: string, list: ListeningEndpoint[]): ListeningEndpoint[] {
    if (this.byApp.size > MAX_APPS) this.byApp.clear();
    this.byApp.set(appId, { list, until: this.clock.now() + TIMINGS.configCacheMs });
    return list;
  }

  forget(appId: string): void {
    this.byApp.delete(appId);
  }

  clear(): void {
    this.byApp.clear();
  }
}
