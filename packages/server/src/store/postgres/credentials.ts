/**
 * Credentials: API keys (stored as SHA-256) and OAuth clients. Revoking or rotating one is heard by every node's
 * caches when it commits.
 */
import type { ApiKeyRecord, AppRecord, AuditEntry, OAuthClientRecord } from '../../domain/records.js';
import type { CredentialsPort } from '../ports/index.js';
import { toApp, toClient, toKey, type Row } from '../rows.js';
import { writeAudit } from './audit.js';
import { q, type Db } from './connection.js';
import type { Notifier } from './notify.js';

export class PgCredentials implements CredentialsPort {
  constructor(private readonly db: Db, private readonly notifier: Notifier) {}

  async createKey(key: ApiKeyRecord, audit: AuditEntry[]): Promise<void> {
    await this.db.tx(async (t) => {
      await q(t.c, 'keyInsert', [key.id, key.appId, key.name, key.prefix, key.hash, key.createdAt, key.expiresAt, key.revokedAt]);
      await writeAudit(t, audit);
    });
  }

  async listKeys(appId: string): Promise<ApiKeyRecord[]> {
    return (await this.db.read('keyList', [appId])).map(toKey);
  }

  async revokeKey(appId: string, keyId: string, now: number, audit: (before: ApiKeyRecord) => AuditEntry[]): Promise<ApiKeyRecord | null> {
    return this.db.tx(async (t) => {
      const before = (await q(t.c, 'keyGetForUpdate', [keyId, appId])).rows[0];
      if (!before) return null;
      const after = (await q(t.c, 'keyRevoke', [now, keyId, appId])).rows[0]!;
      if (before.revoked_at === null) {
        await writeAudit(t, audit(toKey(before)));
        await this.notifier.appChanged(t, appId);
      }
      return toKey(after);
    });
  }

  async touchKeys(uses: { keyId: string; at: number }[]): Promise<void> {
    if (uses.length === 0) return;
    await this.db.read('keyTouch', [JSON.stringify(uses.map((u) => ({ id: u.keyId, at: u.at }))), uses.map((u) => u.keyId)]);
  }

  async findKey(hash: Buffer): Promise<{ key: ApiKeyRecord; app: AppRecord } | null> {
    const r = (await this.db.read('keyFind', [hash]))[0];
    return r ? { key: toKey(r), app: toApp(r.app as Row) } : null;
  }

  async createClient(c: OAuthClientRecord, audit: AuditEntry[]): Promise<void> {
    await this.db.tx(async (t) => {
      await q(t.c, 'cliInsert', [c.id, c.appId, c.name, c.secretHash, c.previousSecretHash, c.previousValidUntil, c.createdAt, c.rotatedAt, c.revokedAt, c.lastUsedAt]);
      await writeAudit(t, audit);
    });
  }

  async getClient(id: string): Promise<{ client: OAuthClientRecord; app: AppRecord } | null> {
    const r = (await this.db.read('cliGet', [id]))[0];
    return r ? { client: toClient(r), app: toApp(r.app as Row) } : null;
  }

  async listClients(appId: string): Promise<OAuthClientRecord[]> {
    return (await this.db.read('cliList', [appId])).map(toClient);
  }

  async updateClient(appId: string, id: string, change: (before: OAuthClientRecord) => { after: OAuthClientRecord; audit: AuditEntry[] }): Promise<OAuthClientRecord | null> {
    return this.db.tx(async (t) => {
      const r = (await q(t.c, 'cliGetForUpdate', [id, appId])).rows[0];
      if (!r) return null;
      const { after: a, audit } = change(toClient(r));
      await q(t.c, 'cliUpdate', [id, appId, a.secretHash, a.previousSecretHash, a.previousValidUntil, a.rotatedAt, a.revokedAt]);
      await writeAudit(t, audit);
      await this.notifier.appChanged(t, appId);
      return a;
    });
  }

  async touchClient(id: string, at: number): Promise<void> {
    await this.db.read('cliTouch', [at, id]);
  }
}
