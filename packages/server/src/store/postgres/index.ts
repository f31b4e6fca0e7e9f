/**
 * The distributed store: PostgreSQL through a `pg` pool, for any number of stateless otpd nodes on one database.
 *
 * Each use case is one transaction (READ COMMITTED) on one pooled connection. Concurrent requests for one phone
 * serialise on that phone's `phone_states` row, locked FIRST in every transaction that reads or writes its
 * counters (start, check, resend, unblock); verification rows are locked after it. One lock order everywhere, so
 * no deadlocks; a deadlock or serialization failure that happens anyway is retried. Counters move only inside
 * those locks or by guarded `UPDATE … RETURNING`, so no node can give a phone an extra try.
 *
 * Workers on every node claim with `FOR UPDATE SKIP LOCKED` and wake on `LISTEN/NOTIFY` (channel `otpd`):
 * `outbox` and `webhooks` when work became due, `app:<id>` when an app's configuration changed (caches forget it).
 * A lost connection surfaces as `store_unavailable` (503); the pool reconnects by itself, the listener too.
 *
 * This file composes the adapter: plumbing (connection.ts, notify.ts, events.ts, migrate.ts), one module per port,
 * and the tuned hot path of starts and checks (verifications.ts → batcher.ts → fast-paths.ts, locked-paths.ts).
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { systemClock, type Clock } from '../../domain/clock.js';
import { EndpointCache } from '../event-fanout.js';
import type { Store, StoreHooks } from '../ports/index.js';
import { PgAppConfig } from './app-config.js';
import { PgApps } from './apps.js';
import { PgAudit } from './audit.js';
import { PgCallbacks } from './callbacks.js';
import { createPool, Db, type PgStoreOptions } from './connection.js';
import { PgCredentials } from './credentials.js';
import { Events } from './events.js';
import { PgGuard } from './guard.js';
import { migrationError, runMigrations } from './migrate.js';
import { PgMaintenance } from './maintenance.js';
import { PgAnalytics } from './analytics.js';
import { PgRevocations } from './revocations.js';
import { Notifier } from './notify.js';
import { PgOutbox } from './outbox.js';
import { PgPhones } from './phones.js';
import { PgVerifications } from './verifications.js';
import { PgWebhooks } from './webhooks.js';

export { isConnectionError, type PgStoreOptions } from './connection.js';

export class PgStore implements Store {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  /** This process, in NOTIFY payloads (a node does not wake itself twice). */
  readonly node = randomUUID().slice(0, 8);
  readonly hooks: StoreHooks = { onWork: undefined, onAppChanged: undefined, onEvents: undefined };
  readonly apps: PgApps;
  readonly credentials: PgCredentials;
  readonly phones: PgPhones;
  readonly appConfig: PgAppConfig;
  readonly verifications: PgVerifications;
  readonly outbox: PgOutbox;
  readonly callbacks: PgCallbacks;
  readonly webhooks: PgWebhooks;
  readonly audit: PgAudit;
  readonly maintenance: PgMaintenance;
  readonly analytics: PgAnalytics;
  readonly revocations: PgRevocations;
  readonly guard: PgGuard;
  private readonly clock: Clock;
  private readonly notifier: Notifier;
  private readonly db: Db;
  private readonly relaxedPool: pg.Pool;
  private migrated: Promise<string[]> | null = null;

  constructor(private readonly url: string, opts: PgStoreOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.pool = createPool(url, opts);
    const endpoints = new EndpointCache(this.clock);
    this.notifier = new Notifier(this.pool, url, this.node, opts.listen !== false, this.hooks, endpoints);
    this.relaxedPool = createPool(url, opts, { max: 2, options: '-c synchronous_commit=off' });
    const db = this.db = new Db(this.pool, this.hooks, this.notifier, this.relaxedPool);
    const events = new Events(this.pool, endpoints);
    this.apps = new PgApps(db, this.notifier);
    this.credentials = new PgCredentials(db, this.notifier);
    this.phones = new PgPhones(db);
    this.appConfig = new PgAppConfig(db, this.notifier);
    this.verifications = new PgVerifications(db, events, opts.poolSize ?? 10);
    this.outbox = new PgOutbox(db, events);
    this.callbacks = new PgCallbacks(db, events);
    this.webhooks = new PgWebhooks(db, this.notifier);
    this.audit = new PgAudit(db);
    this.maintenance = new PgMaintenance(db);
    this.guard = new PgGuard(db, events);
    this.analytics = new PgAnalytics(db);
    this.revocations = new PgRevocations(db);
  }

  /** Applies pending migrations (once per process; concurrent nodes serialise on an advisory lock), then listens. */
  migrate(): Promise<string[]> {
    this.migrated ??= runMigrations(this.pool, this.clock).then((applied) => {
      this.notifier.start().catch(() => undefined);
      return applied;
    }, (e: unknown) => {
      this.migrated = null;
      throw migrationError(e, this.url);
    });
    return this.migrated;
  }

  async ping(): Promise<void> {
    await this.db.read('ping');
  }

  async close(): Promise<void> {
    if (this.notifier.closed) return;
    await this.notifier.close();
    await this.pool.end().catch(() => undefined);
    await this.relaxedPool.end().catch(() => undefined);
  }
}
