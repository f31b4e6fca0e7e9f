/**
 * Analytics (services/analytics.ts): `/admin/v1/analytics/{summary,series}` across apps (or one, `app=`), and
 * `/v1/analytics/{summary,series}` for the calling app. Read from the rollups, never from the raw tables.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { OtpdError } from '../../domain/errors.js';
import { isId } from '../../domain/ids.js';
import type { Analytics, AnalyticsQuery, SeriesQuery } from '../../services/analytics.js';
import { ChannelSchema, problems } from '../schemas.js';
import type { TypedApp } from './verifications.js';

const Rate = Type.Union([Type.Number(), Type.Null()]);
const Seconds = Type.Union([Type.Number(), Type.Null()], { description: 'seconds (from the rollup histograms, interpolated in their bucket)' });
const Quantiles = Type.Object({ p50: Seconds, p95: Seconds });
const MessageFigures = {
  sent: Type.Integer({ description: 'Accepted by a provider' }), failed: Type.Integer({ description: 'Failed for good (no provider took them)' }),
  delivered: Type.Integer(), undelivered: Type.Integer({ description: 'Receipts saying undelivered or failed' }),
  fallbacks: Type.Integer({ description: 'Later workflow steps sent (e.g. SMS after WhatsApp)' }),
  deliveryRate: Type.Union([Type.Number(), Type.Null()], { description: 'delivered / sent; null until a receipt arrives (email and console send none)' }),
  acceptanceRate: Rate, timeToDeliver: Quantiles,
};
const Summary = Type.Object({
  from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }),
  verifications: Type.Object({
    started: Type.Integer(), verified: Type.Integer(), failed: Type.Integer({ description: 'Out of tries' }), expired: Type.Integer(), canceled: Type.Integer(),
    pending: Type.Integer({ description: 'Started and not settled yet' }), wrongCodes: Type.Integer(), conversionRate: Rate, timeToVerify: Quantiles,
  }),
  messages: Type.Object(MessageFigures),
  cost: Type.Object({ total: Type.Number({ description: "Estimated cost of the messages sent (the price table's currency)" }), perVerified: Rate }),
  guard: Type.Object({ refused: Type.Integer({ description: 'Starts the guard refused' }), costSaved: Type.Number({ description: 'What their first messages would have cost' }) }),
  channels: Type.Array(Type.Object({ channel: Type.String(), ...MessageFigures })),
  providers: Type.Array(Type.Object({ provider: Type.String(), ...MessageFigures })),
}, { description: 'Figures by cohort: a verification counts in the hour it started, a message in the hour it was created; refusals when refused' });

const N = Type.Integer();
const Point = Type.Object({
  t: Type.String({ format: 'date-time', description: 'Start of the bucket' }),
  started: N, verified: N, failed: N, expired: N, canceled: N, conversionRate: Rate,
  sent: N, delivered: N, undelivered: N, messagesFailed: N, deliveryRate: Rate, fallbacks: N, cost: Type.Number(), refused: N, costSaved: Type.Number(),
  timeToVerifyP50: Seconds, timeToVerifyP95: Seconds, timeToDeliverP50: Seconds, timeToDeliverP95: Seconds,
});
const GROUP_BY = ['none', 'app', 'country', 'prefix', 'channel', 'provider'] as const;
const Series = Type.Object({
  interval: Type.Union([Type.Literal('hour'), Type.Literal('day')]), groupBy: Type.Union(GROUP_BY.map((g) => Type.Literal(g))),
  from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }),
  series: Type.Array(Type.Object({
    group: Type.String({ description: "The group's value ('' for none: an email's country, a verification's provider; `other` sums the groups past the limit)" }),
    points: Type.Array(Point, { description: 'Every bucket of the range, zeros included' }),
  })),
});

const filterFields = (admin: boolean) => ({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Start (rounded down to the hour; to the day for interval=day). Default: 30 days before `to`' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'End, exclusive (rounded up). Default: now' })),
  days: Type.Optional(Type.Integer({ minimum: 1, maximum: 400, description: 'Instead of from: this many days before `to` (the last N days by the server\'s clock)' })),
  ...(admin ? { app: Type.Optional(Type.String({ maxLength: 64, description: 'One app (default: all)' })) } : {}),
  country: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$', description: 'ISO 3166-1 alpha-2' })),
  prefix: Type.Optional(Type.String({ pattern: '^\\+?[0-9]{1,5}$', description: 'Number prefix, calling code included, up to 5 digits (e.g. +3361)' })),
  channel: Type.Optional(ChannelSchema),
  provider: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Message figures of one provider (verification figures have none: zero)' })),
});
const seriesFields = {
  interval: Type.Optional(Type.Union([Type.Literal('hour'), Type.Literal('day')], { description: 'Default day (UTC); hour covers at most 31 days' })),
  groupBy: Type.Optional(Type.Union(GROUP_BY.map((g) => Type.Literal(g)), { description: 'Default none' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, description: 'Groups kept, by volume (default 10); the rest are summed as `other`' })),
};

type Raw = Record<string, unknown>;
/** The query as the service takes it: `app` checked, the prefix without its +, the country upper-cased. */
function filterOf(q: Raw, appId: string | undefined): AnalyticsQuery {
  if (q.app !== undefined && !isId('app', q.app as string)) throw new OtpdError('not_found', `No app ${q.app as string}`);
  return {
    from: q.from as string | undefined, to: q.to as string | undefined, days: q.days as number | undefined, appId: appId ?? (q.app as string | undefined),
    country: (q.country as string | undefined)?.toUpperCase(), prefix: (q.prefix as string | undefined)?.replace(/^\+/, ''),
    channel: q.channel as string | undefined, provider: q.provider as string | undefined,
  };
}
const seriesOf = (q: Raw, appId: string | undefined): SeriesQuery => ({
  ...filterOf(q, appId), interval: q.interval as SeriesQuery['interval'], groupBy: q.groupBy as SeriesQuery['groupBy'], limit: q.limit as number | undefined,
});

/** The routes, under `/admin/v1` (admin: every app) or `/v1` (the calling app's figures). */
export async function analyticsRoutes(app: TypedApp, analytics: Analytics, scope: 'admin' | 'app'): Promise<void> {
  const admin = scope === 'admin';
  const security = admin ? [{ adminToken: [] }] : [{ apiKey: [] }];
  const who = admin ? 'every app (or one: app=)' : 'the calling app';
  const querystring = (extra: Record<string, TSchema>) => Type.Object({ ...filterFields(admin), ...extra }, { additionalProperties: false });
  const appOf = (req: { app?: { id: string } }) => (admin ? undefined : req.app!.id);

  app.get('/analytics/summary', {
    schema: {
      tags: ['analytics'], security, summary: `Verifications, messages, cost and guard refusals over a range, for ${who}`,
      description: 'Read from hourly and daily rollups (fast at any size). A process writes its counts every second; its own reads include them at once.',
      querystring: querystring({}), response: { 200: Summary, ...problems(401, 404, 422) },
    },
  }, async (req) => analytics.summary(filterOf(req.query as Raw, appOf(req))));

  app.get('/analytics/series', {
    schema: {
      tags: ['analytics'], security, summary: `The same figures per hour or UTC day, grouped by one dimension, for ${who}`,
      querystring: querystring(seriesFields), response: { 200: Series, ...problems(401, 404, 422) },
    },
  }, async (req) => analytics.series(seriesOf(req.query as Raw, appOf(req))));
}
