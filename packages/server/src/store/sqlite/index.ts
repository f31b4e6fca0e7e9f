/**
 * The embedded store: SQLite through better-sqlite3, WAL with `synchronous=FULL` (an acknowledged write survives
 * `kill -9` and power loss). better-sqlite3 is synchronous, so each use case runs as one `db.transaction(...)`:
 * nothing else runs on the event loop between its statements, and `BEGIN IMMEDIATE` serialises it against other
 * processes sharing the file.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { OtpdError } from '../../domain/errors.js';
import { afterWrongCode, currentPhoneState, type PhoneState, type VerificationRecord } from '../../domain/verification.js';
import { encodeTime } from 'ulidx';
import { SQLITE_MIGRATIONS } from '../migrations/sqlite.js';
import { phoneAsOf, phoneToWrite } from '../phone-time.js';
import { RETAINED } from '../retention.js';
import type {
  ApiKeyRecord, AppRecord, AttemptRecord, CheckResult, CheckTarget, ChooseProvider, ClaimedMessage, IdempotencyInput, ListQuery,
  AuditEntry, ClaimedDelivery, DeliveryOutcome, DeliveryStatus, MessageOutcome, OAuthClientRecord, SenderRecord, TemplateRecord,
  WebhookDeliveryRecord, WebhookEndpointRecord, OutboxRecord, PurgeCounts, Receipt, ReceiptResult, ResendDecision, StartDecision, StartResult, Store,
} from '../ports.js';
import { newId } from '../../domain/ids.js';
import { messageEventData, verificationEventData, type EventType } from '../../domain/events.js';
import {
  bufOrNull, num, numOrNull, toApp, toAttempt, toAudit, toClient, toDelivery, toEndpoint, toKey, toOutbox, toPhoneState,
  toClaimed, toSender, toTemplate, toVerification, type Row,
} from '../rows.js';

/** Parses `sqlite:./data/otpd.sqlite`, `sqlite:///abs/path`, `sqlite::memory:` into a file name for better-sqlite3. */
export function sqliteFileFromUrl(url: string): string {
  if (!url.startsWith('sqlite:')) throw new Error(`not a sqlite URL: ${url}`);
  let rest = url.slice('sqlite:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2);
  if (rest === '' ) throw new Error('sqlite URL without a file name');
  return rest;
}

/** Most ops one group commit runs, so one turn of the event loop stays short. */
const MAX_GROUP = 256;

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly db: Database.Database;
  private readonly s: ReturnType<SqliteStore['prepare']>;
  /** Transactional work waiting for the next group commit. */
  private queue: { fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private flushScheduled = false;
  private readonly runGroup: (batch: SqliteStore['queue']) => { ok: boolean; value: unknown }[];
  /** Apps' enabled webhook endpoints, cached per app for 5 s (changes made through this store are seen at once). */
  private readonly endpointCache = new Map<string, { list: { id: string; url: string; events: string[] }[]; until: number }>();
  /** Set inside a group when an event with deliveries was written; the listener is called after its commit. */
  private emitted = false;
  onEvents: (() => void) | undefined = undefined;
  /** Migrations this instance applied (when it opened the file, or later). */
  private readonly applied: string[];

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.applied = this.migrateSync();
    this.s = this.prepare();
    // Each op runs in its own savepoint (a nested better-sqlite3 transaction): a throwing op rolls back alone.
    const one = this.db.transaction((fn: () => unknown) => fn());
    this.runGroup = this.db.transaction((batch: SqliteStore['queue']) =>
      batch.map((op) => {
        try {
          return { ok: true, value: one(op.fn) };
        } catch (e) {
          return { ok: false, value: e };
        }
      }),
    ).immediate;
  }

  private migrateSync(): string[] {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT');
    const done = new Set((this.db.prepare('SELECT name FROM schema_migrations').all() as { name: string }[]).map((r) => r.name));
    const applied: string[] = [];
    for (const m of SQLITE_MIGRATIONS) {
      if (done.has(m.name)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)').run(m.name, Date.now());
      }).immediate();
      applied.push(m.name);
    }
    return applied;
  }

  private prepare() {
    const d = this.db;
    return {
      idemGet: d.prepare('SELECT request_hash, response FROM idempotency_keys WHERE app_id = ? AND key = ?'),
      idemPut: d.prepare('INSERT INTO idempotency_keys (app_id, key, request_hash, response, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)'),
      idemPurge: d.prepare('DELETE FROM idempotency_keys WHERE expires_at <= ?'),
      phoneGet: d.prepare('SELECT * FROM phone_states WHERE app_id = ? AND to_addr = ?'),
      phoneDel: d.prepare('DELETE FROM phone_states WHERE app_id = ? AND to_addr = ?'),
      phonePut: d.prepare(`INSERT INTO phone_states (app_id, to_addr, sends, failures, window_started_at, last_send_at, locked_until, lock_reason)
        VALUES (@app_id, @to_addr, @sends, @failures, @window_started_at, @last_send_at, @locked_until, @lock_reason)
        ON CONFLICT (app_id, to_addr) DO UPDATE SET sends = excluded.sends, failures = excluded.failures,
          window_started_at = excluded.window_started_at, last_send_at = excluded.last_send_at,
          locked_until = excluded.locked_until, lock_reason = excluded.lock_reason`),
      closePending: d.prepare(`UPDATE verifications SET status = CASE WHEN expires_at <= @now THEN 'expired' ELSE 'canceled' END,
          code_sealed = NULL, updated_at = @now
        WHERE app_id = @app_id AND to_addr = @to_addr AND status = 'pending' RETURNING *`),
      verInsert: d.prepare(`INSERT INTO verifications (id, app_id, to_addr, country_iso, channel, locale, status, code_type, code_length,
          code_hash, code_sealed, attempts, max_attempts, sends, max_sends, resend_available_at, expires_at, created_at, updated_at,
          verified_at, parts, cost, metadata, channels, step, step_timeout, callback_url)
        VALUES (@id, @app_id, @to_addr, @country_iso, @channel, @locale, @status, @code_type, @code_length,
          @code_hash, @code_sealed, @attempts, @max_attempts, @sends, @max_sends, @resend_available_at, @expires_at, @created_at, @updated_at,
          @verified_at, @parts, @cost, @metadata, @channels, @step, @step_timeout, @callback_url)`),
      verGet: d.prepare('SELECT * FROM verifications WHERE id = ? AND app_id = ?'),
      // The phone's pending verification, else its newest (id NULL: none): see the PostgreSQL statement.
      verNewestFor: d.prepare(`SELECT coalesce((SELECT id FROM verifications WHERE app_id = @app AND to_addr = @to AND status = 'pending' LIMIT 1),
        (SELECT id FROM verifications WHERE app_id = @app AND to_addr = @to ORDER BY id DESC LIMIT 1)) AS id`),
      // The try is counted here, atomically and only while the code can still be tried.
      verBump: d.prepare(`UPDATE verifications SET attempts = attempts + 1, updated_at = ?
        WHERE id = ? AND app_id = ? AND status = 'pending' AND expires_at > ? AND attempts < max_attempts
        RETURNING *`),
      verSettle: d.prepare(`UPDATE verifications SET status = @status, verified_at = @verified_at, code_sealed = NULL, updated_at = @now
        WHERE id = @id AND status = 'pending'`),
      verExpire: d.prepare(`UPDATE verifications SET status = 'expired', code_sealed = NULL, updated_at = ?
        WHERE id = ? AND status = 'pending' AND expires_at <= ?`),
      verCancel: d.prepare(`UPDATE verifications SET status = CASE WHEN expires_at <= @now THEN 'expired' ELSE 'canceled' END,
          code_sealed = NULL, updated_at = @now
        WHERE id = @id AND app_id = @app_id AND status = 'pending' RETURNING *`),
      verResent: d.prepare(`UPDATE verifications SET channel = @channel, sends = @sends, resend_available_at = @resend_available_at,
          parts = @parts, cost = @cost, updated_at = @updated_at WHERE id = @id AND status = 'pending'`),
      outInsert: d.prepare(`INSERT INTO outbox (id, app_id, verification_id, channel, to_addr, locale, body, status, attempts, available_at,
          created_at, sent_at, provider, error, parts, cost, step, route, route_index, sender)
        VALUES (@id, @app_id, @verification_id, @channel, @to_addr, @locale, @body, @status, @attempts, @available_at,
          @created_at, @sent_at, @provider, @error, @parts, @cost, @step, @route, @route_index, @sender)`),
      // Two claims: rows due in 'queued' (the usual case), and rows whose lease ran out in 'sending' (a worker died;
      // only those can have an unfinished attempt, since completing a message finishes its attempt in the same
      // transaction).
      outClaimQueued: d.prepare(`UPDATE outbox SET status = 'sending', attempts = attempts + 1, available_at = @lease
        WHERE id IN (SELECT id FROM outbox WHERE status = 'queued' AND available_at <= @now ORDER BY available_at LIMIT @limit)
        RETURNING *`),
      outClaimExpired: d.prepare(`UPDATE outbox SET attempts = attempts + 1, available_at = @lease
        WHERE id IN (SELECT id FROM outbox WHERE status = 'sending' AND available_at <= @now ORDER BY available_at LIMIT @limit)
        RETURNING *`),
      outCodeOf: d.prepare('SELECT code_sealed, status, expires_at, created_at, channels, channel, step, step_timeout, callback_url FROM verifications WHERE id = ?'),
      outDone: d.prepare(`UPDATE outbox SET status = @status, available_at = coalesce(@available_at, available_at),
          route_index = coalesce(@route_index, route_index), provider_attempts = coalesce(@provider_attempts, provider_attempts),
          provider = coalesce(@provider, provider), provider_message_id = coalesce(@provider_message_id, provider_message_id),
          error_code = @error_code, error = @error, price = coalesce(@price, price), price_currency = coalesce(@price_currency, price_currency),
          sent_at = coalesce(@sent_at, sent_at), failed_at = coalesce(@failed_at, failed_at), fallback_at = @fallback_at,
          outcome_unknown = @outcome_unknown
        WHERE id = @id AND status = 'sending'`),
      outList: d.prepare('SELECT * FROM outbox WHERE app_id = ? AND verification_id = ? ORDER BY step, id'),
      outGet: d.prepare('SELECT * FROM outbox WHERE id = ?'),
      outRoute: d.prepare('UPDATE outbox SET route_index = ?, provider = ? WHERE id = ?'),
      attLast: d.prepare('SELECT id, provider, outcome FROM message_attempts WHERE message_id = ? ORDER BY id DESC LIMIT 1'),
      attInsert: d.prepare(`INSERT INTO message_attempts (id, message_id, app_id, provider, outcome, started_at) VALUES (?, ?, ?, ?, 'started', ?)`),
      attDone: d.prepare(`UPDATE message_attempts SET outcome = @outcome, http_status = @http_status, error_code = @error_code, error = @error,
          provider_message_id = @provider_message_id, finished_at = @finished_at WHERE id = @id AND outcome = 'started'`),
      attList: d.prepare('SELECT * FROM message_attempts WHERE message_id = ? ORDER BY id'),
      // Workflow: the step after `from` becomes due, once (guarded on the verification's current step).
      stepAdvance: d.prepare(`UPDATE verifications SET step = step + 1, updated_at = @now,
          channel = (SELECT channel FROM outbox WHERE verification_id = @id AND step = @from + 1 LIMIT 1),
          cost = round(cost + coalesce((SELECT cost FROM outbox WHERE verification_id = @id AND step = @from + 1 LIMIT 1), 0), 6)
        WHERE id = @id AND app_id = coalesce(@app_id, app_id) AND status = 'pending' AND expires_at > @now AND step = @from
          AND EXISTS (SELECT 1 FROM outbox WHERE verification_id = @id AND step = @from + 1 AND status = 'waiting')
        RETURNING step`),
      stepQueue: d.prepare(`UPDATE outbox SET status = 'queued', available_at = @now WHERE verification_id = @id AND step = @step AND status = 'waiting'`),
      stepClearFallback: d.prepare('UPDATE outbox SET fallback_at = NULL WHERE verification_id = ? AND step = ?'),
      fallbackDue: d.prepare('SELECT id, app_id, verification_id, step FROM outbox WHERE fallback_at <= ? ORDER BY fallback_at LIMIT ?'),
      fallbackClear: d.prepare('UPDATE outbox SET fallback_at = NULL WHERE id = ?'),
      fallbackAny: d.prepare('SELECT 1 FROM outbox WHERE fallback_at <= ? LIMIT 1'),
      nextDue: d.prepare(`SELECT min(t) AS t FROM (SELECT min(available_at) AS t FROM outbox WHERE status = 'queued'
          UNION ALL SELECT min(available_at) FROM outbox WHERE status = 'sending'
          UNION ALL SELECT min(fallback_at) FROM outbox WHERE fallback_at IS NOT NULL)`),
      appInsert: d.prepare('INSERT INTO apps (id, name, enabled, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)'),
      appGet: d.prepare('SELECT * FROM apps WHERE id = ?'),
      appList: d.prepare('SELECT * FROM apps ORDER BY id'),
      keyInsert: d.prepare('INSERT INTO api_keys (id, app_id, name, prefix, hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      keyFind: d.prepare('SELECT * FROM api_keys WHERE hash = ?'),
      keyList: d.prepare('SELECT * FROM api_keys WHERE app_id = ? ORDER BY id'),
      keyGet: d.prepare('SELECT * FROM api_keys WHERE id = ? AND app_id = ?'),
      keyRevoke: d.prepare('UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND app_id = ? RETURNING *'),
      keyTouch: d.prepare('UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?'),
      appUpdate: d.prepare('UPDATE apps SET name = @name, enabled = @enabled, settings = @settings, updated_at = @updated_at WHERE id = @id'),
      appDelete: d.prepare('DELETE FROM apps WHERE id = ?'),
      verExpireDue: d.prepare(`UPDATE verifications SET status = 'expired', code_sealed = NULL, updated_at = @now
        WHERE id IN (SELECT id FROM verifications WHERE status = 'pending' AND expires_at <= @now ORDER BY expires_at LIMIT @limit) RETURNING *`),
      verExpireAny: d.prepare(`SELECT 1 FROM verifications WHERE status = 'pending' AND expires_at <= ? LIMIT 1`),
      appSetCallbackSecret: d.prepare('UPDATE apps SET callback_secret_sealed = ? WHERE id = ?'),
      appCallbackSecret: d.prepare('SELECT callback_secret_sealed FROM apps WHERE id = ?'),
      verCallbackUrl: d.prepare('SELECT callback_url FROM verifications WHERE id = ?'),
      whkActive: d.prepare('SELECT id, url, events FROM webhook_endpoints WHERE app_id = ? AND enabled = 1'),
      whkInsert: d.prepare(`INSERT INTO webhook_endpoints (id, app_id, url, events, secret_sealed, description, enabled, disabled_reason, created_at, updated_at)
        VALUES (@id, @app_id, @url, @events, @secret_sealed, @description, @enabled, @disabled_reason, @created_at, @updated_at)`),
      whkList: d.prepare('SELECT * FROM webhook_endpoints WHERE app_id = ? ORDER BY id'),
      whkGet: d.prepare('SELECT * FROM webhook_endpoints WHERE id = ? AND app_id = ?'),
      whkUpdate: d.prepare(`UPDATE webhook_endpoints SET url = @url, events = @events, description = @description, enabled = @enabled,
          disabled_reason = @disabled_reason, updated_at = @updated_at WHERE id = @id AND app_id = @app_id`),
      whkDelete: d.prepare('DELETE FROM webhook_endpoints WHERE id = ? AND app_id = ?'),
      whkDisable: d.prepare(`UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?`),
      whkSecret: d.prepare('SELECT secret_sealed, enabled FROM webhook_endpoints WHERE id = ?'),
      evtInsert: d.prepare('INSERT INTO events (id, app_id, type, verification_id, message_id, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      evtGet: d.prepare('SELECT type, data, created_at FROM events WHERE id = ?'),
      whdInsert: d.prepare(`INSERT INTO webhook_deliveries (id, app_id, endpoint_id, url, event_id, status, attempts, next_attempt_at, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)`),
      whdClaimPending: d.prepare(`UPDATE webhook_deliveries SET status = 'sending', next_attempt_at = @lease, updated_at = @now
        WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= @now ORDER BY next_attempt_at LIMIT @limit) RETURNING *`),
      whdClaimExpired: d.prepare(`UPDATE webhook_deliveries SET next_attempt_at = @lease, updated_at = @now
        WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'sending' AND next_attempt_at <= @now ORDER BY next_attempt_at LIMIT @limit) RETURNING *`),
      whdDone: d.prepare(`UPDATE webhook_deliveries SET status = @status, attempts = attempts + 1, next_attempt_at = coalesce(@next, next_attempt_at),
          last_status_code = @code, last_error = @error, updated_at = @at WHERE id = @id AND status = 'sending'`),
      whdCancel: d.prepare(`UPDATE webhook_deliveries SET status = 'canceled', updated_at = ? WHERE id = ? AND status IN ('pending','sending')`),
      whdCancelEndpoint: d.prepare(`UPDATE webhook_deliveries SET status = 'canceled', updated_at = ? WHERE endpoint_id = ? AND status = 'pending'`),
      whdGet: d.prepare('SELECT * FROM webhook_deliveries WHERE id = ? AND app_id = ?'),
      whdReplay: d.prepare(`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE id = ? AND app_id = ? RETURNING *`),
      whaInsert: d.prepare('INSERT INTO webhook_attempts (id, delivery_id, status_code, error, duration_ms, at) VALUES (?, ?, ?, ?, ?, ?)'),
      whaList: d.prepare('SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY id'),
      whdNextDue: d.prepare(`SELECT min(t) AS t FROM (SELECT min(next_attempt_at) AS t FROM webhook_deliveries WHERE status = 'pending'
          UNION ALL SELECT min(next_attempt_at) FROM webhook_deliveries WHERE status = 'sending')`),
      sndList: d.prepare('SELECT * FROM senders WHERE app_id = ? ORDER BY channel, id'),
      sndInsert: d.prepare('INSERT INTO senders (id, app_id, channel, country, value, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
      sndGet: d.prepare('SELECT * FROM senders WHERE id = ? AND app_id = ?'),
      sndDelete: d.prepare('DELETE FROM senders WHERE id = ? AND app_id = ?'),
      tplList: d.prepare('SELECT * FROM templates WHERE app_id = ? ORDER BY channel, id'),
      tplGet: d.prepare('SELECT * FROM templates WHERE id = ? AND app_id = ?'),
      tplPut: d.prepare(`INSERT INTO templates (id, app_id, channel, name, locale, country, prefix, text, subject, html, created_at, updated_at)
        VALUES (@id, @app_id, @channel, @name, @locale, @country, @prefix, @text, @subject, @html, @created_at, @updated_at)
        ON CONFLICT (id) DO UPDATE SET channel = excluded.channel, name = excluded.name, locale = excluded.locale, country = excluded.country,
          prefix = excluded.prefix, text = excluded.text, subject = excluded.subject, html = excluded.html, updated_at = excluded.updated_at`),
      tplDelete: d.prepare('DELETE FROM templates WHERE id = ? AND app_id = ?'),
      cliInsert: d.prepare(`INSERT INTO oauth_clients (id, app_id, name, secret_hash, previous_secret_hash, previous_valid_until, created_at, rotated_at, revoked_at, last_used_at)
        VALUES (@id, @app_id, @name, @secret_hash, @previous_secret_hash, @previous_valid_until, @created_at, @rotated_at, @revoked_at, @last_used_at)`),
      cliGet: d.prepare('SELECT * FROM oauth_clients WHERE id = ?'),
      cliList: d.prepare('SELECT * FROM oauth_clients WHERE app_id = ? ORDER BY id'),
      cliUpdate: d.prepare(`UPDATE oauth_clients SET secret_hash = @secret_hash, previous_secret_hash = @previous_secret_hash,
          previous_valid_until = @previous_valid_until, rotated_at = @rotated_at, revoked_at = @revoked_at WHERE id = @id AND app_id = @app_id`),
      cliTouch: d.prepare('UPDATE oauth_clients SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?'),
      auditInsert: d.prepare(`INSERT INTO audit_log (id, actor, action, target_type, target_id, app_id, before, after, at)
        VALUES (@id, @actor, @action, @target_type, @target_id, @app_id, @before, @after, @at)`),
      ping: d.prepare('SELECT 1'),
      purge: Object.fromEntries(RETAINED.map(([table]) => [table, d.prepare(`DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE id < ? ORDER BY id LIMIT ?)`)])),
    };
  }

  /**
   * Group commit. Transactional work arriving in the same event-loop turn is queued and run in ONE
   * `BEGIN IMMEDIATE … COMMIT` on the next turn, each op in its own savepoint, and every caller is answered after
   * that COMMIT: an acknowledged write is as durable as with one commit per request, but with
   * `synchronous=FULL` a busy server pays one fsync for many requests instead of one each. The ops are
   * synchronous and run one after another, so they see each other's writes exactly as separate transactions would.
   */
  private tx<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushGroup());
      }
    });
  }

  private flushGroup(): void {
    this.flushScheduled = false;
    const batch = this.queue.splice(0, MAX_GROUP);
    if (this.queue.length > 0) {
      this.flushScheduled = true;
      setImmediate(() => this.flushGroup());
    }
    let results: { ok: boolean; value: unknown }[];
    try {
      results = this.runGroup(batch);
    } catch (e) {
      // The COMMIT itself failed (disk full, I/O error, busy past the timeout): nothing of the group was written.
      for (const op of batch) op.reject(e);
      return;
    }
    batch.forEach((op, i) => {
      const r = results[i]!;
      if (r.ok) op.resolve(r.value);
      else op.reject(r.value);
    });
    if (this.emitted) {
      this.emitted = false;
      this.onEvents?.();
    }
  }

  private endpointsOf(appId: string): { id: string; url: string; events: string[] }[] {
    const hit = this.endpointCache.get(appId);
    if (hit && hit.until > Date.now()) return hit.list;
    const list = (this.s.whkActive.all(appId) as Row[]).map((r) => ({ id: r.id as string, url: r.url as string, events: JSON.parse(r.events as string) as string[] }));
    if (this.endpointCache.size > 10_000) this.endpointCache.clear();
    this.endpointCache.set(appId, { list, until: Date.now() + 5_000 });
    return list;
  }

  /**
   * Records an event and one delivery per endpoint that listens to it, inside the caller's transaction. Apps
   * without listeners pay one cached lookup, no write, and the payload is never built.
   */
  private emit(appId: string, type: EventType, data: () => Record<string, unknown>, refs: { verificationId?: string; messageId?: string; callbackUrl?: string | null }, now: number): void {
    const targets = this.endpointsOf(appId).filter((e) => e.events.length === 0 || e.events.includes(type));
    // A per-verification callback URL (seed 001) hears every event of its verification.
    const callback = refs.callbackUrl !== undefined ? refs.callbackUrl
      : refs.verificationId ? ((this.s.verCallbackUrl.get(refs.verificationId) as { callback_url: string | null } | undefined)?.callback_url ?? null) : null;
    if (targets.length === 0 && !callback) return;
    const eventId = newId('evt', now);
    this.s.evtInsert.run(eventId, appId, type, refs.verificationId ?? null, refs.messageId ?? null, JSON.stringify(data()), now);
    for (const t of targets) this.s.whdInsert.run(newId('whd', now), appId, t.id, t.url, eventId, now, now, now);
    if (callback) this.s.whdInsert.run(newId('whd', now), appId, null, callback, eventId, now, now, now);
    this.emitted = true;
  }

  private emitVerification(type: EventType, v: VerificationRecord, now: number): void {
    this.emit(v.appId, type, () => verificationEventData(v), { verificationId: v.id, callbackUrl: v.callbackUrl ?? null }, now);
  }

  /**
   * Query plans of the prepared statements (for tests that guard against full table scans on hot paths).
   * Every parameter is bound to NULL; only the plan is read.
   */
  explainPlans(): { name: string; plan: string }[] {
    const all = Object.entries(this.s).flatMap(([name, v]) =>
      v instanceof Object && !('source' in v) ? Object.entries(v as Record<string, Database.Statement>).map(([k, st]) => [`${name}.${k}`, st] as const) : [[name, v] as const]);
    return all.map(([name, stmt]) => {
      const sql = (stmt as Database.Statement).source;
      const named = [...new Set([...sql.matchAll(/@(\w+)/g)].map((m) => m[1]!))];
      const positional = (sql.match(/\?/g) ?? []).length;
      const explain = this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
      const rows = (named.length ? explain.all(Object.fromEntries(named.map((n) => [n, null]))) : explain.all(...Array(positional).fill(null))) as { detail: string }[];
      return { name, plan: rows.map((r) => r.detail).join(' | ') };
    });
  }

  async migrate(): Promise<string[]> {
    this.applied.push(...this.migrateSync());
    return [...this.applied];
  }

  async ping(): Promise<void> {
    this.s.ping.get();
  }

  async close(): Promise<void> {
    while (this.queue.length > 0) this.flushGroup();
    if (this.db.open) this.db.close();
  }

  private writeAudit(entries: AuditEntry[]): void {
    for (const a of entries) {
      this.s.auditInsert.run({
        id: a.id, actor: a.actor, action: a.action, target_type: a.targetType, target_id: a.targetId, app_id: a.appId,
        before: a.before === null || a.before === undefined ? null : JSON.stringify(a.before),
        after: a.after === null || a.after === undefined ? null : JSON.stringify(a.after), at: a.at,
      });
    }
  }

  async createApp(app: AppRecord, key: ApiKeyRecord, audit: AuditEntry[] = [], callbackSecretSealed?: Buffer): Promise<void> {
    await this.tx(() => {
      this.s.appInsert.run(app.id, app.name, app.enabled ? 1 : 0, JSON.stringify(app.settings), app.createdAt, app.updatedAt);
      if (callbackSecretSealed) this.s.appSetCallbackSecret.run(callbackSecretSealed, app.id);
      this.s.keyInsert.run(key.id, key.appId, key.name, key.prefix, key.hash, key.createdAt, key.expiresAt, key.revokedAt);
      this.writeAudit(audit);
    });
  }

  async updateApp(id: string, change: (before: AppRecord) => { after: AppRecord; audit: AuditEntry[] }): Promise<AppRecord | null> {
    return this.tx(() => {
      const r = this.s.appGet.get(id) as Row | undefined;
      if (!r) return null;
      const { after, audit } = change(toApp(r));
      this.s.appUpdate.run({ id, name: after.name, enabled: after.enabled ? 1 : 0, settings: JSON.stringify(after.settings), updated_at: after.updatedAt });
      this.writeAudit(audit);
      return after;
    });
  }

  async deleteApp(id: string, audit: (before: AppRecord) => AuditEntry[]): Promise<boolean> {
    return this.tx(() => {
      const r = this.s.appGet.get(id) as Row | undefined;
      if (!r) return false;
      this.s.appDelete.run(id); // api_keys go with it (ON DELETE CASCADE)
      this.writeAudit(audit(toApp(r)));
      return true;
    });
  }

  async createKey(key: ApiKeyRecord, audit: AuditEntry[]): Promise<void> {
    await this.tx(() => {
      this.s.keyInsert.run(key.id, key.appId, key.name, key.prefix, key.hash, key.createdAt, key.expiresAt, key.revokedAt);
      this.writeAudit(audit);
    });
  }

  async listKeys(appId: string): Promise<ApiKeyRecord[]> {
    return (this.s.keyList.all(appId) as Row[]).map(toKey);
  }

  async revokeKey(appId: string, keyId: string, now: number, audit: (before: ApiKeyRecord) => AuditEntry[]): Promise<ApiKeyRecord | null> {
    return this.tx(() => {
      const before = this.s.keyGet.get(keyId, appId) as Row | undefined;
      if (!before) return null;
      const after = this.s.keyRevoke.get(now, keyId, appId) as Row;
      if (before.revoked_at === null) this.writeAudit(audit(toKey(before)));
      return toKey(after);
    });
  }

  async touchKeys(uses: { keyId: string; at: number }[]): Promise<void> {
    if (uses.length === 0) return;
    await this.tx(() => { for (const u of uses) this.s.keyTouch.run(u.at, u.keyId); });
  }

  async setCallbackSecret(appId: string, sealed: Buffer, audit: AuditEntry[]): Promise<boolean> {
    return this.tx(() => {
      const changed = this.s.appSetCallbackSecret.run(sealed, appId).changes === 1;
      if (changed) this.writeAudit(audit);
      return changed;
    });
  }

  async hasCallbackSecret(appId: string): Promise<boolean> {
    return !!(this.s.appCallbackSecret.get(appId) as Row | undefined)?.callback_secret_sealed;
  }

  async createEndpoint(e: WebhookEndpointRecord, audit: AuditEntry[]): Promise<void> {
    await this.tx(() => {
      this.s.whkInsert.run({
        id: e.id, app_id: e.appId, url: e.url, events: JSON.stringify(e.events), secret_sealed: e.secretSealed, description: e.description,
        enabled: e.enabled ? 1 : 0, disabled_reason: e.disabledReason, created_at: e.createdAt, updated_at: e.updatedAt,
      });
      this.writeAudit(audit);
      this.endpointCache.delete(e.appId);
    });
  }

  async listEndpoints(appId: string): Promise<WebhookEndpointRecord[]> {
    return (this.s.whkList.all(appId) as Row[]).map(toEndpoint);
  }

  async updateEndpoint(appId: string, id: string, change: (before: WebhookEndpointRecord) => { after: WebhookEndpointRecord | null; audit: AuditEntry[] }): Promise<WebhookEndpointRecord | null | 'deleted'> {
    return this.tx(() => {
      const r = this.s.whkGet.get(id, appId) as Row | undefined;
      if (!r) return null;
      const { after, audit } = change(toEndpoint(r));
      this.endpointCache.delete(appId);
      this.writeAudit(audit);
      if (!after) {
        this.s.whkDelete.run(id, appId);
        this.s.whdCancelEndpoint.run(Date.now(), id);
        return 'deleted';
      }
      this.s.whkUpdate.run({
        id, app_id: appId, url: after.url, events: JSON.stringify(after.events), description: after.description, enabled: after.enabled ? 1 : 0,
        disabled_reason: after.disabledReason, updated_at: after.updatedAt,
      });
      return after;
    });
  }

  async claimDeliveries(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    return this.tx(() => {
      const rows = [
        ...(this.s.whdClaimExpired.all({ now, lease: now + leaseMs, limit }) as Row[]),
        ...(this.s.whdClaimPending.all({ now, lease: now + leaseMs, limit }) as Row[]),
      ];
      return rows.map((r): ClaimedDelivery => {
        const d = toDelivery(r);
        const ev = this.s.evtGet.get(d.eventId) as Row | undefined;
        const ep = d.endpointId ? (this.s.whkSecret.get(d.endpointId) as Row | undefined) : undefined;
        const appSecret = d.endpointId ? undefined : (this.s.appCallbackSecret.get(d.appId) as Row | undefined);
        return {
          ...d, eventType: (ev?.type as string) ?? 'unknown', eventCreatedAt: ev ? num(ev.created_at) : now,
          eventData: ev ? JSON.parse(ev.data as string) : null,
          secretSealed: d.endpointId ? (ep && num(ep.enabled) === 1 ? (ep.secret_sealed as Buffer) : null) : bufOrNull(appSecret?.callback_secret_sealed),
          secretOwner: d.endpointId ?? d.appId,
        };
      });
    });
  }

  async completeDeliveries(outcomes: DeliveryOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    await this.tx(() => {
      for (const o of outcomes) {
        this.s.whaInsert.run(newId('wha', o.at), o.id, o.statusCode, o.error, o.durationMs, o.at);
        this.s.whdDone.run({ id: o.id, status: o.status, next: o.nextAttemptAt ?? null, code: o.statusCode, error: o.error, at: o.at });
        if (o.disableEndpoint) {
          this.s.whkDisable.run('the endpoint answered 410 Gone', o.at, o.disableEndpoint);
          this.s.whdCancelEndpoint.run(o.at, o.disableEndpoint);
          this.endpointCache.clear();
        }
      }
    });
  }

  async listDeliveries(appId: string, q: { endpointId?: string | undefined; status?: DeliveryStatus | undefined; limit: number; before?: string | undefined }): Promise<WebhookDeliveryRecord[]> {
    const where = ['app_id = @app_id'];
    const params: Record<string, unknown> = { app_id: appId, limit: q.limit };
    if (q.endpointId !== undefined) { where.push('endpoint_id = @endpoint_id'); params.endpoint_id = q.endpointId; }
    if (q.status !== undefined) { where.push('status = @status'); params.status = q.status; }
    if (q.before !== undefined) { where.push('id < @before'); params.before = q.before; }
    return (this.db.prepare(`SELECT * FROM webhook_deliveries WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT @limit`).all(params) as Row[]).map(toDelivery);
  }

  async getDelivery(appId: string, id: string): Promise<WebhookDeliveryRecord | null> {
    const r = this.s.whdGet.get(id, appId) as Row | undefined;
    return r ? toDelivery(r) : null;
  }

  async listDeliveryAttempts(deliveryId: string): Promise<{ id: string; statusCode: number | null; error: string | null; durationMs: number; at: number }[]> {
    return (this.s.whaList.all(deliveryId) as Row[]).map((r) => ({ id: r.id as string, statusCode: numOrNull(r.status_code), error: (r.error as string | null) ?? null, durationMs: num(r.duration_ms), at: num(r.at) }));
  }

  async replayDelivery(appId: string, deliveryId: string, now: number, audit: AuditEntry[]): Promise<WebhookDeliveryRecord | null> {
    return this.tx(() => {
      const r = this.s.whdReplay.get(now, now, deliveryId, appId) as Row | undefined;
      if (!r) return null;
      this.writeAudit(audit);
      this.emitted = true;
      return toDelivery(r);
    });
  }

  async expireDue(now: number, limit: number): Promise<number> {
    if (!this.s.verExpireAny.get(now)) return 0; // a plain read first: usually nothing is due
    return this.tx(() => {
      const rows = this.s.verExpireDue.all({ now, limit }) as Row[];
      for (const r of rows) this.emitVerification('verification.expired', toVerification(r), now);
      return rows.length;
    });
  }

  async nextDeliveryDueAt(): Promise<number | null> {
    return (this.s.whdNextDue.get() as { t: number | null }).t ?? null;
  }

  async listSenders(appId: string): Promise<SenderRecord[]> {
    return (this.s.sndList.all(appId) as Row[]).map(toSender);
  }

  async createSender(x: SenderRecord, audit: AuditEntry[]): Promise<void> {
    await this.tx(() => {
      this.s.sndInsert.run(x.id, x.appId, x.channel, x.country, x.value, x.createdAt);
      this.writeAudit(audit);
    });
  }

  async deleteSender(appId: string, id: string, audit: (before: SenderRecord) => AuditEntry[]): Promise<boolean> {
    return this.tx(() => {
      const r = this.s.sndGet.get(id, appId) as Row | undefined;
      if (!r) return false;
      this.s.sndDelete.run(id, appId);
      this.writeAudit(audit(toSender(r)));
      return true;
    });
  }

  async listTemplates(appId: string): Promise<TemplateRecord[]> {
    return (this.s.tplList.all(appId) as Row[]).map(toTemplate);
  }

  async saveTemplate(appId: string, id: string, change: (before: TemplateRecord | null) => { after: TemplateRecord | null; audit: AuditEntry[] }): Promise<TemplateRecord | null> {
    return this.tx(() => {
      const r = this.s.tplGet.get(id, appId) as Row | undefined;
      const { after, audit } = change(r ? toTemplate(r) : null);
      if (after) {
        this.s.tplPut.run({
          id: after.id, app_id: appId, channel: after.channel, name: after.name, locale: after.locale, country: after.country, prefix: after.prefix,
          text: after.text, subject: after.subject, html: after.html, created_at: after.createdAt, updated_at: after.updatedAt,
        });
      } else {
        this.s.tplDelete.run(id, appId);
      }
      this.writeAudit(audit);
      return after;
    });
  }

  private clientRow(c: OAuthClientRecord) {
    return {
      id: c.id, app_id: c.appId, name: c.name, secret_hash: c.secretHash, previous_secret_hash: c.previousSecretHash,
      previous_valid_until: c.previousValidUntil, created_at: c.createdAt, rotated_at: c.rotatedAt, revoked_at: c.revokedAt, last_used_at: c.lastUsedAt,
    };
  }

  async createClient(c: OAuthClientRecord, audit: AuditEntry[]): Promise<void> {
    await this.tx(() => {
      this.s.cliInsert.run(this.clientRow(c));
      this.writeAudit(audit);
    });
  }

  async getClient(id: string): Promise<{ client: OAuthClientRecord; app: AppRecord } | null> {
    const c = this.s.cliGet.get(id) as Row | undefined;
    if (!c) return null;
    const a = this.s.appGet.get(c.app_id) as Row | undefined;
    return a ? { client: toClient(c), app: toApp(a) } : null;
  }

  async listClients(appId: string): Promise<OAuthClientRecord[]> {
    return (this.s.cliList.all(appId) as Row[]).map(toClient);
  }

  async updateClient(appId: string, id: string, change: (before: OAuthClientRecord) => { after: OAuthClientRecord; audit: AuditEntry[] }): Promise<OAuthClientRecord | null> {
    return this.tx(() => {
      const r = this.s.cliGet.get(id) as Row | undefined;
      if (!r || r.app_id !== appId) return null;
      const { after, audit } = change(toClient(r));
      this.s.cliUpdate.run(this.clientRow(after));
      this.writeAudit(audit);
      return after;
    });
  }

  async touchClient(id: string, at: number): Promise<void> {
    await this.tx(() => this.s.cliTouch.run(at, id));
  }

  async listPhoneStates(appId: string, q: { to?: string | undefined; now: number; limit: number }): Promise<(PhoneState & { to: string })[]> {
    const rows = (q.to !== undefined
      ? this.s.phoneGet.all(appId, q.to)
      : this.db.prepare('SELECT * FROM phone_states WHERE app_id = ? AND locked_until > ? ORDER BY locked_until DESC LIMIT ?').all(appId, q.now, q.limit)) as Row[];
    return rows.map((r) => ({ ...toPhoneState(r)!, to: r.to_addr as string }));
  }

  async clearPhoneState(appId: string, to: string, now: number, audit: (before: PhoneState) => AuditEntry[]): Promise<PhoneState | null> {
    return this.tx(() => {
      const before = toPhoneState(this.s.phoneGet.get(appId, to) as Row | undefined);
      if (!before) return null;
      this.putPhone(appId, to, { sends: 0, failures: 0, windowStartedAt: now, lastSendAt: null, lockedUntil: null, lockReason: null });
      this.writeAudit(audit(before));
      return before;
    });
  }

  async listAudit(q: { appId?: string | undefined; targetId?: string | undefined; limit: number; before?: string | undefined }): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: q.limit };
    if (q.appId !== undefined) { where.push('app_id = @app_id'); params.app_id = q.appId; }
    if (q.targetId !== undefined) { where.push('target_id = @target_id'); params.target_id = q.targetId; }
    if (q.before !== undefined) { where.push('id < @before'); params.before = q.before; }
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as Row[]).map(toAudit);
  }

  async listApps(): Promise<AppRecord[]> {
    return (this.s.appList.all() as Row[]).map(toApp);
  }

  async getApp(id: string): Promise<AppRecord | null> {
    const r = this.s.appGet.get(id) as Row | undefined;
    return r ? toApp(r) : null;
  }

  async findKey(hash: Buffer): Promise<{ key: ApiKeyRecord; app: AppRecord } | null> {
    const k = this.s.keyFind.get(hash) as Row | undefined;
    if (!k) return null;
    const a = this.s.appGet.get(k.app_id) as Row | undefined;
    return a ? { key: toKey(k), app: toApp(a) } : null;
  }

  private putPhone(appId: string, to: string, p: PhoneState): void {
    this.s.phonePut.run({
      app_id: appId, to_addr: to, sends: p.sends, failures: p.failures, window_started_at: p.windowStartedAt,
      last_send_at: p.lastSendAt, locked_until: p.lockedUntil, lock_reason: p.lockReason,
    });
  }

  private insertMessage(m: OutboxRecord): void {
    this.s.outInsert.run({
      id: m.id, app_id: m.appId, verification_id: m.verificationId, channel: m.channel, to_addr: m.to, locale: m.locale,
      body: m.body, status: m.status, attempts: m.attempts, available_at: m.availableAt, created_at: m.createdAt, sent_at: m.sentAt,
      provider: m.provider, error: m.error, parts: m.parts, cost: m.cost, step: m.step, route: JSON.stringify(m.route), route_index: m.routeIndex,
      sender: m.sender ?? null,
    });
  }

  async startVerification(
    input: { appId: string; to: string; now: number; lockout: number; idempotency?: IdempotencyInput | undefined },
    decide: (phone: PhoneState | undefined) => StartDecision,
  ): Promise<StartResult> {
    const { appId, to, now, idempotency } = input;
    const out = await this.tx((): StartResult | { kind: 'refused'; error: OtpdError } => {
      if (idempotency) {
        const prior = this.s.idemGet.get(appId, idempotency.key) as { request_hash: Buffer; response: string } | undefined;
        if (prior) {
          if (!prior.request_hash.equals(idempotency.requestHash)) {
            return { kind: 'refused', error: new OtpdError('idempotency_key_reused', 'This Idempotency-Key was used with another request body') };
          }
          return { kind: 'replayed', response: prior.response };
        }
      }
      // Seen as of this start's clock: another process may have served a later-stamped start first (see phone-time.ts).
      const stored = toPhoneState(this.s.phoneGet.get(appId, to) as Row | undefined);
      const d = decide(phoneAsOf(stored, now));
      if (!d.ok) {
        if (d.phone) this.putPhone(appId, to, phoneToWrite(d.phone, stored));
        return { kind: 'refused', error: d.error };
      }
      const v = d.verification;
      for (const r of this.s.closePending.all({ now, app_id: appId, to_addr: to }) as Row[]) {
        const old = toVerification(r);
        this.emitVerification(old.status === 'expired' ? 'verification.expired' : 'verification.canceled', old, now);
      }
      this.s.verInsert.run({
        id: v.id, app_id: v.appId, to_addr: v.to, country_iso: v.countryIso, channel: v.channel, locale: v.locale,
        status: v.status, code_type: v.codeType, code_length: v.codeLength, code_hash: v.codeHash, code_sealed: v.codeSealed,
        attempts: v.attempts, max_attempts: v.maxAttempts, sends: v.sends, max_sends: v.maxSends,
        resend_available_at: v.resendAvailableAt, expires_at: v.expiresAt, created_at: v.createdAt, updated_at: v.updatedAt,
        verified_at: v.verifiedAt, parts: v.parts, cost: v.cost, metadata: v.metadata === null ? null : JSON.stringify(v.metadata),
        channels: JSON.stringify(v.channels), step: v.step, step_timeout: v.stepTimeout, callback_url: v.callbackUrl ?? null,
      });
      for (const m of d.messages) this.insertMessage(m);
      for (const a of d.attempts ?? []) this.s.attInsert.run(a.id, a.messageId, a.appId, a.provider, a.startedAt);
      this.putPhone(appId, to, phoneToWrite(d.phone, stored));
      this.emitVerification('verification.created', v, now);
      if (idempotency) {
        this.s.idemPut.run(appId, idempotency.key, idempotency.requestHash, d.response, now, idempotency.expiresAt);
      }
      return { kind: 'created', verification: v, response: d.response };
    });
    if (out.kind === 'refused') throw out.error;
    return out;
  }

  async checkVerification(
    input: { appId: string; target: CheckTarget; now: number; lockout: number },
    judge: (v: VerificationRecord) => boolean,
  ): Promise<CheckResult | null> {
    const { appId, target, now, lockout } = input;
    return this.tx((): CheckResult | null => {
      let id: string;
      if ('id' in target) id = target.id;
      else {
        const newest = this.s.verNewestFor.get({ app: appId, to: target.to }) as { id: string | null };
        if (!newest.id) return null;
        id = newest.id;
      }
      const bumped = this.s.verBump.get(now, id, appId, now) as Row | undefined;
      if (bumped) {
        const v = toVerification(bumped);
        const phone = currentPhoneState(toPhoneState(this.s.phoneGet.get(appId, v.to) as Row | undefined), { lockout }, now);
        if (judge(v)) {
          this.s.verSettle.run({ id, status: 'verified', verified_at: now, now });
          // Proof of possession: the phone's counters go back to those of a phone never seen (no row).
          this.s.phoneDel.run(appId, v.to);
          const done: VerificationRecord = { ...v, status: 'verified', verifiedAt: now, codeSealed: null };
          this.emitVerification('verification.verified', done, now);
          return { outcome: 'verified', verification: done };
        }
        const exhausted = v.attempts >= v.maxAttempts;
        if (exhausted) {
          this.s.verSettle.run({ id, status: 'failed', verified_at: null, now });
          this.emitVerification('verification.failed', { ...v, status: 'failed' }, now);
        }
        this.putPhone(appId, v.to, afterWrongCode(phone, { lockout }, now, exhausted));
        return { outcome: 'wrong', verification: exhausted ? { ...v, status: 'failed', codeSealed: null } : v };
      }
      const row = this.s.verGet.get(id, appId) as Row | undefined;
      if (!row) return null;
      let v = toVerification(row);
      if (v.status === 'pending' && v.expiresAt <= now) {
        this.s.verExpire.run(now, id, now);
        v = { ...v, status: 'expired', codeSealed: null, updatedAt: now };
        this.emitVerification('verification.expired', v, now);
      }
      return { outcome: 'closed', verification: v };
    });
  }

  async resendVerification(
    input: { appId: string; id: string; now: number },
    decide: (v: VerificationRecord, phone: PhoneState | undefined) => ResendDecision,
  ): Promise<VerificationRecord | null> {
    const { appId, id } = input;
    const out = await this.tx((): VerificationRecord | null | { error: OtpdError } => {
      const row = this.s.verGet.get(id, appId) as Row | undefined;
      if (!row) return null;
      const v = toVerification(row);
      const stored = toPhoneState(this.s.phoneGet.get(appId, v.to) as Row | undefined);
      const d = decide(v, phoneAsOf(stored, input.now));
      if (!d.ok) {
        if (d.phone) this.putPhone(appId, v.to, phoneToWrite(d.phone, stored));
        return { error: d.error };
      }
      const n = d.verification;
      this.s.verResent.run({
        id, channel: n.channel, sends: n.sends, resend_available_at: n.resendAvailableAt, parts: n.parts, cost: n.cost, updated_at: n.updatedAt,
      });
      this.insertMessage(d.message);
      this.putPhone(appId, v.to, phoneToWrite(d.phone, stored));
      return n;
    });
    if (out && 'error' in out) throw out.error;
    return out;
  }

  async cancelVerification(appId: string, id: string, now: number): Promise<VerificationRecord | null> {
    return this.tx(() => {
      const changed = this.s.verCancel.get({ id, app_id: appId, now }) as Row | undefined;
      if (changed) {
        const v = toVerification(changed);
        this.emitVerification(v.status === 'expired' ? 'verification.expired' : 'verification.canceled', v, now);
        return v;
      }
      const r = this.s.verGet.get(id, appId) as Row | undefined;
      return r ? toVerification(r) : null;
    });
  }

  async getVerification(appId: string, id: string): Promise<VerificationRecord | null> {
    const r = this.s.verGet.get(id, appId) as Row | undefined;
    return r ? toVerification(r) : null;
  }

  async listVerifications(appId: string, q: ListQuery, now: number): Promise<VerificationRecord[]> {
    const where = ['app_id = @app_id'];
    const params: Record<string, unknown> = { app_id: appId, limit: q.limit, now };
    if (q.to !== undefined) { where.push('to_addr = @to'); params.to = q.to; }
    if (q.before !== undefined) { where.push('id < @before'); params.before = q.before; }
    if (q.status === 'expired') where.push(`(status = 'expired' OR (status = 'pending' AND expires_at <= @now))`);
    else if (q.status === 'pending') where.push(`status = 'pending' AND expires_at > @now`);
    else if (q.status !== undefined) { where.push('status = @status'); params.status = q.status; }
    const sql = `SELECT * FROM verifications WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as Row[]).map(toVerification);
  }

  async claimMessages(now: number, limit: number, leaseMs: number, choose: ChooseProvider): Promise<ClaimedMessage[]> {
    return this.tx(() => {
      const expired = this.s.outClaimExpired.all({ now, lease: now + leaseMs, limit }) as Row[];
      const queued = expired.length < limit ? (this.s.outClaimQueued.all({ now, lease: now + leaseMs, limit: limit - expired.length }) as Row[]) : [];
      const rows: Row[] = expired.length ? [...expired.map((r): Row => ({ ...r, expired: 1 })), ...queued] : queued;
      return rows.map((r): ClaimedMessage => {
        const v = this.s.outCodeOf.get(r.verification_id) as Row | undefined;
        const last = r.expired ? (this.s.attLast.get(r.id) as Row | undefined) : undefined;
        const m = toClaimed(r, v, last);
        if (m.crashedAttempt || m.verificationStatus !== 'pending' || !m.codeSealed) return m;
        const c = choose(m);
        if (!c) return m;
        this.s.attInsert.run(c.attemptId, m.id, m.appId, c.provider, now);
        if (c.routeIndex !== m.routeIndex) this.s.outRoute.run(c.routeIndex, c.provider, m.id);
        return { ...m, routeIndex: c.routeIndex, provider: c.provider, attempt: { id: c.attemptId, provider: c.provider } };
      });
    });
  }

  async completeMessages(outcomes: MessageOutcome[], now: number): Promise<void> {
    if (outcomes.length === 0) return;
    await this.tx(() => {
      for (const o of outcomes) {
        if (o.attempt) {
          const a = o.attempt;
          this.s.attDone.run({
            id: a.id, outcome: a.outcome, http_status: a.httpStatus ?? null, error_code: a.errorCode ?? null, error: a.error ?? null,
            provider_message_id: a.providerMessageId ?? null, finished_at: a.finishedAt,
          });
        }
        const changed = this.s.outDone.run({
          id: o.id, status: o.status, available_at: o.availableAt ?? null, route_index: o.routeIndex ?? null,
          provider_attempts: o.providerAttempts ?? null, provider: o.provider ?? null, provider_message_id: o.providerMessageId ?? null,
          error_code: o.errorCode ?? null, error: o.error ?? null, price: o.price ?? null, price_currency: o.priceCurrency ?? null,
          sent_at: o.sentAt ?? null, failed_at: o.failedAt ?? null, fallback_at: o.fallbackAt ?? null, outcome_unknown: o.outcomeUnknown ? 1 : 0,
        }).changes;
        if (changed && (o.status === 'sent' || o.status === 'failed')) {
          this.emit(o.appId, o.status === 'sent' ? 'message.sent' : 'message.failed', () => messageEventData(toOutbox(this.s.outGet.get(o.id) as Row)), { verificationId: o.verificationId, messageId: o.id }, now);
        }
        if (changed && o.advance) this.advanceSync(null, o.verificationId, o.step, now);
      }
    });
  }

  private advanceSync(appId: string | null, verificationId: string, fromStep: number, now: number): number | null {
    const r = this.s.stepAdvance.get({ id: verificationId, app_id: appId, from: fromStep, now }) as { step: number } | undefined;
    if (!r) return null;
    this.s.stepClearFallback.run(verificationId, fromStep);
    this.s.stepQueue.run({ id: verificationId, step: r.step, now });
    return r.step;
  }

  async advanceStep(appId: string, verificationId: string, fromStep: number, now: number): Promise<number | null> {
    return this.tx(() => this.advanceSync(appId, verificationId, fromStep, now));
  }

  async fireFallbacks(now: number, limit: number): Promise<number> {
    // A plain read first: most drains have no fallback due and need no write transaction.
    if (!this.s.fallbackAny.get(now)) return 0;
    return this.tx(() => {
      let n = 0;
      for (const r of this.s.fallbackDue.all(now, limit) as Row[]) {
        this.s.fallbackClear.run(r.id);
        if (this.advanceSync(null, r.verification_id as string, num(r.step), now) !== null) n++;
      }
      return n;
    });
  }

  async nextDueAt(): Promise<number | null> {
    const r = this.s.nextDue.get() as { t: number | null } | undefined;
    return r?.t ?? null;
  }

  async applyReceipt(r: Receipt): Promise<ReceiptResult> {
    return this.tx((): ReceiptResult => {
      const cols = 'id, app_id, to_addr, verification_id, step, status, provider, provider_message_id';
      const m = (r.messageId
        ? this.db.prepare(`SELECT ${cols} FROM outbox WHERE id = ?`).get(r.messageId)
        : r.providerMessageId ? this.db.prepare(`SELECT ${cols} FROM outbox WHERE provider = ? AND provider_message_id = ?`).get(r.provider, r.providerMessageId) : undefined) as Row | undefined;
      if (!m || m.provider !== r.provider) return { result: 'unknown' };
      if (r.providerMessageId && m.provider_message_id && m.provider_message_id !== r.providerMessageId) return { result: 'mismatch' };
      const final = ['delivered', 'undelivered', 'failed'];
      if (r.status === 'sent' || final.includes(m.status as string) || !['sending', 'sent'].includes(m.status as string)) {
        if (r.providerMessageId && !m.provider_message_id) this.db.prepare('UPDATE outbox SET provider_message_id = ? WHERE id = ?').run(r.providerMessageId, m.id);
        return { result: 'ignored' };
      }
      this.db.prepare(`UPDATE outbox SET status = @status, fallback_at = NULL, provider_message_id = coalesce(provider_message_id, @pmid),
          delivered_at = CASE WHEN @status = 'delivered' THEN @at ELSE delivered_at END,
          failed_at = CASE WHEN @status = 'delivered' THEN failed_at ELSE @at END,
          error_code = CASE WHEN @status = 'delivered' THEN error_code ELSE coalesce(@code, error_code) END,
          outcome_unknown = 0
        WHERE id = @id`).run({ id: m.id, status: r.status, pmid: r.providerMessageId ?? null, at: r.at, code: r.errorCode ?? null });
      this.emit(m.app_id as string, `message.${r.status}` as EventType, () => messageEventData(toOutbox(this.s.outGet.get(m.id) as Row)), { verificationId: m.verification_id as string, messageId: m.id as string }, r.at);
      let advanced = false;
      if (r.status !== 'delivered') advanced = this.advanceSync(null, m.verification_id as string, num(m.step), r.at) !== null;
      return { result: 'applied', advanced, appId: m.app_id as string, to: m.to_addr as string };
    });
  }

  async recordRejectedCallback(source: string, reason: string, at: number): Promise<void> {
    await this.tx(() => this.db.prepare('INSERT INTO rejected_callbacks (id, source, reason, received_at) VALUES (?, ?, ?, ?)').run(newId('cb', at), source, reason.slice(0, 200), at));
  }

  async rejectedCallbackCounts(): Promise<{ source: string; reason: string; count: number }[]> {
    return this.db.prepare('SELECT source, reason, count(*) AS count FROM rejected_callbacks GROUP BY source, reason ORDER BY source, reason').all() as { source: string; reason: string; count: number }[];
  }

  async listAttempts(messageId: string): Promise<AttemptRecord[]> {
    return (this.s.attList.all(messageId) as Row[]).map(toAttempt);
  }

  async listMessages(appId: string, verificationId: string): Promise<OutboxRecord[]> {
    return (this.s.outList.all(appId, verificationId) as Row[]).map(toOutbox);
  }

  async purgeIdempotency(now: number): Promise<number> {
    return this.s.idemPurge.run(now).changes;
  }

  /** One retention batch (see the port): each table's oldest rows by primary key, in one short transaction. */
  async purgeBefore(before: number, limit: number): Promise<PurgeCounts> {
    const time = encodeTime(before, 10);
    return this.tx(() => {
      const counts: PurgeCounts = {};
      for (const [table, prefix] of RETAINED) counts[table] = this.s.purge[table]!.run(`${prefix}_${time}`, limit).changes;
      return counts;
    });
  }
}
