/**
 * The PostgreSQL adapter's statements, by name. Each is sent as a named prepared statement (parsed and planned
 * once per connection). Parameters are positional; the comment before a statement says what they are when it is
 * not obvious.
 *
 * Plans: the generic plan a connection settles on is kept until the table's statistics change, so every statement
 * must stay an index lookup whatever the table holds (a test checks each plan against tables holding many rows and
 * few pending ones). Status guards on writes by id are written `status = (SELECT 'pending')`: a value the planner
 * cannot see through, so it can never prove the predicate of a partial index of pending (or sending) rows and
 * choose to read that whole index, filtering by id, over primary-key lookups. It prefers exactly that while few rows
 * are pending, and the cached plan would keep reading every pending row once they are many. Never `col = ANY($n)` on
 * a column that is not an index's first: a custom plan may take it as the index condition and read the whole index
 * (a check group's phones read that way took 10 ms at 12,000 phones).
 *
 * Phones are locked in one order everywhere: by (app, phone) in byte order (`COLLATE "C"`, whatever the database's
 * collation; the adapter sorts the same way in JavaScript where it gives the order itself).
 */
/**
 * CTEs `ev` and `wd`: the events ($ev [{id, app_id, type, verification_id, data, created_at}]) and their deliveries
 * ($wd [{id, app_id, endpoint_id, url, event_id, verification_id, at}]) of the verifications the CTE `written`
 * returned; those of the others are dropped with them.
 */
const eventsOf = (written: string, ev: number, wd: number): string => `ev AS (
      INSERT INTO events (id, app_id, type, verification_id, data, created_at)
      SELECT e.id, e.app_id, e.type, e.verification_id, e.data, e.created_at
      FROM jsonb_to_recordset($${ev}::jsonb) AS e(id text, app_id text, type text, verification_id text, data jsonb, created_at bigint)
      WHERE e.verification_id IN (SELECT id FROM ${written})
    ), wd AS (
      INSERT INTO webhook_deliveries (id, app_id, endpoint_id, url, event_id, status, attempts, next_attempt_at, created_at, updated_at)
      SELECT d.id, d.app_id, d.endpoint_id, d.url, d.event_id, 'pending', 0, d.at, d.at, d.at
      FROM jsonb_to_recordset($${wd}::jsonb) AS d(id text, app_id text, endpoint_id text, url text, event_id text, verification_id text, at bigint)
      WHERE d.verification_id IN (SELECT id FROM ${written})
    )`;

export const SQL = {
  ping: 'SELECT 1',
  idemLock: `SELECT pg_advisory_xact_lock(hashtextextended('idem|' || $1 || '|' || $2, 0))`,
  idemGet: 'SELECT request_hash, response FROM idempotency_keys WHERE app_id = $1 AND key = $2',
  idemPut: 'INSERT INTO idempotency_keys (app_id, key, request_hash, response, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
  idemPurge: `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(SELECT ctid FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2))`,
  // Locks the phone's row, creating an empty one first if needed; `fresh` tells that it did not exist.
  phoneLock: `INSERT INTO phone_states AS p (app_id, to_addr, sends, failures, window_started_at) VALUES ($1, $2, 0, 0, 0)
    ON CONFLICT (app_id, to_addr) DO UPDATE SET sends = p.sends
    RETURNING p.*, (p.xmax = 0) AS fresh`,
  phoneGet: 'SELECT * FROM phone_states WHERE app_id = $1 AND to_addr = $2',
  phoneLocked: 'SELECT * FROM phone_states WHERE app_id = $1 AND locked_until > $2 ORDER BY locked_until DESC LIMIT $3',
  // $1 app, $2 to, $3 sends, $4 failures, $5 window_started_at, $6 last_send_at, $7 locked_until, $8 lock_reason
  phonePut: `INSERT INTO phone_states (app_id, to_addr, sends, failures, window_started_at, last_send_at, locked_until, lock_reason)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (app_id, to_addr) DO UPDATE SET sends = EXCLUDED.sends, failures = EXCLUDED.failures,
      window_started_at = EXCLUDED.window_started_at, last_send_at = EXCLUDED.last_send_at,
      locked_until = EXCLUDED.locked_until, lock_reason = EXCLUDED.lock_reason`,
  // ---- starts and checks, for one request or a group of them in one transaction; phones locked in sorted order.
  /**
   * Locks (creating empty rows as needed, `fresh`) the phones of a group of starts, in (app, phone) order, so two
   * groups never deadlock. $1 apps, $2 phones.
   */
  phoneLockMany: `INSERT INTO phone_states AS p (app_id, to_addr, sends, failures, window_started_at)
    SELECT x.a, x.t, 0, 0, 0 FROM unnest($1::text[], $2::text[]) AS x(a, t) ORDER BY x.a COLLATE "C", x.t COLLATE "C"
    ON CONFLICT (app_id, to_addr) DO UPDATE SET sends = p.sends
    RETURNING p.*, (p.xmax = 0) AS fresh`,
  /**
   * A group's starts for phones that have no row (never seen, or verified since: a success removes the phone's row)
   * and no pending verification, in one statement that commits on its own: each phone's row inserted with its
   * counters after this start ($1 phone_states rows; one that exists now is left alone), then, for the phones
   * inserted, the verifications ($2), their messages ($3), the attempts started for messages claimed at once by this
   * node's worker ($4 [{id, message_id, verification_id, app_id, provider, started_at}]) and the events with their
   * deliveries ($5 [{id, app_id, type, verification_id, data, created_at}], $6 [{id, app_id, endpoint_id, url,
   * event_id, verification_id, at}]). Returns the verifications written; the other starts run under the phone lock.
   */
  startFresh: `WITH f AS (
      SELECT x.* FROM jsonb_populate_recordset(NULL::phone_states, $1::jsonb) AS x
      WHERE (SELECT 1 FROM verifications v WHERE v.app_id = x.app_id AND v.to_addr = x.to_addr AND v.status = 'pending' LIMIT 1) IS NULL
    ), ph AS (
      INSERT INTO phone_states SELECT * FROM f ORDER BY app_id COLLATE "C", to_addr COLLATE "C"
      ON CONFLICT (app_id, to_addr) DO NOTHING RETURNING app_id, to_addr
    ), ins AS (
      INSERT INTO verifications SELECT r.* FROM jsonb_populate_recordset(NULL::verifications, $2::jsonb) AS r
      JOIN ph ON ph.app_id = r.app_id AND ph.to_addr = r.to_addr
      RETURNING id
    ), msgs AS (
      INSERT INTO outbox SELECT m.* FROM jsonb_populate_recordset(NULL::outbox, $3::jsonb) AS m WHERE m.verification_id IN (SELECT id FROM ins)
    ), att AS (
      INSERT INTO message_attempts (id, message_id, app_id, provider, outcome, started_at)
      SELECT x.id, x.message_id, x.app_id, x.provider, 'started', x.started_at
      FROM jsonb_to_recordset($4::jsonb) AS x(id text, message_id text, verification_id text, app_id text, provider text, started_at bigint)
      WHERE x.verification_id IN (SELECT id FROM ins)
    ), ${eventsOf('ins', 5, 6)}
    SELECT id FROM ins`,
  /**
   * A group's start writes in one statement: each phone's pending verification closed ($1 JSON [{a, t, now}]),
   * the new verifications ($2), their messages ($3), the phones' counters ($4) and empty phone rows nobody needed
   * removed ($5 [{a, t}]); $6 the attempts started for messages
   * claimed at once by this node's worker. The new verifications' INSERT reads the close's result, so the
   * one-pending index never sees two. Returns the closed verifications.
   */
  startWriteMany: `WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(a text, t text, now bigint)),
    closed AS (
      UPDATE verifications v SET status = CASE WHEN v.expires_at <= x.now THEN 'expired' ELSE 'canceled' END, code_sealed = NULL, updated_at = x.now
      FROM x CROSS JOIN LATERAL (SELECT id FROM verifications p WHERE p.app_id = x.a AND p.to_addr = x.t AND p.status = 'pending' LIMIT 1) o
      WHERE v.id = o.id AND v.status = (SELECT 'pending') RETURNING v.*
    ), ins AS (
      INSERT INTO verifications SELECT * FROM jsonb_populate_recordset(NULL::verifications, $2::jsonb) WHERE (SELECT count(*) FROM closed) >= 0
      RETURNING id
    ), msgs AS (
      INSERT INTO outbox SELECT * FROM jsonb_populate_recordset(NULL::outbox, $3::jsonb) WHERE (SELECT count(*) FROM ins) >= 0
    ), ph AS (
      INSERT INTO phone_states SELECT * FROM jsonb_populate_recordset(NULL::phone_states, $4::jsonb)
      ON CONFLICT (app_id, to_addr) DO UPDATE SET sends = EXCLUDED.sends, failures = EXCLUDED.failures,
        window_started_at = EXCLUDED.window_started_at, last_send_at = EXCLUDED.last_send_at,
        locked_until = EXCLUDED.locked_until, lock_reason = EXCLUDED.lock_reason
    ), del AS (
      DELETE FROM phone_states p USING jsonb_to_recordset($5::jsonb) AS d(a text, t text)
      WHERE p.app_id = d.a AND p.to_addr = d.t AND p.sends = 0 AND p.failures = 0 AND p.window_started_at = 0 AND p.locked_until IS NULL
    ), att AS (
      INSERT INTO message_attempts (id, message_id, app_id, provider, outcome, started_at)
      SELECT x.id, x.message_id, x.app_id, x.provider, 'started', x.started_at
      FROM jsonb_to_recordset($6::jsonb) AS x(id text, message_id text, app_id text, provider text, started_at bigint)
    )
    SELECT * FROM closed`,
  /**
   * A group's checks: the phones locked FIRST (sorted; the order every transaction on a phone takes its locks in:
   * phone, then verification), then one try counted per verification by the guarded UPDATE, atomically and only
   * while the code can still be tried. The UPDATE's filter reads the lock's result, so the locks are taken before
   * it runs. Ids are distinct within a group. $1 ids, $2 apps, $3 nows. Returns the verifications that took a try,
   * each with its phone's row as JSON.
   */
  checkBumpMany: `WITH x AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS x(id, app, now)),
    p AS (
      SELECT p.* FROM phone_states p JOIN verifications v ON p.app_id = v.app_id AND p.to_addr = v.to_addr JOIN x ON v.id = x.id AND v.app_id = x.app
      WHERE v.id = ANY($1::text[])
      ORDER BY p.app_id COLLATE "C", p.to_addr COLLATE "C" FOR UPDATE OF p
    ), b AS (
      UPDATE verifications v SET attempts = v.attempts + 1, updated_at = x.now FROM x
      WHERE v.id = x.id AND v.id = ANY($1::text[]) AND v.app_id = x.app AND v.status = (SELECT 'pending') AND v.expires_at > x.now AND v.attempts < v.max_attempts
        AND (SELECT count(*) FROM p) >= 0
      RETURNING v.*
    )
    SELECT b.*, (SELECT row_to_json(ps) FROM p ps WHERE ps.app_id = b.app_id AND ps.to_addr = b.to_addr LIMIT 1) AS phone FROM b`,
  /**
   * A group's checks, optimistically: first each verification with its phone's row (JSON), read without a lock ($1
   * ids, $2 apps); then, judged in Node, `checkApply` writes each outcome only where nothing changed since the read.
   */
  checkRead: `SELECT v.*, (SELECT row_to_json(p) FROM phone_states p WHERE p.app_id = v.app_id AND p.to_addr = v.to_addr) AS phone
    FROM unnest($1::text[], $2::text[]) AS x(id, app) JOIN verifications v ON v.id = x.id AND v.app_id = x.app
    WHERE v.id = ANY($1::text[])`,
  /**
   * The judged checks of a group, in one statement that commits on its own. Each phone is locked (in the order given,
   * sorted by (app, phone) as every transaction on phones locks them) only while its row still holds the values read ($2 [{vid, a, t,
   * sends, failures, w, l, lu, lr} = as read, n_* = as it becomes, del: removed instead, after a success]); then each verification of a locked phone,
   * only while still pending, unexpired and as read: same tries, same updated_at (a resend or a workflow step
   * changes it) ($1 [{id, attempts, updated_at} = as read, now, n_attempts, status, verified_at}]). Only those pass
   * to the writes: the verification (its try counted, settled or not), its phone, and the events with their
   * deliveries ($5 [{id, app_id, type, verification_id, data, created_at}], $6 [{id, app_id, endpoint_id, url,
   * event_id, verification_id, at}]). Compare-and-set: a concurrent try, start, resend or step makes the write miss,
   * and that check runs again under the locks. $3 ids, $4 phones. Returns the ids written.
   */
  checkApply: `WITH pv AS (
      SELECT p.app_id, p.to_addr, x.* FROM jsonb_to_recordset($2::jsonb) AS x(vid text, a text, t text, sends int, failures int, w bigint, l bigint,
        lu bigint, lr text, n_sends int, n_failures int, n_w bigint, n_l bigint, n_lu bigint, n_lr text, del boolean)
      CROSS JOIN LATERAL (
        SELECT p.app_id, p.to_addr FROM phone_states p
        WHERE p.app_id = x.a AND p.to_addr = x.t AND p.sends = x.sends AND p.failures = x.failures AND p.window_started_at = x.w
          AND p.last_send_at IS NOT DISTINCT FROM x.l AND p.locked_until IS NOT DISTINCT FROM x.lu AND p.lock_reason IS NOT DISTINCT FROM x.lr
        LIMIT 1 FOR UPDATE
      ) p
    ), u AS (
      UPDATE verifications v SET attempts = x.n_attempts, status = x.status, verified_at = x.verified_at,
        code_sealed = CASE WHEN x.status = 'pending' THEN v.code_sealed END, updated_at = x.now
      FROM jsonb_to_recordset($1::jsonb) AS x(id text, attempts int, updated_at bigint, now bigint, n_attempts int, status text, verified_at bigint), pv
      WHERE v.id = x.id AND v.id = pv.vid AND v.id = ANY($3::text[]) AND v.app_id = pv.app_id AND v.to_addr = pv.to_addr
        AND v.status = (SELECT 'pending') AND v.attempts = x.attempts AND v.updated_at = x.updated_at AND v.expires_at > x.now
      RETURNING v.id, v.app_id, v.to_addr
    ), ph AS (
      UPDATE phone_states p SET sends = pv.n_sends, failures = pv.n_failures, window_started_at = pv.n_w, last_send_at = pv.n_l,
        locked_until = pv.n_lu, lock_reason = pv.n_lr
      FROM pv JOIN u ON u.id = pv.vid
      WHERE p.app_id = pv.app_id AND p.to_addr = pv.to_addr AND NOT pv.del
    ), pd AS (
      DELETE FROM phone_states p USING pv JOIN u ON u.id = pv.vid
      WHERE p.app_id = pv.app_id AND p.to_addr = pv.to_addr AND pv.del
    ), ${eventsOf('u', 4, 5)}
    SELECT id FROM u`,
  /**
   * A group's check writes: verifications settled ($1 [{id, status, verified_at, now}]), phones' counters ($2) and
   * the rows of phones verified removed ($4 [{a, t}]).
   */
  checkWriteMany: `WITH s AS (
      UPDATE verifications v SET status = x.status, verified_at = x.verified_at, code_sealed = NULL, updated_at = x.now
      FROM jsonb_to_recordset($1::jsonb) AS x(id text, status text, verified_at bigint, now bigint)
      WHERE v.id = x.id AND v.id = ANY($3::text[]) AND v.status = (SELECT 'pending')
    ), d AS (
      DELETE FROM phone_states p USING jsonb_to_recordset($4::jsonb) AS d(a text, t text)
      WHERE p.app_id = d.a AND p.to_addr = d.t
    )
    INSERT INTO phone_states SELECT * FROM jsonb_populate_recordset(NULL::phone_states, $2::jsonb)
    ON CONFLICT (app_id, to_addr) DO UPDATE SET sends = EXCLUDED.sends, failures = EXCLUDED.failures,
      window_started_at = EXCLUDED.window_started_at, last_send_at = EXCLUDED.last_send_at,
      locked_until = EXCLUDED.locked_until, lock_reason = EXCLUDED.lock_reason`,
  verGet: 'SELECT * FROM verifications WHERE id = $1 AND app_id = $2',
  verGetForUpdate: 'SELECT * FROM verifications WHERE id = $1 AND app_id = $2 FOR UPDATE',
  /**
   * The verification a check by recipient is for: the phone's pending one, else its newest (id NULL: none). Not simply
   * the newest: starts stamped on different nodes (or reaching the phone's lock out of clock order) can close a
   * verification whose id sorts after theirs, and the pending one is what was sent last.
   */
  verNewestFor: `SELECT coalesce((SELECT id FROM verifications WHERE app_id = $1 AND to_addr = $2 AND status = 'pending' LIMIT 1),
    (SELECT id FROM verifications WHERE app_id = $1 AND to_addr = $2 ORDER BY id DESC LIMIT 1)) AS id`,
  verTo: 'SELECT to_addr FROM verifications WHERE id = $1 AND app_id = $2',
  verExpire: `UPDATE verifications SET status = 'expired', code_sealed = NULL, updated_at = $1 WHERE id = $2 AND status = (SELECT 'pending') AND expires_at <= $1`,
  verCancel: `UPDATE verifications SET status = CASE WHEN expires_at <= $3 THEN 'expired' ELSE 'canceled' END, code_sealed = NULL, updated_at = $3
    WHERE id = $1 AND app_id = $2 AND status = (SELECT 'pending') RETURNING *`,
  verResent: `UPDATE verifications SET channel = $2, sends = $3, resend_available_at = $4, parts = $5, cost = $6, updated_at = $7
    WHERE id = $1 AND status = (SELECT 'pending')`,
  outInsert: `INSERT INTO outbox SELECT * FROM jsonb_populate_recordset(NULL::outbox, $1::jsonb)`,
  // Claims: rows due in 'queued', and rows whose lease ran out in 'sending' (a worker died), each with what
  // rendering needs from the verification. SKIP LOCKED: workers on other nodes claim other rows, never wait.
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
      v.channels AS v_channels, v.channel AS v_channel, v.step_timeout AS v_step_timeout, v.callback_url AS v_callback_url
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
  nextDue: `SELECT least((SELECT available_at FROM outbox WHERE status = 'queued' ORDER BY available_at LIMIT 1),
      (SELECT available_at FROM outbox WHERE status = 'sending' ORDER BY available_at LIMIT 1),
      (SELECT fallback_at FROM outbox WHERE fallback_at IS NOT NULL ORDER BY fallback_at LIMIT 1)) AS t`,
  appInsert: 'INSERT INTO apps (id, name, enabled, settings, created_at, updated_at, callback_secret_sealed) VALUES ($1, $2, $3, $4, $5, $6, $7)',
  appGet: 'SELECT * FROM apps WHERE id = $1',
  appGetForUpdate: 'SELECT * FROM apps WHERE id = $1 FOR UPDATE',
  appList: 'SELECT * FROM apps ORDER BY id',
  appUpdate: 'UPDATE apps SET name = $2, enabled = $3, settings = $4, updated_at = $5 WHERE id = $1',
  appDelete: 'DELETE FROM apps WHERE id = $1',
  appSetCallbackSecret: 'UPDATE apps SET callback_secret_sealed = $1 WHERE id = $2',
  appCallbackSecret: 'SELECT callback_secret_sealed FROM apps WHERE id = $1',
  keyInsert: 'INSERT INTO api_keys (id, app_id, name, prefix, hash, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
  keyFind: 'SELECT k.*, row_to_json(a.*) AS app FROM api_keys k JOIN apps a ON a.id = k.app_id WHERE k.hash = $1',
  keyList: 'SELECT * FROM api_keys WHERE app_id = $1 ORDER BY id',
  keyGetForUpdate: 'SELECT * FROM api_keys WHERE id = $1 AND app_id = $2 FOR UPDATE',
  keyRevoke: 'UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 AND app_id = $3 RETURNING *',
  keyTouch: `UPDATE api_keys k SET last_used_at = greatest(coalesce(k.last_used_at, 0), x.at)
    FROM jsonb_to_recordset($1::jsonb) AS x(id text, at bigint) WHERE k.id = x.id AND k.id = ANY($2::text[])`,
  verExpireDue: `UPDATE verifications SET status = 'expired', code_sealed = NULL, updated_at = $1
    WHERE id IN (SELECT id FROM verifications WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
    RETURNING *`,
  verExpireAny: `SELECT 1 FROM verifications WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT 1`,
  verCallbackUrl: 'SELECT callback_url FROM verifications WHERE id = $1',
  whkActive: 'SELECT id, url, events FROM webhook_endpoints WHERE app_id = $1 AND enabled',
  whkInsert: `INSERT INTO webhook_endpoints (id, app_id, url, events, secret_sealed, description, enabled, disabled_reason, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  whkList: 'SELECT * FROM webhook_endpoints WHERE app_id = $1 ORDER BY id',
  whkGetForUpdate: 'SELECT * FROM webhook_endpoints WHERE id = $1 AND app_id = $2 FOR UPDATE',
  whkUpdate: `UPDATE webhook_endpoints SET url = $3, events = $4, description = $5, enabled = $6, disabled_reason = $7, updated_at = $8
    WHERE id = $1 AND app_id = $2`,
  whkDelete: 'DELETE FROM webhook_endpoints WHERE id = $1 AND app_id = $2',
  whkDisable: 'UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = $1, updated_at = $2 WHERE id = $3 RETURNING app_id',
  whkSecret: 'SELECT secret_sealed, enabled FROM webhook_endpoints WHERE id = $1',
  // One event and its deliveries ($7: JSON array of {id, endpoint_id, url}).
  evtInsert: `WITH e AS (
      INSERT INTO events (id, app_id, type, verification_id, message_id, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $8)
    )
    INSERT INTO webhook_deliveries (id, app_id, endpoint_id, url, event_id, status, attempts, next_attempt_at, created_at, updated_at)
    SELECT x.id, $2, x.endpoint_id, x.url, $1, 'pending', 0, $8, $8, $8 FROM jsonb_to_recordset($7::jsonb) AS x(id text, endpoint_id text, url text)`,
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
  whdNextDue: `SELECT least((SELECT next_attempt_at FROM webhook_deliveries WHERE status = 'pending' ORDER BY next_attempt_at LIMIT 1),
      (SELECT next_attempt_at FROM webhook_deliveries WHERE status = 'sending' ORDER BY next_attempt_at LIMIT 1)) AS t`,
  sndList: 'SELECT * FROM senders WHERE app_id = $1 ORDER BY channel, id',
  sndInsert: 'INSERT INTO senders (id, app_id, channel, country, value, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
  sndDelete: 'DELETE FROM senders WHERE id = $1 AND app_id = $2 RETURNING *',
  tplList: 'SELECT * FROM templates WHERE app_id = $1 ORDER BY channel, id',
  tplGetForUpdate: 'SELECT * FROM templates WHERE id = $1 AND app_id = $2 FOR UPDATE',
  tplPut: `INSERT INTO templates (id, app_id, channel, name, locale, country, prefix, text, subject, html, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
    ON CONFLICT (id) DO UPDATE SET channel = EXCLUDED.channel, name = EXCLUDED.name, locale = EXCLUDED.locale, country = EXCLUDED.country,
      prefix = EXCLUDED.prefix, text = EXCLUDED.text, subject = EXCLUDED.subject, html = EXCLUDED.html, updated_at = EXCLUDED.updated_at`,
  tplDelete: 'DELETE FROM templates WHERE id = $1 AND app_id = $2',
  cliInsert: `INSERT INTO oauth_clients (id, app_id, name, secret_hash, previous_secret_hash, previous_valid_until, created_at, rotated_at, revoked_at, last_used_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  cliGet: 'SELECT c.*, row_to_json(a.*) AS app FROM oauth_clients c JOIN apps a ON a.id = c.app_id WHERE c.id = $1',
  cliGetForUpdate: 'SELECT * FROM oauth_clients WHERE id = $1 AND app_id = $2 FOR UPDATE',
  cliList: 'SELECT * FROM oauth_clients WHERE app_id = $1 ORDER BY id',
  cliUpdate: `UPDATE oauth_clients SET secret_hash = $3, previous_secret_hash = $4, previous_valid_until = $5, rotated_at = $6, revoked_at = $7
    WHERE id = $1 AND app_id = $2`,
  cliTouch: 'UPDATE oauth_clients SET last_used_at = greatest(coalesce(last_used_at, 0), $1) WHERE id = $2',
  auditInsert: `INSERT INTO audit_log (id, actor, action, target_type, target_id, app_id, before, after, at)
    SELECT x.id, x.actor, x.action, x.target_type, x.target_id, x.app_id, x.before, x.after, x.at
    FROM jsonb_to_recordset($1::jsonb) AS x(id text, actor text, action text, target_type text, target_id text, app_id text, before jsonb, after jsonb, at bigint)`,
  outByProvider: 'SELECT id, app_id, to_addr, verification_id, step, status, provider, provider_message_id FROM outbox WHERE provider = $1 AND provider_message_id = $2',
  outByIdForUpdate: 'SELECT id, app_id, to_addr, verification_id, step, status, provider, provider_message_id FROM outbox WHERE id = $1 FOR UPDATE',
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

export type SqlName = keyof typeof SQL;
