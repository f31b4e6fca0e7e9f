/**
 * Housekeeping: expired idempotency records and retention.
 */


/** Rows deleted per table by one retention batch. */
export type PurgeCounts = Record<string, number>;

export interface MaintenancePort {
  /** Deletes idempotency records past their expiry; returns how many. */
  purgeIdempotency(now: number): Promise<number>;
  /**
   * Retention: deletes at most `limit` rows per table of verifications, messages, attempts, events and webhook
   * deliveries created before `before` (found by their time-ordered ids). Callers repeat while a table is full.
   */
  purgeBefore(before: number, limit: number): Promise<PurgeCounts>;
}
