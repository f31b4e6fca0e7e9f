/**
 * The store port's contract, on the store of this test run (SQLite, or PostgreSQL in the `postgres` project):
 * refusals that record a lock, the one-pending invariant in the schema, retention, batched starts.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../src/domain/clock.js';
import { OtpdError } from '../src/domain/errors.js';
import { AuthLimiter } from '../src/guard/auth-limiter.js';
import { newId } from '../src/domain/ids.js';
import { STORE } from './helpers.js';
import { count, ctx, now, rows, start, useStore } from './store-fixtures.js';

useStore();

describe(`store contract (${STORE})`, () => {
  it('a refusal is thrown after its lock is committed', async () => {
    const err = new OtpdError('phone_locked');
    const lock = { sends: 6, failures: 0, windowStartedAt: now, lastSendAt: now, lockedUntil: now + 1000, lockReason: 'sends' as const };
    await expect(ctx.store.verifications.start({ appId: 'app_1', to: '+33644444444', now, lockout: 86_400 }, () => ({ ok: false, error: err, phone: lock }))).rejects.toBe(err);
    expect(await rows("SELECT locked_until FROM phone_states WHERE to_addr = '+33644444444'")).toEqual([{ locked_until: now + 1000 }]);
  });

  it('a refusal with nothing to record leaves nothing behind', async () => {
    await expect(ctx.store.verifications.start({ appId: 'app_1', to: '+33645454545', now, lockout: 86_400 }, () => ({ ok: false, error: new OtpdError('rate_limited') }))).rejects.toThrow();
    expect(await count("SELECT count(*) AS n FROM phone_states WHERE to_addr = '+33645454545'")).toBe(0);
  });

  it('a new start closes the pending one of the same phone; the one-pending invariant is also enforced by the schema', async () => {
    await start('ver_D', '+33655555555', 'msg_D');
    await start('ver_E', '+33655555555', 'msg_E');
    expect(await rows("SELECT id, status FROM verifications WHERE to_addr = '+33655555555' ORDER BY id")).toEqual([{ id: 'ver_D', status: 'canceled' }, { id: 'ver_E', status: 'pending' }]);
    await expect(rows(`INSERT INTO verifications SELECT 'ver_F', app_id, to_addr, country_iso, channel, locale, status, code_type, code_length,
      code_hash, code_sealed, attempts, max_attempts, sends, max_sends, resend_available_at, expires_at, created_at, updated_at, verified_at, parts, cost, metadata,
      channels, step, step_timeout, callback_url, signals, payment FROM verifications WHERE id = 'ver_E'`)).rejects.toThrow(/UNIQUE|duplicate key/i);
  });

  it('retention deletes what is older than the cutoff in batches, by primary key, and keeps the rest', async () => {
    const day = 86_400_000;
    for (let i = 0; i < 5; i++) {
      const at = now - 40 * day + i;
      await start(newId('ver', at), `+3366000000${i}`, newId('msg', at), at);
    }
    await start(newId('ver', now), '+33660000009', newId('msg', now));
    const cutoff = now - 30 * day;
    expect(await ctx.store.maintenance.purgeBefore(cutoff, 2)).toMatchObject({ verifications: 2, outbox: 2 });
    expect(await ctx.store.maintenance.purgeBefore(cutoff, 2)).toMatchObject({ verifications: 2, outbox: 2 });
    expect(await ctx.store.maintenance.purgeBefore(cutoff, 2)).toMatchObject({ verifications: 1, outbox: 1 });
    expect(await ctx.store.maintenance.purgeBefore(cutoff, 2)).toMatchObject({ verifications: 0, outbox: 0 });
    expect(await rows('SELECT to_addr FROM verifications')).toEqual([{ to_addr: '+33660000009' }]);
    expect(await count('SELECT count(*) AS n FROM outbox')).toBe(1);
  });
  it('a success removes the phone\'s row: its counters are back to those of a phone never seen, and no row is kept per phone', async () => {
    await start('ver_G', '+33666666666', 'msg_G');
    expect(await count("SELECT count(*) AS n FROM phone_states WHERE to_addr = '+33666666666'")).toBe(1);
    const r = await ctx.store.verifications.check({ appId: 'app_1', target: { id: 'ver_G' }, now: now + 1000, lockout: 86_400 }, () => true);
    expect(r).toMatchObject({ outcome: 'verified', verification: { status: 'verified', attempts: 1 } });
    expect(await count("SELECT count(*) AS n FROM phone_states WHERE to_addr = '+33666666666'")).toBe(0);
    // The next start finds a fresh phone: no cooldown, one send counted.
    await start('ver_H', '+33666666666', 'msg_H', now + 2000);
    expect(await rows("SELECT sends, failures FROM phone_states WHERE to_addr = '+33666666666'")).toEqual([{ sends: 1, failures: 0 }]);
  });

  it('starts arriving together (SQLite group commit, PostgreSQL batched groups): one that fails fails alone, leaving no half-written state', async () => {
    // Same tick, so one group: the second reuses the first's id (primary key violation) after writing nothing else.
    const results = await Promise.allSettled([
      start('ver_A', '+33611111111', 'msg_A'),
      start('ver_A', '+33622222222', 'msg_B'),
      start('ver_C', '+33633333333', 'msg_C'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await count('SELECT count(*) AS n FROM verifications')).toBe(2);
    expect(await count("SELECT count(*) AS n FROM outbox WHERE id = 'msg_B'")).toBe(0);
    expect(await count("SELECT count(*) AS n FROM phone_states WHERE to_addr = '+33622222222'")).toBe(0);
  });
});

describe('failed authentications counted in the store', () => {
  const refused = (l: AuthLimiter, ip: string) => {
    try {
      l.check(ip, null);
      return false;
    } catch (e) {
      expect((e as OtpdError).code).toBe('rate_limited');
      return true;
    }
  };

  it('two limiters on one store share one budget per source: each blocks at its first failure once the sum is over', async () => {
    const clock = new FakeClock();
    const nodes = [0, 1].map(() => new AuthLimiter(clock, { max: 4, windowMs: 60_000, shared: ctx.store.guard }));
    const [a, b] = nodes as [AuthLimiter, AuthLimiter];
    for (let i = 0; i < 3; i++) a.fail('198.51.100.9');
    await a.idle();
    expect(refused(a, '198.51.100.9') || refused(b, '198.51.100.9')).toBe(false);
    // The fourth failure anywhere reaches the limit: B, which counted one alone, blocks the source.
    b.fail('198.51.100.9');
    await b.idle();
    expect(refused(b, '198.51.100.9')).toBe(true);
    // A learns of it at its next failure there (off the request's path), and another source is untouched.
    expect(refused(a, '198.51.100.9')).toBe(false);
    a.fail('198.51.100.9');
    await a.idle();
    expect(refused(a, '198.51.100.9')).toBe(true);
    expect(refused(a, '198.51.100.10') || refused(b, '198.51.100.10')).toBe(false);
    // The window ends for both, and a new one counts from zero.
    clock.advance(60_000);
    expect(refused(a, '198.51.100.9') || refused(b, '198.51.100.9')).toBe(false);
    a.fail('198.51.100.9');
    await a.idle();
    expect(refused(a, '198.51.100.9') || refused(b, '198.51.100.9')).toBe(false);
  });
});
