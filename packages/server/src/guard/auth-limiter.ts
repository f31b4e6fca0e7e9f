/**
 * Failed-authentication limiter per source (an IPv4 address or an IPv6 /64, see `sourceKey`): after `max`
 * failures within `windowMs`, that source is refused with 429 `rate_limited` (and Retry-After) until the window
 * ends, before any lookup, so keys, client secrets and the admin token cannot be guessed at speed.
 *
 * - **A valid credential is not punished for others' failures.** Many users share one address (NAT, offices,
 *   carriers). A credential that authenticated successfully in the last `knownGoodMs` (on this node) passes even
 *   from a blocked source; only credentials never seen to work are refused there. Credentials are remembered by a
 *   SHA-256 fingerprint, never in clear.
 * - **Memory is bounded without forgetting attackers first.** Sources still under the limit and blocked sources are
 *   kept apart. When the first map is full, the sources whose window started longest ago are dropped (expired ones
 *   first); a flood of new sources therefore never evicts a blocked one. The blocked map has its own bound and drops
 *   the block that ends soonest.
 *
 * - **Shared by every node.** With a store, each failure is also counted in the guard's rows (`*|auth|<source>`,
 *   the same compare-and-set as the guard's budgets), and the answer says whether the source's shared count is
 *   over the limit: a node that has never seen the source blocks it at its first failure there. So N nodes allow
 *   `max` failures per window in all, plus, per node, those it answers while the count that tells it is on its way
 *   (one or two when requests come one at a time). The check before each request stays a map lookup in memory;
 *   counting happens after a failure, off the request's path.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import { OtpdError } from '../domain/errors.js';
import type { GuardPort } from '../store/ports/index.js';
import { sourceKey } from './client-address.js';
import { emptyRow, emptyState, rowKey, withStates } from './evaluate.js';

export interface AuthLimiterOptions {
  /** Failures a source may have within the window (default 20). */
  max?: number;
  windowMs?: number;
  /** Sources tracked below the limit, and blocked sources (each map; default 100,000). */
  maxSources?: number;
  /** How long a credential that worked stays known-good (default 24 h), and how many are kept (default 100,000). */
  knownGoodMs?: number;
  maxKnownGood?: number;
  /** Where failures are counted for every node (none: this process counts alone). */
  shared?: Pick<GuardPort, 'apply'>;
  /** Where a failure to count in the store is reported (the local count still holds). */
  onError?: (err: unknown) => void;
}

/** The rule id of the shared count in its row: `level` failures in the window that began at `at`. */
const AUTH_RULE = 'auth-failures';
/** Failures on their way to the store at most. */
const MAX_PENDING = 1_000;

const fingerprint = (credential: string) => createHash('sha256').update(credential).digest('base64url').slice(0, 22);

export class AuthLimiter {
  /** Sources below the limit: failures so far and when their window started, oldest window first. */
  private readonly counting = new Map<string, { count: number; since: number }>();
  /** Sources over the limit, and when their block ends; roughly soonest-ending first. */
  private readonly blocked = new Map<string, number>();
  /** Fingerprints of credentials that authenticated, with the time they last did; least recent first. */
  private readonly knownGood = new Map<string, number>();
  /**
   * Credentials recorded in the last minute, as presented (like the API-key cache, briefly in memory): a request
   * whose credential is here costs a map lookup instead of a SHA-256 (hashing every authenticated request cost
   * about 5 % of the flow's throughput, measured side by side).
   */
  private readonly recent = new Map<string, number>();
  private readonly o: Required<Omit<AuthLimiterOptions, 'shared' | 'onError'>>;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly clock: Clock, private readonly opts: AuthLimiterOptions = {}) {
    this.o = {
      max: opts.max ?? 20, windowMs: opts.windowMs ?? 60_000, maxSources: opts.maxSources ?? 100_000,
      knownGoodMs: opts.knownGoodMs ?? 24 * 3_600_000, maxKnownGood: opts.maxKnownGood ?? 100_000,
    };
  }

  /** Resolves when the failures counted so far are in the store (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private block(source: string, until: number): void {
    this.counting.delete(source);
    this.makeRoom(this.blocked, (end) => this.clock.now() >= end);
    this.blocked.set(source, until);
  }

  /** Counts a failure of `source` in the store; blocks it here when the count of every node is over the limit. */
  private countShared(source: string, now: number): void {
    const shared = this.opts.shared;
    // A flood of failures from many sources must not queue without end in front of the guard's own decisions: past
    // MAX_PENDING counts on their way, this node counts alone until they drain.
    if (!shared || this.pending.size >= MAX_PENDING) return;
    const key = rowKey('*', 'auth', source);
    const { max, windowMs } = this.o;
    const work: Promise<void> = shared.apply([key], now, (rows) => {
      const row = rows.get(key) ?? emptyRow('*', 'auth', source, now);
      let st = row.rules[AUTH_RULE] ?? emptyState(now);
      if (now - st.at >= windowMs) st = emptyState(now);
      const next = { ...st, level: st.level + 1, exp: st.at + windowMs };
      return { change: { rows: [withStates(row, { [AUTH_RULE]: next })], decisions: [], events: [] }, out: next.level >= max ? next.at + windowMs : null };
    }).then((until) => {
      if (until !== null && until > this.clock.now() && (this.blocked.get(source) ?? 0) < until) this.block(source, until);
    }, (err: unknown) => this.opts.onError?.(err)).finally(() => this.pending.delete(work));
    this.pending.add(work);
  }

  /**
   * Throws `rate_limited` while the source of `address` is blocked, unless `credential` (the key, token or
   * `client_id:secret` it presents) is known to be good.
   */
  check(address: string, credential: string | null): void {
    if (this.blocked.size === 0) return;
    const source = sourceKey(address);
    const until = this.blocked.get(source);
    if (until === undefined) return;
    const now = this.clock.now();
    if (now >= until) {
      this.blocked.delete(source);
      return;
    }
    if (credential !== null) {
      const seen = this.knownGood.get(fingerprint(credential));
      if (seen !== undefined && now - seen < this.o.knownGoodMs) return;
    }
    const retryAfter = Math.max(1, Math.ceil((until - now) / 1000));
    throw new OtpdError('rate_limited', `Too many failed authentications from this address; retry after ${retryAfter} s`, { retryAfter });
  }

  /** Counts one failed authentication from `address`. */
  fail(address: string): void {
    const source = sourceKey(address);
    const now = this.clock.now();
    const until = this.blocked.get(source);
    if (until !== undefined) {
      if (now < until) return;
      this.blocked.delete(source);
    }
    this.countShared(source, now);
    let w = this.counting.get(source);
    if (w === undefined || now - w.since >= this.o.windowMs) {
      // Re-inserted, so the map stays in window-start order and its oldest entries are at the front.
      this.counting.delete(source);
      this.makeRoom(this.counting, (x) => now - x.since >= this.o.windowMs);
      w = { count: 0, since: now };
      this.counting.set(source, w);
    }
    w.count += 1;
    if (w.count >= this.o.max) this.block(source, w.since + this.o.windowMs);
  }

  /** Remembers that `credential` authenticated (its last-success time to within a minute). */
  succeed(credential: string): void {
    const now = this.clock.now();
    const until = this.recent.get(credential);
    if (until !== undefined && until > now) return;
    if (this.recent.size >= 10_000) this.recent.clear();
    this.recent.set(credential, now + 60_000);
    const f = fingerprint(credential);
    this.knownGood.delete(f);
    if (this.knownGood.size >= this.o.maxKnownGood) this.knownGood.delete(this.knownGood.keys().next().value!);
    this.knownGood.set(f, now);
  }

  /** Sources tracked (for tests and metrics). */
  get size(): { counting: number; blocked: number; knownGood: number } {
    return { counting: this.counting.size, blocked: this.blocked.size, knownGood: this.knownGood.size };
  }

  /** Before an insert into a full map: drops expired entries from its front, then, if still full, its oldest one. */
  private makeRoom<V>(m: Map<string, V>, expired: (v: V) => boolean): void {
    if (m.size < this.o.maxSources) return;
    for (const [k, v] of m) {
      if (!expired(v)) break;
      m.delete(k);
    }
    if (m.size >= this.o.maxSources) m.delete(m.keys().next().value!);
  }
}
