/** The statements of webhooks.ts: endpoints, and the deliveries of events to them. */
export const WEBHOOKS_SQL = {
  whkInsert: `INSERT INTO webhook_endpoints (id, app_id, url, events, secret_sealed, description, enabled, disabled_reason, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  whkList: 'SELECT * FROM webhook_endpoints WHERE app_id = $1 ORDER BY id',
  whkGetForUpdate: 'SELECT * FROM webhook_endpoints WHERE id = $1 AND app_id = $2 FOR UPDATE',
  whkUpdate: `UPDATE webhook_endpoints SET url = $3, events = $4, description = $5, enabled = $6, disabled_reason = $7, updated_at = $8
    WHERE id = $1 AND app_id = $2`,
  whkDelete: 'DELETE FROM webhook_endpoints WHERE id = $1 AND app_id = $2',
  whkDisable: 'UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = $1, updated_at = $2 WHERE id = $3 RETURNING app_id',
  whkSecret: 'SELECT secret_sealed, enabled FROM webhook_endpoints WHERE id = $1',
  evtGet: 'SELECT id, type, data, created_at FROM events WHERE id = ANY($1::text[])',
  whdClaimPending: `UPDATE webhook_deliveries SET status = 'sending', next_attempt_at = $2, updated_at = $1
    WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
    RETURNING *`,
  whdClaimExpired: `UPDATE webhook_deliveries SET next_attempt_at = $2, updated_at = $1
    WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'sending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
    RETURNING *`,
  whdDone: `WITH a AS (
      INSERT INTO webhook_attempts (id, delivery_id, status_code, error, duration_ms, at) VALUES ($7, $1, $4, $5, $8, $6)
    )
    UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, next_attempt_at = coalesce($3, next_attempt_at),
      last_status_code = $4, last_error = $5, updated_at = $6 WHERE id = $1 AND status = (SELECT 'sending')`,
  whdCancelEndpoint: `UPDATE webhook_deliveries SET status = 'canceled', updated_at = $1 WHERE endpoint_id = $2 AND status = (SELECT 'pending')`,
  whdGet: 'SELECT * FROM webhook_deliveries WHERE id = $1 AND app_id = $2',
  whdReplay: `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, updated_at = $2 WHERE id = $3 AND app_id = $4 RETURNING *`,
  whaList: 'SELECT * FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id',
  whdBacklog: `SELECT count(*)::int AS n, min(next_attempt_at) AS t FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1`,
  whdNextDue: `SELECT least((SELECT next_attempt_at FROM webhook_deliveries WHERE status = 'pending' ORDER BY next_attempt_at LIMIT 1),
      (SELECT next_attempt_at FROM webhook_deliveries WHERE status = 'sending' ORDER BY next_attempt_at LIMIT 1)) AS t`,
} as const;
