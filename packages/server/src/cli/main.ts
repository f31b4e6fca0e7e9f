#!/usr/bin/env node
/** The `otpd` command: serve, migrate, apps. */
import { existsSync, readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig, type ConfigOverrides } from '../config.js';
import { redactDatabaseUrl } from '../store/url.js';
import { sqliteFileFromUrl } from '../store/sqlite/index.js';
import { OtpdError } from '../domain/errors.js';
import { systemClock } from '../domain/clock.js';
import { AppsService } from '../services/apps.js';
import { deriveKeys } from '../domain/code.js';
import { createOtpd, openStore } from '../server.js';
import { ConnectionsService, resealConnections } from '../services/connections.js';
import { createProviders } from '../providers/registry.js';
import { DevInbox } from '../delivery/dev-inbox.js';
import { outboundUrlCheck } from '../delivery/outbound-url.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const program = new Command();
program.name('otpd').description('Self-hosted OTP verification service').version(version, '-v, --version').showHelpAfterError();

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const port = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError('not a port number');
  return Number(v);
};

/** Why listening failed, in words an operator can act on (null: not a listen error). */
function listenError(e: unknown, host: string, port: number): string | null {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  const where = `${host}:${port}`;
  if (code === 'EADDRINUSE') return `cannot listen on ${where}: the port is in use (choose another with --port or OTPD_PORT)`;
  if (code === 'EACCES') return `cannot listen on ${where}: permission denied (ports below 1024 need privileges)`;
  if (code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: ${host} is not an address of this machine (--host or OTPD_HOST)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') return `cannot listen on ${where}: ${host} does not resolve (--host or OTPD_HOST)`;
  return null;
}

/** A failure that is the operator's to fix prints one line; only a defect prints its stack. */
function fail(e: unknown, listen?: { host: string; port: number }): never {
  const listenWhy = listen ? listenError(e, listen.host, listen.port) : null;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (listenWhy) console.error(`otpd: ${listenWhy}`);
  else if (e instanceof ConfigError) console.error(`otpd: configuration error: ${e.message}`);
  else if (e instanceof OtpdError) console.error(`otpd: ${e.code}: ${e.message}`);
  else if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === '28P01' || code === '3D000') console.error(`otpd: cannot open the database: ${(e as Error).message}`);
  else console.error('otpd:', e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
}

/**
 * Commands that manage an existing service never create its database: a missing SQLite file means this command is
 * not looking where the server keeps its data (another folder, another OTPD_DATA_DIR), and a new empty database
 * would only hand out keys the server does not know.
 */
function requireExistingDatabase(databaseUrl: string): void {
  if (!databaseUrl.startsWith('sqlite:')) return;
  const file = sqliteFileFromUrl(databaseUrl);
  if (file !== ':memory:' && !existsSync(file)) {
    throw new ConfigError(`no otpd database at ${file}: start the server first (npm start), run otpd migrate, or point OTPD_DATABASE_URL / --database at the server's database`);
  }
}

program
  .command('serve')
  .description('Run the HTTP service (migrates the database first)')
  .option('--host <host>', 'listen address (OTPD_HOST, default 127.0.0.1)')
  .option('--port <port>', 'listen port (OTPD_PORT, default 8080)', port)
  .option('--database <url>', 'database URL (OTPD_DATABASE_URL, default sqlite:./data/otpd.sqlite)')
  .option('--env <env>', 'development or production (OTPD_ENV)')
  .action(async (o: { host?: string; port?: number; database?: string; env?: string }) => {
    let listening: { host: string; port: number } | undefined;
    try {
      const config = loadConfig({ host: o.host, port: o.port, databaseUrl: o.database, env: o.env });
      const otpd = await createOtpd(config);
      listening = { host: config.host, port: config.port };
      const url = await otpd.listen().catch(async (e: unknown) => {
        await otpd.close().catch(() => undefined);
        throw e;
      });
      listening = undefined;
      otpd.logger.info({ url, env: config.env, database: redactDatabaseUrl(config.databaseUrl), delivery: config.delivery }, 'otpd listening');
      if (config.env === 'development') printWelcome(url, config.secretSource === 'generated' ? config.dataDir : null, config.adminTokenSource === 'env' ? null : config.adminToken);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        otpd.logger.info({ signal }, 'shutting down');
        const hard = setTimeout(() => process.exit(1), 25_000);
        hard.unref();
        otpd.close().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(1); });
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    } catch (e) {
      fail(e, listening);
    }
  });

program
  .command('migrate')
  .description('Apply database migrations and exit')
  .option('--database <url>', 'database URL (OTPD_DATABASE_URL)')
  .action(async (o: { database?: string }) => {
    try {
      const config = loadConfig({ databaseUrl: o.database }, process.env, { needSecret: false });
      const store = await openStore(config.databaseUrl);
      const applied = await store.migrate();
      await store.close();
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
    } catch (e) {
      fail(e);
    }
  });

const apps = program.command('apps').description('Manage apps (tenants) and their API keys');
apps
  .command('create')
  .description('Create an app and its first API key (shown once)')
  .requiredOption('--name <name>', 'app name, also the {{app}} brand in messages')
  .option('--brand <brand>', 'brand shown in messages instead of the name')
  .option('--allow-countries <ISO,...>', 'only these destination countries', list)
  .option('--deny-countries <ISO,...>', 'never these destination countries', list)
  .option('--locale <locale>', 'default message language')
  .option('--settings <json>', 'more settings as JSON, e.g. {"defaultChannels":["whatsapp","sms"],"routing":{"sms":[{"providers":["twilio"]}]}}')
  .option('--database <url>', 'database URL (OTPD_DATABASE_URL)')
  .option('--json', 'print JSON')
  .action(async (o: { name: string; brand?: string; allowCountries?: string[]; denyCountries?: string[]; locale?: string; settings?: string; database?: string; json?: boolean }) => {
    try {
      const config = loadConfig({ databaseUrl: o.database }, process.env, { needSecret: 'optional' });
      requireExistingDatabase(config.databaseUrl);
      const store = await openStore(config.databaseUrl);
      let extra: Record<string, unknown> = {};
      if (o.settings) {
        try { extra = JSON.parse(o.settings) as Record<string, unknown>; } catch { throw new OtpdError('invalid_request', '--settings is not valid JSON'); }
        if (!extra || typeof extra !== 'object' || Array.isArray(extra)) throw new OtpdError('invalid_request', '--settings must be a JSON object');
      }
      const created = await new AppsService(store, systemClock, config.secret ? deriveKeys(config.secret) : null, outboundUrlCheck(config.env === 'production')).create({
        name: o.name,
        settings: {
          ...extra,
          ...(o.brand ? { brandName: o.brand } : {}),
          ...(o.allowCountries ? { allowedCountries: o.allowCountries } : {}),
          ...(o.denyCountries ? { deniedCountries: o.denyCountries } : {}),
          ...(o.locale ? { defaultLocale: o.locale } : {}),
        },
      }, 'cli');
      await store.close();
      if (o.json) console.log(JSON.stringify(created, null, 2));
      else {
        console.log(`app ${created.id} "${created.name}" created in ${redactDatabaseUrl(config.databaseUrl)}`);
        console.log(`API key (shown once, store it now): ${created.apiKey}`);
        if (created.callbackSecret) console.log(`Callback secret (signs status callbacks; shown once): ${created.callbackSecret}`);
      }
    } catch (e) {
      fail(e);
    }
  });
apps
  .command('list')
  .description('List apps')
  .option('--database <url>', 'database URL (OTPD_DATABASE_URL)')
  .option('--json', 'print JSON')
  .action(async (o: { database?: string; json?: boolean }) => {
    try {
      const config = loadConfig({ databaseUrl: o.database }, process.env, { needSecret: false });
      requireExistingDatabase(config.databaseUrl);
      const store = await openStore(config.databaseUrl);
      const all = await store.apps.list();
      await store.close();
      if (o.json) console.log(JSON.stringify(all, null, 2));
      else for (const a of all) console.log(`${a.id}  ${a.enabled ? 'enabled ' : 'disabled'}  ${a.name}`);
    } catch (e) {
      fail(e);
    }
  });

/** A store and the connections service over it (the server's providers known by name), for one CLI command. */
async function openConnections(database: string | undefined) {
  const config = loadConfig({ databaseUrl: database }, process.env, { needSecret: true });
  requireExistingDatabase(config.databaseUrl);
  const store = await openStore(config.databaseUrl);
  const dev = { inbox: new DevInbox(), out: null, now: () => Date.now() };
  const svc = new ConnectionsService({ store, clock: systemClock, keys: deriveKeys(config.secret), providers: createProviders(config.providers.providers, dev), dev, serverRouting: config.providers.routing });
  await svc.load();
  return { config, store, svc };
}

const connections = program.command('connections').description("Manage provider connections: apps' own provider accounts, and shared ones (a running server sees a change within a minute)");
connections
  .command('list')
  .description('List connections (credentials masked)')
  .option('--app <id>', "an app's connections (default: the shared ones)")
  .option('--database <url>', 'database URL (OTPD_DATABASE_URL)')
  .option('--json', 'print JSON')
  .action(async (o: { app?: string; database?: string; json?: boolean }) => {
    try {
      const { store, svc } = await openConnections(o.database);
      const list = svc.list(o.app ?? null);
      await store.close();
      if (o.json) console.log(JSON.stringify(list, null, 2));
      else for (const c of list) console.log(`${c.id}  ${c.type.padEnd(8)}  ${c.name}  (${c.channels.join(', ')})`);
    } catch (e) {
      fail(e);
    }
  });
connections
  .command('create')
  .description('Create a connection from an entry like those of OTPD_PROVIDERS (its credentials are sealed in the database)')
  .requiredOption('--entry <json>', 'the entry, e.g. {"name":"acme-twilio","type":"twilio","accountSid":"AC…","authToken":"…","from":"+1…"}; or @file.json')
  .option('--app <id>', 'the app that owns it (default: shared by every app)')
  .option('--database <url>', 'database URL (OTPD_DATABASE_URL)')
  .option('--json', 'print JSON')
  .action(async (o: { entry: string; app?: string; database?: string; json?: boolean }) => {
    try {
      let entry: unknown;
      const text = o.entry.startsWith('@') ? readFileSync(o.entry.slice(1), 'utf8') : o.entry;
      try { entry = JSON.parse(text); } catch { throw new OtpdError('invalid_request', '--entry is not valid JSON'); }
      if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw new OtpdError('invalid_request', '--entry must be a JSON object');
      const { store, svc } = await openConnections(o.database);
      try {
        if (o.app && !(await store.apps.get(o.app))) throw new OtpdError('not_found', `No app ${o.app}`);
        const made = await svc.create(o.app ?? null, entry as Record<string, unknown>, 'cli');
        if (o.json) console.log(JSON.stringify(made, null, 2));
        else console.log(`connection ${made.id} "${made.name}" (${made.type}: ${made.channels.join(', ')}) created${o.app ? ` for ${o.app}` : ', shared'}`);
      } finally {
        await store.close();
      }
    } catch (e) {
      fail(e);
    }
  });
connections
  .command('delete <id>')
  .description('Delete a connection (refused while a routing rule names it)')
  .option('--app <id>', 'the app that owns it (default: a shared one)')
  .option('--database <url>', 'database URL (OTPD_DATABASE_URL)')
  .action(async (id: string, o: { app?: string; database?: string }) => {
    try {
      const { store, svc } = await openConnections(o.database);
      try {
        const apps = await store.apps.list();
        const users = (name: string) => Promise.resolve(apps.filter((a) => (o.app === undefined || a.id === o.app) && Object.values(a.settings.routing ?? {}).some((rules) => rules?.some((r) => r.providers.includes(name)))).map((a) => a.id));
        await svc.remove(o.app ?? null, id, 'cli', users);
        console.log(`connection ${id} deleted`);
      } finally {
        await store.close();
      }
    } catch (e) {
      fail(e);
    }
  });
connections
  .command('reseal')
  .description('After OTPD_SECRET changed: open every connection with the previous secret and seal it again with OTPD_SECRET')
  .requiredOption('--previous-secret-file <path>', 'a file holding the previous OTPD_SECRET')
  .option('--database <url>', 'database URL (OTPD_DATABASE_URL)')
  .action(async (o: { previousSecretFile: string; database?: string }) => {
    try {
      const config = loadConfig({ databaseUrl: o.database }, process.env, { needSecret: true });
      requireExistingDatabase(config.databaseUrl);
      const store = await openStore(config.databaseUrl);
      try {
        const previous = readFileSync(o.previousSecretFile, 'utf8').trim();
        const n = await resealConnections(store, systemClock, deriveKeys(previous), deriveKeys(config.secret));
        console.log(`${n.resealed} connection(s) sealed again with OTPD_SECRET; ${n.current} already were`);
      } finally {
        await store.close();
      }
    } catch (e) {
      fail(e);
    }
  });

function printWelcome(url: string, newSecretDir: string | null, adminToken: string | null): void {
  const lines = [
    '',
    `otpd is running in development mode at ${url}  (codes are printed here and kept at GET /dev/messages)`,
    ...(newSecretDir ? [`A new code secret was generated in ${newSecretDir}/secret (set OTPD_SECRET in production).`] : []),
    ...(adminToken ? [`Admin API token (development; kept in the data dir; set OTPD_ADMIN_TOKEN in production): ${adminToken}`] : []),
    '',
    'Create an app (in another terminal) and keep its key:',
    '  KEY=$(npx otpd apps create --name demo --json | node -p "JSON.parse(require(\'fs\').readFileSync(0)).apiKey")',
    'Send a first code:',
    `  curl -s ${url}/v1/verifications -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"to":"+33612345678"}'`,
    'Read it, then check it (use the id from the first answer):',
    `  curl -s "${url}/dev/messages?to=%2B33612345678" -H "Authorization: Bearer $KEY"`,
    `  curl -s ${url}/v1/verifications/ver_.../check -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"code":"123456"}'`,
    `API docs: ${url}/docs`,
    '',
  ];
  process.stderr.write(lines.join('\n') + '\n');
}

program.parseAsync().catch(fail);
