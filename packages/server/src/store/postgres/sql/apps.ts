/** The statements of apps.ts. */
export const APPS_SQL = {
  appInsert: 'INSERT INTO apps (id, name, enabled, settings, created_at, updated_at, callback_secret_sealed) VALUES ($1, $2, $3, $4, $5, $6, $7)',
  appGet: 'SELECT * FROM apps WHERE id = $1',
  appGetForUpdate: 'SELECT * FROM apps WHERE id = $1 FOR UPDATE',
  appList: 'SELECT * FROM apps ORDER BY id',
  appUpdate: 'UPDATE apps SET name = $2, enabled = $3, settings = $4, updated_at = $5 WHERE id = $1',
  appDelete: 'DELETE FROM apps WHERE id = $1',
  appSetCallbackSecret: 'UPDATE apps SET callback_secret_sealed = $1 WHERE id = $2',
  appCallbackSecret: 'SELECT callback_secret_sealed FROM apps WHERE id = $1',
} as const;
