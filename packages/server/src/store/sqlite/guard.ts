/**
 * The guard's rows, decisions and blocks (see ports/guard.ts) on the embedded store.
 *
 * The rows a request needs are decided on in this process's memory and written back to `guard_state` a moment
 * later, many at once: the guard runs on every start, check and verification, and a write per request and rule
 * (read, decide, write, commit) cost about a third of the flow's throughput, measured side by side. The process is
 * the only writer of its counters, so a decision is atomic (JavaScript runs one request at a time) and exact. What
 * this gives up: the last `FLUSH_MS` of counters on a crash (kill -9), and sharing counters between several `otpd
 * serve` processes on one SQLite file (each would count alone; several nodes take PostgreSQL). Refusals (decisions,
 * events, audit entries) are committed before the request is answered.
 */
import type { GuardRow } from '../../domain/records.js';
import type { GuardPort } from '../ports/index.js';
import { decisionColumns, guardColumns, toDecision, toGuardRow, type Row } from '../rows.js';
import type { SqliteContext } from './db.js';

/** How long a changed row waits before it is written (with every other row changed meanwhile). */
const FLUSH_MS = 50;
/** Rows kept in memory at most (beyond, the oldest unchanged ones are dropped). */
const MAX_LIVE = 20_000;
/** Keys known without a read at most (about 100 bytes each). */
const MAX_KEYS = 1_000_000;

const text = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

export interface SqliteGuard extends GuardPort {
  /** Queues the changed rows for the next commit (before closing, or before reading the table). */
  flush(): void;
}

export function sqliteGuard(c: SqliteContext): SqliteGuard {
  const s = {
    gsGet: c.prepare('gsGet', 'SELECT * FROM guard_state WHERE key = ?'),
    gsCount: c.prepare('gsCount', 'SELECT count(*) AS n FROM guard_state'),
    gsKeys: c.prepare('gsKeys', 'SELECT key FROM guard_state'),
    gsPut: c.prepare('gsPut', `INSERT INTO guard_state (key, scope, dimension, value, rules, blocked_until, expires_at)
      VALUES (@key, @scope, @dimension, @value, @rules, @blocked_until, @expires_at)
      ON CONFLICT (key) DO UPDATE SET rules = excluded.rules, blocked_until = excluded.blocked_until, expires_at = excluded.expires_at`),
    gsBlocks: c.prepare('gsBlocks', 'SELECT * FROM guard_state WHERE scope = ? AND blocked_until > ? ORDER BY blocked_until DESC LIMIT ?'),
    gsEnded: c.prepare('gsEnded', 'SELECT * FROM guard_state WHERE blocked_until <= ? ORDER BY blocked_until LIMIT ?'),
    gsWalk: c.prepare('gsWalk', "SELECT key, expires_at FROM guard_state WHERE key > coalesce(?, '') ORDER BY key LIMIT ?"),
    gsDelete: c.prepare('gsDelete', 'DELETE FROM guard_state WHERE key = ? AND expires_at < ?'),
    gdInsert: c.prepare('gdInsert', `INSERT INTO guard_decisions (id, app_id, at, action, outcome, mode, rules, reasons, code, to_addr, prefix, country, ip, device_id, user_agent, verification_id)
      VALUES (@id, @app_id, @at, @action, @outcome, @mode, @rules, @reasons, @code, @to_addr, @prefix, @country, @ip, @device_id, @user_agent, @verification_id)`),
    gdList: c.prepare('gdList', `SELECT * FROM guard_decisions WHERE app_id = @app_id AND id < coalesce(@before, '~')
        AND (@rule IS NULL OR instr(rules, '"' || @rule || '"') > 0)
        AND (@prefix IS NULL OR prefix = @prefix) AND (@country IS NULL OR country = @country)
        AND (@since IS NULL OR at >= @since) AND (@until IS NULL OR at <= @until)
      ORDER BY id DESC LIMIT @limit`),
  };

  /**
   * Rows as this process knows them (null: known not to exist), the first read first. A full map drops the oldest
   * unchanged rows (not the least recently used: moving a row on every read, a delete and an insert in a map of
   * 100,000s, cost more than the reads it saves).
   */
  const live = new Map<string, GuardRow | null>();
  const dirty = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  /**
   * Every key of the table, read once (when it has at most MAX_KEYS rows): most requests bring a value never seen
   * before (a new prefix, a new address), and a key not in this set needs no read to know it has no row. Null: not
   * read yet, or the table is too big (then a key not in memory is read).
   */
  let keys: Set<string> | null = null;
  let keysRead = false;
  const knownAbsent = (key: string): boolean => {
    if (!keysRead) {
      keysRead = true;
      const n = (s.gsCount.get() as { n: number }).n;
      if (n <= MAX_KEYS) keys = new Set(s.gsKeys.pluck().all() as string[]);
    }
    return keys !== null && !keys.has(key);
  };
  const addKey = (key: string): void => {
    if (keys === null) return;
    keys.add(key);
    if (keys.size > MAX_KEYS) keys = null;
  };

  const load = (key: string): GuardRow | null => {
    let v = live.get(key);
    if (v === undefined) {
      const r = knownAbsent(key) ? undefined : (s.gsGet.get(key) as Row | undefined);
      v = r ? toGuardRow(r) : null;
      if (live.size >= MAX_LIVE) {
        for (const k of live.keys()) {
          if (live.size < MAX_LIVE * 0.9) break;
          if (!dirty.has(k)) live.delete(k);
        }
      }
      live.set(key, v);
    }
    return v;
  };

  const flush = (): void => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (dirty.size === 0) return;
    const rows: GuardRow[] = [];
    for (const k of dirty) {
      const g = live.get(k);
      if (g) rows.push(g);
    }
    dirty.clear();
    c.txRelaxed(() => {
      for (const g of rows) {
        const r = guardColumns(g);
        s.gsPut.run({ ...r, rules: text(r.rules) });
      }
    }).catch(() => {
      // Not written (disk full, busy past the timeout): marked changed again, for the next flush.
      for (const g of rows) if (live.get(g.key) === g) dirty.add(g.key);
    });
  };

  /** Reads the table after every change so far is committed. */
  const afterFlush = <T>(fn: () => T): Promise<T> => {
    flush();
    return c.txRelaxed(fn);
  };

  return {
    flush,

    async apply(keys, now, decide) {
      const rows = new Map<string, GuardRow>();
      for (const k of keys) {
        const g = load(k);
        if (g) rows.set(k, g);
      }
      const { change, out } = decide(rows);
      for (const g of change.rows) {
        live.set(g.key, g);
        dirty.add(g.key);
        addKey(g.key);
      }
      if (dirty.size > 0 && !timer) {
        timer = setTimeout(flush, FLUSH_MS);
        timer.unref();
      }
      if (change.decisions.length > 0 || change.events.length > 0 || (change.audit?.length ?? 0) > 0) {
        await c.txRelaxed(() => {
          for (const d of change.decisions) {
            const r = decisionColumns(d);
            s.gdInsert.run({ ...r, rules: text(r.rules), reasons: text(r.reasons) });
          }
          for (const e of change.events) c.emit(e.appId, e.type, () => e.data, {}, now);
          if (change.audit) c.writeAudit(change.audit);
        });
      }
      return out;
    },

    async decisions(appId, q) {
      return (s.gdList.all({
        app_id: appId, before: q.before ?? null, rule: q.rule ?? null, prefix: q.prefix ?? null, country: q.country ?? null,
        since: q.since ?? null, until: q.until ?? null, limit: q.limit,
      }) as Row[]).map(toDecision);
    },

    blocks(scope, now, limit) {
      return afterFlush(() => (s.gsBlocks.all(scope, now, limit) as Row[]).map(toGuardRow));
    },

    endedBlocks(now, limit) {
      return afterFlush(() => (s.gsEnded.all(now, limit) as Row[]).map(toGuardRow));
    },

    async get(keys) {
      return keys.flatMap((k) => {
        const g = load(k);
        return g ? [g] : [];
      });
    },

    purge(now, after, limit) {
      return afterFlush(() => {
        const rows = s.gsWalk.all(after, limit) as { key: string; expires_at: number }[];
        let deleted = 0;
        for (const r of rows) {
          if (r.expires_at >= now) continue;
          if (s.gsDelete.run(r.key, now).changes === 0) continue;
          deleted++;
          if (!dirty.has(r.key)) {
            live.delete(r.key);
            keys?.delete(r.key);
          }
        }
        return { deleted, next: rows.length < limit ? null : rows.at(-1)!.key };
      });
    },
  };
}
