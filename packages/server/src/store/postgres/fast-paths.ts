/**
 * The paths of a group that take no lock across round trips, each ONE statement that commits on its own: fresh
 * starts (`applyStartsFresh`) and optimistic checks (`applyChecksOptimistic`). Whatever they do not write (undefined
 * in their results) runs again on the locked paths (locked-paths.ts), which decide on what the locks show.
 */
import type { EventType } from '../../domain/events.js';
import type { PhoneState, VerificationRecord } from '../../domain/records.js';
import { settleCheck } from '../../domain/verification.js';
import type { CheckResult, StartResult } from '../ports/index.js';
import { toPhoneState, toVerification, type Row } from '../rows.js';
import type { CheckOp, StartOp } from './batcher.js';
import type { Db, TxCtx } from './connection.js';
import type { Events } from './events.js';
import { cmp, outboxRow, phoneRow, verificationRow } from './json-rows.js';

/** Pending verifications a node remembers for the checks it may get (see `Recent`): ~1 KiB each. */
const RECENT_MAX = 10_000;

/**
 * What this node last wrote of its recent pending verifications and their phones, by verification id: a check
 * arriving here is judged from it and goes straight to the compare-and-set write, with no read before. That write
 * compares with the database, so an entry gone stale (another node checked, resent, canceled, advanced a step)
 * only makes the write miss, and that check runs again under the locks. Oldest dropped past `RECENT_MAX`.
 */
export class Recent {
  private readonly byId = new Map<string, { v: VerificationRecord; phone: PhoneState }>();

  get(id: string): { v: VerificationRecord; phone: PhoneState } | undefined {
    return this.byId.get(id);
  }

  /** A pending verification as this node just wrote it, with its phone's row. */
  remember(v: VerificationRecord, phone: PhoneState): void {
    this.byId.delete(v.id);
    this.byId.set(v.id, { v, phone });
    if (this.byId.size > RECENT_MAX) this.byId.delete(this.byId.keys().next().value!);
  }

  forget(id: string): void {
    this.byId.delete(id);
  }
}

export class FastPaths {
  constructor(private readonly db: Db, private readonly events: Events, private readonly recent: Recent) {}

  /**
   * Starts decided for fresh phones (no row: never seen, or verified since) and written by one statement that
   * commits on its own (`startFresh`): one round trip and no lock held across round trips. A phone that has a row or
   * a pending verification is left out (nothing of its start is written) and gets undefined: its start runs again
   * under the phone's lock, deciding on the phone's real state.
   */
  async applyStartsFresh(ops: StartOp[]): Promise<(StartResult | undefined)[]> {
    const out: (StartResult | undefined)[] = ops.map(() => undefined);
    const phones: unknown[] = []; const vers: unknown[] = []; const msgs: unknown[] = []; const atts: unknown[] = [];
    const events: unknown[] = []; const deliveries: unknown[] = [];
    const made: { i: number; v: VerificationRecord; phone: PhoneState; result: StartResult; queued: boolean; heard: boolean }[] = [];
    for (let i = 0; i < ops.length; i++) {
      const { appId, to } = ops[i]!.input;
      const d = ops[i]!.decide(undefined);
      if (!d.ok) continue;
      const v = d.verification;
      phones.push(phoneRow(appId, to, d.phone));
      vers.push(verificationRow(v));
      msgs.push(...d.messages.map(outboxRow));
      for (const a of d.attempts ?? []) atts.push({ id: a.id, message_id: a.messageId, verification_id: v.id, app_id: a.appId, provider: a.provider, started_at: a.startedAt });
      const heard = await this.events.eventRows(events, deliveries, 'verification.created', v, v.createdAt);
      made.push({ i, v, phone: d.phone, result: { kind: 'created', verification: v, response: d.response }, queued: d.messages.some((m) => m.status === 'queued'), heard });
    }
    if (made.length === 0) return out;
    const written = new Set((await this.db.read('startFresh', [JSON.stringify(phones), JSON.stringify(vers), JSON.stringify(msgs), JSON.stringify(atts),
      JSON.stringify(events), JSON.stringify(deliveries)])).map((r) => r.id as string));
    const done: Pick<TxCtx, 'emitted' | 'queued' | 'transitions'> = { emitted: false, queued: false, transitions: [] };
    for (const m of made) {
      if (!written.has(m.v.id)) continue;
      out[m.i] = m.result;
      done.transitions!.push({ type: 'verification.created', v: m.v, at: m.v.createdAt });
      this.recent.remember(m.v, m.phone);
      done.emitted ||= m.heard;
      done.queued ||= m.queued;
    }
    this.db.afterCommit(done);
    return out;
  }

  /**
   * Checks by id without a transaction: the verifications and their phones as this node last wrote them (`recent`)
   * or else read in one statement, judged here, and written by one compare-and-set statement (`checkApply`) that
   * commits on its own, counting each try atomically and only if nothing changed since: one or two round trips, no
   * lock held between them. Undefined for a check not written that way (not checkable as read, a second check of a
   * phone in the group, or a write that missed because something changed): the caller runs it again under the locks.
   */
  async applyChecksOptimistic(ops: CheckOp[]): Promise<(CheckResult | undefined)[]> {
    const ids = ops.map((o) => (o.input.target as { id: string }).id);
    const known = new Map<string, { v: VerificationRecord; phone: PhoneState | undefined }>();
    const unknown: number[] = [];
    for (let i = 0; i < ops.length; i++) {
      const c = this.recent.get(ids[i]!);
      // Scoped to the calling app like every read: another app's id is looked up (and not found) as usual.
      if (c && c.v.appId === ops[i]!.input.appId) known.set(ids[i]!, c);
      else unknown.push(i);
    }
    if (unknown.length > 0) {
      for (const r of await this.db.read('checkRead', [unknown.map((i) => ids[i]!), unknown.map((i) => ops[i]!.input.appId)])) {
        known.set(r.id as string, { v: toVerification(r), phone: toPhoneState(r.phone as Row | undefined) });
      }
    }
    const out: (CheckResult | undefined)[] = ops.map(() => undefined);
    const vers: unknown[] = []; const phones: unknown[] = []; const events: unknown[] = []; const deliveries: unknown[] = [];
    const judged: { i: number; result: CheckResult; state: PhoneState; heard: boolean; event: EventType | undefined }[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < ops.length; i++) {
      this.recent.forget(ids[i]!); // remembered again below only as written
      const k = known.get(ids[i]!);
      const { now, lockout } = ops[i]!.input;
      if (!k?.phone) continue;
      const { v, phone: stored } = k;
      const key = `${v.appId}|${v.to}`;
      if (v.status !== 'pending' || v.expiresAt <= now || v.attempts >= v.maxAttempts || seen.has(key)) continue;
      seen.add(key);
      const tried: VerificationRecord = { ...v, attempts: v.attempts + 1, updatedAt: now };
      const s = settleCheck(tried, stored, ops[i]!.judge(tried), { lockout }, now);
      const result: CheckResult = { outcome: s.outcome, verification: s.verification };
      const after = s.verification;
      const state = s.phone;
      vers.push({ id: v.id, attempts: v.attempts, updated_at: v.updatedAt, now, n_attempts: after.attempts, status: after.status, verified_at: after.verifiedAt });
      phones.push({
        vid: v.id, a: v.appId, t: v.to, sends: stored.sends, failures: stored.failures, w: stored.windowStartedAt, l: stored.lastSendAt, lu: stored.lockedUntil, lr: stored.lockReason,
        n_sends: state.sends, n_failures: state.failures, n_w: state.windowStartedAt, n_l: state.lastSendAt, n_lu: state.lockedUntil, n_lr: state.lockReason,
        del: s.clearPhone,
      });
      const heard = s.event ? await this.events.eventRows(events, deliveries, s.event, after, now) : false;
      judged.push({ i, result, state, heard, event: s.event ?? undefined });
    }
    if (judged.length === 0) return out;
    // Locked in this order: by (app, phone) in byte order, like every statement that locks phones (COLLATE "C").
    (phones as { a: string; t: string }[]).sort((x, y) => cmp(x.a, y.a) || cmp(x.t, y.t));
    const written = new Set((await this.db.read('checkApply', [JSON.stringify(vers), JSON.stringify(phones), judged.map((j) => ids[j.i]!),
      JSON.stringify(events), JSON.stringify(deliveries)])).map((r) => r.id as string));
    const done: Pick<TxCtx, 'emitted' | 'queued' | 'transitions'> = { emitted: false, queued: false, transitions: [] };
    for (const { i, result, state, heard, event } of judged) {
      if (!written.has(ids[i]!)) continue;
      out[i] = result;
      done.emitted ||= heard;
      if (event) done.transitions!.push({ type: event, v: result.verification, at: result.verification.updatedAt });
      if (result.verification.status === 'pending') this.recent.remember(result.verification, state);
    }
    this.db.afterCommit(done);
    return out;
  }
}
