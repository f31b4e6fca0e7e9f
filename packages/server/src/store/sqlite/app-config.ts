/** An app's message configuration: its sender ids and its templates. */
import type { AppConfigPort } from '../ports/index.js';
import { OtpdError } from '../../domain/errors.js';
import { toConnection, toSender, toTemplate, type Row } from '../rows.js';
import type { SqliteContext } from './db.js';

export function sqliteAppConfig(c: SqliteContext): AppConfigPort {
  const s = {
    sndList: c.prepare('sndList', 'SELECT * FROM senders WHERE app_id = ? ORDER BY channel, id'),
    sndInsert: c.prepare('sndInsert', 'INSERT INTO senders (id, app_id, channel, country, value, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
    sndGet: c.prepare('sndGet', 'SELECT * FROM senders WHERE id = ? AND app_id = ?'),
    sndDelete: c.prepare('sndDelete', 'DELETE FROM senders WHERE id = ? AND app_id = ?'),
    tplList: c.prepare('tplList', 'SELECT * FROM templates WHERE app_id = ? ORDER BY channel, id'),
    tplGet: c.prepare('tplGet', 'SELECT * FROM templates WHERE id = ? AND app_id = ?'),
    tplPut: c.prepare('tplPut', `INSERT INTO templates (id, app_id, channel, name, locale, country, prefix, text, subject, html, created_at, updated_at)
      VALUES (@id, @app_id, @channel, @name, @locale, @country, @prefix, @text, @subject, @html, @created_at, @updated_at)
      ON CONFLICT (id) DO UPDATE SET channel = excluded.channel, name = excluded.name, locale = excluded.locale, country = excluded.country,
        prefix = excluded.prefix, text = excluded.text, subject = excluded.subject, html = excluded.html, updated_at = excluded.updated_at`),
    tplDelete: c.prepare('tplDelete', 'DELETE FROM templates WHERE id = ? AND app_id = ?'),
    conList: c.prepare('conList', 'SELECT * FROM provider_connections ORDER BY id'),
    conGet: c.prepare('conGet', 'SELECT * FROM provider_connections WHERE id = ? AND app_id IS ?'),
    conPut: c.prepare('conPut', `INSERT INTO provider_connections (id, app_id, name, type, config_sealed, created_at, updated_at)
      VALUES (@id, @app_id, @name, @type, @config_sealed, @created_at, @updated_at)
      ON CONFLICT (id) DO UPDATE SET name = excluded.name, config_sealed = excluded.config_sealed, updated_at = excluded.updated_at`),
    conDelete: c.prepare('conDelete', 'DELETE FROM provider_connections WHERE id = ? AND app_id IS ?'),
  };

  return {
    async listSenders(appId) {
      return (s.sndList.all(appId) as Row[]).map(toSender);
    },

    async createSender(x, audit) {
      await c.tx(() => {
        s.sndInsert.run(x.id, x.appId, x.channel, x.country, x.value, x.createdAt);
        c.writeAudit(audit);
      });
    },

    async deleteSender(appId, id, audit) {
      return c.tx(() => {
        const r = s.sndGet.get(id, appId) as Row | undefined;
        if (!r) return false;
        s.sndDelete.run(id, appId);
        c.writeAudit(audit(toSender(r)));
        return true;
      });
    },

    async listTemplates(appId) {
      return (s.tplList.all(appId) as Row[]).map(toTemplate);
    },

    async saveTemplate(appId, id, change) {
      return c.tx(() => {
        const r = s.tplGet.get(id, appId) as Row | undefined;
        const { after, audit } = change(r ? toTemplate(r) : null);
        if (after) {
          s.tplPut.run({
            id: after.id, app_id: appId, channel: after.channel, name: after.name, locale: after.locale, country: after.country, prefix: after.prefix,
            text: after.text, subject: after.subject, html: after.html, created_at: after.createdAt, updated_at: after.updatedAt,
          });
        } else {
          s.tplDelete.run(id, appId);
        }
        c.writeAudit(audit);
        return after;
      });
    },

    async listConnections() {
      return (s.conList.all() as Row[]).map(toConnection);
    },

    async saveConnection(appId, id, change) {
      return c.tx(() => {
        const r = s.conGet.get(id, appId) as Row | undefined;
        const { after, audit } = change(r ? toConnection(r) : null);
        if (after) {
          try {
            s.conPut.run({ id, app_id: appId, name: after.name, type: after.type, config_sealed: after.configSealed, created_at: after.createdAt, updated_at: after.updatedAt });
          } catch (e) {
            if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new OtpdError('name_taken', `A connection named ${after.name} exists already`, { extensions: { errors: [{ pointer: '/name', detail: 'taken' }] } });
            throw e;
          }
        } else {
          s.conDelete.run(id, appId);
        }
        c.writeAudit(audit);
        return after;
      });
    },
  };
}
