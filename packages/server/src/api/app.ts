/**
 * The Fastify application: validation (two Ajv instances: bodies are never coerced, query strings are), problem
 * JSON for every error, API-key auth for `/v1` and `/dev`, OpenAPI 3.1 at `/openapi.json` and its UI at `/docs`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv, type Options as AjvOptions } from 'ajv';
import addFormats from 'ajv-formats';
import type { Logger } from 'pino';
import { OtpdError } from '../domain/errors.js';
import type { AppRecord } from '../store/ports.js';
import type { AppsService } from '../services/apps.js';
import { TOKEN_PREFIX, type OAuthService } from '../services/oauth.js';
import { oauthRoutes } from './routes/oauth.js';
import type { TemplatesService } from '../services/templates.js';
import { templateRoutes } from './routes/templates.js';
import type { SendersService } from '../services/senders.js';
import { senderRoutes } from './routes/senders.js';
import type { WebhooksService } from '../services/webhooks.js';
import { webhookAdminRoutes } from './routes/webhook-admin.js';
import type { VerificationsService } from '../services/verifications.js';
import type { DevInbox } from '../delivery/dev-inbox.js';
import { Problem, Verification } from './schemas.js';
import { sendProblem } from './problem.js';
import { verificationRoutes } from './routes/verifications.js';
import { devRoutes } from './routes/dev.js';
import { systemRoutes } from './routes/system.js';
import { webhookRoutes } from './routes/webhooks.js';
import type { ReceiptsService } from '../delivery/receipts.js';
import type { AuthLimiter } from '../guard/auth-limiter.js';
import { constantTimeEqual } from '../domain/code.js';
import { adminRoutes } from './routes/admin.js';

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
  trustProxy: boolean;
  apps: AppsService;
  oauth: OAuthService;
  templates: TemplatesService;
  senders: SendersService;
  webhooks: WebhooksService;
  verifications: VerificationsService;
  /** Present in development only. */
  dev?: { inbox: DevInbox; flush: (appId: string, to?: string) => Promise<void> } | undefined;
  /** Delivery receipts (absent when no provider is configured). */
  receipts?: ReceiptsService | undefined;
  /** Readiness probe: resolves when the store answers and the server is not draining. */
  ready: () => Promise<void>;
  /** True once a graceful shutdown started. */
  isClosing: () => boolean;
  adminToken: string;
  authLimiter: AuthLimiter;
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
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    genReqId: (() => {
      let n = 0;
      const p = process.pid.toString(36);
      return () => `req_${p}_${(n++).toString(36)}`;
    })(),
  }).withTypeProvider<TypeBoxTypeProvider>();

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

  app.setErrorHandler((err, req, reply) => sendProblem(req, reply, err));
  app.setNotFoundHandler((req, reply) => sendProblem(req, reply, new OtpdError('not_found', `No route for ${req.method} ${req.url.split('?')[0]}`)));

  // While shutting down, every response closes its connection: a keep-alive socket whose request was in flight
  // when close() began would otherwise go idle afterwards and hold the server open until its keep-alive timeout.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (deps.isClosing()) reply.header('connection', 'close');
    done(null, payload);
  });

  const infoEnabled = deps.logger.isLevelEnabled('info');
  // One access-log line per request, after the response: route pattern (never the raw URL, which may hold a phone
  // number), status and time. Bodies are never logged, so codes cannot reach the log.
  app.addHook('onResponse', (req, reply, done) => {
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
        description:
          'Self-hosted OTP verification. Start a verification (a code is generated, stored only as an HMAC and delivered), ' +
          'then check the code under policy: expiry, tries per code, sends per phone, resend cooldown, lockout. ' +
          'Errors are RFC 9457 problem details with a stable `code`.',
      },
      components: { securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An app API key (otpd_…) or an OAuth access token from POST /oauth/token (otpd_at_…)' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'The admin token (OTPD_ADMIN_TOKEN)' },
      } },
      tags: [
        { name: 'verifications', description: 'Start, check, resend, cancel, read' },
        { name: 'development', description: 'Development mode only' },
        { name: 'admin', description: 'Apps, credentials, settings and the audit log (admin token)' },
        { name: 'webhooks', description: 'Delivery receipts from providers (signed by the provider, no API key)' },
        { name: 'system', description: 'Health and documentation' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  const bearer = (req: FastifyRequest): string | null => {
    const h = req.headers.authorization;
    return typeof h === 'string' && h.startsWith('Bearer ') && h.length > 7 && h.length <= 200 ? h.slice(7).trim() : null;
  };
  // Failed authentications count per source address; a source over its budget is refused before any lookup.
  const guarded = async <T>(req: FastifyRequest, attempt: () => Promise<T>): Promise<T> => {
    deps.authLimiter.check(req.ip);
    try {
      return await attempt();
    } catch (e) {
      if (e instanceof OtpdError && (e.code === 'unauthorized' || e.code === 'invalid_client')) deps.authLimiter.fail(req.ip);
      throw e;
    }
  };
  const authenticate = async (req: FastifyRequest) => {
    const who = await guarded(req, async () => {
      const key = bearer(req);
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
    await guarded(req, async () => {
      const token = bearer(req);
      if (!token || !deps.adminToken || !constantTimeEqual(token, deps.adminToken)) {
        throw new OtpdError('unauthorized', 'The admin API needs the admin token (OTPD_ADMIN_TOKEN) as Authorization: Bearer <token>');
      }
    });
  };

  await app.register(async (v1) => {
    v1.addHook('onRequest', authenticate);
    await verificationRoutes(v1.withTypeProvider<TypeBoxTypeProvider>(), deps.verifications);
    await templateRoutes(v1.withTypeProvider<TypeBoxTypeProvider>(), deps.templates);
    await senderRoutes(v1.withTypeProvider<TypeBoxTypeProvider>(), deps.senders);
  }, { prefix: '/v1' });

  await app.register(async (dev) => {
    if (deps.dev) dev.addHook('onRequest', authenticate);
    await devRoutes(dev.withTypeProvider<TypeBoxTypeProvider>(), deps.dev);
  }, { prefix: '/dev' });

  await app.register(async (admin) => {
    admin.addHook('onRequest', authenticateAdmin);
    await adminRoutes(admin.withTypeProvider<TypeBoxTypeProvider>(), deps.apps, deps.oauth);
    await webhookAdminRoutes(admin.withTypeProvider<TypeBoxTypeProvider>(), deps.apps, deps.webhooks);
  }, { prefix: '/admin/v1' });

  await app.register(async (o) => oauthRoutes(o as unknown as FastifyInstance, deps.oauth, (req, attempt) => guarded(req, attempt)), { prefix: '/oauth' });

  if (deps.receipts) {
    const receipts = deps.receipts;
    await app.register(async (wh) => webhookRoutes(wh as unknown as FastifyInstance, receipts), { prefix: '/webhooks' });
  }

  await systemRoutes(app, deps.ready);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app as unknown as FastifyInstance;
}
