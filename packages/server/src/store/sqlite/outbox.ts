/**
 * The outbox: messages claimed by the delivery worker, their provider attempts, and the workflow steps. `outboxRows`
 * are the writes the other use cases share (a start's messages, a receipt's next step).
 */
import type { ClaimedMessage, StartedAttempt } from '../../domain/delivery.js';
import { messageEventData } from '../../domain/events.js';
import type { OutboxRecord } from '../../domain/records.js';
import type { OutboxPort } from '../ports/index.js';
import { num, toAttempt, toClaimed, toOutbox, type Row } from '../rows.js';
import type { SqliteContext } from './db.js';

/** Messages, attempts and workflow steps, written inside the caller's transaction. */
export function outboxRows(c: SqliteContext) {
  const s = {
    outInsert: c.prepare('outInsert', `INSERT INTO outbox (id, app_id, verification_id, channel, to_addr, locale, body, status, attempts, available_at,
        created_at, sent_at, provider, error, parts, cost, step, route, route_index, sender)
      VALUES (@id, @app_id, @verification_id, @channel, @to_addr, @locale, @body, @status, @attempts, @available_at,
        @created_at, @sent_at, @provider, @error, @parts, @cost, @step, @route, @route_index, @sender)`),
    outGet: c.prepare('outGet', 'SELECT * FROM outbox WHERE id = ?'),
    attInsert: c.prepare('attInsert', `INSERT INTO message_attempts (id, message_id, app_id, provider, outcome, started_at) VALUES (?, ?, ?, ?, 'started', ?)`),
    // Workflow: the step after `from` becomes due, once (guarded on the verification's current step).
    stepAdvance: c.prepare('stepAdvance', `UPDATE verifications SET step = step + 1, updated_at = @now,
        channel = (SELECT channel FROM outbox WHERE verification_id = @id AND step = @from + 1 LIMIT 1),
        cost = round(cost + coalesce((SELECT cost FROM outbox WHERE verification_id = @id AND step = @from + 1 LIMIT 1), 0), 6)
      WHERE id = @id AND app_id = coalesce(@app_id, app_id) AND status = 'pending' AND expires_at > @now AND step = @from
        AND EXISTS (SELECT 1 FROM outbox WHERE verification_id = @id AND step = @from + 1 AND status = 'waiting')
      RETURNING step`),
    stepQueue: c.prepare('stepQueue', `UPDATE outbox SET status = 'queued', available_at = @now WHERE verification_id = @id AND step = @step AND status = 'waiting'`),
    stepClearFallback: c.prepare('stepClearFallback', 'UPDATE outbox SET fallback_at = NULL WHERE verification_id = ? AND step = ?'),
  };
  return {
    insertMessage(m: OutboxRecord): void {
      s.outInsert.run({
        id: m.id, app_id: m.appId, verification_id: m.verificationId, channel: m.channel, to_addr: m.to, locale: m.locale,
        body: m.body, status: m.status, attempts: m.attempts, available_at: m.availableAt, created_at: m.createdAt, sent_at: m.sentAt,
        provider: m.provider, error: m.error, parts: m.parts, cost: m.cost, step: m.step, route: JSON.stringify(m.route), route_index: m.routeIndex,
        sender: m.sender ?? null,
      });
    },

    /** Records a provider call as 'started' before it is made. */
    insertAttempt(a: StartedAttempt): void {
      s.attInsert.run(a.id, a.messageId, a.appId, a.provider, a.startedAt);
    },

    /** The `data` of an event about message `id`, as the message stands then (read only if the event is written). */
    messageData: (id: string) => (): Record<string, unknown> => messageEventData(toOutbox(s.outGet.get(id) as Row)),

    /** The guarded next workflow step (see the port's `advanceStep`); `appId` null: whatever the app. */
    advanceSync(appId: string | null, verificationId: string, fromStep: number, now: number): number | null {
      const r = s.stepAdvance.get({ id: verificationId, app_id: appId, from: fromStep, now }) as { step: number } | undefined;
      if (!r) return null;
      s.stepClearFallback.run(verificationId, fromStep);
      s.stepQueue.run({ id: verificationId, step: r.step, now });
      return r.step;
    },
  };
}
export type OutboxRows = ReturnType<typeof outboxRows>;

export function sqliteOutbox(c: SqliteContext, rows: OutboxRows): OutboxPort {
  const s = {
    // Two claims: rows due in 'queued' (the usual case), and rows whose lease ran out in 'sending' (a worker died;
    // only those can have an unfinished attempt, since completing a message finishes its attempt in the same
    // transaction).
    outClaimQueued: c.prepare('outClaimQueued', `UPDATE outbox SET status = 'sending', attempts = attempts + 1, available_at = @lease
      WHERE id IN (SELECT id FROM outbox WHERE status = 'queued' AND available_at <= @now ORDER BY available_at LIMIT @limit)
      RETURNING *`),
    outClaimExpired: c.prepare('outClaimExpired', `UPDATE outbox SET attempts = attempts + 1, available_at = @lease
      WHERE id IN (SELECT id FROM outbox WHERE status = 'sending' AND available_at <= @now ORDER BY available_at LIMIT @limit)
      RETURNING *`),
    outCodeOf: c.prepare('outCodeOf', 'SELECT code_sealed, status, expires_at, created_at, channels, channel, step, step_timeout, callback_url, country_iso FROM verifications WHERE id = ?'),
    outDone: c.prepare('outDone', `UPDATE outbox SET status = @status, available_at = coalesce(@available_at, available_at),
        route_index = coalesce(@route_index, route_index), provider_attempts = coalesce(@provider_attempts, provider_attempts),
        provider = coalesce(@provider, provider), provider_message_id = coalesce(@provider_message_id, provider_message_id),
        error_code = @error_code, error = @error, price = coalesce(@price, price), price_currency = coalesce(@price_currency, price_currency),
        sent_at = coalesce(@sent_at, sent_at), failed_at = coalesce(@failed_at, failed_at), fallback_at = @fallback_at,
        outcome_unknown = @outcome_unknown
      WHERE id = @id AND status = 'sending'`),
    outList: c.prepare('outList', 'SELECT * FROM outbox WHERE app_id = ? AND verification_id = ? ORDER BY step, id'),
    outRoute: c.prepare('outRoute', 'UPDATE outbox SET route_index = ?, provider = ? WHERE id = ?'),
    attLast: c.prepare('attLast', 'SELECT id, provider, outcome FROM message_attempts WHERE message_id = ? ORDER BY id DESC LIMIT 1'),
    attDone: c.prepare('attDone', `UPDATE message_attempts SET outcome = @outcome, http_status = @http_status, error_code = @error_code, error = @error,
        provider_message_id = @provider_message_id, finished_at = @finished_at WHERE id = @id AND outcome = 'started'`),
    attList: c.prepare('attList', 'SELECT * FROM message_attempts WHERE message_id = ? ORDER BY id'),
    fallbackDue: c.prepare('fallbackDue', 'SELECT id, app_id, verification_id, step FROM outbox WHERE fallback_at <= ? ORDER BY fallback_at LIMIT ?'),
    fallbackClear: c.prepare('fallbackClear', 'UPDATE outbox SET fallback_at = NULL WHERE id = ?'),
    fallbackAny: c.prepare('fallbackAny', 'SELECT 1 FROM outbox WHERE fallback_at <= ? LIMIT 1'),
    outBacklog: c.prepare('outBacklog', "SELECT count(*) AS n, min(available_at) AS t FROM outbox WHERE status = 'queued' AND available_at <= ?"),
    nextDue: c.prepare('nextDue', `SELECT min(t) AS t FROM (SELECT min(available_at) AS t FROM outbox WHERE status = 'queued'
        UNION ALL SELECT min(available_at) FROM outbox WHERE status = 'sending'
        UNION ALL SELECT min(fallback_at) FROM outbox WHERE fallback_at IS NOT NULL)`),
  };

  return {
    async claim(now, limit, leaseMs, choose) {
      return c.tx(() => {
        const expired = s.outClaimExpired.all({ now, lease: now + leaseMs, limit }) as Row[];
        const queued = expired.length < limit ? (s.outClaimQueued.all({ now, lease: now + leaseMs, limit: limit - expired.length }) as Row[]) : [];
        const claimed: Row[] = expired.length ? [...expired.map((r): Row => ({ ...r, expired: 1 })), ...queued] : queued;
        return claimed.map((r): ClaimedMessage => {
          const v = s.outCodeOf.get(r.verification_id) as Row | undefined;
          const last = r.expired ? (s.attLast.get(r.id) as Row | undefined) : undefined;
          const m = toClaimed(r, v, last);
          if (m.crashedAttempt || m.verificationStatus !== 'pending' || !m.codeSealed) return m;
          const ch = choose(m);
          if (!ch) return m;
          rows.insertAttempt({ id: ch.attemptId, messageId: m.id, appId: m.appId, provider: ch.provider, startedAt: now });
          if (ch.routeIndex !== m.routeIndex) s.outRoute.run(ch.routeIndex, ch.provider, m.id);
          return { ...m, routeIndex: ch.routeIndex, provider: ch.provider, attempt: { id: ch.attemptId, provider: ch.provider } };
        });
      });
    },

    async complete(outcomes, now) {
      const recorded = new Set<string>();
      if (outcomes.length === 0) return recorded;
      await c.tx(() => {
        recorded.clear(); // (run once; cleared in case of a retried op)
        for (const o of outcomes) {
          if (o.attempt) {
            const a = o.attempt;
            s.attDone.run({
              id: a.id, outcome: a.outcome, http_status: a.httpStatus ?? null, error_code: a.errorCode ?? null, error: a.error ?? null,
              provider_message_id: a.providerMessageId ?? null, finished_at: a.finishedAt,
            });
          }
          const changed = s.outDone.run({
            id: o.id, status: o.status, available_at: o.availableAt ?? null, route_index: o.routeIndex ?? null,
            provider_attempts: o.providerAttempts ?? null, provider: o.provider ?? null, provider_message_id: o.providerMessageId ?? null,
            error_code: o.errorCode ?? null, error: o.error ?? null, price: o.price ?? null, price_currency: o.priceCurrency ?? null,
            sent_at: o.sentAt ?? null, failed_at: o.failedAt ?? null, fallback_at: o.fallbackAt ?? null, outcome_unknown: o.outcomeUnknown ? 1 : 0,
          }).changes;
          if (changed) recorded.add(o.id);
          if (changed && (o.status === 'sent' || o.status === 'failed')) {
            c.emit(o.appId, o.status === 'sent' ? 'message.sent' : 'message.failed', rows.messageData(o.id), { verificationId: o.verificationId, messageId: o.id }, now);
          }
          if (changed && o.advance) rows.advanceSync(null, o.verificationId, o.step, now);
        }
      });
      return recorded;
    },

    async advanceStep(appId, verificationId, fromStep, now) {
      return c.tx(() => rows.advanceSync(appId, verificationId, fromStep, now));
    },

    async fireFallbacks(now, limit) {
      // A plain read first: most drains have no fallback due and need no write transaction.
      if (!s.fallbackAny.get(now)) return 0;
      return c.tx(() => {
        let n = 0;
        for (const r of s.fallbackDue.all(now, limit) as Row[]) {
          s.fallbackClear.run(r.id);
          if (rows.advanceSync(null, r.verification_id as string, num(r.step), now) !== null) n++;
        }
        return n;
      });
    },

    async backlog(now) {
      const r = s.outBacklog.get(now) as { n: number; t: number | null };
      return { due: r.n, oldestDueAt: r.t ?? null };
    },

    async nextDueAt() {
      const r = s.nextDue.get() as { t: number | null } | undefined;
      return r?.t ?? null;
    },

    async list(appId, verificationId) {
      return (s.outList.all(appId, verificationId) as Row[]).map(toOutbox);
    },

    async listAttempts(messageId) {
      return (s.attList.all(messageId) as Row[]).map(toAttempt);
    },
  };
}
