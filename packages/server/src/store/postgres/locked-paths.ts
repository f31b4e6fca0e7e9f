/**
 * Starts and checks under the locks, in one transaction (READ COMMITTED): the phones' rows locked FIRST, in (app,
 * phone) order, then their verifications, so two groups never deadlock and no node can give a phone an extra try.
 * A group's ops share the transaction's statements (`applyStarts`, `applyChecks`); `startOne` and `checkOne` run one
 * op alone (with an Idempotency-Key, by recipient, or after its group failed).
 */
import { OtpdError } from '../../domain/errors.js';
import type { EventType } from '../../domain/events.js';
import type { PhoneState, VerificationRecord } from '../../domain/records.js';
import { settleCheck } from '../../domain/verification.js';
import type { CheckInput, CheckResult, StartDecision, StartInput, StartResult } from '../ports/index.js';
import { phoneAsOf, phoneToWrite } from '../phone-time.js';
import { toPhoneState, toVerification, type Row } from '../rows.js';
import { NoRow, q, type Db, type TxCtx } from './connection.js';
import type { Events } from './events.js';
import type { Recent } from './fast-paths.js';
import { cmp, outboxRow, phoneRow, verificationRow } from './json-rows.js';

export type StartOutcome = { ok: true; value: StartResult } | { ok: false; error: unknown };

export class LockedPaths {
  constructor(private readonly db: Db, private readonly events: Events, private readonly recent: Recent) {}

  /** A start alone: with its Idempotency-Key (looked up and stored in the same transaction), or after a failed group. */
  async startOne(input: StartInput, decide: (phone: PhoneState | undefined) => StartDecision): Promise<StartResult> {
    const { appId, now, idempotency } = input;
    const out = await this.db.tx(async (t): Promise<StartOutcome> => {
      if (idempotency) {
        // Same key twice at once: the second waits here for the first to commit, then replays its answer.
        await q(t.c, 'idemLock', [appId, idempotency.key]);
        const prior = (await q(t.c, 'idemGet', [appId, idempotency.key])).rows[0];
        if (prior) {
          if (!(prior.request_hash as Buffer).equals(idempotency.requestHash)) {
            return { ok: false, error: new OtpdError('idempotency_key_reused', 'This Idempotency-Key was used with another request body') };
          }
          return { ok: true, value: { kind: 'replayed', response: prior.response as string } };
        }
      }
      const [o] = await this.applyStarts(t, [{ input, decide }]);
      if (idempotency && o!.ok && o!.value.kind === 'created') {
        await q(t.c, 'idemPut', [appId, idempotency.key, idempotency.requestHash, o!.value.response, now, idempotency.expiresAt]);
      }
      return o!;
    });
    if (!out.ok) throw out.error;
    return out.value;
  }

  /**
   * Starts in the transaction `t`: their phones locked in one statement, in (app, phone) order (so two groups never
   * deadlock), the decisions run in arrival order, everything written by one statement, then the events. At most
   * one start per phone. A refusal that records a lock writes it; one that records nothing leaves nothing behind.
   */
  async applyStarts(t: TxCtx, ops: { input: StartInput; decide: (phone: PhoneState | undefined) => StartDecision }[]): Promise<StartOutcome[]> {
    const sorted = [...ops].sort((a, b) => cmp(a.input.appId, b.input.appId) || cmp(a.input.to, b.input.to));
    const locked = new Map((await q(t.c, 'phoneLockMany', [sorted.map((o) => o.input.appId), sorted.map((o) => o.input.to)])).rows
      .map((r) => [`${r.app_id as string}|${r.to_addr as string}`, r]));
    const out: StartOutcome[] = [];
    const closes: unknown[] = []; const vers: unknown[] = []; const msgs: unknown[] = []; const phones: unknown[] = []; const dels: unknown[] = [];
    const atts: unknown[] = [];
    const created: VerificationRecord[] = [];
    for (const op of ops) {
      const { appId, to, now } = op.input;
      const ph = locked.get(`${appId}|${to}`)!;
      // Seen as of this start's clock: the start serialised before it may have read a later one (see phone-time.ts).
      const stored = ph.fresh ? undefined : toPhoneState(ph);
      const d = op.decide(phoneAsOf(stored, now));
      if (!d.ok) {
        if (d.phone) phones.push(phoneRow(appId, to, phoneToWrite(d.phone, stored)));
        else if (ph.fresh) dels.push({ a: appId, t: to });
        out.push({ ok: false, error: d.error });
        continue;
      }
      closes.push({ a: appId, t: to, now });
      vers.push(verificationRow(d.verification));
      msgs.push(...d.messages.map(outboxRow));
      for (const a of d.attempts ?? []) atts.push({ id: a.id, message_id: a.messageId, app_id: a.appId, provider: a.provider, started_at: a.startedAt });
      phones.push(phoneRow(appId, to, phoneToWrite(d.phone, stored)));
      if (d.messages.some((m) => m.status === 'queued')) t.queued = true;
      created.push(d.verification);
      out.push({ ok: true, value: { kind: 'created', verification: d.verification, response: d.response } });
    }
    if (phones.length === 0 && dels.length === 0) return out;
    const closed = (await q(t.c, 'startWriteMany', [JSON.stringify(closes), JSON.stringify(vers), JSON.stringify(msgs), JSON.stringify(phones), JSON.stringify(dels),
      JSON.stringify(atts)])).rows;
    for (const r of closed) {
      const old = toVerification(r);
      this.recent.forget(old.id);
      await this.events.emitVerification(t, old.status === 'expired' ? 'verification.expired' : 'verification.canceled', old, old.updatedAt);
    }
    for (const v of created) await this.events.emitVerification(t, 'verification.created', v, v.createdAt);
    return out;
  }

  /** A check alone: by recipient (its phone locked before the newest verification is looked up), or after a failed group. */
  async checkOne(input: CheckInput, judge: (v: VerificationRecord) => boolean): Promise<CheckResult | null> {
    const { appId, target, now } = input;
    return this.db.tx(async (t): Promise<CheckResult | null> => {
      let id: string;
      if ('id' in target) id = target.id;
      else {
        await q(t.c, 'phoneLock', [appId, target.to]); // lock first, then find the newest (a start may be creating one)
        const newest = (await q(t.c, 'verNewestFor', [appId, target.to])).rows[0];
        if (!newest?.id) throw new NoRow();
        id = newest.id as string;
      }
      const [r] = await this.applyChecks(t, [{ input: { ...input, target: { id } }, judge }]);
      if (r) return r;
      const row = (await q(t.c, 'verGet', [id, appId])).rows[0];
      if (!row) throw new NoRow();
      let v = toVerification(row);
      if (v.status === 'pending' && v.expiresAt <= now) {
        await q(t.c, 'verExpire', [now, id]);
        v = { ...v, status: 'expired', codeSealed: null, updatedAt: now };
        await this.events.emitVerification(t, 'verification.expired', v, now);
      }
      return { outcome: 'closed', verification: v };
    }).catch((e: unknown) => {
      if (e instanceof NoRow) return null;
      throw e;
    });
  }

  /**
   * Checks by id in the transaction `t`: their phones locked first (sorted), one try counted per verification by a
   * guarded UPDATE (ids distinct), each judged in order and settled by `settleCheck`, then the settled verifications
   * and the phones' counters written by one statement, then the events. Undefined for a verification that took no
   * try (closed, expired, out of tries or unknown): the caller answers it.
   */
  async applyChecks(t: TxCtx, ops: { input: CheckInput; judge: (v: VerificationRecord) => boolean }[]): Promise<(CheckResult | undefined)[]> {
    const ids = ops.map((o) => (o.input.target as { id: string }).id);
    const bumped = new Map((await q(t.c, 'checkBumpMany', [ids, ops.map((o) => o.input.appId), ops.map((o) => o.input.now)])).rows
      .map((r) => [r.id as string, r]));
    const out: (CheckResult | undefined)[] = [];
    const settles: { id: string }[] = [];
    // The phone's state as this group leaves it (two of a phone's verifications may be in one group).
    const phones = new Map<string, { appId: string; to: string; state: PhoneState; verified: boolean }>();
    const events: [EventType, VerificationRecord, number][] = [];
    ops.forEach((op, i) => {
      const r = bumped.get(ids[i]!);
      if (!r) { out.push(undefined); return; }
      const { now, lockout } = op.input;
      const v = toVerification(r);
      const key = `${v.appId}|${v.to}`;
      const stored = phones.has(key) ? phones.get(key)!.state : r.phone ? toPhoneState(r.phone as Row) : undefined;
      const s = settleCheck(v, stored, op.judge(v), { lockout }, now);
      phones.set(key, { appId: v.appId, to: v.to, state: s.phone, verified: s.clearPhone });
      if (s.event) {
        settles.push({ id: v.id, status: s.verification.status, verified_at: s.verification.verifiedAt, now } as { id: string });
        events.push([s.event, s.verification, now]);
      }
      out.push({ outcome: s.outcome, verification: s.verification });
    });
    if (phones.size > 0) {
      // A phone verified last in the group loses its row: its counters are back to those of a phone never seen.
      const [cleared, kept] = partition([...phones.values()], (p) => p.verified);
      await q(t.c, 'checkWriteMany', [JSON.stringify(settles), JSON.stringify(kept.map((p) => phoneRow(p.appId, p.to, p.state))),
        settles.map((x) => x.id), JSON.stringify(cleared.map((p) => ({ a: p.appId, t: p.to })))]);
    }
    for (const [type, v, now] of events) await this.events.emitVerification(t, type, v, now);
    return out;
  }
}

function partition<T>(xs: T[], yes: (x: T) => boolean): [T[], T[]] {
  const a: T[] = []; const b: T[] = [];
  for (const x of xs) (yes(x) ? a : b).push(x);
  return [a, b];
}
