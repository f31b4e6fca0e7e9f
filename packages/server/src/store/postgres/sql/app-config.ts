/** The statements of app-config.ts: senders and templates. */
export const APP_CONFIG_SQL = {
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
  conList: 'SELECT * FROM provider_connections ORDER BY id',
  conGetForUpdate: 'SELECT * FROM provider_connections WHERE id = $1 AND app_id IS NOT DISTINCT FROM $2 FOR UPDATE',
  conPut: `INSERT INTO provider_connections (id, app_id, name, type, config_sealed, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, config_sealed = EXCLUDED.config_sealed, updated_at = EXCLUDED.updated_at`,
  conDelete: 'DELETE FROM provider_connections WHERE id = $1 AND app_id IS NOT DISTINCT FROM $2',
} as const;
