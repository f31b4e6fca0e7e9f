/**
 * Provider callbacks (`/webhooks/{type}/{provider}`): no API key; each is authenticated by the provider's own
 * signature inside the receipts service. Form-encoded bodies are parsed only in this scope.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { HttpReceiptRequest, ReceiptsService } from '../../delivery/receipts.js';
import { problems } from '../schemas.js';
import { OtpdError } from '../../domain/errors.js';

/** Registers the receipt routes on a `/webhooks` scope. */
export async function webhookRoutes(app: FastifyInstance, receipts: ReceiptsService): Promise<void> {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  // JSON bodies keep their raw bytes: Meta signs the exact bytes it sent.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 256 * 1024 }, (req, body, done) => {
    (req as FastifyRequest & { rawBody?: Buffer }).rawBody = body as Buffer;
    try {
      done(null, JSON.parse((body as Buffer).toString('utf8')));
    } catch {
      done(new OtpdError('malformed_json', 'The body is not valid JSON'), undefined);
    }
  });

  app.post('/twilio/:provider', {
    schema: {
      tags: ['webhooks'],
      summary: 'Twilio message status callback',
      description: 'Verified with X-Twilio-Signature against OTPD_PUBLIC_URL. Unknown or forged callbacks get 403/404 and are counted.',
      params: Type.Object({ provider: Type.String({ maxLength: 40 }) }),
      body: Type.Record(Type.String(), Type.String()),
      response: { 204: Type.Null(), ...problems(403, 404, 422) },
    },
  }, async (req, reply) => {
    const { provider } = req.params as { provider: string };
    const sig = req.headers['x-twilio-signature'];
    await receipts.twilio(provider, req.url, typeof sig === 'string' ? sig : undefined, req.body as Record<string, string>);
    return reply.code(204).send();
  });

  const vonage = async (req: FastifyRequest, reply: FastifyReply) => {
    const { provider } = req.params as { provider: string };
    const query = req.query as Record<string, string>;
    const body = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
    const params: Record<string, string> = { ...query };
    for (const [k, v] of Object.entries(body)) if (v !== null && v !== undefined) params[k] = String(v);
    await receipts.vonage(provider, params);
    return reply.code(204).send();
  };
  const vonageSchema = {
    tags: ['webhooks'],
    summary: 'Vonage delivery receipt (GET or POST)',
    description: 'Authenticated by the token in the callback URL otpd gave Vonage, and by `sig` when the provider has a signature secret.',
    params: Type.Object({ provider: Type.String({ maxLength: 40 }) }),
    response: { 204: Type.Null(), ...problems(403, 404) },
  };
  app.get('/vonage/:provider', { schema: vonageSchema }, vonage);
  app.post('/vonage/:provider', { schema: vonageSchema }, vonage);

  app.get('/whatsapp/:provider', {
    schema: {
      tags: ['webhooks'], summary: 'Meta webhook verification handshake',
      params: Type.Object({ provider: Type.String({ maxLength: 40 }) }),
      description: 'Answers hub.challenge as text/plain when hub.verify_token matches the provider\'s verify token; otherwise 403.',
      querystring: Type.Object({ 'hub.mode': Type.Optional(Type.String()), 'hub.verify_token': Type.Optional(Type.String()), 'hub.challenge': Type.Optional(Type.String({ maxLength: 200 })) }),
      response: { 200: { description: 'The challenge, echoed', content: { 'text/plain': { schema: Type.String() } } }, ...problems(403) },
    },
  }, async (req, reply) => {
    const { provider } = req.params as { provider: string };
    return reply.type('text/plain').send(receipts.whatsappHandshake(provider, req.query as Record<string, string>));
  });

  app.post('/whatsapp/:provider', {
    schema: {
      tags: ['webhooks'], summary: 'WhatsApp Cloud API webhook (message statuses)',
      description: 'Verified with X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the app secret).',
      params: Type.Object({ provider: Type.String({ maxLength: 40 }) }),
      response: { 200: Type.Null(), ...problems(400, 403, 404) },
    },
  }, async (req, reply) => {
    const { provider } = req.params as { provider: string };
    const raw = (req as FastifyRequest & { rawBody?: Buffer }).rawBody ?? Buffer.alloc(0);
    const sig = req.headers['x-hub-signature-256'];
    await receipts.whatsapp(provider, raw, typeof sig === 'string' ? sig : undefined, req.body);
    return reply.code(200).send();
  });

  // Generic HTTP gateways. Their own scope keeps bodies as raw bytes, unparsed: the receipts service authenticates
  // the callback (URL token, then the optional HMAC over those exact bytes) before it parses anything.
  await app.register(async (gw) => {
    gw.removeAllContentTypeParsers();
    const keepRaw = (type: 'json' | 'form') => (_req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => done(null, { raw: body, type });
    gw.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, keepRaw('json'));
    gw.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, keepRaw('form'));
    const http = async (req: FastifyRequest, reply: FastifyReply) => {
      const { provider } = req.params as { provider: string };
      const q = req.url.indexOf('?');
      await receipts.http(provider, {
        method: req.method === 'POST' ? 'POST' : 'GET', // HEAD (Fastify's, for the GET route) reads like a GET
        query: q < 0 ? '' : req.url.slice(q + 1),
        body: req.body as HttpReceiptRequest['body'],
        headers: req.headers,
      });
      return reply.code(204).send();
    };
    const description = 'A generic HTTP gateway\'s delivery receipt, on the `{{statusCallbackUrl}}` otpd gave it: '
      + '`?msg={message id}&t={token}`. The token must verify for the provider and message (else 403); when the gateway has '
      + '`receipts.signature`, so must the HMAC in its header, over the raw body (POST) or over the query string without the '
      + '`t` pair (GET), and a signed timestamp when configured. Only then is the status read (`receipts.statusPath`, default '
      + '`status`) and mapped to delivered, undelivered, failed or sent; an unknown status is acknowledged (204) and ignored. '
      + 'Refused callbacks are recorded and counted.';
    const params = Type.Object({ provider: Type.String({ maxLength: 40 }) });
    gw.get('/http/:provider', {
      schema: { tags: ['webhooks'], summary: 'HTTP gateway delivery receipt (GET, fields in the query)', description, params, response: { 204: Type.Null(), ...problems(403, 404, 422) } },
    }, http);
    gw.post('/http/:provider', {
      schema: {
        tags: ['webhooks'], summary: 'HTTP gateway delivery receipt (POST, JSON or form body)', description, params,
        response: { 204: Type.Null(), ...problems(400, 403, 404, 413, 415, 422) },
      },
    }, http);
  });
}
