/** The statements of callbacks.ts: delivery receipts and refused callbacks. */
export const CALLBACKS_SQL = {
  outByProvider: 'SELECT id, app_id, to_addr, verification_id, step, status, provider, provider_message_id FROM outbox WHERE provider = $1 AND provider_message_id = $2',
  outByIdForUpdate: `SELECT id, app_id, to_addr, verification_id, step, status, provider, provider_message_id, channel, created_at,
    (SELECT country_iso FROM verifications v WHERE v.id = o.verification_id) AS country_iso FROM outbox o WHERE id = $1 FOR UPDATE OF o`,
  outSetProviderId: 'UPDATE outbox SET provider_message_id = $1 WHERE id = $2',
  outReceipt: `UPDATE outbox SET status = $2, fallback_at = NULL, provider_message_id = coalesce(provider_message_id, $3),
      delivered_at = CASE WHEN $2 = 'delivered' THEN $4 ELSE delivered_at END,
      failed_at = CASE WHEN $2 = 'delivered' THEN failed_at ELSE $4 END,
      error_code = CASE WHEN $2 = 'delivered' THEN error_code ELSE coalesce($5, error_code) END,
      outcome_unknown = FALSE
    WHERE id = $1`,
  cbInsert: 'INSERT INTO rejected_callbacks (id, source, reason, received_at) VALUES ($1, $2, $3, $4)',
  cbCounts: 'SELECT source, reason, count(*) AS count FROM rejected_callbacks GROUP BY source, reason ORDER BY source, reason',
} as const;
