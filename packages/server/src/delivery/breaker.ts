/**
 * A simple circuit breaker per provider (per process): after `threshold` consecutive failures that say the
 * provider is unwell (transient or unknown outcomes, not definite rejections of one message), the provider is
 * skipped for `openMs`; then one trial message is let through (half-open) and its outcome closes or re-opens it.
 */
export class Breakers {
  private readonly state = new Map<string, { failures: number; openUntil: number; trial: boolean }>();

  constructor(private readonly threshold = 5, private readonly openMs = 30_000) {}

  /** Closed: calls go through with no trial to spend (no side effect, unlike `allow`). */
  closed(provider: string): boolean {
    const s = this.state.get(provider);
    return !s || s.failures < this.threshold;
  }

  /** May `provider` be used now? In half-open state only one caller gets true until an outcome is recorded. */
  allow(provider: string, now: number): boolean {
    const s = this.state.get(provider);
    if (!s || s.failures < this.threshold) return true;
    if (now < s.openUntil || s.trial) return false;
    s.trial = true;
    return true;
  }

  success(provider: string): void {
    this.state.delete(provider);
  }

  failure(provider: string, now: number): void {
    const s = this.state.get(provider) ?? { failures: 0, openUntil: 0, trial: false };
    s.failures += 1;
    s.trial = false;
    if (s.failures >= this.threshold) s.openUntil = now + this.openMs;
    this.state.set(provider, s);
  }

  /** `closed`, `open` (skipped until its time is up) or `half-open` (one trial message may go). */
  stateOf(provider: string, now: number): 'closed' | 'open' | 'half-open' {
    const s = this.state.get(provider);
    if (!s || s.failures < this.threshold) return 'closed';
    return now < s.openUntil && !s.trial ? 'open' : 'half-open';
  }

  /** Providers currently open (for logs and metrics). */
  open(now: number): string[] {
    return [...this.state].filter(([, s]) => s.failures >= this.threshold && now < s.openUntil).map(([p]) => p);
  }
}

/**
 * Delay before retry number `attempt` (1 = the first retry) after a transient failure: exponential from `baseMs`,
 * capped, with "equal jitter" (half fixed, half random, so retries of many messages spread out but never
 * come back at once), and never sooner than the provider's Retry-After.
 */
export function backoffMs(attempt: number, random: () => number, o: { baseMs?: number; capMs?: number; retryAfterMs?: number | undefined } = {}): number {
  const base = o.baseMs ?? 1_000;
  const cap = o.capMs ?? 60_000;
  const ceiling = Math.min(cap, base * 2 ** (attempt - 1));
  const d = Math.round(ceiling / 2 + random() * (ceiling / 2));
  return Math.max(d, o.retryAfterMs ?? 0);
}
