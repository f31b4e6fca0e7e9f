/** The statements of guard.ts. */
export const GUARD_SQL = {
  // $1 the keys (text[]), $2 now. Locks every key's row in key order, inserting an empty one where there is none (so
  // two nodes cannot both start a new key from nothing); `inserted` tells the adapter that a row did not exist.
  gsLock: `INSERT INTO guard_state AS g (key, scope, dimension, value, rules, expires_at)
      SELECT k, split_part(k, '|', 1), split_part(k, '|', 2), substr(k, length(split_part(k, '|', 1)) + length(split_part(k, '|', 2)) + 3), '{}', $2
      FROM unnest($1::text[]) AS k ORDER BY k COLLATE "C"
    ON CONFLICT (key) DO UPDATE SET expires_at = g.expires_at
    RETURNING g.*, (g.xmax = 0) AS inserted`,
  gsPut: `INSERT INTO guard_state AS g SELECT * FROM jsonb_populate_recordset(NULL::guard_state, $1::jsonb)
    ON CONFLICT (key) DO UPDATE SET rules = excluded.rules, blocked_until = excluded.blocked_until, expires_at = excluded.expires_at`,
  gsBlocks: 'SELECT * FROM guard_state WHERE scope = $1 AND blocked_until > $2 ORDER BY blocked_until DESC LIMIT $3',
  gsGet: 'SELECT * FROM guard_state WHERE key = ANY($1::text[])',
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
