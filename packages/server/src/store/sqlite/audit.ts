/** The audit log, as read by the admin (entries are written by each change's own transaction: `writeAudit`). */
import { auditWhere, newestFirst } from '../list-query.js';
import type { AuditPort } from '../ports/index.js';
import { toAudit, type Row } from '../rows.js';
import type { SqliteContext } from './db.js';

export function sqliteAudit(c: SqliteContext): AuditPort {
  return {
    async list(q) {
      const { sql, values } = newestFirst('audit_log', auditWhere(q), q.limit);
      return (c.db.prepare(sql).all(...values) as Row[]).map(toAudit);
    },
  };
}
