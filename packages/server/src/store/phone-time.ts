/**
 * A phone's counters as a send decision serialised on that phone sees them, in both adapters.
 *
 * A request reads the clock (`now`) before its store call, and requests reach the phone's lock in another order than
 * they read it: PostgreSQL loads a cold per-app cache on several connections that answer in any order, another node
 * reads its own clock, and a SQLite file may be shared by two processes. So the request serialised just before this
 * one may have read a later time, and recorded its send at that time. That send happened before this decision, so
 * the decision sees it as made at `now`, not after: with a cooldown of 0, `now < lastSendAt` would refuse the start
 * (`rate_limited`) as too soon after a send still in its future, where the same requests arriving in clock order
 * all succeed. With a cooldown, the request is still refused, its Retry-After counted from `now` (the other send
 * committed before this answer leaves, so waiting that long from the answer is enough). Nothing else moves: a lock or
 * a window started after `now` still holds.
 */
import type { PhoneState } from '../domain/verification.js';

/** The stored counters (undefined: no row) as seen by a decision at `now`: a last send after `now` counts as at `now`. */
export function phoneAsOf(stored: PhoneState | undefined, now: number): PhoneState | undefined {
  if (!stored || stored.lastSendAt === null || stored.lastSendAt <= now) return stored;
  return { ...stored, lastSendAt: now };
}

/** The counters a decision returned, to write over `stored`: the phone's last send never moves back in time. */
export function phoneToWrite(decided: PhoneState, stored: PhoneState | undefined): PhoneState {
  const last = stored?.lastSendAt ?? null;
  if (last === null || decided.lastSendAt === null || decided.lastSendAt >= last) return decided;
  return { ...decided, lastSendAt: last };
}
