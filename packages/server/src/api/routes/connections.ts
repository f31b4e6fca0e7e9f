/**
 * `/admin/v1/apps/{id}/connections` and `/admin/v1/connections`: provider connections of an app, and shared by the
 * server (services/connections.ts). Bodies are entries like those of OTPD_PROVIDERS; answers mask credentials.
 */
import { Type } from '@sinclair/typebox';
import { CHANNELS } from '../../domain/channels.js';
import { OtpdError } from '../../domain/errors.js';
import { isId } from '../../domain/ids.js';
import type { RoutingTable } from '../../delivery/routing.js';
import { PROVIDER_PLUGINS } from '../../providers/registry.js';
import type { AppsService } from '../../services/apps.js';
import type { ConnectionsService } from '../../services/connections.js';
import { problems } from '../schemas.js';
import type { TypedApp } from './verifications.js';

const security = [{ adminToken: [] }];
const TYPES = PROVIDER_PLUGINS.map((p) => p.type).filter((t) => t !== 'console');
const Channel = Type.Union(CHANNELS.map((c) => Type.Literal(c)));

const Entry = Type.Object({
  name: Type.String({ description: 'Unique among the names the app can route to: 1-40 of a-z, 0-9, _ and -' }),
  type: Type.Union(TYPES.map((t) => Type.Literal(t)), { description: 'The provider type; the other fields are those of its OTPD_PROVIDERS entry (docs/providers.md)' }),
}, { additionalProperties: true, description: 'A provider entry, as in OTPD_PROVIDERS: validated against its type, each problem naming its field' });
const Patch = Type.Object({}, { additionalProperties: true, description: 'A JSON merge patch of the entry (name and type cannot change; a masked credential sent back is kept)' });
const Health = Type.Object({
  circuit: Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half-open')]),
  lastSuccessAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]), lastErrorAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
}, { description: "As the answering node's delivery worker saw it (per node: with several PostgreSQL nodes, ask each)" });
const ConnectionOut = Type.Object({
  id: Type.String(), appId: Type.Union([Type.String(), Type.Null()]), name: Type.String(), type: Type.String(), channels: Type.Array(Channel),
  config: Type.Record(Type.String(), Type.Unknown(), { description: `The entry, credentials masked (${'********'}; a URL keeps all but its password)` }),
  health: Health,
  createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }),
});
const TestIn = Type.Object({
  to: Type.String({ minLength: 3, maxLength: 320, description: 'A phone number (E.164) or, for email, an address' }),
  channel: Type.Optional(Channel),
}, { additionalProperties: false });
const TestOut = Type.Object({
  ok: Type.Boolean(), channel: Channel, to: Type.String(),
  providerMessageId: Type.Optional(Type.String()), price: Type.Optional(Type.Number()), priceCurrency: Type.Optional(Type.String()),
  kind: Type.Optional(Type.String({ description: 'rejected, transient or unknown' })), error: Type.Optional(Type.String({ description: "What the provider said, redacted" })),
  errorCode: Type.Optional(Type.String()), httpStatus: Type.Optional(Type.Integer()),
});
const AppParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const AppConParams = Type.Object({ id: Type.String({ maxLength: 64 }), cid: Type.String({ maxLength: 64 }) });
const ConParams = Type.Object({ cid: Type.String({ maxLength: 64 }) });

export async function connectionRoutes(app: TypedApp, apps: AppsService, svc: ConnectionsService): Promise<void> {
  const appOf = async (id: string) => {
    if (!isId('app', id)) throw new OtpdError('not_found', `No app ${id}`);
    return apps.get(id);
  };
  /** The apps whose routing names `name` (for `appId`'s connection: that app alone). */
  const usersOf = (appId: string | null) => async (name: string): Promise<string[]> => {
    const list = appId === null ? await apps.list() : [await apps.get(appId)];
    return list.filter((a) => Object.values((a.settings.routing as RoutingTable | undefined) ?? {}).some((rules) => rules?.some((r) => r.providers.includes(name)))).map((a) => a.id);
  };

  app.get('/providers', {
    schema: {
      tags: ['connections'], security, summary: "The server's own providers (OTPD_PROVIDERS) and their health on this node",
      response: { 200: Type.Object({ data: Type.Array(Type.Object({ name: Type.String(), type: Type.String(), channels: Type.Array(Channel), health: Health })) }), ...problems(401) },
    },
  }, async () => ({ data: svc.serverProviders() }));

  for (const scope of ['app', 'server'] as const) {
    const tags = ['connections'];
    const base = scope === 'app' ? '/apps/:id/connections' : '/connections';
    const whose = scope === 'app' ? "the app's" : 'shared';
    const owner = async (params: { id?: string }) => (scope === 'app' ? (await appOf(params.id!)).id : null);
    const nameOf = async (params: { id?: string }) => (scope === 'app' ? (await appOf(params.id!)).name : 'otpd');
    const one = scope === 'app' ? AppConParams : ConParams;

    app.post(base, {
      schema: {
        tags, security, summary: `Create a ${scope === 'app' ? "connection of the app's own provider account" : 'shared connection (any app may route to it)'}`,
        ...(scope === 'app' ? { params: AppParams } : {}), body: Entry, response: { 201: ConnectionOut, ...problems(401, 404, 409, 422) },
      },
    }, async (req, reply) => reply.code(201).send(await svc.create(await owner(req.params as { id?: string }), req.body as Record<string, unknown>, 'admin')));

    app.get(base, {
      schema: { tags, security, summary: `List ${whose} connections`, ...(scope === 'app' ? { params: AppParams } : {}), response: { 200: Type.Object({ data: Type.Array(ConnectionOut) }), ...problems(401, 404) } },
    }, async (req) => ({ data: svc.list(await owner(req.params as { id?: string })) }));

    app.get(`${base}/:cid`, {
      schema: { tags, security, summary: `One of ${whose} connections`, params: one, response: { 200: ConnectionOut, ...problems(401, 404) } },
    }, async (req) => svc.get(await owner(req.params as { id?: string }), (req.params as { cid: string }).cid));

    app.patch(`${base}/:cid`, {
      schema: { tags, security, summary: `Change one of ${whose} connections`, params: one, body: Patch, response: { 200: ConnectionOut, ...problems(401, 404, 422) } },
    }, async (req) => svc.update(await owner(req.params as { id?: string }), (req.params as { cid: string }).cid, req.body as Record<string, unknown>, 'admin'));

    app.delete(`${base}/:cid`, {
      schema: { tags, security, summary: `Delete one of ${whose} connections (409 while a routing rule names it)`, params: one, response: { 204: Type.Null(), ...problems(401, 404, 409) } },
    }, async (req, reply) => {
      const appId = await owner(req.params as { id?: string });
      await svc.remove(appId, (req.params as { cid: string }).cid, 'admin', usersOf(appId));
      return reply.code(204).send(null);
    });

    app.post(`${base}/:cid/test`, {
      schema: {
        tags, security, summary: 'Send a test message through the connection and report what the provider answered (nothing is stored)',
        params: one, body: TestIn, response: { 200: TestOut, ...problems(401, 404, 422) },
      },
    }, async (req) => svc.test(await owner(req.params as { id?: string }), (req.params as { cid: string }).cid, req.body, await nameOf(req.params as { id?: string })));
  }
}
