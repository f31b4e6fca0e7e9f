/** Revoked dashboard sessions (see the port). */
import type { RevocationsPort } from '../ports/index.js';
import type { SqliteContext } from './db.js';

export function sqliteRevocations(c: SqliteContext): RevocationsPort {
  const s = {
    put: c.prepare('revPut', 'INSERT INTO revoked_sessions (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING'),
    get: c.prepare('revGet', 'SELECT 1 AS x FROM revoked_sessions WHERE id = ?'),
    purge: c.prepare('revPurge', 'DELETE FROM revoked_sessions WHERE expires_at <= ?'),
  };
  return {
    async revoke(id, expiresAt) {
      await c.tx(() => s.put.run(id, expiresAt));
    },
    async isRevoked(id) {
      return s.get.get(id) !== undefined;
    },
    async purge(now) {
      return (await c.tx(() => s.purge.run(now))).changes;
    },
  };
}
