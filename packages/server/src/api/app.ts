/**
 * The Fastify application: validation (two Ajv instances: bodies are never coerced, query strings are), problem
 * JSON for every error, API-key auth for `/v1` and `/dev`, OpenAPI 3.1 at `/openapi.json` and its UI at `/docs`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from '@sinclair/typebox';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormats from 'ajv-formats';
import type { Logger } from 'pino';
import { OtpdError } from '../domain/errors.js';
import type { AppRecord } from '../domain/records.js';
import type { AppsService } from '../services/apps.js';
import { TOKEN_PREFIX, type OAuthService } from '../services/oauth.js';
import { oauthRoutes } from './routes/oauth.js';
import type { TemplatesService } from '../services/templates.js';
import { templateRoutes } from './routes/templates.js';
import type { SendersService } from '../services/senders.js';
import { senderRoutes } from './routes/senders.js';
import type { WebhooksService } from '../services/webhooks.js';
import { webhookEndpointRoutes } from './routes/webhook-endpoints.js';
import type { VerificationsService } from '../services/verifications.js';
import type { DevInbox } from '../delivery/dev-inbox.js';
import { Problem, Verification, documentCommonProblems, problem, problems } from './schemas.js';
import { sendProblem } from './problem.js';
import { verificationRoutes } from './routes/verifications.js';
import { devRoutes } from './routes/dev.js';
import { systemRoutes } from './routes/system.js';
import { providerCallbackRoutes } from './routes/provider-callbacks.js';
import type { ProviderCallbacks } from '../delivery/provider-callbacks.js';
import type { AuthLimiter } from '../guard/auth-limiter.js';
import { constantTimeEqual } from '../domain/code.js';
import { adminRoutes } from './routes/admin.js';
import { guardRoutes } from './routes/guard.js';
import fastifyCookie from '@fastify/cookie';
import { SESSION_COOKIE, dashboardRoutes, type DashboardSessions } from './dashboard.js';
import { twilioVerifyRoutes } from './twilio-verify.js';
import { clientRoutes, clientSessionRoute } from './routes/client.js';
import { widgetRoutes } from './widget.js';
import type { ClientSessions } from '../services/client-sessions.js';
import { describeOperation } from './operations.js';
import { OUTBOUND_WEBHOOKS } from './webhook-docs.js';
import type { CodeKeys } from '../domain/code.js';
import { isId } from '../domain/ids.js';
import { analyticsRoutes } from './routes/analytics.js';
import type { Analytics } from '../services/analytics.js';
import { connectionRoutes } from './routes/connections.js';
import type { ConnectionsService } from '../services/connections.js';
import type { Metrics } from '../metrics.js';
import type { GuardAdmin } from '../guard/admin.js';
import type { Config, HttpLimits } from '../config.js';
import { clientErrorHandler, listenerOptions, requestId } from './http-server.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The calling app, set by the auth hook on `/v1` and `/dev` routes. */
    app: AppRecord;
    /** The credential that authenticated it (API key id or OAuth client id), for the audit log. */
    actor: string;
  }
}

export interface ApiDeps {
  logger: Logger;
  env: 'development' | 'production';
  bodyLimit: number;
  trustProxy: Config['trustProxy'];
  http: HttpLimits;
  apps: AppsService;
  oauth: OAuthService;
  templates: TemplatesService;
  senders: SendersService;
  webhooks: WebhooksService;
  verifications: VerificationsService;
  guardAdmin: GuardAdmin;
  connections: ConnectionsService;
  /** Prometheus metrics (GET /metrics, with the admin token or metricsToken). */
  metrics?: Metrics | undefined;
  metricsToken?: string | null | undefined;
  /** Analytics read from the rollups (/admin/v1/analytics, /v1/analytics). */
  analytics: Analytics;
  /** The widget's build (served at /widget.js; null: not built). */
  widgetFile?: string | null | undefined;
  /** Client sessions: the browser's tokens (the widget, the hosted page). */
  clientSessions: ClientSessions;
  /** OTPD_PUBLIC_URL: the OpenAPI document's server. */
  publicUrl?: string | undefined;
  /** The Twilio Verify v2 surface (/v2): the keys its account sid derives from, the public URL its `url` fields use. */
  twilio?: { keys: CodeKeys; publicUrl: string | undefined } | undefined;
  /** The web dashboard: its sessions (the admin API's second way in) and its build (null: not built). */
  dashboard?: { sessions: DashboardSessions; dir: string | null } | undefined;
  /** Present in development only. */
  dev?: { inbox: DevInbox; flush: (appId: string, to?: string) => Promise<void> } | undefined;
  /** Provider callbacks: delivery receipts (absent when no provider is configured). */
  providerCallbacks?: ProviderCallbacks | undefined;
  /** Readiness probe: resolves when the store answers and the server is not draining. */
  ready: () => Promise<void>;
  /** True once a graceful shutdown started. */
  isClosing: () => boolean;
  adminToken: string;
  authLimiter: AuthLimiter;
}

/** The JSON pointer of the first string or key holding U+0000, or null. */
function nulAt(v: unknown, path: string): string | null {
  if (typeof v === 'string') return v.includes('\u0000') ? path : null;
  if (!v || typeof v !== 'object') return null;
  for (const [k, x] of Object.entries(v)) {
    const p = `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (k.includes('\u0000')) return p;
    const found = nulAt(x, p);
    if (found !== null) return found;
  }
  return null;
}

const ajvCommon: AjvOptions = { allErrors: false, strict: false, useDefaults: true, removeAdditional: false };

/** Builds the HTTP application (not listening). */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit,
    trustProxy: deps.trustProxy,
    forceCloseConnections: 'idle',
    // Requests that arrive while closing are answered by the onRequest hook below, as problem JSON.
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    genReqId: requestId,
    ...listenerOptions(deps.http),
    clientErrorHandler: clientErrorHandler(deps.http, deps.logger as FastifyBaseLogger),
    // A path segment over 200 characters and a bad percent-encoding, answered by the router before any route.
    frameworkErrors: (err, req, reply) => sendProblem(req, reply, err),
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.server.maxConnections = deps.http.maxConnections;
  await app.register(fastifyCookie);

  // Bodies: types must match exactly (a "6" is not a 6). Query strings and params are text, so they coerce.
  const bodyAjv = addFormats.default(new Ajv({ ...ajvCommon, coerceTypes: false }));
  const queryAjv = addFormats.default(new Ajv({ ...ajvCommon, coerceTypes: true }));
  for (const a of [bodyAjv, queryAjv]) {
    a.addSchema(Verification);
    a.addSchema(Problem);
  }
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema));
  app.addSchema(Verification);
  app.addSchema(Problem);

  // JSON bodies: Fastify's own parser (prototype poisoning refused), and no U+0000 in any string or key: PostgreSQL
  // text cannot hold it, so it is refused at the door on both stores alike (422, never a 500 from the database).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    parseJson(req, body as string, (err: Error | null, value?: unknown) => {
      if (err) return done(err, undefined);
      const at = (body as string).includes('\\u0000') ? nulAt(value, '') : null;
      if (at !== null) return done(new OtpdError('invalid_request', `${at || '/'} holds a NUL character (U+0000)`, { extensions: { errors: [{ pointer: at || '/', detail: 'holds a NUL character (U+0000)' }] } }), undefined);
      done(null, value);
    });
  });
  app.addHook('onRoute', (route) => {
    const r = route as { url: string; method: string | string[]; schema?: Record<string, unknown> };
    documentCommonProblems(r);
    describeOperation(r);
  });
  app.setErrorHandler((err, req, reply) => sendProblem(req, reply, err));
  app.setNotFoundHandler((req, reply) => sendProblem(req, reply, new OtpdError('not_found', `No route for ${req.method} ${req.url.split('?')[0]}`)));

  // Every answer carries its request id (the caller's X-Request-Id when well formed). HTTP/1.1 requires Host; Node's
  // own refusal would be a bare 400, so otpd answers it. While shutting down, requests get 503 shutting_down.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    if (req.headers.host === undefined && req.raw.httpVersionMajor === 1 && req.raw.httpVersionMinor === 1) {
      done(new OtpdError('malformed_request', 'HTTP/1.1 requires a Host header'));
    } else if (deps.isClosing()) {
      done(new OtpdError('shutting_down'));
    } else {
      done();
    }
  });

  // While shutting down, every response closes its connection: a keep-alive socket whose request was in flight
  // when close() began would otherwise go idle afterwards and hold the server open until its keep-alive timeout.
  // An answer sent before the request's body arrived (a 401 before a slow upload) closes the connection too: the
  // rest of that body would otherwise be read as the next request, or time out into a second answer.
  app.addHook('onSend', (req, reply, payload, done) => {
    if (deps.isClosing() || !req.raw.complete) reply.header('connection', 'close');
    done(null, payload);
  });

  const infoEnabled = deps.logger.isLevelEnabled('info');
  // One access-log line per request, after the response: route pattern (never the raw URL, which may hold a phone
  // number), status and time. Bodies are never logged, so codes cannot reach the log.
  const metrics = deps.metrics;
  app.addHook('onResponse', (req, reply, done) => {
    metrics?.http.observe({ route: req.routeOptions.url ?? 'unmatched', method: req.method, status: `${Math.floor(reply.statusCode / 100)}xx` }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) {
      req.log.warn({ method: req.method, route: req.routeOptions.url, status: reply.statusCode, ms: +reply.elapsedTime.toFixed(1) }, 'request');
    } else if (infoEnabled) {
      req.log.info({ method: req.method, route: req.routeOptions.url ?? 'unknown', status: reply.statusCode, ms: +reply.elapsedTime.toFixed(1), app: req.app?.id }, 'request');
    }
    done();
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'otpd',
        version: '0.1.0',
        license: { name: 'MIT', identifier: 'MIT' },
        description:
          'Self-hosted OTP verification. Start a verification (a code is generated, stored only as an HMAC and delivered), ' +
          'then check the code under policy: expiry, tries per code, sends per phone, resend cooldown, lockout. ' +
          'Errors are RFC 9457 problem details with a stable `code`.',
      },
      servers: [{ url: deps.publicUrl ?? '/', description: 'This otpd' }],
      components: { securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An app API key (otpd_…) or an OAuth access token from POST /oauth/token (otpd_at_…)' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'The admin token (OTPD_ADMIN_TOKEN)' },
        dashboardSession: { type: 'apiKey', in: 'cookie', name: 'otpd_session', description: 'The dashboard session cookie from POST /dashboard/api/session (with csrfToken)' },
        clientSession: { type: 'http', scheme: 'bearer', description: 'A client session token (otpd_cs_…) from POST /v1/client-sessions: the widget and the hosted page' },
        csrfToken: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token', description: "The dashboard session's CSRF token (from POST or GET /dashboard/api/session)" },
      } },
      webhooks: OUTBOUND_WEBHOOKS as never,
      tags: [
        { name: 'verifications', description: 'Start, check, resend, cancel, read' },
        { name: 'development', description: 'Development mode only' },
        { name: 'admin', description: 'Apps, credentials, settings and the audit log (admin token)' },
        { name: 'analytics', description: 'Conversion, delivery, time to verify and deliver, cost, guard refusals: summaries and series from rollups' },
        { name: 'guard', description: 'Fraud and abuse guard per app: settings, decisions, blocks (admin token; see docs/fraud.md)' },
        { name: 'webhooks', description: 'Provider callbacks: delivery receipts posted by providers (signed by the provider, no API key); not the webhooks otpd sends to apps (admin)' },
        { name: 'system', description: 'Health and documentation' },
        { name: 'templates', description: "An app's message templates and their preview" },
        { name: 'senders', description: "An app's sender ids per channel and country" },
        { name: 'connections', description: 'Provider accounts: per app, shared, and the server\'s own (admin token)' },
        { name: 'dashboard', description: 'The web dashboard\'s sign-in (a session cookie for the admin token)' },
        { name: 'widget', description: 'Client sessions and the browser API the widget and the hosted page call (CORS: the app\'s widget origins)' },
        { name: 'oauth', description: 'OAuth 2.0 client credentials: access tokens for /v1' },
        { name: 'events', description: 'What otpd posts to your webhook endpoints and callback URLs (Standard Webhooks: signed, retried)' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  const bearer = (req: FastifyRequest): string | null => {
    const h = req.headers.authorization;
    return typeof h === 'string' && h.startsWith('Bearer ') && h.length > 7 && h.length <= 200 ? h.slice(7).trim() : null;
  };
  // Failed authentications count per source; a source over its budget is refused before any lookup, unless the
  // credential it presents is known to work (others' failures behind a shared address do not lock its users out).
  const guarded = async <T>(req: FastifyRequest, credential: string | null, attempt: () => Promise<T>): Promise<T> => {
    deps.authLimiter.check(req.ip, credential);
    try {
      const r = await attempt();
      if (credential !== null) deps.authLimiter.succeed(credential);
      return r;
    } catch (e) {
      if (e instanceof OtpdError && (e.code === 'unauthorized' || e.code === 'invalid_client')) deps.authLimiter.fail(req.ip);
      throw e;
    }
  };
  const authenticate = async (req: FastifyRequest) => {
    const key = bearer(req);
    const who = await guarded(req, key, async () => {
      if (!key) throw new OtpdError('unauthorized', 'Send an app API key or an OAuth access token as Authorization: Bearer <credential>');
      if (key.startsWith(TOKEN_PREFIX)) {
        const t = await deps.oauth.verify(key);
        return { app: t.app, actor: t.clientId };
      }
      const k = await deps.apps.authenticate(key);
      return { app: k.app, actor: k.keyId };
    });
    req.app = who.app;
    req.actor = who.actor;
  };
  const authenticateAdmin = async (req: FastifyRequest) => {
    const token = bearer(req);
    // The dashboard's session cookie, with its CSRF token, in place of the bearer token.
    const sessions = deps.dashboard?.sessions;
    if (token === null && sessions && req.cookies[SESSION_COOKIE] !== undefined) {
      await guarded(req, null, async () => {
        if (!(await sessions.authenticates(req))) throw new OtpdError('unauthorized', 'The dashboard session ended: sign in again');
      });
      req.actor = 'dashboard';
      return;
    }
    await guarded(req, token, async () => {
      if (!token || !deps.adminToken || !constantTimeEqual(token, deps.adminToken)) {
        throw new OtpdError('unauthorized', 'The admin API needs the admin token (OTPD_ADMIN_TOKEN) as Authorization: Bearer <token>');
      }
    });
  };

  await app.register(async (v1) => {
    v1.addHook('onRequest', authenticate);
    await verificationRoutes(v1.withTypeProvider<TypeBoxTypeProvider>(), deps.verifications, { behindProxy: deps.trustProxy !== false });
    await templateRoutes(v1.withTypeProvider<TypeBoxTypeProvider>(), deps.templates);
    await senderRoutes(v1.withTypeProvider<TypeBoxTypeProvider>(), deps.senders);
    await analyticsRoutes(v1.withTypeProvider<TypeBoxTypeProvider>(), deps.analytics, 'app');
    await clientSessionRoute(v1.withTypeProvider<TypeBoxTypeProvider>(), deps.clientSessions);
  }, { prefix: '/v1' });

  await app.register(async (dev) => {
    if (deps.dev) dev.addHook('onRequest', authenticate);
    await devRoutes(dev.withTypeProvider<TypeBoxTypeProvider>(), deps.dev);
  }, { prefix: '/dev' });

  await app.register(async (admin) => {
    admin.addHook('onRequest', authenticateAdmin);
    await adminRoutes(admin.withTypeProvider<TypeBoxTypeProvider>(), deps.apps, deps.oauth);
    await guardRoutes(admin.withTypeProvider<TypeBoxTypeProvider>(), deps.apps, deps.guardAdmin);
    await webhookEndpointRoutes(admin.withTypeProvider<TypeBoxTypeProvider>(), deps.apps, deps.webhooks);
    await connectionRoutes(admin.withTypeProvider<TypeBoxTypeProvider>(), deps.apps, deps.connections);
    await analyticsRoutes(admin.withTypeProvider<TypeBoxTypeProvider>(), deps.analytics, 'admin');
    // An app's verifications, templates and senders, as its API key sees them (the dashboard's pages), for the admin.
    await admin.register(async (scoped) => {
      // Every route here takes the app's id: documented as a parameter, with the 404 of an unknown app.
      scoped.addHook('onRoute', (route) => {
        const schema = route.schema as Record<string, unknown> | undefined;
        if (!schema || schema.hide === true) return;
        const own = (schema.params as { properties?: Record<string, TSchema> } | undefined)?.properties ?? {};
        schema.params = Type.Object({ appId: Type.String({ maxLength: 64 }), ...own });
        schema.response = { ...problem(404, '`not_found`: no such app (or no such resource in it)'), ...(schema.response as object) };
        documentCommonProblems(route as { url: string; method: string | string[]; schema?: Record<string, unknown> });
      });
      scoped.addHook('preHandler', async (req) => {
        const id = (req.params as { appId: string }).appId;
        if (!isId('app', id)) throw new OtpdError('not_found', `No app ${id}`);
        req.app = await deps.apps.get(id);
        req.actor ??= 'admin';
      });
      const scope = { security: [{ adminToken: [] }], admin: true };
      await verificationRoutes(scoped.withTypeProvider<TypeBoxTypeProvider>(), deps.verifications, { behindProxy: deps.trustProxy !== false, ...scope });
      await templateRoutes(scoped.withTypeProvider<TypeBoxTypeProvider>(), deps.templates, scope);
      await senderRoutes(scoped.withTypeProvider<TypeBoxTypeProvider>(), deps.senders, scope);
    }, { prefix: '/apps/:appId' });
  }, { prefix: '/admin/v1' });

  await widgetRoutes(app as unknown as FastifyInstance, { file: deps.widgetFile ?? null, sessions: deps.clientSessions, apps: deps.apps });
  await clientRoutes(app as unknown as FastifyInstance, { sessions: deps.clientSessions, apps: deps.apps, verifications: deps.verifications, behindProxy: deps.trustProxy !== false, publicUrl: deps.publicUrl, guarded });
  if (deps.twilio) {
    await twilioVerifyRoutes(app as unknown as FastifyInstance, {
      apps: deps.apps, verifications: deps.verifications, analytics: deps.analytics, keys: deps.twilio.keys, adminToken: deps.adminToken,
      behindProxy: deps.trustProxy !== false, publicUrl: deps.twilio.publicUrl, guarded,
    });
  }
  if (deps.dashboard) await dashboardRoutes(app as unknown as FastifyInstance, { ...deps.dashboard, adminToken: deps.adminToken, guarded });

  await app.register(async (o) => oauthRoutes(o as unknown as FastifyInstance, deps.oauth, guarded), { prefix: '/oauth' });

  if (metrics) {
    const tokens = [deps.adminToken, deps.metricsToken].filter((t): t is string => !!t);
    app.get('/metrics', {
      schema: {
        tags: ['system'], summary: 'Prometheus metrics of this node (text exposition format)', security: [{ adminToken: [] }],
        description: 'Needs the admin token, or OTPD_METRICS_TOKEN, as a bearer token (docs/operations.md). Labels are bounded: no phone numbers, no ids.',
        response: { 200: { description: 'text/plain; version=0.0.4', type: 'string' }, ...problems(401) },
      },
    }, async (req, reply) => {
      const token = bearer(req);
      await guarded(req, token, async () => {
        if (!token || !tokens.some((t) => constantTimeEqual(token, t))) throw new OtpdError('unauthorized', 'GET /metrics needs the admin token or OTPD_METRICS_TOKEN as Authorization: Bearer <token>');
      });
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
  }

  if (deps.providerCallbacks) {
    const providerCallbacks = deps.providerCallbacks;
    await app.register(async (wh) => providerCallbackRoutes(wh as unknown as FastifyInstance, providerCallbacks), { prefix: '/webhooks' });
  }

  await systemRoutes(app, deps.ready);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app as unknown as FastifyInstance;
}
