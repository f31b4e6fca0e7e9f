/** An `http` entry of OTPD_PROVIDERS (any HTTP gateway), with its receipts block, and the provider it makes. */
import { Type, type Static } from '@sinclair/typebox';
import { CHANNELS } from '../../domain/policy.js';
import { defineProvider } from '../plugin.js';
import { Name, Timeout, Url } from '../shared/schema.js';
import { httpCallbacks } from './callbacks.js';
import { HttpProvider } from './index.js';

/** A dotted path into a receipt: `status`, `data.state` (no empty segment). */
const ReceiptPath = Type.String({ minLength: 1, maxLength: 100, pattern: '^[^.]+(\\.[^.]+)*$' });
const StatusValues = Type.Array(Type.String({ minLength: 1, maxLength: 40 }), { minItems: 1, maxItems: 50 });

/** Receipts from a generic HTTP gateway (`/webhooks/http/{name}`): see docs/providers.md. */
const HttpReceiptsSchema = Type.Object({
  statusPath: Type.Optional(ReceiptPath),
  messageIdPath: Type.Optional(ReceiptPath),
  errorCodePath: Type.Optional(ReceiptPath),
  statuses: Type.Optional(Type.Object({
    delivered: Type.Optional(StatusValues), undelivered: Type.Optional(StatusValues), failed: Type.Optional(StatusValues), sent: Type.Optional(StatusValues),
  }, { additionalProperties: false, minProperties: 1 })),
  signature: Type.Optional(Type.Object({
    header: Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }),
    secret: Type.String({ minLength: 8 }),
    algorithm: Type.Optional(Type.Union([Type.Literal('sha1'), Type.Literal('sha256'), Type.Literal('sha512')])),
    encoding: Type.Optional(Type.Union([Type.Literal('hex'), Type.Literal('base64')])),
    prefix: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    timestampPath: Type.Optional(ReceiptPath),
    maxAgeSeconds: Type.Optional(Type.Integer({ minimum: 30, maximum: 86_400 })),
  }, { additionalProperties: false })),
}, { additionalProperties: false });

export const HttpSchema = Type.Object({
  name: Name, type: Type.Literal('http'), url: Url,
  channels: Type.Optional(Type.Array(Type.Union(CHANNELS.map((c) => Type.Literal(c))), { minItems: 1, uniqueItems: true })),
  apiKey: Type.Optional(Type.String()), apiSecret: Type.Optional(Type.String()),
  senderName: Type.Optional(Type.String({ maxLength: 11 })), senderNumber: Type.Optional(Type.String()),
  auth: Type.Optional(Type.Union([Type.Literal('basic'), Type.Literal('bearer'), Type.Literal('headers'), Type.Literal('body')])),
  headers: Type.Optional(Type.Record(Type.String(), Type.String())),
  body: Type.Unknown(),
  successStatus: Type.Optional(Type.Array(Type.Integer({ minimum: 100, maximum: 599 }))),
  successField: Type.Optional(Type.Object({ path: Type.String(), equals: Type.Union([Type.String(), Type.Number(), Type.Boolean()]) })),
  messageIdPath: Type.Optional(Type.String()), timeoutMs: Timeout,
  receipts: Type.Optional(HttpReceiptsSchema),
}, { additionalProperties: false });

/** What the schema cannot say about a gateway's receipts block. */
function checkReceipts(name: string, r: Static<typeof HttpReceiptsSchema> | undefined): string[] {
  if (!r) return [];
  const errs: string[] = [];
  const seen = new Map<string, string>();
  for (const [status, values] of Object.entries(r.statuses ?? {})) {
    for (const value of values ?? []) {
      const k = value.trim().toLowerCase();
      const first = seen.get(k);
      if (first !== undefined && first !== status) errs.push(`provider ${name}: receipts.statuses lists ${JSON.stringify(k)} under both ${first} and ${status}`);
      else seen.set(k, status);
    }
  }
  if (r.signature?.maxAgeSeconds !== undefined && !r.signature.timestampPath) errs.push(`provider ${name}: receipts.signature.maxAgeSeconds needs timestampPath (the signed timestamp it applies to)`);
  return errs;
}

export const http = defineProvider({
  type: 'http', secrets: ['/url', '/apiKey', '/apiSecret', '/headers/*', '/receipts/signature/secret'],
  schema: HttpSchema,
  check: (c) => checkReceipts(c.name, c.receipts),
  create: (c) => new HttpProvider(c),
  callbacks: httpCallbacks,
});
