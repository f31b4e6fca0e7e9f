/**
 * Provider callbacks (`/webhooks/{type}/{provider}`): the routes each provider of the registry declares in its
 * `callbacks.ts`, one scope per provider type. No API key: each is authenticated by the provider's own signature or
 * token (`delivery/provider-callbacks.ts`). Form-encoded bodies are parsed only in these scopes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ProviderCallbacks } from '../../delivery/provider-callbacks.js';
import type { CallbackRequest, CallbackRoute } from '../../providers/plugin.js';
import { PROVIDER_PLUGINS } from '../../providers/registry.js';
import { problems } from '../schemas.js';
import { OtpdError } from '../../domain/errors.js';

type Raw = NonNullable<CallbackRequest['raw']>;
type WithRaw = FastifyRequest & { rawBody?: Raw };

/** Forms as fields; JSON parsed, its raw bytes kept (Meta signs the exact bytes it sent). */
function parseBodies(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 256 * 1024 }, (req, body, done) => {
    (req as WithRaw).rawBody = { bytes: body as Buffer, type: 'json' };
    try {
      done(null, JSON.parse((body as Buffer).toString('utf8')));
    } catch {
      done(new OtpdError('malformed_json', 'The body is not valid JSON'), undefined);
    }
  });
}

/** JSON and forms as raw bytes, unparsed (any other type is refused, 415). */
function keepRawBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const keepRaw = (type: Raw['type']) => (req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => {
    (req as WithRaw).rawBody = { bytes: body, type };
    done(null, undefined);
  };
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, keepRaw('json'));
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, keepRaw('form'));
}

function addRoute(app: FastifyInstance, type: string, route: CallbackRoute, callbacks: ProviderCallbacks): void {
  const ok = typeof route.ok === 'number'
    ? { [route.ok]: Type.Null() }
    : { 200: { description: route.ok.text, content: { 'text/plain': { schema: Type.String() } } } };
  app.route({
    method: route.method,
    url: '/:provider',
    schema: {
      tags: ['webhooks'], summary: `Provider callback: ${route.summary}`, description: route.description,
      params: Type.Object({ provider: Type.String({ maxLength: 40 }) }),
      ...(route.querystring ? { querystring: route.querystring } : {}),
      ...(route.body ? { body: route.body } : {}),
      response: { ...ok, ...problems(...route.problems) },
    },
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      const { provider } = req.params as { provider: string };
      const text = await callbacks.handle(type, route, provider, {
        method: req.method === 'POST' ? 'POST' : 'GET', // HEAD (Fastify's, for a GET route) reads like a GET
        url: req.url,
        query: req.query as Record<string, unknown>,
        headers: req.headers,
        body: req.body,
        raw: (req as WithRaw).rawBody,
      });
      if (typeof route.ok === 'object') return reply.type('text/plain').send(text);
      return reply.code(route.ok).send();
    },
  });
}

/** Registers every provider's callback routes on a `/webhooks` scope. */
export async function providerCallbackRoutes(app: FastifyInstance, callbacks: ProviderCallbacks): Promise<void> {
  for (const { type, callbacks: spec } of PROVIDER_PLUGINS) {
    if (!spec) continue;
    await app.register(async (scope) => {
      if (spec.bodies === 'raw') keepRawBodies(scope);
      else parseBodies(scope);
      for (const route of spec.routes) addRoute(scope, type, route, callbacks);
    }, { prefix: `/${type}` });
  }
}
