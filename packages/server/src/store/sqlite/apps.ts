/** Apps (the tenants) and their callback secrets. */
import type { ApiKeyRecord, AppRecord, AuditEntry } from '../../domain/records.js';
import type { AppsPort } from '../ports/index.js';
import { bufOrNull, toApp, type Row } from '../rows.js';
import type { KeyRows } from './credentials.js';
import type { SqliteContext } from './db.js';

/** An app's row, read by the other modules too (credentials come with their app; callback deliveries are signed with its secret). */
export function appRows(c: SqliteContext) {
  const appGet = c.prepare('appGet', 'SELECT * FROM apps WHERE id = ?');
  const appCallbackSecret = c.prepare('appCallbackSecret', 'SELECT callback_secret_sealed FROM apps WHERE id = ?');
  return {
    get: (id: string): Row | undefined => appGet.get(id) as Row | undefined,
    /** The app's sealed callback secret (signs the deliveries to its verifications' callback URLs), if any. */
    callbackSecret: (appId: string): Buffer | null => bufOrNull((appCallbackSecret.get(appId) as Row | undefined)?.callback_secret_sealed),
  };
}
export type AppRows = ReturnType<typeof appRows>;

export function sqliteApps(c: SqliteContext, apps: AppRows, keys: KeyRows): AppsPort {
  const s = {
    appInsert: c.prepare('appInsert', 'INSERT INTO apps (id, name, enabled, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)'),
    appList: c.prepare('appList', 'SELECT * FROM apps ORDER BY id'),
    appUpdate: c.prepare('appUpdate', 'UPDATE apps SET name = @name, enabled = @enabled, settings = @settings, updated_at = @updated_at WHERE id = @id'),
    appDelete: c.prepare('appDelete', 'DELETE FROM apps WHERE id = ?'),
    appSetCallbackSecret: c.prepare('appSetCallbackSecret', 'UPDATE apps SET callback_secret_sealed = ? WHERE id = ?'),
  };

  return {
    async create(app: AppRecord, key: ApiKeyRecord, audit: AuditEntry[] = [], callbackSecretSealed?: Buffer) {
      await c.tx(() => {
        s.appInsert.run(app.id, app.name, app.enabled ? 1 : 0, JSON.stringify(app.settings), app.createdAt, app.updatedAt);
        if (callbackSecretSealed) s.appSetCallbackSecret.run(callbackSecretSealed, app.id);
        keys.insert(key);
        c.writeAudit(audit);
      });
    },

    async list() {
      return (s.appList.all() as Row[]).map(toApp);
    },

    async get(id) {
      const r = apps.get(id);
      return r ? toApp(r) : null;
    },

    async update(id, change) {
      return c.tx(() => {
        const r = apps.get(id);
        if (!r) return null;
        const { after, audit } = change(toApp(r));
        s.appUpdate.run({ id, name: after.name, enabled: after.enabled ? 1 : 0, settings: JSON.stringify(after.settings), updated_at: after.updatedAt });
        c.writeAudit(audit);
        return after;
      });
    },

    async delete(id, audit) {
      return c.tx(() => {
        const r = apps.get(id);
        if (!r) return false;
        s.appDelete.run(id); // api_keys go with it (ON DELETE CASCADE)
        c.writeAudit(audit(toApp(r)));
        return true;
      });
    },

    async setCallbackSecret(appId, sealed, audit) {
      return c.tx(() => {
        const changed = s.appSetCallbackSecret.run(sealed, appId).changes === 1;
        if (changed) c.writeAudit(audit);
        return changed;
      });
    },

    async hasCallbackSecret(appId) {
      return !!apps.callbackSecret(appId);
    },
  };
}
