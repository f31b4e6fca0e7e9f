/**
 * `/admin/v1/apps/{id}/webhooks` and the delivery log: the endpoints an app's outbound webhooks go to (admin token).
 * (Callbacks from providers are `provider-callbacks.ts`.)
 */
import { Type } from '@sinclair/typebox';
import { EVENT_TYPES } from '../../domain/events.js';
import type { AppsService } from '../../services/apps.js';
import type { WebhooksService } from '../../services/webhooks.js';
import { problems } from '../schemas.js';
import type { TypedApp } from './verifications.js';

const security = [{ adminToken: [] }];
const EventType = Type.Union(EVENT_TYPES.map((e) => Type.Literal(e)));
const EndpointOut = Type.Object({
  id: Type.String(), appId: Type.String(), url: Type.String(), events: Type.Array(Type.String(), { description: 'Empty: every event' }),
  description: Type.Union([Type.String(), Type.Null()]), enabled: Type.Boolean(), disabledReason: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }),
});
const DeliveryOut = Type.Object({
  id: Type.String({ description: 'The webhook-id header of every attempt' }), endpointId: Type.Union([Type.String(), Type.Null()]), url: Type.String(),
  eventId: Type.String(), status: Type.String(), attempts: Type.Integer(), nextAttemptAt: Type.Union([Type.String(), Type.Null()]),
  lastStatusCode: Type.Union([Type.Integer(), Type.Null()]), lastError: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }),
});
const AppParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const EndpointParams = Type.Object({ id: Type.String({ maxLength: 64 }), webhookId: Type.String({ maxLength: 64 }) });
const DeliveryParams = Type.Object({ id: Type.String({ maxLength: 64 }), deliveryId: Type.String({ maxLength: 64 }) });

/** Registers webhook endpoint administration on the admin scope. */
export async function webhookEndpointRoutes(app: TypedApp, apps: AppsService, hooks: WebhooksService): Promise<void> {
  app.post('/apps/:id/webhooks', {
    schema: {
      tags: ['admin'], security, summary: 'Add a webhook endpoint (its signing secret is shown once)', params: AppParams,
      body: Type.Object({ url: Type.String({ maxLength: 2000 }), events: Type.Optional(Type.Array(EventType, { uniqueItems: true })), description: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false }),
      response: { 201: Type.Composite([EndpointOut, Type.Object({ secret: Type.String({ description: 'whsec_…, for the Standard Webhooks verifier' }) })]), ...problems(401, 404, 422) },
    },
  }, async (req, reply) => reply.code(201).send(await hooks.create(await apps.get(req.params.id), req.body)));

  app.get('/apps/:id/webhooks', {
    schema: { tags: ['admin'], security, summary: "An app's webhook endpoints", params: AppParams, response: { 200: Type.Object({ data: Type.Array(EndpointOut) }), ...problems(401, 404) } },
  }, async (req) => ({ data: await hooks.list((await apps.get(req.params.id)).id) }));

  app.patch('/apps/:id/webhooks/:webhookId', {
    schema: {
      tags: ['admin'], security, summary: 'Change an endpoint (enabling clears the reason it was disabled)', params: EndpointParams,
      body: Type.Object({ url: Type.Optional(Type.String({ maxLength: 2000 })), events: Type.Optional(Type.Array(EventType, { uniqueItems: true })), description: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])), enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      response: { 200: EndpointOut, ...problems(401, 404, 422) },
    },
  }, async (req) => hooks.update((await apps.get(req.params.id)).id, req.params.webhookId, req.body));

  app.delete('/apps/:id/webhooks/:webhookId', {
    schema: { tags: ['admin'], security, summary: 'Delete an endpoint (its pending deliveries are canceled)', params: EndpointParams, response: { 204: Type.Null(), ...problems(401, 404) } },
  }, async (req, reply) => {
    await hooks.remove((await apps.get(req.params.id)).id, req.params.webhookId);
    return reply.code(204).send(null);
  });

  app.get('/apps/:id/webhook-deliveries', {
    schema: {
      tags: ['admin'], security, summary: 'Webhook deliveries, newest first', params: AppParams,
      querystring: Type.Object({
        endpointId: Type.Optional(Type.String({ maxLength: 64 })),
        status: Type.Optional(Type.Union(['pending', 'sending', 'succeeded', 'failed', 'canceled'].map((x) => Type.Literal(x)))),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })), cursor: Type.Optional(Type.String({ maxLength: 64 })),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ data: Type.Array(DeliveryOut), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problems(401, 404, 422) },
    },
  }, async (req) => hooks.deliveries((await apps.get(req.params.id)).id, { ...req.query, status: req.query.status as never, limit: req.query.limit ?? 50 }));

  app.get('/apps/:id/webhook-deliveries/:deliveryId/attempts', {
    schema: {
      tags: ['admin'], security, summary: 'The attempts of a delivery', params: DeliveryParams,
      response: { 200: Type.Object({ data: Type.Array(Type.Object({ id: Type.String(), statusCode: Type.Union([Type.Integer(), Type.Null()]), error: Type.Union([Type.String(), Type.Null()]), durationMs: Type.Integer(), at: Type.String() })) }), ...problems(401, 404) },
    },
  }, async (req) => ({ data: await hooks.attempts((await apps.get(req.params.id)).id, req.params.deliveryId) }));

  app.post('/apps/:id/webhook-deliveries/:deliveryId/replay', {
    schema: { tags: ['admin'], security, summary: 'Send a delivery again now', params: DeliveryParams, response: { 200: DeliveryOut, ...problems(401, 404) } },
  }, async (req) => hooks.replay((await apps.get(req.params.id)).id, req.params.deliveryId));
}
