/**
 * Webhook endpoints (seeds 001, 003), managed with the admin token: URL, event filter, a signing secret shown
 * once and stored sealed, enable/disable, the delivery log with its attempts, and replay. URLs follow the one
 * outbound rule (delivery/outbound-url.ts): https and public addresses only in production.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import { sealCode, type CodeKeys } from '../domain/code.js';
import { OtpdError } from '../domain/errors.js';
import { EVENT_TYPES } from '../domain/events.js';
import { isId, newId } from '../domain/ids.js';
import { outboundUrlCheck, type OutboundUrlCheck } from '../delivery/outbound-url.js';
import type { AppRecord, AuditEntry, DeliveryStatus, WebhookDeliveryRecord, WebhookEndpointRecord } from '../domain/records.js';
import type { Store } from '../store/ports/index.js';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export interface EndpointView {
  id: string; appId: string; url: string; events: string[]; description: string | null; enabled: boolean; disabledReason: string | null;
  createdAt: string; updatedAt: string;
}
const endpointView = (e: WebhookEndpointRecord): EndpointView => ({
  id: e.id, appId: e.appId, url: e.url, events: e.events, description: e.description, enabled: e.enabled, disabledReason: e.disabledReason,
  createdAt: iso(e.createdAt)!, updatedAt: iso(e.updatedAt)!,
});
export const deliveryView = (d: WebhookDeliveryRecord) => ({
  id: d.id, endpointId: d.endpointId, url: d.url, eventId: d.eventId, status: d.status, attempts: d.attempts,
  nextAttemptAt: d.status === 'pending' ? iso(d.nextAttemptAt) : null, lastStatusCode: d.lastStatusCode, lastError: d.lastError,
  createdAt: iso(d.createdAt)!, updatedAt: iso(d.updatedAt)!,
});

const bad = (pointer: string, detail: string) => new OtpdError('invalid_request', `${pointer.slice(1)} ${detail}`, { extensions: { errors: [{ pointer, detail }] } });

export class WebhooksService {
  private readonly checkUrl: OutboundUrlCheck;

  constructor(private readonly store: Store, private readonly clock: Clock, private readonly keys: CodeKeys, production: boolean) {
    this.checkUrl = outboundUrlCheck(production);
  }

  private audit(actor: string, action: string, appId: string, targetId: string, before: unknown, after: unknown): AuditEntry {
    const at = this.clock.now();
    return { id: newId('aud', at), actor, action, targetType: 'webhook', targetId, appId, before, after, at };
  }

  private async validateUrl(url: string): Promise<void> {
    const why = await this.checkUrl(url);
    if (why) throw bad('/url', why);
  }

  private validateEvents(events: string[] | undefined): void {
    for (const e of events ?? []) if (!(EVENT_TYPES as readonly string[]).includes(e)) throw bad('/events', `: ${e} is not an event type (${EVENT_TYPES.join(', ')})`);
  }

  /** Adds an endpoint; its signing secret (whsec_…) is returned once. */
  async create(app: AppRecord, input: { url: string; events?: string[] | undefined; description?: string | undefined }, actor = 'admin'): Promise<EndpointView & { secret: string }> {
    await this.validateUrl(input.url);
    this.validateEvents(input.events);
    const now = this.clock.now();
    const id = newId('whk', now);
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const e: WebhookEndpointRecord = {
      id, appId: app.id, url: input.url, events: [...new Set(input.events ?? [])], secretSealed: sealCode(this.keys, id, secret),
      description: input.description ?? null, enabled: true, disabledReason: null, createdAt: now, updatedAt: now,
    };
    await this.store.webhooks.createEndpoint(e, [this.audit(actor, 'webhook.create', app.id, id, null, endpointView(e))]);
    return { ...endpointView(e), secret };
  }

  async list(appId: string): Promise<EndpointView[]> {
    return (await this.store.webhooks.listEndpoints(appId)).map(endpointView);
  }

  /** Changes URL, filter, description or enabled flag (enabling clears the reason it was disabled). */
  async update(appId: string, id: string, patch: { url?: string; events?: string[]; description?: string | null; enabled?: boolean }, actor = 'admin'): Promise<EndpointView> {
    if (patch.url !== undefined) await this.validateUrl(patch.url);
    this.validateEvents(patch.events);
    const now = this.clock.now();
    const r = await this.store.webhooks.updateEndpoint(appId, id, now, (before) => {
      const after: WebhookEndpointRecord = {
        ...before, url: patch.url ?? before.url, events: patch.events ? [...new Set(patch.events)] : before.events,
        description: patch.description === undefined ? before.description : patch.description, enabled: patch.enabled ?? before.enabled,
        disabledReason: patch.enabled === true ? null : patch.enabled === false ? 'disabled by an admin' : before.disabledReason, updatedAt: now,
      };
      return { after, audit: [this.audit(actor, 'webhook.update', appId, id, endpointView(before), endpointView(after))] };
    });
    if (!r || r === 'deleted') throw new OtpdError('not_found', `No webhook endpoint ${id}`);
    return endpointView(r);
  }

  async remove(appId: string, id: string, actor = 'admin'): Promise<void> {
    const r = await this.store.webhooks.updateEndpoint(appId, id, this.clock.now(), (before) => ({ after: null, audit: [this.audit(actor, 'webhook.delete', appId, id, endpointView(before), null)] }));
    if (!r) throw new OtpdError('not_found', `No webhook endpoint ${id}`);
  }

  async deliveries(appId: string, q: { endpointId?: string | undefined; status?: DeliveryStatus | undefined; limit: number; cursor?: string | undefined }) {
    const rows = await this.store.webhooks.listDeliveries(appId, { endpointId: q.endpointId, status: q.status, limit: q.limit + 1, before: q.cursor });
    const page = rows.slice(0, q.limit);
    return { data: page.map(deliveryView), nextCursor: rows.length > q.limit ? page.at(-1)!.id : null };
  }

  async attempts(appId: string, deliveryId: string) {
    if (!isId('whd', deliveryId) || !(await this.store.webhooks.getDelivery(appId, deliveryId))) throw new OtpdError('not_found', `No delivery ${deliveryId}`);
    return (await this.store.webhooks.listAttempts(deliveryId)).map((a) => ({ ...a, at: iso(a.at)! }));
  }

  /** Sends a delivery again now, whatever its state (a failed one gets a fresh try). */
  async replay(appId: string, deliveryId: string, actor = 'admin') {
    if (!isId('whd', deliveryId)) throw new OtpdError('not_found', `No delivery ${deliveryId}`);
    const d = await this.store.webhooks.replay(appId, deliveryId, this.clock.now(), [this.audit(actor, 'webhook.replay', appId, deliveryId, null, null)]);
    if (!d) throw new OtpdError('not_found', `No delivery ${deliveryId}`);
    return deliveryView(d);
  }
}
