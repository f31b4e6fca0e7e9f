/**
 * An app's message configuration: its sender ids and templates. A change is heard by every node's caches when it
 * commits.
 */
import { OtpdError } from '../../domain/errors.js';
import type { AuditEntry, ConnectionRecord, SenderRecord, TemplateRecord } from '../../domain/records.js';
import type { AppConfigPort } from '../ports/index.js';
import { toConnection, toSender, toTemplate } from '../rows.js';
import { writeAudit } from './audit.js';
import { q, type Db } from './connection.js';
import type { Notifier } from './notify.js';

export class PgAppConfig implements AppConfigPort {
  constructor(private readonly db: Db, private readonly notifier: Notifier) {}

  async listSenders(appId: string): Promise<SenderRecord[]> {
    return (await this.db.read('sndList', [appId])).map(toSender);
  }

  async createSender(x: SenderRecord, audit: AuditEntry[]): Promise<void> {
    await this.db.tx(async (t) => {
      await q(t.c, 'sndInsert', [x.id, x.appId, x.channel, x.country, x.value, x.createdAt]);
      await writeAudit(t, audit);
      await this.notifier.appChanged(t, x.appId);
    });
  }

  async deleteSender(appId: string, id: string, audit: (before: SenderRecord) => AuditEntry[]): Promise<boolean> {
    return this.db.tx(async (t) => {
      const r = (await q(t.c, 'sndDelete', [id, appId])).rows[0];
      if (!r) return false;
      await writeAudit(t, audit(toSender(r)));
      await this.notifier.appChanged(t, appId);
      return true;
    });
  }

  async listTemplates(appId: string): Promise<TemplateRecord[]> {
    return (await this.db.read('tplList', [appId])).map(toTemplate);
  }

  async saveTemplate(appId: string, id: string, change: (before: TemplateRecord | null) => { after: TemplateRecord | null; audit: AuditEntry[] }): Promise<TemplateRecord | null> {
    return this.db.tx(async (t) => {
      const r = (await q(t.c, 'tplGetForUpdate', [id, appId])).rows[0];
      const { after: a, audit } = change(r ? toTemplate(r) : null);
      if (a) {
        await q(t.c, 'tplPut', [a.id, appId, a.channel, a.name, a.locale, a.country, a.prefix, a.text, a.subject, a.html, a.createdAt, a.updatedAt]);
      } else {
        await q(t.c, 'tplDelete', [id, appId]);
      }
      await writeAudit(t, audit);
      await this.notifier.appChanged(t, appId);
      return a;
    });
  }

  async listConnections(): Promise<ConnectionRecord[]> {
    return (await this.db.read('conList', [])).map(toConnection);
  }

  async saveConnection(appId: string | null, id: string, change: (before: ConnectionRecord | null) => { after: ConnectionRecord | null; audit: AuditEntry[] }): Promise<ConnectionRecord | null> {
    return this.db.tx(async (t) => {
      const r = (await q(t.c, 'conGetForUpdate', [id, appId])).rows[0];
      const { after: a, audit } = change(r ? toConnection(r) : null);
      if (a) {
        try {
          await q(t.c, 'conPut', [id, appId, a.name, a.type, a.configSealed, a.createdAt, a.updatedAt]);
        } catch (e) {
          if ((e as { code?: string }).code === '23505') throw new OtpdError('name_taken', `A connection named ${a.name} exists already`, { extensions: { errors: [{ pointer: '/name', detail: 'taken' }] } });
          throw e;
        }
      } else {
        await q(t.c, 'conDelete', [id, appId]);
      }
      await writeAudit(t, audit);
      await this.notifier.appChanged(t, appId ?? '*');
      return a;
    });
  }
}
