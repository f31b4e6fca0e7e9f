/** The statements of guard.ts. */
export const GUARD_SQL = {
  // $1 the keys (text[]), $2 now. Locks every key's row in key order, inserting an empty one where there is none (so
  // two nodes cannot both start a new key from nothing); `inserted` tells the adapter that a row did not exist.
  gsLock: `INSERT INTO guard_state AS g (key, scope, dimension, value, rules, expires_at)
      SELECT k, split_part(k, '|', 1), split_part(k, '|', 2), substr(k, length(split_part(k, '|', 1)) + length(split_part(k, '|', 2)) + 3), '{}', $2
      FROM unnest($1::text[]) AS k ORDER BY k COLLATE "C"
    ON CONFLICT (key) DO UPDATE SET expires_at = g.expires_at
    RETURNING g.*, (g.xmax = 0) AS inserted`,
  gsPut: `INSERT INTO guard_state AS g (key, scope, dimension, value, rules, blocked_until, expires_at, version)
      SELECT r.key, r.scope, r.dimension, r.value, r.rules, r.blocked_until, r.expires_at, 1 FROM jsonb_populate_recordset(NULL::guard_state, $1::jsonb) r
    ON CONFLICT (key) DO UPDATE SET rules = excluded.rules, blocked_until = excluded.blocked_until, expires_at = excluded.expires_at, version = g.version + 1
    RETURNING g.key, g.version`,
  /**
   * Compare-and-set of a group decided on rows this node remembers, in one statement that commits on its own: $1
   * every key the group read, $2 the version each had (0: no row), $3 the rows to write ({key, scope, dimension,
   * value, rules, blocked_until, expires_at, expected}). The keys' rows are locked in key order; only if every
   * version is still the one read are the rows inserted or updated (a row inserted meanwhile by another node makes
   * the insert fail with a unique violation: nothing is written). Returns ok and the new versions.
   */
  gsCas: `WITH e AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS e(key, version)),
      cur AS (SELECT g.key, g.version FROM guard_state g WHERE g.key = ANY ($1::text[]) ORDER BY g.key FOR UPDATE),
      bad AS (SELECT 1 FROM e LEFT JOIN cur ON cur.key = e.key WHERE coalesce(cur.version, 0) <> e.version LIMIT 1),
      w AS (SELECT * FROM jsonb_to_recordset($3::jsonb) AS w(key text, scope text, dimension text, value text, rules jsonb, blocked_until bigint,
        expires_at bigint, expected bigint)),
      ins AS (INSERT INTO guard_state (key, scope, dimension, value, rules, blocked_until, expires_at, version)
        SELECT w.key, w.scope, w.dimension, w.value, w.rules, w.blocked_until, w.expires_at, 1 FROM w WHERE w.expected = 0 AND NOT EXISTS (SELECT 1 FROM bad)
        RETURNING key, version),
      upd AS (UPDATE guard_state g SET rules = w.rules, blocked_until = w.blocked_until, expires_at = w.expires_at, version = g.version + 1
        FROM w WHERE g.key = w.key AND g.key = ANY ($1::text[]) AND w.expected > 0 AND NOT EXISTS (SELECT 1 FROM bad) RETURNING g.key, g.version)
    SELECT NOT EXISTS (SELECT 1 FROM bad) AS ok,
      (SELECT coalesce(json_agg(json_build_array(v.key, v.version)), '[]') FROM (SELECT * FROM ins UNION ALL SELECT * FROM upd) v) AS versions`,
  gsBlocks: 'SELECT * FROM guard_state WHERE scope = $1 AND blocked_until > $2 ORDER BY blocked_until DESC LIMIT $3',
  gsGet: 'SELECT * FROM guard_state WHERE key = ANY($1::text[])',
  gsEnded: 'SELECT * FROM guard_state WHERE blocked_until <= $1 ORDER BY blocked_until LIMIT $2',
  // $1 after (null: from the first key), $2 limit, $3 now: one step of the sweep, deleting what expired among them.
  gsPurge: `WITH step AS (SELECT key, expires_at FROM guard_state WHERE key > coalesce($1, '') ORDER BY key LIMIT $2),
      gone AS (DELETE FROM guard_state WHERE key = ANY (ARRAY(SELECT key FROM step WHERE expires_at < $3)) AND expires_at < $3 RETURNING key)
    SELECT (SELECT count(*) FROM gone) AS deleted, (SELECT max(key) FROM step) AS last, (SELECT count(*) FROM step) AS seen`,
  gdInsert: 'INSERT INTO guard_decisions SELECT * FROM jsonb_populate_recordset(NULL::guard_decisions, $1::jsonb)',
  // $1 app, $2 before id, $3 rule, $4 prefix, $5 country, $6 since, $7 until, $8 limit
  gdList: `SELECT * FROM guard_decisions WHERE app_id = $1 AND id < coalesce($2, '~')
      AND ($3::text IS NULL OR rules ? $3) AND ($4::text IS NULL OR prefix = $4) AND ($5::text IS NULL OR country = $5)
      AND ($6::bigint IS NULL OR at >= $6) AND ($7::bigint IS NULL OR at <= $7)
    ORDER BY id DESC LIMIT $8`,
} as const;
