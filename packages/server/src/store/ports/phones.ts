/**
 * Phones: the per-(app, phone) counters, as the admin sees them (the verification use cases change them).
 */
import type { AuditEntry, PhoneState } from '../../domain/records.js';


export interface PhonesPort {
  /** Phones of an app that are locked at `now` (or the one phone `to`, locked or not), newest lock first. */
  list(appId: string, q: { to?: string | undefined; now: number; limit: number }): Promise<(PhoneState & { to: string })[]>;
  /** Clears a phone's counters and lock (admin unblock). Returns the state before, or null when there was none. */
  clear(appId: string, to: string, now: number, audit: (before: PhoneState) => AuditEntry[]): Promise<PhoneState | null>;
}
