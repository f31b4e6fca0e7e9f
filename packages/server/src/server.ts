/**
 * Composition root: config → store → services → delivery → HTTP. `createOtpd` wires one instance; tests call it
 * with a fake clock and their own log streams, the CLI with the real ones.
 */
import type { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApi } from './api/app.js';
import { createProviders } from './providers/registry.js';
import { TIMINGS, type Config } from './config.js';
import { deriveKeys } from './domain/code.js';
import { systemClock, type Clock } from './domain/clock.js';
import { OtpdError } from './domain/errors.js';
import { DevInbox } from './delivery/dev-inbox.js';
import { OutboxWorker, type OutboxWorkerOptions } from './delivery/outbox-worker.js';
import { ProviderCallbacks } from './delivery/provider-callbacks.js';
import { AuthLimiter } from './guard/auth-limiter.js';
import { Guard } from './guard/guard.js';
import { GuardAdmin } from './guard/admin.js';
import { AppsService } from './services/apps.js';
import { Analytics } from './services/analytics.js';
import { ClientSessions } from './services/client-sessions.js';
import { DashboardSessions, dashboardDir } from './api/dashboard.js';
import { widgetFile } from './api/widget.js';
import type { ClaimedMessage, MessageOutcome } from './domain/delivery.js';
import { ConnectionsService } from './services/connections.js';
import { Metrics, providerLabel } from './metrics.js';
import type { DeliveryProvider } from './providers/types.js';
import { OAuthService } from './services/oauth.js';
import { TemplatesService } from './services/templates.js';
import { SendersService } from './services/senders.js';
import { WebhooksService } from './services/webhooks.js';
import { checkDestination, outboundUrlCheck } from './delivery/outbound-url.js';
import { WebhookWorker, type WebhookWorkerOptions } from './delivery/webhook-worker.js';
import { VerificationsService } from './services/verifications.js';
import type { Store } from './store/ports/index.js';
import { SqliteStore, sqliteFileFromUrl } from './store/sqlite/index.js';
import { PgStore } from './store/postgres/index.js';
import { isPostgresUrl } from './store/url.js';
import { RetentionJob } from './services/retention.js';

export interface OtpdOptions {
  clock?: Clock;
  /** Where JSON logs go (default: stdout, buffered). */
  logStream?: Writable;
  /** Where the console channel prints messages (default: stdout); null to keep quiet. */
  consoleStream?: Writable | null;
  /** Delivery worker tuning (tests: retry delays, randomness). */
  worker?: OutboxWorkerOptions;
  webhooks?: WebhookWorkerOptions;
}

export interface Otpd {
  config: Config;
  app: FastifyInstance;
  store: Store;
  apps: AppsService;
  verifications: VerificationsService;
  guard: Guard;
  guardAdmin: GuardAdmin;
  connections: ConnectionsService;
  worker: OutboxWorker | null;
  webhookWorker: WebhookWorker;
  devInbox: DevInbox | null;
  logger: Logger;
  retention: RetentionJob;
  /** Listens on the configured host and port (or the given ones); returns the base URL. */
  listen(opts?: { host?: string; port?: number }): Promise<string>;
  /** Graceful stop: refuse new requests, finish in-flight ones, stop the worker, close the database. */
  close(): Promise<void>;
}

/**
 * Opens the store a database URL names and applies pending migrations. `listen` (PostgreSQL): hear other nodes'
 * notifications — a server does, a one-shot CLI command does not.
 */
export async function openStore(databaseUrl: string, opts: { poolSize?: number; listen?: boolean; clock?: Clock } = {}): Promise<Store> {
  let store: Store;
  const clock = opts.clock ?? systemClock;
  if (databaseUrl.startsWith('sqlite:')) store = new SqliteStore(sqliteFileFromUrl(databaseUrl), { clock });
  else if (isPostgresUrl(databaseUrl)) store = new PgStore(databaseUrl, { poolSize: opts.poolSize ?? 10, listen: opts.listen ?? false, clock });
  else throw new Error(`unsupported database URL ${databaseUrl}`);
  try {
    await store.migrate();
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}

/**
 * Standard output in chunks: lines are joined here and handed to sonic-boom (which writes them asynchronously and
 * retries a full pipe) every 100 ms, or at once past 64 KiB. Under load that is one write(2) per chunk instead of
 * one per line or two (those writes were about 5 % of a node's CPU under the benchmark), and one call into
 * sonic-boom per chunk: its own `minLength` buffering measures the whole buffer at every line (2.3 us a line,
 * against 0.1 here). A quiet node's lines still show within 100 ms. Flushed on close and at exit.
 */
export interface LineBuffer {
  write(line: string): boolean;
  /** Writes out what is waiting, synchronously. */
  flushSync(): void;
  /** Flushes and stops batching: later lines are handed over one by one. */
  close(): void;
}

export function bufferedStdout(fd = 1): LineBuffer {
  const dest = pino.destination({ dest: fd, sync: false });
  let pending = '';
  let open = true;
  const hand = () => {
    if (pending.length === 0) return;
    dest.write(pending);
    pending = '';
  };
  const timer = setInterval(hand, 100);
  timer.unref();
  const atExit = () => out.close();
  const out: LineBuffer = {
    write(line) {
      if (!open) return dest.write(line);
      pending += line;
      if (pending.length >= 65_536) hand();
      return true;
    },
    flushSync() {
      hand();
      try { dest.flushSync(); } catch { /* nothing to flush, or stdout already gone */ }
    },
    close() {
      if (!open) return;
      open = false;
      clearInterval(timer);
      process.removeListener('exit', atExit);
      out.flushSync();
    },
  };
  process.on('exit', atExit);
  return out;
}

/** Logger writing JSON lines to `stream`, or to stdout (buffered, see `bufferedStdout`). */
export function createLogger(level: string, stream?: Writable | LineBuffer): Logger {
  return pino({ level, base: { service: 'otpd' }, timestamp: pino.stdTimeFunctions.isoTime }, stream ?? bufferedStdout());
}

/** Wires a whole otpd instance (not listening yet). */
export async function createOtpd(config: Config, opts: OtpdOptions = {}): Promise<Otpd> {
  const clock = opts.clock ?? systemClock;
  const logOut = opts.logStream === undefined ? bufferedStdout() : null;
  const logger = createLogger(config.logLevel, opts.logStream ?? logOut!);
  const store = await openStore(config.databaseUrl, { poolSize: config.poolSize, listen: true, clock });
  const keys = deriveKeys(config.secret);
  const checkUrl = outboundUrlCheck(config.env === 'production');
  const apps = new AppsService(store, clock, keys, checkUrl);
  const oauth = new OAuthService(store, clock, keys, config.oauthTokenTtl);
  apps.onAppChanged = (appId) => oauth.forgetApp(appId);

  let devInbox: DevInbox | null = null;
  let consoleOut: { write(chunk: string): unknown } | null = null;
  let ownConsole: LineBuffer | null = null;
  if (config.providers.providers.some((p) => p.type === 'console')) {
    if (config.env === 'production') throw new Error('console delivery is refused in production');
    devInbox = new DevInbox();
    // Asynchronous, buffered writes: stdout to a pipe or file is synchronous in Node, one blocking write(2) per message.
    if (opts.consoleStream === undefined) consoleOut = ownConsole = bufferedStdout();
    else consoleOut = opts.consoleStream;
  }
  const metrics = !config.metrics ? null : new Metrics({
    now: () => clock.now(),
    outbox: () => store.outbox.backlog(clock.now()),
    webhooks: () => store.webhooks.backlog(clock.now()),
    pool: () => (store instanceof PgStore ? { total: store.pool.totalCount, idle: store.pool.idleCount, waiting: store.pool.waitingCount } : null),
  });
  const dev = devInbox ? { inbox: devInbox, out: consoleOut, now: () => clock.now() } : null;
  // Analytics rollups: the transitions the store commits, the outcomes the worker records, the receipts applied.
  const analytics = config.analytics ? new Analytics(store, clock, logger.child({ component: 'analytics' }), { hourlyDays: config.analyticsHourlyDays }) : null;
  if (analytics) store.hooks.onVerificationEvent = (type, v) => analytics.verificationEvent(type, v);
  const providers = createProviders(config.providers.providers, dev);
  // The server's providers and every app's and shared connection, opened: what routes and the worker resolve.
  const connections = new ConnectionsService({ store, clock, keys, providers, dev, serverRouting: config.providers.routing });
  await connections.load();
  if (connections.unreadable.size > 0) logger.error({ connections: [...connections.unreadable.keys()] }, 'provider connections sealed under another OTPD_SECRET are left out: run otpd connections reseal');
  apps.checkRouting = (appId, routing) => connections.checkRouting(appId, routing);
  const worker: OutboxWorker | null = new OutboxWorker(store, keys, clock, connections.lookup, logger.child({ component: 'delivery' }), {
    publicUrl: config.publicUrl,
    // A fallback step's cost goes to its app's spend caps (the guard is made below; this runs only when sending).
    chargeStep: async (m) => guard.chargeStep(await apps.get(m.appId), m),
    ...(analytics ? { onRecorded: (m: ClaimedMessage, o: MessageOutcome) => analytics.messageRecorded(m, o) } : {}),
    ...(metrics ? {
      onProviderCall: (p: DeliveryProvider, outcome: string, seconds: number) => {
        const provider = providerLabel(p);
        metrics.providerCalls.inc({ provider, outcome });
        metrics.providerLatency.observe({ provider }, seconds);
      },
    } : {}),
    ...opts.worker,
  });
  const templates = new TemplatesService(store, clock, config.prices);
  const senders = new SendersService(store, clock);
  const webhooks = new WebhooksService(store, clock, keys, config.env === 'production');
  const webhookWorker = new WebhookWorker(store, keys, clock, logger.child({ component: 'webhooks' }), {
    ...(config.env === 'production' ? { checkAddress: checkDestination } : {}), ...opts.webhooks,
  });
  store.hooks.onEvents = () => webhookWorker.kick();
  store.hooks.onWork = () => worker?.kick();
  const guard = new Guard({
    store, clock, globalRules: config.guardGlobal, currencyOf: (a) => a.settings.prices?.currency ?? config.prices.currency,
    onError: (err, what) => logger.warn({ err }, `${what} failed`),
    onDecision: metrics ? (rule, outcome) => metrics.guardDecisions.inc({ rule, outcome }) : undefined,
  });
  const verifications = new VerificationsService({
    store, clock, guard, keys, prices: config.prices, templates, senders, checkUrl, onQueued: (appId, to) => worker?.queued(appId, to), dispatch: worker ?? undefined,
    route: (app, channel, countryIso) => connections.route(app, channel, countryIso),
    onEvent: metrics ? (event, channel) => metrics.verifications.inc({ event, channel }) : undefined,
    sendsText: (key) => connections.provider(key)?.type !== 'whatsapp',
    analytics: analytics ?? undefined,
  });

  connections.healthOf = (key) => {
    const h = worker?.health.get(key);
    const iso = (t: number | null | undefined) => (t == null ? null : new Date(t).toISOString());
    return { circuit: worker?.breakers.stateOf(key, clock.now()) ?? 'closed', lastSuccessAt: iso(h?.lastSuccessAt), lastErrorAt: iso(h?.lastErrorAt), lastError: h?.lastError ?? null };
  };
  // Connections changed by another process on the same SQLite file (the CLI), or a notice PostgreSQL lost: reloaded
  // every minute too.
  const reloadConnections = setInterval(() => {
    connections.load().catch((err: unknown) => logger.warn({ err }, 'reloading provider connections failed'));
  }, TIMINGS.connectionsReloadMs);
  reloadConnections.unref();

  const providerCallbacks = worker
    ? new ProviderCallbacks(store, keys, clock, connections.lookup, config.publicUrl, (appId, to) => worker.queued(appId, to), logger.child({ component: 'receipts' }),
      analytics ? (r, provider, status, at) => analytics.receipt(r, provider, status, at) : undefined)
    : undefined;

  // Another node (or this one) changed an app's configuration: every cache of it here forgets it.
  store.hooks.onAppChanged = (appId) => {
    apps.forgetApp(appId);
    oauth.forgetApp(appId);
    templates.forget(appId);
    senders.forget(appId);
    connections.load().catch((err: unknown) => logger.warn({ err }, 'reloading provider connections failed'));
  };
  const retention = new RetentionJob(store, clock, config.retentionDays, logger.child({ component: 'retention' }));

  let closing = false;
  const ready = async () => {
    if (closing) throw new OtpdError('shutting_down');
    try {
      await store.ping();
    } catch {
      throw new OtpdError('store_unavailable');
    }
  };
  // Failed authentications are counted in the store too, so every node shares one budget per source.
  const authLimiter = new AuthLimiter(clock, { shared: store.guard, onError: (err) => logger.warn({ err }, 'counting a failed authentication failed') });
  const guardAdmin = new GuardAdmin({ store, clock, guard, apps, currencyOf: (a) => a.settings.prices?.currency ?? config.prices.currency });
  const app = await buildApi({
    logger, env: config.env, bodyLimit: config.bodyLimit, trustProxy: config.trustProxy, http: config.http, apps, oauth, templates, senders, webhooks, verifications, providerCallbacks, ready, isClosing: () => closing,
    guardAdmin, connections, metrics: metrics ?? undefined, metricsToken: config.metricsToken, analytics: analytics ?? new Analytics(store, clock, undefined, { hourlyDays: config.analyticsHourlyDays }),
    twilio: { keys, publicUrl: config.publicUrl }, publicUrl: config.publicUrl, clientSessions: new ClientSessions(keys, clock),
    widgetFile: widgetFile(config.widgetFile),
    dashboard: config.dashboard && config.adminToken ? { sessions: new DashboardSessions(keys.hmacKey, config.adminToken, clock, store.revocations), dir: dashboardDir(config.dashboardDir) } : undefined,
    adminToken: config.adminToken, authLimiter,
    dev: devInbox && worker
      ? { inbox: devInbox, flush: (appId: string, to?: string) => (to !== undefined && /^\+[1-9][0-9]{6,14}$/.test(to) ? worker.handedFor(appId, to) : worker.handed()) }
      : undefined,
  });

  const purge = setInterval(() => {
    store.maintenance.purgeIdempotency(clock.now()).catch((err: unknown) => logger.warn({ err }, 'idempotency purge failed'));
    guard.sweep().catch((err: unknown) => logger.warn({ err }, 'guard state sweep failed'));
    analytics?.purgeHours(config.analyticsHourlyDays).catch((err: unknown) => logger.warn({ err }, 'analytics hourly purge failed'));
    store.revocations.purge(clock.now()).catch((err: unknown) => logger.warn({ err }, 'revoked sessions purge failed'));
  }, TIMINGS.idempotency.purgeEveryMs);
  purge.unref();
  // Closes verifications whose time ran out, so webhooks hear verification.expired without waiting for a check.
  const sweep = setInterval(() => {
    store.verifications.expireDue(clock.now(), TIMINGS.expirySweep.batch).catch((err: unknown) => logger.warn({ err }, 'expiry sweep failed'));
  }, TIMINGS.expirySweep.everyMs);
  sweep.unref();
  // Guard blocks that ran out are announced (fraud.unblocked).
  const blockEnds = setInterval(() => {
    guardAdmin.endBlocks(TIMINGS.guardBlockEnds.batch).catch((err: unknown) => logger.warn({ err }, 'guard block ends failed'));
  }, TIMINGS.guardBlockEnds.everyMs);
  blockEnds.unref();

  let closed: Promise<void> | null = null;
  return {
    config, app, store, apps, verifications, guard, guardAdmin, connections, worker, webhookWorker, devInbox, logger, retention,
    async listen(o = {}) {
      worker?.start();
      worker?.kick(); // messages a previous run left queued
      webhookWorker.start();
      retention.start();
      analytics?.start();
      return app.listen({ host: o.host ?? config.host, port: o.port ?? config.port });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(purge);
        clearInterval(sweep);
        clearInterval(blockEnds);
        clearInterval(reloadConnections);
        await app.close();
        await retention.stop();
        await worker?.stop();
        await webhookWorker.stop();
        await analytics?.stop(); // after the worker: its last outcomes are counted
        await guard.idle();
        await authLimiter.idle();
        await store.close();
        if (logOut) logOut.close();
        else logger.flush();
        ownConsole?.close();
      })();
      return closed;
    },
  };
}
