/**
 * Twilio Verify v2, drop-in (issue 18): `/v2/Services…`, `/v2/Attempts/Summary`, as in
 * ../shared/specs/twilio/twilio_verify_v2.json, so that an integration written against Twilio Verify (the official
 * SDKs included) works by changing its base URL. Form-encoded bodies, HTTP Basic auth, Twilio's field names,
 * statuses and error bodies (`{code, message, more_info, status}`). The mapping (docs/api.md#twilio-verify-v2):
 *
 * - A Service is an otpd app; its sid is `VA` + the app id's 128 bits in hex, a Verification's `VE` + its id's, a
 *   send attempt's `VL` + its message's: reversible, nothing stored.
 * - Basic auth: the password is the app's API key (that app's Service only) or the admin token (every Service, and
 *   creating or deleting them). The username is not checked (Twilio's SDKs require an `AC…` account sid: any will
 *   do); responses carry this installation's account sid.
 * - A new Verification to a number that has a pending one sends the same code again on that one (Twilio's
 *   behaviour), within the send limits; `I-Twilio-Idempotency-Token` is the Idempotency-Key.
 * - Fetching a Verification answers it whatever its status (Twilio answers 404 once it is approved, expired or
 *   canceled: the friendlier choice is otpd's); checking one that is no longer pending answers Twilio's errors
 *   (20404, or 60202 when it ran out of tries), as integrations expect.
 */
import { createHmac } from 'node:crypto';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { constantTimeEqual, type CodeKeys } from '../domain/code.js';
import { OtpdError } from '../domain/errors.js';
import type { Channel } from '../domain/policy.js';
import type { AppRecord } from '../domain/records.js';
import type { VerificationView } from '../domain/verification.js';
import { clientOf } from '../guard/client.js';
import type { Analytics } from '../services/analytics.js';
import type { AppsService } from '../services/apps.js';
import type { VerificationsService } from '../services/verifications.js';
import { toOtpdError } from './problem.js';

// ---- sids: an otpd id's ULID (128 bits) in hex, behind Twilio's two-letter prefix

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** `VA…` for `app_…`, `VE…` for `ver_…`, `VL…` for `msg_…`. */
export function sidOf(prefix: 'VA' | 'VE' | 'VL', id: string): string {
  let n = 0n;
  for (const ch of id.slice(id.indexOf('_') + 1)) n = n * 32n + BigInt(CROCKFORD.indexOf(ch));
  return prefix + n.toString(16).padStart(32, '0');
}

/** The otpd id of a sid (`kind_` + the ULID), or null when it is not one of ours. */
export function idOfSid(sid: string, prefix: 'VA' | 'VE', kind: 'app' | 'ver'): string | null {
  if (!new RegExp(`^${prefix}[0-9a-fA-F]{32}$`).test(sid)) return null;
  let n = BigInt(`0x${sid.slice(2)}`);
  let out = '';
  for (let i = 0; i < 26; i++) {
    out = CROCKFORD[Number(n % 32n)]! + out;
    n /= 32n;
  }
  return `${kind}_${out}`;
}

const CHANNEL_IN: Record<string, Channel> = { sms: 'sms', call: 'voice', email: 'email', whatsapp: 'whatsapp' };
const channelOut = (c: string) => (c === 'voice' ? 'call' : c);
const STATUS_OUT: Record<string, string> = { pending: 'pending', verified: 'approved', failed: 'max_attempts_reached', expired: 'expired', canceled: 'canceled' };
/** Twilio's timestamps: ISO 8601 in UTC without milliseconds. */
const time = (iso: string) => iso.replace(/\.\d{3}Z$/, 'Z');

// ---- errors: Twilio's body and codes

interface TwilioError { code: number; message: string; more_info: string; status: number }

/** otpd's problem codes as Twilio's error codes (60200 invalid parameter, 60202/60203 max check/send attempts, …). */
const CODES: Record<string, [status: number, code: number]> = {
  invalid_request: [400, 60200], invalid_phone_number: [400, 60200], invalid_email: [400, 60200], invalid_code: [400, 60200],
  malformed_request: [400, 60200], payload_too_large: [413, 60200], unsupported_media_type: [400, 60200], idempotency_key_reused: [400, 60200],
  unauthorized: [401, 20003], app_disabled: [403, 20003],
  not_found: [404, 20404], verification_not_found: [404, 20404], verification_not_pending: [404, 20404], verification_expired: [404, 20404],
  max_attempts_reached: [429, 60202], max_sends_reached: [429, 60203], phone_locked: [429, 60203],
  rate_limited: [429, 60212], fraud_blocked: [403, 60410], country_not_allowed: [403, 60605], spend_cap_reached: [429, 60410],
  channel_unavailable: [400, 60200], store_unavailable: [503, 20503], shutting_down: [503, 20503],
};

export function twilioError(err: unknown): TwilioError {
  const e = toOtpdError(err);
  const [status, code] = CODES[e.code] ?? [e.status, e.status >= 500 ? 20500 : 20001];
  return { code, message: e.message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

const twilioFail = (code: 'invalid_request' | 'not_found', message: string) => new OtpdError(code, message);

// ---- the routes

type Body = Record<string, string | string[] | undefined>;
const str = (b: Body, k: string): string | undefined => {
  const v = b[k];
  return Array.isArray(v) ? v[0] : v;
};

export interface TwilioVerifyDeps {
  apps: AppsService;
  verifications: VerificationsService;
  analytics: Analytics;
  keys: CodeKeys;
  adminToken: string;
  behindProxy: boolean;
  publicUrl: string | undefined;
  guarded: <T>(req: FastifyRequest, credential: string | null, attempt: () => Promise<T>) => Promise<T>;
}

type Scope = { admin: true } | { admin: false; app: AppRecord };

export async function twilioVerifyRoutes(app: FastifyInstance, d: TwilioVerifyDeps): Promise<void> {
  const accountSid = `AC${createHmac('sha256', d.keys.hmacKey).update('otpd/twilio-account/v1').digest('hex').slice(0, 32)}`;
  await app.register(async (v2) => {
    await v2.register(formbody);
    v2.setErrorHandler((err, _req, reply) => {
      const t = twilioError(err);
      return reply.code(t.status).type('application/json').send(t);
    });
    v2.setNotFoundHandler((req, reply) => reply.code(404).send(twilioError(new OtpdError('not_found', `The requested resource ${req.url.split('?')[0]} was not found`))));

    /** Basic auth: the password is an app's API key or the admin token (checked once per request). */
    const scopes = new WeakMap<FastifyRequest, Promise<Scope>>();
    const scopeOf = (req: FastifyRequest): Promise<Scope> => {
      let s = scopes.get(req);
      if (!s) scopes.set(req, (s = authenticate(req)));
      return s;
    };
    const authenticate = async (req: FastifyRequest): Promise<Scope> => {
      const h = req.headers.authorization;
      const m = typeof h === 'string' ? /^Basic ([A-Za-z0-9+/=]{1,400})$/.exec(h) : null;
      const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
      const password = decoded.includes(':') ? decoded.slice(decoded.indexOf(':') + 1) : null;
      return d.guarded(req, password, async (): Promise<Scope> => {
        if (!password) throw new OtpdError('unauthorized', 'Authenticate: HTTP Basic with the app\'s API key (or the admin token) as the password');
        if (d.adminToken && constantTimeEqual(password, d.adminToken)) return { admin: true };
        return { admin: false, app: (await d.apps.authenticate(password)).app };
      });
    };
    /** The Service of the path: the caller's own app, or (admin) any app; `admin`: only with the admin token. */
    const serviceOf = async (req: FastifyRequest, sid: string, o: { admin?: string } = {}): Promise<AppRecord> => {
      const scope = await scopeOf(req);
      if (o.admin && !scope.admin) throw new OtpdError('unauthorized', o.admin);
      const appId = idOfSid(sid, 'VA', 'app');
      if (!appId || (!scope.admin && scope.app.id !== appId)) throw twilioFail('not_found', `The requested resource /Services/${sid} was not found`);
      const a = scope.admin ? await d.apps.get(appId) : scope.app;
      if (!a.enabled) throw new OtpdError('app_disabled', 'This Service is disabled');
      return a;
    };
    const base = (req: FastifyRequest) => d.publicUrl ?? `${req.protocol}://${req.headers.host ?? 'localhost'}`;
    const client = (req: FastifyRequest) => clientOf(req.ip, req.headers['user-agent'], d.behindProxy);

    const service = (req: FastifyRequest, a: AppRecord) => {
      const sid = sidOf('VA', a.id);
      const url = `${base(req)}/v2/Services/${sid}`;
      return {
        sid, account_sid: accountSid, friendly_name: a.name, code_length: (a.settings.codeLength as number | undefined) ?? 6,
        lookup_enabled: false, psd2_enabled: true, skip_sms_to_landlines: true, dtmf_input_required: false, tts_name: null,
        do_not_share_warning_enabled: true, custom_code_enabled: a.settings.allowCustomCode === true,
        push: {}, totp: {}, default_template_sid: null, whatsapp: {}, passkeys: {}, verify_event_subscription_enabled: false,
        date_created: time(new Date(a.createdAt).toISOString()), date_updated: time(new Date(a.updatedAt).toISOString()), url,
        links: { verifications: `${url}/Verifications`, verification_checks: `${url}/VerificationCheck` },
      };
    };
    const verification = async (req: FastifyRequest, a: AppRecord, v: VerificationView) => {
      const messages = await d.verifications.messages(a, v.id);
      return {
        sid: sidOf('VE', v.id), service_sid: sidOf('VA', a.id), account_sid: accountSid, to: v.to, channel: channelOut(v.channel),
        status: STATUS_OUT[v.status] ?? v.status, valid: v.status === 'verified', lookup: {}, amount: v.payment?.amount ?? null, payee: v.payment?.payee ?? null,
        send_code_attempts: messages.map((m) => ({ attempt_sid: sidOf('VL', m.id), channel: channelOut(m.channel), time: time(m.createdAt) })),
        date_created: time(v.createdAt), date_updated: time(v.updatedAt), sna: null,
        url: `${base(req)}/v2/Services/${sidOf('VA', a.id)}/Verifications/${sidOf('VE', v.id)}`,
      };
    };
    const settingsOf = (b: Body): Record<string, unknown> => {
      const s: Record<string, unknown> = {};
      const len = str(b, 'CodeLength');
      if (len !== undefined) {
        if (!/^\d{1,2}$/.test(len)) throw twilioFail('invalid_request', 'Invalid parameter: CodeLength');
        s.codeLength = Number(len);
      }
      const custom = str(b, 'CustomCodeEnabled');
      if (custom !== undefined) s.allowCustomCode = custom === 'true';
      return s;
    };

    v2.post('/Services', { schema: { hide: true } }, async (req, reply) => {
      if (!(await scopeOf(req)).admin) throw new OtpdError('unauthorized', 'Services are created with the admin token');
      const b = (req.body ?? {}) as Body;
      const name = str(b, 'FriendlyName');
      if (!name) throw twilioFail('invalid_request', 'Missing required parameter FriendlyName in the post body');
      const created = await d.apps.create({ name, settings: settingsOf(b) as never }, 'twilio-admin');
      return reply.code(201).send(service(req, await d.apps.get(created.id)));
    });

    v2.get('/Services', { schema: { hide: true } }, async (req) => {
      const scope = await scopeOf(req);
      const q = req.query as Record<string, string | undefined>;
      const size = Math.min(1000, Math.max(1, Number(q.PageSize ?? 50) || 50));
      const page = Math.max(0, Number(q.Page ?? 0) || 0);
      const all = scope.admin ? await d.apps.list() : [scope.app];
      const url = `${base(req)}/v2/Services`;
      const at = (p: number) => `${url}?PageSize=${size}&Page=${p}`;
      return {
        services: all.slice(page * size, (page + 1) * size).map((a) => service(req, a)),
        meta: { page, page_size: size, first_page_url: at(0), previous_page_url: page > 0 ? at(page - 1) : null, url: at(page),
          next_page_url: (page + 1) * size < all.length ? at(page + 1) : null, key: 'services' },
      };
    });

    v2.get('/Services/:sid', { schema: { hide: true } }, async (req) => service(req, await serviceOf(req, (req.params as { sid: string }).sid)));

    // A Service's settings are the app's: changed with the admin token only, like every setting (an app key that
    // could turn on CustomCodeEnabled could verify any number without its code).
    v2.post('/Services/:sid', { schema: { hide: true } }, async (req) => {
      const a = await serviceOf(req, (req.params as { sid: string }).sid, { admin: 'Services are changed with the admin token' });
      const b = (req.body ?? {}) as Body;
      const name = str(b, 'FriendlyName');
      const updated = await d.apps.update(a.id, { ...(name ? { name } : {}), settings: settingsOf(b) }, 'twilio-admin');
      return service(req, updated);
    });

    v2.delete('/Services/:sid', { schema: { hide: true } }, async (req, reply) => {
      const a = await serviceOf(req, (req.params as { sid: string }).sid, { admin: 'Services are deleted with the admin token' });
      await d.apps.remove(a.id, 'twilio-admin');
      return reply.code(204).send();
    });

    v2.post('/Services/:sid/Verifications', { schema: { hide: true } }, async (req, reply) => {
      const a = await serviceOf(req, (req.params as { sid: string }).sid);
      const b = (req.body ?? {}) as Body;
      const to = str(b, 'To');
      if (!to) throw twilioFail('invalid_request', 'Missing required parameter To in the post body');
      const ch = str(b, 'Channel');
      if (!ch) throw twilioFail('invalid_request', 'Missing required parameter Channel in the post body');
      const channel = CHANNEL_IN[ch];
      if (!channel) throw twilioFail('invalid_request', `Invalid parameter: Channel (otpd sends sms, call, email or whatsapp, not ${ch})`);
      const template = str(b, 'TemplateSid');
      // Twilio sends the same code again on a number's pending verification (new attempt, same sid) - unless this
      // request asks for something that one was not made with (a payment, a code, a language, a template): then a new
      // verification replaces it, so its messages and its code's binding are this request's.
      const changes = ['Amount', 'Payee', 'CustomCode', 'Locale', 'TemplateSid'].some((k) => str(b, k) !== undefined);
      const pending = changes ? undefined : (await d.verifications.list(a, { to, status: 'pending', limit: 1 })).data[0];
      if (pending) {
        const v = await d.verifications.resend(a, pending.id, client(req), channel, { ip: str(b, 'DeviceIp') });
        return reply.code(201).send(await verification(req, a, v));
      }
      const token = req.headers['i-twilio-idempotency-token'];
      const r = await d.verifications.start(a, {
        to, channel, locale: str(b, 'Locale'), customCode: str(b, 'CustomCode'), amount: str(b, 'Amount'), payee: str(b, 'Payee'),
        ip: str(b, 'DeviceIp'), ...(template?.startsWith('tpl_') ? { template } : {}),
      }, client(req), typeof token === 'string' ? token : undefined);
      return reply.code(201).send(await verification(req, a, JSON.parse(r.json) as VerificationView));
    });

    v2.get('/Services/:sid/Verifications/:vsid', { schema: { hide: true } }, async (req) => {
      const p = req.params as { sid: string; vsid: string };
      const a = await serviceOf(req, p.sid);
      const id = idOfSid(p.vsid, 'VE', 'ver');
      if (!id) throw twilioFail('not_found', `The requested resource /Verifications/${p.vsid} was not found`);
      return verification(req, a, await d.verifications.get(a, id));
    });

    v2.post('/Services/:sid/Verifications/:vsid', { schema: { hide: true } }, async (req) => {
      const p = req.params as { sid: string; vsid: string };
      const a = await serviceOf(req, p.sid);
      const id = idOfSid(p.vsid, 'VE', 'ver');
      if (!id) throw twilioFail('not_found', `The requested resource /Verifications/${p.vsid} was not found`);
      const status = str((req.body ?? {}) as Body, 'Status');
      if (status === 'canceled') return verification(req, a, await d.verifications.cancel(a, id));
      if (status === 'approved') {
        // Approving without the code: the admin token, or an app that allows it (settings.allowApprove; off by default).
        if (!(await scopeOf(req)).admin && a.settings.allowApprove !== true) {
          throw new OtpdError('invalid_request', 'Status=approved needs the admin token, or settings.allowApprove on this app');
        }
        const r = await d.verifications.approve(a, id);
        if (!r.valid) throw new OtpdError('verification_not_pending', `The verification is ${r.status}`);
        return verification(req, a, await d.verifications.get(a, id));
      }
      throw twilioFail('invalid_request', 'Invalid parameter: Status (canceled or approved)');
    });

    v2.post('/Services/:sid/VerificationCheck', { schema: { hide: true } }, async (req) => {
      const a = await serviceOf(req, (req.params as { sid: string }).sid);
      const b = (req.body ?? {}) as Body;
      const code = str(b, 'Code');
      if (!code) throw twilioFail('invalid_request', 'Missing required parameter Code in the post body');
      const vsid = str(b, 'VerificationSid');
      const to = str(b, 'To');
      if (!vsid && !to) throw twilioFail('invalid_request', 'Either a To or VerificationSid must be specified');
      let target: { id: string } | { to: string };
      if (vsid) {
        const id = idOfSid(vsid, 'VE', 'ver');
        if (!id) throw twilioFail('not_found', `The requested resource /Verifications/${vsid} was not found`);
        target = { id };
      } else {
        target = { to: to! };
      }
      const r = await d.verifications.check(a, target, code, client(req), { amount: str(b, 'Amount'), payee: str(b, 'Payee') });
      // A verification no longer pending before this check: Twilio's answers (it no longer exists, or ran out of tries).
      if (r.closed) {
        if (r.status === 'failed') throw new OtpdError('max_attempts_reached', 'Max check attempts reached');
        throw new OtpdError('verification_not_found', `The requested resource /VerificationCheck was not found (the verification is ${r.status})`);
      }
      const v = await d.verifications.get(a, r.id);
      return {
        sid: sidOf('VE', v.id), service_sid: sidOf('VA', a.id), account_sid: accountSid, to: v.to, channel: channelOut(v.channel),
        status: STATUS_OUT[r.status] ?? r.status, valid: r.valid, amount: v.payment?.amount ?? null, payee: v.payment?.payee ?? null,
        date_created: time(v.createdAt), date_updated: time(v.updatedAt), sna_attempts_error_codes: [],
      };
    });

    v2.get('/Attempts/Summary', { schema: { hide: true } }, async (req) => {
      const scope = await scopeOf(req);
      const q = req.query as Record<string, string | undefined>;
      const channel = q.Channel === undefined ? undefined : CHANNEL_IN[q.Channel];
      if (q.Channel !== undefined && !channel) throw twilioFail('invalid_request', 'Invalid parameter: Channel');
      const s = await d.analytics.summary({
        appId: scope.admin ? undefined : scope.app.id, from: q.DateCreatedAfter, to: q.DateCreatedBefore,
        country: q.Country?.toUpperCase(), prefix: q.DestinationPrefix?.replace(/^\+/, '').slice(0, 5), channel,
      });
      const total = s.verifications.started;
      const converted = s.verifications.verified;
      return {
        total_attempts: total, total_converted: converted, total_unconverted: total - converted,
        conversion_rate_percentage: total > 0 ? ((converted / total) * 100).toFixed(2) : '0', url: `${base(req)}/v2/Attempts/Summary`,
      };
    });
  }, { prefix: '/v2' });
}

