/**
 * The statements of fast-paths.ts: the one-statement starts and the compare-and-set checks, each committing on
 * its own.
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

export const FAST_PATHS_SQL = {
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
} as const;
