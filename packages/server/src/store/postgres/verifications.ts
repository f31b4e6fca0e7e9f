/**
 * Verifications. The hot path, start and check, is batched: `Batcher` forms the groups, and each group takes the
 * fast path first (fast-paths.ts: one statement that commits on its own, no lock across round trips), then the
 * locked path (locked-paths.ts: one transaction under the phones' locks) for the ops the fast path left. A start
 * with an Idempotency-Key and a check by recipient run alone on the locked path.
 */
import { OtpdError } from '../../domain/errors.js';
import type { PhoneState, VerificationRecord } from '../../domain/records.js';
import { newestFirst, numbered, verificationsWhere } from '../list-query.js';
import type {
  CheckInput, CheckResult, ListQuery, ResendDecision, StartDecision, StartInput, StartResult, VerificationsPort,
} from '../ports/index.js';
import { phoneAsOf, phoneToWrite } from '../phone-time.js';
import { toPhoneState, toVerification } from '../rows.js';
import { Batcher, type CheckOp, type StartOp } from './batcher.js';
import { q, type Db } from './connection.js';
import type { Events } from './events.js';
import { FastPaths, Recent } from './fast-paths.js';
import { outboxRow } from './json-rows.js';
import { LockedPaths, type StartOutcome } from './locked-paths.js';
import { putPhone } from './phones.js';

export class PgVerifications implements VerificationsPort {
  private readonly recent = new Recent();
  private readonly fast: FastPaths;
  private readonly locked: LockedPaths;
  private readonly batcher: Batcher;

  constructor(private readonly db: Db, private readonly events: Events, poolSize: number) {
    this.fast = new FastPaths(db, events, this.recent);
    this.locked = new LockedPaths(db, events, this.recent);
    this.batcher = new Batcher(poolSize, { start: (ops) => this.runStartGroup(ops), check: (ops) => this.runCheckGroup(ops) });
  }

  /**
   * Starts are batched: the starts that arrive while earlier groups run are done together (one statement, or one
   * lock statement, one write statement and one COMMIT for all), at most one per phone per group. A start with an
   * Idempotency-Key runs alone. A group that fails for any reason other than the connection is rolled back and
   * each of its starts is run alone, so one bad start cannot fail the others.
   */
  start(input: StartInput, decide: (phone: PhoneState | undefined) => StartDecision): Promise<StartResult> {
    if (input.idempotency) return this.locked.startOne(input, decide);
    return this.batcher.start(input, decide);
  }

  /** Checks by id are batched like starts (at most one per verification per group); by recipient, alone. */
  check(input: CheckInput, judge: (v: VerificationRecord) => boolean): Promise<CheckResult | null> {
    if (!('id' in input.target)) return this.locked.checkOne(input, judge);
    return this.batcher.check(input, judge);
  }

  private async runStartGroup(ops: StartOp[]): Promise<void> {
    const fresh = await unlocked(ops, () => this.fast.applyStartsFresh(ops));
    if (!fresh) return;
    ops.forEach((op, i) => { if (fresh[i]) op.resolve(fresh[i]!); });
    ops = ops.filter((_, i) => !fresh[i]);
    if (ops.length === 0) return;
    let outcomes: StartOutcome[];
    try {
      outcomes = await this.db.tx((t) => this.locked.applyStarts(t, ops));
    } catch (e) {
      if (failedAll(e, ops)) return;
      // Something in the group failed: each start on its own, so only the one at fault fails.
      await Promise.all(ops.map((op) => this.locked.startOne(op.input, op.decide).then(op.resolve, op.reject)));
      return;
    }
    ops.forEach((op, i) => {
      const o = outcomes[i]!;
      if (o.ok) op.resolve(o.value);
      else op.reject(o.error);
    });
  }

  private async runCheckGroup(ops: CheckOp[]): Promise<void> {
    const results = await unlocked(ops, () => this.fast.applyChecksOptimistic(ops));
    if (!results) return;
    // Those that took no try (or whose group failed) are answered alone.
    await Promise.all(ops.map((op, i) => {
      const r = results[i];
      if (r) { op.resolve(r); return undefined; }
      return this.locked.checkOne(op.input, op.judge).then(op.resolve, op.reject);
    }));
  }

  async resend(
    input: { appId: string; id: string; now: number },
    decide: (v: VerificationRecord, phone: PhoneState | undefined) => ResendDecision,
  ): Promise<VerificationRecord | null> {
    const { appId, id } = input;
    this.recent.forget(id);
    const to = (await this.db.read('verTo', [id, appId]))[0]?.to_addr as string | undefined;
    if (to === undefined) return null;
    const out = await this.db.tx(async (t): Promise<VerificationRecord | { error: OtpdError }> => {
      const ph = (await q(t.c, 'phoneLock', [appId, to])).rows[0]!;
      const v = toVerification((await q(t.c, 'verGetForUpdate', [id, appId])).rows[0]!);
      const stored = ph.fresh ? undefined : toPhoneState(ph);
      const d = decide(v, phoneAsOf(stored, input.now));
      if (!d.ok) {
        if (!d.phone) throw d.error;
        await putPhone(t, appId, v.to, phoneToWrite(d.phone, stored));
        return { error: d.error };
      }
      const n = d.verification;
      await q(t.c, 'verResent', [id, n.channel, n.sends, n.resendAvailableAt, n.parts, n.cost, n.updatedAt]);
      await q(t.c, 'outInsert', [JSON.stringify([outboxRow(d.message)])]);
      await putPhone(t, appId, v.to, phoneToWrite(d.phone, stored));
      if (d.message.status === 'queued') t.queued = true;
      return n;
    });
    if ('error' in out) throw out.error;
    return out;
  }

  async cancel(appId: string, id: string, now: number): Promise<VerificationRecord | null> {
    this.recent.forget(id);
    return this.db.tx(async (t) => {
      const changed = (await q(t.c, 'verCancel', [id, appId, now])).rows[0];
      if (changed) {
        const v = toVerification(changed);
        await this.events.emitVerification(t, v.status === 'expired' ? 'verification.expired' : 'verification.canceled', v, now);
        return v;
      }
      const r = (await q(t.c, 'verGet', [id, appId])).rows[0];
      return r ? toVerification(r) : null;
    });
  }

  async get(appId: string, id: string): Promise<VerificationRecord | null> {
    const r = (await this.db.read('verGet', [id, appId]))[0];
    return r ? toVerification(r) : null;
  }

  async idempotent(appId: string, key: string): Promise<{ requestHash: Buffer; response: string } | null> {
    const r = (await this.db.read('idemGet', [appId, key]))[0];
    return r ? { requestHash: r.request_hash as Buffer, response: r.response as string } : null;
  }

  async list(appId: string, f: ListQuery, now: number): Promise<VerificationRecord[]> {
    const { sql, values } = newestFirst('verifications', verificationsWhere(appId, f, now), f.limit);
    return (await this.db.adhoc(numbered(sql), values)).map(toVerification);
  }

  async expireDue(now: number, limit: number): Promise<number> {
    if ((await this.db.read('verExpireAny', [now])).length === 0) return 0; // a plain read first: usually nothing is due
    return this.db.tx(async (t) => {
      const rows = (await q(t.c, 'verExpireDue', [now, limit])).rows;
      for (const r of rows) await this.events.emitVerification(t, 'verification.expired', toVerification(r), now);
      return rows.length;
    });
  }
}

/** When the database is unavailable, every op of a group fails with that (true); other errors are retried per op. */
function failedAll(e: unknown, ops: { reject: (e: unknown) => void }[]): boolean {
  if (!(e instanceof OtpdError && e.code === 'store_unavailable')) return false;
  for (const op of ops) op.reject(e);
  return true;
}

/**
 * A group's path without a transaction: its results (undefined for an op it did not write), all undefined if it
 * failed (each op then takes the locked path), or null when the database is unavailable (every op rejected).
 */
async function unlocked<T>(ops: { reject: (e: unknown) => void }[], run: () => Promise<(T | undefined)[]>): Promise<(T | undefined)[] | null> {
  try {
    return await run();
  } catch (e) {
    return failedAll(e, ops) ? null : ops.map(() => undefined);
  }
}
