/**
 * The embedded store: SQLite through better-sqlite3, WAL with `synchronous=FULL` (an acknowledged write survives
 * `kill -9` and power loss). better-sqlite3 is synchronous, so each use case runs as one `db.transaction(...)`:
 * nothing else runs on the event loop between its statements, and `BEGIN IMMEDIATE` serialises it against other
 * processes sharing the file. This file composes the modules, one per port (`db.ts` holds what they share).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../../domain/clock.js';
import type { Store, StoreHooks } from '../ports/index.js';
import { sqliteAppConfig } from './app-config.js';
import { appRows, sqliteApps } from './apps.js';
import { sqliteAudit } from './audit.js';
import { sqliteCallbacks } from './callbacks.js';
import { keyRows, sqliteCredentials } from './credentials.js';
import { SqliteContext } from './db.js';
import { sqliteGuard, type SqliteGuard } from './guard.js';
import { sqliteAnalytics } from './analytics.js';
import { sqliteRevocations } from './revocations.js';
import { sqliteMaintenance } from './maintenance.js';
import { migrateSqlite } from './migrations.js';
import { outboxRows, sqliteOutbox } from './outbox.js';
import { phoneRows, sqlitePhones } from './phones.js';
import { sqliteVerifications } from './verifications.js';
import { sqliteWebhooks } from './webhooks.js';

/** Parses `sqlite:./data/otpd.sqlite`, `sqlite:///abs/path`, `sqlite::memory:` into a file name for better-sqlite3. */
export function sqliteFileFromUrl(url: string): string {
  if (!url.startsWith('sqlite:')) throw new Error(`not a sqlite URL: ${url}`);
  let rest = url.slice('sqlite:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2);
  if (rest === '' ) throw new Error('sqlite URL without a file name');
  return rest;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly db: Database.Database;
  readonly hooks: StoreHooks;
  // The ports, as the Store interface types them (one module each, built in the constructor).
  readonly apps: Store['apps']; readonly credentials: Store['credentials']; readonly phones: Store['phones'];
  readonly appConfig: Store['appConfig']; readonly verifications: Store['verifications']; readonly outbox: Store['outbox'];
  readonly callbacks: Store['callbacks']; readonly webhooks: Store['webhooks']; readonly audit: Store['audit'];
  readonly maintenance: Store['maintenance']; readonly guard: SqliteGuard; readonly analytics: Store['analytics']; readonly revocations: Store['revocations'];
  private readonly c: SqliteContext;
  private readonly clock: Clock;
  private readonly pingStmt: Database.Statement;
  /** Migrations this instance applied (when it opened the file, or later). */
  private readonly applied: string[];

  constructor(file: string, opts: { clock?: Clock } = {}) {
    this.clock = opts.clock ?? systemClock;
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.applied = migrateSqlite(this.db, this.clock);
    const c = new SqliteContext(this.db, this.clock);
    this.c = c;
    this.hooks = c.hooks;
    // Rows the modules share: the writes and reads several use cases make inside their transactions.
    const keys = keyRows(c);
    const apps = appRows(c);
    const phones = phoneRows(c);
    const messages = outboxRows(c);
    this.apps = sqliteApps(c, apps, keys);
    this.credentials = sqliteCredentials(c, keys, apps);
    this.phones = sqlitePhones(c, phones);
    this.appConfig = sqliteAppConfig(c);
    this.verifications = sqliteVerifications(c, phones, messages);
    this.outbox = sqliteOutbox(c, messages);
    this.callbacks = sqliteCallbacks(c, messages);
    this.webhooks = sqliteWebhooks(c, apps);
    this.audit = sqliteAudit(c);
    this.maintenance = sqliteMaintenance(c);
    this.analytics = sqliteAnalytics(c);
    this.revocations = sqliteRevocations(c);
    this.guard = sqliteGuard(c);
    this.pingStmt = c.prepare('ping', 'SELECT 1');
  }

  /**
   * Query plans of every prepared statement of every module (for tests that guard against full table scans on hot
   * paths). Every parameter is bound to NULL; only the plan is read.
   */
  explainPlans(): { name: string; plan: string }[] {
    return this.c.explainPlans();
  }

  async migrate(): Promise<string[]> {
    this.applied.push(...migrateSqlite(this.db, this.clock));
    return [...this.applied];
  }

  async ping(): Promise<void> {
    this.pingStmt.get();
  }

  async close(): Promise<void> {
    this.guard.flush();
    this.c.drain();
    if (this.db.open) this.db.close();
  }
}
