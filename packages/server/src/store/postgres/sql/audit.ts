/** The statements of audit.ts. */
export const AUDIT_SQL = {
  auditInsert: `INSERT INTO audit_log (id, actor, action, target_type, target_id, app_id, before, after, at)
    SELECT x.id, x.actor, x.action, x.target_type, x.target_id, x.app_id, x.before, x.after, x.at
    FROM jsonb_to_recordset($1::jsonb) AS x(id text, actor text, action text, target_type text, target_id text, app_id text, before jsonb, after jsonb, at bigint)`,
} as const;
