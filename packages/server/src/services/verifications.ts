/**
 * The verification use cases, transport-free: start, check (by id or by recipient), resend, cancel, read, list.
 * Each state change is one store call that runs a pure domain decision inside one transaction.
 */
import { createHash, createHmac } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import { ALPHABETS, codeMatches, generateCode, hashCode, normalizeCode, paymentBinding, sealCode, type CodeKeys } from '../domain/code.js';
import { OtpdError } from '../domain/errors.js';
import { isId, newId } from '../domain/ids.js';
import { assertCountryAllowed } from '../domain/phone.js';
import { CHANNEL, parseRecipient } from '../domain/channels.js';
import { DEFAULT_STEP_TIMEOUT, assertInRange, resolvePolicy, type Channel, type CodeType, type Policy } from '../domain/policy.js';
import { countSegments, messageCost, pricesFor, type PriceTable } from '../domain/segments.js';
import { BUILTIN_LOCALES, builtinSubject, builtinText, builtinVoice, chooseLocale, escapeHtml, renderEmail, renderTemplate, withPayment } from '../domain/template.js';
import {
  decideResend, decideStart, effectiveStatus, toView, type Status, type VerificationDraft, type VerificationRecord, type VerificationView,
} from '../domain/verification.js';
import type { AppRecord, OutboxRecord, TemplateRecord } from '../domain/records.js';
import type { Store } from '../store/ports/index.js';
import { claimedMessage } from '../domain/delivery.js';
import type { OutboxWorker } from '../delivery/outbox-worker.js';
import type { OutboundUrlCheck } from '../delivery/outbound-url.js';
import { endUserSignals, type Client, type SignalInput } from '../guard/client.js';
import type { Admission, Guard } from '../guard/guard.js';
import { TIMINGS } from '../config.js';
import { selectTemplate, type TemplatesService } from './templates.js';
import { selectSender, type SendersService } from './senders.js';
import type { Analytics } from './analytics.js';

export interface StartInput {
  to: string;
  /** Id of one of the app's templates for the (first) channel. */
  template?: string | undefined;
  channel?: Channel | undefined;
  /** Ordered workflow: the next channel starts when one fails or gets no delivery receipt in time. */
  channels?: Channel[] | undefined;
  /** Seconds to wait for a delivery receipt before the next channel (15-300). */
  stepTimeout?: number | undefined;
  /** Seed 001's status callback URL for this verification (else the app's setting). */
  callbackUrl?: string | undefined;
  locale?: string | undefined;
  codeLength?: number | undefined;
  codeType?: CodeType | undefined;
  ttl?: number | undefined;
  maxAttempts?: number | undefined;
  /** One of the app's registered sender values for a channel of the workflow (seed 001). */
  from?: string | undefined;
  /** A code chosen by the caller (Twilio's CustomCode); only when the app allows it. */
  customCode?: string | undefined;
  /** PSD2 dynamic linking: shown in the message and bound into the code's HMAC (the check must give the same). */
  amount?: string | undefined;
  payee?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  /** What the caller knows of the end user (the guard's per-address and per-device rules). */
  ip?: string | undefined;
  deviceId?: string | undefined;
  userAgent?: string | undefined;
}

const badCustomCode = (type: CodeType) =>
  new OtpdError('invalid_request', `customCode must be 4 to 10 characters of the ${type} alphabet (${ALPHABETS[type]})`, { extensions: { errors: [{ pointer: '/customCode', detail: `not ${type}` }] } });

export interface CheckView {
  id: string;
  status: Status;
  valid: boolean;
  attemptsRemaining: number;
  /** The verification was no longer pending: this check changed nothing (not serialized by /v1). */
  closed?: boolean;
}

export interface MessageView {
  id: string;
  verificationId: string;
  step: number;
  channel: Channel;
  to: string;
  status: OutboxRecord['status'];
  provider: string | null;
  providerMessageId: string | null;
  route: string[];
  errorCode: string | null;
  error: string | null;
  /** Provider calls made for this message. */
  attempts: number;
  parts: number;
  cost: number;
  price: number | null;
  priceCurrency: string | null;
  outcomeUnknown: boolean;
  createdAt: string;
  sentAt: string | null;
  deliveredAt: string | null;
  failedAt: string | null;
}

export interface VerificationsDeps {
  store: Store;
  clock: Clock;
  keys: CodeKeys;
  prices: PriceTable;
  /** Provider names for a channel and destination country, first choice first (empty: cannot deliver). */
  route: (app: AppRecord, channel: Channel, countryIso: string) => string[];
  templates: TemplatesService;
  senders: SendersService;
  /** The outbound URL rule (delivery/outbound-url.ts) for a request's callbackUrl. */
  checkUrl: OutboundUrlCheck;
  /** Called after a commit that queued a message for (app, recipient): wakes the outbox worker. */
  onQueued: (appId: string, to: string) => void;
  /** This node's outbox worker: a start's first message is claimed for it in the start's transaction and sent right after. */
  dispatch?: Pick<OutboxWorker, 'claimAtStart' | 'sendClaimed'> | undefined;
  /** How long an Idempotency-Key is remembered. */
  idempotencyTtlMs?: number;
  /** The fraud and abuse guard, asked before every send and check. */
  guard: Guard;
  /**
   * Whether a provider (by route key) sends the message's own text: Meta's WhatsApp Cloud API sends an approved
   * template with the code alone, which cannot say a payment's amount and payee.
   */
  sendsText?: ((key: string) => boolean) | undefined;
  /** A verification event (started, resent, verified, wrong_code, refused, canceled) on a channel: metrics. */
  onEvent?: ((event: string, channel: Channel) => void) | undefined;
  /** Analytics: wrong codes, and starts the guard refused (the store tells the transitions). */
  analytics?: Pick<Analytics, 'wrongCode' | 'refused'> | undefined;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** Deterministic JSON (sorted keys) so the same body always hashes the same for idempotency. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const notFound = () => new OtpdError('verification_not_found', 'No verification with this id in this app');

/** A recipient as given to the API, normalised: an email address (has an @) or a phone number. */
const anyRecipient = (to: string): string => parseRecipient(to.includes('@') ? 'email' : 'phone', to).to;

const kindOf = (c: Channel): 'email' | 'phone' => CHANNEL[c].recipient;

export class VerificationsService {
  private readonly idemTtl: number;
  private readonly locales = BUILTIN_LOCALES;

  constructor(private readonly d: VerificationsDeps) {
    this.idemTtl = d.idempotencyTtlMs ?? TIMINGS.idempotency.ttlMs;
  }

  /** The route for a channel, or `channel_unavailable` when no provider can deliver it there. */
  private routeOf(app: AppRecord, channel: Channel, countryIso: string): string[] {
    const route = this.d.route(app, channel, countryIso);
    if (route.length === 0) throw new OtpdError('channel_unavailable', `No provider is configured for the ${channel} channel to ${countryIso}`);
    return route;
  }

  /**
   * The text with `{{pin}}` left in, its parts and its cost, from the app's template for this message (see
   * `selectTemplate`) or the built-in text. Parts do not depend on the code (always GSM-7 basic characters).
   */
  private compose(
    app: AppRecord, channel: Channel, dest: { to: string; countryIso: string }, locale: string, policy: Pick<Policy, 'ttl' | 'codeLength'>,
    templates: readonly TemplateRecord[], o: { templateId?: string | undefined; requestedLocale?: string | undefined; amount?: string | undefined; payee?: string | undefined } = {},
  ) {
    const vars = { ttlMinutes: Math.ceil(policy.ttl / 60), app: app.settings.brandName ?? app.name, amount: o.amount, payee: o.payee };
    const payment = o.amount !== undefined || o.payee !== undefined;
    const t = selectTemplate(templates, channel, { templateId: o.templateId, locale: o.requestedLocale, to: dest.to, countryIso: dest.countryIso });
    if (CHANNEL[channel].rich) {
      let email = renderEmail(locale, vars);
      if (t) {
        const pin = { ...vars, pin: '{{pin}}' };
        const text = renderTemplate(withPayment(t.text, locale, payment), pin);
        email = {
          subject: renderTemplate(t.subject ?? builtinSubject(locale), pin),
          text,
          html: t.html !== null ? renderTemplate(withPayment(t.html, locale, payment, (c) => `<p>${escapeHtml(c)}</p>`), { ...pin, app: escapeHtml(vars.app), amount: vars.amount && escapeHtml(vars.amount), payee: vars.payee && escapeHtml(vars.payee) }) : `<!doctype html><html><body><p>${escapeHtml(text).replace('{{pin}}', '<strong>{{pin}}</strong>')}</p></body></html>`,
        };
      }
      // Stored as JSON (subject, text, html) with {{pin}} still in each part.
      return { body: JSON.stringify(email), parts: 1, cost: messageCost(pricesFor(this.d.prices, app.settings.prices), channel, '*', 1) };
    }
    // A payment's message always says what the code approves (`withPayment`).
    let template = t ? withPayment(t.text, locale, payment)
      : CHANNEL[channel].spoken ? builtinVoice(locale, payment) : builtinText(locale, vars.ttlMinutes, payment);
    // WebOTP: an SMS ends with its origin-bound line, so the browser on that site offers the code (autofill).
    if (channel === 'sms' && app.settings.webOtpDomain) template = `${template.trimEnd()}\n\n@${app.settings.webOtpDomain} #{{pin}}`;
    const body = renderTemplate(template, { ...vars, pin: '{{pin}}' });
    const parts = CHANNEL[channel].segmented ? countSegments(renderTemplate(template, { ...vars, pin: '0'.repeat(policy.codeLength) })).parts : 1;
    return { body, parts, cost: messageCost(pricesFor(this.d.prices, app.settings.prices), channel, dest.countryIso, parts) };
  }

  private message(v: Pick<VerificationRecord, 'id' | 'appId' | 'to' | 'locale'>, m: { channel: Channel; step: number; route: string[]; body: string; parts: number; cost: number; waiting: boolean; sender: string | null }, now: number): OutboxRecord {
    return {
      id: newId('msg', now), appId: v.appId, verificationId: v.id, channel: m.channel, to: v.to, locale: v.locale, body: m.body,
      status: m.waiting ? 'waiting' : 'queued', attempts: 0, availableAt: now, createdAt: now, sentAt: null, provider: null, error: null,
      parts: m.parts, cost: m.cost, step: m.step, route: m.route, routeIndex: 0, providerAttempts: 0, providerMessageId: null, errorCode: null,
      price: null, priceCurrency: null, deliveredAt: null, failedAt: null, fallbackAt: null, outcomeUnknown: false, sender: m.sender,
    };
  }

  /** Public view of a verification (costs in the app's currency). */
  view(v: VerificationRecord, app: AppRecord): VerificationView {
    return toView(v, this.d.clock.now(), app.settings.prices?.currency ?? this.d.prices.currency);
  }

  /**
   * Starts a verification: validates the number and the country, applies the phone's counters (lockout, cooldown,
   * sends), cancels the phone's pending verification, stores the new one with its outbox message. Returns the 201
   * body as JSON text (a replay under the same Idempotency-Key returns the first body and sends nothing).
   */
  async start(app: AppRecord, input: StartInput, client: Client, idempotencyKey?: string): Promise<{ json: string; replayed: boolean }> {
    const now = this.d.clock.now();
    let idempotency;
    if (idempotencyKey !== undefined) {
      if (!IDEMPOTENCY_KEY.test(idempotencyKey)) {
        throw new OtpdError('invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 printable ASCII characters');
      }
      // A caller's code enters the body's hash only as its HMAC: a plain hash of a body holding a 6-digit code is
      // the code to anyone who reads the table (10^6 guesses).
      const hashed = input.customCode === undefined ? input : { ...input, customCode: createHmac('sha256', this.d.keys.hmacKey).update(`custom-code\u0000${input.customCode}`).digest('hex') };
      const requestHash = createHash('sha256').update(canonical(hashed)).digest();
      idempotency = { key: idempotencyKey, requestHash, expiresAt: now + this.idemTtl };
    }
    const s = app.settings;
    if (input.customCode !== undefined && !s.allowCustomCode) {
      throw new OtpdError('invalid_request', 'This app does not take caller-chosen codes (settings.allowCustomCode)', { extensions: { errors: [{ pointer: '/customCode', detail: 'not allowed for this app' }] } });
    }
    // A caller's code sets the length; its characters must be those of the code type.
    const policy = resolvePolicy(s, input.customCode === undefined ? input : { ...input, codeLength: input.customCode.length });
    // ASCII letters and digits only, checked before upper-casing ('ß' would become 'SS', changing the length).
    if (input.customCode !== undefined && (!/^[A-Za-z0-9]+$/.test(input.customCode) || ![...input.customCode.toUpperCase()].every((ch) => ALPHABETS[policy.codeType].includes(ch)))) throw badCustomCode(policy.codeType);
    if (input.channel !== undefined && input.channels !== undefined) {
      throw new OtpdError('invalid_request', 'Give channel or channels, not both', { extensions: { errors: [{ pointer: '/channels', detail: 'not with channel' }] } });
    }
    const channels = input.channels ?? (input.channel ? [input.channel] : s.defaultChannels ?? [s.defaultChannel ?? 'sms']);
    if (new Set(channels).size !== channels.length) {
      throw new OtpdError('invalid_request', 'channels must not repeat a channel', { extensions: { errors: [{ pointer: '/channels', detail: 'repeats a channel' }] } });
    }
    const callbackUrl = input.callbackUrl ?? s.callbackUrl ?? null;
    if (input.callbackUrl !== undefined) {
      const why = await this.d.checkUrl(input.callbackUrl);
      if (why) throw new OtpdError('invalid_request', `callbackUrl ${why}`, { extensions: { errors: [{ pointer: '/callbackUrl', detail: why }] } });
      if (!(await this.d.store.apps.hasCallbackSecret(app.id))) {
        throw new OtpdError('invalid_request', 'This app has no callback secret yet: an admin creates one with POST /admin/v1/apps/{id}/callback-secret', { extensions: { errors: [{ pointer: '/callbackUrl', detail: 'no callback secret' }] } });
      }
    }
    const stepTimeout = input.stepTimeout ?? s.stepTimeout ?? DEFAULT_STEP_TIMEOUT;
    assertInRange('stepTimeout', stepTimeout);
    const kinds = new Set(channels.map(kindOf));
    if (kinds.size > 1) {
      throw new OtpdError('invalid_request', 'One workflow cannot mix email with phone channels: they need different recipients', { extensions: { errors: [{ pointer: '/channels', detail: 'mixes email and phone channels' }] } });
    }
    // `phone` is the recipient: an E.164 number, or (email workflows) an address with no country.
    const recipient = parseRecipient(kindOf(channels[0]!), input.to);
    const phone = { e164: recipient.to, countryIso: recipient.countryIso };
    if (phone.countryIso) assertCountryAllowed(phone.countryIso, s.allowedCountries, s.deniedCountries);
    const routes = channels.map((c) => this.routeOf(app, c, phone.countryIso));
    // PSD2 dynamic linking: every message must say what the code approves.
    if ((input.amount !== undefined || input.payee !== undefined) && this.d.sendsText) {
      const mute = channels.findIndex((_, i) => routes[i]!.some((k) => !this.d.sendsText!(k)));
      if (mute >= 0) throw new OtpdError('invalid_request', `${channels[mute]} goes through a provider that sends only the code (a WhatsApp template): it cannot say the amount and payee`, { extensions: { errors: [{ pointer: channels.length > 1 ? '/channels' : '/channel', detail: 'cannot show a payment' }] } });
    }
    const locale = chooseLocale({ requested: input.locale, countryIso: phone.countryIso || undefined, appDefault: s.defaultLocale, available: this.locales });
    const [templates, senders] = await Promise.all([this.d.templates.forApp(app.id), this.d.senders.forApp(app.id)]);
    const dest = { to: phone.e164, countryIso: phone.countryIso };
    // `from`: one of the app's senders, used by each step whose channel has it registered.
    if (input.from !== undefined && !channels.some((c) => senders.some((x) => x.channel === c && x.value === input.from))) {
      throw new OtpdError('invalid_request', `from is not one of this app's senders for ${channels.join(', ')} (register it with POST /v1/senders)`, { extensions: { errors: [{ pointer: '/from', detail: 'not a registered sender' }] } });
    }
    const senderFor = (c: Channel) => (input.from !== undefined && senders.some((x) => x.channel === c && x.value === input.from) ? input.from : selectSender(senders, c, phone.countryIso));
    const steps = channels.map((c, i) => ({
      channel: c, step: i, route: routes[i]!, waiting: i > 0, sender: senderFor(c),
      // An explicit template names the first channel's template; later steps choose by language and destination.
      ...this.compose(app, c, dest, locale, policy, templates, { templateId: i === 0 ? input.template : undefined, requestedLocale: input.locale, amount: input.amount, payee: input.payee }),
    }));
    const { parts, cost } = steps[0]!;
    const signals = endUserSignals(client, input);
    const id = newId('ver', now);
    const code = input.customCode?.toUpperCase() ?? generateCode(policy.codeType, policy.codeLength);
    const codeSealed = sealCode(this.d.keys, id, code);
    const draft: VerificationDraft = {
      id, appId: app.id, to: phone.e164, countryIso: phone.countryIso, channel: channels[0]!, locale, status: 'pending',
      codeType: policy.codeType, codeLength: policy.codeLength, codeHash: hashCode(this.d.keys, id, code, paymentBinding(input)), codeSealed,
      maxAttempts: policy.maxAttempts, maxSends: policy.maxSends, resendAvailableAt: now + policy.resendCooldown * 1000,
      expiresAt: now + policy.ttl * 1000, createdAt: now, updatedAt: now, verifiedAt: null, parts, cost, metadata: input.metadata ?? null,
      channels, step: 0, stepTimeout, callbackUrl, signals: Object.keys(signals).length > 0 ? signals : null,
      payment: input.amount !== undefined || input.payee !== undefined ? { ...(input.amount !== undefined ? { amount: input.amount } : {}), ...(input.payee !== undefined ? { payee: input.payee } : {}) } : null,
    };
    // A retry under a used Idempotency-Key is answered with the first response before the guard is asked (it sends
    // nothing, so it costs nothing and is never refused); the store settles races between first tries.
    if (idempotency) {
      const prior = await this.d.store.verifications.idempotent(app.id, idempotency.key);
      if (prior) {
        if (!prior.requestHash.equals(idempotency.requestHash)) throw new OtpdError('idempotency_key_reused', 'This Idempotency-Key was used with another request body');
        return { json: prior.response, replayed: true };
      }
    }
    let admission;
    try {
      admission = await this.d.guard.admit(app, { action: 'start', to: phone.e164, countryIso: phone.countryIso || null, signals, cost });
    } catch (e) {
      if (e instanceof OtpdError) this.d.analytics?.refused({ appId: app.id, countryIso: phone.countryIso, to: phone.e164, channel: channels[0]! }, cost);
      throw e;
    }
    const messages = steps.map((m) => this.message(draft, m, now));
    // This node's worker claims the first message now, before the transaction (which only writes what is decided
    // here): stored as `sending` with its started attempt, and sent right after the commit. Null: left queued.
    const claimed = this.d.dispatch?.claimAtStart(messages[0]!, now) ?? null;
    if (claimed) messages[0] = claimed.message;
    const attempts = claimed ? [claimed.attempt] : undefined;
    const currency = app.settings.prices?.currency ?? this.d.prices.currency;
    let result;
    try {
      result = await this.d.store.verifications.start(
        { appId: app.id, to: phone.e164, now, lockout: policy.lockout, idempotency },
        (prev) => {
          const d = decideStart(draft, prev, policy, now);
          if (!d.ok) return d;
          return { ok: true, phone: d.phone, verification: d.verification, messages, attempts, response: JSON.stringify(toView(d.verification, now, currency)) };
        },
      );
    } catch (e) {
      // Refused by the engine (a locked phone, a cooldown…): nothing was sent, so the guard gives back what it took.
      if (admission) await this.notSent(admission);
      throw e;
    }
    if (result.kind === 'replayed' && admission) await this.notSent(admission);
    if (result.kind === 'created') {
      this.d.onEvent?.('started', channels[0]!);
      if (claimed) {
        this.d.dispatch!.sendClaimed(claimedMessage(claimed.message, {
          codeSealed, verificationStatus: 'pending', ttlSeconds: policy.ttl, hasNextStep: channels.length > 1, stepTimeout,
          crashedAttempt: null, attempt: { id: claimed.attempt.id, provider: claimed.attempt.provider }, callbackUrl, workflowStep: true,
          countryIso: phone.countryIso,
        }), code);
      } else {
        this.d.onQueued(app.id, phone.e164);
      }
    }
    return { json: result.response, replayed: result.kind === 'replayed' };
  }

  private async notSent(a: Admission): Promise<void> {
    await this.d.guard.notSent(a).catch(() => undefined);
  }

  /** One verification of the app; terminal ones too. */
  async get(app: AppRecord, id: string): Promise<VerificationView> {
    const v = isId('ver', id) ? await this.d.store.verifications.get(app.id, id) : null;
    if (!v) throw notFound();
    return this.view(v, app);
  }

  /** Newest first, cursor-paged. The cursor is the last id of the previous page. */
  async list(app: AppRecord, q: { to?: string | undefined; status?: Status | undefined; limit?: number | undefined; cursor?: string | undefined }): Promise<{ data: VerificationView[]; nextCursor: string | null }> {
    const limit = q.limit ?? 20;
    let before: string | undefined;
    if (q.cursor !== undefined) {
      before = Buffer.from(q.cursor, 'base64url').toString('utf8');
      if (!isId('ver', before)) throw new OtpdError('invalid_request', 'cursor is not valid', { extensions: { errors: [{ pointer: '/cursor', detail: 'not a cursor from this API' }] } });
    }
    const to = q.to !== undefined ? anyRecipient(q.to) : undefined;
    const rows = await this.d.store.verifications.list(app.id, { to, status: q.status, limit: limit + 1, before }, this.d.clock.now());
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      data: page.map((v) => this.view(v, app)),
      nextCursor: rows.length > limit && last ? Buffer.from(last.id).toString('base64url') : null,
    };
  }

  /**
   * Checks a code against a verification (by id) or against the recipient's newest verification. A wrong code is
   * not an error: `valid:false` with the tries left. `valid` is true only in the one response that verified.
   */
  async check(app: AppRecord, target: { id: string } | { to: string }, rawCode: string, client: Client, signalInput: SignalInput & { amount?: string | undefined; payee?: string | undefined } = {}): Promise<CheckView> {
    const code = normalizeCode(rawCode);
    let t = target;
    if ('id' in t) {
      if (!isId('ver', t.id)) throw notFound();
    } else {
      t = { to: anyRecipient(t.to) };
    }
    const signals = endUserSignals(client, signalInput);
    const admission = await this.d.guard.admit(app, { action: 'check', to: 'to' in t ? t.to : null, countryIso: null, signals, cost: 0, verificationId: 'id' in t ? t.id : null });
    const now = this.d.clock.now();
    const lockout = resolvePolicy(app.settings).lockout;
    // A payment's code matches only with the amount and payee it was shown with (PSD2 dynamic linking).
    const binding = paymentBinding(signalInput);
    const r = await this.d.store.verifications.check({ appId: app.id, target: t, now, lockout }, (v) => codeMatches(this.d.keys, v.id, code, v.codeHash, binding));
    if (!r) throw new OtpdError('verification_not_found', 'id' in t ? 'No verification with this id in this app' : 'No verification for this recipient in this app');
    const v = r.verification;
    if (r.outcome === 'verified') this.d.guard.verified(app, v);
    this.d.onEvent?.(r.outcome === 'verified' ? 'verified' : r.outcome === 'wrong' ? 'wrong_code' : 'check_refused', v.channel);
    if (r.outcome === 'wrong') this.d.analytics?.wrongCode(v);
    this.d.guard.checked(app, admission, r.outcome === 'wrong');
    const status = effectiveStatus(v, now);
    return {
      id: v.id,
      status,
      valid: r.outcome === 'verified',
      attemptsRemaining: status === 'pending' ? Math.max(0, v.maxAttempts - v.attempts) : 0,
      closed: r.outcome === 'closed',
    };
  }

  /**
   * Approves a pending verification without its code (Twilio Verify's `Status=approved`: the customer's backend proved
   * the user otherwise). The same transaction as a right code: the try counted, the phone's counters cleared, the
   * events written. A verification no longer pending is answered as it is (`valid` false).
   */
  async approve(app: AppRecord, id: string): Promise<CheckView> {
    if (!isId('ver', id)) throw notFound();
    const now = this.d.clock.now();
    const r = await this.d.store.verifications.check({ appId: app.id, target: { id }, now, lockout: resolvePolicy(app.settings).lockout }, () => true);
    if (!r) throw notFound();
    const v = r.verification;
    if (r.outcome === 'verified') {
      this.d.guard.verified(app, v);
      this.d.onEvent?.('verified', v.channel);
    }
    return { id: v.id, status: effectiveStatus(v, now), valid: r.outcome === 'verified', attemptsRemaining: 0 };
  }

  /** Sends the same code again (expiry unchanged), after the cooldown and within the phone's send limit. */
  async resend(app: AppRecord, id: string, client: Client, channel?: Channel, signalInput: SignalInput = {}): Promise<VerificationView> {
    if (!isId('ver', id)) throw notFound();
    const now = this.d.clock.now();
    const base = resolvePolicy(app.settings);
    const [templates, senders, found] = await Promise.all([this.d.templates.forApp(app.id), this.d.senders.forApp(app.id), this.d.store.verifications.get(app.id, id)]);
    if (!found) throw notFound();
    // A resend on the same channel repeats the text last sent there (the template chosen at start).
    const earlier = await this.d.store.outbox.list(app.id, id);
    // The guard sees the same end user as the start did, unless the request says otherwise; the cost is the message's.
    const signals = { ...(found.signals ?? {}), ...endUserSignals(client, signalInput) };
    const ch0 = channel ?? found.channel;
    const cost = earlier.filter((m) => m.channel === ch0).at(-1)?.cost ?? earlier.at(-1)?.cost ?? 0;
    const admission = await this.d.guard.admit(app, { action: 'resend', to: found.to, countryIso: found.countryIso || null, signals, cost, verificationId: id });
    let v;
    try {
      v = await this.resendInStore(app, id, now, base, channel, templates, senders, earlier);
    } catch (e) {
      if (admission) await this.notSent(admission);
      throw e;
    }
    if (!v) {
      if (admission) await this.notSent(admission);
      throw notFound();
    }
    this.d.onQueued(app.id, v.to);
    this.d.onEvent?.('resent', v.channel);
    return this.view(v, app);
  }

  private resendInStore(app: AppRecord, id: string, now: number, base: Policy, channel: Channel | undefined, templates: readonly TemplateRecord[],
    senders: Awaited<ReturnType<SendersService['forApp']>>, earlier: OutboxRecord[]): Promise<VerificationRecord | null> {
    return this.d.store.verifications.resend({ appId: app.id, id, now }, (cur, prev) => {
      const decision = decideResend(cur, prev, base, now);
      if (!decision.ok) return decision;
      const { policy } = decision;
      const ch = channel ?? cur.channel;
      if (kindOf(ch) !== kindOf(cur.channel)) {
        return { ok: false, error: new OtpdError('invalid_request', `A verification sent to ${cur.to} cannot be resent on the ${ch} channel`, { extensions: { errors: [{ pointer: '/channel', detail: 'needs another kind of recipient' }] } }) };
      }
      const route = this.routeOf(app, ch, cur.countryIso);
      const ttl = Math.round((cur.expiresAt - cur.createdAt) / 1000);
      const last = earlier.filter((m) => m.channel === ch).at(-1);
      const { body, parts, cost } = last
        ? { body: last.body, parts: last.parts, cost: last.cost }
        : this.compose(app, ch, { to: cur.to, countryIso: cur.countryIso }, cur.locale, { ttl, codeLength: cur.codeLength }, templates, { amount: cur.payment?.amount, payee: cur.payment?.payee });
      const next: VerificationRecord = {
        ...cur, channel: ch, sends: decision.phone.sends, resendAvailableAt: now + policy.resendCooldown * 1000,
        parts, cost: Math.round((cur.cost + cost) * 1e6) / 1e6, updatedAt: now,
      };
      // A resend is one message on one channel, outside the workflow (its step is the current one).
      const sender = last ? (last.sender ?? null) : selectSender(senders, ch, cur.countryIso);
      return { ok: true, phone: decision.phone, verification: next, message: this.message(next, { channel: ch, step: cur.step, route, body, parts, cost, waiting: false, sender }, now) };
    });
  }

  /** Cancels a pending verification; canceling a canceled one is a no-op, other terminal states are a 409. */
  async cancel(app: AppRecord, id: string): Promise<VerificationView> {
    if (!isId('ver', id)) throw notFound();
    const now = this.d.clock.now();
    const v = await this.d.store.verifications.cancel(app.id, id, now);
    if (!v) throw notFound();
    const status = effectiveStatus(v, now);
    if (status !== 'canceled') {
      throw new OtpdError('verification_not_pending', `The verification is ${status}`, { extensions: { verificationStatus: status } });
    }
    this.d.onEvent?.('canceled', v.channel);
    return this.view(v, app);
  }

  /** The messages sent for a verification, oldest first. */
  async messages(app: AppRecord, id: string): Promise<MessageView[]> {
    const v = isId('ver', id) ? await this.d.store.verifications.get(app.id, id) : null;
    if (!v) throw notFound();
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    return (await this.d.store.outbox.list(app.id, id)).map((m) => ({
      id: m.id, verificationId: m.verificationId, step: m.step, channel: m.channel, to: m.to, status: m.status, provider: m.provider,
      providerMessageId: m.providerMessageId, route: m.route, errorCode: m.errorCode, error: m.error, attempts: m.attempts,
      parts: m.parts, cost: m.cost, price: m.price, priceCurrency: m.priceCurrency, outcomeUnknown: m.outcomeUnknown,
      createdAt: new Date(m.createdAt).toISOString(), sentAt: iso(m.sentAt), deliveredAt: iso(m.deliveredAt), failedAt: iso(m.failedAt),
    }));
  }

  /**
   * A verification's story for the dashboard: created, each message with every provider call and receipt, and how it
   * ended (the tries used). Made of what is stored; the code is in none of it.
   */
  async timeline(app: AppRecord, id: string) {
    const v = isId('ver', id) ? await this.d.store.verifications.get(app.id, id) : null;
    if (!v) throw notFound();
    const now = this.d.clock.now();
    const currency = app.settings.prices?.currency ?? this.d.prices.currency;
    type Entry = { t: number; kind: string; messageId: string | null; channel: string | null; provider: string | null; detail: string };
    const entries: Entry[] = [{ t: v.createdAt, kind: 'created', messageId: null, channel: v.channels[0] ?? v.channel, provider: null,
      detail: `to ${v.to} by ${v.channels.join(' then ')}; ${v.maxAttempts} tries, expires ${new Date(v.expiresAt).toISOString()}` }];
    for (const m of await this.d.store.outbox.list(app.id, id)) {
      const at = (t: number, kind: string, detail: string, provider = m.provider) => entries.push({ t, kind, messageId: m.id, channel: m.channel, provider, detail });
      at(m.createdAt, 'message', `step ${m.step + 1} (${m.channel}): ${m.parts} part${m.parts === 1 ? '' : 's'}, route ${m.route.join(' > ') || 'none'}${m.status === 'waiting' ? ', waiting for its turn' : ''}`, null);
      for (const a of await this.d.store.outbox.listAttempts(m.id)) {
        const how = a.outcome === 'started' ? 'call started, no answer recorded' : a.outcome === 'accepted' ? `accepted${a.providerMessageId ? ` as ${a.providerMessageId}` : ''}`
          : `${a.outcome}${a.httpStatus ? ` (HTTP ${a.httpStatus})` : ''}${a.errorCode ? ` ${a.errorCode}` : ''}${a.error ? `: ${a.error}` : ''}`;
        at(a.finishedAt ?? a.startedAt, 'attempt', how, a.provider);
      }
      if (m.sentAt !== null) at(m.sentAt, 'sent', `sent by ${m.provider ?? '?'}`);
      if (m.deliveredAt !== null) at(m.deliveredAt, 'delivered', 'delivery receipt: delivered');
      if (m.failedAt !== null) at(m.failedAt, m.status === 'undelivered' ? 'undelivered' : 'failed', `${m.status}${m.errorCode ? `: ${m.errorCode}` : ''}`);
    }
    const status = effectiveStatus(v, now);
    const tries = `${v.attempts} of ${v.maxAttempts} tries used`;
    if (status === 'verified') entries.push({ t: v.verifiedAt ?? v.updatedAt, kind: 'verified', messageId: null, channel: null, provider: null, detail: `code verified; ${tries}` });
    else if (status === 'failed') entries.push({ t: v.updatedAt, kind: 'failed', messageId: null, channel: null, provider: null, detail: `out of tries; ${tries}` });
    else if (status === 'expired') entries.push({ t: Math.min(v.expiresAt, v.status === 'expired' ? v.updatedAt : v.expiresAt), kind: 'expired', messageId: null, channel: null, provider: null, detail: `expired; ${tries}` });
    else if (status === 'canceled') entries.push({ t: v.updatedAt, kind: 'canceled', messageId: null, channel: null, provider: null, detail: `canceled; ${tries}` });
    entries.sort((a, b) => a.t - b.t);
    return { verification: toView(v, now, currency), entries: entries.map(({ t, ...e }) => ({ at: new Date(t).toISOString(), ...e })) };
  }

  /**
   * Moves a pending verification to the next channel of its workflow now (Vonage's next_workflow), with the same
   * code. 409 `no_next_step` when the workflow has no step left.
   */
  async nextStep(app: AppRecord, id: string): Promise<VerificationView> {
    if (!isId('ver', id)) throw notFound();
    const now = this.d.clock.now();
    const v = await this.d.store.verifications.get(app.id, id);
    if (!v) throw notFound();
    const status = effectiveStatus(v, now);
    if (status !== 'pending') throw new OtpdError('verification_not_pending', `The verification is ${status}`, { extensions: { verificationStatus: status } });
    const step = await this.d.store.outbox.advanceStep(app.id, id, v.step, now);
    if (step === null) throw new OtpdError('no_next_step', `The workflow (${v.channels.join(', ')}) has no step after ${v.channel}`);
    this.d.onQueued(app.id, v.to);
    return this.get(app, id);
  }
}
