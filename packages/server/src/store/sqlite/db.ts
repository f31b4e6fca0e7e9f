/**
 * What every module of the SQLite adapter shares: the connection, the group commit each use case runs in, the
 * registry of prepared statements (so `explainPlans` sees them all), the event fan-out, the audit log and the clock.
 */
import type Database from 'better-sqlite3';
import type { Clock } from '../../domain/clock.js';
import { verificationEventData, type EventType } from '../../domain/events.js';
import { newId } from '../../domain/ids.js';
import type { AuditEntry, VerificationRecord } from '../../domain/records.js';
import { deliveryTargets, EndpointCache, takes, type ListeningEndpoint } from '../event-fanout.js';
import type { StoreHooks } from '../ports/index.js';
import type { Row } from '../rows.js';

/** Most ops one group commit runs, so one turn of the event loop stays short. */
const MAX_GROUP = 256;

/** Transactional work waiting for the next group commit. */
interface Op { fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }

export class SqliteContext {
  /** Set once by the composition root; `onEvents` is called here, after the commit that wrote the events. */
  readonly hooks: StoreHooks = {};
  private readonly statements = new Map<string, Database.Statement>();
  /**
   * Transactional work waiting for the next group commit: `durable` ones commit with `synchronous=FULL` (fsync),
   * `relaxed` ones with `synchronous=NORMAL` (see `txRelaxed`).
   */
  private readonly queues = { durable: { ops: [] as Op[], scheduled: false }, relaxed: { ops: [] as Op[], scheduled: false } };
  private readonly runGroup: (batch: Op[]) => { ok: boolean; value: unknown }[];
  /** Apps' enabled webhook endpoints (changes made through this store are seen at once: see `endpointsChanged`). */
  private readonly endpoints: EndpointCache;
  /** Set inside a group when an event with deliveries was written; the listener is called after its commit. */
  private emitted = false;
  /** Verification transitions written by the group being run; told to `hooks.onVerificationEvent` after its commit. */
  private transitions: { type: EventType; v: VerificationRecord; at: number }[] = [];
  private readonly s: {
    whkActive: Database.Statement; verCallbackUrl: Database.Statement; evtInsert: Database.Statement;
    whdInsert: Database.Statement; auditInsert: Database.Statement; syncNormal: Database.Statement; syncFull: Database.Statement;
  };

  constructor(readonly db: Database.Database, readonly clock: Clock) {
    this.endpoints = new EndpointCache(clock);
    this.s = {
      verCallbackUrl: this.prepare('verCallbackUrl', 'SELECT callback_url FROM verifications WHERE id = ?'),
      whkActive: this.prepare('whkActive', 'SELECT id, url, events FROM webhook_endpoints WHERE app_id = ? AND enabled = 1'),
      evtInsert: this.prepare('evtInsert', 'INSERT INTO events (id, app_id, type, verification_id, message_id, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      whdInsert: this.prepare('whdInsert', `INSERT INTO webhook_deliveries (id, app_id, endpoint_id, url, event_id, status, attempts, next_attempt_at, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)`),
      syncNormal: this.db.prepare('PRAGMA synchronous = NORMAL'),
      syncFull: this.db.prepare('PRAGMA synchronous = FULL'),
      auditInsert: this.prepare('auditInsert', `INSERT INTO audit_log (id, actor, action, target_type, target_id, app_id, before, after, at)
        VALUES (@id, @actor, @action, @target_type, @target_id, @app_id, @before, @after, @at)`),
    };
    // Each op runs in its own savepoint (a nested better-sqlite3 transaction): a throwing op rolls back alone.
    const one = this.db.transaction((fn: () => unknown) => fn());
    this.runGroup = this.db.transaction((batch: Op[]) =>
      batch.map((op) => {
        const told = this.transitions.length;
        try {
          return { ok: true, value: one(op.fn) };
        } catch (e) {
          this.transitions.length = told; // rolled back with the op
          return { ok: false, value: e };
        }
      }),
    ).immediate;
  }

  /** Prepares a statement once and registers it under a name unique across the modules (see `explainPlans`). */
  prepare(name: string, sql: string): Database.Statement {
    if (this.statements.has(name)) throw new Error(`statement ${name} prepared twice`);
    const stmt = this.db.prepare(sql);
    this.statements.set(name, stmt);
    return stmt;
  }

  /**
   * Group commit. Transactional work arriving in the same event-loop turn is queued and run in ONE
   * `BEGIN IMMEDIATE … COMMIT` on the next turn, each op in its own savepoint, and every caller is answered after
   * that COMMIT: an acknowledged write is as durable as with one commit per request, but with
   * `synchronous=FULL` a busy server pays one fsync for many requests instead of one each. The ops are
   * synchronous and run one after another, so they see each other's writes exactly as separate transactions would.
   */
  tx<T>(fn: () => T): Promise<T> {
    return this.enqueue('durable', fn);
  }

  /**
   * Group commit with `synchronous=NORMAL`: the WAL frames are written but not fsynced, so a caller waits one turn
   * of the event loop, not for the disk (the next durable group's fsync carries them). An acknowledged write
   * survives a crash of the process (kill -9), not a power cut. For state whose last milliseconds may be lost without
   * harm, written on every request: the guard's counters.
   */
  txRelaxed<T>(fn: () => T): Promise<T> {
    return this.enqueue('relaxed', fn);
  }

  private enqueue<T>(kind: 'durable' | 'relaxed', fn: () => T): Promise<T> {
    const q = this.queues[kind];
    return new Promise<T>((resolve, reject) => {
      q.ops.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!q.scheduled) {
        q.scheduled = true;
        setImmediate(() => this.flushGroup(kind));
      }
    });
  }

  private flushGroup(kind: 'durable' | 'relaxed'): void {
    const q = this.queues[kind];
    q.scheduled = false;
    const batch = q.ops.splice(0, MAX_GROUP);
    if (q.ops.length > 0) {
      q.scheduled = true;
      setImmediate(() => this.flushGroup(kind));
    }
    if (batch.length === 0) return;
    let results: { ok: boolean; value: unknown }[];
    if (kind === 'relaxed') this.s.syncNormal.run();
    try {
      results = this.runGroup(batch);
    } catch (e) {
      // The COMMIT itself failed (disk full, I/O error, busy past the timeout): nothing of the group was written.
      this.transitions = [];
      for (const op of batch) op.reject(e);
      return;
    } finally {
      if (kind === 'relaxed') this.s.syncFull.run();
    }
    if (this.transitions.length > 0) {
      const told = this.transitions;
      this.transitions = [];
      for (const t of told) this.hooks.onVerificationEvent?.(t.type, t.v, t.at);
    }
    batch.forEach((op, i) => {
      const r = results[i]!;
      if (r.ok) op.resolve(r.value);
      else op.reject(r.value);
    });
    if (this.emitted) {
      this.emitted = false;
      this.hooks.onEvents?.();
    }
  }

  /** Commits every queued op now (before closing). */
  drain(): void {
    while (this.queues.durable.ops.length > 0 || this.queues.relaxed.ops.length > 0) {
      this.flushGroup('relaxed');
      this.flushGroup('durable');
    }
  }

  /** Deliveries became due without a new event (a replay): the webhook worker is woken after the commit. */
  deliveriesDue(): void {
    this.emitted = true;
  }

  /** An app's endpoints changed (`undefined`: maybe any app's): the next event reloads them. */
  endpointsChanged(appId: string | undefined): void {
    if (appId === undefined) this.endpoints.clear();
    else this.endpoints.forget(appId);
  }

  private endpointsOf(appId: string): ListeningEndpoint[] {
    return this.endpoints.get(appId)
      ?? this.endpoints.put(appId, (this.s.whkActive.all(appId) as Row[]).map((r) => ({ id: r.id as string, url: r.url as string, events: JSON.parse(r.events as string) as string[] })));
  }

  /**
   * Records an event and one delivery per endpoint that listens to it, inside the caller's transaction. Apps
   * without listeners pay one cached lookup, no write, and the payload is never built.
   */
  emit(appId: string, type: EventType, data: () => Record<string, unknown>, refs: { verificationId?: string; messageId?: string; callbackUrl?: string | null }, now: number): void {
    const endpoints = this.endpointsOf(appId);
    // A per-verification callback URL (seed 001) hears every event of its verification.
    const callback = refs.callbackUrl !== undefined ? refs.callbackUrl
      : refs.verificationId ? ((this.s.verCallbackUrl.get(refs.verificationId) as { callback_url: string | null } | undefined)?.callback_url ?? null) : null;
    if (!callback && !endpoints.some(takes(type))) return;
    // The event's id is drawn before its deliveries' (ids are monotonic: the event sorts first).
    const eventId = newId('evt', now);
    this.s.evtInsert.run(eventId, appId, type, refs.verificationId ?? null, refs.messageId ?? null, JSON.stringify(data()), now);
    for (const t of deliveryTargets(endpoints, type, callback, now)) this.s.whdInsert.run(t.id, appId, t.endpoint_id, t.url, eventId, now, now, now);
    this.emitted = true;
  }

  emitVerification(type: EventType, v: VerificationRecord, now: number): void {
    if (this.hooks.onVerificationEvent) this.transitions.push({ type, v, at: now });
    this.emit(v.appId, type, () => verificationEventData(v), { verificationId: v.id, callbackUrl: v.callbackUrl ?? null }, now);
  }

  writeAudit(entries: AuditEntry[]): void {
    for (const a of entries) {
      this.s.auditInsert.run({
        id: a.id, actor: a.actor, action: a.action, target_type: a.targetType, target_id: a.targetId, app_id: a.appId,
        before: a.before === null || a.before === undefined ? null : JSON.stringify(a.before),
        after: a.after === null || a.after === undefined ? null : JSON.stringify(a.after), at: a.at,
      });
    }
  }

  /**
   * Query plans of the prepared statements (for tests that guard against full table scans on hot paths).
   * Every parameter is bound to NULL; only the plan is read.
   */
  explainPlans(): { name: string; plan: string }[] {
    return [...this.statements].map(([name, stmt]) => {
      const sql = stmt.source;
      const named = [...new Set([...sql.matchAll(/@(\w+)/g)].map((m) => m[1]!))];
      const positional = (sql.match(/\?/g) ?? []).length;
      const explain = this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
      const rows = (named.length ? explain.all(Object.fromEntries(named.map((n) => [n, null]))) : explain.all(...Array<null>(positional).fill(null))) as { detail: string }[];
      return { name, plan: rows.map((r) => r.detail).join(' | ') };
    });
  }
}
