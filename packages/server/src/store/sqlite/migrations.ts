/** Applies the pending SQLite migrations, each in its own `BEGIN IMMEDIATE` transaction. */
import type Database from 'better-sqlite3';
import type { Clock } from '../../domain/clock.js';
import { SQLITE_MIGRATIONS } from '../migrations/sqlite.js';

/** Returns the names applied. */
export function migrateSqlite(db: Database.Database, clock: Clock): string[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT');
  const done = new Set((db.prepare('SELECT name FROM schema_migrations').all() as { name: string }[]).map((r) => r.name));
  const applied: string[] = [];
  for (const m of SQLITE_MIGRATIONS) {
    if (done.has(m.name)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)').run(m.name, clock.now());
    }).immediate();
    applied.push(m.name);
  }
  return applied;
}
