/**
 * Verifications: each use case that must be atomic is ONE method. The adapter opens the transaction, reads what the
 * decision needs, calls the pure decision callback (built from `domain/`) inside it and writes what it returns.
 * Callbacks are synchronous and do no I/O, so an adapter may run them between two statements of a transaction that
 * holds its row locks, and run them again when it retries.
 */
import type { OtpdError } from '../../domain/errors.js';
import type { OutboxRecord, PhoneState, Status, VerificationRecord } from '../../domain/records.js';
import type { StartedAttempt } from '../../domain/delivery.js';


export interface IdempotencyInput {
  key: string;
  requestHash: Buffer;
  expiresAt: number;
}

export type StartDecision =
  /**
   * `messages`: one per workflow step, the first `queued` (or `sending`: already claimed by this node's worker,
   * which sends it right after the commit; `attempts` then holds its started attempt), the others `waiting`.
   */
  | { ok: true; phone: PhoneState; verification: VerificationRecord; messages: OutboxRecord[]; attempts?: StartedAttempt[]; response: string }
  | { ok: false; error: OtpdError; phone?: PhoneState };

export type StartResult =
  | { kind: 'created'; verification: VerificationRecord; response: string }
  | { kind: 'replayed'; response: string };

export type ResendDecision =
  | { ok: true; phone: PhoneState; verification: VerificationRecord; message: OutboxRecord }
  | { ok: false; error: OtpdError; phone?: PhoneState };

export type CheckTarget = { id: string } | { to: string };

/** A try that was counted (`verified`, `wrong`: the settlement of domain's `settleCheck`), or none (`closed`). */
export type CheckResult =
  | { outcome: 'verified' | 'wrong'; verification: VerificationRecord }
  | { outcome: 'closed'; verification: VerificationRecord };

export interface ListQuery {
  to?: string | undefined;
  status?: Status | undefined;
  limit: number;
  /** Return verifications with ids strictly before (older than) this one. */
  before?: string | undefined;
}

export interface StartInput { appId: string; to: string; now: number; lockout: number; idempotency?: IdempotencyInput | undefined }
export interface CheckInput { appId: string; target: CheckTarget; now: number; lockout: number }

export interface VerificationsPort {
  /**
   * Starts a verification in ONE transaction: idempotency replay, the phone's counters, the decision, then the
   * pending verification of the same phone canceled, the new one and its outbox messages inserted, the counters and
   * the idempotency record written. A refusal may still record a lock. Throws the decision's error after commit.
   * `idempotency` with the same key and another hash throws `idempotency_key_reused`.
   */
  start(input: StartInput, decide: (phone: PhoneState | undefined) => StartDecision): Promise<StartResult>;
  /**
   * Checks a code in ONE transaction: the try is counted by one guarded write (only while pending, unexpired and
   * under the limit) before `judge` compares; `settleCheck` (domain) gives the verification's and the phone's new
   * state and the event. A pending verification past its expiry is closed as expired. Null when no such
   * verification is in the app.
   */
  check(input: CheckInput, judge: (v: VerificationRecord) => boolean): Promise<CheckResult | null>;
  /** Resends in ONE transaction: the decision sees the verification and the phone's counters. Null when not found. */
  resend(input: { appId: string; id: string; now: number }, decide: (v: VerificationRecord, phone: PhoneState | undefined) => ResendDecision): Promise<VerificationRecord | null>;
  /** Cancels a pending verification (or closes it as expired). Null when not found; otherwise the row after. */
  cancel(appId: string, id: string, now: number): Promise<VerificationRecord | null>;
  get(appId: string, id: string): Promise<VerificationRecord | null>;
  /** The first response stored under an Idempotency-Key of the app, with the hash of its request (null: none). */
  idempotent(appId: string, key: string): Promise<{ requestHash: Buffer; response: string } | null>;
  list(appId: string, q: ListQuery, now: number): Promise<VerificationRecord[]>;
  /** Closes up to `limit` pending verifications whose expiry passed (emitting verification.expired); returns how many. */
  expireDue(now: number, limit: number): Promise<number>;
}
