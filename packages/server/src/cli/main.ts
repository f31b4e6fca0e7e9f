#!/usr/bin/env node
/** The `otpd` command: serve, migrate, apps. */
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig, type ConfigOverrides } from '../config.js';
import { redactDatabaseUrl } from '../store/url.js';
import { OtpdError } from '../domain/errors.js';
import { systemClock } from '../domain/clock.js';
import { AppsService } from '../services/apps.js';
import { deriveKeys } from '../domain/code.js';
import { createOtpd, openStore } from '../server.js';

const program = new Command();
program.name('otpd').description('Self-hosted OTP verification service').showHelpAfterError();

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const port = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError('not a port number');
  return Number(v);
};

function fail(e: unknown): never {
  if (e instanceof ConfigError) console.error(`otpd: configuration error: ${e.message}`);
  else if (e instanceof OtpdError) console.error(`otpd: ${e.code}: ${e.message}`);
  else console.error('otpd:', e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
}

program
  .command('serve')
  .description('Run the HTTP service (migrates the database first)')
  .option('--host <host>', 'listen address (OTPD_HOST, default 127.0.0.1)')
  .option('--port <port>', 'listen port (OTPD_PORT, default 8080)', port)
  .option('--database <url>', 'database URL (OTPD_DATABASE_URL, default sqlite:./data/otpd.sqlite)')
  .option('--env <env>', 'development or production (OTPD_ENV)')
  .action(async (o: { host?: string; port?: number; database?: string; env?: string }) => {
    try {
      const config = loadConfig({ host: o.host, port: o.port, databaseUrl: o.database, env: o.env });
      const otpd = await createOtpd(config);
      const url = await otpd.listen();
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
      fail(e);
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
      const store = await openStore(config.databaseUrl);
      let extra: Record<string, unknown> = {};
      if (o.settings) {
        try { extra = JSON.parse(o.settings) as Record<string, unknown>; } catch { throw new OtpdError('invalid_request', '--settings is not valid JSON'); }
        if (!extra || typeof extra !== 'object' || Array.isArray(extra)) throw new OtpdError('invalid_request', '--settings must be a JSON object');
      }
      const created = await new AppsService(store, systemClock, config.secret ? deriveKeys(config.secret) : null).create({
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
        console.log(`app ${created.id} "${created.name}" created`);
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
      const store = await openStore(config.databaseUrl);
      const all = await store.listApps();
      await store.close();
      if (o.json) console.log(JSON.stringify(all, null, 2));
      else for (const a of all) console.log(`${a.id}  ${a.enabled ? 'enabled ' : 'disabled'}  ${a.name}`);
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
