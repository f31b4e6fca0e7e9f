/**
 * The PostgreSQL adapter's own guarantees: indexed plans, notifications between nodes.
 */
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import { openStore } from '../../src/server.js';
import type { PgStore } from '../../src/store/postgres/index.js';
import { SQL } from '../../src/store/postgres/sql.js';
import { ctx, now, plan, useStore } from '../store-fixtures.js';

useStore();

describe('PostgreSQL store', () => {
  const pgs = () => ctx.store as PgStore;

  it('no statement reads a whole table when an index would do (plans with sequential scans priced out)', async () => {
    const c = await pgs().pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SET LOCAL enable_seqscan = off');
      // The plan every connection settles on after a few executions of a named statement.
      await c.query('SET LOCAL plan_cache_mode = force_generic_plan');
      const scans: string[] = [];
      for (const [name, text] of Object.entries(SQL)) {
        if (['appList', 'ping', 'cbCounts'].includes(name)) continue; // whole-table on purpose, or no table
        const n = Math.max(0, ...[...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
        await c.query(`PREPARE p_${name} AS ${text}`);
        const plan = (await c.query(`EXPLAIN EXECUTE p_${name}${n ? `(${Array(n).fill('NULL').join(', ')})` : ''}`)).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
        if (/Seq Scan on (?!jsonb)/.test(plan)) scans.push(`${name}:\n${plan}`);
      }
      await c.query('ROLLBACK');
      expect(scans).toEqual([]);
    } finally {
      c.release();
    }
  });

  it('another node hears of queued work and of changed apps (LISTEN/NOTIFY)', async () => {
    const other = (await openStore(ctx.db.url, { listen: true })) as PgStore;
    try {
      const me = (await openStore(ctx.db.url, { listen: true })) as PgStore;
      await new Promise((r) => setTimeout(r, 200)); // both listening
      const work = new Promise<void>((resolve) => { other.onWork = resolve; });
      const changed = new Promise<string>((resolve) => { other.onAppChanged = resolve; });
      let selfWoken = false;
      me.onWork = () => { selfWoken = true; };
      await me.startVerification({ appId: 'app_1', to: '+33670000000', now, lockout: 86_400 }, () => plan(newId('ver', now), '+33670000000', newId('msg', now)));
      await work;
      await me.createApp({ id: 'app_N', name: 'n', enabled: true, settings: {}, createdAt: now, updatedAt: now },
        { id: 'key_N', appId: 'app_N', name: 'k', prefix: 'otpd_x', hash: Buffer.alloc(32, 9), createdAt: now, expiresAt: null, revokedAt: null });
      await me.updateApp('app_N', (before) => ({ after: { ...before, name: 'renamed' }, audit: [] }));
      expect(await changed).toBe('app_N');
      expect(selfWoken).toBe(false); // a node does not wake itself: it kicked its worker in-process already
      await me.close();
    } finally {
      await other.close();
    }
  });
});
