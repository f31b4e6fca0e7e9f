/**
 * A throwaway PostgreSQL cluster for tests, from the installed server binaries (Debian: /usr/lib/postgresql/<v>/bin):
 * initdb into a temp dir (owned by the `postgres` user when we run as root, since PostgreSQL refuses to run as
 * root), a free port on 127.0.0.1, trust auth, stopped and deleted by `stop()`. When no binaries are installed this
 * throws: the suite fails loudly instead of skipping PostgreSQL.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Cluster {
  url: string;
  dir: string;
  port: number;
  /** Restarts the server (`fast`: disconnects every client, like a failover). Asynchronous: the event loop keeps running. */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  stopServer(mode?: 'fast' | 'immediate'): Promise<void>;
  startServer(): Promise<void>;
  stop(): void;
}

export function pgBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (!versions.length) {
    throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install the Debian package `postgresql` (.ci/run does)');
  }
  return join(root, versions[0]!, 'bin');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function command(bin: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

function run(bin: string, args: string[]): void {
  const [cmd, argv] = command(bin, args);
  const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: '/' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
}

async function runAsync(bin: string, args: string[]): Promise<void> {
  const [cmd, argv] = command(bin, args);
  try {
    await promisify(execFile)(cmd, argv, { encoding: 'utf8', cwd: '/' });
  } catch (e) {
    throw new Error(`${bin} ${args.join(' ')} failed: ${(e as { stderr?: string }).stderr ?? String(e)}`);
  }
}

export async function startCluster(opts: { settings?: Record<string, string | number> } = {}): Promise<Cluster> {
  const bin = pgBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'otpd-pg-'));
  if (asRoot) {
    chmodSync(dir, 0o700);
    execFileSync('chown', ['postgres:postgres', dir]);
  }
  const data = join(dir, 'data');
  run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1', port, unix_socket_directories: dir, max_connections: 400, shared_buffers: '64MB',
    fsync: 'on', synchronous_commit: 'on', log_min_messages: 'warning', ...opts.settings,
  };
  const o = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(' ');
  const log = join(dir, 'server.log');
  const startArgs = ['-D', data, '-l', log, '-o', o, '-w', '-t', '60', 'start'];
  const stopArgs = (mode: string) => ['-D', data, '-m', mode, '-w', 'stop'];
  const startServer = () => runAsync(join(bin, 'pg_ctl'), startArgs);
  const stopServer = (mode: 'fast' | 'immediate' = 'fast') => runAsync(join(bin, 'pg_ctl'), stopArgs(mode));
  await startServer();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir: data,
    port,
    startServer,
    stopServer,
    async restart(mode = 'fast') {
      await stopServer(mode);
      await startServer();
    },
    stop() {
      try { run(join(bin, 'pg_ctl'), stopArgs('immediate')); } catch { /* already down */ }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
