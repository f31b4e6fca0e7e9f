/**
 * The provider configuration file (`OTPD_PROVIDERS`): provider definitions with their credentials, and the
 * server's default routing. Credentials live here, in the operator's configuration, never in the database;
 * apps refer to providers by name in their routing.
 *
 * @example
 * { "providers": [ { "name": "twilio", "type": "twilio", "accountSid": "AC…", "authToken": "…", "from": "+15005550006" } ],
 *   "routing": { "sms": [ { "countries": ["FR", "BE"], "providers": ["vonage", "twilio"] }, { "providers": ["twilio"] } ] } }
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Writable } from 'node:stream';
import type { DevInbox } from '../delivery/dev-inbox.js';
import type { RoutingTable } from '../delivery/routing.js';
import { CHANNELS } from '../domain/policy.js';
import { ConsoleProvider } from './console/index.js';
import { HttpSmsProvider } from './http-sms/index.js';
import { TwilioProvider } from './twilio/index.js';
import { VonageProvider, type VonageConfig } from './vonage/index.js';
import { SmtpProvider } from './smtp/index.js';
import { WhatsAppProvider, type WhatsAppConfig } from './whatsapp/index.js';
import type { DeliveryProvider } from './types.js';

const Name = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,39}$', description: 'lower-case name used in routing and receipt URLs' });
const Url = Type.String({ pattern: '^https?://' });
const Timeout = Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000 }));

const TwilioSchema = Type.Object({
  name: Name, type: Type.Literal('twilio'),
  accountSid: Type.String({ pattern: '^AC[0-9a-fA-F]{32}$' }),
  authToken: Type.Optional(Type.String({ minLength: 1 })),
  apiKeySid: Type.Optional(Type.String({ pattern: '^SK[0-9a-fA-F]{32}$' })),
  apiKeySecret: Type.Optional(Type.String({ minLength: 1 })),
  from: Type.Optional(Type.String({ minLength: 1 })),
  messagingServiceSid: Type.Optional(Type.String({ pattern: '^MG[0-9a-fA-F]{32}$' })),
  baseUrl: Type.Optional(Url), timeoutMs: Timeout,
}, { additionalProperties: false });

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

const HttpSchema = Type.Object({
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

const VonageSchema = Type.Object({
  name: Name, type: Type.Literal('vonage'),
  apiKey: Type.String({ minLength: 8, maxLength: 8 }),
  apiSecret: Type.String({ minLength: 6, maxLength: 32 }),
  from: Type.String({ minLength: 1, maxLength: 15 }),
  signatureSecret: Type.Optional(Type.String({ minLength: 1 })),
  signatureMethod: Type.Optional(Type.Union(['md5hash', 'md5', 'sha1', 'sha256', 'sha512'].map((m) => Type.Literal(m)))),
  baseUrl: Type.Optional(Url), timeoutMs: Timeout,
}, { additionalProperties: false });

const SmtpSchema = Type.Object({
  name: Name, type: Type.Literal('smtp'),
  url: Type.String({ pattern: '^smtps?://' }),
  from: Type.String({ minLength: 3 }),
  insecureTls: Type.Optional(Type.Boolean()), timeoutMs: Timeout,
}, { additionalProperties: false });

const WhatsAppSchema = Type.Object({
  name: Name, type: Type.Literal('whatsapp'),
  phoneNumberId: Type.String({ pattern: '^[0-9]{5,20}$' }),
  accessToken: Type.String({ minLength: 10 }),
  appSecret: Type.String({ minLength: 8 }),
  verifyToken: Type.String({ minLength: 8 }),
  templates: Type.Record(Type.String({ pattern: '^(\\*|[a-z]{2,3}(-[A-Za-z0-9]{2,8})*)$' }), Type.Object({
    name: Type.String({ pattern: '^[a-z0-9_]{1,512}$' }), language: Type.String({ pattern: '^[a-z]{2,3}(_[A-Z]{2})?$' }),
  }, { additionalProperties: false }), { minProperties: 1 }),
  copyCodeButton: Type.Optional(Type.Boolean()),
  baseUrl: Type.Optional(Url), timeoutMs: Timeout,
}, { additionalProperties: false });

const ConsoleSchema = Type.Object({ name: Name, type: Type.Literal('console') }, { additionalProperties: false });

export const ProviderConfigSchema = Type.Union([TwilioSchema, VonageSchema, WhatsAppSchema, HttpSchema, SmtpSchema, ConsoleSchema]);
const SCHEMA_OF_TYPE: Record<string, TSchema> = { twilio: TwilioSchema, vonage: VonageSchema, whatsapp: WhatsAppSchema, http: HttpSchema, smtp: SmtpSchema, console: ConsoleSchema };
export type ProviderConfig = Static<typeof ProviderConfigSchema>;

const RuleSchema = Type.Object({
  countries: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Z]{2}$' }))),
  providers: Type.Array(Name, { minItems: 1 }),
}, { additionalProperties: false });
const RoutingSchema = Type.Partial(Type.Object(Object.fromEntries(CHANNELS.map((c) => [c, Type.Array(RuleSchema)]))), { additionalProperties: false });

export const ProvidersFileSchema = Type.Object({
  providers: Type.Array(ProviderConfigSchema),
  routing: Type.Optional(RoutingSchema),
}, { additionalProperties: false });
export type ProvidersFile = { providers: ProviderConfig[]; routing?: RoutingTable };

/** Validates a parsed providers file; returns the problems as sentences (empty when valid). */
export function checkProvidersFile(v: unknown): string[] {
  if (Value.Check(ProvidersFileSchema, v)) {
    const f = v as ProvidersFile;
    const names = f.providers.map((p) => p.name);
    const errs: string[] = [];
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) errs.push(`provider name ${dup} is used twice`);
    for (const rules of Object.values(f.routing ?? {})) for (const r of rules ?? []) for (const p of r.providers) if (!names.includes(p)) errs.push(`routing names an unknown provider ${p}`);
    for (const p of f.providers) if (p.type === 'http') errs.push(...checkHttpReceipts(p.name, p.receipts));
    return errs;
  }
  // A provider of a known type is checked against that type's schema alone, so the error names the field rather
  // than "expected union value". Messages name paths and rules, never values (some are credentials).
  const list = v && typeof v === 'object' ? (v as { providers?: unknown }).providers : undefined;
  if (Array.isArray(list)) {
    const errs: string[] = [];
    list.forEach((p: unknown, i) => {
      const type = p && typeof p === 'object' ? (p as { type?: unknown }).type : undefined;
      const schema = typeof type === 'string' && Object.hasOwn(SCHEMA_OF_TYPE, type) ? SCHEMA_OF_TYPE[type]! : null;
      if (schema) for (const e of Value.Errors(schema, p)) errs.push(`/providers/${i}${e.path}: ${e.message}`);
    });
    if (errs.length) return errs.slice(0, 5);
  }
  return [...Value.Errors(ProvidersFileSchema, v)].slice(0, 5).map((e) => `${e.path || '/'}: ${e.message}`);
}

/** What the schema cannot say about a gateway's receipts block. */
function checkHttpReceipts(name: string, r: Static<typeof HttpReceiptsSchema> | undefined): string[] {
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

/** Builds the provider instances. The console provider needs the dev inbox and an output stream. */
export function createProviders(configs: readonly ProviderConfig[], dev: { inbox: DevInbox; out: { write(s: string): unknown } | Writable | null; now: () => number } | null): DeliveryProvider[] {
  return configs.map((c): DeliveryProvider => {
    switch (c.type) {
      case 'twilio': return new TwilioProvider(c);
      case 'http': return new HttpSmsProvider(c);
      case 'vonage': return new VonageProvider(c as VonageConfig);
      case 'smtp': return new SmtpProvider(c);
      case 'whatsapp': return new WhatsAppProvider(c as WhatsAppConfig);
      case 'console':
        if (!dev) throw new Error(`provider ${c.name}: the console provider exists only in development`);
        return new ConsoleProvider(dev.inbox, dev.out, dev.now, c.name);
    }
  });
}
