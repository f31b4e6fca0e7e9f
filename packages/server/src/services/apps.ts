/**
 * Apps and their API keys: creation (the key is shown once and stored as a SHA-256 hash) and the lookup that
 * authenticates every `/v1` request, cached briefly so the hot path does no query.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sealCode, type CodeKeys } from '../domain/code.js';
import { TIMINGS } from '../config.js';
import type { Clock } from '../domain/clock.js';
import { OtpdError } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import { validateSettings, type AppSettings } from '../domain/policy.js';
import type { ApiKeyRecord, AppRecord, AuditEntry } from '../domain/records.js';
import type { Store } from '../store/ports/index.js';
import { outboundUrlCheck, type OutboundUrlCheck } from '../delivery/outbound-url.js';
import type { PhoneState } from '../domain/verification.js';

/** Public view of an app. */
export interface AppView {
  id: string;
  name: string;
  enabled: boolean;
  settings: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

/** Public view of an API key (never the key or its hash). */
export interface KeyView {
  id: string;
  appId: string;
  name: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

const iso = (t: number | null | undefined) => (t === null || t === undefined ? null : new Date(t).toISOString());

/** The public view of an app. */
export function appView(a: AppRecord): AppView {
  return { id: a.id, name: a.name, enabled: a.enabled, settings: { ...a.settings }, createdAt: iso(a.createdAt)!, updatedAt: iso(a.updatedAt)! };
}

/** The public view of an API key. */
export function keyView(k: ApiKeyRecord): KeyView {
  return { id: k.id, appId: k.appId, name: k.name, prefix: k.prefix, createdAt: iso(k.createdAt)!, expiresAt: iso(k.expiresAt), revokedAt: iso(k.revokedAt), lastUsedAt: iso(k.lastUsedAt) };
}

export interface LockoutView {
  to: string;
  locked: boolean;
  lockedUntil: string | null;
  lockReason: 'attempts' | 'sends' | null;
  failures: number;
  sends: number;
  lastSendAt: string | null;
}

function lockoutView(p: PhoneState & { to: string }, now: number): LockoutView {
  const locked = p.lockedUntil !== null && p.lockedUntil > now;
  return { to: p.to, locked, lockedUntil: locked ? iso(p.lockedUntil) : null, lockReason: locked ? p.lockReason : null, failures: p.failures, sends: p.sends, lastSendAt: iso(p.lastSendAt) };
}

/** Applies a JSON merge patch (RFC 7396) to the top level of app settings: null removes an override. */
function mergeSettings(base: AppSettings, patch: Record<string, unknown>): AppSettings {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out as AppSettings;
}

export interface CreatedApp {
  id: string;
  name: string;
  enabled: boolean;
  settings: AppSettings;
  createdAt: string;
  keyId: string;
  /** Shown once: only its hash is stored. */
  apiKey: string;
  /** Signs status callbacks (whsec_…); shown once, stored sealed. Null when created without the server secret. */
  callbackSecret: string | null;
}

/** SHA-256 of an API key. Keys carry 256 random bits, so a fast hash is the right tool (no password hashing). */
export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

const KEY_PREFIX = 'otpd_';

export class AppsService {
  private readonly cache = new Map<string, { app: AppRecord; keyId: string; until: number; expiresAt: number | null }>();
  /** When each key's last use was last written (at most one write per key and minute). */
  private readonly touched = new Map<string, number>();

  /** What is wrong with an app's routing (the names it can route to: see services/connections.ts); set by the composition root. */
  checkRouting: (appId: string | null, routing: AppSettings['routing']) => { pointer: string; detail: string }[] = () => [];

  private assertRouting(appId: string | null, settings: AppSettings): void {
    const errors = this.checkRouting(appId, settings.routing);
    if (errors.length > 0) throw new OtpdError('invalid_request', errors.map((e) => `${e.pointer.slice(1).replaceAll('/', '.')} ${e.detail}`).join('; '), { extensions: { errors } });
  }

  /** Called after an app changed or was deleted (other credential caches forget it). */
  onAppChanged: (appId: string) => void = () => undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    /** Seals callback secrets; without it (a CLI run with no server secret) apps start without one. */
    private readonly keys: CodeKeys | null = null,
    /** The outbound URL rule for callback URLs (delivery/outbound-url.ts; production by default: the strict one). */
    private readonly checkUrl: OutboundUrlCheck = outboundUrlCheck(true),
    private readonly cacheMs: number = TIMINGS.configCacheMs,
  ) {}

  private newCallbackSecret(appId: string): { secret: string; sealed: Buffer } | null {
    if (!this.keys) return null;
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    return { secret, sealed: sealCode(this.keys, appId, secret) };
  }

  private async checkCallbackUrl(settings: AppSettings): Promise<void> {
    if (!settings.callbackUrl) return;
    const why = await this.checkUrl(settings.callbackUrl);
    if (why) throw new OtpdError('invalid_request', `settings.callbackUrl ${why}`, { extensions: { errors: [{ pointer: '/settings/callbackUrl', detail: why }] } });
  }

  /** A new callback secret for the app (the previous one stops signing at once); returned once. */
  async rotateCallbackSecret(appId: string, actor = 'admin'): Promise<string> {
    await this.get(appId);
    const fresh = this.newCallbackSecret(appId);
    if (!fresh) throw new OtpdError('internal', 'No server secret to seal the callback secret with');
    await this.store.apps.setCallbackSecret(appId, fresh.sealed, [this.entry(actor, 'app.callback_secret.rotate', 'app', appId, appId, null, null)]);
    return fresh.secret;
  }

  private entry(actor: string, action: string, targetType: AuditEntry['targetType'], targetId: string, appId: string | null, before: unknown, after: unknown): AuditEntry {
    const at = this.clock.now();
    return { id: newId('aud', at), actor, action, targetType, targetId, appId, before, after, at };
  }

  private newKey(appId: string, name: string, expiresAt: number | null): { record: ApiKeyRecord; apiKey: string } {
    const now = this.clock.now();
    if (name.trim().length < 1 || name.length > 100) throw new OtpdError('invalid_request', 'key name must be 1 to 100 characters');
    if (expiresAt !== null && expiresAt <= now) throw new OtpdError('invalid_request', 'expiresAt must be in the future', { extensions: { errors: [{ pointer: '/expiresAt', detail: 'must be in the future' }] } });
    const apiKey = KEY_PREFIX + randomBytes(32).toString('base64url');
    return {
      apiKey,
      record: { id: newId('key', now), appId, name: name.trim(), prefix: apiKey.slice(0, KEY_PREFIX.length + 6), hash: hashApiKey(apiKey), createdAt: now, expiresAt, revokedAt: null, lastUsedAt: null },
    };
  }

  /** Forgets cached credentials of an app (`*`: of every app), e.g. after another node changed it. */
  forgetApp(appId: string): void {
    if (appId === '*') this.cache.clear();
    else this.invalidate((e) => e.app.id === appId);
  }

  /** Forgets cached credentials of an app (after it changed), so the change applies to the next request. */
  private invalidate(pred: (e: { app: AppRecord; keyId: string }) => boolean): void {
    for (const [k, e] of this.cache) if (pred(e)) this.cache.delete(k);
  }

  /** Creates an app with one API key. `actor` is recorded in the audit log. */
  async create(input: { name: string; settings?: AppSettings; keyName?: string }, actor = 'admin'): Promise<CreatedApp> {
    const name = input.name.trim();
    if (name.length < 1 || name.length > 100) throw new OtpdError('invalid_request', 'name must be 1 to 100 characters');
    const settings = validateSettings(input.settings ?? {});
    this.assertRouting(null, settings);
    await this.checkCallbackUrl(settings);
    const now = this.clock.now();
    const app: AppRecord = { id: newId('app', now), name, enabled: true, settings, createdAt: now, updatedAt: now };
    const callback = this.newCallbackSecret(app.id);
    if (settings.callbackUrl && !callback) throw new OtpdError('invalid_request', 'settings.callbackUrl needs a callback secret, which needs the server secret (OTPD_SECRET)');
    const { record, apiKey } = this.newKey(app.id, input.keyName ?? 'default', null);
    await this.store.apps.create(app, record, [
      this.entry(actor, 'app.create', 'app', app.id, app.id, null, appView(app)),
      this.entry(actor, 'api_key.create', 'api_key', record.id, app.id, null, keyView(record)),
    ], callback?.sealed);
    return { id: app.id, name, enabled: true, settings, createdAt: new Date(now).toISOString(), keyId: record.id, apiKey, callbackSecret: callback?.secret ?? null };
  }

  /** One app (404 `not_found` when unknown). */
  async get(id: string): Promise<AppRecord> {
    const a = await this.store.apps.get(id);
    if (!a) throw new OtpdError('not_found', `No app ${id}`);
    return a;
  }

  /** Changes name, enabled flag and settings (a merge patch); validated, audited, effective on the next request. */
  async update(id: string, patch: { name?: string; enabled?: boolean; settings?: Record<string, unknown> }, actor = 'admin'): Promise<AppRecord> {
    const now = this.clock.now();
    if (patch.settings && typeof patch.settings.callbackUrl === 'string') {
      await this.checkCallbackUrl({ callbackUrl: patch.settings.callbackUrl });
      if (!(await this.store.apps.hasCallbackSecret(id))) throw new OtpdError('invalid_request', 'Create a callback secret first (POST /admin/v1/apps/{id}/callback-secret): callbacks are signed with it');
    }
    const after = await this.store.apps.update(id, (before) => {
      const name = patch.name?.trim() ?? before.name;
      if (name.length < 1 || name.length > 100) throw new OtpdError('invalid_request', 'name must be 1 to 100 characters');
      const settings = patch.settings ? validateSettings(mergeSettings(before.settings, patch.settings)) : before.settings;
      if (patch.settings) this.assertRouting(id, settings);
      const next: AppRecord = { ...before, name, enabled: patch.enabled ?? before.enabled, settings, updatedAt: now };
      return { after: next, audit: [this.entry(actor, 'app.update', 'app', id, id, appView(before), appView(next))] };
    });
    if (!after) throw new OtpdError('not_found', `No app ${id}`);
    this.invalidate((e) => e.app.id === id);
    this.onAppChanged(id);
    return after;
  }

  /** Deletes an app and its credentials. */
  async remove(id: string, actor = 'admin'): Promise<void> {
    const ok = await this.store.apps.delete(id, (before) => [this.entry(actor, 'app.delete', 'app', id, id, appView(before), null)]);
    if (!ok) throw new OtpdError('not_found', `No app ${id}`);
    this.invalidate((e) => e.app.id === id);
    this.onAppChanged(id);
  }

  /** Creates another API key for an app; the key is returned once. */
  async createKey(appId: string, input: { name: string; expiresAt?: number | null }, actor = 'admin'): Promise<KeyView & { apiKey: string }> {
    await this.get(appId);
    const { record, apiKey } = this.newKey(appId, input.name, input.expiresAt ?? null);
    await this.store.credentials.createKey(record, [this.entry(actor, 'api_key.create', 'api_key', record.id, appId, null, keyView(record))]);
    return { ...keyView(record), apiKey };
  }

  /** The app's keys, revoked ones included. */
  async listKeys(appId: string): Promise<KeyView[]> {
    await this.get(appId);
    return (await this.store.credentials.listKeys(appId)).map(keyView);
  }

  /** Revokes a key; the next request with it is refused. */
  async revokeKey(appId: string, keyId: string, actor = 'admin'): Promise<KeyView> {
    const now = this.clock.now();
    const k = await this.store.credentials.revokeKey(appId, keyId, now, (before) => [
      this.entry(actor, 'api_key.revoke', 'api_key', keyId, appId, keyView(before), keyView({ ...before, revokedAt: now })),
    ]);
    if (!k) throw new OtpdError('not_found', `No key ${keyId} in app ${appId}`);
    this.invalidate((e) => e.keyId === keyId);
    return keyView(k);
  }

  /** Locked phones of an app, or one phone's counters. */
  async lockouts(appId: string, to?: string): Promise<LockoutView[]> {
    await this.get(appId);
    const now = this.clock.now();
    return (await this.store.phones.list(appId, { to, now, limit: 200 })).map((p) => lockoutView(p, now));
  }

  /** Admin unblock: clears a phone's lock, failures, sends and cooldown. */
  async unblock(appId: string, to: string, actor = 'admin'): Promise<void> {
    await this.get(appId);
    const now = this.clock.now();
    const before = await this.store.phones.clear(appId, to, now, (b) => [
      this.entry(actor, 'lockout.clear', 'lockout', to, appId, lockoutView({ ...b, to }, now), lockoutView({ to, sends: 0, failures: 0, windowStartedAt: now, lastSendAt: null, lockedUntil: null, lockReason: null }, now)),
    ]);
    if (!before) throw new OtpdError('not_found', `No counters for ${to} in this app`);
  }

  /** The audit log, newest first. */
  async audit(q: { appId?: string | undefined; targetId?: string | undefined; limit: number; before?: string | undefined }): Promise<AuditEntry[]> {
    return this.store.audit.list(q);
  }

  /** All apps, oldest first. */
  async list(): Promise<AppRecord[]> {
    return this.store.apps.list();
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
      const found = apiKey.startsWith(KEY_PREFIX) ? await this.store.credentials.findKey(hashApiKey(apiKey)) : null;
      if (!found || found.key.revokedAt !== null) {
        this.cache.delete(apiKey);
        throw new OtpdError('unauthorized', 'The API key is not valid');
      }
      hit = { app: found.app, keyId: found.key.id, until: now + this.cacheMs, expiresAt: found.key.expiresAt };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(apiKey, hit);
    }
    if (hit.expiresAt !== null && hit.expiresAt <= now) throw new OtpdError('unauthorized', 'The API key has expired');
    if (!hit.app.enabled) throw new OtpdError('app_disabled', 'This app is disabled; an admin can enable it again');
    const last = this.touched.get(hit.keyId) ?? 0;
    if (now - last >= 60_000) {
      this.touched.set(hit.keyId, now);
      if (this.touched.size > 10_000) this.touched.clear();
      // Fire and forget: a lost last-used time is not worth failing a request for.
      this.store.credentials.touchKeys([{ keyId: hit.keyId, at: now }]).catch(() => undefined);
    }
    return { app: hit.app, keyId: hit.keyId };
  }
}
