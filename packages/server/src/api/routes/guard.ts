/**
 * `/admin/v1/apps/{id}/guard`: an app's fraud and abuse guard: settings (mode, level, rule overrides, allow lists,
 * spend caps), the decisions it recorded, the blocks in force, and lifting a block.
 */
import { Type } from '@sinclair/typebox';
import { OtpdError } from '../../domain/errors.js';
import { isId } from '../../domain/ids.js';
import type { GuardAdmin } from '../../guard/admin.js';
import { DIMENSIONS, GUARD_ACTIONS, LEVELS, MODES } from '../../guard/rules.js';
import type { AppsService } from '../../services/apps.js';
import { problems } from '../schemas.js';
import type { TypedApp } from './verifications.js';

const security = [{ adminToken: [] }];
const lit = <T extends string>(xs: readonly T[]) => Type.Union(xs.map((x) => Type.Literal(x)));

const RuleOverride = Type.Union([
  Type.Literal(false),
  Type.Object({
    kind: Type.Optional(lit(['rate', 'unverified', 'distinct'] as const)),
    dimension: Type.Optional(lit(DIMENSIONS)),
    actions: Type.Optional(Type.Array(lit(GUARD_ACTIONS), { minItems: 1 })),
    limit: Type.Optional(Type.Integer()), period: Type.Optional(Type.Integer({ description: 'seconds' })),
    floor: Type.Optional(Type.Integer()), ratio: Type.Optional(Type.Number()), block: Type.Optional(Type.Integer({ description: 'seconds' })),
    max: Type.Optional(Type.Integer()),
  }, { additionalProperties: false }),
]);

const guardFields = {
  mode: Type.Optional(lit(MODES)),
  level: Type.Optional(lit(LEVELS)),
  rules: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,39}$' }), RuleOverride, {
    description: 'Per rule id: false turns it off, an object changes its numbers; a new id with kind "rate" adds a rate rule',
  })),
  allow: Type.Optional(Type.Object({
    numbers: Type.Optional(Type.Array(Type.String(), { maxItems: 1000, description: 'E.164 numbers no rule refuses (test numbers, QA)' })),
    prefixes: Type.Optional(Type.Array(Type.String(), { maxItems: 1000, description: 'Number prefixes, e.g. +3247' })),
    ips: Type.Optional(Type.Array(Type.String(), { maxItems: 1000, description: 'Addresses or CIDR ranges' })),
  }, { additionalProperties: false })),
  spendCap: Type.Optional(Type.Object({
    daily: Type.Optional(Type.Number({ description: "Most the app may spend per UTC day, in its price table's currency" })),
    monthly: Type.Optional(Type.Number({ description: 'Per UTC month' })),
  }, { additionalProperties: false })),
};

/** The `guard` member of app settings (see docs/fraud.md). */
export const GuardSettingsSchema = Type.Object(guardFields, { additionalProperties: false, description: 'Fraud and abuse guard (docs/fraud.md)' });
const GuardPatch = Type.Object(
  Object.fromEntries(Object.entries(guardFields).map(([k, v]) => [k, Type.Optional(Type.Union([v, Type.Null()]))])),
  { additionalProperties: false },
);

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Block = Type.Object({ dimension: lit(DIMENSIONS), value: Type.String(), rule: Type.String(), reason: Type.String(), blockedAt: Time, blockedUntil: Time });
const Decision = Type.Object({
  id: Type.String(), at: Type.String({ format: 'date-time' }), action: lit(GUARD_ACTIONS), outcome: lit(['refused', 'flagged'] as const), mode: lit(MODES),
  rules: Type.Array(Type.String()), reasons: Type.Array(Type.String()), code: Type.String(),
  to: Type.Union([Type.String(), Type.Null()]), prefix: Type.Union([Type.String(), Type.Null()]), country: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]), deviceId: Type.Union([Type.String(), Type.Null()]), userAgent: Type.Union([Type.String(), Type.Null()]),
  verificationId: Type.Union([Type.String(), Type.Null()]),
});
const RuleOut = Type.Union([
  Type.Object({ kind: Type.Literal('rate'), id: Type.String(), dimension: lit(DIMENSIONS), actions: Type.Array(lit(GUARD_ACTIONS)), limit: Type.Integer(), period: Type.Integer() }),
  Type.Object({ kind: Type.Literal('unverified'), id: Type.String(), dimension: lit(DIMENSIONS), floor: Type.Integer(), ratio: Type.Number(), period: Type.Integer(), block: Type.Integer() }),
  Type.Object({ kind: Type.Literal('distinct'), id: Type.String(), dimension: lit(DIMENSIONS), max: Type.Integer(), period: Type.Integer(), block: Type.Integer() }),
]);
const Spend = Type.Object({ period: Type.String(), spent: Type.Number(), cap: Type.Union([Type.Number(), Type.Null()]) });
const GuardView = Type.Object({
  mode: lit(MODES), level: lit(LEVELS), rules: Type.Array(RuleOut, { description: 'The rules in force (level and overrides applied)' }),
  overrides: Type.Record(Type.String(), Type.Unknown()), allow: Type.Record(Type.String(), Type.Unknown()), spendCap: Type.Record(Type.String(), Type.Unknown()),
  spend: Type.Object({ currency: Type.String(), daily: Spend, monthly: Spend }),
  activeBlocks: Type.Integer(),
});
const AppParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

export async function guardRoutes(app: TypedApp, apps: AppsService, admin: GuardAdmin): Promise<void> {
  const appOf = async (id: string) => {
    if (!isId('app', id)) throw new OtpdError('not_found', `No app ${id}`);
    return apps.get(id);
  };

  app.get('/apps/:id/guard', {
    schema: { tags: ['guard'], security, summary: "An app's guard: mode, level, rules in force, allow lists, spend caps and this period's spend", params: AppParams, response: { 200: GuardView, ...problems(401, 404) } },
  }, async (req) => admin.view(await appOf(req.params.id)));

  app.patch('/apps/:id/guard', {
    schema: {
      tags: ['guard'], security, summary: "Change an app's guard settings (JSON merge patch; null resets a member)",
      description: 'Validated like the other settings (422 names the field); audited as an app change; effective on the next request on every node.',
      params: AppParams, body: GuardPatch, response: { 200: GuardView, ...problems(401, 404, 422) },
    },
  }, async (req) => admin.update(await appOf(req.params.id), req.body as Record<string, unknown>, 'admin'));

  app.get('/apps/:id/guard/decisions', {
    schema: {
      tags: ['guard'], security, summary: 'Requests the guard refused (or, in shadow mode, would have), newest first', params: AppParams,
      querystring: Type.Object({
        rule: Type.Optional(Type.String({ maxLength: 40 })), prefix: Type.Optional(Type.String({ maxLength: 32 })), country: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2}$' })),
        since: Type.Optional(Type.String({ format: 'date-time' })), until: Type.Optional(Type.String({ format: 'date-time' })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })), cursor: Type.Optional(Type.String({ maxLength: 200 })),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ data: Type.Array(Decision), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problems(401, 404, 422) },
    },
  }, async (req) => admin.decisions(await appOf(req.params.id), req.query));

  app.get('/apps/:id/guard/blocks', {
    schema: { tags: ['guard'], security, summary: 'Prefixes, countries, addresses and devices blocked now', params: AppParams, response: { 200: Type.Object({ data: Type.Array(Block) }), ...problems(401, 404) } },
  }, async (req) => admin.blocks(await appOf(req.params.id)));

  app.post('/apps/:id/guard/unblock', {
    schema: {
      tags: ['guard'], security, summary: 'Lift the blocks on a value (a prefix, a country, an address, a device) and empty its budgets',
      description: 'Audited; emits fraud.unblocked. 404 when nothing blocks the value.',
      params: AppParams,
      body: Type.Object({ dimension: lit(DIMENSIONS), value: Type.String({ minLength: 1, maxLength: 254 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ data: Type.Array(Block) }), ...problems(401, 404, 422) },
    },
  }, async (req) => admin.unblock(await appOf(req.params.id), req.body.dimension, req.body.value, 'admin'));
}
