/**
 * OAuth2 client credentials (RFC 6749 §4.4, seed 001): per-app clients with a secret shown once and stored as
 * SHA-256; `POST /oauth/token` trades `client_id` + `client_secret` for a short-lived bearer token that `/v1`
 * accepts like an API key. Tokens are stateless (`otpd_at_<payload>.<HMAC>`, keyed by the server secret) and
 * checked against the client's current state on use, so revoking a client or disabling its app stops its tokens
 * on the next request. A rotation keeps the previous secret valid for an overlap window.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { TIMINGS } from '../config.js';
import type { Clock } from '../domain/clock.js';
import { constantTimeEqual, type CodeKeys } from '../domain/code.js';
import { OtpdError } from '../domain/errors.js';
import { isId, newId } from '../domain/ids.js';
import type { AppRecord, AuditEntry, OAuthClientRecord } from '../domain/records.js';
import type { Store } from '../store/ports/index.js';

export const TOKEN_PREFIX = 'otpd_at_';
const SECRET_PREFIX = 'otpd_cs_';

export interface ClientView {
  id: string;
  appId: string;
  name: string;
  createdAt: string;
  rotatedAt: string | null;
  previousSecretValidUntil: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const sha256 = (s: string) => createHash('sha256').update(s).digest();

function clientView(c: OAuthClientRecord, now: number): ClientView {
  return {
    id: c.id, appId: c.appId, name: c.name, createdAt: iso(c.createdAt)!, rotatedAt: iso(c.rotatedAt),
    previousSecretValidUntil: c.previousValidUntil !== null && c.previousValidUntil > now ? iso(c.previousValidUntil) : null,
    revokedAt: iso(c.revokedAt), lastUsedAt: iso(c.lastUsedAt),
  };
}

export class OAuthService {
  private readonly cache = new Map<string, { client: OAuthClientRecord; app: AppRecord; until: number }>();
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly keys: CodeKeys,
    private readonly tokenTtlSeconds = 3600,
    private readonly cacheMs: number = TIMINGS.configCacheMs,
  ) {}

  private audit(actor: string, action: string, c: OAuthClientRecord, before: unknown, after: unknown): AuditEntry {
    const at = this.clock.now();
    return { id: newId('aud', at), actor, action, targetType: 'oauth_client', targetId: c.id, appId: c.appId, before, after, at };
  }

  /** Creates a client for an app; the secret is returned once. */
  async createClient(app: AppRecord, name: string, actor = 'admin'): Promise<ClientView & { clientSecret: string }> {
    const now = this.clock.now();
    if (name.trim().length < 1 || name.length > 100) throw new OtpdError('invalid_request', 'name must be 1 to 100 characters');
    const secret = SECRET_PREFIX + randomBytes(32).toString('base64url');
    const c: OAuthClientRecord = {
      id: newId('cli', now), appId: app.id, name: name.trim(), secretHash: sha256(secret), previousSecretHash: null, previousValidUntil: null,
      createdAt: now, rotatedAt: null, revokedAt: null, lastUsedAt: null,
    };
    await this.store.credentials.createClient(c, [this.audit(actor, 'oauth_client.create', c, null, clientView(c, now))]);
    return { ...clientView(c, now), clientSecret: secret };
  }

  /** The app's clients (never their secrets). */
  async listClients(appId: string): Promise<ClientView[]> {
    const now = this.clock.now();
    return (await this.store.credentials.listClients(appId)).map((c) => clientView(c, now));
  }

  /** A new secret; the previous one keeps working for `overlapSeconds` (0 = not at all). */
  async rotate(appId: string, clientId: string, overlapSeconds: number, actor = 'admin'): Promise<ClientView & { clientSecret: string }> {
    const now = this.clock.now();
    const secret = SECRET_PREFIX + randomBytes(32).toString('base64url');
    const after = await this.store.credentials.updateClient(appId, clientId, (before) => {
      if (before.revokedAt !== null) throw new OtpdError('invalid_request', 'A revoked client cannot be rotated');
      const next: OAuthClientRecord = {
        ...before, secretHash: sha256(secret), previousSecretHash: overlapSeconds > 0 ? before.secretHash : null,
        previousValidUntil: overlapSeconds > 0 ? now + overlapSeconds * 1000 : null, rotatedAt: now,
      };
      return { after: next, audit: [this.audit(actor, 'oauth_client.rotate', next, clientView(before, now), clientView(next, now))] };
    });
    if (!after) throw new OtpdError('not_found', `No client ${clientId} in app ${appId}`);
    this.cache.delete(clientId);
    return { ...clientView(after, now), clientSecret: secret };
  }

  /** Revokes a client: its secret and every token it holds stop working on the next request. */
  async revoke(appId: string, clientId: string, actor = 'admin'): Promise<ClientView> {
    const now = this.clock.now();
    const after = await this.store.credentials.updateClient(appId, clientId, (before) => {
      const next = { ...before, revokedAt: before.revokedAt ?? now };
      return { after: next, audit: before.revokedAt === null ? [this.audit(actor, 'oauth_client.revoke', next, clientView(before, now), clientView(next, now))] : [] };
    });
    if (!after) throw new OtpdError('not_found', `No client ${clientId} in app ${appId}`);
    this.cache.delete(clientId);
    return clientView(after, now);
  }

  private async lookup(clientId: string): Promise<{ client: OAuthClientRecord; app: AppRecord } | null> {
    const now = this.clock.now();
    const hit = this.cache.get(clientId);
    if (hit && hit.until > now) return hit;
    const found = isId('cli', clientId) ? await this.store.credentials.getClient(clientId) : null;
    if (!found) return null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(clientId, { ...found, until: now + this.cacheMs });
    return found;
  }

  /** `POST /oauth/token`: client credentials → a bearer token. Throws `invalid_client` on any credential problem. */
  async token(clientId: string, clientSecret: string): Promise<{ access_token: string; token_type: 'Bearer'; expires_in: number }> {
    const now = this.clock.now();
    const found = await this.lookup(clientId);
    const bad = () => new OtpdError('invalid_client', 'Unknown client, wrong secret or revoked client');
    if (!found || found.client.revokedAt !== null) throw bad();
    const c = found.client;
    const h = sha256(clientSecret);
    const current = constantTimeEqual(h, c.secretHash);
    const previous = c.previousSecretHash !== null && c.previousValidUntil !== null && c.previousValidUntil > now && constantTimeEqual(h, c.previousSecretHash);
    if (!current && !previous) throw bad();
    if (!found.app.enabled) throw new OtpdError('app_disabled');
    const payload = Buffer.from(JSON.stringify({ c: c.id, e: now + this.tokenTtlSeconds * 1000 })).toString('base64url');
    const sig = createHmac('sha256', this.keys.tokenKey).update(payload).digest('base64url');
    if (now - (this.touched.get(c.id) ?? 0) >= 60_000) {
      this.touched.set(c.id, now);
      this.store.credentials.touchClient(c.id, now).catch(() => undefined);
    }
    return { access_token: `${TOKEN_PREFIX}${payload}.${sig}`, token_type: 'Bearer', expires_in: this.tokenTtlSeconds };
  }

  /** The app an access token acts for; `unauthorized` when forged, expired or its client is revoked. */
  async verify(token: string): Promise<{ app: AppRecord; clientId: string }> {
    const bad = (why: string) => new OtpdError('unauthorized', why);
    const body = token.slice(TOKEN_PREFIX.length);
    const dot = body.indexOf('.');
    if (dot < 1) throw bad('The access token is not valid');
    const payload = body.slice(0, dot);
    const expected = createHmac('sha256', this.keys.tokenKey).update(payload).digest('base64url');
    if (!constantTimeEqual(expected, body.slice(dot + 1))) throw bad('The access token is not valid');
    let claims: { c?: unknown; e?: unknown };
    try { claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { c?: unknown; e?: unknown }; } catch { throw bad('The access token is not valid'); }
    if (typeof claims.c !== 'string' || typeof claims.e !== 'number') throw bad('The access token is not valid');
    if (claims.e <= this.clock.now()) throw bad('The access token has expired; request a new one at /oauth/token');
    const found = await this.lookup(claims.c);
    if (!found || found.client.revokedAt !== null) throw bad('The client of this access token was revoked');
    if (!found.app.enabled) throw new OtpdError('app_disabled', 'This app is disabled; an admin can enable it again');
    return { app: found.app, clientId: found.client.id };
  }

  /** Forgets cached clients of an app (after the app changed). */
  forgetApp(appId: string): void {
    if (appId === '*') return this.cache.clear();
    for (const [k, e] of this.cache) if (e.app.id === appId) this.cache.delete(k);
  }
}
