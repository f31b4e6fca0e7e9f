/**
 * The one place that reads the environment. Every setting, its default and its validation live here; the rest
 * of the code receives a `Config`.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import ipaddr from 'ipaddr.js';
import { checkProvidersFile, type ProvidersFile } from './providers/registry.js';
import { CHANNELS } from './domain/channels.js';
import type { PriceTable } from './domain/segments.js';
import { EMPTY_PRICES } from './domain/segments.js';
import { isPostgresUrl } from './store/url.js';
import { parseGlobalLimit, type RateRule } from './guard/rules.js';

/**
 * Timings and sizes of the background work, written once. They are not settings (no variable sets them): tests pass
 * their own to the workers they build, the defaults come from here.
 */
export const TIMINGS = {
  /** The outbox worker: claim batch, claim lease, tries per provider on transient failures, backoff. */
  delivery: { batch: 256, leaseMs: 60_000, maxTries: 4, retryBaseMs: 1_000, retryCapMs: 60_000 },
  /** How soon a worker with nothing due looks again (work other nodes left behind is found then). */
  idleRecheckMs: 60_000,
  /** How long a node trusts what it cached of an app's configuration (API keys, OAuth clients, templates, senders,
   * webhook endpoints) when no change notification says otherwise. */
  configCacheMs: 5_000,
  /** Provider connections are reloaded this often besides on change notices (another process's changes). */
  connectionsReloadMs: 60_000,
  /** The webhook worker: claim batch, claim lease, how long an endpoint has to answer. */
  webhooks: { batch: 64, leaseMs: 60_000, timeoutMs: 10_000 },
  /** Pending verifications whose time ran out are closed (verification.expired) this often, this many at a time. */
  expirySweep: { everyMs: 5_000, batch: 500 },
  /** An Idempotency-Key is remembered this long; expired ones are deleted this often. */
  idempotency: { ttlMs: 24 * 3_600_000, purgeEveryMs: 10 * 60_000 },
  /** Retention runs this often (first soon after start), deleting this many rows per table per batch. */
  retention: { everyMs: 10 * 60_000, firstAfterMs: 5_000, batch: 1_000 },
  /** Guard blocks that ran out are announced (fraud.unblocked) this often, this many at a time. */
  guardBlockEnds: { everyMs: 60_000, batch: 500 },
  /** Analytics counts are written to the rollups this often (what a crash loses at most). */
  analytics: { flushMs: 1_000 },
} as const;

export type Env = 'development' | 'production';
export type DeliveryMode = 'console' | 'none' | 'providers';

export interface Config {
  env: Env;
  host: string;
  port: number;
  databaseUrl: string;
  /** PostgreSQL: connections per node. */
  poolSize: number;
  /** Verifications, messages, events and deliveries older than this are deleted (0: never). */
  retentionDays: number;
  dataDir: string;
  /** HMAC key for codes (and the root of the sealing key). */
  secret: string;
  /** Where the secret came from, for the start-up banner. */
  secretSource: 'env' | 'file' | 'generated';
  /** Guards /admin/v1 (Authorization: Bearer). */
  adminToken: string;
  /** Bearer token for GET /metrics (besides the admin token); null: the admin token only. */
  metricsToken: string | null;
  /** OTPD_METRICS=off: no metrics kept and no /metrics route. */
  metrics: boolean;
  /** OTPD_ANALYTICS=off: no rollups kept (the analytics routes answer what was kept before). */
  analytics: boolean;
  /** Hourly analytics rows are kept this many days (daily rows are kept for good). */
  analyticsHourlyDays: number;
  /** OTPD_DASHBOARD=off: no /dashboard (nor its sign-in); the admin API then takes the bearer token only. */
  dashboard: boolean;
  /** Where the dashboard's build is (OTPD_DASHBOARD_DIR; default: the workspace's packages/dashboard/dist). */
  dashboardDir: string | undefined;
  /** The widget's build (OTPD_WIDGET_FILE; default: the workspace's packages/widget/dist/otpd-verify.js). */
  widgetFile: string | undefined;
  adminTokenSource: 'env' | 'file' | 'generated';
  delivery: DeliveryMode;
  /** Providers and default routing: from OTPD_PROVIDERS, or the console provider alone in development. */
  providers: ProvidersFile;
  /** Public base URL of this service, for provider receipt callbacks (none: no callbacks are requested). */
  publicUrl: string | undefined;
  logLevel: string;
  prices: PriceTable;
  /** Lifetime of OAuth access tokens, seconds. */
  oauthTokenTtl: number;
  /** Largest request body accepted, in bytes. */
  bodyLimit: number;
  /**
   * Which peers may speak for the client in X-Forwarded-For: false (none), or the addresses or CIDR ranges of the
   * reverse proxies (the chain is followed from the right through them only).
   */
  trustProxy: false | string[];
  /** OTPD_GUARD_GLOBAL: sends per period across all apps (none by default). */
  guardGlobal: RateRule[];
  http: HttpLimits;
}

/** Timeouts and caps of the HTTP listener (what a public service needs against slow or abusive clients). */
export interface HttpLimits {
  /** The request line and headers must arrive within this (slowloris). */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Open connections at most; more are closed at once. */
  maxConnections: number;
}

export interface ConfigOverrides {
  host?: string | undefined;
  port?: number | string | undefined;
  databaseUrl?: string | undefined;
  env?: string | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const MIN_SECRET_BYTES = 32;

/**
 * Where development keeps its files (the generated secret and admin token, the default SQLite database):
 * OTPD_DATA_DIR, or `data/` in the project's root, which is where npm runs its scripts and npx its commands
 * (`npm_config_local_prefix`), else the current directory. So `npx otpd apps create` from any folder of the
 * project finds the database `npm start` made.
 */
export function defaultDataDir(environ: NodeJS.ProcessEnv): string {
  if (environ.OTPD_DATA_DIR) return isAbsolute(environ.OTPD_DATA_DIR) ? environ.OTPD_DATA_DIR : resolve(environ.OTPD_DATA_DIR);
  return join(environ.npm_config_local_prefix || process.cwd(), 'data');
}

/** A duration setting in seconds (decimals allowed), as milliseconds. */
function readSeconds(environ: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = environ[name];
  if (raw === undefined || raw === '') return fallback * 1000;
  const v = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || v < min || v > max) throw new ConfigError(`${name} must be a number of seconds from ${min} to ${max}`);
  return Math.round(v * 1000);
}

/**
 * OTPD_TRUST_PROXY: unset or false trusts no proxy; a comma-separated list of proxy addresses or CIDR ranges (or the
 * keywords loopback, linklocal, uniquelocal) trusts exactly those hops. A hop count is refused: it cannot tell a
 * proxy from a client that writes extra entries itself.
 */
function readGuardGlobal(raw: string | undefined): RateRule[] {
  if (raw === undefined || raw.trim() === '') return [];
  try {
    return [parseGlobalLimit(raw)];
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

function readTrustProxy(raw: string | undefined): Config['trustProxy'] {
  const v = raw?.trim() ?? '';
  if (v === '' || v === 'false' || v === '0') return false;
  if (v === 'true') {
    throw new ConfigError('OTPD_TRUST_PROXY=true would let any client write its own address in X-Forwarded-For; list the addresses of your proxies or CIDR ranges (e.g. 10.0.0.0/8,127.0.0.1)');
  }
  if (/^\d+$/.test(v)) {
    throw new ConfigError('OTPD_TRUST_PROXY: give your proxies\' addresses or CIDR ranges (e.g. 10.0.0.0/8), not a hop count: a count cannot tell a proxy from a client that adds entries');
  }
  const entries = v.split(',').map((x) => x.trim()).filter(Boolean);
  for (const e of entries) {
    if (['loopback', 'linklocal', 'uniquelocal'].includes(e)) continue;
    const [addr, bits, more] = e.split('/');
    const okAddr = addr !== undefined && ipaddr.isValid(addr);
    const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (addr?.includes(':') ? 128 : 32));
    if (!okAddr || !okBits || more !== undefined) throw new ConfigError(`OTPD_TRUST_PROXY: ${e} is not an IP address, a CIDR range, loopback, linklocal or uniquelocal`);
  }
  return entries;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
function readLogLevel(raw: string | undefined): string {
  const v = raw?.trim() || 'info';
  if (!LOG_LEVELS.includes(v)) throw new ConfigError(`OTPD_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not ${v}`);
  return v;
}

function readHttpLimits(environ: NodeJS.ProcessEnv): HttpLimits {
  const headersTimeoutMs = readSeconds(environ, 'OTPD_HEADERS_TIMEOUT', 10, 0.1, 600);
  const requestTimeoutMs = readSeconds(environ, 'OTPD_REQUEST_TIMEOUT', 30, 0.1, 3600);
  if (headersTimeoutMs > requestTimeoutMs) throw new ConfigError('OTPD_HEADERS_TIMEOUT must not be longer than OTPD_REQUEST_TIMEOUT');
  const keepAliveTimeoutMs = readSeconds(environ, 'OTPD_KEEPALIVE_TIMEOUT', 72, 0.1, 3600);
  const maxConnections = Number(environ.OTPD_MAX_CONNECTIONS ?? 4096);
  if (!Number.isInteger(maxConnections) || maxConnections < 1 || maxConnections > 1_000_000) throw new ConfigError('OTPD_MAX_CONNECTIONS must be an integer from 1 to 1000000');
  return { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs, maxConnections };
}

/** A setting given as JSON inline (starts with `{`) or as the path of a JSON file. */
function readJsonSetting(name: string, v: string): unknown {
  let raw: string;
  try {
    raw = v.trim().startsWith('{') ? v : readFileSync(v, 'utf8');
  } catch (e) {
    throw new ConfigError(`${name}: cannot read ${v}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new ConfigError(`${name} is not valid JSON`);
  }
}

function readPrices(v: string | undefined): PriceTable {
  if (!v) return EMPTY_PRICES;
  const t = readJsonSetting('OTPD_PRICES', v);
  if (!t || typeof t !== 'object') throw new ConfigError('OTPD_PRICES must be a JSON object');
  const o = t as Record<string, unknown>;
  const table: PriceTable = { currency: typeof o.currency === 'string' ? o.currency : 'EUR' };
  for (const ch of CHANNELS) {
    const row = o[ch];
    if (row === undefined) continue;
    if (!row || typeof row !== 'object') throw new ConfigError(`OTPD_PRICES.${ch} must be an object of country -> price`);
    const clean: Record<string, number> = {};
    for (const [k, p] of Object.entries(row)) {
      if (!(k === '*' || /^[A-Z]{2}$/.test(k)) || typeof p !== 'number' || !(p >= 0)) {
        throw new ConfigError(`OTPD_PRICES.${ch}.${k}: keys are ISO country codes or "*", values non-negative numbers`);
      }
      clean[k] = p;
    }
    table[ch] = clean;
  }
  return table;
}

function readProviders(v: string): ProvidersFile {
  const parsed = readJsonSetting('OTPD_PROVIDERS', v);
  const errs = checkProvidersFile(parsed);
  if (errs.length) throw new ConfigError(`OTPD_PROVIDERS: ${errs.join('; ')}`);
  return parsed as ProvidersFile;
}

/** Reads the secret from the environment, or (development only) from `<dataDir>/secret`, creating it once. */
function loadSecret(env: Env, dataDir: string, fromEnv: string | undefined): { secret: string; source: Config['secretSource'] } {
  if (fromEnv) {
    if (Buffer.byteLength(fromEnv) < MIN_SECRET_BYTES) throw new ConfigError(`OTPD_SECRET must be at least ${MIN_SECRET_BYTES} bytes (e.g. openssl rand -hex 32)`);
    return { secret: fromEnv, source: 'env' };
  }
  if (env === 'production') throw new ConfigError('OTPD_SECRET is required in production (e.g. openssl rand -hex 32)');
  const file = join(dataDir, 'secret');
  if (existsSync(file)) {
    const s = readFileSync(file, 'utf8').trim();
    if (Buffer.byteLength(s) < MIN_SECRET_BYTES) throw new ConfigError(`${file} holds a secret shorter than ${MIN_SECRET_BYTES} bytes`);
    return { secret: s, source: 'file' };
  }
  mkdirSync(dataDir, { recursive: true });
  const s = randomBytes(32).toString('hex');
  writeFileSync(file, `${s}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { secret: s, source: 'generated' };
}

/** The admin token from the environment, or (development only) from `<dataDir>/admin-token`, created once. */
function readSwitch(name: string, v: string | undefined): boolean {
  if (v === undefined || v === '' || v === 'on') return true;
  if (v === 'off') return false;
  throw new ConfigError(`${name} must be on or off, not ${v}`);
}

function readMetricsToken(v: string | undefined): string | null {
  if (v === undefined || v === '') return null;
  if (v.length < 32) throw new ConfigError('OTPD_METRICS_TOKEN must be at least 32 characters (e.g. openssl rand -hex 32)');
  return v;
}

function loadAdminToken(env: Env, dataDir: string, fromEnv: string | undefined): { token: string; source: Config['adminTokenSource'] } {
  if (fromEnv) {
    if (fromEnv.length < 32) throw new ConfigError('OTPD_ADMIN_TOKEN must be at least 32 characters (e.g. openssl rand -hex 32)');
    return { token: fromEnv, source: 'env' };
  }
  if (env === 'production') throw new ConfigError('OTPD_ADMIN_TOKEN is required in production (e.g. openssl rand -hex 32)');
  const file = join(dataDir, 'admin-token');
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), source: 'file' };
  mkdirSync(dataDir, { recursive: true });
  const token = `otpd_admin_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, source: 'generated' };
}

/**
 * Builds the configuration from flags (win) and `OTPD_*` environment variables. Throws `ConfigError` with a
 * sentence a person can act on.
 */
export function loadConfig(overrides: ConfigOverrides = {}, environ: NodeJS.ProcessEnv = process.env, opts: { needSecret?: boolean | 'optional' } = {}): Config {
  const envName = overrides.env ?? environ.OTPD_ENV ?? 'development';
  if (envName !== 'development' && envName !== 'production') throw new ConfigError(`OTPD_ENV must be development or production, not ${envName}`);
  const env: Env = envName;
  const host = overrides.host ?? environ.OTPD_HOST ?? '127.0.0.1';
  const portRaw = String(overrides.port ?? environ.OTPD_PORT ?? '8080');
  const port = Number(portRaw);
  if (!/^\d+$/.test(portRaw) || port > 65535) throw new ConfigError(`OTPD_PORT must be a port number, not ${portRaw}`);

  const poolSize = Number(environ.OTPD_PG_POOL_SIZE ?? 10);
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000) throw new ConfigError('OTPD_PG_POOL_SIZE must be an integer from 1 to 1000');
  const retentionDays = Number(environ.OTPD_RETENTION_DAYS ?? 30);
  if (!Number.isFinite(retentionDays) || retentionDays < 0) throw new ConfigError('OTPD_RETENTION_DAYS must be a number of days >= 0 (0 keeps everything)');
  const analyticsHourlyDays = Number(environ.OTPD_ANALYTICS_HOURLY_DAYS ?? 90);
  if (!Number.isInteger(analyticsHourlyDays) || analyticsHourlyDays < 2) throw new ConfigError('OTPD_ANALYTICS_HOURLY_DAYS must be a whole number of days >= 2');
  const dataDir = defaultDataDir(environ);
  const databaseUrl = overrides.databaseUrl ?? environ.OTPD_DATABASE_URL ?? `sqlite:${join(dataDir, 'otpd.sqlite')}`;
  if (!databaseUrl.startsWith('sqlite:') && !isPostgresUrl(databaseUrl)) {
    throw new ConfigError(`OTPD_DATABASE_URL must be sqlite:<file> or postgres://user:pass@host:port/db (got ${databaseUrl.split(':')[0]}:)`);
  }
  const delivery = (environ.OTPD_DELIVERY ?? (environ.OTPD_PROVIDERS ? 'providers' : env === 'development' ? 'console' : 'none')) as DeliveryMode;
  if (delivery !== 'console' && delivery !== 'none' && delivery !== 'providers') throw new ConfigError(`OTPD_DELIVERY must be console, providers or none, not ${String(delivery)}`);
  if (delivery === 'providers' && !environ.OTPD_PROVIDERS) throw new ConfigError('OTPD_DELIVERY=providers needs OTPD_PROVIDERS (a JSON file of providers and routing)');
  const providers: ProvidersFile = delivery === 'providers' ? readProviders(environ.OTPD_PROVIDERS!)
    : delivery === 'console' ? { providers: [{ name: 'console', type: 'console' }] } : { providers: [] };
  if (env === 'production' && providers.providers.some((p) => p.type === 'console')) {
    throw new ConfigError('The console channel prints codes to stdout and is refused in production; configure real providers in OTPD_PROVIDERS');
  }
  const publicUrl = environ.OTPD_PUBLIC_URL?.replace(/\/+$/, '') || undefined;
  if (publicUrl !== undefined && !/^https?:\/\/[^/]+/.test(publicUrl)) throw new ConfigError('OTPD_PUBLIC_URL must be an absolute http(s) URL');
  // Commands that never touch codes (migrate, apps) need no secret, so they work before one is set.
  // 'optional' (CLI commands): the secret when there is one (env, or development's file), else none.
  const { secret, source } = opts.needSecret === false || (opts.needSecret === 'optional' && env === 'production' && !environ.OTPD_SECRET)
    ? { secret: '', source: 'env' as const } : loadSecret(env, dataDir, environ.OTPD_SECRET);
  const admin = opts.needSecret !== undefined && opts.needSecret !== true ? { token: '', source: 'env' as const } : loadAdminToken(env, dataDir, environ.OTPD_ADMIN_TOKEN);
  const oauthTokenTtl = Number(environ.OTPD_OAUTH_TOKEN_TTL ?? 3600);
  if (!Number.isInteger(oauthTokenTtl) || oauthTokenTtl < 60 || oauthTokenTtl > 86_400) throw new ConfigError('OTPD_OAUTH_TOKEN_TTL must be seconds from 60 to 86400');
  const bodyLimit = Number(environ.OTPD_BODY_LIMIT ?? 16_384);
  if (!Number.isInteger(bodyLimit) || bodyLimit < 1024) throw new ConfigError('OTPD_BODY_LIMIT must be an integer >= 1024');
  return {
    env,
    host,
    port,
    databaseUrl,
    poolSize,
    retentionDays,
    dataDir,
    secret,
    secretSource: source,
    adminToken: admin.token,
    metricsToken: readMetricsToken(environ.OTPD_METRICS_TOKEN),
    metrics: readSwitch('OTPD_METRICS', environ.OTPD_METRICS),
    analytics: readSwitch('OTPD_ANALYTICS', environ.OTPD_ANALYTICS),
    analyticsHourlyDays,
    dashboard: readSwitch('OTPD_DASHBOARD', environ.OTPD_DASHBOARD),
    dashboardDir: environ.OTPD_DASHBOARD_DIR || undefined,
    widgetFile: environ.OTPD_WIDGET_FILE || undefined,
    adminTokenSource: admin.source,
    delivery,
    providers,
    publicUrl,
    logLevel: readLogLevel(environ.OTPD_LOG_LEVEL),
    prices: readPrices(environ.OTPD_PRICES),
    oauthTokenTtl,
    bodyLimit,
    trustProxy: readTrustProxy(environ.OTPD_TRUST_PROXY),
    guardGlobal: readGuardGlobal(environ.OTPD_GUARD_GLOBAL),
    http: readHttpLimits(environ),
  };
}
