#!/usr/bin/env node
// The guard's model: the traffic mix of bench/fraud-sim.mjs (bench/fraud-scenarios.mjs) run on the guard's decision
// functions (packages/server/dist/guard/evaluate.js: evaluate, onVerified) with a virtual clock, the standard rules
// and every row in memory: ten minutes of traffic in about a second, repeatable (seeded). For tuning rules and
// comparing designs; the simulator against a running otpd is the judge (it also runs the engine, the store and HTTP).
//
//   node bench/guard-model.mjs [--seconds 600] [--typing 20-60] [--seeds 5] [--dist DIR] [--hidden] [--json out.json]
//   --dist  another build's dist/guard directory (evaluate.js, rules.js, guard.js), to compare designs
//
// Prints the first seed's table and, over the seeds, the median and the worst of each target.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { mobileCountry, report, results, scenarios } from './fraud-scenarios.mjs';
import { flag, median, opt, root } from './lib.mjs';

const dist = (f) => import(pathToFileURL(join(opt('dist', join(root, 'packages/server/dist/guard')), f)).href);
const { evaluate, onVerified } = await dist('evaluate.js');
const { rulesForLevel } = await dist('rules.js');
const { prefixOf, rangeOf } = await dist('guard.js');

const SECONDS = Number(opt('seconds', 600));
const [TYPE_MIN, TYPE_MAX] = String(opt('typing', '20-60')).split('-').map(Number);
const SEEDS = Number(opt('seeds', 5));
const rules = rulesForLevel('standard');
const scope = () => 'app';

/** A seeded generator in [0, 1) (mulberry32). */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A min-heap of [time, seq, fn]: events in time order, ties in the order they were scheduled. */
class Queue {
  h = [];
  n = 0;
  push(t, fn) {
    const h = this.h;
    h.push([t, this.n++, fn]);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (this.less(h[p], h[i])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }
  pop() {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
  less(a, b) { return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]); }
}

function run(seed) {
  const random = seeded(seed);
  const rows = new Map();
  const put = (rs) => { for (const r of rs) rows.set(r.key, r); };
  const q = new Queue();
  const stats = new Map();
  let now = 0;
  const stat = (name, kind) => { if (!stats.has(name)) stats.set(name, { name, kind, attempts: 0, accepted: 0, reachedProvider: 0, refused: {} }); return stats.get(name); };
  const every = (perSecond, from, to, fn) => { for (let t = from * 1000; t < to * 1000; t += 1000 / perSecond) q.push(t, fn); };
  const attempt = (name, kind, to, body = {}, headers = {}, verify = false) => {
    const s = stat(name, kind);
    s.attempts++;
    const country = mobileCountry(to);
    // Behind the trusted proxy, the client is the address the proxy saw (the last X-Forwarded-For entry).
    const ip = body.ip ?? headers['x-forwarded-for']?.split(',').at(-1).trim();
    const range = rangeOf?.(to); // (builds before ranges have none)
    const values = { app: 'app', global: 'all', phone: to, prefix: prefixOf(to), ...(range ? { range } : {}), country, ...(ip ? { ip } : {}) };
    const e = evaluate(rules, rows, scope, { action: 'start', values, country, sends: 1 }, now);
    put(e.rows);
    if (e.refusals.length > 0) {
      const code = e.refusals.some((r) => r.rule.kind !== 'rate') ? 'fraud_blocked' : 'rate_limited';
      s.refused[code] = (s.refused[code] ?? 0) + 1;
      return;
    }
    s.accepted++;
    s.reachedProvider++;
    if (verify) q.push(now + (TYPE_MIN + random() * (TYPE_MAX - TYPE_MIN)) * 1000, () => put(onVerified(rules, rows, scope, { values, country, sends: 1 }, now)));
  };
  scenarios(SECONDS, { every, attempt, random }, { hidden: flag('hidden') });
  while (q.h.length > 0) {
    const [t, , fn] = q.pop();
    now = t;
    fn();
  }
  const out = [...stats.values()];
  return { rows: out, ...results(out) };
}

const runs = Array.from({ length: SEEDS }, (_, i) => run(i + 1));
console.log(report(runs[0].rows, runs[0]));
const pick = (f) => runs.map(f);
const summary = {
  seconds: SECONDS, typing: [TYPE_MIN, TYPE_MAX], seeds: SEEDS,
  legitRefusedPct: { median: median(pick((r) => r.legit.refusedPct)), worst: Math.max(...pick((r) => r.legit.refusedPct)) },
  attacksStoppedPct: { median: median(pick((r) => r.attacks.stoppedPct)), worst: Math.min(...pick((r) => r.attacks.stoppedPct)) },
  worstLeak: { median: median(pick((r) => r.attacks.worstLeak)), worst: Math.max(...pick((r) => r.attacks.worstLeak)) },
};
console.log(`\nover ${SEEDS} seeds: legitimate refused median ${summary.legitRefusedPct.median} % (worst ${summary.legitRefusedPct.worst} %); attacks stopped median ${summary.attacksStoppedPct.median} % (worst ${summary.attacksStoppedPct.worst} %); worst leak in one attack median ${summary.worstLeak.median} (worst ${summary.worstLeak.worst})`);
if (opt('json')) writeFileSync(opt('json'), JSON.stringify({ ...summary, runs }, null, 2));
