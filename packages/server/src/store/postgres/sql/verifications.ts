/** The statements of verifications.ts (a resend's message is inserted here too). */
export const VERIFICATIONS_SQL = {
  verGet: 'SELECT * FROM verifications WHERE id = $1 AND app_id = $2',
  verGetForUpdate: 'SELECT * FROM verifications WHERE id = $1 AND app_id = $2 FOR UPDATE',
  verTo: 'SELECT to_addr FROM verifications WHERE id = $1 AND app_id = $2',
  verCancel: `UPDATE verifications SET status = CASE WHEN expires_at <= $3 THEN 'expired' ELSE 'canceled' END, code_sealed = NULL, updated_at = $3
    WHERE id = $1 AND app_id = $2 AND status = (SELECT 'pending') RETURNING *`,
  verResent: `UPDATE verifications SET channel = $2, sends = $3, resend_available_at = $4, parts = $5, cost = $6, updated_at = $7
    WHERE id = $1 AND status = (SELECT 'pending')`,
  outInsert: `INSERT INTO outbox SELECT * FROM jsonb_populate_recordset(NULL::outbox, $1::jsonb)`,
  verExpireDue: `UPDATE verifications SET status = 'expired', code_sealed = NULL, updated_at = $1
    WHERE id IN (SELECT id FROM verifications WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
    RETURNING *`,
  verExpireAny: `SELECT 1 FROM verifications WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT 1`,
} as const;
