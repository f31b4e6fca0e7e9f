/**
 * Message templates (seeds 001, 002): per app, channel and optionally language or destination. A template must
 * carry the code placeholder (`{{pin}}`, `{{code}}` or `{code}`). Selection for a message: the request's explicit
 * `template`, then the request's language, then the destination (longest number prefix, then country), then the
 * app's default for the channel, then the built-in texts.
 */
import type { Clock } from '../domain/clock.js';
import { PerAppCache } from './per-app-cache.js';
import { OtpdError } from '../domain/errors.js';
import { isId, newId } from '../domain/ids.js';
import { CHANNEL, CHANNELS, type Channel } from '../domain/channels.js';
import { countSegments, messageCost, pricesFor, type PriceTable } from '../domain/segments.js';
import { LOCALE_PATTERN, hasCodePlaceholder } from '../domain/template.js';
import type { AppRecord, AuditEntry, TemplateRecord } from '../domain/records.js';
import type { Store } from '../store/ports/index.js';

export interface TemplateInput {
  channel: Channel;
  name: string;
  locale?: string | null;
  country?: string | null;
  prefix?: string | null;
  text: string;
  subject?: string | null;
  html?: string | null;
}

/** A template as the API shows it: the record without its app, times in ISO 8601. */
export type TemplateView = Omit<TemplateRecord, 'appId' | 'createdAt' | 'updatedAt'> & { createdAt: string; updatedAt: string };

/** The public view of a template. */
export function templateView(t: TemplateRecord): TemplateView {
  return {
    id: t.id, channel: t.channel, name: t.name, locale: t.locale, country: t.country, prefix: t.prefix, text: t.text, subject: t.subject, html: t.html,
    createdAt: new Date(t.createdAt).toISOString(), updatedAt: new Date(t.updatedAt).toISOString(),
  };
}

/**
 * Picks the app template for a message, or null for the built-in text.
 * @example selectTemplate(list, 'sms', { locale: 'fr-BE', to: '+32470123456', countryIso: 'BE' })
 */
export function selectTemplate(list: readonly TemplateRecord[], channel: Channel, o: { templateId?: string | undefined; locale?: string | undefined; to: string; countryIso: string }): TemplateRecord | null {
  const forChannel = list.filter((t) => t.channel === channel);
  if (o.templateId !== undefined) {
    const t = forChannel.find((x) => x.id === o.templateId);
    if (!t) throw new OtpdError('invalid_request', `No ${channel} template ${o.templateId} in this app`, { extensions: { errors: [{ pointer: '/template', detail: 'no such template for this channel' }] } });
    return t;
  }
  // Templates restricted to a destination only apply to that destination.
  const fits = (t: TemplateRecord) => (t.prefix === null || o.to.startsWith(t.prefix)) && (t.country === null || t.country === o.countryIso);
  const usable = forChannel.filter(fits);
  if (o.locale) {
    const l = o.locale.toLowerCase();
    const lang = l.split('-')[0];
    const byLocale = usable.find((t) => t.locale?.toLowerCase() === l) ?? usable.find((t) => t.locale?.toLowerCase() === lang);
    if (byLocale) return byLocale;
  }
  const byPrefix = usable.filter((t) => t.prefix !== null).sort((a, b) => b.prefix!.length - a.prefix!.length)[0];
  if (byPrefix) return byPrefix;
  const byCountry = usable.find((t) => t.country !== null);
  if (byCountry) return byCountry;
  return usable.find((t) => t.locale === null && t.country === null && t.prefix === null) ?? null;
}

const PREFIX = /^\+[1-9][0-9]{0,7}$/;
const LOCALE = new RegExp(LOCALE_PATTERN);

function validate(i: TemplateInput): TemplateInput {
  const bad = (pointer: string, detail: string) => new OtpdError('invalid_request', `${pointer.slice(1)} ${detail}`, { extensions: { errors: [{ pointer, detail }] } });
  if (!CHANNELS.includes(i.channel)) throw bad('/channel', `must be one of ${CHANNELS.join(', ')}`);
  if (!hasCodePlaceholder(i.text)) throw bad('/text', 'must contain the code placeholder {{pin}} (or {code})');
  if (i.html != null && !hasCodePlaceholder(i.html)) throw bad('/html', 'must contain the code placeholder {{pin}} (or {code})');
  if (!CHANNEL[i.channel].rich && (i.subject != null || i.html != null)) throw bad('/subject', 'and html are for the email channel only');
  if (i.locale != null && !LOCALE.test(i.locale)) throw bad('/locale', 'must be a language tag such as fr or fr-BE');
  if (i.prefix != null && !PREFIX.test(i.prefix)) throw bad('/prefix', 'must be + and 1 to 8 digits, e.g. +32 or +3247');
  if (i.country != null && !/^[A-Za-z]{2}$/.test(i.country)) throw bad('/country', 'must be an ISO 3166-1 alpha-2 code');
  if (CHANNEL[i.channel].recipient !== 'phone' && (i.prefix != null || i.country != null)) throw bad('/prefix', `and country do not apply to ${i.channel}`);
  return { ...i, country: i.country ? i.country.toUpperCase() : i.country ?? null, name: i.name.trim() };
}

export class TemplatesService {
  private readonly cache: PerAppCache<TemplateRecord[]>;

  constructor(private readonly store: Store, private readonly clock: Clock, private readonly prices: PriceTable) {
    this.cache = new PerAppCache(clock, (appId) => store.appConfig.listTemplates(appId));
  }

  /** The app's templates (cached briefly; changes made in this process are seen at once). */
  async forApp(appId: string): Promise<TemplateRecord[]> {
    return this.cache.get(appId);
  }

  /** Forgets the cached templates of an app (`*`: every app), e.g. after another node changed them. */
  forget(appId: string): void {
    this.cache.forget(appId);
  }

  private audit(actor: string, action: string, appId: string, id: string, before: TemplateRecord | null, after: TemplateRecord | null): AuditEntry {
    const at = this.clock.now();
    return { id: newId('aud', at), actor, action, targetType: 'template', targetId: id, appId, before: before && templateView(before), after: after && templateView(after), at };
  }

  /** Creates a template. */
  async create(app: AppRecord, input: TemplateInput, actor: string): Promise<TemplateView> {
    const v = validate(input);
    const now = this.clock.now();
    const id = newId('tpl', now);
    const t = await this.store.appConfig.saveTemplate(app.id, id, () => {
      const rec: TemplateRecord = {
        id, appId: app.id, channel: v.channel, name: v.name, locale: v.locale ?? null, country: v.country ?? null, prefix: v.prefix ?? null,
        text: v.text, subject: v.subject ?? null, html: v.html ?? null, createdAt: now, updatedAt: now,
      };
      return { after: rec, audit: [this.audit(actor, 'template.create', app.id, id, null, rec)] };
    });
    this.cache.forget(app.id);
    return templateView(t!);
  }

  /** Replaces a template's fields. */
  async update(app: AppRecord, id: string, input: TemplateInput, actor: string): Promise<TemplateView> {
    const v = validate(input);
    const now = this.clock.now();
    if (!isId('tpl', id)) throw new OtpdError('not_found', `No template ${id}`);
    const t = await this.store.appConfig.saveTemplate(app.id, id, (before) => {
      if (!before) throw new OtpdError('not_found', `No template ${id}`);
      const rec: TemplateRecord = { ...before, channel: v.channel, name: v.name, locale: v.locale ?? null, country: v.country ?? null, prefix: v.prefix ?? null, text: v.text, subject: v.subject ?? null, html: v.html ?? null, updatedAt: now };
      return { after: rec, audit: [this.audit(actor, 'template.update', app.id, id, before, rec)] };
    });
    this.cache.forget(app.id);
    return templateView(t!);
  }

  /** Deletes a template. */
  async remove(app: AppRecord, id: string, actor: string): Promise<void> {
    if (!isId('tpl', id)) throw new OtpdError('not_found', `No template ${id}`);
    await this.store.appConfig.saveTemplate(app.id, id, (before) => {
      if (!before) throw new OtpdError('not_found', `No template ${id}`);
      return { after: null, audit: [this.audit(actor, 'template.delete', app.id, id, before, null)] };
    });
    this.cache.forget(app.id);
  }

  /** One template of the app. */
  async get(app: AppRecord, id: string): Promise<TemplateView> {
    const t = (await this.forApp(app.id)).find((x) => x.id === id) ?? (await this.store.appConfig.listTemplates(app.id)).find((x) => x.id === id);
    if (!t) throw new OtpdError('not_found', `No template ${id}`);
    return templateView(t);
  }

  /** Price and parts of a text (for previews). */
  /** A text's encoding, parts and cost, priced like a start of `app` would be (its own price table over the server's). */
  measure(app: Pick<AppRecord, 'settings'>, channel: Channel, text: string, countryIso: string): { encoding: string; parts: number; cost: number; currency: string } {
    const seg = CHANNEL[channel].segmented ? countSegments(text) : { encoding: 'UTF-8', parts: 1 };
    const prices = pricesFor(this.prices, app.settings.prices);
    return { ...seg, cost: messageCost(prices, channel, countryIso || '*', seg.parts), currency: prices.currency };
  }
}
