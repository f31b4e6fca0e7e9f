/**
 * Sender ids (seed 002): what the recipient sees as the sender, per channel and destination country. SMS takes
 * an alphanumeric id (1-11 letters, digits or spaces, with at least one letter) or a number (short code or
 * E.164); email takes a From address ("Acme <no-reply@acme.example>"). WhatsApp messages always come from the
 * business number configured at the provider. Chosen per message: the destination country's, then the app
 * default (no country), then the provider's configured sender.
 */
import type { Clock } from '../domain/clock.js';
import { PerAppCache } from './per-app-cache.js';
import { OtpdError } from '../domain/errors.js';
import { isId, newId } from '../domain/ids.js';
import { parseEmail } from '../domain/phone.js';
import { CHANNEL, type Channel } from '../domain/channels.js';
import type { AppRecord, AuditEntry, SenderRecord } from '../domain/records.js';
import type { Store } from '../store/ports/index.js';

export interface SenderView { id: string; channel: Channel; country: string | null; value: string; createdAt: string }

const view = (x: SenderRecord): SenderView => ({ id: x.id, channel: x.channel, country: x.country, value: x.value, createdAt: new Date(x.createdAt).toISOString() });

/** The sender for a message, or null for the provider's own. */
export function selectSender(list: readonly SenderRecord[], channel: Channel, countryIso: string): string | null {
  const forChannel = list.filter((x) => x.channel === channel);
  return (forChannel.find((x) => x.country !== null && x.country === countryIso) ?? forChannel.find((x) => x.country === null))?.value ?? null;
}

function validate(channel: Channel, value: string, country: string | null | undefined): { value: string; country: string | null } {
  const bad = (pointer: string, detail: string) => new OtpdError('invalid_request', `${pointer.slice(1)} ${detail}`, { extensions: { errors: [{ pointer, detail }] } });
  const v = value.trim();
  const kind = CHANNEL[channel].sender;
  if (kind === null) throw bad('/channel', `${channel} messages come from the business number configured at the provider`);
  if (kind === 'sms') {
    const alnum = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/.test(v);
    const number = /^\+?[0-9]{3,15}$/.test(v);
    if (!alnum && !number) throw bad('/value', 'must be an alphanumeric sender id (1-11 letters, digits or spaces, at least one letter) or a number');
  } else {
    const m = /^(?:(.{1,64}?)\s*<([^<>]+)>|([^<>\s]+))$/.exec(v);
    const address = m?.[2] ?? m?.[3];
    if (!address) throw bad('/value', 'must be an address or "Name <address>"');
    try { parseEmail(address); } catch { throw bad('/value', 'does not hold a valid email address'); }
    if (country != null) throw bad('/country', 'does not apply to email');
  }
  if (country != null && !/^[A-Za-z]{2}$/.test(country)) throw bad('/country', 'must be an ISO 3166-1 alpha-2 code');
  return { value: v, country: country ? country.toUpperCase() : null };
}

export class SendersService {
  private readonly cache: PerAppCache<SenderRecord[]>;

  constructor(private readonly store: Store, private readonly clock: Clock) {
    this.cache = new PerAppCache(clock, (appId) => store.appConfig.listSenders(appId));
  }

  /** The app's senders (cached briefly; changes made in this process are seen at once). */
  async forApp(appId: string): Promise<SenderRecord[]> {
    return this.cache.get(appId);
  }

  /** Forgets the cached senders of an app (`*`: every app), e.g. after another node changed them. */
  forget(appId: string): void {
    this.cache.forget(appId);
  }

  private audit(actor: string, action: string, x: SenderRecord, before: unknown, after: unknown): AuditEntry {
    const at = this.clock.now();
    return { id: newId('aud', at), actor, action, targetType: 'sender', targetId: x.id, appId: x.appId, before, after, at };
  }

  /** Adds a sender; one per (channel, country): a second one for the same pair is refused. */
  async create(app: AppRecord, input: { channel: Channel; value: string; country?: string | null }, actor: string): Promise<SenderView> {
    const v = validate(input.channel, input.value, input.country);
    if ((await this.store.appConfig.listSenders(app.id)).some((x) => x.channel === input.channel && x.country === v.country)) {
      throw new OtpdError('invalid_request', `A ${input.channel} sender for ${v.country ?? 'every country'} exists already; delete it first`, { extensions: { errors: [{ pointer: '/country', detail: 'taken' }] } });
    }
    const now = this.clock.now();
    const rec: SenderRecord = { id: newId('snd', now), appId: app.id, channel: input.channel, country: v.country, value: v.value, createdAt: now };
    await this.store.appConfig.createSender(rec, [this.audit(actor, 'sender.create', rec, null, view(rec))]);
    this.cache.forget(app.id);
    return view(rec);
  }

  /** The app's senders. */
  async list(app: AppRecord): Promise<SenderView[]> {
    return (await this.store.appConfig.listSenders(app.id)).map(view);
  }

  /** Deletes a sender. */
  async remove(app: AppRecord, id: string, actor: string): Promise<void> {
    const ok = isId('snd', id) && (await this.store.appConfig.deleteSender(app.id, id, (before) => [this.audit(actor, 'sender.delete', before, view(before), null)]));
    if (!ok) throw new OtpdError('not_found', `No sender ${id}`);
    this.cache.forget(app.id);
  }
}
