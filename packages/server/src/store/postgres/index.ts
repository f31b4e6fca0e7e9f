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
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { encodeTime } from 'ulidx';
import { OtpdError } from '../../domain/errors.js';
import { messageEventData, verificationEventData, type EventType } from '../../domain/events.js';
import { newId } from '../../domain/ids.js';
import { afterVerified, afterWrongCode, currentPhoneState, type PhoneState, type VerificationRecord } from '../../domain/verification.js';
import { POSTGRES_MIGRATIONS } from '../migrations/postgres.js';
import type {
  ApiKeyRecord, AppRecord, AttemptRecord, AuditEntry, CheckResult, CheckTarget, ChooseProvider, ClaimedDelivery, ClaimedMessage, DeliveryOutcome,
  DeliveryStatus, IdempotencyInput, ListQuery, MessageOutcome, OAuthClientRecord, OutboxRecord, PurgeCounts, Receipt, ReceiptResult, ResendDecision,
  SenderRecord, StartDecision, StartResult, Store, TemplateRecord, WebhookDeliveryRecord, WebhookEndpointRecord,
} from '../ports.js';
import {
  bufOrNull, json, num, numOrNull, toApp, toAttempt, toAudit, toClient, toDelivery, toEndpoint, toKey, toOutbox, toPhoneState,
  toClaimed, toSender, toTemplate, toVerification, type Row,
} from '../rows.js';
import { phoneAsOf, phoneToWrite } from '../phone-time.js';
import { RETAINED } from '../retention.js';
import { redactDatabaseUrl } from '../url.js';
import { SQL, type SqlName } from './sql.js';

type Client = pg.PoolClient;

/** What a transaction did that others must hear of after its COMMIT. */
interface TxCtx {
  c: Client;
  /** Events with deliveries were written. */
  emitted: boolean;
  /** Outbox messages became due. */
  queued: boolean;
}

export interface PgStoreOptions {
  /** Connections in the pool (per node). */
  poolSize?: number;
  /** How long a request waits for a connection before `store_unavailable`. */
  connectTimeoutMs?: number;
  /** Longest a statement may run. */
  statementTimeoutMs?: number;
  /** Listen for other nodes' notifications (tests of a single store turn it off). */
  listen?: boolean;
}

// BIGINT columns hold epoch milliseconds and counts: well inside Number's exact range.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  '57P01', '57P02', '57P03', '53300', '53400']);

/** True for errors that say the database could not be reached or dropped the connection (not the query's fault). */
export function isConnectionError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || CONNECTION_CODES.has(code))) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed|Cannot use a pool after calling end/i.test(e.message);
}

const RETRYABLE = new Set(['40001', '40P01']);

const MIGRATION_LOCK = 7_345_118_001;
const RETENTION_LOCK = 7_345_118_002;

export class PgStore implements Store {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  /** This process, in NOTIFY payloads (a node does not wake itself twice). */
  readonly node = randomUUID().slice(0, 8);
  onEvents: (() => void) | undefined = undefined;
  onWork: (() => void) | undefined = undefined;
  onAppChanged: ((appId: string) => void) | undefined = undefined;
  private readonly endpointCache = new Map<string, { list: { id: string; url: string; events: string[] }[]; until: number }>();
  private listener: pg.Client | null = null;
  private listenRetry: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly pending = { outbox: false, webhooks: false };
  private readonly inFlight = { outbox: false, webhooks: false };
  private migrated: Promise<string[]> | null = null;
  private firstFallback = { at: -Infinity, until: 0 };
  private readonly startQ: StartOp[] = [];
  private readonly checkQ: CheckOp[] = [];
  private readonly pumpScheduled = { start: false, check: false };
  private readonly running = { start: 0, check: 0 };
  /**
   * Groups of one kind in flight at once: a fifth of the pool (2 of the default 10). A busy node then forms bigger
   * groups (fewer statements, commits and round trips per request) instead of using more connections: with 2
   * instead of 3 per kind, flows ran faster in 6 of 7 alternating runs (median about +8 %).
   */
  private readonly maxGroups: number;
  /**
   * What this node last wrote of its recent pending verifications and their phones, by verification id: a check
   * arriving here is judged from it and goes straight to the compare-and-set write, with no read before. That write
   * compares with the database, so an entry gone stale (another node checked, resent, canceled, advanced a step)
   * only makes the write miss, and that check runs again under the locks. Oldest dropped past `RECENT_MAX`.
   */
  private readonly recent = new Map<string, { v: VerificationRecord; phone: PhoneState }>();

  constructor(private readonly url: string, private readonly opts: PgStoreOptions = {}) {
    this.maxGroups = Math.max(1, Math.floor((opts.poolSize ?? 10) / 5));
    // The URL's own `options` (e.g. a search_path) are kept and extended: pg lets the URL override the config.
    const u = new URL(url);
    const urlOptions = u.searchParams.get('options');
    u.searchParams.delete('options');
    this.pool = new pg.Pool({
      connectionString: u.toString(),
      // Every statement here is written for an index (a test checks each plan). While tables are young their
      // statistics lag behind their growth and the planner picks sequential scans that grow with the table (a
      // probe counted 412 scans of message_attempts in 5 s on a fresh database). Pricing them out keeps the index
      // plans from the first request on. Added to the URL's own `options`, if any.
      options: [urlOptions, '-c enable_seqscan=off'].filter(Boolean).join(' '),
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      types,
      statement_timeout: opts.statementTimeoutMs ?? 15_000,
      application_name: 'otpd',
    });
    // A connection that dies (database restarted) is dropped from the pool; the next request opens another. The
    // query in flight on it rejects (-> store_unavailable); its 'error' event must not crash the process.
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => { client.on('error', () => undefined); });
  }

  // ---- plumbing ------------------------------------------------------------------------------------------------

  private unavailable(e: unknown): unknown {
    return isConnectionError(e) ? new OtpdError('store_unavailable', 'The database connection failed; retry the request', { retryAfter: 1 }) : e;
  }

  private async q(c: Client | pg.Pool, name: SqlName, values: unknown[] = []): Promise<pg.QueryResult<Row>> {
    return c.query<Row>({ name, text: SQL[name], values });
  }

  /** A statement outside any transaction (reads, single-statement writes). */
  private async read(name: SqlName, values: unknown[] = []): Promise<Row[]> {
    try {
      return (await this.q(this.pool, name, values)).rows;
    } catch (e) {
      throw this.unavailable(e);
    }
  }

  private async adhoc(text: string, values: unknown[]): Promise<Row[]> {
    try {
      return (await this.pool.query<Row>(text, values)).rows;
    } catch (e) {
      throw this.unavailable(e);
    }
  }

  /** Runs `fn` on one pooled connection, outside any transaction (each statement commits on its own). */
  private async withClient<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    let c: Client;
    try {
      c = await this.pool.connect();
    } catch (e) {
      throw this.unavailable(e);
    }
    try {
      const out = await fn(c);
      c.release();
      return out;
    } catch (e) {
      c.release(isConnectionError(e) ? (e as Error) : undefined);
      throw this.unavailable(e);
    }
  }

  /**
   * Runs `fn` in one transaction and answers after COMMIT. A deadlock or serialization failure rolls back and runs
   * `fn` again (the decisions inside are pure, so a rerun is safe); a lost connection is `store_unavailable`.
   */
  private async tx<T>(fn: (t: TxCtx) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let c: Client;
      try {
        c = await this.pool.connect();
      } catch (e) {
        throw this.unavailable(e);
      }
      const t: TxCtx = { c, emitted: false, queued: false };
      let out: T;
      try {
        await c.query('BEGIN');
        out = await fn(t);
        await c.query('COMMIT');
      } catch (e) {
        let broken: Error | undefined;
        if (isConnectionError(e)) {
          broken = e as Error;
        } else {
          try {
            await c.query('ROLLBACK');
          } catch (re) {
            broken = re as Error;
          }
        }
        c.release(broken);
        const code = (e as { code?: string }).code;
        if (!broken && code && RETRYABLE.has(code) && attempt < 4) continue;
        throw this.unavailable(e);
      }
      c.release();
      this.afterCommit(t);
      return out;
    }
  }

  private afterCommit(t: Pick<TxCtx, 'emitted' | 'queued'>): void {
    if (t.emitted) {
      this.onEvents?.();
      this.signal('webhooks');
    }
    if (t.queued) this.signal('outbox');
  }

  /**
   * Tells other nodes that work is due. The local worker was already woken in-process, so this only has to reach
   * the others: at most one NOTIFY per kind in flight, and signals arriving meanwhile coalesce into one more.
   */
  private signal(kind: 'outbox' | 'webhooks'): void {
    if (this.opts.listen === false || this.closed) return;
    if (this.inFlight[kind]) {
      this.pending[kind] = true;
      return;
    }
    this.inFlight[kind] = true;
    this.pool.query('SELECT pg_notify($1, $2)', ['otpd', `${kind} ${this.node}`]).catch(() => undefined).finally(() => {
      // Spaced out: under load one NOTIFY every few milliseconds is plenty for idle nodes to join in.
      setTimeout(() => {
        this.inFlight[kind] = false;
        if (this.pending[kind] && !this.closed) {
          this.pending[kind] = false;
          this.signal(kind);
        }
      }, 5).unref();
    });
  }

  /** Inside a transaction: other nodes' caches forget this app when it commits. */
  private async appChanged(t: TxCtx, appId: string): Promise<void> {
    this.endpointCache.delete(appId);
    await t.c.query('SELECT pg_notify($1, $2)', ['otpd', `app ${this.node} ${appId}`]);
  }

  private async startListener(): Promise<void> {
    if (this.closed || this.opts.listen === false) return;
    const client = new pg.Client({ connectionString: this.url, types, application_name: 'otpd-listen', keepAlive: true });
    const retry = () => {
      if (this.listener === client) this.listener = null;
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end().catch(() => undefined);
      if (this.closed || this.listenRetry) return;
      this.listenRetry = setTimeout(() => {
        this.listenRetry = null;
        this.startListener().catch(() => undefined);
      }, 1_000);
      this.listenRetry.unref();
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (n) => this.onNotification(n.payload ?? ''));
    try {
      await client.connect();
      await client.query('LISTEN otpd');
    } catch {
      retry();
      return;
    }
    const reconnected = this.listener === null && this.listenerEverUp;
    this.listener = client;
    this.listenerEverUp = true;
    if (reconnected) {
      // Notifications sent while we were away are lost: forget every cache and look for due work.
      this.endpointCache.clear();
      this.onAppChanged?.('*');
      this.onWork?.();
      this.onEvents?.();
    }
  }

  private listenerEverUp = false;

  private onNotification(payload: string): void {
    const [kind, node, appId] = payload.split(' ');
    if (kind === 'app' && appId) {
      this.endpointCache.delete(appId);
      this.onAppChanged?.(appId);
      return;
    }
    if (node === this.node) return;
    if (kind === 'outbox') this.onWork?.();
    else if (kind === 'webhooks') this.onEvents?.();
  }

  private async audit(t: TxCtx, entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.q(t.c, 'auditInsert', [JSON.stringify(entries.map((a) => ({
      id: a.id, actor: a.actor, action: a.action, target_type: a.targetType, target_id: a.targetId, app_id: a.appId,
      before: a.before ?? null, after: a.after ?? null, at: a.at,
    })))]);
  }

  private async endpointsOf(c: Client | pg.Pool, appId: string): Promise<{ id: string; url: string; events: string[] }[]> {
    const hit = this.endpointCache.get(appId);
    if (hit && hit.until > Date.now()) return hit.list;
    const list = (await this.q(c, 'whkActive', [appId])).rows.map((r) => ({ id: r.id as string, url: r.url as string, events: json<string[]>(r.events) }));
    if (this.endpointCache.size > 10_000) this.endpointCache.clear();
    this.endpointCache.set(appId, { list, until: Date.now() + 5_000 });
    return list;
  }

  /** Who receives an event: the app's endpoints that take its type, and the callback URL if any (none: nobody listens). */
  private async listeners(c: Client | pg.Pool, appId: string, type: EventType, verificationId: string | undefined, callbackUrl: string | null | undefined,
    now: number): Promise<{ id: string; endpoint_id: string | null; url: string }[]> {
    const targets = (await this.endpointsOf(c, appId)).filter(takes(type));
    const callback = callbackUrl !== undefined ? callbackUrl
      : verificationId ? (((await this.q(c, 'verCallbackUrl', [verificationId])).rows[0]?.callback_url as string | null | undefined) ?? null) : null;
    const deliveries: { id: string; endpoint_id: string | null; url: string }[] = targets.map((e) => ({ id: newId('whd', now), endpoint_id: e.id, url: e.url }));
    if (callback) deliveries.push({ id: newId('whd', now), endpoint_id: null, url: callback });
    return deliveries;
  }

  /** Records an event and one delivery per listener, inside the transaction (nothing at all when nobody listens). */
  private async emit(t: TxCtx, appId: string, type: EventType, data: () => Promise<Record<string, unknown>> | Record<string, unknown>,
    refs: { verificationId?: string; messageId?: string; callbackUrl?: string | null }, now: number): Promise<void> {
    const deliveries = await this.listeners(t.c, appId, type, refs.verificationId, refs.callbackUrl, now);
    if (deliveries.length === 0) return;
    await this.q(t.c, 'evtInsert', [newId('evt', now), appId, type, refs.verificationId ?? null, refs.messageId ?? null, JSON.stringify(await data()),
      JSON.stringify(deliveries), now]);
    t.emitted = true;
  }

  private emitVerification(t: TxCtx, type: EventType, v: VerificationRecord, now: number): Promise<void> {
    return this.emit(t, v.appId, type, () => verificationEventData(v), { verificationId: v.id, callbackUrl: v.callbackUrl ?? null }, now);
  }

  /**
   * For a statement that writes a verification's change and its event together: the event's row and its deliveries
   * appended to `events` and `deliveries` (nothing when nobody listens). True if there is one.
   */
  private async eventRows(events: unknown[], deliveries: unknown[], type: EventType, v: VerificationRecord, at: number): Promise<boolean> {
    const to = await this.listeners(this.pool, v.appId, type, v.id, v.callbackUrl ?? null, at);
    if (to.length === 0) return false;
    const event = newId('evt', at);
    events.push({ id: event, app_id: v.appId, type, verification_id: v.id, data: verificationEventData(v), created_at: at });
    for (const d of to) deliveries.push({ ...d, app_id: v.appId, event_id: event, verification_id: v.id, at });
    return true;
  }

  private putPhone(t: TxCtx, appId: string, to: string, p: PhoneState): Promise<unknown> {
    return this.q(t.c, 'phonePut', [appId, to, p.sends, p.failures, p.windowStartedAt, p.lastSendAt, p.lockedUntil, p.lockReason]);
  }

  private static outboxRow(m: OutboxRecord): Record<string, unknown> {
    return {
      id: m.id, app_id: m.appId, verification_id: m.verificationId, channel: m.channel, to_addr: m.to, locale: m.locale, body: m.body,
      status: m.status, attempts: m.attempts, available_at: m.availableAt, created_at: m.createdAt, sent_at: m.sentAt, provider: m.provider,
      error: m.error, parts: m.parts, cost: m.cost, step: m.step, route: m.route, route_index: m.routeIndex, provider_attempts: m.providerAttempts ?? 0,
      provider_message_id: m.providerMessageId ?? null, error_code: m.errorCode ?? null, price: m.price ?? null, price_currency: m.priceCurrency ?? null,
      delivered_at: m.deliveredAt ?? null, failed_at: m.failedAt ?? null, fallback_at: m.fallbackAt ?? null, outcome_unknown: m.outcomeUnknown ?? false,
      sender: m.sender ?? null,
    };
  }

  // ---- lifecycle -------------------------------------------------------------------------------------------------

  /** Applies pending migrations (once per process; concurrent nodes serialise on an advisory lock). */
  migrate(): Promise<string[]> {
    this.migrated ??= this.runMigrations().then((applied) => {
      this.startListener().catch(() => undefined);
      return applied;
    }, (e: unknown) => {
      this.migrated = null;
      if (isConnectionError(e)) {
        throw new OtpdError('store_unavailable', `cannot reach PostgreSQL at ${redactDatabaseUrl(this.url)}: ${(e as Error).message || (e as { code?: string }).code}`, { retryAfter: 1 });
      }
      throw e;
    });
    return this.migrated;
  }

  private async runMigrations(): Promise<string[]> {
    const c = await this.pool.connect();
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
            await c.query('INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)', [m.name, Date.now()]);
            applied.push(m.name);
            continue;
          }
          await c.query('BEGIN');
          try {
            await c.query(m.sql);
            await c.query('INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)', [m.name, Date.now()]);
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

  async ping(): Promise<void> {
    await this.read('ping');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.listenRetry) clearTimeout(this.listenRetry);
    const l = this.listener;
    this.listener = null;
    if (l) {
      l.removeAllListeners();
      l.on('error', () => undefined);
      await l.end().catch(() => undefined);
    }
    await this.pool.end().catch(() => undefined);
  }

  // ---- apps and credentials ----------------------------------------------------------------------------------

  async createApp(app: AppRecord, key: ApiKeyRecord, audit: AuditEntry[] = [], callbackSecretSealed?: Buffer): Promise<void> {
    await this.tx(async (t) => {
      await this.q(t.c, 'appInsert', [app.id, app.name, app.enabled, JSON.stringify(app.settings), app.createdAt, app.updatedAt, callbackSecretSealed ?? null]);
      await this.q(t.c, 'keyInsert', [key.id, key.appId, key.name, key.prefix, key.hash, key.createdAt, key.expiresAt, key.revokedAt]);
      await this.audit(t, audit);
    });
  }

  async listApps(): Promise<AppRecord[]> {
    return (await this.read('appList')).map(toApp);
  }

  async getApp(id: string): Promise<AppRecord | null> {
    const r = (await this.read('appGet', [id]))[0];
    return r ? toApp(r) : null;
  }

  async updateApp(id: string, change: (before: AppRecord) => { after: AppRecord; audit: AuditEntry[] }): Promise<AppRecord | null> {
    return this.tx(async (t) => {
      const r = (await this.q(t.c, 'appGetForUpdate', [id])).rows[0];
      if (!r) return null;
      const { after, audit } = change(toApp(r));
      await this.q(t.c, 'appUpdate', [id, after.name, after.enabled, JSON.stringify(after.settings), after.updatedAt]);
      await this.audit(t, audit);
      await this.appChanged(t, id);
      return after;
    });
  }

  async deleteApp(id: string, audit: (before: AppRecord) => AuditEntry[]): Promise<boolean> {
    return this.tx(async (t) => {
      const r = (await this.q(t.c, 'appGetForUpdate', [id])).rows[0];
      if (!r) return false;
      await this.q(t.c, 'appDelete', [id]);
      await this.audit(t, audit(toApp(r)));
      await this.appChanged(t, id);
      return true;
    });
  }

  async createKey(key: ApiKeyRecord, audit: AuditEntry[]): Promise<void> {
    await this.tx(async (t) => {
      await this.q(t.c, 'keyInsert', [key.id, key.appId, key.name, key.prefix, key.hash, key.createdAt, key.expiresAt, key.revokedAt]);
      await this.audit(t, audit);
    });
  }

  async listKeys(appId: string): Promise<ApiKeyRecord[]> {
    return (await this.read('keyList', [appId])).map(toKey);
  }

  async revokeKey(appId: string, keyId: string, now: number, audit: (before: ApiKeyRecord) => AuditEntry[]): Promise<ApiKeyRecord | null> {
    return this.tx(async (t) => {
      const before = (await this.q(t.c, 'keyGetForUpdate', [keyId, appId])).rows[0];
      if (!before) return null;
      const after = (await this.q(t.c, 'keyRevoke', [now, keyId, appId])).rows[0]!;
      if (before.revoked_at === null) {
        await this.audit(t, audit(toKey(before)));
        await this.appChanged(t, appId);
      }
      return toKey(after);
    });
  }

  async touchKeys(uses: { keyId: string; at: number }[]): Promise<void> {
    if (uses.length === 0) return;
    await this.read('keyTouch', [JSON.stringify(uses.map((u) => ({ id: u.keyId, at: u.at }))), uses.map((u) => u.keyId)]);
  }

  async findKey(hash: Buffer): Promise<{ key: ApiKeyRecord; app: AppRecord } | null> {
    const r = (await this.read('keyFind', [hash]))[0];
    return r ? { key: toKey(r), app: toApp(r.app as Row) } : null;
  }

  async setCallbackSecret(appId: string, sealed: Buffer, audit: AuditEntry[]): Promise<boolean> {
    return this.tx(async (t) => {
      const changed = (await this.q(t.c, 'appSetCallbackSecret', [sealed, appId])).rowCount === 1;
      if (changed) await this.audit(t, audit);
      return changed;
    });
  }

  async hasCallbackSecret(appId: string): Promise<boolean> {
    return !!(await this.read('appCallbackSecret', [appId]))[0]?.callback_secret_sealed;
  }

  async createClient(c: OAuthClientRecord, audit: AuditEntry[]): Promise<void> {
    await this.tx(async (t) => {
      await this.q(t.c, 'cliInsert', [c.id, c.appId, c.name, c.secretHash, c.previousSecretHash, c.previousValidUntil, c.createdAt, c.rotatedAt, c.revokedAt, c.lastUsedAt]);
      await this.audit(t, audit);
    });
  }

  async getClient(id: string): Promise<{ client: OAuthClientRecord; app: AppRecord } | null> {
    const r = (await this.read('cliGet', [id]))[0];
    return r ? { client: toClient(r), app: toApp(r.app as Row) } : null;
  }

  async listClients(appId: string): Promise<OAuthClientRecord[]> {
    return (await this.read('cliList', [appId])).map(toClient);
  }

  async updateClient(appId: string, id: string, change: (before: OAuthClientRecord) => { after: OAuthClientRecord; audit: AuditEntry[] }): Promise<OAuthClientRecord | null> {
    return this.tx(async (t) => {
      const r = (await this.q(t.c, 'cliGetForUpdate', [id, appId])).rows[0];
      if (!r) return null;
      const { after: a, audit } = change(toClient(r));
      await this.q(t.c, 'cliUpdate', [id, appId, a.secretHash, a.previousSecretHash, a.previousValidUntil, a.rotatedAt, a.revokedAt]);
      await this.audit(t, audit);
      await this.appChanged(t, appId);
      return a;
    });
  }

  async touchClient(id: string, at: number): Promise<void> {
    await this.read('cliTouch', [at, id]);
  }

  async listPhoneStates(appId: string, q: { to?: string | undefined; now: number; limit: number }): Promise<(PhoneState & { to: string })[]> {
    const rows = q.to !== undefined ? await this.read('phoneGet', [appId, q.to]) : await this.read('phoneLocked', [appId, q.now, q.limit]);
    return rows.map((r) => ({ ...toPhoneState(r)!, to: r.to_addr as string }));
  }

  async clearPhoneState(appId: string, to: string, now: number, audit: (before: PhoneState) => AuditEntry[]): Promise<PhoneState | null> {
    return this.tx(async (t) => {
      const r = (await this.q(t.c, 'phoneLock', [appId, to])).rows[0]!;
      if (r.fresh) throw new NoRow(); // nothing to clear: roll back the empty row
      const before = toPhoneState(r)!;
      await this.putPhone(t, appId, to, { sends: 0, failures: 0, windowStartedAt: now, lastSendAt: null, lockedUntil: null, lockReason: null });
      await this.audit(t, audit(before));
      return before;
    }).catch((e: unknown) => {
      if (e instanceof NoRow) return null;
      throw e;
    });
  }

  async listAudit(q: { appId?: string | undefined; targetId?: string | undefined; limit: number; before?: string | undefined }): Promise<AuditEntry[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (cond: string, v: unknown) => { values.push(v); where.push(cond.replace('?', `$${values.length}`)); };
    if (q.appId !== undefined) add('app_id = ?', q.appId);
    if (q.targetId !== undefined) add('target_id = ?', q.targetId);
    if (q.before !== undefined) add('id < ?', q.before);
    values.push(q.limit);
    return (await this.adhoc(`SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${values.length}`, values)).map(toAudit);
  }

  // ---- templates, senders, webhooks --------------------------------------------------------------------------

  async listSenders(appId: string): Promise<SenderRecord[]> {
    return (await this.read('sndList', [appId])).map(toSender);
  }

  async createSender(x: SenderRecord, audit: AuditEntry[]): Promise<void> {
    await this.tx(async (t) => {
      await this.q(t.c, 'sndInsert', [x.id, x.appId, x.channel, x.country, x.value, x.createdAt]);
      await this.audit(t, audit);
      await this.appChanged(t, x.appId);
    });
  }

  async deleteSender(appId: string, id: string, audit: (before: SenderRecord) => AuditEntry[]): Promise<boolean> {
    return this.tx(async (t) => {
      const r = (await this.q(t.c, 'sndDelete', [id, appId])).rows[0];
      if (!r) return false;
      await this.audit(t, audit(toSender(r)));
      await this.appChanged(t, appId);
      return true;
    });
  }

  async listTemplates(appId: string): Promise<TemplateRecord[]> {
    return (await this.read('tplList', [appId])).map(toTemplate);
  }

  async saveTemplate(appId: string, id: string, change: (before: TemplateRecord | null) => { after: TemplateRecord | null; audit: AuditEntry[] }): Promise<TemplateRecord | null> {
    return this.tx(async (t) => {
      const r = (await this.q(t.c, 'tplGetForUpdate', [id, appId])).rows[0];
      const { after: a, audit } = change(r ? toTemplate(r) : null);
      if (a) {
        await this.q(t.c, 'tplPut', [a.id, appId, a.channel, a.name, a.locale, a.country, a.prefix, a.text, a.subject, a.html, a.createdAt, a.updatedAt]);
      } else {
        await this.q(t.c, 'tplDelete', [id, appId]);
      }
      await this.audit(t, audit);
      await this.appChanged(t, appId);
      return a;
    });
  }

  async createEndpoint(e: WebhookEndpointRecord, audit: AuditEntry[]): Promise<void> {
    await this.tx(async (t) => {
      await this.q(t.c, 'whkInsert', [e.id, e.appId, e.url, JSON.stringify(e.events), e.secretSealed, e.description, e.enabled, e.disabledReason, e.createdAt, e.updatedAt]);
      await this.audit(t, audit);
      await this.appChanged(t, e.appId);
    });
  }

  async listEndpoints(appId: string): Promise<WebhookEndpointRecord[]> {
    return (await this.read('whkList', [appId])).map(toEndpoint);
  }

  async updateEndpoint(appId: string, id: string, change: (before: WebhookEndpointRecord) => { after: WebhookEndpointRecord | null; audit: AuditEntry[] }): Promise<WebhookEndpointRecord | null | 'deleted'> {
    return this.tx(async (t) => {
      const r = (await this.q(t.c, 'whkGetForUpdate', [id, appId])).rows[0];
      if (!r) return null;
      const { after: a, audit } = change(toEndpoint(r));
      await this.audit(t, audit);
      await this.appChanged(t, appId);
      if (!a) {
        await this.q(t.c, 'whkDelete', [id, appId]);
        await this.q(t.c, 'whdCancelEndpoint', [Date.now(), id]);
        return 'deleted' as const;
      }
      await this.q(t.c, 'whkUpdate', [id, appId, a.url, JSON.stringify(a.events), a.description, a.enabled, a.disabledReason, a.updatedAt]);
      return a;
    });
  }

  async claimDeliveries(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    return this.tx(async (t) => {
      const rows = [
        ...(await this.q(t.c, 'whdClaimExpired', [now, now + leaseMs, limit])).rows,
        ...(await this.q(t.c, 'whdClaimPending', [now, now + leaseMs, limit])).rows,
      ];
      if (rows.length === 0) return [];
      const events = new Map((await this.q(t.c, 'evtGet', [[...new Set(rows.map((r) => r.event_id as string))]])).rows.map((e) => [e.id as string, e]));
      const out: ClaimedDelivery[] = [];
      for (const r of rows) {
        const d = toDelivery(r);
        const ev = events.get(d.eventId);
        let secretSealed: Buffer | null;
        if (d.endpointId) {
          const ep = (await this.q(t.c, 'whkSecret', [d.endpointId])).rows[0];
          secretSealed = ep && ep.enabled === true ? (ep.secret_sealed as Buffer) : null;
        } else {
          secretSealed = bufOrNull((await this.q(t.c, 'appCallbackSecret', [d.appId])).rows[0]?.callback_secret_sealed);
        }
        out.push({
          ...d, eventType: (ev?.type as string) ?? 'unknown', eventCreatedAt: ev ? num(ev.created_at) : now, eventData: ev ? json<unknown>(ev.data) : null,
          secretSealed, secretOwner: d.endpointId ?? d.appId,
        });
      }
      return out;
    });
  }

  async completeDeliveries(outcomes: DeliveryOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    await this.tx(async (t) => {
      for (const o of outcomes) {
        await this.q(t.c, 'whdDone', [o.id, o.status, o.nextAttemptAt ?? null, o.statusCode, o.error, o.at, newId('wha', o.at), o.durationMs]);
        if (o.disableEndpoint) {
          const app = (await this.q(t.c, 'whkDisable', ['the endpoint answered 410 Gone', o.at, o.disableEndpoint])).rows[0]?.app_id as string | undefined;
          await this.q(t.c, 'whdCancelEndpoint', [o.at, o.disableEndpoint]);
          if (app) await this.appChanged(t, app);
        }
      }
    });
  }

  async listDeliveries(appId: string, q: { endpointId?: string | undefined; status?: DeliveryStatus | undefined; limit: number; before?: string | undefined }): Promise<WebhookDeliveryRecord[]> {
    const values: unknown[] = [appId];
    const where = ['app_id = $1'];
    const add = (cond: string, v: unknown) => { values.push(v); where.push(cond.replace('?', `$${values.length}`)); };
    if (q.endpointId !== undefined) add('endpoint_id = ?', q.endpointId);
    if (q.status !== undefined) add('status = ?', q.status);
    if (q.before !== undefined) add('id < ?', q.before);
    values.push(q.limit);
    return (await this.adhoc(`SELECT * FROM webhook_deliveries WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${values.length}`, values)).map(toDelivery);
  }

  async getDelivery(appId: string, id: string): Promise<WebhookDeliveryRecord | null> {
    const r = (await this.read('whdGet', [id, appId]))[0];
    return r ? toDelivery(r) : null;
  }

  async listDeliveryAttempts(deliveryId: string): Promise<{ id: string; statusCode: number | null; error: string | null; durationMs: number; at: number }[]> {
    return (await this.read('whaList', [deliveryId])).map((r) => ({ id: r.id as string, statusCode: numOrNull(r.status_code), error: (r.error as string | null) ?? null, durationMs: num(r.duration_ms), at: num(r.at) }));
  }

  async replayDelivery(appId: string, deliveryId: string, now: number, audit: AuditEntry[]): Promise<WebhookDeliveryRecord | null> {
    return this.tx(async (t) => {
      const r = (await this.q(t.c, 'whdReplay', [now, now, deliveryId, appId])).rows[0];
      if (!r) return null;
      await this.audit(t, audit);
      t.emitted = true;
      return toDelivery(r);
    });
  }

  async nextDeliveryDueAt(): Promise<number | null> {
    return numOrNull((await this.read('whdNextDue'))[0]?.t);
  }

  // ---- verifications -----------------------------------------------------------------------------------------

  /**
   * Starts are batched: the starts that arrive while earlier groups run are done together in one transaction (one
   * lock statement, one write statement, one COMMIT for all), at most one per phone per group. A start with an
   * Idempotency-Key runs alone. A group that fails for any reason other than the connection is rolled back and
   * each of its starts is run alone, so one bad start cannot fail the others.
   */
  startVerification(input: StartInput, decide: (phone: PhoneState | undefined) => StartDecision): Promise<StartResult> {
    if (input.idempotency) return this.startOne(input, decide);
    return new Promise((resolve, reject) => {
      this.startQ.push({ input, decide, resolve, reject });
      this.schedule('start');
    });
  }

  /** A start alone: with its Idempotency-Key (looked up and stored in the same transaction), or after a failed group. */
  private async startOne(input: StartInput, decide: (phone: PhoneState | undefined) => StartDecision): Promise<StartResult> {
    const { appId, now, idempotency } = input;
    const out = await this.tx(async (t): Promise<StartOutcome> => {
      if (idempotency) {
        // Same key twice at once: the second waits here for the first to commit, then replays its answer.
        await this.q(t.c, 'idemLock', [appId, idempotency.key]);
        const prior = (await this.q(t.c, 'idemGet', [appId, idempotency.key])).rows[0];
        if (prior) {
          if (!(prior.request_hash as Buffer).equals(idempotency.requestHash)) {
            return { ok: false, error: new OtpdError('idempotency_key_reused', 'This Idempotency-Key was used with another request body') };
          }
          return { ok: true, value: { kind: 'replayed', response: prior.response as string } };
        }
      }
      const [o] = await this.applyStarts(t, [{ input, decide }]);
      if (idempotency && o!.ok && o!.value.kind === 'created') {
        await this.q(t.c, 'idemPut', [appId, idempotency.key, idempotency.requestHash, o!.value.response, now, idempotency.expiresAt]);
      }
      return o!;
    });
    if (!out.ok) throw out.error;
    return out.value;
  }

  /**
   * Starts in the transaction `t`: their phones locked in one statement, in (app, phone) order (so two groups never
   * deadlock), the decisions run in arrival order, everything written by one statement, then the events. At most
   * one start per phone. A refusal that records a lock writes it; one that records nothing leaves nothing behind.
   */
  private async applyStarts(t: TxCtx, ops: { input: StartInput; decide: (phone: PhoneState | undefined) => StartDecision }[]): Promise<StartOutcome[]> {
    const sorted = [...ops].sort((a, b) => cmp(a.input.appId, b.input.appId) || cmp(a.input.to, b.input.to));
    const locked = new Map((await this.q(t.c, 'phoneLockMany', [sorted.map((o) => o.input.appId), sorted.map((o) => o.input.to)])).rows
      .map((r) => [`${r.app_id as string}|${r.to_addr as string}`, r]));
    const out: StartOutcome[] = [];
    const closes: unknown[] = []; const vers: unknown[] = []; const msgs: unknown[] = []; const phones: unknown[] = []; const dels: unknown[] = [];
    const atts: unknown[] = [];
    const created: VerificationRecord[] = [];
    for (const op of ops) {
      const { appId, to, now } = op.input;
      const ph = locked.get(`${appId}|${to}`)!;
      // Seen as of this start's clock: the start serialised before it may have read a later one (see phone-time.ts).
      const stored = ph.fresh ? undefined : toPhoneState(ph);
      const d = op.decide(phoneAsOf(stored, now));
      if (!d.ok) {
        if (d.phone) phones.push(phoneRow(appId, to, phoneToWrite(d.phone, stored)));
        else if (ph.fresh) dels.push({ a: appId, t: to });
        out.push({ ok: false, error: d.error });
        continue;
      }
      closes.push({ a: appId, t: to, now });
      vers.push(verificationRow(d.verification));
      msgs.push(...d.messages.map(PgStore.outboxRow));
      for (const a of d.attempts ?? []) atts.push({ id: a.id, message_id: a.messageId, app_id: a.appId, provider: a.provider, started_at: a.startedAt });
      phones.push(phoneRow(appId, to, phoneToWrite(d.phone, stored)));
      if (d.messages.some((m) => m.status === 'queued')) t.queued = true;
      created.push(d.verification);
      out.push({ ok: true, value: { kind: 'created', verification: d.verification, response: d.response } });
    }
    if (phones.length === 0 && dels.length === 0) return out;
    const closed = (await this.q(t.c, 'startWriteMany', [JSON.stringify(closes), JSON.stringify(vers), JSON.stringify(msgs), JSON.stringify(phones), JSON.stringify(dels),
      JSON.stringify(atts)])).rows;
    for (const r of closed) {
      const old = toVerification(r);
      this.recent.delete(old.id);
      await this.emitVerification(t, old.status === 'expired' ? 'verification.expired' : 'verification.canceled', old, old.updatedAt);
    }
    for (const v of created) await this.emitVerification(t, 'verification.created', v, v.createdAt);
    return out;
  }

  /** Checks by id are batched like starts (at most one per verification per group); by recipient, alone. */
  checkVerification(input: CheckInput, judge: (v: VerificationRecord) => boolean): Promise<CheckResult | null> {
    if (!('id' in input.target)) return this.checkOne(input, judge);
    return new Promise((resolve, reject) => {
      this.checkQ.push({ input, judge, resolve, reject });
      this.schedule('check');
    });
  }

  /** A check alone: by recipient (its phone locked before the newest verification is looked up), or after a failed group. */
  private async checkOne(input: CheckInput, judge: (v: VerificationRecord) => boolean): Promise<CheckResult | null> {
    const { appId, target, now } = input;
    return this.tx(async (t): Promise<CheckResult | null> => {
      let id: string;
      if ('id' in target) id = target.id;
      else {
        await this.q(t.c, 'phoneLock', [appId, target.to]); // lock first, then find the newest (a start may be creating one)
        const newest = (await this.q(t.c, 'verNewestFor', [appId, target.to])).rows[0];
        if (!newest?.id) throw new NoRow();
        id = newest.id as string;
      }
      const [r] = await this.applyChecks(t, [{ input: { ...input, target: { id } }, judge }]);
      if (r) return r;
      const row = (await this.q(t.c, 'verGet', [id, appId])).rows[0];
      if (!row) throw new NoRow();
      let v = toVerification(row);
      if (v.status === 'pending' && v.expiresAt <= now) {
        await this.q(t.c, 'verExpire', [now, id]);
        v = { ...v, status: 'expired', codeSealed: null, updatedAt: now };
        await this.emitVerification(t, 'verification.expired', v, now);
      }
      return { outcome: 'closed', verification: v };
    }).catch((e: unknown) => {
      if (e instanceof NoRow) return null;
      throw e;
    });
  }

  /**
   * Checks by id in the transaction `t`: their phones locked first (sorted), one try counted per verification by a
   * guarded UPDATE (ids distinct), each judged in order, then the settled verifications and the phones' counters
   * written by one statement, then the events. Undefined for a verification that took no try (closed, expired,
   * out of tries or unknown): the caller answers it.
   */
  private async applyChecks(t: TxCtx, ops: { input: CheckInput; judge: (v: VerificationRecord) => boolean }[]): Promise<(CheckResult | undefined)[]> {
    const ids = ops.map((o) => (o.input.target as { id: string }).id);
    const bumped = new Map((await this.q(t.c, 'checkBumpMany', [ids, ops.map((o) => o.input.appId), ops.map((o) => o.input.now)])).rows
      .map((r) => [r.id as string, r]));
    const out: (CheckResult | undefined)[] = [];
    const settles: { id: string }[] = [];
    // The phone's state as this group leaves it (two of a phone's verifications may be in one group).
    const phones = new Map<string, { appId: string; to: string; state: PhoneState; verified: boolean }>();
    const events: [EventType, VerificationRecord, number][] = [];
    ops.forEach((op, i) => {
      const r = bumped.get(ids[i]!);
      if (!r) { out.push(undefined); return; }
      const { now, lockout } = op.input;
      const v = toVerification(r);
      const key = `${v.appId}|${v.to}`;
      const stored = phones.has(key) ? phones.get(key)!.state : r.phone ? toPhoneState(r.phone as Row) : undefined;
      const phone = currentPhoneState(stored, { lockout }, now);
      if (op.judge(v)) {
        phones.set(key, { appId: v.appId, to: v.to, state: afterVerified(now), verified: true });
        settles.push({ id: v.id, status: 'verified', verified_at: now, now } as { id: string });
        const done: VerificationRecord = { ...v, status: 'verified', verifiedAt: now, codeSealed: null };
        events.push(['verification.verified', done, now]);
        out.push({ outcome: 'verified', verification: done });
        return;
      }
      const exhausted = v.attempts >= v.maxAttempts;
      phones.set(key, { appId: v.appId, to: v.to, state: afterWrongCode(phone, { lockout }, now, exhausted), verified: false });
      if (exhausted) {
        settles.push({ id: v.id, status: 'failed', verified_at: null, now } as { id: string });
        events.push(['verification.failed', { ...v, status: 'failed' }, now]);
      }
      out.push({ outcome: 'wrong', verification: exhausted ? { ...v, status: 'failed', codeSealed: null } : v });
    });
    if (phones.size > 0) {
      // A phone verified last in the group loses its row: its counters are back to those of a phone never seen.
      const [cleared, kept] = partition([...phones.values()], (p) => p.verified);
      await this.q(t.c, 'checkWriteMany', [JSON.stringify(settles), JSON.stringify(kept.map((p) => phoneRow(p.appId, p.to, p.state))),
        settles.map((x) => x.id), JSON.stringify(cleared.map((p) => ({ a: p.appId, t: p.to })))]);
    }
    for (const [type, v, now] of events) await this.emitVerification(t, type, v, now);
    return out;
  }

  /** A pending verification as this node just wrote it, with its phone's row. */
  private remember(v: VerificationRecord, phone: PhoneState): void {
    this.recent.delete(v.id);
    this.recent.set(v.id, { v, phone });
    if (this.recent.size > RECENT_MAX) this.recent.delete(this.recent.keys().next().value!);
  }

  private schedule(kind: 'start' | 'check'): void {
    if (this.pumpScheduled[kind]) return;
    this.pumpScheduled[kind] = true;
    // Next turn: the requests arriving in this one join the same group.
    setImmediate(() => {
      this.pumpScheduled[kind] = false;
      this.pump(kind);
    });
  }

  /** Starts groups while fewer than `maxGroups` of this kind run; requests arriving meanwhile wait for the next. */
  private pump(kind: 'start' | 'check'): void {
    const q: { input: { appId: string } }[] = kind === 'start' ? this.startQ : this.checkQ;
    while (this.running[kind] < this.maxGroups && q.length > 0) {
      // One op per phone (starts) or per verification (checks) in a group; the rest stay queued, in order.
      const seen = new Set<string>();
      const group: number[] = [];
      for (let i = 0; i < q.length && group.length < MAX_GROUP; i++) {
        const op = q[i]!;
        const k = kind === 'start' ? `${op.input.appId}|${(op as StartOp).input.to}` : ((op as CheckOp).input.target as { id: string }).id;
        if (seen.has(k)) continue;
        seen.add(k);
        group.push(i);
      }
      const taken = group.map((i) => q[i]!);
      for (let j = group.length - 1; j >= 0; j--) q.splice(group[j]!, 1);
      this.running[kind]++;
      const run = kind === 'start' ? this.runStartGroup(taken as StartOp[]) : this.runCheckGroup(taken as CheckOp[]);
      void run.finally(() => {
        this.running[kind]--;
        this.pump(kind);
      });
    }
  }

  /**
   * Starts decided for fresh phones (no row: never seen, or verified since) and written by one statement that
   * commits on its own (`startFresh`): one round trip and no lock held across round trips. A phone that has a row or
   * a pending verification is left out (nothing of its start is written) and gets undefined: its start runs again
   * under the phone's lock, deciding on the phone's real state.
   */
  private async applyStartsFresh(ops: StartOp[]): Promise<(StartResult | undefined)[]> {
    const out: (StartResult | undefined)[] = ops.map(() => undefined);
    const phones: unknown[] = []; const vers: unknown[] = []; const msgs: unknown[] = []; const atts: unknown[] = [];
    const events: unknown[] = []; const deliveries: unknown[] = [];
    const made: { i: number; v: VerificationRecord; phone: PhoneState; result: StartResult; queued: boolean; heard: boolean }[] = [];
    for (let i = 0; i < ops.length; i++) {
      const { appId, to, now } = ops[i]!.input;
      const d = ops[i]!.decide(undefined);
      if (!d.ok) continue;
      const v = d.verification;
      phones.push(phoneRow(appId, to, d.phone));
      vers.push(verificationRow(v));
      msgs.push(...d.messages.map(PgStore.outboxRow));
      for (const a of d.attempts ?? []) atts.push({ id: a.id, message_id: a.messageId, verification_id: v.id, app_id: a.appId, provider: a.provider, started_at: a.startedAt });
      const heard = await this.eventRows(events, deliveries, 'verification.created', v, v.createdAt);
      made.push({ i, v, phone: d.phone, result: { kind: 'created', verification: v, response: d.response }, queued: d.messages.some((m) => m.status === 'queued'), heard });
    }
    if (made.length === 0) return out;
    const written = new Set((await this.read('startFresh', [JSON.stringify(phones), JSON.stringify(vers), JSON.stringify(msgs), JSON.stringify(atts),
      JSON.stringify(events), JSON.stringify(deliveries)])).map((r) => r.id as string));
    const done = { emitted: false, queued: false };
    for (const m of made) {
      if (!written.has(m.v.id)) continue;
      out[m.i] = m.result;
      this.remember(m.v, m.phone);
      done.emitted ||= m.heard;
      done.queued ||= m.queued;
    }
    this.afterCommit(done);
    return out;
  }

  /** When the database is unavailable, every op of a group fails with that (true); other errors are retried per op. */
  private failedAll(e: unknown, ops: { reject: (e: unknown) => void }[]): boolean {
    if (!(e instanceof OtpdError && e.code === 'store_unavailable')) return false;
    for (const op of ops) op.reject(e);
    return true;
  }

  /**
   * A group's path without a transaction: its results (undefined for an op it did not write), all undefined if it
   * failed (each op then takes the locked path), or null when the database is unavailable (every op rejected).
   */
  private async unlocked<T>(ops: { reject: (e: unknown) => void }[], run: () => Promise<(T | undefined)[]>): Promise<(T | undefined)[] | null> {
    try {
      return await run();
    } catch (e) {
      return this.failedAll(e, ops) ? null : ops.map(() => undefined);
    }
  }

  private async runStartGroup(ops: StartOp[]): Promise<void> {
    const fresh = await this.unlocked(ops, () => this.applyStartsFresh(ops));
    if (!fresh) return;
    ops.forEach((op, i) => { if (fresh[i]) op.resolve(fresh[i]!); });
    ops = ops.filter((_, i) => !fresh[i]);
    if (ops.length === 0) return;
    let outcomes: StartOutcome[];
    try {
      outcomes = await this.tx((t) => this.applyStarts(t, ops));
    } catch (e) {
      if (this.failedAll(e, ops)) return;
      // Something in the group failed: each start on its own, so only the one at fault fails.
      await Promise.all(ops.map((op) => this.startOne(op.input, op.decide).then(op.resolve, op.reject)));
      return;
    }
    ops.forEach((op, i) => {
      const o = outcomes[i]!;
      if (o.ok) op.resolve(o.value);
      else op.reject(o.error);
    });
  }

  /**
   * Checks by id without a transaction: the verifications and their phones as this node last wrote them (`recent`)
   * or else read in one statement, judged here, and written by one compare-and-set statement (`checkApply`) that
   * commits on its own, counting each try atomically and only if nothing changed since: one or two round trips, no
   * lock held between them. Undefined for a check not written that way (not checkable as read, a second check of a
   * phone in the group, or a write that missed because something changed): the caller runs it again under the locks.
   */
  private async applyChecksOptimistic(ops: CheckOp[]): Promise<(CheckResult | undefined)[]> {
    const ids = ops.map((o) => (o.input.target as { id: string }).id);
    const known = new Map<string, { v: VerificationRecord; phone: PhoneState | undefined }>();
    const unknown: number[] = [];
    for (let i = 0; i < ops.length; i++) {
      const c = this.recent.get(ids[i]!);
      // Scoped to the calling app like every read: another app's id is looked up (and not found) as usual.
      if (c && c.v.appId === ops[i]!.input.appId) known.set(ids[i]!, c);
      else unknown.push(i);
    }
    if (unknown.length > 0) {
      for (const r of await this.read('checkRead', [unknown.map((i) => ids[i]!), unknown.map((i) => ops[i]!.input.appId)])) {
        known.set(r.id as string, { v: toVerification(r), phone: toPhoneState(r.phone as Row | undefined) });
      }
    }
    const out: (CheckResult | undefined)[] = ops.map(() => undefined);
    const vers: unknown[] = []; const phones: unknown[] = []; const events: unknown[] = []; const deliveries: unknown[] = [];
    const judged: { i: number; result: CheckResult; state: PhoneState; heard: boolean }[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < ops.length; i++) {
      this.recent.delete(ids[i]!); // remembered again below only as written
      const k = known.get(ids[i]!);
      const { now, lockout } = ops[i]!.input;
      if (!k?.phone) continue;
      const { v, phone: stored } = k;
      const key = `${v.appId}|${v.to}`;
      if (v.status !== 'pending' || v.expiresAt <= now || v.attempts >= v.maxAttempts || seen.has(key)) continue;
      seen.add(key);
      const tried: VerificationRecord = { ...v, attempts: v.attempts + 1, updatedAt: now };
      let result: CheckResult; let state: PhoneState; let type: EventType | null = null;
      if (ops[i]!.judge(tried)) {
        state = afterVerified(now);
        result = { outcome: 'verified', verification: { ...tried, status: 'verified', verifiedAt: now, codeSealed: null } };
        type = 'verification.verified';
      } else {
        const exhausted = tried.attempts >= v.maxAttempts;
        state = afterWrongCode(currentPhoneState(stored, { lockout }, now), { lockout }, now, exhausted);
        result = { outcome: 'wrong', verification: exhausted ? { ...tried, status: 'failed', codeSealed: null } : tried };
        if (exhausted) type = 'verification.failed';
      }
      const after = result.verification;
      vers.push({ id: v.id, attempts: v.attempts, updated_at: v.updatedAt, now, n_attempts: after.attempts, status: after.status, verified_at: after.verifiedAt });
      phones.push({
        vid: v.id, a: v.appId, t: v.to, sends: stored.sends, failures: stored.failures, w: stored.windowStartedAt, l: stored.lastSendAt, lu: stored.lockedUntil, lr: stored.lockReason,
        n_sends: state.sends, n_failures: state.failures, n_w: state.windowStartedAt, n_l: state.lastSendAt, n_lu: state.lockedUntil, n_lr: state.lockReason,
        del: result.outcome === 'verified',
      });
      const heard = type ? await this.eventRows(events, deliveries, type, after, now) : false;
      judged.push({ i, result, state, heard });
    }
    if (judged.length === 0) return out;
    // Locked in this order: by (app, phone) in byte order, like every statement that locks phones (COLLATE "C").
    (phones as { a: string; t: string }[]).sort((x, y) => cmp(x.a, y.a) || cmp(x.t, y.t));
    const written = new Set((await this.read('checkApply', [JSON.stringify(vers), JSON.stringify(phones), judged.map((j) => ids[j.i]!),
      JSON.stringify(events), JSON.stringify(deliveries)])).map((r) => r.id as string));
    let emitted = false;
    for (const { i, result, state, heard } of judged) {
      if (!written.has(ids[i]!)) continue;
      out[i] = result;
      emitted ||= heard;
      if (result.verification.status === 'pending') this.remember(result.verification, state);
    }
    if (emitted) this.afterCommit({ emitted: true, queued: false });
    return out;
  }

  private async runCheckGroup(ops: CheckOp[]): Promise<void> {
    const results = await this.unlocked(ops, () => this.applyChecksOptimistic(ops));
    if (!results) return;
    // Those that took no try (or whose group failed) are answered alone.
    await Promise.all(ops.map((op, i) => {
      const r = results[i];
      if (r) { op.resolve(r); return undefined; }
      return this.checkOne(op.input, op.judge).then(op.resolve, op.reject);
    }));
  }

  async resendVerification(
    input: { appId: string; id: string; now: number },
    decide: (v: VerificationRecord, phone: PhoneState | undefined) => ResendDecision,
  ): Promise<VerificationRecord | null> {
    const { appId, id } = input;
    this.recent.delete(id);
    const to = (await this.read('verTo', [id, appId]))[0]?.to_addr as string | undefined;
    if (to === undefined) return null;
    const out = await this.tx(async (t): Promise<VerificationRecord | { error: OtpdError }> => {
      const ph = (await this.q(t.c, 'phoneLock', [appId, to])).rows[0]!;
      const v = toVerification((await this.q(t.c, 'verGetForUpdate', [id, appId])).rows[0]!);
      const stored = ph.fresh ? undefined : toPhoneState(ph);
      const d = decide(v, phoneAsOf(stored, input.now));
      if (!d.ok) {
        if (!d.phone) throw d.error;
        await this.putPhone(t, appId, v.to, phoneToWrite(d.phone, stored));
        return { error: d.error };
      }
      const n = d.verification;
      await this.q(t.c, 'verResent', [id, n.channel, n.sends, n.resendAvailableAt, n.parts, n.cost, n.updatedAt]);
      await this.q(t.c, 'outInsert', [JSON.stringify([PgStore.outboxRow(d.message)])]);
      await this.putPhone(t, appId, v.to, phoneToWrite(d.phone, stored));
      if (d.message.status === 'queued') t.queued = true;
      return n;
    });
    if ('error' in out) throw out.error;
    return out;
  }

  async cancelVerification(appId: string, id: string, now: number): Promise<VerificationRecord | null> {
    this.recent.delete(id);
    return this.tx(async (t) => {
      const changed = (await this.q(t.c, 'verCancel', [id, appId, now])).rows[0];
      if (changed) {
        const v = toVerification(changed);
        await this.emitVerification(t, v.status === 'expired' ? 'verification.expired' : 'verification.canceled', v, now);
        return v;
      }
      const r = (await this.q(t.c, 'verGet', [id, appId])).rows[0];
      return r ? toVerification(r) : null;
    });
  }

  async getVerification(appId: string, id: string): Promise<VerificationRecord | null> {
    const r = (await this.read('verGet', [id, appId]))[0];
    return r ? toVerification(r) : null;
  }

  async listVerifications(appId: string, q: ListQuery, now: number): Promise<VerificationRecord[]> {
    const values: unknown[] = [appId];
    const where = ['app_id = $1'];
    const add = (cond: string, ...vs: unknown[]) => {
      let s = cond;
      for (const v of vs) { values.push(v); s = s.replace('?', `$${values.length}`); }
      where.push(s);
    };
    if (q.to !== undefined) add('to_addr = ?', q.to);
    if (q.before !== undefined) add('id < ?', q.before);
    if (q.status === 'expired') add(`(status = 'expired' OR (status = 'pending' AND expires_at <= ?))`, now);
    else if (q.status === 'pending') add(`status = 'pending' AND expires_at > ?`, now);
    else if (q.status !== undefined) add('status = ?', q.status);
    values.push(q.limit);
    return (await this.adhoc(`SELECT * FROM verifications WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${values.length}`, values)).map(toVerification);
  }

  async expireDue(now: number, limit: number): Promise<number> {
    if ((await this.read('verExpireAny', [now])).length === 0) return 0; // a plain read first: usually nothing is due
    return this.tx(async (t) => {
      const rows = (await this.q(t.c, 'verExpireDue', [now, limit])).rows;
      for (const r of rows) await this.emitVerification(t, 'verification.expired', toVerification(r), now);
      return rows.length;
    });
  }

  // ---- delivery ------------------------------------------------------------------------------------------------

  /**
   * No transaction: the claim is one statement (rows leased to this worker when it returns), then the attempts
   * about to be made are recorded by another, before any provider is called. A crash between the two leaves leased
   * messages with no attempt started: when the lease runs out they are claimed again and sent (nobody called a
   * provider for them). Route changes are written before the attempts, for the same reason.
   */
  async claimMessages(now: number, limit: number, leaseMs: number, choose: ChooseProvider): Promise<ClaimedMessage[]> {
    return this.withClient(async (c) => {
      const rows = (await this.q(c, 'outClaim', [now, now + leaseMs, limit])).rows;
      if (rows.length === 0) return [];
      const attempts: { id: string; message_id: string; app_id: string; provider: string; started_at: number }[] = [];
      const routes: { id: string; route_index: number; provider: string }[] = [];
      const out: ClaimedMessage[] = [];
      for (const r of rows) {
        // Only a row whose lease ran out can have an unfinished attempt (completing a message finishes its attempt).
        const last = r.expired ? (await this.q(c, 'attLast', [r.id])).rows[0] : undefined;
        const v = r.v_id === null ? undefined : {
          code_sealed: r.v_code_sealed, status: r.v_status, expires_at: r.v_expires_at, created_at: r.v_created_at, channels: r.v_channels,
          channel: r.v_channel, step_timeout: r.v_step_timeout, callback_url: r.v_callback_url,
        };
        const m = toClaimed(r, v, last);
        if (m.crashedAttempt || m.verificationStatus !== 'pending' || !m.codeSealed) { out.push(m); continue; }
        const ch = choose(m);
        if (!ch) { out.push(m); continue; }
        attempts.push({ id: ch.attemptId, message_id: m.id, app_id: m.appId, provider: ch.provider, started_at: now });
        if (ch.routeIndex !== m.routeIndex) routes.push({ id: m.id, route_index: ch.routeIndex, provider: ch.provider });
        out.push({ ...m, routeIndex: ch.routeIndex, provider: ch.provider, attempt: { id: ch.attemptId, provider: ch.provider } });
      }
      if (routes.length) await this.q(c, 'outRoute', [JSON.stringify(routes), routes.map((r) => r.id)]);
      if (attempts.length) await this.q(c, 'attInsert', [JSON.stringify(attempts)]);
      return out;
    });
  }

  /** Whether recording `o` emits an event someone receives (a webhook endpoint or the verification's callback URL). */
  private async heard(o: MessageOutcome): Promise<boolean> {
    if (o.status !== 'sent' && o.status !== 'failed') return false;
    if (o.callbackUrl !== null) return true; // a callback URL, or not known
    const type = o.status === 'sent' ? 'message.sent' : 'message.failed';
    return (await this.endpointsOf(this.pool, o.appId)).some(takes(type));
  }

  /**
   * Outcomes and their attempts in one statement. It runs alone (its own commit, no BEGIN/COMMIT round trips) when
   * nothing else has to commit with it: no workflow step to advance and no event anyone receives. Otherwise the
   * events and the next steps are written in the same transaction.
   */
  async completeMessages(outcomes: MessageOutcome[], now: number): Promise<void> {
    if (outcomes.length === 0) return;
    const finished = outcomes.filter((o) => o.attempt).map((o) => {
      const a = o.attempt!;
      return { id: a.id, outcome: a.outcome, http_status: a.httpStatus ?? null, error_code: a.errorCode ?? null, error: a.error ?? null, provider_message_id: a.providerMessageId ?? null, finished_at: a.finishedAt };
    });
    const values = [JSON.stringify(finished), JSON.stringify(outcomes.map((o) => ({
      id: o.id, status: o.status, available_at: o.availableAt ?? null, route_index: o.routeIndex ?? null, provider_attempts: o.providerAttempts ?? null,
      provider: o.provider ?? null, provider_message_id: o.providerMessageId ?? null, error_code: o.errorCode ?? null, error: o.error ?? null,
      price: o.price ?? null, price_currency: o.priceCurrency ?? null, sent_at: o.sentAt ?? null, failed_at: o.failedAt ?? null,
      fallback_at: o.fallbackAt ?? null, outcome_unknown: !!o.outcomeUnknown,
    }))), finished.map((a) => a.id), outcomes.map((o) => o.id)];
    const alone = outcomes.every((o) => !o.advance) && !(await Promise.all(outcomes.map((o) => this.heard(o)))).some(Boolean);
    if (alone) {
      const changed = new Set((await this.read('outDone', values)).map((r) => r.id as string));
      if (this.noteOutcomes(outcomes, changed)) this.signal('outbox');
      return;
    }
    await this.tx(async (t) => {
      const changed = new Map((await this.q(t.c, 'outDone', values)).rows.map((r) => [r.id as string, (r.callback_url as string | null) ?? null]));
      if (this.noteOutcomes(outcomes, changed)) t.queued = true;
      for (const o of outcomes) {
        if (!changed.has(o.id)) continue;
        if (o.status === 'sent' || o.status === 'failed') {
          await this.emit(t, o.appId, o.status === 'sent' ? 'message.sent' : 'message.failed',
            async () => messageEventData(toOutbox((await this.q(t.c, 'outGet', [o.id])).rows[0]!)), { verificationId: o.verificationId, messageId: o.id, callbackUrl: changed.get(o.id) ?? null }, now);
        }
        if (o.advance) await this.advance(t, null, o.verificationId, o.step, now);
      }
    });
  }

  /** For the recorded outcomes (`changed`): keeps the earliest fallback known; true if one queued its message again. */
  private noteOutcomes(outcomes: MessageOutcome[], changed: { has(id: string): boolean }): boolean {
    let queued = false;
    for (const o of outcomes) {
      if (!changed.has(o.id)) continue;
      if (o.fallbackAt !== undefined && o.fallbackAt !== null && o.fallbackAt < this.firstFallback.at) this.firstFallback.at = o.fallbackAt;
      if (o.status === 'queued') queued = true;
    }
    return queued;
  }

  private async advance(t: TxCtx, appId: string | null, verificationId: string, fromStep: number, now: number): Promise<number | null> {
    const r = (await this.q(t.c, 'stepAdvance', [verificationId, appId, fromStep, now])).rows[0];
    if (!r) return null;
    await this.q(t.c, 'stepClearFallback', [verificationId, fromStep]);
    await this.q(t.c, 'stepQueue', [verificationId, r.step, now]);
    t.queued = true;
    return num(r.step);
  }

  async advanceStep(appId: string, verificationId: string, fromStep: number, now: number): Promise<number | null> {
    return this.tx((t) => this.advance(t, appId, verificationId, fromStep, now));
  }

  /**
   * Fallbacks due. The earliest pending fallback time is remembered for a second (fallbacks this node schedules
   * lower it at once), so a busy worker does not ask the database before each drain.
   */
  async fireFallbacks(now: number, limit: number): Promise<number> {
    if (now < this.firstFallback.at && Date.now() < this.firstFallback.until) return 0;
    const first = numOrNull((await this.read('fallbackFirst'))[0]?.fallback_at);
    this.firstFallback = { at: first ?? Infinity, until: Date.now() + 1_000 };
    if (first === null || first > now) return 0;
    return this.tx(async (t) => {
      let n = 0;
      for (const r of (await this.q(t.c, 'fallbackDue', [now, limit])).rows) {
        if ((await this.advance(t, null, r.verification_id as string, num(r.step), now)) !== null) n++;
      }
      return n;
    });
  }

  async nextDueAt(): Promise<number | null> {
    return numOrNull((await this.read('nextDue'))[0]?.t);
  }

  async applyReceipt(r: Receipt): Promise<ReceiptResult> {
    return this.tx(async (t): Promise<ReceiptResult> => {
      let id = r.messageId;
      if (!id && r.providerMessageId) id = (await this.q(t.c, 'outByProvider', [r.provider, r.providerMessageId])).rows[0]?.id as string | undefined;
      const m = id ? (await this.q(t.c, 'outByIdForUpdate', [id])).rows[0] : undefined;
      if (!m || m.provider !== r.provider) return { result: 'unknown' };
      if (r.providerMessageId && m.provider_message_id && m.provider_message_id !== r.providerMessageId) return { result: 'mismatch' };
      const final = ['delivered', 'undelivered', 'failed'];
      if (r.status === 'sent' || final.includes(m.status as string) || !['sending', 'sent'].includes(m.status as string)) {
        if (r.providerMessageId && !m.provider_message_id) await this.q(t.c, 'outSetProviderId', [r.providerMessageId, m.id]);
        return { result: 'ignored' };
      }
      await this.q(t.c, 'outReceipt', [m.id, r.status, r.providerMessageId ?? null, r.at, r.errorCode ?? null]);
      await this.emit(t, m.app_id as string, `message.${r.status}` as EventType, async () => messageEventData(toOutbox((await this.q(t.c, 'outGet', [m.id])).rows[0]!)),
        { verificationId: m.verification_id as string, messageId: m.id as string }, r.at);
      let advanced = false;
      if (r.status !== 'delivered') advanced = (await this.advance(t, null, m.verification_id as string, num(m.step), r.at)) !== null;
      return { result: 'applied', advanced, appId: m.app_id as string, to: m.to_addr as string };
    });
  }

  async recordRejectedCallback(source: string, reason: string, at: number): Promise<void> {
    await this.read('cbInsert', [newId('cb', at), source, reason.slice(0, 200), at]);
  }

  async rejectedCallbackCounts(): Promise<{ source: string; reason: string; count: number }[]> {
    return (await this.read('cbCounts')).map((r) => ({ source: r.source as string, reason: r.reason as string, count: num(r.count) }));
  }

  async listAttempts(messageId: string): Promise<AttemptRecord[]> {
    return (await this.read('attList', [messageId])).map(toAttempt);
  }

  async listMessages(appId: string, verificationId: string): Promise<OutboxRecord[]> {
    return (await this.read('outList', [appId, verificationId])).map(toOutbox);
  }

  // ---- housekeeping ------------------------------------------------------------------------------------------

  async purgeIdempotency(now: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = (await this.pool.query({ name: 'idemPurge', text: SQL.idemPurge, values: [now, 1000] }).catch((e: unknown) => { throw this.unavailable(e); })).rowCount ?? 0;
      total += n;
      if (n < 1000) return total;
    }
  }

  /**
   * One batch of retention: rows created before `before` (by their time-ordered ids, so each batch is a short
   * primary-key range scan whatever the table's size), at most `limit` per table. One node at a time: the others
   * skip the round while the advisory lock is held.
   */
  async purgeBefore(before: number, limit: number): Promise<PurgeCounts> {
    return this.tx(async (t) => {
      const got = (await t.c.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [RETENTION_LOCK])).rows[0]!.ok;
      const counts: PurgeCounts = {};
      if (!got) return counts;
      const time = encodeTime(before, 10);
      for (const [table, prefix] of RETAINED) {
        const res = await t.c.query(`DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE id < $1 ORDER BY id LIMIT $2)`, [`${prefix}_${time}`, limit]);
        counts[table] = res.rowCount ?? 0;
      }
      return counts;
    });
  }
}

type StartOutcome = { ok: true; value: StartResult } | { ok: false; error: unknown };
type StartInput = { appId: string; to: string; now: number; lockout: number; idempotency?: IdempotencyInput | undefined };
type CheckInput = { appId: string; target: CheckTarget; now: number; lockout: number };
interface StartOp {
  input: StartInput;
  decide: (phone: PhoneState | undefined) => StartDecision;
  resolve: (r: StartResult) => void;
  reject: (e: unknown) => void;
}
interface CheckOp {
  input: CheckInput;
  judge: (v: VerificationRecord) => boolean;
  resolve: (r: CheckResult | null) => void;
  reject: (e: unknown) => void;
}

/** Most requests one group carries. */
const MAX_GROUP = 64;
/** Pending verifications a node remembers for the checks it may get (see `PgStore.recent`): ~1 KiB each. */
const RECENT_MAX = 10_000;

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const hex = (b: Buffer | null): string | null => (b === null ? null : `\\x${b.toString('hex')}`);

/** A phone_states row as JSON (jsonb_populate_recordset). */
function phoneRow(appId: string, to: string, p: PhoneState): Record<string, unknown> {
  return {
    app_id: appId, to_addr: to, sends: p.sends, failures: p.failures, window_started_at: p.windowStartedAt, last_send_at: p.lastSendAt,
    locked_until: p.lockedUntil, lock_reason: p.lockReason,
  };
}

/** A verifications row as JSON (binary columns in bytea's hex input form). */
function verificationRow(v: VerificationRecord): Record<string, unknown> {
  return {
    id: v.id, app_id: v.appId, to_addr: v.to, country_iso: v.countryIso, channel: v.channel, locale: v.locale, status: v.status,
    code_type: v.codeType, code_length: v.codeLength, code_hash: hex(v.codeHash), code_sealed: hex(v.codeSealed), attempts: v.attempts,
    max_attempts: v.maxAttempts, sends: v.sends, max_sends: v.maxSends, resend_available_at: v.resendAvailableAt, expires_at: v.expiresAt,
    created_at: v.createdAt, updated_at: v.updatedAt, verified_at: v.verifiedAt, parts: v.parts, cost: v.cost, metadata: v.metadata,
    channels: v.channels, step: v.step, step_timeout: v.stepTimeout, callback_url: v.callbackUrl ?? null,
  };
}

/** Thrown inside a transaction to roll it back and answer "not found". */
class NoRow extends Error {}

/** Whether a webhook endpoint takes events of `type` (an empty list takes all). */
const takes = (type: EventType) => (e: { events: string[] }): boolean => e.events.length === 0 || e.events.includes(type);

function partition<T>(xs: T[], yes: (x: T) => boolean): [T[], T[]] {
  const a: T[] = []; const b: T[] = [];
  for (const x of xs) (yes(x) ? a : b).push(x);
  return [a, b];
}
