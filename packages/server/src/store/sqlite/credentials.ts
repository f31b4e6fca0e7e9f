/** Credentials: API keys (stored as SHA-256) and OAuth clients (secrets stored as hashes). */
import type { ApiKeyRecord, OAuthClientRecord } from '../../domain/records.js';
import type { CredentialsPort } from '../ports/index.js';
import { toApp, toClient, toKey, type Row } from '../rows.js';
import type { AppRows } from './apps.js';
import type { SqliteContext } from './db.js';

/** Writes API keys (an app's first key is written with the app). */
export function keyRows(c: SqliteContext) {
  const keyInsert = c.prepare('keyInsert', 'INSERT INTO api_keys (id, app_id, name, prefix, hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  return {
    insert(key: ApiKeyRecord): void {
      keyInsert.run(key.id, key.appId, key.name, key.prefix, key.hash, key.createdAt, key.expiresAt, key.revokedAt);
    },
  };
}
export type KeyRows = ReturnType<typeof keyRows>;

function clientRow(cl: OAuthClientRecord) {
  return {
    id: cl.id, app_id: cl.appId, name: cl.name, secret_hash: cl.secretHash, previous_secret_hash: cl.previousSecretHash,
    previous_valid_until: cl.previousValidUntil, created_at: cl.createdAt, rotated_at: cl.rotatedAt, revoked_at: cl.revokedAt, last_used_at: cl.lastUsedAt,
  };
}

export function sqliteCredentials(c: SqliteContext, keys: KeyRows, apps: AppRows): CredentialsPort {
  const s = {
    keyFind: c.prepare('keyFind', 'SELECT * FROM api_keys WHERE hash = ?'),
    keyList: c.prepare('keyList', 'SELECT * FROM api_keys WHERE app_id = ? ORDER BY id'),
    keyGet: c.prepare('keyGet', 'SELECT * FROM api_keys WHERE id = ? AND app_id = ?'),
    keyRevoke: c.prepare('keyRevoke', 'UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND app_id = ? RETURNING *'),
    keyTouch: c.prepare('keyTouch', 'UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?'),
    cliInsert: c.prepare('cliInsert', `INSERT INTO oauth_clients (id, app_id, name, secret_hash, previous_secret_hash, previous_valid_until, created_at, rotated_at, revoked_at, last_used_at)
      VALUES (@id, @app_id, @name, @secret_hash, @previous_secret_hash, @previous_valid_until, @created_at, @rotated_at, @revoked_at, @last_used_at)`),
    cliGet: c.prepare('cliGet', 'SELECT * FROM oauth_clients WHERE id = ?'),
    cliList: c.prepare('cliList', 'SELECT * FROM oauth_clients WHERE app_id = ? ORDER BY id'),
    cliUpdate: c.prepare('cliUpdate', `UPDATE oauth_clients SET secret_hash = @secret_hash, previous_secret_hash = @previous_secret_hash,
        previous_valid_until = @previous_valid_until, rotated_at = @rotated_at, revoked_at = @revoked_at WHERE id = @id AND app_id = @app_id`),
    cliTouch: c.prepare('cliTouch', 'UPDATE oauth_clients SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?'),
  };

  return {
    async createKey(key, audit) {
      await c.tx(() => {
        keys.insert(key);
        c.writeAudit(audit);
      });
    },

    async listKeys(appId) {
      return (s.keyList.all(appId) as Row[]).map(toKey);
    },

    async revokeKey(appId, keyId, now, audit) {
      return c.tx(() => {
        const before = s.keyGet.get(keyId, appId) as Row | undefined;
        if (!before) return null;
        const after = s.keyRevoke.get(now, keyId, appId) as Row;
        if (before.revoked_at === null) c.writeAudit(audit(toKey(before)));
        return toKey(after);
      });
    },

    async touchKeys(uses) {
      if (uses.length === 0) return;
      await c.tx(() => { for (const u of uses) s.keyTouch.run(u.at, u.keyId); });
    },

    async findKey(hash) {
      const k = s.keyFind.get(hash) as Row | undefined;
      if (!k) return null;
      const a = apps.get(k.app_id as string);
      return a ? { key: toKey(k), app: toApp(a) } : null;
    },

    async createClient(cl, audit) {
      await c.tx(() => {
        s.cliInsert.run(clientRow(cl));
        c.writeAudit(audit);
      });
    },

    async getClient(id) {
      const cl = s.cliGet.get(id) as Row | undefined;
      if (!cl) return null;
      const a = apps.get(cl.app_id as string);
      return a ? { client: toClient(cl), app: toApp(a) } : null;
    },

    async listClients(appId) {
      return (s.cliList.all(appId) as Row[]).map(toClient);
    },

    async updateClient(appId, id, change) {
      return c.tx(() => {
        const r = s.cliGet.get(id) as Row | undefined;
        if (!r || r.app_id !== appId) return null;
        const { after, audit } = change(toClient(r));
        s.cliUpdate.run(clientRow(after));
        c.writeAudit(audit);
        return after;
      });
    },

    async touchClient(id, at) {
      await c.tx(() => s.cliTouch.run(at, id));
    },
  };
}
