/**
 * Migrations: applied once per process; nodes starting together serialise on an advisory lock.
 */
import pg from 'pg';
import type { Clock } from '../../domain/clock.js';
import { OtpdError } from '../../domain/errors.js';
import { POSTGRES_MIGRATIONS } from '../migrations/postgres.js';
import { redactDatabaseUrl } from '../url.js';
import { isConnectionError } from './connection.js';

const MIGRATION_LOCK = 7_345_118_001;

/** Applies the pending migrations; returns their names. */
export async function runMigrations(pool: pg.Pool, clock: Clock): Promise<string[]> {
  const c = await pool.connect();
  try {
    // Polled, not waited for: a session blocked in pg_advisory_lock() is a transaction in progress, which a
    // CREATE INDEX CONCURRENTLY of the node holding the lock would wait for in turn (a deadlock).
    while (!(await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [MIGRATION_LOCK])).rows[0]!.ok) {
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)');
      const done = new Set((await c.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
      const applied: string[] = [];
      for (const m of POSTGRES_MIGRATIONS) {
        if (done.has(m.name)) continue;
        if (m.statements) {
          for (const s of m.statements) await c.query(s);
          await c.query('INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)', [m.name, clock.now()]);
          applied.push(m.name);
          continue;
        }
        await c.query('BEGIN');
        try {
          await c.query(m.sql);
          await c.query('INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)', [m.name, clock.now()]);
          await c.query('COMMIT');
        } catch (e) {
          await c.query('ROLLBACK');
          throw e;
        }
        applied.push(m.name);
      }
      return applied;
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    c.release();
  }
}

/** A migration that failed because the database could not be reached: `store_unavailable`, naming it (no password). */
export function migrationError(e: unknown, url: string): unknown {
  if (isConnectionError(e)) {
    return new OtpdError('store_unavailable', `cannot reach PostgreSQL at ${redactDatabaseUrl(url)}: ${(e as Error).message || (e as { code?: string }).code}`, { retryAfter: 1 });
  }
  return e;
}
