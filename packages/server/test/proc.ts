/** Running the real `otpd` binary (built dist/, as `npm test` builds first) from tests: CLI commands and servers. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = join(dirname(fileURLToPath(import.meta.url)), '../dist/cli/main.js');
/** Every server started and not yet exited (tests kill them in afterAll). */
export const children = new Set<ChildProcess>();

export function assertBuilt(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build (npm test does)`);
}

export function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
}

export function cli(args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `otpd serve --port 0` and resolves with its URL once it logs that it listens. */
export function serve(env: NodeJS.ProcessEnv, args: string[] = []): Promise<{ child: ChildProcess; url: string; out: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.on('exit', () => children.delete(child));
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out} ${err}`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"url":"(http:\/\/[^"]+)","env"/.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, url: m[1]!, out: () => out }); }
    });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); if (process.env.DEBUG_SERVE) process.stderr.write(d); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited ${code}: ${err}`)); });
  });
}

export const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));

export async function call(url: string, key: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(url + path, {
    method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, body: parsed as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
}
