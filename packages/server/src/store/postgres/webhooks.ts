/**
 * Outbound webhooks: the customer's endpoints, and the deliveries of events to them, claimed by the webhook worker
 * of any node (`FOR UPDATE SKIP LOCKED`: workers never wait for each other's rows).
 */
import type { AuditEntry, DeliveryStatus, WebhookDeliveryRecord, WebhookEndpointRecord } from '../../domain/records.js';
import { newId } from '../../domain/ids.js';
import { deliveriesWhere, newestFirst, numbered } from '../list-query.js';
import type { ClaimedDelivery, DeliveryOutcome, WebhooksPort } from '../ports/index.js';
import { bufOrNull, json, num, numOrNull, toDelivery, toEndpoint } from '../rows.js';
import { writeAudit } from './audit.js';
import { q, type Db } from './connection.js';
import type { Notifier } from './notify.js';

export class PgWebhooks implements WebhooksPort {
  constructor(private readonly db: Db, private readonly notifier: Notifier) {}

  async createEndpoint(e: WebhookEndpointRecord, audit: AuditEntry[]): Promise<void> {
    await this.db.tx(async (t) => {
      await q(t.c, 'whkInsert', [e.id, e.appId, e.url, JSON.stringify(e.events), e.secretSealed, e.description, e.enabled, e.disabledReason, e.createdAt, e.updatedAt]);
      await writeAudit(t, audit);
      await this.notifier.appChanged(t, e.appId);
    });
  }

  async listEndpoints(appId: string): Promise<WebhookEndpointRecord[]> {
    return (await this.db.read('whkList', [appId])).map(toEndpoint);
  }

  async updateEndpoint(appId: string, id: string, now: number,
    change: (before: WebhookEndpointRecord) => { after: WebhookEndpointRecord | null; audit: AuditEntry[] }): Promise<WebhookEndpointRecord | null | 'deleted'> {
    return this.db.tx(async (t) => {
      const r = (await q(t.c, 'whkGetForUpdate', [id, appId])).rows[0];
      if (!r) return null;
      const { after: a, audit } = change(toEndpoint(r));
      await writeAudit(t, audit);
      await this.notifier.appChanged(t, appId);
      if (!a) {
        await q(t.c, 'whkDelete', [id, appId]);
        await q(t.c, 'whdCancelEndpoint', [now, id]);
        return 'deleted' as const;
      }
      await q(t.c, 'whkUpdate', [id, appId, a.url, JSON.stringify(a.events), a.description, a.enabled, a.disabledReason, a.updatedAt]);
      return a;
    });
  }

  async claim(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    return this.db.tx(async (t) => {
      const rows = [
        ...(await q(t.c, 'whdClaimExpired', [now, now + leaseMs, limit])).rows,
        ...(await q(t.c, 'whdClaimPending', [now, now + leaseMs, limit])).rows,
      ];
      if (rows.length === 0) return [];
      const events = new Map((await q(t.c, 'evtGet', [[...new Set(rows.map((r) => r.event_id as string))]])).rows.map((e) => [e.id as string, e]));
      const out: ClaimedDelivery[] = [];
      for (const r of rows) {
        const d = toDelivery(r);
        const ev = events.get(d.eventId);
        let secretSealed: Buffer | null;
        if (d.endpointId) {
          const ep = (await q(t.c, 'whkSecret', [d.endpointId])).rows[0];
          secretSealed = ep && ep.enabled === true ? (ep.secret_sealed as Buffer) : null;
        } else {
          secretSealed = bufOrNull((await q(t.c, 'appCallbackSecret', [d.appId])).rows[0]?.callback_secret_sealed);
        }
        out.push({
          ...d, eventType: (ev?.type as string) ?? 'unknown', eventCreatedAt: ev ? num(ev.created_at) : now, eventData: ev ? json<unknown>(ev.data) : null,
          secretSealed, secretOwner: d.endpointId ?? d.appId,
        });
      }
      return out;
    });
  }

  async complete(outcomes: DeliveryOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    await this.db.tx(async (t) => {
      for (const o of outcomes) {
        await q(t.c, 'whdDone', [o.id, o.status, o.nextAttemptAt ?? null, o.statusCode, o.error, o.at, newId('wha', o.at), o.durationMs]);
        if (o.disableEndpoint) {
          const app = (await q(t.c, 'whkDisable', ['the endpoint answered 410 Gone', o.at, o.disableEndpoint])).rows[0]?.app_id as string | undefined;
          await q(t.c, 'whdCancelEndpoint', [o.at, o.disableEndpoint]);
          if (app) await this.notifier.appChanged(t, app);
        }
      }
    });
  }

  async listDeliveries(appId: string, f: { endpointId?: string | undefined; status?: DeliveryStatus | undefined; limit: number; before?: string | undefined }): Promise<WebhookDeliveryRecord[]> {
    const { sql, values } = newestFirst('webhook_deliveries', deliveriesWhere(appId, f), f.limit);
    return (await this.db.adhoc(numbered(sql), values)).map(toDelivery);
  }

  async getDelivery(appId: string, id: string): Promise<WebhookDeliveryRecord | null> {
    const r = (await this.db.read('whdGet', [id, appId]))[0];
    return r ? toDelivery(r) : null;
  }

  async listAttempts(deliveryId: string): Promise<{ id: string; statusCode: number | null; error: string | null; durationMs: number; at: number }[]> {
    return (await this.db.read('whaList', [deliveryId])).map((r) => ({ id: r.id as string, statusCode: numOrNull(r.status_code), error: (r.error as string | null) ?? null, durationMs: num(r.duration_ms), at: num(r.at) }));
  }

  async replay(appId: string, deliveryId: string, now: number, audit: AuditEntry[]): Promise<WebhookDeliveryRecord | null> {
    return this.db.tx(async (t) => {
      const r = (await q(t.c, 'whdReplay', [now, now, deliveryId, appId])).rows[0];
      if (!r) return null;
      await writeAudit(t, audit);
      t.emitted = true;
      return toDelivery(r);
    });
  }

  async backlog(now: number): Promise<{ due: number; oldestDueAt: number | null }> {
    const r = (await this.db.read('whdBacklog', [now]))[0];
    return { due: Number(r?.n ?? 0), oldestDueAt: numOrNull(r?.t) };
  }

  async nextDueAt(): Promise<number | null> {
    return numOrNull((await this.db.read('whdNextDue'))[0]?.t);
  }
}
