/**
 * The events otpd posts to an app's webhook endpoints and to a verification's callback URL, as the OpenAPI
 * document's `webhooks` section (what client generators and the docs show of them). Payloads follow Standard
 * Webhooks: `{type, timestamp, data}`, signed in the `webhook-id`, `webhook-timestamp` and `webhook-signature`
 * headers (docs/api.md#webhooks-and-status-callbacks-seeds-001-003). They never hold a code.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { CHANNELS } from '../domain/channels.js';
import type { EventType } from '../domain/events.js';

const nullable = (t: TSchema) => Type.Union([t, Type.Null()]);
const time = Type.String({ format: 'date-time' });
const channel = Type.Union(CHANNELS.map((c) => Type.Literal(c)));

const VerificationData = Type.Object({
  id: Type.String(), to: Type.String(), countryIso: nullable(Type.String()), channel, channels: Type.Array(channel),
  status: Type.Union(['pending', 'verified', 'failed', 'expired', 'canceled'].map((s) => Type.Literal(s))),
  attempts: Type.Integer(), maxAttempts: Type.Integer(), sends: Type.Integer(), createdAt: time, expiresAt: time, verifiedAt: nullable(time),
  metadata: nullable(Type.Record(Type.String(), Type.Unknown())),
}, { title: 'VerificationEventData' });
const MessageData = Type.Object({
  id: Type.String(), verificationId: Type.String(), step: Type.Integer(), channel, to: Type.String(), status: Type.String(),
  provider: nullable(Type.String()), providerMessageId: nullable(Type.String()), errorCode: nullable(Type.String()),
}, { title: 'MessageEventData' });
const BlockData = Type.Object({
  dimension: Type.String(), value: Type.String(), rule: Type.String(), reason: Type.String(), mode: Type.Optional(Type.String()),
  blockedAt: nullable(time), blockedUntil: nullable(time), unblockedAt: Type.Optional(time), by: Type.Optional(Type.String()),
}, { title: 'FraudEventData' });
const SpendData = Type.Object({ period: Type.String(), periodId: Type.String(), spent: Type.Number(), cap: Type.Number(), currency: Type.String() }, { title: 'SpendWarningData' });

const DESCRIPTIONS: Record<EventType, [string, TSchema]> = {
  'verification.created': ['A verification was started (its first message is on its way)', VerificationData],
  'verification.verified': ['The right code was checked (or the verification approved)', VerificationData],
  'verification.failed': ['The last try was used with a wrong code: the phone is locked', VerificationData],
  'verification.expired': ['The code expired before it was verified', VerificationData],
  'verification.canceled': ['Canceled by the app, or by a new verification to the same recipient', VerificationData],
  'message.sent': ['A provider accepted a message', MessageData],
  'message.delivered': ["The provider's receipt: delivered", MessageData],
  'message.undelivered': ["The provider's receipt: not delivered", MessageData],
  'message.failed': ['No provider took the message (after retries and failover)', MessageData],
  'fraud.blocked': ['The guard blocked a prefix, range, country, address or device', BlockData],
  'fraud.unblocked': ['A block ended (its time ran out, or an admin lifted it)', BlockData],
  'spend.warning': ["The app's spend reached 80 % of a cap", SpendData],
};

const headers = Object.fromEntries(['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [h, { required: true, schema: { type: 'string' } }]));

export const OUTBOUND_WEBHOOKS = Object.fromEntries(Object.entries(DESCRIPTIONS).map(([type, [summary, data]]) => [type, {
  post: {
    operationId: `on${type.split('.').map((p) => p[0]!.toUpperCase() + p.slice(1)).join('')}`,
    summary, tags: ['events'], security: [],
    parameters: Object.entries(headers).map(([name, h]) => ({ name, in: 'header', ...h })),
    requestBody: {
      required: true,
      content: { 'application/json': { schema: Type.Object({ type: Type.Literal(type), timestamp: time, data }) } },
    },
    responses: { '2XX': { description: 'Received; anything else is retried on the Standard Webhooks schedule (410 Gone disables the endpoint)' } },
  },
}]));
