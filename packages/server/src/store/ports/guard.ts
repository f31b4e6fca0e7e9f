/**
 * The guard's state (guard/): one row per (scope, rule, value), the decisions it recorded, the blocks in force. The
 * rules themselves are pure (guard/evaluate.ts); the adapter reads the rows a request needs, runs the decision on
 * them and writes what it returns, in ONE transaction that holds those rows, so every node shares one budget.
 */
import type { AuditEntry, GuardDecisionRecord, GuardRow } from '../../domain/records.js';

export interface GuardEvent {
  appId: string;
  type: 'fraud.blocked' | 'fraud.unblocked' | 'spend.warning';
  data: Record<string, unknown>;
}

/** What a decision writes: rows (upserted), decisions (inserted), events (with their webhook deliveries), audit entries. */
export interface GuardChange {
  rows: GuardRow[];
  decisions: GuardDecisionRecord[];
  events: GuardEvent[];
  audit?: AuditEntry[];
}

export interface DecisionQuery {
  rule?: string | undefined;
  prefix?: string | undefined;
  country?: string | undefined;
  /** Epoch ms, inclusive. */
  since?: number | undefined;
  until?: number | undefined;
  limit: number;
  /** Decisions with ids strictly before this one (older). */
  before?: string | undefined;
}

export interface GuardPort {
  /**
   * Reads the rows of `keys` (a missing row is absent from the map), runs `decide` and writes its change, in ONE
   * transaction that holds the rows: concurrent calls on any node see each other's writes. `decide` is synchronous
   * and pure; an adapter may run it again on a retry. Adapters group calls that arrive together.
   */
  apply<T>(keys: readonly string[], now: number, decide: (rows: ReadonlyMap<string, GuardRow>) => { change: GuardChange; out: T }): Promise<T>;
  /** An app's recorded decisions, newest first. */
  decisions(appId: string, q: DecisionQuery): Promise<GuardDecisionRecord[]>;
  /** Rows of `scope` with a block that ends after `now`, the latest-ending first. */
  blocks(scope: string, now: number, limit: number): Promise<GuardRow[]>;
  /** Rows of any scope whose latest block ended at or before `now` (to announce the end), the earliest first. */
  endedBlocks(now: number, limit: number): Promise<GuardRow[]>;
  /** The rows of these keys that exist (a plain read). */
  get(keys: readonly string[]): Promise<GuardRow[]>;
  /**
   * One step of the sweep: looks at up to `limit` rows after the key `after` (null: from the first) in key order
   * and deletes those with nothing left to remember at `now`. `next` is where the next step starts (null: done).
   * Decisions go with retention.
   */
  purge(now: number, after: string | null, limit: number): Promise<{ deleted: number; next: string | null }>;
}
