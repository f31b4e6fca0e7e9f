/**
 * The outbox: messages to deliver, claimed by the delivery worker, and their provider attempts and workflow steps.
 */
import type { ClaimedMessage, MessageOutcome } from '../../domain/delivery.js';
import type { AttemptRecord, OutboxRecord } from '../../domain/records.js';


/** What the claim asks the worker's router: a provider for this message now (and its index in the route). */
export type ChooseProvider = (m: ClaimedMessage) => { provider: string; routeIndex: number; attemptId: string } | null;

export interface OutboxPort {
  /**
   * Claims up to `limit` due messages for `leaseMs` (a crashed worker's claims become due again). For each, unless
   * a previous attempt never finished (then `crashedAttempt` is set and nothing is chosen), `choose` picks a
   * provider and a 'started' attempt is recorded before any provider is called.
   */
  claim(now: number, limit: number, leaseMs: number, choose: ChooseProvider): Promise<ClaimedMessage[]>;
  /**
   * Records the outcomes of claimed messages; `advance` queues the verification's next workflow step. Resolves with
   * the ids of the messages recorded (one whose claim was lost meanwhile, e.g. its lease ran out, is left as it is).
   */
  complete(outcomes: MessageOutcome[], now: number): Promise<Set<string>>;
  /**
   * Queues the next workflow step of a pending verification if its current step is `fromStep` (guarded, so two
   * triggers never advance twice). Returns the step now being delivered, or null when there is none to start.
   */
  advanceStep(appId: string, verificationId: string, fromStep: number, now: number): Promise<number | null>;
  /** Starts the next step for every sent message whose fallback time passed without a delivery receipt. */
  fireFallbacks(now: number, limit: number): Promise<number>;
  /** Earliest time something becomes due (a queued message, a retry, a fallback), for the worker's timer. */
  nextDueAt(): Promise<number | null>;
  /** Queued messages due by `now`, and when the oldest became due (metrics). */
  backlog(now: number): Promise<{ due: number; oldestDueAt: number | null }>;
  /** Messages of a verification, oldest first. */
  list(appId: string, verificationId: string): Promise<OutboxRecord[]>;
  /** Provider calls for a message, oldest first. */
  listAttempts(messageId: string): Promise<AttemptRecord[]>;
}
