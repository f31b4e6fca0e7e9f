/**
 * Model-based property test: random sequences of start / resend / check (right, wrong, by recipient) / cancel /
 * time passing, run through the real service and SQLite, compared step by step with a small independent model
 * of the rules (seed 000 defaults). Any divergence — an extra try, a fresh send, a missed lockout, a verification
 * that should have verified — fails with the shrunk sequence.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OtpdError } from '../src/domain/errors.js';
import type { AppRecord } from '../src/domain/records.js';
import { clientOf } from '../src/guard/client.js';
import { phone, startHarness, wrong, type Harness } from './helpers.js';

const MAX_TRIES = 3;
const MAX_SENDS = 6;
const COOLDOWN = 60_000;
const LOCK = 86_400_000;
const TTL = 300_000;
/** The service is driven directly, as by a request from one address. */
const client = clientOf('192.0.2.1', 'state-machine-test');

type Op =
  | { k: 'start' } | { k: 'resend' } | { k: 'right' } | { k: 'wrong' } | { k: 'rightByTo' } | { k: 'cancel' }
  | { k: 'wait'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ k: 'start' } as Op) },
  { weight: 3, arbitrary: fc.constant({ k: 'resend' } as Op) },
  { weight: 2, arbitrary: fc.constant({ k: 'right' } as Op) },
  { weight: 5, arbitrary: fc.constant({ k: 'wrong' } as Op) },
  { weight: 1, arbitrary: fc.constant({ k: 'rightByTo' } as Op) },
  { weight: 1, arbitrary: fc.constant({ k: 'cancel' } as Op) },
  { weight: 5, arbitrary: fc.constantFrom(1_000, 20_000, 61_000, 240_000, 3_600_000, 90_000_000).map((ms) => ({ k: 'wait', ms }) as Op) },
);

/** The rules, written independently of src/domain. */
class Model {
  sends = 0;
  wrongs = 0;
  windowStart: number | null = null;
  lastSend: number | null = null;
  lockedUntil: number | null = null;
  lockBy: 'sends' | 'tries' | null = null;
  v: { id: string; code: string; left: number; expiresAt: number; status: string } | null = null;

  /** Counters as the service sees them at `now` (lazy reset after a served lock or a quiet window). */
  counters(now: number) {
    let { sends, wrongs, windowStart, lockedUntil, lockBy } = this;
    if (lockedUntil !== null && lockedUntil <= now) { sends = 0; wrongs = 0; windowStart = now; lockedUntil = null; lockBy = null; }
    else if (lockedUntil === null && windowStart !== null && now - windowStart >= LOCK) { sends = 0; wrongs = 0; windowStart = now; }
    return { sends, wrongs, windowStart: windowStart ?? now, lockedUntil, lockBy };
  }
  commit(c: ReturnType<Model['counters']>) { Object.assign(this, c); }
  status(now: number) {
    if (!this.v) return null;
    return this.v.status === 'pending' && this.v.expiresAt <= now ? 'expired' : this.v.status;
  }
}

let h: Harness;
let app: AppRecord;
beforeAll(async () => {
  h = await startHarness({ config: { logLevel: 'warn' } });
  app = (await h.otpd.store.apps.get(h.appId))!;
});
afterAll(async () => { await h.close(); });

async function codeOf(to: string, id: string): Promise<string> {
  await h.otpd.worker!.flush();
  const m = h.otpd.devInbox!.list(h.appId, to, 20).find((x) => x.verificationId === id);
  if (!m) throw new Error('no message');
  return m.code;
}

const codeOfError = (e: unknown) => (e instanceof OtpdError ? e.code : `unexpected ${String(e)}`);

async function run(ops: Op[]) {
  const svc = h.otpd.verifications;
  const to = phone();
  const m = new Model();
  const log: string[] = [];
  for (const op of ops) {
    const now = h.clock.now();
    log.push(op.k === 'wait' ? `wait ${op.ms}` : op.k);
    const where = () => log.join(' > ');
    if (op.k === 'wait') { h.clock.advance(op.ms); continue; }

    if (op.k === 'start') {
      const c = m.counters(now);
      let expected: string;
      if (c.lockedUntil !== null) expected = 'phone_locked';
      else if (c.wrongs >= MAX_TRIES || c.sends >= MAX_SENDS) expected = 'phone_locked';
      else if (m.lastSend !== null && now < m.lastSend + COOLDOWN) expected = 'rate_limited';
      else expected = 'created';
      let got: string;
      let body: { id: string; attempts: number; sends: number } | null = null;
      try {
        body = JSON.parse((await svc.start(app, { to }, client)).json);
        got = 'created';
      } catch (e) { got = codeOfError(e); }
      expect(got, where()).toBe(expected);
      if (got === 'created') {
        const sends = c.sends + 1;
        expect(body!.sends, where()).toBe(sends);
        expect(body!.attempts, where()).toBe(c.wrongs);
        if (m.v && m.status(now) === 'pending') m.v.status = 'canceled';
        m.commit({ ...c, sends, ...(sends >= MAX_SENDS ? { lockedUntil: now + LOCK, lockBy: 'sends' as const } : {}) });
        m.lastSend = now;
        m.v = { id: body!.id, code: await codeOf(to, body!.id), left: MAX_TRIES - c.wrongs, expiresAt: now + TTL, status: 'pending' };
      }
      continue;
    }

    if (!m.v) continue; // nothing to act on yet
    const st = m.status(now);

    if (op.k === 'resend') {
      const c = m.counters(now);
      let expected: string;
      if (st === 'expired') expected = 'verification_expired';
      else if (st === 'failed') expected = 'max_attempts_reached';
      else if (st !== 'pending') expected = 'verification_not_pending';
      else if (c.lockedUntil !== null) expected = c.lockBy === 'sends' ? 'max_sends_reached' : 'phone_locked';
      else if (m.lastSend !== null && now < m.lastSend + COOLDOWN) expected = 'rate_limited';
      else expected = 'sent';
      let got: string;
      let sendsSeen = -1;
      try { sendsSeen = (await svc.resend(app, m.v.id, client)).sends; got = 'sent'; } catch (e) { got = codeOfError(e); }
      expect(got, where()).toBe(expected);
      if (got === 'sent') {
        const sends = c.sends + 1;
        expect(sendsSeen, where()).toBe(sends);
        m.commit({ ...c, sends, ...(sends >= MAX_SENDS ? { lockedUntil: now + LOCK, lockBy: 'sends' as const } : {}) });
        m.lastSend = now;
      }
      continue;
    }

    if (op.k === 'cancel') {
      let got: string;
      try { got = (await svc.cancel(app, m.v.id)).status; } catch (e) { got = codeOfError(e); }
      expect(got, where()).toBe(st === 'pending' || st === 'canceled' ? 'canceled' : 'verification_not_pending');
      if (st === 'pending') m.v.status = 'canceled';
      continue;
    }

    // checks
    const right = op.k !== 'wrong';
    const code = right ? m.v.code : wrong(m.v.code);
    const r = op.k === 'rightByTo' ? await svc.check(app, { to }, code, client) : await svc.check(app, { id: m.v.id }, code, client);
    expect(r.id, where()).toBe(m.v.id);
    if (st !== 'pending') {
      expect(r, where()).toMatchObject({ status: st, valid: false, attemptsRemaining: 0 });
      if (st === 'expired') m.v.status = 'expired';
      continue;
    }
    const c = m.counters(now);
    if (right) {
      expect(r, where()).toMatchObject({ status: 'verified', valid: true });
      m.v.status = 'verified';
      m.commit({ sends: 0, wrongs: 0, windowStart: now, lockedUntil: null, lockBy: null });
      m.lastSend = null;
    } else {
      m.v.left -= 1;
      const wrongs = c.wrongs + 1;
      if (m.v.left === 0) {
        expect(r, where()).toMatchObject({ status: 'failed', valid: false, attemptsRemaining: 0 });
        m.v.status = 'failed';
        m.commit({ ...c, wrongs, lockedUntil: now + LOCK, lockBy: 'tries' });
      } else {
        expect(r, where()).toMatchObject({ status: 'pending', valid: false, attemptsRemaining: m.v.left });
        m.commit({ ...c, wrongs });
      }
    }
    // Invariants the rules exist for.
    expect(m.counters(h.clock.now()).wrongs).toBeLessThanOrEqual(MAX_TRIES);
    expect(m.counters(h.clock.now()).sends).toBeLessThanOrEqual(MAX_SENDS);
  }
}

describe('verification state machine', () => {
  it('matches the model on random sequences', async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), run), { numRuns: 200 });
  });
});
