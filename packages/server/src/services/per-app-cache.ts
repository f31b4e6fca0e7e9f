/**
 * A short-lived per-app cache for configuration read on the hot path (templates, senders). Changes made in this
 * process call `forget(appId)` and are seen at once; other processes see them within `ttlMs`.
 */
import { TIMINGS } from '../config.js';
import type { Clock } from '../domain/clock.js';

export class PerAppCache<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();

  constructor(private readonly clock: Clock, private readonly load: (appId: string) => Promise<T>, private readonly ttlMs: number = TIMINGS.configCacheMs, private readonly max = 10_000) {}

  /** The app's value, loaded when missing or stale. */
  async get(appId: string): Promise<T> {
    const now = this.clock.now();
    const hit = this.entries.get(appId);
    if (hit && hit.until > now) return hit.value;
    const value = await this.load(appId);
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(appId, { value, until: now + this.ttlMs });
    return value;
  }

  /** Forgets one app's value (`*`: every app's). */
  forget(appId: string): void {
    if (appId === '*') this.entries.clear();
    else this.entries.delete(appId);
  }
}
