/**
 * Events and their webhook deliveries, written by the transaction (or the one statement) that makes the change they
 * tell of. Who hears an event is `deliveryTargets` (../event-fanout.ts); when nobody does, nothing is written.
 */
import pg from 'pg';
import { verificationEventData, type EventType } from '../../domain/events.js';
import { newId } from '../../domain/ids.js';
import type { VerificationRecord } from '../../domain/records.js';
import { deliveryTargets, type DeliveryTarget, type EndpointCache, type ListeningEndpoint } from '../event-fanout.js';
import { json } from '../rows.js';
import { q, type Client, type TxCtx } from './connection.js';

export class Events {
  constructor(private readonly pool: pg.Pool, private readonly endpoints: EndpointCache) {}

  async endpointsOf(c: Client | pg.Pool, appId: string): Promise<ListeningEndpoint[]> {
    const hit = this.endpoints.get(appId);
    if (hit) return hit;
    const list = (await q(c, 'whkActive', [appId])).rows.map((r) => ({ id: r.id as string, url: r.url as string, events: json<string[]>(r.events) }));
    return this.endpoints.put(appId, list);
  }

  /** Who receives an event: the app's endpoints that take its type, and the callback URL if any (none: nobody listens). */
  private async listeners(c: Client | pg.Pool, appId: string, type: EventType, verificationId: string | undefined, callbackUrl: string | null | undefined,
    now: number): Promise<DeliveryTarget[]> {
    const endpoints = await this.endpointsOf(c, appId);
    const callback = callbackUrl !== undefined ? callbackUrl
      : verificationId ? (((await q(c, 'verCallbackUrl', [verificationId])).rows[0]?.callback_url as string | null | undefined) ?? null) : null;
    return deliveryTargets(endpoints, type, callback, now);
  }

  /** Records an event and one delivery per listener, inside the transaction (nothing at all when nobody listens). */
  async emit(t: TxCtx, appId: string, type: EventType, data: () => Promise<Record<string, unknown>> | Record<string, unknown>,
    refs: { verificationId?: string; messageId?: string; callbackUrl?: string | null }, now: number): Promise<void> {
    const deliveries = await this.listeners(t.c, appId, type, refs.verificationId, refs.callbackUrl, now);
    if (deliveries.length === 0) return;
    await q(t.c, 'evtInsert', [newId('evt', now), appId, type, refs.verificationId ?? null, refs.messageId ?? null, JSON.stringify(await data()),
      JSON.stringify(deliveries), now]);
    t.emitted = true;
  }

  emitVerification(t: TxCtx, type: EventType, v: VerificationRecord, now: number): Promise<void> {
    (t.transitions ??= []).push({ type, v, at: now });
    return this.emit(t, v.appId, type, () => verificationEventData(v), { verificationId: v.id, callbackUrl: v.callbackUrl ?? null }, now);
  }

  /**
   * For a statement that writes a verification's change and its event together: the event's row and its deliveries
   * appended to `events` and `deliveries` (nothing when nobody listens). True if there is one.
   */
  async eventRows(events: unknown[], deliveries: unknown[], type: EventType, v: VerificationRecord, at: number): Promise<boolean> {
    const to = await this.listeners(this.pool, v.appId, type, v.id, v.callbackUrl ?? null, at);
    if (to.length === 0) return false;
    const event = newId('evt', at);
    events.push({ id: event, app_id: v.appId, type, verification_id: v.id, data: verificationEventData(v), created_at: at });
    for (const d of to) deliveries.push({ ...d, app_id: v.appId, event_id: event, verification_id: v.id, at });
    return true;
  }
}
