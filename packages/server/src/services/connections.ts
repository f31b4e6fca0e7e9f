/**
 * Provider connections (issue 16): provider accounts as a resource of the admin API, owned by one app (its own
 * Twilio, Vonage, WhatsApp, SMTP or HTTP gateway account) or shared by the server, beside the server-wide ones of
 * OTPD_PROVIDERS. An entry is what OTPD_PROVIDERS holds (`type` and that type's fields); it is validated against the
 * type's schema when written (each problem names its field), sealed whole in the store (AES-256-GCM under a key
 * derived from the server secret, bound to the connection id), and shown with its credentials masked.
 *
 * Every process keeps every connection, opened, in memory (they are few): the delivery worker picks a provider inside
 * its claim transaction, synchronously. A change made here applies at once; one made on another node arrives with
 * the store's app-changed notice (PostgreSQL NOTIFY) and reloads them.
 *
 * Names: an app routes to names (its `settings.routing`), and a name means, in this order, the app's connection, a
 * shared connection, a provider of OTPD_PROVIDERS; a new connection may not take a name the app can already route
 * to. Messages record the provider's key instead: a connection's id, or the server provider's name. So breakers,
 * receipts (`/webhooks/{type}/{key}`) and attempts stay unambiguous when two apps name their accounts alike.
 */
import type { Clock } from '../domain/clock.js';
import { openCode, sealCode, type CodeKeys } from '../domain/code.js';
import { OtpdError } from '../domain/errors.js';
import { isId, newId } from '../domain/ids.js';
import { CHANNEL, parseRecipient, type Channel } from '../domain/channels.js';
import type { AppRecord, AuditEntry, ConnectionRecord } from '../domain/records.js';
import { namesFor, type RoutingTable } from '../delivery/routing.js';
import { redactProviderText } from '../delivery/provider-text.js';
import type { DevEnv, ProviderPlugin } from '../providers/plugin.js';
import { checkProviderEntry, pluginOf } from '../providers/registry.js';
import { ProviderError, type DeliveryProvider, type ProviderLookup } from '../providers/types.js';
import type { Store } from '../store/ports/index.js';

/** What a masked credential reads as. */
export const MASK = '********';

type Entry = Record<string, unknown> & { type: string };

interface Live {
  rec: ConnectionRecord;
  entry: Entry;
  provider: DeliveryProvider;
}

export interface ConnectionView {
  id: string;
  appId: string | null;
  name: string;
  type: string;
  channels: Channel[];
  /** The entry, its credentials masked. */
  config: Record<string, unknown>;
  /** As this node's delivery worker saw it: its circuit, its last success and its last error (redacted). */
  health: ConnectionHealth;
  createdAt: string;
  updatedAt: string;
}

export interface ConnectionHealth {
  circuit: 'closed' | 'open' | 'half-open';
  lastSuccessAt: string | null;
  lastErrorAt: string | null;
  lastError: string | null;
}

const HEALTHY: ConnectionHealth = { circuit: 'closed', lastSuccessAt: null, lastErrorAt: null, lastError: null };

export interface TestResult {
  ok: boolean;
  channel: Channel;
  to: string;
  providerMessageId?: string | undefined;
  price?: number | undefined;
  priceCurrency?: string | undefined;
  /** On failure: how (rejected, transient, unknown), and what the provider said (redacted, bounded). */
  kind?: string;
  error?: string;
  errorCode?: string | undefined;
  httpStatus?: number | undefined;
}

/** A URL with its credentials hidden (user, password, every query value); null when `v` is not a URL. */
function maskUrl(v: string): string | null {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return null;
  try {
    const u = new URL(v);
    if (!u.username && !u.password && !u.search) return v;
    if (u.username) u.username = MASK;
    if (u.password) u.password = MASK;
    for (const k of new Set(u.searchParams.keys())) u.searchParams.set(k, MASK);
    return u.toString();
  } catch {
    return null;
  }
}
const maskValue = (v: unknown): unknown => (typeof v === 'string' ? maskUrl(v) ?? MASK : MASK);

const secretPaths = (plugin: ProviderPlugin | undefined) => (plugin?.secrets ?? []).map((p) => p.split('/').slice(1));

/** The values at a JSON pointer (`*`: every member), each with its concrete pointer. */
function valuesAt(obj: unknown, path: readonly string[], trail = ''): [string, unknown][] {
  if (path.length === 0) return [[trail, obj]];
  if (!obj || typeof obj !== 'object') return [];
  const [head, ...rest] = path as [string, ...string[]];
  const o = obj as Record<string, unknown>;
  return (head === '*' ? Object.keys(o) : [head]).filter((k) => k in o).flatMap((k) => valuesAt(o[k], rest, `${trail}/${k}`));
}

/** Sets the member at a concrete pointer (one `valuesAt` gave: its parents exist). */
function setAt(obj: Record<string, unknown>, pointer: string, value: unknown): void {
  const keys = pointer.split('/').slice(1);
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[keys.at(-1)!] = value;
}

/** The entry with its credentials masked. */
export function maskEntry(entry: Entry): Record<string, unknown> {
  const out = structuredClone(entry) as Record<string, unknown>;
  for (const path of secretPaths(pluginOf(entry.type))) for (const [pointer, v] of valuesAt(out, path)) setAt(out, pointer, maskValue(v));
  return out;
}

/** Where `next` holds a credential as it reads masked, the stored one is kept (a client sent back what it read). */
function unmask(next: Entry, stored: Entry): void {
  for (const path of secretPaths(pluginOf(next.type))) {
    for (const [pointer, v] of valuesAt(next, path)) {
      const old = valuesAt(stored, pointer.split('/').slice(1))[0]?.[1];
      if (old !== undefined && v === maskValue(old)) setAt(next, pointer, old);
    }
  }
}

/** Fields that say where a provider's requests go and what they carry: changing one needs the credentials again. */
const DESTINATION = ['url', 'baseUrl', 'auth', 'body', 'headers', 'receipts'];

/** JSON merge patch (RFC 7396). */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const invalid = (errors: { pointer: string; detail: string }[]) =>
  new OtpdError('invalid_request', errors.map((e) => `${e.pointer.slice(1).replaceAll('/', '.') || 'the entry'} ${e.detail}`).join('; '), { extensions: { errors } });

export interface ConnectionsDeps {
  store: Store;
  clock: Clock;
  keys: CodeKeys;
  /** The server-wide providers (OTPD_PROVIDERS), by name. */
  providers: readonly DeliveryProvider[];
  /** What the console provider needs (development); connections of type console are refused anyway. */
  dev: DevEnv;
  /** OTPD_PROVIDERS' routing. */
  serverRouting?: RoutingTable | undefined;
}

export class ConnectionsService {
  private readonly byId = new Map<string, Live>();
  /** A provider key's health as this node's worker saw it (set by the composition root). */
  healthOf: (key: string) => ConnectionHealth = () => HEALTHY;
  private readonly servers: ReadonlyMap<string, DeliveryProvider>;

  constructor(private readonly d: ConnectionsDeps) {
    this.servers = new Map(d.providers.map((p) => [p.name, p]));
  }

  /**
   * Connections that would not open (sealed under another OTPD_SECRET: `otpd connections reseal`), by id. They are
   * left out, not fatal: the others keep working.
   */
  readonly unreadable = new Map<string, { rec: ConnectionRecord; error: string }>();

  /** Opens every stored connection (at start, and when another node changed one). */
  async load(): Promise<void> {
    const all = await this.d.store.appConfig.listConnections();
    this.byId.clear();
    this.unreadable.clear();
    this.changed();
    for (const rec of all) {
      try {
        this.byId.set(rec.id, this.open(rec));
      } catch (e) {
        this.unreadable.set(rec.id, { rec, error: e instanceof Error ? e.message : String(e) });
      }
    }
  }

  private open(rec: ConnectionRecord): Live {
    const entry = JSON.parse(openCode(this.d.keys, rec.id, rec.configSealed)) as Entry;
    return { rec, entry, provider: this.build(rec.id, entry) };
  }

  /** The provider of an entry, named by its key (the connection id). */
  private build(id: string, entry: Entry): DeliveryProvider {
    return pluginOf(entry.type)!.create({ ...entry, name: id } as never, this.d.dev);
  }

  /** `provider` as the worker and the receipt routes read it. */
  readonly lookup: ProviderLookup = { get: (key) => this.provider(key), has: (key) => this.provider(key) !== undefined };

  /** The provider a message's route entry stands for: a connection id, or a server provider's name. */
  provider(key: string): DeliveryProvider | undefined {
    return this.servers.get(key) ?? this.byId.get(key)?.provider;
  }

  /** The server's own providers (OTPD_PROVIDERS; console in development), with their health on this node. */
  serverProviders(): { name: string; type: string; channels: Channel[]; health: ConnectionHealth }[] {
    return [...this.servers.values()].map((p) => ({ name: p.name, type: p.type, channels: [...p.channels], health: this.healthOf(p.name) }));
  }

  /** Every provider known here, server ones first (the worker's breakers and health). */
  all(): DeliveryProvider[] {
    return [...this.servers.values(), ...[...this.byId.values()].map((l) => l.provider)];
  }

  /**
   * Per app (`''`: none), what `route` reads on every start: the names it can route to and its own connections.
   * Built on first use and dropped when any connection changes (a start looks up, it does not walk every tenant's).
   */
  private readonly perApp = new Map<string, { names: ReadonlyMap<string, DeliveryProvider>; own: readonly DeliveryProvider[] }>();

  private changed(): void {
    this.perApp.clear();
  }

  private scopeOf(appId: string | null) {
    let v = this.perApp.get(appId ?? '');
    if (!v) {
      const names = new Map<string, DeliveryProvider>();
      const lives = [...this.byId.values()];
      const own = appId === null ? [] : lives.filter((l) => l.rec.appId === appId);
      for (const l of own) names.set(l.rec.name, l.provider);
      for (const l of lives) if (l.rec.appId === null && !names.has(l.rec.name)) names.set(l.rec.name, l.provider);
      for (const [name, p] of this.servers) if (!names.has(name)) names.set(name, p);
      if (this.perApp.size >= 10_000) this.perApp.clear();
      this.perApp.set(appId ?? '', (v = { names, own: own.map((l) => l.provider) }));
    }
    return v;
  }

  /** The names `appId` (null: none, only shared and server ones) can route to, each with its provider. */
  namesFor(appId: string | null): ReadonlyMap<string, DeliveryProvider> {
    return this.scopeOf(appId).names;
  }

  /**
   * The ordered provider keys for a message of `app`: the first of its routing rules for the channel that matches
   * the country; without any, its own connections of the channel; without those, the server's routing; without
   * that, every shared connection and server provider of the channel.
   */
  route(app: Pick<AppRecord, 'id' | 'settings'>, channel: Channel, countryIso: string): string[] {
    const { names, own: mine } = this.scopeOf(app.id);
    const pick = (rules: RoutingTable[Channel]) => namesFor(rules ?? [], countryIso).flatMap((n) => {
      const p = names.get(n);
      return p && p.channels.includes(channel) ? [p.name] : [];
    });
    const appRules = (app.settings.routing as RoutingTable | undefined)?.[channel];
    if (appRules) return pick(appRules);
    const own = mine.filter((p) => p.channels.includes(channel)).map((p) => p.name);
    if (own.length > 0) return own;
    const serverRules = this.d.serverRouting?.[channel];
    if (serverRules) return pick(serverRules);
    return [...names.values()].filter((p) => p.channels.includes(channel) && (this.servers.has(p.name) || this.byId.get(p.name)?.rec.appId === null)).map((p) => p.name);
  }

  /** What is wrong with an app's routing (each with its pointer under /settings/routing), for the names it can use. */
  checkRouting(appId: string | null, routing: RoutingTable | undefined): { pointer: string; detail: string }[] {
    if (!routing) return [];
    const names = this.namesFor(appId);
    const errs: { pointer: string; detail: string }[] = [];
    for (const [channel, rules] of Object.entries(routing) as [Channel, RoutingTable[Channel]][]) {
      (rules ?? []).forEach((r, i) => r.providers.forEach((n, j) => {
        const p = names.get(n);
        const pointer = `/settings/routing/${channel}/${i}/providers/${j}`;
        if (!p) errs.push({ pointer, detail: `names no connection or provider this app can use (${n})` });
        else if (!p.channels.includes(channel)) errs.push({ pointer, detail: `${n} does not deliver ${channel}` });
      }));
    }
    return errs;
  }

  private view(l: Live): ConnectionView {
    return {
      id: l.rec.id, appId: l.rec.appId, name: l.rec.name, type: l.rec.type, channels: [...l.provider.channels], config: maskEntry(l.entry),
      health: this.healthOf(l.rec.id), createdAt: new Date(l.rec.createdAt).toISOString(), updatedAt: new Date(l.rec.updatedAt).toISOString(),
    };
  }

  private audit(actor: string, action: string, rec: ConnectionRecord, before: unknown, after: unknown): AuditEntry {
    const at = this.d.clock.now();
    return { id: newId('aud', at), actor, action, targetType: 'connection', targetId: rec.id, appId: rec.appId, before, after, at };
  }

  /** Validates an entry (its schema, its type's checks, and that it can be built); throws `invalid_request`. */
  private validate(id: string, body: Record<string, unknown>): Entry {
    if (body.type === 'console') throw invalid([{ pointer: '/type', detail: 'console is for development: configure it in OTPD_PROVIDERS' }]);
    const { name: _name, ...rest } = body;
    // The type's schema needs a name; the connection's own is checked apart.
    const errs = checkProviderEntry({ ...rest, name: 'connection' }).filter((e) => e.pointer !== '/name');
    if (errs.length > 0) throw invalid(errs);
    const entry = rest as Entry;
    try {
      this.build(id, entry);
    } catch (e) {
      throw invalid([{ pointer: '/', detail: e instanceof Error ? e.message : String(e) }]);
    }
    return entry;
  }

  private checkName(appId: string | null, name: unknown, self?: string): string {
    if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,39}$/.test(name)) {
      throw invalid([{ pointer: '/name', detail: 'must be 1-40 lower-case letters, digits, _ or -, starting with a letter or digit' }]);
    }
    // Taken: a name the app (or, for a shared one, any app) can already route to.
    const taken = appId === null
      ? this.servers.has(name) || [...this.byId.values()].some((l) => l.rec.name === name && l.rec.id !== self)
      : [...this.namesFor(appId)].some(([n, p]) => n === name && p.name !== self);
    if (taken) throw new OtpdError('name_taken', `The name ${name} is already in use`, { extensions: { errors: [{ pointer: '/name', detail: 'taken' }] } });
    return name;
  }

  private scoped(appId: string | null, id: string): Live {
    const l = isId('con', id) ? this.byId.get(id) : undefined;
    if (!l || l.rec.appId !== appId) throw new OtpdError('not_found', `No connection ${id}`);
    return l;
  }

  async create(appId: string | null, body: Record<string, unknown>, actor: string): Promise<ConnectionView> {
    const now = this.d.clock.now();
    const id = newId('con', now);
    const name = this.checkName(appId, body.name);
    const entry = this.validate(id, body);
    const rec: ConnectionRecord = { id, appId, name, type: entry.type, configSealed: sealCode(this.d.keys, id, JSON.stringify(entry)), createdAt: now, updatedAt: now };
    const live: Live = { rec, entry, provider: this.build(id, entry) };
    await this.d.store.appConfig.saveConnection(appId, id, () => ({ after: rec, audit: [this.audit(actor, 'connection.create', rec, null, this.view(live))] }));
    this.byId.set(id, live);
    this.changed();
    return this.view(live);
  }

  list(appId: string | null): ConnectionView[] {
    return [...this.byId.values()].filter((l) => l.rec.appId === appId).map((l) => this.view(l));
  }

  get(appId: string | null, id: string): ConnectionView {
    return this.view(this.scoped(appId, id));
  }

  /** A JSON merge patch of the entry; `name` and `type` cannot change; masked credentials sent back are kept. */
  async update(appId: string | null, id: string, patch: Record<string, unknown>, actor: string): Promise<ConnectionView> {
    const cur = this.scoped(appId, id);
    if (patch.name !== undefined && patch.name !== cur.rec.name) throw invalid([{ pointer: '/name', detail: 'cannot change (routing refers to it): create another connection' }]);
    if (patch.type !== undefined && patch.type !== cur.rec.type) throw invalid([{ pointer: '/type', detail: `cannot change (${cur.rec.type})` }]);
    const next = mergePatch(cur.entry, { ...patch, name: undefined }) as Entry;
    delete next.name;
    unmask(next, cur.entry);
    // Credentials go only where they went: a change of where requests go (or how they are signed and shaped) must
    // bring every credential again, or a patch could point a stored secret at another host and test-send it there.
    if (DESTINATION.some((k) => JSON.stringify(next[k]) !== JSON.stringify(cur.entry[k]))) {
      const missing: { pointer: string; detail: string }[] = [];
      for (const path of secretPaths(pluginOf(cur.entry.type))) {
        for (const [pointer, stored] of valuesAt(cur.entry, path)) {
          const given = valuesAt(patch, pointer.split('/').slice(1))[0]?.[1];
          if (given === undefined || given === maskValue(stored)) missing.push({ pointer, detail: 'must be given again: the destination changes' });
        }
      }
      if (missing.length > 0) throw invalid(missing);
    }
    const entry = this.validate(id, { ...next, type: cur.rec.type });
    const now = this.d.clock.now();
    const rec: ConnectionRecord = { ...cur.rec, configSealed: sealCode(this.d.keys, id, JSON.stringify(entry)), updatedAt: now };
    const live: Live = { rec, entry, provider: this.build(id, entry) };
    await this.d.store.appConfig.saveConnection(appId, id, (before) => {
      if (!before) throw new OtpdError('not_found', `No connection ${id}`);
      return { after: rec, audit: [this.audit(actor, 'connection.update', rec, this.view(cur), this.view(live))] };
    });
    this.byId.set(id, live);
    this.changed();
    return this.view(live);
  }

  /** Deletes a connection; 409 `connection_in_use` while a routing rule of an app names it. */
  async remove(appId: string | null, id: string, actor: string, appsUsing: (name: string) => Promise<string[]>): Promise<void> {
    // One that does not open (sealed under a lost secret) can still be deleted, by the same owner.
    const lost = this.unreadable.get(id);
    if (lost && lost.rec.appId === appId && !this.byId.has(id)) {
      await this.d.store.appConfig.saveConnection(appId, id, (before) => {
        if (!before) throw new OtpdError('not_found', `No connection ${id}`);
        return { after: null, audit: [this.audit(actor, 'connection.delete', lost.rec, { id, name: lost.rec.name, type: lost.rec.type, unreadable: true }, null)] };
      });
      this.unreadable.delete(id);
      return;
    }
    const cur = this.scoped(appId, id);
    const users = await appsUsing(cur.rec.name);
    if (users.length > 0) {
      throw new OtpdError('connection_in_use', `The routing of ${users.slice(0, 5).join(', ')} names ${cur.rec.name}: change it first`, { extensions: { apps: users.slice(0, 20) } });
    }
    await this.d.store.appConfig.saveConnection(appId, id, (before) => {
      if (!before) throw new OtpdError('not_found', `No connection ${id}`);
      return { after: null, audit: [this.audit(actor, 'connection.delete', cur.rec, this.view(cur), null)] };
    });
    this.byId.delete(id);
    this.changed();
  }

  /**
   * Sends a test message through the connection and reports what the provider answered. Nothing is stored: no
   * verification, no message row; the text says it is a test.
   */
  async test(appId: string | null, id: string, input: { to: string; channel?: Channel | undefined }, appName: string): Promise<TestResult> {
    const l = this.scoped(appId, id);
    const channel = input.channel ?? l.provider.channels[0]!;
    if (!l.provider.channels.includes(channel)) throw invalid([{ pointer: '/channel', detail: `${l.rec.name} delivers ${l.provider.channels.join(', ')}` }]);
    const kind = CHANNEL[channel].recipient;
    let to: string;
    try {
      to = parseRecipient(kind, input.to).to;
    } catch {
      throw invalid([{ pointer: '/to', detail: kind === 'email' ? 'is not a valid email address' : 'is not a valid phone number' }]);
    }
    const now = this.d.clock.now();
    const code = '000000';
    const text = `${appName}: test message from otpd through ${l.rec.name}. Test code ${code}.`;
    try {
      const r = await l.provider.send({
        id: newId('msg', now), appId: appId ?? 'server', verificationId: newId('ver', now), channel, to, locale: 'en', text, code, ttlMinutes: 10,
        ...(CHANNEL[channel].rich ? { subject: `${appName}: otpd test message`, html: `<p>${text.replace(/[<>&]/g, '')}</p>` } : {}),
      }, {});
      return { ok: true, channel, to, providerMessageId: r.providerMessageId, price: r.price, priceCurrency: r.priceCurrency };
    } catch (err) {
      const e = err instanceof ProviderError ? err : new ProviderError('unknown', err instanceof Error ? err.message : String(err));
      return {
        ok: false, channel, to, kind: e.kind, error: redactProviderText(e.message, code, 300, { secrets: l.provider.secrets }),
        errorCode: e.info.code === undefined ? undefined : redactProviderText(e.info.code, code, 64, { whole: true, secrets: l.provider.secrets }), httpStatus: e.info.httpStatus,
      };
    }
  }
}

/**
 * Seals every connection again under `current` keys: those that open with `previous` (OTPD_SECRET changed) are
 * re-sealed and audited; those that already open with `current` are left. One that opens with neither is an error
 * (naming it): the wrong previous secret, or a damaged row.
 */
export async function resealConnections(store: Store, clock: Clock, previous: CodeKeys, current: CodeKeys): Promise<{ resealed: number; current: number }> {
  let resealed = 0;
  let already = 0;
  for (const rec of await store.appConfig.listConnections()) {
    try {
      openCode(current, rec.id, rec.configSealed);
      already++;
      continue;
    } catch { /* sealed under another secret */ }
    let plain: string;
    try {
      plain = openCode(previous, rec.id, rec.configSealed);
    } catch {
      throw new OtpdError('invalid_request', `connection ${rec.id} (${rec.name}) opens with neither secret`);
    }
    const now = clock.now();
    await store.appConfig.saveConnection(rec.appId, rec.id, (before) => ({
      after: before && { ...before, configSealed: sealCode(current, rec.id, plain), updatedAt: now },
      audit: [{ id: newId('aud', now), actor: 'cli', action: 'connection.reseal', targetType: 'connection', targetId: rec.id, appId: rec.appId, before: null, after: null, at: now }],
    }));
    resealed++;
  }
  return { resealed, current: already };
}
