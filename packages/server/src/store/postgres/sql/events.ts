/** The statements of events.ts: who listens, and an event written with its deliveries. */
export const EVENTS_SQL = {
  verCallbackUrl: 'SELECT callback_url FROM verifications WHERE id = $1',
  whkActive: 'SELECT id, url, events FROM webhook_endpoints WHERE app_id = $1 AND enabled',
  // One event and its deliveries ($7: JSON array of {id, endpoint_id, url}).
  evtInsert: `WITH e AS (
      INSERT INTO events (id, app_id, type, verification_id, message_id, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $8)
    )
    INSERT INTO webhook_deliveries (id, app_id, endpoint_id, url, event_id, status, attempts, next_attempt_at, created_at, updated_at)
    SELECT x.id, $2, x.endpoint_id, x.url, $1, 'pending', 0, $8, $8, $8 FROM jsonb_to_recordset($7::jsonb) AS x(id text, endpoint_id text, url text)`,
} as const;
