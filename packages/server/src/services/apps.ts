/**
 * Apps and their API keys: creation (the key is shown once and stored as a SHA-256 hash) and the lookup that
 * authenticates every `/v1` request, cached briefly so the hot path does no query.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import { OtpdError } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import { validateSettings, type AppSettings } from '../domain/policy.js';
import type { AppRecord, Store } from '../store/ports.js';

export interface CreatedApp {
  id: string;
  name: string;
  enabled: boolean;
  settings: AppSettings;
  createdAt: string;
  keyId: string;
  /** Shown once: only its hash is stored. */
  apiKey: string;
}

/** SHA-256 of an API key. Keys carry 256 random bits, so a fast hash is the right tool (no password hashing). */
export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

const KEY_PREFIX = 'otpd_';

export class AppsService {
  private readonly cache = new Map<string, { app: AppRecord; keyId: string; until: number; expiresAt: number | null }>();

  constructor(private readonly store: Store, private readonly clock: Clock, private readonly cacheMs = 5_000) {}

  /** Creates an app with one API key. */
  async create(input: { name: string; settings?: AppSettings; keyName?: string }): Promise<CreatedApp> {
    const name = input.name.trim();
    if (name.length < 1 || name.length > 100) throw new OtpdError('invalid_request', 'name must be 1 to 100 characters');
    const settings = validateSettings(input.settings ?? {});
    const now = this.clock.now();
    const app: AppRecord = { id: newId('app', now), name, enabled: true, settings, createdAt: now, updatedAt: now };
    const apiKey = KEY_PREFIX + randomBytes(32).toString('base64url');
    const keyId = newId('key', now);
    await this.store.createApp(app, {
      id: keyId, appId: app.id, name: input.keyName ?? 'default', prefix: apiKey.slice(0, KEY_PREFIX.length + 6),
      hash: hashApiKey(apiKey), createdAt: now, expiresAt: null, revokedAt: null,
    });
    return { id: app.id, name, enabled: true, settings, createdAt: new Date(now).toISOString(), keyId, apiKey };
  }

  /** All apps, oldest first. */
  async list(): Promise<AppRecord[]> {
    return this.store.listApps();
  }

  /**
   * The app a bearer API key belongs to. Throws `unauthorized` for an unknown, revoked or expired key and
   * `app_disabled` for a disabled app. Results are cached for a few seconds (hash → app) to keep lookups off the
   * database on the hot path.
   */
  async authenticate(apiKey: string): Promise<{ app: AppRecord; keyId: string }> {
    const now = this.clock.now();
    // Keyed by the presented key itself (it is in this process's memory for the request anyway), so a cache hit
    // costs no hash; only a miss hashes and queries.
    let hit = this.cache.get(apiKey);
    if (!hit || hit.until <= now) {
      const found = apiKey.startsWith(KEY_PREFIX) ? await this.store.findKey(hashApiKey(apiKey)) : null;
      if (!found || found.key.revokedAt !== null) {
        this.cache.delete(apiKey);
        throw new OtpdError('unauthorized', 'The API key is not valid');
      }
      hit = { app: found.app, keyId: found.key.id, until: now + this.cacheMs, expiresAt: found.key.expiresAt };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(apiKey, hit);
    }
    if (hit.expiresAt !== null && hit.expiresAt <= now) throw new OtpdError('unauthorized', 'The API key has expired');
    if (!hit.app.enabled) throw new OtpdError('app_disabled');
    return { app: hit.app, keyId: hit.keyId };
  }
}
