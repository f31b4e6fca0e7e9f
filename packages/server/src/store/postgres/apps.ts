/**
 * Apps: the tenants. A change of an app is heard by every node's caches (`appChanged`) when it commits.
 */
import type { ApiKeyRecord, AppRecord, AuditEntry } from '../../domain/records.js';
import type { AppsPort } from '../ports/index.js';
import { toApp } from '../rows.js';
import { writeAudit } from './audit.js';
import { q, type Db } from './connection.js';
import type { Notifier } from './notify.js';

export class PgApps implements AppsPort {
  constructor(private readonly db: Db, private readonly notifier: Notifier) {}

  async create(app: AppRecord, key: ApiKeyRecord, audit: AuditEntry[] = [], callbackSecretSealed?: Buffer): Promise<void> {
    await this.db.tx(async (t) => {
      await q(t.c, 'appInsert', [app.id, app.name, app.enabled, JSON.stringify(app.settings), app.createdAt, app.updatedAt, callbackSecretSealed ?? null]);
      await q(t.c, 'keyInsert', [key.id, key.appId, key.name, key.prefix, key.hash, key.createdAt, key.expiresAt, key.revokedAt]);
      await writeAudit(t, audit);
    });
  }

  async list(): Promise<AppRecord[]> {
    return (await this.db.read('appList')).map(toApp);
  }

  async get(id: string): Promise<AppRecord | null> {
    const r = (await this.db.read('appGet', [id]))[0];
    return r ? toApp(r) : null;
  }

  async update(id: string, change: (before: AppRecord) => { after: AppRecord; audit: AuditEntry[] }): Promise<AppRecord | null> {
    return this.db.tx(async (t) => {
      const r = (await q(t.c, 'appGetForUpdate', [id])).rows[0];
      if (!r) return null;
      const { after, audit } = change(toApp(r));
      await q(t.c, 'appUpdate', [id, after.name, after.enabled, JSON.stringify(after.settings), after.updatedAt]);
      await writeAudit(t, audit);
      await this.notifier.appChanged(t, id);
      return after;
    });
  }

  async delete(id: string, audit: (before: AppRecord) => AuditEntry[]): Promise<boolean> {
    return this.db.tx(async (t) => {
      const r = (await q(t.c, 'appGetForUpdate', [id])).rows[0];
      if (!r) return false;
      await q(t.c, 'appDelete', [id]);
      await writeAudit(t, audit(toApp(r)));
      await this.notifier.appChanged(t, id);
      return true;
    });
  }

  async setCallbackSecret(appId: string, sealed: Buffer, audit: AuditEntry[]): Promise<boolean> {
    return this.db.tx(async (t) => {
      const changed = (await q(t.c, 'appSetCallbackSecret', [sealed, appId])).rowCount === 1;
      if (changed) await writeAudit(t, audit);
      return changed;
    });
  }

  async hasCallbackSecret(appId: string): Promise<boolean> {
    return !!(await this.db.read('appCallbackSecret', [appId]))[0]?.callback_secret_sealed;
  }
}
