/**
 * Failed-authentication limiter per source address: after `max` failures within `windowMs`, that source gets
 * 429 `rate_limited` (with Retry-After) until the window ends, whatever credential it presents, so keys and the
 * admin token cannot be guessed at speed. Successes do not count. Per process, in memory.
 */
import type { Clock } from '../domain/clock.js';
import { OtpdError } from '../domain/errors.js';

export class AuthLimiter {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(private readonly clock: Clock, private readonly max = 20, private readonly windowMs = 60_000) {}

  /** Throws `rate_limited` while `source` is over its failure budget. */
  check(source: string): void {
    const f = this.failures.get(source);
    if (!f) return;
    const now = this.clock.now();
    if (now - f.since >= this.windowMs) {
      this.failures.delete(source);
      return;
    }
    if (f.count >= this.max) {
      const retryAfter = Math.max(1, Math.ceil((f.since + this.windowMs - now) / 1000));
      throw new OtpdError('rate_limited', `Too many failed authentications from this address; retry after ${retryAfter} s`, { retryAfter });
    }
  }

  /** Counts one failed authentication from `source`. */
  fail(source: string): void {
    const now = this.clock.now();
    const f = this.failures.get(source);
    if (!f || now - f.since >= this.windowMs) {
      if (this.failures.size > 100_000) this.failures.clear();
      this.failures.set(source, { count: 1, since: now });
    } else {
      f.count += 1;
    }
  }
}
