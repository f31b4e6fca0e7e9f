/**
 * The SQLite adapter's own guarantees: WAL with synchronous=FULL, indexed plans.
 */
import { describe, expect, it } from 'vitest';
import type { SqliteStore } from '../src/store/sqlite/index.js';
import { ctx, useStore } from './store-fixtures.js';

useStore();

describe('SQLite store', () => {
  const sqlite = () => ctx.store as SqliteStore;

  it('runs WAL with synchronous=FULL', () => {
    expect(sqlite().db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(sqlite().db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('no prepared statement scans a whole table (every hot path has its index)', () => {
    const plans = sqlite().explainPlans();
    expect(plans.length).toBeGreaterThan(30);
    // Listing apps reads them all on purpose, so does the guard once at start (the keys it has rows for), and so
    // does loading the provider connections (every process keeps them all); everything else must search an index.
    const whole = ['appList', 'gsCount', 'gsKeys', 'conList'];
    // Scanning json_each reads the statement's own list of values (e.g. the prefixes asked for), not a table.
    const scans = plans.filter((p) => /\bSCAN (?!CONSTANT|json_each VIRTUAL TABLE)/.test(p.plan) && !whole.includes(p.name));
    expect(scans).toEqual([]);
  });

});

