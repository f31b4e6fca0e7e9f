/**
 * Prism (Stoplight) serving a provider's OpenAPI spec as a validating mock on 127.0.0.1: a request that does not
 * match the spec (missing field, wrong type, bad auth) gets an error instead of the spec's example.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const SPECS = resolve(root, '../shared/specs');

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

export class Prism {
  private child: ChildProcess | null = null;
  url = '';
  log = '';

  /**
   * `errors: true` adds Prism's --errors: violations in the mock's *own* responses become 500s as well. Request
   * validation (a 422 for any request that does not match the spec) happens either way. Vonage's SMS spec needs
   * `false`: its own example answer does not satisfy its `oneOf` (SMS | Error have no required fields).
   */
  constructor(private readonly spec: string, private readonly opts: { errors?: boolean } = {}) {}

  async start(): Promise<this> {
    if (!existsSync(this.spec)) throw new Error(`spec not found: ${this.spec} (../shared/specs must sit beside the repository)`);
    const bin = join(root, 'node_modules/.bin/prism');
    if (!existsSync(bin)) throw new Error('prism is not installed: npm ci installs @stoplight/prism-cli');
    for (let tries = 0; tries < 3; tries++) {
      const port = await freePort();
      const args = ['mock', '-h', '127.0.0.1', '-p', String(port), ...(this.opts.errors === false ? [] : ['--errors']), this.spec];
      this.child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const up = await new Promise<boolean>((res) => {
        const timer = setTimeout(() => res(false), 60_000);
        const on = (d: Buffer) => {
          this.log += d.toString();
          if (this.log.includes('Prism is listening')) { clearTimeout(timer); res(true); }
        };
        this.child!.stdout!.on('data', on);
        this.child!.stderr!.on('data', on);
        this.child!.once('exit', () => { clearTimeout(timer); res(false); });
      });
      if (up) { this.url = `http://127.0.0.1:${port}`; return this; }
      this.child.kill('SIGKILL');
    }
    throw new Error(`prism did not start:\n${this.log.slice(-2000)}`);
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child!.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}
