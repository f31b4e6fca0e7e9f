/**
 * `/admin/v1`: apps, their settings and API keys, and the audit log. Guarded by the admin token only: app
 * credentials never reach these routes.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { CHANNELS, CODE_TYPES, RANGES } from '../../domain/policy.js';
import { isId } from '../../domain/ids.js';
import { OtpdError } from '../../domain/errors.js';
import { parseEmail, parsePhone } from '../../domain/phone.js';
import { appView, type AppsService } from '../../services/apps.js';
import type { OAuthService } from '../../services/oauth.js';
import { problems } from '../schemas.js';
import { GuardSettingsSchema } from './guard.js';
import type { TypedApp } from './verifications.js';

const security = [{ adminToken: [] }];
const Channel = Type.Union(CHANNELS.map((c) => Type.Literal(c)));
const Iso = Type.String({ pattern: '^[A-Za-z]{2}$' });
// Numeric ranges are checked by the service so the error names the field and its whole range.
const ranged = (f: keyof typeof RANGES, what: string) => Type.Integer({ description: `${what} (${RANGES[f].min}–${RANGES[f].max})` });

const settingsFields = {
  codeType: Type.Union(CODE_TYPES.map((c) => Type.Literal(c))),
  codeLength: ranged('codeLength', 'code length'),
  ttl: ranged('ttl', 'seconds a code stays valid'),
  maxAttempts: ranged('maxAttempts', 'tries per code'),
  maxSends: ranged('maxSends', 'sends per phone since its last success'),
  resendCooldown: ranged('resendCooldown', 'seconds between sends'),
  lockout: ranged('lockout', 'seconds a phone stays locked'),
  stepTimeout: ranged('stepTimeout', 'seconds before the next channel of a workflow'),
  allowedCountries: Type.Array(Iso, { maxItems: 250 }),
  deniedCountries: Type.Array(Iso, { maxItems: 250 }),
  defaultLocale: Type.String({ pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$' }),
  defaultChannel: Channel,
  defaultChannels: Type.Array(Channel, { minItems: 1, uniqueItems: true }),
  brandName: Type.String({ minLength: 1, maxLength: 40, pattern: '^[^{}]*$' }),
  prices: Type.Object({
    currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
    sms: Type.Optional(Type.Record(Type.String(), Type.Number())), whatsapp: Type.Optional(Type.Record(Type.String(), Type.Number())),
    email: Type.Optional(Type.Record(Type.String(), Type.Number())), voice: Type.Optional(Type.Record(Type.String(), Type.Number())),
  }, { additionalProperties: false, description: 'Price overrides on top of OTPD_PRICES (per part for SMS, per message or call otherwise)' }),
  callbackUrl: Type.String({ maxLength: 2000, description: 'Status callback URL (seed 001): every event of the app\'s verifications, signed with the app\'s callback secret' }),
  guard: GuardSettingsSchema,
  allowCustomCode: Type.Boolean({ description: 'Starts may bring their own code (customCode); off by default' }),
  allowApprove: Type.Boolean({ description: "Twilio Verify's Status=approved with the app's key: approve a verification without its code (off by default; the admin token always may)" }),
  webOtpDomain: Type.String({ maxLength: 253, pattern: '^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$|^localhost$', description: 'WebOTP: SMS end with the origin-bound line "@domain #code" (the site where the widget runs)' }),
  widget: Type.Object({
    origins: Type.Optional(Type.Array(Type.String({ pattern: '^https?://[a-z0-9.-]+(:[0-9]{1,5})?$', maxLength: 300 }), { maxItems: 50, description: 'Page origins allowed to use client sessions (CORS) and to be returned to by the hosted page, e.g. https://shop.example.com' })),
  }, { additionalProperties: false }),
  limits: Type.Object({
    maxTtl: Type.Optional(ranged('ttl', 'most seconds a request may ask a code to stay valid')),
    maxAttempts: Type.Optional(ranged('maxAttempts', 'most tries a request may ask')),
    minCodeLength: Type.Optional(ranged('codeLength', 'shortest code a request may ask')),
  }, { additionalProperties: false, description: 'Bounds on per-request overrides (the other settings are defaults a request may override within the ranges)' }),
  routing: Type.Record(Type.String(), Type.Array(Type.Object({ countries: Type.Optional(Type.Array(Iso)), providers: Type.Array(Type.String(), { minItems: 1 }) }, { additionalProperties: false }))),
} satisfies Record<string, TSchema>;

const Settings = Type.Partial(Type.Object(settingsFields, { additionalProperties: false }), { additionalProperties: false });
// PATCH: a JSON merge patch: null removes an override (back to the default).
const SettingsPatch = Type.Object(
  Object.fromEntries(Object.entries(settingsFields).map(([k, v]) => [k, Type.Optional(Type.Union([v, Type.Null()]))])),
  { additionalProperties: false },
);

const AppOut = Type.Object({
  id: Type.String(), name: Type.String(), enabled: Type.Boolean(), settings: Type.Record(Type.String(), Type.Unknown()),
  createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }),
});
const KeyOut = Type.Object({
  id: Type.String(), appId: Type.String(), name: Type.String(), prefix: Type.String({ description: 'First characters, to recognise the key' }),
  createdAt: Type.String({ format: 'date-time' }), expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]), lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
const NewKeyOut = Type.Composite([KeyOut, Type.Object({ apiKey: Type.String({ description: 'Shown once; only its hash is stored' }) })]);
const AppParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const KeyParams = Type.Object({ id: Type.String({ maxLength: 64 }), keyId: Type.String({ maxLength: 64 }) });
const AuditOut = Type.Object({
  id: Type.String(), actor: Type.String(), action: Type.String(), targetType: Type.String(), targetId: Type.String(),
  appId: Type.Union([Type.String(), Type.Null()]), before: Type.Unknown(), after: Type.Unknown(), at: Type.String({ format: 'date-time' }),
});

const appId = (id: string) => {
  if (!isId('app', id)) throw new OtpdError('not_found', `No app ${id}`);
  return id;
};

/** Registers the admin routes on an admin-token-guarded `/admin/v1` scope. */
export async function adminRoutes(app: TypedApp, apps: AppsService, oauth: OAuthService): Promise<void> {
  const ClientOut = Type.Object({
    id: Type.String({ description: 'The client_id' }), appId: Type.String(), name: Type.String(), createdAt: Type.String({ format: 'date-time' }),
    rotatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    previousSecretValidUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Until when the secret before the last rotation still works' }),
    revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]), lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  });
  const NewClientOut = Type.Composite([ClientOut, Type.Object({ clientSecret: Type.String({ description: 'Shown once; only its hash is stored' }) })]);
  const ClientParams = Type.Object({ id: Type.String({ maxLength: 64 }), clientId: Type.String({ maxLength: 64 }) });

  app.post('/apps/:id/clients', {
    schema: {
      tags: ['admin'], security, summary: 'Create OAuth client credentials (the secret is shown once)', params: AppParams,
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
      response: { 201: NewClientOut, ...problems(401, 404, 422) },
    },
  }, async (req, reply) => reply.code(201).send(await oauth.createClient(await apps.get(appId(req.params.id)), req.body.name)));

  app.get('/apps/:id/clients', {
    schema: { tags: ['admin'], security, summary: "List an app's OAuth clients", params: AppParams, response: { 200: Type.Object({ data: Type.Array(ClientOut) }), ...problems(401, 404) } },
  }, async (req) => {
    await apps.get(appId(req.params.id));
    return { data: await oauth.listClients(req.params.id) };
  });

  app.post('/apps/:id/clients/:clientId/rotate', {
    schema: {
      tags: ['admin'], security, summary: 'Rotate a client secret; the previous one keeps working for overlapSeconds', params: ClientParams,
      body: Type.Object({ overlapSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 7 * 86_400, default: 3600 })) }, { additionalProperties: false }),
      response: { 200: NewClientOut, ...problems(401, 404, 422) },
    },
    preValidation: (req, _reply, done) => { req.body ??= {}; done(); },
  }, async (req) => oauth.rotate(appId(req.params.id), req.params.clientId, req.body.overlapSeconds ?? 3600));

  app.delete('/apps/:id/clients/:clientId', {
    schema: { tags: ['admin'], security, summary: 'Revoke a client: its secrets and tokens stop working', params: ClientParams, response: { 200: ClientOut, ...problems(401, 404) } },
  }, async (req) => oauth.revoke(appId(req.params.id), req.params.clientId));

  app.post('/apps', {
    schema: {
      tags: ['admin'], security, summary: 'Create an app (and its first API key, shown once)',
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), settings: Type.Optional(Settings), keyName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) }, { additionalProperties: false }),
      response: { 201: Type.Object({ app: AppOut, apiKey: NewKeyOut, callbackSecret: Type.Union([Type.String(), Type.Null()], { description: 'Signs status callbacks (whsec_…); shown once' }) }), ...problems(400, 401, 422, 429) },
    },
  }, async (req, reply) => {
    const created = await apps.create({ name: req.body.name, settings: req.body.settings as never, keyName: req.body.keyName });
    const [key] = (await apps.listKeys(created.id)).filter((k) => k.id === created.keyId);
    return reply.code(201).send({ app: appView(await apps.get(created.id)), apiKey: { ...key!, apiKey: created.apiKey }, callbackSecret: created.callbackSecret });
  });

  app.post('/apps/:id/callback-secret', {
    schema: {
      tags: ['admin'], security, summary: 'Create or rotate the app\'s callback secret (signs status callbacks); shown once', params: AppParams,
      response: { 200: Type.Object({ callbackSecret: Type.String() }), ...problems(401, 404) },
    },
  }, async (req) => ({ callbackSecret: await apps.rotateCallbackSecret(appId(req.params.id)) }));

  app.get('/apps', {
    schema: { tags: ['admin'], security, summary: 'List apps', response: { 200: Type.Object({ data: Type.Array(AppOut) }), ...problems(401) } },
  }, async () => ({ data: (await apps.list()).map(appView) }));

  app.get('/apps/:id', {
    schema: { tags: ['admin'], security, summary: 'Get an app', params: AppParams, response: { 200: AppOut, ...problems(401, 404) } },
  }, async (req) => appView(await apps.get(appId(req.params.id))));

  app.patch('/apps/:id', {
    schema: {
      tags: ['admin'], security, summary: 'Change an app: name, enabled flag, settings (JSON merge patch; null resets a setting)',
      description: 'A disabled app gets 403 app_disabled on every /v1 request. Out-of-range settings get 422 naming the field and its range.',
      params: AppParams,
      body: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })), enabled: Type.Optional(Type.Boolean()), settings: Type.Optional(SettingsPatch) }, { additionalProperties: false }),
      response: { 200: AppOut, ...problems(400, 401, 404, 422) },
    },
  }, async (req) => appView(await apps.update(appId(req.params.id), req.body as never)));

  app.delete('/apps/:id', {
    schema: { tags: ['admin'], security, summary: 'Delete an app and its credentials', params: AppParams, response: { 204: Type.Null(), ...problems(401, 404) } },
  }, async (req, reply) => {
    await apps.remove(appId(req.params.id));
    return reply.code(204).send(null);
  });

  app.post('/apps/:id/keys', {
    schema: {
      tags: ['admin'], security, summary: 'Create an API key (shown once)', params: AppParams,
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), expiresAt: Type.Optional(Type.String({ format: 'date-time' })) }, { additionalProperties: false }),
      response: { 201: NewKeyOut, ...problems(400, 401, 404, 422) },
    },
  }, async (req, reply) => {
    const expiresAt = req.body.expiresAt ? Date.parse(req.body.expiresAt) : null;
    return reply.code(201).send(await apps.createKey(appId(req.params.id), { name: req.body.name, expiresAt }));
  });

  app.get('/apps/:id/keys', {
    schema: { tags: ['admin'], security, summary: "List an app's API keys (never the keys themselves)", params: AppParams, response: { 200: Type.Object({ data: Type.Array(KeyOut) }), ...problems(401, 404) } },
  }, async (req) => ({ data: await apps.listKeys(appId(req.params.id)) }));

  app.delete('/apps/:id/keys/:keyId', {
    schema: { tags: ['admin'], security, summary: 'Revoke an API key (effective on the next request)', params: KeyParams, response: { 200: KeyOut, ...problems(401, 404) } },
  }, async (req) => apps.revokeKey(appId(req.params.id), req.params.keyId));

  const LockoutOut = Type.Object({
    to: Type.String(), locked: Type.Boolean(), lockedUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    lockReason: Type.Union([Type.Literal('attempts'), Type.Literal('sends'), Type.Null()]), failures: Type.Integer(), sends: Type.Integer(),
    lastSendAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  });
  const recipient = (to: string) => (to.includes('@') ? parseEmail(to).address : parsePhone(to).e164);

  app.get('/apps/:id/lockouts', {
    schema: {
      tags: ['admin'], security, summary: 'Locked phones of an app (or one phone\'s counters with ?to=)', params: AppParams,
      querystring: Type.Object({ to: Type.Optional(Type.String({ maxLength: 254 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ data: Type.Array(LockoutOut) }), ...problems(401, 404, 422) },
    },
  }, async (req) => ({ data: await apps.lockouts(appId(req.params.id), req.query.to !== undefined ? recipient(req.query.to) : undefined) }));

  app.delete('/apps/:id/lockouts/:to', {
    schema: {
      tags: ['admin'], security, summary: 'Unblock a phone: clear its lock, failures, sends and cooldown',
      params: Type.Object({ id: Type.String({ maxLength: 64 }), to: Type.String({ maxLength: 254 }) }),
      response: { 204: Type.Null(), ...problems(401, 404, 422) },
    },
  }, async (req, reply) => {
    await apps.unblock(appId(req.params.id), recipient(req.params.to));
    return reply.code(204).send(null);
  });

  app.get('/audit', {
    schema: {
      tags: ['admin'], security, summary: 'The audit log, newest first',
      querystring: Type.Object({
        appId: Type.Optional(Type.String({ maxLength: 64 })), targetId: Type.Optional(Type.String({ maxLength: 64 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })), cursor: Type.Optional(Type.String({ maxLength: 64 })),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ data: Type.Array(AuditOut), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problems(401, 422) },
    },
  }, async (req) => {
    const limit = req.query.limit ?? 50;
    const rows = await apps.audit({ appId: req.query.appId, targetId: req.query.targetId, limit: limit + 1, before: req.query.cursor });
    const page = rows.slice(0, limit);
    return {
      data: page.map((a) => ({ ...a, at: new Date(a.at).toISOString() })),
      nextCursor: rows.length > limit ? page.at(-1)!.id : null,
    };
  });
}
