/**
 * The guard's rows, decisions and blocks (see ports/guard.ts). Decisions arriving in one turn of the event loop run
 * as ONE transaction: every row they need locked in key order (one statement, which also creates the missing
 * ones), each decision run in arrival order on the rows as the ones before it left them, all changes written by one
 * statement. At most two such groups run at once per node; other nodes wait on the row locks.
 */
import type { GuardRow } from '../../domain/records.js';
import type { DecisionQuery, GuardChange, GuardPort } from '../ports/index.js';
import { decisionColumns, guardColumns, toDecision, toGuardRow } from '../rows.js';
import { q, type Db } from './connection.js';
import { writeAudit } from './audit.js';
import type { Events } from './events.js';

interface Op {
  keys: readonly string[];
  now: number;
  decide: (rows: ReadonlyMap<string, GuardRow>) => { change: GuardChange; out: unknown };
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

const MAX_GROUP = 64;
const MAX_RUNNING = 2;

export class PgGuard implements GuardPort {
  private readonly queue: Op[] = [];
  private scheduled = false;
  private running = 0;

  constructor(private readonly db: Db, private readonly events: Events) {}

  apply<T>(keys: readonly string[], now: number, decide: (rows: ReadonlyMap<string, GuardRow>) => { change: GuardChange; out: T }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ keys, now, decide, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running >= MAX_RUNNING || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.running >= MAX_RUNNING) return;
      const ops = this.queue.splice(0, MAX_GROUP);
      this.running++;
      this.run(ops).finally(() => {
        this.running--;
        this.schedule();
      });
      this.schedule();
    });
  }

  private async run(ops: Op[]): Promise<void> {
    const now = Math.max(...ops.map((o) => o.now));
    const keys = [...new Set(ops.flatMap((o) => o.keys))];
    let results: { ok: boolean; value: unknown }[] = [];
    try {
      await this.db.tx(async (t) => {
        const rows = new Map<string, GuardRow>();
        if (keys.length > 0) {
          for (const r of (await q(t.c, 'gsLock', [keys, now])).rows) if (!r.inserted) rows.set(r.key as string, toGuardRow(r));
        }
        const written = new Map<string, GuardRow>();
        const decisions: GuardChange['decisions'] = [];
        const events: GuardChange['events'] = [];
        const audit: NonNullable<GuardChange['audit']> = [];
        results = ops.map((op) => {
          try {
            const { change, out } = op.decide(rows);
            for (const g of change.rows) {
              rows.set(g.key, g);
              written.set(g.key, g);
            }
            decisions.push(...change.decisions);
            events.push(...change.events);
            audit.push(...(change.audit ?? []));
            return { ok: true, value: out };
          } catch (e) {
            return { ok: false, value: e };
          }
        });
        if (written.size > 0) await q(t.c, 'gsPut', [JSON.stringify([...written.values()].map(guardColumns))]);
        if (decisions.length > 0) await q(t.c, 'gdInsert', [JSON.stringify(decisions.map(decisionColumns))]);
        for (const e of events) await this.events.emit(t, e.appId, e.type, () => e.data, {}, now);
        if (audit.length > 0) await writeAudit(t, audit);
      });
    } catch (e) {
      for (const op of ops) op.reject(e);
      return;
    }
    ops.forEach((op, i) => (results[i]!.ok ? op.resolve(results[i]!.value) : op.reject(results[i]!.value)));
  }

  async decisions(appId: string, dq: DecisionQuery) {
    return (await this.db.read('gdList', [appId, dq.before ?? null, dq.rule ?? null, dq.prefix ?? null, dq.country ?? null, dq.since ?? null, dq.until ?? null, dq.limit]))
      .map(toDecision);
  }

  async blocks(scope: string, now: number, limit: number) {
    return (await this.db.read('gsBlocks', [scope, now, limit])).map(toGuardRow);
  }

  async get(keys: readonly string[]) {
    return keys.length === 0 ? [] : (await this.db.read('gsGet', [keys])).map(toGuardRow);
  }

  async purge(now: number, after: string | null, limit: number) {
    const r = (await this.db.read('gsPurge', [after, limit, now]))[0]!;
    return { deleted: Number(r.deleted), next: Number(r.seen) < limit ? null : (r.last as string) };
  }
}
