/**
 * The pool and the ways to run statements on it: a named statement (`q`), one outside any transaction (`read`), a
 * transaction retried on deadlock or serialization failure (`tx`), and what a commit tells the others.
 */
import pg from 'pg';
import type { Clock } from '../../domain/clock.js';
import { OtpdError } from '../../domain/errors.js';
import type { EventType } from '../../domain/events.js';
import type { VerificationRecord } from '../../domain/records.js';
import type { StoreHooks } from '../ports/index.js';
import type { Row } from '../rows.js';
import type { Notifier } from './notify.js';
import { SQL, type SqlName } from './sql.js';

export type Client = pg.PoolClient;

/** What a transaction did that others must hear of after its COMMIT. */
export interface TxCtx {
  c: Client;
  /** Events with deliveries were written. */
  emitted: boolean;
  /** Outbox messages became due. */
  queued: boolean;
  /** Verification transitions written, told to `hooks.onVerificationEvent` after the commit. */
  transitions?: { type: EventType; v: VerificationRecord; at: number }[];
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
  /** Times the store stamps itself (endpoint cache, migrations); default the wall clock. */
  clock?: Clock;
}

// BIGINT columns hold epoch milliseconds and counts: well inside Number's exact range.
export const types = {
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

export function unavailable(e: unknown): unknown {
  return isConnectionError(e) ? new OtpdError('store_unavailable', 'The database connection failed; retry the request', { retryAfter: 1 }) : e;
}

/** Thrown inside a transaction to roll it back and answer "not found". */
export class NoRow extends Error {}

export function createPool(url: string, opts: PgStoreOptions, extra: { max?: number; options?: string } = {}): pg.Pool {
  // The URL's own `options` (e.g. a search_path) are kept and extended: pg lets the URL override the config.
  const u = new URL(url);
  const urlOptions = u.searchParams.get('options');
  u.searchParams.delete('options');
  const pool = new pg.Pool({
    connectionString: u.toString(),
    // Every statement here is written for an index (a test checks each plan). While tables are young their
    // statistics lag behind their growth and the planner picks sequential scans that grow with the table (a
    // probe counted 412 scans of message_attempts in 5 s on a fresh database). Pricing them out keeps the index
    // plans from the first request on. Added to the URL's own `options`, if any.
    options: [urlOptions, '-c enable_seqscan=off', extra.options].filter(Boolean).join(' '),
    max: extra.max ?? opts.poolSize ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    types,
    statement_timeout: opts.statementTimeoutMs ?? 15_000,
    application_name: 'otpd',
  });
  // A connection that dies (database restarted) is dropped from the pool; the next request opens another. The
  // query in flight on it rejects (-> store_unavailable); its 'error' event must not crash the process.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => { client.on('error', () => undefined); });
  return pool;
}

/** A named statement: parsed and planned once per connection. */
export async function q(c: Client | pg.Pool, name: SqlName, values: unknown[] = []): Promise<pg.QueryResult<Row>> {
  return c.query<Row>({ name, text: SQL[name], values });
}

export class Db {
  constructor(readonly pool: pg.Pool, private readonly hooks: StoreHooks, private readonly notifier: Notifier, readonly relaxedPool: pg.Pool = pool) {}

  /** A statement outside any transaction whose commit does not wait for the WAL flush (guard counters). */
  readRelaxed(name: SqlName, values: unknown[] = []): Promise<Row[]> {
    return this.read(name, values, this.relaxedPool);
  }

  /** A statement outside any transaction (reads, single-statement writes). */
  async read(name: SqlName, values: unknown[] = [], pool: pg.Pool = this.pool): Promise<Row[]> {
    try {
      return (await q(pool, name, values)).rows;
    } catch (e) {
      throw unavailable(e);
    }
  }

  async adhoc(text: string, values: unknown[]): Promise<Row[]> {
    try {
      return (await this.pool.query<Row>(text, values)).rows;
    } catch (e) {
      throw unavailable(e);
    }
  }

  /** Runs `fn` on one pooled connection, outside any transaction (each statement commits on its own). */
  async withClient<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    let c: Client;
    try {
      c = await this.pool.connect();
    } catch (e) {
      throw unavailable(e);
    }
    try {
      const out = await fn(c);
      c.release();
      return out;
    } catch (e) {
      c.release(isConnectionError(e) ? (e as Error) : undefined);
      throw unavailable(e);
    }
  }

  /**
   * Runs `fn` in one transaction and answers after COMMIT. A deadlock or serialization failure rolls back and runs
   * `fn` again (the decisions inside are pure, so a rerun is safe); a lost connection is `store_unavailable`.
   */
  async tx<T>(fn: (t: TxCtx) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let c: Client;
      try {
        c = await this.pool.connect();
      } catch (e) {
        throw unavailable(e);
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
        throw unavailable(e);
      }
      c.release();
      this.afterCommit(t);
      return out;
    }
  }

  /**
   * After a commit (a transaction's, or a statement's that committed on its own): events wake this node's webhook
   * worker at once; other nodes hear of events and queued messages by NOTIFY (the caller wakes its own outbox worker).
   */
  afterCommit(t: Pick<TxCtx, 'emitted' | 'queued' | 'transitions'>): void {
    if (t.transitions) for (const x of t.transitions) this.hooks.onVerificationEvent?.(x.type, x.v, x.at);
    if (t.emitted) {
      this.hooks.onEvents?.();
      this.notifier.signal('webhooks');
    }
    if (t.queued) this.notifier.signal('outbox');
  }
}
