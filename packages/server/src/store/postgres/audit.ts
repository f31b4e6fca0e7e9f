/**
 * The audit log: written by each admin change's own transaction (`writeAudit`), read newest first.
 */
import type { AuditEntry } from '../../domain/records.js';
import { auditWhere, newestFirst, numbered } from '../list-query.js';
import type { AuditPort } from '../ports/index.js';
import { toAudit } from '../rows.js';
import { q, type Db, type TxCtx } from './connection.js';

export async function writeAudit(t: TxCtx, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await q(t.c, 'auditInsert', [JSON.stringify(entries.map((a) => ({
    id: a.id, actor: a.actor, action: a.action, target_type: a.targetType, target_id: a.targetId, app_id: a.appId,
    before: a.before ?? null, after: a.after ?? null, at: a.at,
  })))]);
}

export class PgAudit implements AuditPort {
  constructor(private readonly db: Db) {}

  async list(f: { appId?: string | undefined; targetId?: string | undefined; limit: number; before?: string | undefined }): Promise<AuditEntry[]> {
    const { sql, values } = newestFirst('audit_log', auditWhere(f), f.limit);
    return (await this.db.adhoc(numbered(sql), values)).map(toAudit);
  }
}
