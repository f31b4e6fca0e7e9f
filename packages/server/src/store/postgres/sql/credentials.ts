/** The statements of credentials.ts: API keys and OAuth clients. */
export const CREDENTIALS_SQL = {
  keyInsert: 'INSERT INTO api_keys (id, app_id, name, prefix, hash, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
  keyFind: 'SELECT k.*, row_to_json(a.*) AS app FROM api_keys k JOIN apps a ON a.id = k.app_id WHERE k.hash = $1',
  keyList: 'SELECT * FROM api_keys WHERE app_id = $1 ORDER BY id',
  keyGetForUpdate: 'SELECT * FROM api_keys WHERE id = $1 AND app_id = $2 FOR UPDATE',
  keyRevoke: 'UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 AND app_id = $3 RETURNING *',
  keyTouch: `UPDATE api_keys k SET last_used_at = greatest(coalesce(k.last_used_at, 0), x.at)
    FROM jsonb_to_recordset($1::jsonb) AS x(id text, at bigint) WHERE k.id = x.id AND k.id = ANY($2::text[])`,
  cliInsert: `INSERT INTO oauth_clients (id, app_id, name, secret_hash, previous_secret_hash, previous_valid_until, created_at, rotated_at, revoked_at, last_used_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  cliGet: 'SELECT c.*, row_to_json(a.*) AS app FROM oauth_clients c JOIN apps a ON a.id = c.app_id WHERE c.id = $1',
  cliGetForUpdate: 'SELECT * FROM oauth_clients WHERE id = $1 AND app_id = $2 FOR UPDATE',
  cliList: 'SELECT * FROM oauth_clients WHERE app_id = $1 ORDER BY id',
  cliUpdate: `UPDATE oauth_clients SET secret_hash = $3, previous_secret_hash = $4, previous_valid_until = $5, rotated_at = $6, revoked_at = $7
    WHERE id = $1 AND app_id = $2`,
  cliTouch: 'UPDATE oauth_clients SET last_used_at = greatest(coalesce(last_used_at, 0), $1) WHERE id = $2',
} as const;
