/** The statements of outbox.ts: claims, outcomes, provider attempts and workflow steps. */
export const OUTBOX_SQL = {
  /**
   * One claim statement: rows due in 'queued', and rows whose lease ran out in 'sending' (a worker died; `expired`
   * tells them apart), each with what rendering needs from its verification. SKIP LOCKED: workers on other nodes
   * claim other rows and never wait. $1 now, $2 lease end, $3 limit (per kind).
   */
  outClaim: `WITH e AS (
      SELECT id FROM outbox WHERE status = 'sending' AND available_at <= $1 ORDER BY available_at LIMIT $3 FOR UPDATE SKIP LOCKED
    ), q AS (
      SELECT id FROM outbox WHERE status = 'queued' AND available_at <= $1 ORDER BY available_at LIMIT $3 FOR UPDATE SKIP LOCKED
    ), u AS (
      UPDATE outbox o SET status = 'sending', attempts = o.attempts + 1, available_at = $2
      WHERE o.id IN (SELECT id FROM e UNION ALL SELECT id FROM q)
      RETURNING o.*, o.id IN (SELECT id FROM e) AS expired
    )
    SELECT u.*, v.id AS v_id, v.code_sealed AS v_code_sealed, v.status AS v_status, v.expires_at AS v_expires_at, v.created_at AS v_created_at,
      v.channels AS v_channels, v.channel AS v_channel, v.step_timeout AS v_step_timeout, v.callback_url AS v_callback_url,
      v.country_iso AS v_country_iso
    FROM u LEFT JOIN verifications v ON v.id = u.verification_id
    ORDER BY u.available_at, u.id`,
  // The provider calls finished ($1) and the messages' outcomes ($2), in one statement; returns the messages that
  // changed, with their verification's callback URL (for events).
  outDone: `WITH a AS (
      UPDATE message_attempts a SET outcome = x.outcome, http_status = x.http_status, error_code = x.error_code, error = x.error,
        provider_message_id = x.provider_message_id, finished_at = x.finished_at
      FROM jsonb_to_recordset($1::jsonb) AS x(id text, outcome text, http_status int, error_code text, error text, provider_message_id text, finished_at bigint)
      WHERE a.id = x.id AND a.id = ANY($3::text[]) AND a.outcome = 'started'
    )
    UPDATE outbox o SET status = x.status, available_at = coalesce(x.available_at, o.available_at),
      route_index = coalesce(x.route_index, o.route_index), provider_attempts = coalesce(x.provider_attempts, o.provider_attempts),
      provider = coalesce(x.provider, o.provider), provider_message_id = coalesce(x.provider_message_id, o.provider_message_id),
      error_code = x.error_code, error = x.error, price = coalesce(x.price, o.price), price_currency = coalesce(x.price_currency, o.price_currency),
      sent_at = coalesce(x.sent_at, o.sent_at), failed_at = coalesce(x.failed_at, o.failed_at), fallback_at = x.fallback_at,
      outcome_unknown = x.outcome_unknown
    FROM jsonb_to_recordset($2::jsonb) AS x(id text, status text, available_at bigint, route_index int, provider_attempts int, provider text,
      provider_message_id text, error_code text, error text, price double precision, price_currency text, sent_at bigint, failed_at bigint,
      fallback_at bigint, outcome_unknown boolean)
    WHERE o.id = x.id AND o.id = ANY($4::text[]) AND o.status = (SELECT 'sending')
    RETURNING o.id, (SELECT callback_url FROM verifications v WHERE v.id = o.verification_id) AS callback_url`,
  outList: 'SELECT * FROM outbox WHERE app_id = $1 AND verification_id = $2 ORDER BY step, id',
  outGet: 'SELECT * FROM outbox WHERE id = $1',
  outRoute: `UPDATE outbox o SET route_index = x.route_index, provider = x.provider
    FROM jsonb_to_recordset($1::jsonb) AS x(id text, route_index int, provider text) WHERE o.id = x.id AND o.id = ANY($2::text[])`,
  attLast: 'SELECT id, provider, outcome FROM message_attempts WHERE message_id = $1 ORDER BY id DESC LIMIT 1',
  attInsert: `INSERT INTO message_attempts (id, message_id, app_id, provider, outcome, started_at)
    SELECT x.id, x.message_id, x.app_id, x.provider, 'started', x.started_at
    FROM jsonb_to_recordset($1::jsonb) AS x(id text, message_id text, app_id text, provider text, started_at bigint)`,
  attList: 'SELECT * FROM message_attempts WHERE message_id = $1 ORDER BY id',
  // Workflow: the step after $3 becomes due, once (guarded on the verification's current step). $1 id, $2 app or null, $4 now.
  stepAdvance: `UPDATE verifications SET step = step + 1, updated_at = $4,
      channel = (SELECT channel FROM outbox WHERE verification_id = $1::text AND step = $3::int + 1 LIMIT 1),
      cost = round((cost + coalesce((SELECT cost FROM outbox WHERE verification_id = $1::text AND step = $3::int + 1 LIMIT 1), 0))::numeric, 6)::double precision
    WHERE id = $1::text AND app_id = coalesce($2::text, app_id) AND status = (SELECT 'pending') AND expires_at > $4::bigint AND step = $3::int
      AND EXISTS (SELECT 1 FROM outbox WHERE verification_id = $1::text AND step = $3::int + 1 AND status = 'waiting')
    RETURNING step`,
  stepQueue: `UPDATE outbox SET status = 'queued', available_at = $3 WHERE verification_id = $1 AND step = $2 AND status = 'waiting'`,
  stepClearFallback: 'UPDATE outbox SET fallback_at = NULL WHERE verification_id = $1 AND step = $2',
  fallbackDue: `UPDATE outbox SET fallback_at = NULL WHERE id IN (
      SELECT id FROM outbox WHERE fallback_at IS NOT NULL AND fallback_at <= $1 ORDER BY fallback_at LIMIT $2 FOR UPDATE SKIP LOCKED
    ) RETURNING id, app_id, verification_id, step`,
  // ORDER BY the indexed column: with a generic plan the planner would otherwise guess a sequential scan finds a
  // match soon (it does not: almost no row has a fallback pending).
  fallbackFirst: 'SELECT fallback_at FROM outbox WHERE fallback_at IS NOT NULL ORDER BY fallback_at LIMIT 1',
  outBacklog: `SELECT count(*)::int AS n, min(available_at) AS t FROM outbox WHERE status = 'queued' AND available_at <= $1`,
  nextDue: `SELECT least((SELECT available_at FROM outbox WHERE status = 'queued' ORDER BY available_at LIMIT 1),
      (SELECT available_at FROM outbox WHERE status = 'sending' ORDER BY available_at LIMIT 1),
      (SELECT fallback_at FROM outbox WHERE fallback_at IS NOT NULL ORDER BY fallback_at LIMIT 1)) AS t`,
} as const;
