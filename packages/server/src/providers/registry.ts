/**
 * The provider configuration file (`OTPD_PROVIDERS`): provider definitions with their credentials, and the
 * server's default routing. Credentials live here, in the operator's configuration, never in the database;
 * apps refer to providers by name in their routing. Each provider type is a folder (`{type}/`: `index.ts` sends,
 * `config.ts` holds its entry's schema and factory, `callbacks.ts` reads its delivery receipts) listed once below.
 *
 * @example
 * { "providers": [ { "name": "twilio", "type": "twilio", "accountSid": "AC…", "authToken": "…", "from": "+15005550006" } ],
 *   "routing": { "sms": [ { "countries": ["FR", "BE"], "providers": ["vonage", "twilio"] }, { "providers": ["twilio"] } ] } }
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { RoutingTable } from '../delivery/routing.js';
import { CHANNELS } from '../domain/policy.js';
import { consoleProvider } from './console/config.js';
import { http } from './http/config.js';
import type { DevEnv, ProviderPlugin } from './plugin.js';
import { Name } from './shared/schema.js';
import { smtp } from './smtp/config.js';
import { twilio } from './twilio/config.js';
import type { DeliveryProvider } from './types.js';
import { vonage } from './vonage/config.js';
import { whatsapp } from './whatsapp/config.js';

/** Every provider type, once: adding one is its folder and a line here. */
export const PROVIDER_PLUGINS = [twilio, vonage, whatsapp, http, smtp, consoleProvider] as const;

const PLUGIN_OF_TYPE = new Map<string, ProviderPlugin>(PROVIDER_PLUGINS.map((p) => [p.type, p]));

export const ProviderConfigSchema = Type.Union(PROVIDER_PLUGINS.map((p) => p.schema));
export type ProviderConfig = Static<(typeof PROVIDER_PLUGINS)[number]['schema']>;

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
    for (const p of f.providers) errs.push(...(PLUGIN_OF_TYPE.get(p.type)!.check?.(p) ?? []));
    return errs;
  }
  // A provider of a known type is checked against that type's schema alone, so the error names the field rather
  // than "expected union value". Messages name paths and rules, never values (some are credentials).
  const list = v && typeof v === 'object' ? (v as { providers?: unknown }).providers : undefined;
  if (Array.isArray(list)) {
    const errs: string[] = [];
    list.forEach((p: unknown, i) => {
      const type = p && typeof p === 'object' ? (p as { type?: unknown }).type : undefined;
      const schema = typeof type === 'string' ? PLUGIN_OF_TYPE.get(type)?.schema : undefined;
      if (schema) for (const e of Value.Errors(schema, p)) errs.push(`/providers/${i}${e.path}: ${e.message}`);
    });
    if (errs.length) return errs.slice(0, 5);
  }
  return [...Value.Errors(ProvidersFileSchema, v)].slice(0, 5).map((e) => `${e.path || '/'}: ${e.message}`);
}

/** The plugin of a provider type (undefined: no such type). */
export const pluginOf = (type: string): ProviderPlugin | undefined => PLUGIN_OF_TYPE.get(type);

/**
 * What is wrong with one provider entry (a connection), each problem with the JSON pointer of its field: the type's
 * own schema, then its own checks. Details name rules, never values (some are credentials).
 */
export function checkProviderEntry(v: unknown): { pointer: string; detail: string }[] {
  const type = v && typeof v === 'object' ? (v as { type?: unknown }).type : undefined;
  const plugin = typeof type === 'string' ? PLUGIN_OF_TYPE.get(type) : undefined;
  if (!plugin) return [{ pointer: '/type', detail: `must be one of ${[...PLUGIN_OF_TYPE.keys()].filter((t) => t !== 'console').join(', ')}` }];
  const errs = [...Value.Errors(plugin.schema, v)].slice(0, 10).map((e) => ({ pointer: e.path || '/', detail: e.message }));
  if (errs.length > 0) return errs;
  return (plugin.check?.(v as never) ?? []).map((detail) => ({ pointer: '/', detail }));
}

/** Builds the provider instances. The console provider needs the dev inbox and an output stream. */
export function createProviders(configs: readonly ProviderConfig[], dev: DevEnv): DeliveryProvider[] {
  return configs.map((c) => PLUGIN_OF_TYPE.get(c.type)!.create(c, dev));
}
