/**
 * Credentials: API keys (stored as SHA-256) and OAuth clients (secrets stored as hashes).
 */
import type { ApiKeyRecord, AppRecord, AuditEntry, OAuthClientRecord } from '../../domain/records.js';


export interface CredentialsPort {
  createKey(key: ApiKeyRecord, audit: AuditEntry[]): Promise<void>;
  listKeys(appId: string): Promise<ApiKeyRecord[]>;
  /** Revokes a key of the app; returns it as it is after (null when unknown). Revoking twice keeps the first time. */
  revokeKey(appId: string, keyId: string, now: number, audit: (before: ApiKeyRecord) => AuditEntry[]): Promise<ApiKeyRecord | null>;
  /** Notes that keys were used (batched by the caller; at most one write per key and minute). */
  touchKeys(uses: { keyId: string; at: number }[]): Promise<void>;
  /** The key with this hash and its app, if any (revoked and expired keys included: the caller decides). */
  findKey(hash: Buffer): Promise<{ key: ApiKeyRecord; app: AppRecord } | null>;
  createClient(c: OAuthClientRecord, audit: AuditEntry[]): Promise<void>;
  getClient(id: string): Promise<{ client: OAuthClientRecord; app: AppRecord } | null>;
  listClients(appId: string): Promise<OAuthClientRecord[]>;
  /** Read-modify-write of a client of the app (rotate, revoke). Null when unknown. */
  updateClient(appId: string, id: string, change: (before: OAuthClientRecord) => { after: OAuthClientRecord; audit: AuditEntry[] }): Promise<OAuthClientRecord | null>;
  touchClient(id: string, at: number): Promise<void>;
}
