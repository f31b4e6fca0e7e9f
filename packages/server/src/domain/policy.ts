/**
 * Verification policy: the defaults (seed 000's "standard configuration"), the ranges every value must stay in
 * (seed 001), and the merge of app settings with per-request overrides.
 */
import { OtpdError } from './errors.js';
import { validateGuardSettings, type GuardSettings } from '../guard/settings.js';

export const CODE_TYPES = ['numeric', 'alpha', 'alphanumeric'] as const;
export type CodeType = (typeof CODE_TYPES)[number];

import { CHANNELS, type Channel } from './channels.js';

export { CHANNELS, type Channel } from './channels.js';

/** The full policy a verification runs under. Durations are in seconds. */
export interface Policy {
  codeType: CodeType;
  codeLength: number;
  /** Seconds a code stays valid. */
  ttl: number;
  /** Tries per code (and per phone since its last success: a new code never brings fresh tries). */
  maxAttempts: number;
  /** Sends per phone since its last success, across verifications (1 initial + resends). */
  maxSends: number;
  /** Seconds between two sends to the same phone. */
  resendCooldown: number;
  /** Seconds a phone stays locked once its tries or sends are exhausted. */
  lockout: number;
}

/** Seed 000, "Standard OTP Configuration". */
export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({
  codeType: 'numeric',
  codeLength: 6,
  ttl: 300,
  maxAttempts: 3,
  maxSends: 6,
  resendCooldown: 60,
  lockout: 86_400,
});

/** Seconds a workflow step waits for a delivery receipt before the next channel starts (seed 003). */
export const DEFAULT_STEP_TIMEOUT = 30;

/** Inclusive ranges; the API schema and app settings validation both read them from here. */
export const RANGES = {
  codeLength: { min: 4, max: 10 },
  ttl: { min: 60, max: 1800 },
  maxAttempts: { min: 1, max: 10 },
  maxSends: { min: 1, max: 20 },
  resendCooldown: { min: 0, max: 3600 },
  lockout: { min: 60, max: 30 * 86_400 },
  stepTimeout: { min: 15, max: 300 },
} as const satisfies Record<string, { min: number; max: number }>;

/** What an app may configure (stored as JSON on the app). Every member optional: defaults fill the rest. */
export interface AppSettings extends Partial<Policy> {
  allowedCountries?: string[];
  deniedCountries?: string[];
  defaultLocale?: string;
  defaultChannel?: Channel;
  /** Default channel workflow, e.g. ['whatsapp', 'sms'] (seed 003). */
  defaultChannels?: Channel[];
  /** Seconds to wait for a delivery receipt before the next channel (15-300, default 30). */
  stepTimeout?: number;
  /** Provider routing per channel, replacing the server's (see delivery/routing.ts). */
  routing?: Partial<Record<Channel, { countries?: string[]; providers: string[] }[]>>;
  /** Shown as {{app}} in messages; the app name when absent. */
  brandName?: string;
  /** Seed 001's OTP status callback URL: every event of the app's verifications is posted there. */
  callbackUrl?: string;
  /** Price table overrides for this app (per channel, country or `*`), on top of the server's OTPD_PRICES. */
  prices?: { currency?: string; sms?: Record<string, number>; whatsapp?: Record<string, number>; email?: Record<string, number>; voice?: Record<string, number> };
  /** Fraud and abuse guard: mode, level, rule overrides, allow lists, spend caps (guard/settings.ts). */
  guard?: GuardSettings;
  /**
   * Explicit bounds on what a request may ask (the settings above are defaults, which a request overrides within
   * the ranges): at most `maxTtl` seconds and `maxAttempts` tries, at least `minCodeLength` characters.
   */
  limits?: PolicyLimits;
  /** Starts may bring their own code (`customCode`, Twilio's CustomCode); off by default. */
  allowCustomCode?: boolean;
  /** Twilio Verify's `Status=approved` with the app's key: approve a verification without its code (off by default). */
  allowApprove?: boolean;
  /** WebOTP: SMS end with the origin-bound line `@{webOtpDomain} #{code}`, so the browser on that site can read it. */
  webOtpDomain?: string;
  /** The widget and the hosted page: the page origins allowed to use client sessions (CORS), and to be returned to. */
  widget?: { origins?: string[] };
}

export interface PolicyLimits {
  maxTtl?: number;
  maxAttempts?: number;
  minCodeLength?: number;
}

/** Each limit, the policy field it bounds, and which way. */
const LIMITS = [
  { limit: 'maxTtl', field: 'ttl', max: true },
  { limit: 'maxAttempts', field: 'maxAttempts', max: true },
  { limit: 'minCodeLength', field: 'codeLength', max: false },
] as const;

/** Per-request overrides accepted by `POST /v1/verifications`. */
export interface PolicyOverrides {
  codeType?: CodeType | undefined;
  codeLength?: number | undefined;
  ttl?: number | undefined;
  maxAttempts?: number | undefined;
}

/** Throws `invalid_request` naming the field and its range when a numeric policy value is out of range. */
export function assertInRange(field: keyof typeof RANGES, value: number, where = ''): void {
  const r = RANGES[field];
  if (!Number.isInteger(value) || value < r.min || value > r.max) {
    const name = where ? `${where}.${field}` : field;
    throw new OtpdError('invalid_request', `${name} must be an integer from ${r.min} to ${r.max}`, {
      extensions: { errors: [{ pointer: `/${name.replaceAll('.', '/')}`, detail: `must be from ${r.min} to ${r.max}` }] },
    });
  }
}

/** Validates app settings (throws `invalid_request` naming the field) and returns them normalised. */
export function validateSettings(s: AppSettings): AppSettings {
  for (const f of Object.keys(RANGES) as (keyof typeof RANGES)[]) {
    const v = (s as Record<string, unknown>)[f] as number | undefined;
    if (v !== undefined) assertInRange(f, v, 'settings');
  }
  if (s.codeType !== undefined && !CODE_TYPES.includes(s.codeType)) {
    throw new OtpdError('invalid_request', `settings.codeType must be one of ${CODE_TYPES.join(', ')}`);
  }
  const iso = (list: string[] | undefined, name: string) => {
    if (list === undefined) return undefined;
    return list.map((c) => {
      const u = c.trim().toUpperCase();
      if (!/^[A-Z]{2}$/.test(u)) throw new OtpdError('invalid_request', `settings.${name}: "${c}" is not an ISO 3166-1 alpha-2 code`);
      return u;
    });
  };
 if (s.prices !== undefined) {
    const p = s.prices as Record<string, unknown>;
    if (!p || typeof p !== 'object') throw new OtpdError('invalid_request', 'settings.prices must be an object');
    for (const [k, v] of Object.entries(p)) {
      if (k === 'currency') {
        if (typeof v !== 'string' || !/^[A-Z]{3}$/.test(v)) throw new OtpdError('invalid_request', 'settings.prices.currency must be an ISO 4217 code such as EUR');
        continue;
      }
      if (!CHANNELS.includes(k as Channel) || !v || typeof v !== 'object') throw new OtpdError('invalid_request', `settings.prices.${k}: expected currency or a channel (${CHANNELS.join(', ')}) with country -> price`);
      for (const [c, price] of Object.entries(v as Record<string, unknown>)) {
        if (!(c === '*' || /^[A-Z]{2}$/.test(c)) || typeof price !== 'number' || !(price >= 0) || price > 100) {
          throw new OtpdError('invalid_request', `settings.prices.${k}.${c}: keys are ISO country codes or "*", values prices from 0 to 100`);
        }
      }
    }
  }
  if (s.callbackUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(s.callbackUrl)) {
    throw new OtpdError('invalid_request', 'settings.callbackUrl must be an http(s) URL', { extensions: { errors: [{ pointer: '/settings/callbackUrl', detail: 'must be an http(s) URL' }] } });
  }
  const channel = (c: unknown, where: string) => {
    if (!CHANNELS.includes(c as Channel)) throw new OtpdError('invalid_request', `${where}: ${JSON.stringify(c)} is not a channel (${CHANNELS.join(', ')})`);
  };
  if (s.defaultChannel !== undefined) channel(s.defaultChannel, 'settings.defaultChannel');
  if (s.defaultChannels !== undefined) {
    if (!Array.isArray(s.defaultChannels) || s.defaultChannels.length === 0 || new Set(s.defaultChannels).size !== s.defaultChannels.length) {
      throw new OtpdError('invalid_request', 'settings.defaultChannels must be a non-empty list of distinct channels');
    }
    s.defaultChannels.forEach((c) => channel(c, 'settings.defaultChannels'));
  }
  if (s.routing !== undefined) {
    if (!s.routing || typeof s.routing !== 'object') throw new OtpdError('invalid_request', 'settings.routing must be an object of channel -> rules');
    for (const [ch, rules] of Object.entries(s.routing)) {
      channel(ch, 'settings.routing');
      if (!Array.isArray(rules)) throw new OtpdError('invalid_request', `settings.routing.${ch} must be a list of rules`);
      for (const r of rules) {
        if (!r || !Array.isArray(r.providers) || r.providers.length === 0 || !r.providers.every((p) => typeof p === 'string' && /^[a-z0-9][a-z0-9_-]{0,39}$/.test(p))) {
          throw new OtpdError('invalid_request', `settings.routing.${ch}: each rule needs providers, a list of provider names`);
        }
        if (r.countries !== undefined) iso(r.countries, `routing.${ch}.countries`);
      }
    }
  }
  const out: AppSettings = { ...s };
  if (s.guard !== undefined) out.guard = validateGuardSettings(s.guard);
  if (s.routing) {
    out.routing = Object.fromEntries(Object.entries(s.routing).map(([ch, rules]) => [
      ch, (rules ?? []).map((r) => (r.countries ? { ...r, countries: iso(r.countries, `routing.${ch}.countries`)! } : r)),
    ]));
  }
  if (s.limits !== undefined) {
    for (const { limit, field, max } of LIMITS) {
      const bound = s.limits[limit];
      if (bound === undefined) continue;
      const r = RANGES[field];
      if (!Number.isInteger(bound) || bound < r.min || bound > r.max) {
        throw new OtpdError('invalid_request', `settings.limits.${limit} must be an integer from ${r.min} to ${r.max}`, {
          extensions: { errors: [{ pointer: `/settings/limits/${limit}`, detail: `must be from ${r.min} to ${r.max}` }] },
        });
      }
      const own = s[field];
      if (own !== undefined && (max ? own > bound : own < bound)) {
        throw new OtpdError('invalid_request', `settings.${field} (${own}) is outside settings.limits.${limit} (${bound})`, {
          extensions: { errors: [{ pointer: `/settings/${field}`, detail: `must be ${max ? 'at most' : 'at least'} settings.limits.${limit}` }] },
        });
      }
    }
  }
  const allowed = iso(s.allowedCountries, 'allowedCountries');
  const denied = iso(s.deniedCountries, 'deniedCountries');
  if (allowed) out.allowedCountries = allowed;
  if (denied) out.deniedCountries = denied;
  return out;
}

/**
 * The app's policy with the request's overrides applied (seed 001: "the default OTP settings will be overwritten if
 * your OTP API request has one of the settings parameters"); every value is range-checked. The app's settings are
 * defaults, not bounds: only its explicit `limits` bind a request (422 naming the field).
 */
export function resolvePolicy(settings: AppSettings, overrides: PolicyOverrides = {}): Policy {
  for (const { limit, field, max } of LIMITS) {
    const bound = settings.limits?.[limit];
    const asked = overrides[field];
    if (bound === undefined || asked === undefined || (max ? asked <= bound : asked >= bound)) continue;
    const detail = `must be ${max ? 'at most' : 'at least'} ${bound}`;
    throw new OtpdError('invalid_request', `${field} ${detail} for this app (settings.limits.${limit})`, { extensions: { errors: [{ pointer: `/${field}`, detail }] } });
  }
  const p: Policy = {
    codeType: overrides.codeType ?? settings.codeType ?? DEFAULT_POLICY.codeType,
    codeLength: overrides.codeLength ?? settings.codeLength ?? DEFAULT_POLICY.codeLength,
    ttl: overrides.ttl ?? settings.ttl ?? DEFAULT_POLICY.ttl,
    maxAttempts: overrides.maxAttempts ?? settings.maxAttempts ?? DEFAULT_POLICY.maxAttempts,
    maxSends: settings.maxSends ?? DEFAULT_POLICY.maxSends,
    resendCooldown: settings.resendCooldown ?? DEFAULT_POLICY.resendCooldown,
    lockout: settings.lockout ?? DEFAULT_POLICY.lockout,
  };
  for (const f of ['codeLength', 'ttl', 'maxAttempts'] as const) assertInRange(f, p[f]);
  return p;
}
