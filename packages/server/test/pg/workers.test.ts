/**
 * Workers of two nodes (two otpd instances in this process) on one database: a message queued on one node and
 * delivered by the other's worker (woken by NOTIFY) is forgotten by the first node's bookkeeping too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phone, startHarness, type Harness } from '../helpers.js';

let a: Harness;
let b: Harness;
beforeAll(async () => {
  a = await startHarness();
  b = await startHarness({ databaseUrl: a.databaseUrl, keepDatabase: true, firstApp: false });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

describe('workers on two nodes', () => {
  it("a message queued on node A and sent by node B's worker is not waited for by A forever", async () => {
    await a.otpd.worker!.stop(); // A queues but does not deliver
    const to = phone();
    const s = await a.req('POST', '/v1/verifications', { to });
    expect(s.status).toBe(201);
    expect(a.otpd.worker!.hasQueued(a.appId, to)).toBe(true);
    // B hears of it (NOTIFY) and delivers it to its own dev inbox.
    for (let i = 0; i < 100 && !b.otpd.devInbox!.list(a.appId, to, 10).length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(b.otpd.devInbox!.list(a.appId, to, 10).map((m) => m.verificationId)).toEqual([s.body.id]);
    // A's next drain finds nothing left to claim: everything queued before it is handed, by someone.
    await a.otpd.worker!.flush();
    expect(a.otpd.worker!.hasQueued(a.appId, to)).toBe(false);
    const msgs = await a.req('GET', `/v1/verifications/${s.body.id}/messages`);
    expect(msgs.body.data.map((m: { status: string }) => m.status)).toEqual(['sent']);
  });
});

describe('an idle worker looks again on its own', () => {
  it('finds work another node queued without telling anyone (no kick, no NOTIFY), within its idle re-check', async () => {
    // A's and B's workers are stopped and A's NOTIFY is silenced: only C's own idle re-check can find the message.
    const c = await startHarness({ databaseUrl: a.databaseUrl, keepDatabase: true, firstApp: false, worker: { idleRecheckMs: 300 } });
    try {
      await c.otpd.worker!.flush(); // idle: nothing due, so its next look is the idle re-check
      await a.otpd.worker!.stop();
      b.otpd.worker && (await b.otpd.worker.stop());
      const to = phone();
      (a.otpd.store as { signal?: unknown }).signal = () => undefined; // silence A's NOTIFY for this message
      const s = await a.req('POST', '/v1/verifications', { to });
      expect(s.status).toBe(201);
      for (let i = 0; i < 100 && !c.otpd.devInbox!.list(a.appId, to, 10).length; i++) await new Promise((r) => setTimeout(r, 20));
      expect(c.otpd.devInbox!.list(a.appId, to, 10).map((m) => m.verificationId)).toEqual([s.body.id]);
    } finally {
      await c.close();
    }
  });
});
