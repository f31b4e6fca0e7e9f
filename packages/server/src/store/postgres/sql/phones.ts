/** The statements of phones.ts, and the phone lock every transaction on one phone's counters takes first. */
export const PHONES_SQL = {
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
} as const;
