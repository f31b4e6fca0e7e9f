/** The statements of revocations.ts. */
export const REVOCATIONS_SQL = {
  revPut: 'INSERT INTO revoked_sessions (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING',
  revGet: 'SELECT 1 AS x FROM revoked_sessions WHERE id = $1',
  revPurge: 'WITH d AS (DELETE FROM revoked_sessions WHERE expires_at <= $1 RETURNING 1) SELECT count(*) AS n FROM d',
} as const;
