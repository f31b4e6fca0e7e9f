// Helpers the benchmark scripts share: options, medians, starting and stopping an otpd, one flow round.
import { execFileSync, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(root, 'packages/server/dist/cli/main.js');

/**
 * The settings of the apps the engine benchmarks use: the guard off. Their drivers (bench/flow.mjs, and the shared
 * compare.mjs) send sequential numbers, which the guard's per-prefix rules refuse by design; what the guard costs
 * is measured apart, side by side (docs/benchmarks.md section 7).
 */
export const ENGINE_SETTINGS = { guard: { mode: 'off' } };

/** Migrates the database of `env` (`apps create` never creates one) and creates an app there: `{ id, apiKey, … }`. */
export function createApp(env, name, settings = ENGINE_SETTINGS) {
  execFileSync(process.execPath, [BIN, 'migrate'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(execFileSync(process.execPath, [BIN, 'apps', 'create', '--name', name, '--settings', JSON.stringify(settings), '--json'], { env, encoding: 'utf8' }));
}

const argv = process.argv.slice(2);
/** `--name value` from the command line, or `def`. */
export const opt = (name, def) => { const i = argv.indexOf(`--${name}`); return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def; };
/** `--name` present on the command line. */
export const flag = (name) => argv.includes(`--${name}`);

export const median = (xs) => { const s = xs.filter(Number.isFinite).sort((a, b) => a - b); if (!s.length) return null; const m = s.length >> 1; return s.length % 2 ? s[m] : +((s[m - 1] + s[m]) / 2).toFixed(2); };

/** Starts `otpd serve` on `port` with `env` (own process group) and resolves once /readyz answers. */
export async function startOtpd(env, port) {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port)], { env, stdio: ['ignore', 'ignore', 'ignore'], detached: true });
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return child; } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error('otpd did not start');
}

/** SIGTERM to the process group, then waits for the exit. */
export async function stop(child) {
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
  await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
}

/** One bench/flow.mjs run against the otpd on `port`; its JSON result. */
export function flowRound(port, key, { concurrency, duration, warmup }) {
  const out = execFileSync(process.execPath, [join(root, 'bench/flow.mjs'), '--base', `http://127.0.0.1:${port}`, '--key', key,
    '--concurrency', String(concurrency), '--duration', String(duration), '--warmup', String(warmup)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

/** Medians over flow rounds: pairs/s, failures summed, p50/p99 per step. */
export function summarizeFlow(flow) {
  return {
    pairsPerSec: median(flow.map((x) => x.pairsPerSec)),
    failures: flow.reduce((a, x) => a + x.failures, 0),
    ...Object.fromEntries(['pair', 'start', 'read', 'check'].map((k) => [k, { p50ms: median(flow.map((x) => x[k].p50ms)), p99ms: median(flow.map((x) => x[k].p99ms)) }])),
  };
}
