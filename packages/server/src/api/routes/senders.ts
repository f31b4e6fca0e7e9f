/** `/v1/senders` (seed 002): an app's sender ids per channel and destination country. */
import { Type } from '@sinclair/typebox';
import type { SendersService } from '../../services/senders.js';
import { ChannelSchema, problems } from '../schemas.js';
import type { TypedApp } from './verifications.js';

const apiKeySecurity = [{ apiKey: [] }];
const SenderOut = Type.Object({ id: Type.String(), channel: ChannelSchema, country: Type.Union([Type.String(), Type.Null()]), value: Type.String(), createdAt: Type.String({ format: 'date-time' }) });

/** Registers sender routes on the authenticated `/v1` scope. */
export async function senderRoutes(app: TypedApp, svc: SendersService, opts: { security?: Record<string, string[]>[] } = {}): Promise<void> {
  const security = opts.security ?? apiKeySecurity;
  app.post('/senders', {
    schema: {
      tags: ['senders'], security, summary: 'Add a sender id for a channel and (optionally) a destination country',
      body: Type.Object({
        channel: ChannelSchema,
        value: Type.String({ minLength: 1, maxLength: 320, description: 'SMS: alphanumeric id (1-11, at least one letter) or a number; email: "Name <address>"' }),
        country: Type.Optional(Type.Union([Type.String({ maxLength: 2 }), Type.Null()])),
      }, { additionalProperties: false }),
      response: { 201: SenderOut, ...problems(401, 422) },
    },
  }, async (req, reply) => reply.code(201).send(await svc.create(req.app, req.body, req.actor)));

  app.get('/senders', {
    schema: { tags: ['senders'], security, summary: "The app's sender ids", response: { 200: Type.Object({ data: Type.Array(SenderOut) }), ...problems(401) } },
  }, async (req) => ({ data: await svc.list(req.app) }));

  app.delete('/senders/:id', {
    schema: { tags: ['senders'], security, summary: 'Delete a sender id', params: Type.Object({ id: Type.String({ maxLength: 64 }) }), response: { 204: Type.Null(), ...problems(401, 404) } },
  }, async (req, reply) => {
    await svc.remove(req.app, req.params.id, req.actor);
    return reply.code(204).send(null);
  });
}
