/** Outbound webhooks: the customer's endpoints, and the deliveries of events to them (claimed by the webhook worker). */
import { newId } from '../../domain/ids.js';
import { deliveriesWhere, newestFirst } from '../list-query.js';
import type { ClaimedDelivery, WebhooksPort } from '../ports/index.js';
import { num, numOrNull, toDelivery, toEndpoint, type Row } from '../rows.js';
import type { AppRows } from './apps.js';
import type { SqliteContext } from './db.js';

export function sqliteWebhooks(c: SqliteContext, apps: AppRows): WebhooksPort {
  const s = {
    whkInsert: c.prepare('whkInsert', `INSERT INTO webhook_endpoints (id, app_id, url, events, secret_sealed, description, enabled, disabled_reason, created_at, updated_at)
      VALUES (@id, @app_id, @url, @events, @secret_sealed, @description, @enabled, @disabled_reason, @created_at, @updated_at)`),
    whkList: c.prepare('whkList', 'SELECT * FROM webhook_endpoints WHERE app_id = ? ORDER BY id'),
    whkGet: c.prepare('whkGet', 'SELECT * FROM webhook_endpoints WHERE id = ? AND app_id = ?'),
    whkUpdate: c.prepare('whkUpdate', `UPDATE webhook_endpoints SET url = @url, events = @events, description = @description, enabled = @enabled,
        disabled_reason = @disabled_reason, updated_at = @updated_at WHERE id = @id AND app_id = @app_id`),
    whkDelete: c.prepare('whkDelete', 'DELETE FROM webhook_endpoints WHERE id = ? AND app_id = ?'),
    whkDisable: c.prepare('whkDisable', `UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?`),
    whkSecret: c.prepare('whkSecret', 'SELECT secret_sealed, enabled FROM webhook_endpoints WHERE id = ?'),
    evtGet: c.prepare('evtGet', 'SELECT type, data, created_at FROM events WHERE id = ?'),
    whdClaimPending: c.prepare('whdClaimPending', `UPDATE webhook_deliveries SET status = 'sending', next_attempt_at = @lease, updated_at = @now
      WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= @now ORDER BY next_attempt_at LIMIT @limit) RETURNING *`),
    whdClaimExpired: c.prepare('whdClaimExpired', `UPDATE webhook_deliveries SET next_attempt_at = @lease, updated_at = @now
      WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'sending' AND next_attempt_at <= @now ORDER BY next_attempt_at LIMIT @limit) RETURNING *`),
    whdDone: c.prepare('whdDone', `UPDATE webhook_deliveries SET status = @status, attempts = attempts + 1, next_attempt_at = coalesce(@next, next_attempt_at),
        last_status_code = @code, last_error = @error, updated_at = @at WHERE id = @id AND status = 'sending'`),
    whdCancelEndpoint: c.prepare('whdCancelEndpoint', `UPDATE webhook_deliveries SET status = 'canceled', updated_at = ? WHERE endpoint_id = ? AND status = 'pending'`),
    whdGet: c.prepare('whdGet', 'SELECT * FROM webhook_deliveries WHERE id = ? AND app_id = ?'),
    whdReplay: c.prepare('whdReplay', `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE id = ? AND app_id = ? RETURNING *`),
    whaInsert: c.prepare('whaInsert', 'INSERT INTO webhook_attempts (id, delivery_id, status_code, error, duration_ms, at) VALUES (?, ?, ?, ?, ?, ?)'),
    whaList: c.prepare('whaList', 'SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY id'),
    whdBacklog: c.prepare('whdBacklog', "SELECT count(*) AS n, min(next_attempt_at) AS t FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?"),
    whdNextDue: c.prepare('whdNextDue', `SELECT min(t) AS t FROM (SELECT min(next_attempt_at) AS t FROM webhook_deliveries WHERE status = 'pending'
        UNION ALL SELECT min(next_attempt_at) FROM webhook_deliveries WHERE status = 'sending')`),
  };

  return {
    async createEndpoint(e, audit) {
      await c.tx(() => {
        s.whkInsert.run({
          id: e.id, app_id: e.appId, url: e.url, events: JSON.stringify(e.events), secret_sealed: e.secretSealed, description: e.description,
          enabled: e.enabled ? 1 : 0, disabled_reason: e.disabledReason, created_at: e.createdAt, updated_at: e.updatedAt,
        });
        c.writeAudit(audit);
        c.endpointsChanged(e.appId);
      });
    },

    async listEndpoints(appId) {
      return (s.whkList.all(appId) as Row[]).map(toEndpoint);
    },

    async updateEndpoint(appId, id, now, change) {
      return c.tx(() => {
        const r = s.whkGet.get(id, appId) as Row | undefined;
        if (!r) return null;
        const { after, audit } = change(toEndpoint(r));
        c.endpointsChanged(appId);
        c.writeAudit(audit);
        if (!after) {
          s.whkDelete.run(id, appId);
          s.whdCancelEndpoint.run(now, id);
          return 'deleted';
        }
        s.whkUpdate.run({
          id, app_id: appId, url: after.url, events: JSON.stringify(after.events), description: after.description, enabled: after.enabled ? 1 : 0,
          disabled_reason: after.disabledReason, updated_at: after.updatedAt,
        });
        return after;
      });
    },

    async claim(now, limit, leaseMs) {
      return c.tx(() => {
        const rows = [
          ...(s.whdClaimExpired.all({ now, lease: now + leaseMs, limit }) as Row[]),
          ...(s.whdClaimPending.all({ now, lease: now + leaseMs, limit }) as Row[]),
        ];
        return rows.map((r): ClaimedDelivery => {
          const d = toDelivery(r);
          const ev = s.evtGet.get(d.eventId) as Row | undefined;
          const ep = d.endpointId ? (s.whkSecret.get(d.endpointId) as Row | undefined) : undefined;
          const appSecret = d.endpointId ? null : apps.callbackSecret(d.appId);
          return {
            ...d, eventType: (ev?.type as string) ?? 'unknown', eventCreatedAt: ev ? num(ev.created_at) : now,
            eventData: ev ? (JSON.parse(ev.data as string) as unknown) : null,
            secretSealed: d.endpointId ? (ep && num(ep.enabled) === 1 ? (ep.secret_sealed as Buffer) : null) : appSecret,
            secretOwner: d.endpointId ?? d.appId,
          };
        });
      });
    },

    async complete(outcomes) {
      if (outcomes.length === 0) return;
      await c.tx(() => {
        for (const o of outcomes) {
          s.whaInsert.run(newId('wha', o.at), o.id, o.statusCode, o.error, o.durationMs, o.at);
          s.whdDone.run({ id: o.id, status: o.status, next: o.nextAttemptAt ?? null, code: o.statusCode, error: o.error, at: o.at });
          if (o.disableEndpoint) {
            s.whkDisable.run('the endpoint answered 410 Gone', o.at, o.disableEndpoint);
            s.whdCancelEndpoint.run(o.at, o.disableEndpoint);
            c.endpointsChanged(undefined);
          }
        }
      });
    },

    async listDeliveries(appId, q) {
      const { sql, values } = newestFirst('webhook_deliveries', deliveriesWhere(appId, q), q.limit);
      return (c.db.prepare(sql).all(...values) as Row[]).map(toDelivery);
    },

    async getDelivery(appId, id) {
      const r = s.whdGet.get(id, appId) as Row | undefined;
      return r ? toDelivery(r) : null;
    },

    async listAttempts(deliveryId) {
      return (s.whaList.all(deliveryId) as Row[]).map((r) => ({ id: r.id as string, statusCode: numOrNull(r.status_code), error: (r.error as string | null) ?? null, durationMs: num(r.duration_ms), at: num(r.at) }));
    },

    async replay(appId, deliveryId, now, audit) {
      return c.tx(() => {
        const r = s.whdReplay.get(now, now, deliveryId, appId) as Row | undefined;
        if (!r) return null;
        c.writeAudit(audit);
        c.deliveriesDue();
        return toDelivery(r);
      });
    },

    async nextDueAt() {
      return (s.whdNextDue.get() as { t: number | null }).t ?? null;
    },

    async backlog(now) {
      const r = s.whdBacklog.get(now) as { n: number; t: number | null };
      return { due: r.n, oldestDueAt: r.t ?? null };
    },
  };
}
