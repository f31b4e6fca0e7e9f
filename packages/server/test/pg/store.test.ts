/**
 * The PostgreSQL adapter's own guarantees: indexed plans, compare-and-set checks, notifications between nodes.
 */
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import { openStore } from '../../src/server.js';
import type { PgStore } from '../../src/store/postgres/index.js';
import { SQL } from '../../src/store/postgres/sql.js';
import { ctx, now, plan, rows, start, useStore } from '../store-fixtures.js';

useStore();

describe('PostgreSQL store', () => {
  const pgs = () => ctx.store as PgStore;

  it('every statement is an index lookup, on tables of many rows of which few are pending (the generic plans kept)', async () => {
    const c = await pgs().pool.connect();
    try {
      await c.query('BEGIN');
      // Many settled rows and a few pending/sending ones, analyzed: the state in which the planner, trusting the
      // statistics, liked to read a whole small partial index (filtering by id) over primary-key lookups, and a
      // connection's cached generic plan would go on doing so after the pending rows became many.
      await c.query(`INSERT INTO verifications (id, app_id, to_addr, country_iso, channel, locale, status, code_type, code_length, code_hash,
          attempts, max_attempts, sends, max_sends, resend_available_at, expires_at, created_at, updated_at, parts, cost)
        SELECT 'ver_' || lpad(i::text, 8, '0'), 'app_1', '+3361' || lpad(i::text, 7, '0'), 'FR', 'sms', 'en',
          CASE WHEN i % 1000 = 0 THEN 'pending' ELSE 'verified' END, 'numeric', 6, '\\x00', 0, 5, 1, 5, 0, ${now} + i, ${now}, ${now}, 1, 0
        FROM generate_series(1, 5000) i`);
      await c.query(`INSERT INTO outbox (id, app_id, verification_id, channel, to_addr, locale, body, status, available_at, created_at, parts, cost)
        SELECT 'msg_' || lpad(i::text, 8, '0'), 'app_1', 'ver_' || lpad(i::text, 8, '0'), 'sms', '+3361' || lpad(i::text, 7, '0'), 'en', 'b',
          CASE WHEN i % 1000 = 0 THEN 'sending' WHEN i % 1000 = 1 THEN 'queued' ELSE 'sent' END, ${now}, ${now}, 1, 0
        FROM generate_series(1, 5000) i`);
      await c.query(`INSERT INTO webhook_deliveries (id, app_id, endpoint_id, url, event_id, status, next_attempt_at, created_at, updated_at)
        SELECT 'whd_' || lpad(i::text, 8, '0'), 'app_1', 'whk_' || (i % 50), 'https://x.test/', 'evt_' || i,
          CASE WHEN i % 1000 = 0 THEN 'sending' WHEN i % 1000 = 1 THEN 'pending' ELSE 'succeeded' END, ${now}, ${now}, ${now}
        FROM generate_series(1, 5000) i`);
      await c.query(`INSERT INTO phone_states (app_id, to_addr, sends, failures, window_started_at)
        SELECT 'app_1', '+3361' || lpad(i::text, 7, '0'), 1, 0, ${now} FROM generate_series(1, 5000) i`);
      await c.query(`INSERT INTO apps (id, name, created_at, updated_at) SELECT 'app_x' || i, 'x', ${now}, ${now} FROM generate_series(1, 500) i`);
      await c.query(`INSERT INTO api_keys (id, app_id, name, prefix, hash, created_at)
        SELECT 'key_x' || i, 'app_x' || (i % 500 + 1), 'k', 'otpd_x', sha256(i::text::bytea), ${now} FROM generate_series(1, 2000) i`);
      await c.query('ANALYZE');
      await c.query('SET LOCAL enable_seqscan = off');
      // The plan every connection settles on after a few executions of a named statement.
      await c.query('SET LOCAL plan_cache_mode = force_generic_plan');
      const bad: string[] = [];
      // A scan with no index condition reads the whole index: allowed only to take the first rows in index order. A
      // scan that filters by id reads a range of another index (e.g. every pending row not yet expired) for one row.
      const walk = (node: Record<string, unknown>, name: string, underLimit: boolean): void => {
        const type = node['Node Type'] as string;
        const whole = /Index/.test(type) && !node['Index Cond'];
        const byIdFilter = /Index/.test(type) && /\bid = /.test((node.Filter as string | undefined) ?? '');
        if (/^Seq Scan$/.test(type) || (whole && (!underLimit || node.Filter)) || byIdFilter) {
          bad.push(`${name}: ${type} on ${(node['Index Name'] ?? node['Relation Name']) as string}${node.Filter ? ` filter ${node.Filter as string}` : ''}`);
        }
        for (const child of (node.Plans ?? []) as Record<string, unknown>[]) walk(child, name, underLimit || type === 'Limit');
      };
      for (const [name, text] of Object.entries(SQL)) {
        if (['appList', 'ping', 'cbCounts', 'conList'].includes(name)) continue; // whole-table on purpose (conList: every process keeps every connection), or no table
        const n = Math.max(0, ...[...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
        await c.query(`PREPARE p_${name} AS ${text}`);
        const plan = (await c.query(`EXPLAIN (FORMAT JSON) EXECUTE p_${name}${n ? `(${Array(n).fill('NULL').join(', ')})` : ''}`)).rows[0]['QUERY PLAN'][0].Plan;
        walk(plan as Record<string, unknown>, name, false);
      }
      await c.query('ROLLBACK');
      expect(bad).toEqual([]);
    } finally {
      c.release();
    }
  });

  it('filters by a list of values (= ANY) only on columns that lead an index (a custom plan may otherwise read a whole index)', async () => {
    const leading = new Set((await pgs().pool.query(`SELECT a.attname FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]`)).rows.map((r) => r.attname as string));
    const bad = Object.entries(SQL).flatMap(([name, text]) => [...text.matchAll(/(\w+) = ANY ?\(\$/g)]
      .map((m) => m[1]!).filter((col) => !leading.has(col)).map((col) => `${name}: ${col}`));
    expect(leading.has('id')).toBe(true);
    expect(bad).toEqual([]);
  });

  it('a check whose phone changed between its read and its write runs again under the lock: the try counts once, the change stays', async () => {
    await start('ver_X', '+33677777777', 'msg_X');
    const c = await pgs().pool.connect();
    try {
      await c.query('BEGIN');
      await c.query("SELECT 1 FROM phone_states WHERE to_addr = '+33677777777' FOR UPDATE");
      const check = ctx.store.verifications.check({ appId: 'app_1', target: { id: 'ver_X' }, now: now + 1000, lockout: 86_400 }, () => false);
      // The check has read the phone (no lock) and its compare-and-set write now waits for the phone's lock.
      for (let i = 0; ; i++) {
        // (Asked on another connection: a transaction sees one snapshot of pg_stat_activity.)
        const waiting = await pgs().pool.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH pv AS%'");
        if (waiting.rowCount) break;
        if (i > 100) throw new Error('the check never waited for the phone');
        await new Promise((r) => setTimeout(r, 20));
      }
      await c.query("UPDATE phone_states SET sends = sends + 1 WHERE to_addr = '+33677777777'"); // e.g. a resend on another node
      await c.query('COMMIT');
      const r = await check;
      expect(r).toMatchObject({ outcome: 'wrong', verification: { attempts: 1 } });
    } finally {
      c.release();
    }
    expect(await rows("SELECT sends, failures FROM phone_states WHERE to_addr = '+33677777777'")).toEqual([{ sends: 2, failures: 1 }]);
    expect(await rows("SELECT attempts, status FROM verifications WHERE id = 'ver_X'")).toEqual([{ attempts: 1, status: 'pending' }]);
  });

  it('a check on the node that started the verification is written without a read first; what changed since makes the write miss', async () => {
    await start('ver_R', '+33677777771', 'msg_R');
    const names: string[] = [];
    const pool = pgs().pool;
    const query = pool.query.bind(pool) as (...a: unknown[]) => unknown;
    (pool as unknown as { query: (...a: unknown[]) => unknown }).query = (cfg: unknown, ...rest: unknown[]) => {
      names.push((cfg as { name?: string }).name ?? 'text');
      return query(cfg, ...rest);
    };
    try {
      const first = await ctx.store.verifications.check({ appId: 'app_1', target: { id: 'ver_R' }, now: now + 1000, lockout: 86_400 }, () => false);
      expect(first).toMatchObject({ outcome: 'wrong', verification: { attempts: 1 } });
      const checks = () => names.filter((n) => n.startsWith('check'));
      expect(checks()).toEqual(['checkApply']);
      // Another node moves the workflow on (a new step, its channel): the phone's row does not change, the
      // verification's updated_at does. The check that follows here must not answer from what it remembers.
      await rows("UPDATE verifications SET step = 1, channel = 'whatsapp', updated_at = updated_at + 5000 WHERE id = 'ver_R'");
      const second = await ctx.store.verifications.check({ appId: 'app_1', target: { id: 'ver_R' }, now: now + 9000, lockout: 86_400 }, () => false);
      expect(second).toMatchObject({ outcome: 'wrong', verification: { attempts: 2, step: 1, channel: 'whatsapp' } });
      expect(checks()).toEqual(['checkApply', 'checkApply']); // the second missed, then ran under the locks (own client)
    } finally {
      (pool as unknown as { query: unknown }).query = query;
    }
    expect(await rows("SELECT attempts, step, channel FROM verifications WHERE id = 'ver_R'")).toEqual([{ attempts: 2, step: 1, channel: 'whatsapp' }]);
    // Another app asking for this id is not answered from memory either.
    expect(await ctx.store.verifications.check({ appId: 'app_2', target: { id: 'ver_R' }, now: now + 9500, lockout: 86_400 }, () => true)).toBeNull();
  });

  it('another node hears of queued work and of changed apps (LISTEN/NOTIFY)', async () => {
    const other = (await openStore(ctx.db.url, { listen: true })) as PgStore;
    try {
      const me = (await openStore(ctx.db.url, { listen: true })) as PgStore;
      await new Promise((r) => setTimeout(r, 200)); // both listening
      const work = new Promise<void>((resolve) => { other.hooks.onWork = resolve; });
      const changed = new Promise<string>((resolve) => { other.hooks.onAppChanged = resolve; });
      let selfWoken = false;
      me.hooks.onWork = () => { selfWoken = true; };
      await me.verifications.start({ appId: 'app_1', to: '+33670000000', now, lockout: 86_400 }, () => plan(newId('ver', now), '+33670000000', newId('msg', now)));
      await work;
      await me.apps.create({ id: 'app_N', name: 'n', enabled: true, settings: {}, createdAt: now, updatedAt: now },
        { id: 'key_N', appId: 'app_N', name: 'k', prefix: 'otpd_x', hash: Buffer.alloc(32, 9), createdAt: now, expiresAt: null, revokedAt: null });
      await me.apps.update('app_N', (before) => ({ after: { ...before, name: 'renamed' }, audit: [] }));
      expect(await changed).toBe('app_N');
      expect(selfWoken).toBe(false); // a node does not wake itself: it kicked its worker in-process already
      await me.close();
    } finally {
      await other.close();
    }
  });
});
