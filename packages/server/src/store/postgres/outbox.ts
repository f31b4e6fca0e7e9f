/**
 * The outbox: messages claimed by the delivery worker of any node (`FOR UPDATE SKIP LOCKED`), their provider
 * attempts, and the workflow steps that follow a failed or unanswered one.
 */
import type { ClaimedMessage, MessageOutcome } from '../../domain/delivery.js';
import { messageEventData } from '../../domain/events.js';
import type { AttemptRecord, OutboxRecord } from '../../domain/records.js';
import { takes } from '../event-fanout.js';
import type { ChooseProvider, OutboxPort } from '../ports/index.js';
import { num, numOrNull, toAttempt, toClaimed, toOutbox } from '../rows.js';
import { q, type Db, type TxCtx } from './connection.js';
import type { Events } from './events.js';

/**
 * Inside `t`: queues the step after `fromStep` of a pending verification, once (the UPDATE is guarded on the
 * current step). `appId` null: any app (the caller found the verification by a message of its own).
 */
export async function advance(t: TxCtx, appId: string | null, verificationId: string, fromStep: number, now: number): Promise<number | null> {
  const r = (await q(t.c, 'stepAdvance', [verificationId, appId, fromStep, now])).rows[0];
  if (!r) return null;
  await q(t.c, 'stepClearFallback', [verificationId, fromStep]);
  await q(t.c, 'stepQueue', [verificationId, r.step, now]);
  t.queued = true;
  return num(r.step);
}

export class PgOutbox implements OutboxPort {
  /**
   * The earliest pending fallback time, and until when (wall clock) it is trusted without asking the database: a
   * throttle of real time, whatever clock the callers' `now` comes from.
   */
  private firstFallback = { at: -Infinity, until: 0 };

  constructor(private readonly db: Db, private readonly events: Events) {}

  /**
   * No transaction: the claim is one statement (rows leased to this worker when it returns), then the attempts
   * about to be made are recorded by another, before any provider is called. A crash between the two leaves leased
   * messages with no attempt started: when the lease runs out they are claimed again and sent (nobody called a
   * provider for them). Route changes are written before the attempts, for the same reason.
   */
  async claim(now: number, limit: number, leaseMs: number, choose: ChooseProvider): Promise<ClaimedMessage[]> {
    return this.db.withClient(async (c) => {
      const rows = (await q(c, 'outClaim', [now, now + leaseMs, limit])).rows;
      if (rows.length === 0) return [];
      const attempts: { id: string; message_id: string; app_id: string; provider: string; started_at: number }[] = [];
      const routes: { id: string; route_index: number; provider: string }[] = [];
      const out: ClaimedMessage[] = [];
      for (const r of rows) {
        // Only a row whose lease ran out can have an unfinished attempt (completing a message finishes its attempt).
        const last = r.expired ? (await q(c, 'attLast', [r.id])).rows[0] : undefined;
        const v = r.v_id === null ? undefined : {
          code_sealed: r.v_code_sealed, status: r.v_status, expires_at: r.v_expires_at, created_at: r.v_created_at, channels: r.v_channels,
          channel: r.v_channel, step_timeout: r.v_step_timeout, callback_url: r.v_callback_url, country_iso: r.v_country_iso,
        };
        const m = toClaimed(r, v, last);
        if (m.crashedAttempt || m.verificationStatus !== 'pending' || !m.codeSealed) { out.push(m); continue; }
        const ch = choose(m);
        if (!ch) { out.push(m); continue; }
        attempts.push({ id: ch.attemptId, message_id: m.id, app_id: m.appId, provider: ch.provider, started_at: now });
        if (ch.routeIndex !== m.routeIndex) routes.push({ id: m.id, route_index: ch.routeIndex, provider: ch.provider });
        out.push({ ...m, routeIndex: ch.routeIndex, provider: ch.provider, attempt: { id: ch.attemptId, provider: ch.provider } });
      }
      if (routes.length) await q(c, 'outRoute', [JSON.stringify(routes), routes.map((r) => r.id)]);
      if (attempts.length) await q(c, 'attInsert', [JSON.stringify(attempts)]);
      return out;
    });
  }

  /** Whether recording `o` emits an event someone receives (a webhook endpoint or the verification's callback URL). */
  private async heard(o: MessageOutcome): Promise<boolean> {
    if (o.status !== 'sent' && o.status !== 'failed') return false;
    if (o.callbackUrl !== null) return true; // a callback URL, or not known
    const type = o.status === 'sent' ? 'message.sent' : 'message.failed';
    return (await this.events.endpointsOf(this.db.pool, o.appId)).some(takes(type));
  }

  /**
   * Outcomes and their attempts in one statement. It runs alone (its own commit, no BEGIN/COMMIT round trips) when
   * nothing else has to commit with it: no workflow step to advance and no event anyone receives. Otherwise the
   * events and the next steps are written in the same transaction.
   */
  async complete(outcomes: MessageOutcome[], now: number): Promise<Set<string>> {
    if (outcomes.length === 0) return new Set();
    const finished = outcomes.filter((o) => o.attempt).map((o) => {
      const a = o.attempt!;
      return { id: a.id, outcome: a.outcome, http_status: a.httpStatus ?? null, error_code: a.errorCode ?? null, error: a.error ?? null, provider_message_id: a.providerMessageId ?? null, finished_at: a.finishedAt };
    });
    const values = [JSON.stringify(finished), JSON.stringify(outcomes.map((o) => ({
      id: o.id, status: o.status, available_at: o.availableAt ?? null, route_index: o.routeIndex ?? null, provider_attempts: o.providerAttempts ?? null,
      provider: o.provider ?? null, provider_message_id: o.providerMessageId ?? null, error_code: o.errorCode ?? null, error: o.error ?? null,
      price: o.price ?? null, price_currency: o.priceCurrency ?? null, sent_at: o.sentAt ?? null, failed_at: o.failedAt ?? null,
      fallback_at: o.fallbackAt ?? null, outcome_unknown: !!o.outcomeUnknown,
    }))), finished.map((a) => a.id), outcomes.map((o) => o.id)];
    const alone = outcomes.every((o) => !o.advance) && !(await Promise.all(outcomes.map((o) => this.heard(o)))).some(Boolean);
    if (alone) {
      const changed = new Set((await this.db.read('outDone', values)).map((r) => r.id as string));
      if (this.noteOutcomes(outcomes, changed)) this.db.afterCommit({ emitted: false, queued: true });
      return changed;
    }
    return this.db.tx(async (t) => {
      const changed = new Map((await q(t.c, 'outDone', values)).rows.map((r) => [r.id as string, (r.callback_url as string | null) ?? null]));
      if (this.noteOutcomes(outcomes, changed)) t.queued = true;
      for (const o of outcomes) {
        if (!changed.has(o.id)) continue;
        if (o.status === 'sent' || o.status === 'failed') {
          await this.events.emit(t, o.appId, o.status === 'sent' ? 'message.sent' : 'message.failed',
            async () => messageEventData(toOutbox((await q(t.c, 'outGet', [o.id])).rows[0]!)), { verificationId: o.verificationId, messageId: o.id, callbackUrl: changed.get(o.id) ?? null }, now);
        }
        if (o.advance) await advance(t, null, o.verificationId, o.step, now);
      }
      return new Set(changed.keys());
    });
  }

  /** For the recorded outcomes (`changed`): keeps the earliest fallback known; true if one queued its message again. */
  private noteOutcomes(outcomes: MessageOutcome[], changed: { has(id: string): boolean }): boolean {
    let queued = false;
    for (const o of outcomes) {
      if (!changed.has(o.id)) continue;
      if (o.fallbackAt !== undefined && o.fallbackAt !== null && o.fallbackAt < this.firstFallback.at) this.firstFallback.at = o.fallbackAt;
      if (o.status === 'queued') queued = true;
    }
    return queued;
  }

  async advanceStep(appId: string, verificationId: string, fromStep: number, now: number): Promise<number | null> {
    return this.db.tx((t) => advance(t, appId, verificationId, fromStep, now));
  }

  /**
   * Fallbacks due. The earliest pending fallback time is remembered for a second (fallbacks this node schedules
   * lower it at once), so a busy worker does not ask the database before each drain.
   */
  async fireFallbacks(now: number, limit: number): Promise<number> {
    if (now < this.firstFallback.at && Date.now() < this.firstFallback.until) return 0;
    const first = numOrNull((await this.db.read('fallbackFirst'))[0]?.fallback_at);
    this.firstFallback = { at: first ?? Infinity, until: Date.now() + 1_000 };
    if (first === null || first > now) return 0;
    return this.db.tx(async (t) => {
      let n = 0;
      for (const r of (await q(t.c, 'fallbackDue', [now, limit])).rows) {
        if ((await advance(t, null, r.verification_id as string, num(r.step), now)) !== null) n++;
      }
      return n;
    });
  }

  async backlog(now: number): Promise<{ due: number; oldestDueAt: number | null }> {
    const r = (await this.db.read('outBacklog', [now]))[0];
    return { due: Number(r?.n ?? 0), oldestDueAt: numOrNull(r?.t) };
  }

  async nextDueAt(): Promise<number | null> {
    return numOrNull((await this.db.read('nextDue'))[0]?.t);
  }

  async list(appId: string, verificationId: string): Promise<OutboxRecord[]> {
    return (await this.db.read('outList', [appId, verificationId])).map(toOutbox);
  }

  async listAttempts(messageId: string): Promise<AttemptRecord[]> {
    return (await this.db.read('attList', [messageId])).map(toAttempt);
  }
}
