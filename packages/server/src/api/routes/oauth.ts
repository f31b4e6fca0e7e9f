/**
 * `POST /oauth/token` (RFC 6749 §4.4, client credentials). Client authentication by HTTP Basic or by
 * `client_id`/`client_secret` in the body, which may be form-encoded or JSON. Errors are problem JSON that also
 * carry RFC 6749's `error` member, so OAuth client libraries understand them.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { OtpdError } from '../../domain/errors.js';
import type { OAuthService } from '../../services/oauth.js';
import { problems } from '../schemas.js';

const oauthError = (code: 'oauth_invalid_request' | 'invalid_client' | 'unsupported_grant_type', detail: string) => {
  const error = code === 'oauth_invalid_request' ? 'invalid_request' : code;
  return new OtpdError(code, detail, { extensions: { error, error_description: detail } });
};

/** Registers the token endpoint; `guarded` counts failed client authentications per source address. */
export async function oauthRoutes(app: FastifyInstance, oauth: OAuthService, guarded: <T>(req: FastifyRequest, credential: string | null, attempt: () => Promise<T>) => Promise<T>): Promise<void> {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 8 * 1024 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.post('/token', {
    schema: {
      tags: ['oauth'],
      summary: 'Exchange client credentials for a bearer token',
      description: 'grant_type=client_credentials; the client authenticates with HTTP Basic or client_id/client_secret in the body (form or JSON).',
      consumes: ['application/x-www-form-urlencoded', 'application/json'],
      body: Type.Object({
        grant_type: Type.String({ maxLength: 64 }), client_id: Type.Optional(Type.String({ maxLength: 64 })),
        client_secret: Type.Optional(Type.String({ maxLength: 128 })), scope: Type.Optional(Type.String({ maxLength: 200 })),
      }),
      response: {
        200: Type.Object({ access_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer() }),
        ...problems(400, 401, 403, 429),
      },
    },
  }, async (req, reply) => {
    const body = req.body as { grant_type: string; client_id?: string; client_secret?: string };
    if (body.grant_type !== 'client_credentials') throw oauthError('unsupported_grant_type', 'Only grant_type=client_credentials is supported');
    let id = body.client_id;
    let secret = body.client_secret;
    const h = req.headers.authorization;
    if (typeof h === 'string' && h.startsWith('Basic ')) {
      const [u, p] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
      if (id !== undefined || secret !== undefined) throw oauthError('oauth_invalid_request', 'Authenticate the client one way only: Basic or the body');
      id = decodeURIComponent(u ?? '');
      secret = decodeURIComponent(p ?? '');
    }
    if (!id || !secret) throw oauthError('oauth_invalid_request', 'client_id and client_secret are required');
    const token = await guarded(req, `${id}:${secret}`, async () => {
      try {
        return await oauth.token(id, secret);
      } catch (e) {
        if (e instanceof OtpdError && e.code === 'invalid_client') throw oauthError('invalid_client', e.message);
        throw e;
      }
    });
    return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(token);
  });
}
