/**
 * The statements of locked-paths.ts: starts and checks, for one request or a group of them in one transaction;
 * phones locked in sorted order.
 */
export const LOCKED_PATHS_SQL = {
  idemLock: `SELECT pg_advisory_xact_lock(hashtextextended('idem|' || $1 || '|' || $2, 0))`,
  idemGet: 'SELECT request_hash, response FROM idempotency_keys WHERE app_id = $1 AND key = $2',
  idemPut: 'INSERT INTO idempotency_keys (app_id, key, request_hash, response, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)',
  /**
   * Locks (creating empty rows as needed, `fresh`) the phones of a group of starts, in (app, phone) order, so two
   * groups never deadlock. $1 apps, $2 phones.
   */
  phoneLockMany: `INSERT INTO phone_states AS p (app_id, to_addr, sends, failures, window_started_at)
    SELECT x.a, x.t, 0, 0, 0 FROM unnest($1::text[], $2::text[]) AS x(a, t) ORDER BY x.a COLLATE "C", x.t COLLATE "C"
    ON CONFLICT (app_id, to_addr) DO UPDATE SET sends = p.sends
    RETURNING p.*, (p.xmax = 0) AS fresh`,
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
  /**
   * The verification a check by recipient is for: the phone's pending one, else its newest (id NULL: none). Not simply
   * the newest: starts stamped on different nodes (or reaching the phone's lock out of clock order) can close a
   * verification whose id sorts after theirs, and the pending one is what was sent last.
   */
  verNewestFor: `SELECT coalesce((SELECT id FROM verifications WHERE app_id = $1 AND to_addr = $2 AND status = 'pending' LIMIT 1),
    (SELECT id FROM verifications WHERE app_id = $1 AND to_addr = $2 ORDER BY id DESC LIMIT 1)) AS id`,
  verExpire: `UPDATE verifications SET status = 'expired', code_sealed = NULL, updated_at = $1 WHERE id = $2 AND status = (SELECT 'pending') AND expires_at <= $1`,
} as const;
