/**
 * The guard's rows, decisions and blocks (see ports/guard.ts). Decisions arriving in one turn of the event loop form
 * a group, run one group at a time per node:
 *
 * - **Compare-and-set** (the usual way): the group is decided on the rows this node remembers (a row it never saw is
 *   taken as absent), then ONE statement, which commits on its own, locks the rows, checks that each still has the
 *   version read, and writes the changes. No transaction round trips, no lock held while Node decides.
 * - If another node changed one of the rows (or one this node took as absent exists), the group reads the rows and
 *   tries once more; then it falls back to the **locked transaction**: every row locked in key order (one statement,
 *   which also creates the missing ones), each decision run in arrival order, all changes written by one statement.
 *   Groups that record decisions, events or audit entries (refusals, unblocks) always take it.
 */
/*
 * The compare-and-set statements run on connections with `synchronous_commit = off` (Db.readRelaxed): their commit
 * does not wait for the WAL flush, so a crash of the database can lose the last few hundred milliseconds of counters
 * (never a refusal, a block or an event: those take the locked transaction, durable like the rest). The same trade
 * as the embedded store's writes behind; measured ×1.06 throughput with the guard on.
 */
import type { GuardRow } from '../../domain/records.js';
import type { DecisionQuery, GuardChange, GuardPort } from '../ports/index.js';
import { decisionColumns, guardColumns, toDecision, toGuardRow } from '../rows.js';
import { writeAudit } from './audit.js';
import { q, type Db } from './connection.js';
import type { Events } from './events.js';

interface Op {
  keys: readonly string[];
  now: number;
  decide: (rows: ReadonlyMap<string, GuardRow>) => { change: GuardChange; out: unknown };
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

interface Decided {
  results: { ok: boolean; value: unknown }[];
  written: Map<string, GuardRow>;
  decisions: GuardChange['decisions'];
  events: GuardChange['events'];
  audit: NonNullable<GuardChange['audit']>;
}

const MAX_GROUP = 64;
/** Rows (and their versions) this node remembers. */
const MAX_KNOWN = 100_000;

/** Runs a group's decisions in order on `rows` (each sees the writes of those before it). */
function decideAll(ops: Op[], rows: Map<string, GuardRow>): Decided {
  const d: Decided = { results: [], written: new Map(), decisions: [], events: [], audit: [] };
  d.results = ops.map((op) => {
    try {
      const { change, out } = op.decide(rows);
      for (const g of change.rows) {
        rows.set(g.key, g);
        d.written.set(g.key, g);
      }
      d.decisions.push(...change.decisions);
      d.events.push(...change.events);
      d.audit.push(...(change.audit ?? []));
      return { ok: true, value: out };
    } catch (e) {
      return { ok: false, value: e };
    }
  });
  return d;
}

export class PgGuard implements GuardPort {
  private readonly queue: Op[] = [];
  private scheduled = false;
  private running = false;
  /** key → the row as this node last read or wrote it (null: no row) and its version (0: no row). */
  private readonly known = new Map<string, { row: GuardRow | null; version: number }>();

  constructor(private readonly db: Db, private readonly events: Events) {}

  apply<T>(keys: readonly string[], now: number, decide: (rows: ReadonlyMap<string, GuardRow>) => { change: GuardChange; out: T }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ keys, now, decide, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.running) return;
      const ops = this.queue.splice(0, MAX_GROUP);
      this.running = true;
      this.run(ops).finally(() => {
        this.running = false;
        this.schedule();
      });
    });
  }

  private remember(key: string, row: GuardRow | null, version: number): void {
    this.known.delete(key);
    if (this.known.size >= MAX_KNOWN) this.known.delete(this.known.keys().next().value!);
    this.known.set(key, { row, version });
  }

  private async run(ops: Op[]): Promise<void> {
    const now = Math.max(...ops.map((o) => o.now));
    const keys = [...new Set(ops.flatMap((o) => o.keys))];
    let done: Decided | null = null;
    try {
      for (let attempt = 0; attempt < 2 && !done; attempt++) {
        if (attempt > 0) await this.read(keys);
        done = await this.compareAndSet(ops, keys);
      }
      done ??= await this.locked(ops, keys, now);
    } catch (e) {
      for (const op of ops) op.reject(e);
      return;
    }
    ops.forEach((op, i) => (done!.results[i]!.ok ? op.resolve(done!.results[i]!.value) : op.reject(done!.results[i]!.value)));
  }

  /** Reads the rows of `keys` into what this node remembers. */
  private async read(keys: string[]): Promise<void> {
    const found = new Map((await this.db.read('gsGet', [keys])).map((r) => [r.key as string, r]));
    for (const k of keys) {
      const r = found.get(k);
      this.remember(k, r ? toGuardRow(r) : null, r ? Number(r.version) : 0);
    }
  }

  /** The group decided on the remembered rows and written by one compare-and-set; null when a row had changed. */
  private async compareAndSet(ops: Op[], keys: string[]): Promise<Decided | null> {
    const rows = new Map<string, GuardRow>();
    const versions = keys.map((k) => {
      const m = this.known.get(k);
      if (m?.row) rows.set(k, m.row);
      return m?.version ?? 0;
    });
    const d = decideAll(ops, rows);
    if (d.decisions.length > 0 || d.events.length > 0 || d.audit.length > 0) return null;
    // Nothing to write and every row remembered: answered from memory (a check's admission). A row another node
    // changed since is seen at this node's next write of it (its compare-and-set fails and the row is read again).
    if (d.written.size === 0 && keys.every((k) => this.known.has(k))) return d;
    const expected = new Map(keys.map((k, i) => [k, versions[i]!]));
    const write = [...d.written.values()].map((g) => ({ ...guardColumns(g), expected: expected.get(g.key) ?? 0 }));
    let r;
    try {
      r = (await this.db.readRelaxed('gsCas', [keys, versions, JSON.stringify(write)]))[0]!;
    } catch (e) {
      if ((e as { code?: string }).code === '23505') return null; // a row taken as absent was inserted meanwhile
      throw e;
    }
    if (!r.ok) return null;
    for (const k of keys) if (!this.known.has(k)) this.remember(k, null, 0); // checked absent
    for (const [key, version] of r.versions as [string, number][]) this.remember(key, d.written.get(key)!, Number(version));
    return d;
  }

  /** The group in one transaction holding every row it needs. */
  private locked(ops: Op[], keys: string[], now: number): Promise<Decided> {
    return this.db.tx(async (t) => {
      const rows = new Map<string, GuardRow>();
      if (keys.length > 0) {
        for (const r of (await q(t.c, 'gsLock', [keys, now])).rows) {
          if (!r.inserted) rows.set(r.key as string, toGuardRow(r));
          this.remember(r.key as string, r.inserted ? null : toGuardRow(r), Number(r.version));
        }
      }
      const d = decideAll(ops, rows);
      if (d.written.size > 0) {
        for (const v of (await q(t.c, 'gsPut', [JSON.stringify([...d.written.values()].map(guardColumns))])).rows) {
          this.remember(v.key as string, d.written.get(v.key as string)!, Number(v.version));
        }
      }
      if (d.decisions.length > 0) await q(t.c, 'gdInsert', [JSON.stringify(d.decisions.map(decisionColumns))]);
      for (const e of d.events) await this.events.emit(t, e.appId, e.type, () => e.data, {}, now);
      if (d.audit.length > 0) await writeAudit(t, d.audit);
      return d;
    }).catch((e: unknown) => {
      // Rolled back: what this node remembers of these rows may be ahead of the database.
      for (const k of keys) this.known.delete(k);
      throw e;
    });
  }

  async decisions(appId: string, dq: DecisionQuery) {
    return (await this.db.read('gdList', [appId, dq.before ?? null, dq.rule ?? null, dq.prefix ?? null, dq.country ?? null, dq.since ?? null, dq.until ?? null, dq.limit]))
      .map(toDecision);
  }

  async blocks(scope: string, now: number, limit: number) {
    return (await this.db.read('gsBlocks', [scope, now, limit])).map(toGuardRow);
  }

  async endedBlocks(now: number, limit: number) {
    return (await this.db.read('gsEnded', [now, limit])).map(toGuardRow);
  }

  async get(keys: readonly string[]) {
    return keys.length === 0 ? [] : (await this.db.read('gsGet', [keys])).map(toGuardRow);
  }

  async purge(now: number, after: string | null, limit: number) {
    const r = (await this.db.read('gsPurge', [after, limit, now]))[0]!;
    return { deleted: Number(r.deleted), next: Number(r.seen) < limit ? null : (r.last as string) };
  }
}
