/**
 * Request and response schemas (TypeBox → JSON Schema): Fastify validates requests with them, serialises
 * responses with them (nothing not listed can leak) and @fastify/swagger turns them into the OpenAPI document.
 */
import { Type, type Static } from '@sinclair/typebox';
import { CHANNELS, CODE_TYPES, DEFAULT_STEP_TIMEOUT, RANGES } from '../domain/policy.js';
import { LOCALE_PATTERN } from '../domain/template.js';
import { STATUSES } from '../domain/verification.js';

const range = (f: keyof typeof RANGES, description: string) =>
  Type.Integer({ minimum: RANGES[f].min, maximum: RANGES[f].max, description });

export const ChannelSchema = Type.Union(CHANNELS.map((c) => Type.Literal(c)), { description: 'Delivery channel' });
export const StatusSchema = Type.Union(STATUSES.map((s) => Type.Literal(s)));

/** What the caller may say about its end user: the guard's per-address and per-device rules key on it. */
export const SignalFields = {
  ip: Type.Optional(Type.String({
    maxLength: 64,
    description: "The end user's IP address as your backend saw it. Rate limits and fraud rules count per address (IPv6 per /64). Without it, the connection's address counts only behind trusted proxies (OTPD_TRUST_PROXY).",
  })),
  deviceId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "A stable id of the end user's device or browser (printable ASCII), for per-device limits" })),
  userAgent: Type.Optional(Type.String({ maxLength: 512, description: "The end user's User-Agent, recorded with the guard's decisions" })),
};

const PaymentFields = {
  amount: Type.Optional(Type.String({ minLength: 1, maxLength: 32, pattern: '^[^{}\\u0000-\\u001f]*$', description: 'PSD2 dynamic linking: the amount the user approves, as shown (e.g. "€49.99"); shown in the message and bound into the code: the check must give the same' })),
  payee: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[^{}\\u0000-\\u001f]*$', description: 'PSD2 dynamic linking: who is paid, as shown; bound into the code like amount' })),
};

export const StartBody = Type.Object(
  {
    to: Type.String({ minLength: 1, maxLength: 254, description: 'Mobile number in international format (E.164 preferred), e.g. +33612345678; an email address for the email channel' }),
    template: Type.Optional(Type.String({ maxLength: 64, description: "One of the app's templates (tpl_…) for the channel; otherwise chosen by language and destination" })),
    channel: Type.Optional(ChannelSchema),
    channels: Type.Optional(Type.Array(ChannelSchema, {
      minItems: 1, maxItems: CHANNELS.length, uniqueItems: true,
      description: 'Ordered channel workflow, e.g. ["whatsapp","sms"]: the next channel starts, with the same code, when one fails or no delivery receipt comes within stepTimeout. Not with channel.',
    })),
    callbackUrl: Type.Optional(Type.String({ maxLength: 2000, description: "Seed 001's status callback: this verification's events are posted here, signed with the app's callback secret" })),
    stepTimeout: Type.Optional(range('stepTimeout', `Seconds to wait for a delivery receipt before the next channel (default ${DEFAULT_STEP_TIMEOUT})`)),
    locale: Type.Optional(Type.String({ pattern: LOCALE_PATTERN, maxLength: 35, description: 'Message language, e.g. fr or fr-BE' })),
    codeLength: Type.Optional(range('codeLength', 'Code length (default 6)')),
    codeType: Type.Optional(Type.Union(CODE_TYPES.map((c) => Type.Literal(c)), { description: 'numeric (default), alpha, or alphanumeric without look-alike characters' })),
    ttl: Type.Optional(range('ttl', 'Seconds the code stays valid (default 300)')),
    maxAttempts: Type.Optional(range('maxAttempts', 'Tries per code (default 3)')),
    from: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: "The sender id for this verification (seed 001's \"from\"): one of the app's registered senders (/v1/senders) of a channel of the workflow" })),
    ...PaymentFields,
    customCode: Type.Optional(Type.String({ minLength: 4, maxLength: 10, description: "Your own code (Twilio's CustomCode), when the app allows it (settings.allowCustomCode): 4-10 characters of the code type's alphabet; stored only as an HMAC, like a generated one" })),
    metadata: Type.Optional(
      Type.Record(Type.String({ maxLength: 40 }), Type.Union([Type.String({ maxLength: 500 }), Type.Number(), Type.Boolean(), Type.Null()]), {
        maxProperties: 20,
        description: 'Your own key/value pairs, returned as given',
      }),
    ),
    ...SignalFields,
  },
  { additionalProperties: false, examples: [{ to: '+33612345678', channel: 'sms', locale: 'en' }] },
);
export type StartBodyT = Static<typeof StartBody>;

export const Verification = Type.Object(
  {
    id: Type.String({ examples: ['ver_01JD3K5Q4V8Y2M9N7P6R5S4T3W'] }),
    to: Type.String({ description: 'E.164, or an email address' }),
    countryIso: Type.Union([Type.String(), Type.Null()], { description: 'Null for email' }),
    channel: ChannelSchema,
    locale: Type.String(),
    status: StatusSchema,
    codeLength: Type.Integer(),
    codeType: Type.String(),
    attempts: Type.Integer({ description: 'Tries used (earlier wrong tries of the same phone count too)' }),
    maxAttempts: Type.Integer(),
    attemptsRemaining: Type.Integer(),
    sends: Type.Integer({ description: 'Sends to this phone since its last successful verification' }),
    maxSends: Type.Integer(),
    resendAvailableAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.String({ format: 'date-time' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    verifiedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    parts: Type.Integer({ description: 'SMS segments of the last message (GSM-7 or UCS-2)' }),
    cost: Type.Number({ description: 'Sum of the message prices from the price table' }),
    currency: Type.String(),
    metadata: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    channels: Type.Array(ChannelSchema, { description: 'The channel workflow' }),
    step: Type.Integer({ description: 'Index in channels of the step being delivered' }),
    payment: Type.Union([
      Type.Object({ amount: Type.Union([Type.String(), Type.Null()]), payee: Type.Union([Type.String(), Type.Null()]) }),
      Type.Null(),
    ], { description: 'PSD2: the amount and payee the code approves (a check must give the same)' }),
  },
  { $id: 'Verification' },
);

export const VerificationList = Type.Object({
  data: Type.Array(Type.Ref(Verification)),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor to get the next (older) page' }),
});

export const ListQuery = Type.Object(
  {
    to: Type.Optional(Type.String({ maxLength: 254 })),
    status: Type.Optional(StatusSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

export const CheckBody = Type.Object(
  { code: Type.String({ maxLength: 64, description: 'The code the user typed' }), ...PaymentFields, ...SignalFields },
  { additionalProperties: false, examples: [{ code: '123456' }] },
);
export const CheckByRecipientBody = Type.Object(
  { to: Type.String({ minLength: 1, maxLength: 254 }), code: Type.String({ maxLength: 64 }), ...PaymentFields, ...SignalFields },
  { additionalProperties: false, examples: [{ to: '+33612345678', code: '123456' }] },
);

export const CheckResult = Type.Object({
  id: Type.String(),
  status: StatusSchema,
  valid: Type.Boolean({ description: 'True only in the one response whose check verified the code' }),
  attemptsRemaining: Type.Integer(),
});

export const ResendBody = Type.Object({ channel: Type.Optional(ChannelSchema), ...SignalFields }, { additionalProperties: false });

const NullableTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);
export const Message = Type.Object({
  id: Type.String(),
  verificationId: Type.String(),
  step: Type.Integer(),
  channel: ChannelSchema,
  to: Type.String(),
  status: Type.Union(['waiting', 'queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'skipped'].map((x) => Type.Literal(x))),
  provider: NullableString,
  providerMessageId: NullableString,
  route: Type.Array(Type.String(), { description: 'Providers in failover order' }),
  errorCode: NullableString,
  error: NullableString,
  attempts: Type.Integer({ description: 'Provider calls made' }),
  parts: Type.Integer(),
  cost: Type.Number({ description: 'From the price table' }),
  price: Type.Union([Type.Number(), Type.Null()], { description: 'As reported by the provider' }),
  priceCurrency: NullableString,
  outcomeUnknown: Type.Boolean({ description: 'The provider may or may not have accepted it; never re-sent' }),
  createdAt: Type.String({ format: 'date-time' }),
  sentAt: NullableTime,
  deliveredAt: NullableTime,
  failedAt: NullableTime,
});

export const DevMessagesQuery = Type.Object(
  { to: Type.Optional(Type.String({ maxLength: 254 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })) },
  { additionalProperties: false },
);
export const DevMessages = Type.Object({
  messages: Type.Array(
    Type.Object({
      id: Type.String(),
      verificationId: Type.String(),
      to: Type.String(),
      channel: Type.String(),
      text: Type.String(),
      code: Type.String(),
      createdAt: Type.String({ format: 'date-time' }),
    }),
  ),
});

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    code: Type.String({ description: 'Stable machine code, e.g. invalid_phone_number' }),
    requestId: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ pointer: Type.String(), detail: Type.String() }))),
  },
  { $id: 'Problem', additionalProperties: true },
);

/** Standard error responses for the OpenAPI document. */
export const problems = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [s, { description: 'RFC 9457 problem details', content: { 'application/problem+json': { schema: Type.Ref(Problem) } } }]),
  );

/** One documented problem status, saying which codes it carries. */
export const problem = (status: number, description: string) => ({
  [status]: { description: `RFC 9457 problem details: ${description}`, content: { 'application/problem+json': { schema: Type.Ref(Problem) } } },
});

/** The guard's answers on routes that send or check (403 fraud_blocked; 429 rate_limited, spend_cap_reached). */
export const guardProblems = (sends: boolean) => ({
  ...problem(403, sends ? '`fraud_blocked` (the guard refused the send: `reasons` lists its reason codes) or `app_disabled`' : '`fraud_blocked` or `app_disabled`'),
  ...problem(429, sends
    ? '`rate_limited` (a guard rate limit, with Retry-After and `reasons`), `spend_cap_reached` (the app\'s daily or monthly cap, Retry-After to the next period), `max_sends_reached`, `phone_locked`'
    : '`rate_limited` (a guard rate limit or the failed-authentication limiter, with Retry-After)'),
});


/**
 * Adds to a route's documented responses the problems every route of its kind can answer, so the OpenAPI document
 * lists every status a route really gives (the fuzz test holds it to that): 431 and 503 on every route (headers too
 * large; shutting down, database unavailable); 401 and 429 (failed-authentication limiter) behind credentials; 400 (bad percent-encoding),
 * 414 (a path segment over 200 characters) and 422 with path parameters; 422 with a query string; 400 (malformed
 * JSON), 413 and 415 on methods that may carry a body, and 422 with a body schema. Statuses a route documents itself keep its own description.
 */
export function documentCommonProblems(route: { url: string; method: string | string[]; schema?: Record<string, unknown> | undefined }): void {
  const schema = route.schema;
  if (!schema || schema.hide === true) return;
  // Every route: 431 (request line and headers too large, answered before any route) and 503.
  const statuses = new Set<number>([431, 503]);
  if (/^\/(v1|dev|admin\/v1|client\/v1)\//.test(route.url) || route.url === '/oauth/token') [401, 429].forEach((x) => statuses.add(x));
  if (schema.params) [400, 414, 422].forEach((x) => statuses.add(x));
  if (schema.querystring) statuses.add(422);
  // Any request that may carry a body is parsed (and can be malformed, too large or of another type).
  if ([route.method].flat().some((m) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(m))) [400, 413, 415].forEach((x) => statuses.add(x));
  if (schema.body) statuses.add(422);
  const response = (schema.response ?? {}) as Record<string, unknown>;
  schema.response = { ...problems(...[...statuses].filter((x) => !(x in response))), ...response };
}
