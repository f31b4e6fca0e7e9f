/** `/v1/verifications` routes: thin adapters from HTTP to the verifications service. */
import type { FastifyInstance, FastifyBaseLogger, RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { clientOf } from '../../guard/client.js';
import type { VerificationsService } from '../../services/verifications.js';
import {
  CheckBody, CheckByRecipientBody, CheckResult, IdParams, ListQuery, Message, ResendBody, StartBody, Verification, VerificationList, guardProblems, problems,
} from '../schemas.js';

export type TypedApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

const apiKeySecurity = [{ apiKey: [] }];
const ref = Type.Ref(Verification);
const Timeline = Type.Object({
  verification: ref,
  entries: Type.Array(Type.Object({
    at: Type.String({ format: 'date-time' }),
    kind: Type.Union(['created', 'message', 'attempt', 'sent', 'delivered', 'undelivered', 'failed', 'verified', 'expired', 'canceled'].map((k) => Type.Literal(k))),
    messageId: Type.Union([Type.String(), Type.Null()]),
    channel: Type.Union([Type.String(), Type.Null()]),
    provider: Type.Union([Type.String(), Type.Null()]),
    detail: Type.String(),
  })),
});

/** Registers the verification routes on a `/v1`-prefixed, authenticated scope. */
/**
 * Registers the verification routes on an authenticated scope: `/v1` (the app's credentials), or for the admin under
 * `/admin/v1/apps/{appId}` (`admin`: the reading routes, cancel, and a verification's timeline).
 */
export async function verificationRoutes(app: TypedApp, svc: VerificationsService, opts: { behindProxy: boolean; security?: Record<string, string[]>[]; admin?: boolean }): Promise<void> {
  const security = opts.security ?? apiKeySecurity;
  // Behind trusted proxies the connection's address is the end user's (see guard/client.ts).
  const client = (req: { ip: string; headers: { 'user-agent'?: string | string[] | undefined } }) => clientOf(req.ip, req.headers['user-agent'], opts.behindProxy);
  if (!opts.admin) {
  app.post('/verifications', {
    schema: {
      tags: ['verifications'], security,
      summary: 'Start a verification',
      description:
        'Generates a code, stores only its HMAC, queues its delivery and answers 201. Starting again for the same phone ' +
        'cancels its pending verification but never gives fresh tries or sends. Send an `Idempotency-Key` header to make ' +
        'retries safe: the same key with the same body returns the first response and sends nothing.',
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ description: '1-255 printable ASCII characters' })) }),
      body: StartBody,
      response: { 201: ref, ...problems(400, 401, 413, 415, 422, 503), ...guardProblems(true) },
    },
  }, async (req, reply) => {
    const key = req.headers['idempotency-key'];
    const r = await svc.start(req.app, req.body, client(req), typeof key === 'string' ? key : undefined);
    if (r.replayed) reply.header('idempotent-replayed', 'true');
    // Already JSON (the exact first response on an idempotent replay), so it bypasses the serializer.
    return reply.code(201).type('application/json').send(r.json as never);
  });

  }

  app.get('/verifications', {
    schema: {
      tags: ['verifications'], security, summary: 'List verifications, newest first',
      querystring: ListQuery,
      response: { 200: VerificationList, ...problems(401, 422) },
    },
  }, async (req) => svc.list(req.app, req.query));

  if (!opts.admin) {
  app.post('/verifications/check', {
    schema: {
      tags: ['verifications'], security,
      summary: "Check a code against the recipient's newest verification",
      description: 'For chatbots and simple forms that only know the phone number. Same answers as the check by id.',
      body: CheckByRecipientBody,
      response: { 200: CheckResult, ...problems(400, 401, 404, 422), ...guardProblems(false) },
    },
  }, async (req) => svc.check(req.app, { to: req.body.to }, req.body.code, client(req), req.body));

  }

  app.get('/verifications/:id', {
    schema: { tags: ['verifications'], security, summary: 'Get a verification', params: IdParams, response: { 200: ref, ...problems(401, 404) } },
  }, async (req) => svc.get(req.app, req.params.id));

  app.get('/verifications/:id/messages', {
    schema: {
      tags: ['verifications'], security, summary: "A verification's messages and their delivery status", params: IdParams,
      response: { 200: Type.Object({ data: Type.Array(Message) }), ...problems(401, 404) },
    },
  }, async (req) => ({ data: await svc.messages(req.app, req.params.id) }));

  if (!opts.admin) {
  app.post('/verifications/:id/check', {
    schema: {
      tags: ['verifications'], security,
      summary: 'Check a code',
      description:
        'A wrong code is a 200 with `valid: false` and the tries left. `valid` is true only in the one response whose check ' +
        'verified the code; later checks answer the terminal status with `valid: false`.',
      params: IdParams, body: CheckBody,
      response: { 200: CheckResult, ...problems(400, 401, 404, 422), ...guardProblems(false) },
    },
  }, async (req) => svc.check(req.app, { id: req.params.id }, req.body.code, client(req), req.body));

  app.post('/verifications/:id/resend', {
    schema: {
      tags: ['verifications'], security,
      summary: 'Send the same code again',
      description: 'Only after the cooldown and within the phone\'s send limit; the expiry does not move. Optionally on another channel.',
      params: IdParams, body: ResendBody,
      response: { 200: ref, ...problems(400, 401, 404, 409, 422, 503), ...guardProblems(true) },
    },
    // The body is optional: no body means "same channel".
    preValidation: (req, _reply, done) => {
      req.body ??= {};
      done();
    },
  }, async (req) => svc.resend(req.app, req.params.id, client(req), req.body.channel, req.body));

  app.post('/verifications/:id/next', {
    schema: {
      tags: ['verifications'], security,
      summary: 'Move to the next channel of the workflow now',
      description: 'Starts the next step of the channel workflow with the same code, without waiting for the step timeout.',
      params: IdParams,
      response: { 200: ref, ...problems(401, 404, 409) },
    },
  }, async (req) => svc.nextStep(req.app, req.params.id));

  }

  app.post('/verifications/:id/cancel', {
    schema: { tags: ['verifications'], security, summary: 'Cancel a pending verification', params: IdParams, response: { 200: ref, ...problems(401, 404, 409) } },
  }, async (req) => svc.cancel(req.app, req.params.id));

  if (opts.admin) {
    app.get('/verifications/:id/timeline', {
      schema: {
        tags: ['verifications'], security, summary: "A verification's timeline: its messages, every provider call, receipts, tries and outcome (never the code)",
        params: IdParams, response: { 200: Timeline, ...problems(401, 404) },
      },
    }, async (req) => svc.timeline(req.app, req.params.id));
  }
}
