/**
 * The browser's way in (issue 18): `POST /v1/client-sessions` (the customer's backend, with its API key) and the
 * `/client/v1` routes the widget and the hosted page call with that session's token. CORS: a request with an
 * `Origin` must come from one of the app's `settings.widget.origins` (or otpd's own origin: the hosted page);
 * another origin is refused (403 `origin_not_allowed`) before anything is done, and preflights answer only with the
 * methods and headers these routes take.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseRecipient, CHANNEL } from '../../domain/channels.js';
import { OtpdError } from '../../domain/errors.js';
import { resolvePolicy, type Channel } from '../../domain/policy.js';
import type { AppRecord } from '../../domain/records.js';
import type { VerificationView } from '../../domain/verification.js';
import { clientOf } from '../../guard/client.js';
import type { AppsService } from '../../services/apps.js';
import { maskRecipient, type ClientSession, type ClientSessions } from '../../services/client-sessions.js';
import type { VerificationsService } from '../../services/verifications.js';
import { ChannelSchema, IdParams, problems } from '../schemas.js';
import type { TypedApp } from './verifications.js';

const security = [{ clientSession: [] }];
const Time = Type.String({ format: 'date-time' });
const ClientVerification = Type.Object({
  id: Type.String(), status: Type.String(), channel: ChannelSchema, to: Type.String({ description: 'Masked' }), expiresAt: Time,
  resendAvailableAt: Time, attemptsRemaining: Type.Integer(), sends: Type.Integer(), maxSends: Type.Integer(),
});

declare module 'fastify' {
  interface FastifyRequest {
    /** The client session of a /client/v1 request. */
    clientSession: ClientSession;
  }
}

/** `POST /v1/client-sessions`, on the authenticated /v1 scope. */
export async function clientSessionRoute(app: TypedApp, sessions: ClientSessions): Promise<void> {
  app.post('/client-sessions', {
    schema: {
      tags: ['widget'], security: [{ apiKey: [] }], summary: 'A short-lived token for the browser: one recipient, the channels it may choose',
      description: 'Give the token to the widget (`<otpd-verify session="…">`) or the hosted page (`/verify?session=…`). It can start, resend and check verifications of this recipient only; learn the result from GET /v1/verifications/{id} or the verification.verified webhook, never from the browser.',
      body: Type.Object({
        to: Type.String({ minLength: 1, maxLength: 254, description: 'The number (E.164) or email address to verify' }),
        channels: Type.Optional(Type.Array(ChannelSchema, { minItems: 1, uniqueItems: true, description: 'Channels the user may choose, the first by default (default: the app\'s)' })),
        locale: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$' })),
        ttl: Type.Optional(Type.Integer({ minimum: 60, maximum: 3600, description: 'Seconds the token lasts (default 600)' })),
      }, { additionalProperties: false, examples: [{ to: '+33612345678', channels: ['sms', 'voice'] }] }),
      response: { 201: Type.Object({ token: Type.String(), expiresAt: Time, to: Type.String({ description: 'Masked, as the widget shows it' }) }, { description: 'The client session' }), ...problems(401, 422) },
    },
  }, async (req, reply) => {
    const b = req.body;
    const channels = b.channels ?? null;
    // The recipient's kind: the channels' when given, else the address's own.
    const kinds = new Set(channels ? channels.map((c) => CHANNEL[c as Channel].recipient) : [b.to.includes('@') ? 'email' as const : 'phone' as const]);
    if (kinds.size > 1) throw new OtpdError('invalid_request', 'channels cannot mix email with phone channels', { extensions: { errors: [{ pointer: '/channels', detail: 'mixes email and phone channels' }] } });
    const to = parseRecipient([...kinds][0]!, b.to).to;
    const s = sessions.issue({ appId: req.app.id, to, channels: channels as Channel[] | null, locale: b.locale ?? null }, b.ttl);
    return reply.code(201).send({ token: s.token, expiresAt: new Date(s.expiresAt).toISOString(), to: maskRecipient(to) });
  });
}

export async function clientRoutes(app: FastifyInstance, d: {
  sessions: ClientSessions; apps: AppsService; verifications: VerificationsService; behindProxy: boolean; publicUrl: string | undefined;
  guarded: <T>(req: FastifyRequest, credential: string | null, attempt: () => Promise<T>) => Promise<T>;
}): Promise<void> {
  // otpd's own origin (the hosted page): OTPD_PUBLIC_URL's behind a proxy, else as the request reached this node.
  const publicOrigin = d.publicUrl ? new URL(d.publicUrl).origin : null;
  const ownOrigin = (req: FastifyRequest, origin: string) => origin === publicOrigin || origin === `${req.protocol}://${req.headers.host ?? ''}`;
  /** Checks the session, the app and the origin; allowed origins get their CORS headers (also on a problem). */
  const admit = async (req: FastifyRequest, reply: FastifyReply): Promise<AppRecord> => {
    const origin = req.headers.origin;
    const h = req.headers.authorization;
    const token = typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7).trim() : null;
    const session = await d.guarded(req, token, async () => d.sessions.open(token));
    const a = await d.apps.get(session.appId);
    if (!a.enabled) throw new OtpdError('app_disabled');
    if (origin !== undefined) {
      if (!ownOrigin(req, origin) && !(a.settings.widget?.origins ?? []).includes(origin)) {
        throw new OtpdError('origin_not_allowed', `${origin} is not in this app's settings.widget.origins`);
      }
      reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    }
    req.clientSession = session;
    return a;
  };
  const view = (v: VerificationView) => ({
    id: v.id, status: v.status, channel: v.channel, to: maskRecipient(v.to), expiresAt: v.expiresAt, resendAvailableAt: v.resendAvailableAt,
    attemptsRemaining: v.attemptsRemaining, sends: v.sends, maxSends: v.maxSends,
  });
  /** The session's verification `id` (another recipient's is not found). */
  const own = async (a: AppRecord, req: FastifyRequest, id: string) => {
    const v = await d.verifications.get(a, id);
    if (v.to !== req.clientSession.to) throw new OtpdError('verification_not_found', 'No verification with this id for this session');
    return v;
  };
  /** The channels the session offers: its own, else the app's defaults for the recipient. */
  const offered = (a: AppRecord, s: ClientSession): Channel[] => {
    if (s.channels) return s.channels;
    const kind = s.to.includes('@') ? 'email' : 'phone';
    const defaults: Channel[] = a.settings.defaultChannels ?? [a.settings.defaultChannel ?? 'sms'];
    const usable = defaults.filter((c) => CHANNEL[c].recipient === kind);
    return usable.length > 0 ? usable : [kind === 'email' ? 'email' : 'sms'];
  };
  /** A channel the browser asked for, if the session offers it (none asked: undefined, the caller decides). */
  const asked = (a: AppRecord, req: FastifyRequest, c: Channel | undefined): Channel | undefined => {
    const allowed = offered(a, req.clientSession);
    if (c !== undefined && !allowed.includes(c)) {
      throw new OtpdError('invalid_request', `channel must be one of ${allowed.join(', ')}`, { extensions: { errors: [{ pointer: '/channel', detail: 'not offered by this session' }] } });
    }
    return c;
  };
  const client = (req: FastifyRequest) => clientOf(req.ip, req.headers['user-agent'], true);

  await app.register(async (c) => {
    // Preflights: the methods and headers these routes take (the request itself is refused if its origin is not allowed).
    c.options('/*', { schema: { hide: true } }, async (req, reply) => {
      const origin = req.headers.origin;
      if (origin) reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
      return reply.header('access-control-allow-methods', 'GET, POST').header('access-control-allow-headers', 'authorization, content-type')
        .header('access-control-max-age', '600').code(204).send();
    });
    const t = c.withTypeProvider<TypeBoxTypeProvider>();

    t.get('/session', {
      schema: {
        tags: ['widget'], security, summary: "The session as the widget shows it: the masked recipient, the channels, the app's name, its pending verification",
        response: {
          200: Type.Object({
            to: Type.String(), channels: Type.Array(ChannelSchema), locale: Type.Union([Type.String(), Type.Null()]), brand: Type.String(), expiresAt: Time,
            verification: Type.Union([ClientVerification, Type.Null()]),
          }),
          ...problems(401, 403),
        },
      },
    }, async (req, reply) => {
      const a = await admit(req, reply);
      const s = req.clientSession;
      const pending = (await d.verifications.list(a, { to: s.to, status: 'pending', limit: 1 })).data[0];
      const channels = offered(a, s);
      return {
        to: maskRecipient(s.to), channels, locale: s.locale, brand: a.settings.brandName ?? a.name, expiresAt: new Date(s.expiresAt).toISOString(),
        verification: pending ? view(pending) : null,
      };
    });

    t.post('/verifications', {
      schema: {
        tags: ['widget'], security, summary: "Send a code to the session's recipient (a new verification)",
        body: Type.Object({ channel: Type.Optional(ChannelSchema) }, { additionalProperties: false }),
        response: { 201: ClientVerification, ...problems(401, 403, 422, 429, 503) },
      },
    }, async (req, reply) => {
      const a = await admit(req, reply);
      const s = req.clientSession;
      const r = await d.verifications.start(a, { to: s.to, channel: asked(a, req, req.body.channel) ?? offered(a, s)[0], ...(s.locale ? { locale: s.locale } : {}) }, client(req));
      return reply.code(201).send(view(JSON.parse(r.json) as VerificationView));
    });

    t.post('/verifications/:id/resend', {
      schema: {
        tags: ['widget'], security, summary: 'Send the same code again (after the cooldown), possibly on another offered channel', params: IdParams,
        body: Type.Object({ channel: Type.Optional(ChannelSchema) }, { additionalProperties: false }),
        response: { 200: ClientVerification, ...problems(401, 403, 404, 409, 422, 429, 503) },
      },
      preValidation: (req, _reply, done) => {
        req.body ??= {};
        done();
      },
    }, async (req, reply) => {
      const a = await admit(req, reply);
      await own(a, req, req.params.id);
      // No channel asked: the verification's own (resend keeps it).
      return view(await d.verifications.resend(a, req.params.id, client(req), asked(a, req, req.body.channel)));
    });

    t.post('/verifications/:id/check', {
      schema: {
        tags: ['widget'], security, summary: "Check the code the user typed (the result is also the backend's to read: GET /v1/verifications/{id})", params: IdParams,
        body: Type.Object({ code: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            id: Type.String(), status: Type.String(), valid: Type.Boolean(), attemptsRemaining: Type.Integer(),
            retryAfter: Type.Optional(Type.Integer({ description: 'Out of tries: seconds the number stays locked' })),
          }),
          ...problems(401, 403, 404, 422, 429),
        },
      },
    }, async (req, reply) => {
      const a = await admit(req, reply);
      await own(a, req, req.params.id);
      const r = await d.verifications.check(a, { id: req.params.id }, req.body.code, client(req));
      // The last wrong try locked the number for the app's lockout: the widget says for how long.
      return { id: r.id, status: r.status, valid: r.valid, attemptsRemaining: r.attemptsRemaining, ...(r.status === 'failed' && !r.closed ? { retryAfter: resolvePolicy(a.settings).lockout } : {}) };
    });
  }, { prefix: '/client/v1' });
}
