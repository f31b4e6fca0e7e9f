/**
 * @otpd/sdk: a typed client for otpd. Types come from otpd's OpenAPI document (src/schema.ts, generated at build);
 * requests go through `fetch`, so it runs on Node 20+, in browsers and on edge runtimes, with no dependency.
 *
 *   const otpd = new Otpd({ baseUrl: 'https://otpd.example.com', apiKey: process.env.OTPD_API_KEY });
 *   const v = await otpd.verifications.start({ to: '+33612345678' });
 *   const r = await otpd.verifications.check(v.id, { code: '123456' });   // r.valid
 *
 * Every start carries an Idempotency-Key (a retry sends the same one: nothing is sent twice). A 429 or 503 with
 * Retry-After is retried after that delay (at most `maxRetries` times, at most `maxRetryDelayMs` each). Errors are
 * `OtpdError`s carrying the problem's stable `code`.
 */
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };
export type Schemas = components['schemas'];

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type JsonOf<C> = C extends { content: { 'application/json': infer J } } ? J : C extends { content: { 'application/problem+json': unknown } } ? never : undefined;
/** The body of an operation's success answer (200, 201 or 204). */
export type Ok<O> = O extends { responses: infer R }
  ? R extends { 200: infer A } ? JsonOf<A> : R extends { 201: infer A } ? JsonOf<A> : R extends { 204: unknown } ? undefined : unknown
  : never;
export type BodyOf<O> = O extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
export type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? Q : never;
type PathParams<O> = O extends { parameters: { path?: infer P } } ? P : never;
type OpOf<P extends keyof paths, M extends Method> = paths[P][M];

/** An RFC 9457 problem answered by otpd (or a network failure: status 0, code `network`). */
export class OtpdError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string | undefined;
  /** Seconds the server asked to wait (Retry-After), if any. */
  readonly retryAfter: number | undefined;
  /** The whole problem document (`errors` names the fields of a 422, `reasons` the guard's). */
  readonly problem: Record<string, unknown>;

  constructor(status: number, problem: Record<string, unknown>, retryAfter?: number) {
    const title = typeof problem.title === 'string' ? problem.title : `HTTP ${status}`;
    const detail = typeof problem.detail === 'string' ? problem.detail : undefined;
    super(detail ? `${title}: ${detail}` : title);
    this.name = 'OtpdError';
    this.status = status;
    this.code = typeof problem.code === 'string' ? problem.code : 'http_error';
    this.title = title;
    this.detail = detail;
    this.retryAfter = retryAfter;
    this.problem = problem;
  }
}

export interface ClientOptions {
  /** Where otpd answers, e.g. https://otpd.example.com */
  baseUrl: string;
  /** Times a 429 or 503 with Retry-After is retried (default 2; 0: never). */
  maxRetries?: number;
  /** Longest wait honoured before a retry (default 30 s); a longer Retry-After is thrown at once. */
  maxRetryDelayMs?: number;
  /** A fetch to use instead of the global one (tests, instrumentation, proxies). */
  fetch?: typeof fetch;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const newKey = () => globalThis.crypto.randomUUID();

/** The typed request every method goes through: any operation of the OpenAPI document, by method and path. */
class Transport {
  private readonly f: typeof fetch;

  constructor(private readonly o: ClientOptions, private readonly auth: string) {
    this.f = o.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async request<P extends keyof paths, M extends Method & keyof paths[P]>(method: M, path: P, opts: {
    params?: PathParams<OpOf<P, M>>; query?: QueryOf<OpOf<P, M>>; body?: BodyOf<OpOf<P, M>>; headers?: Record<string, string>;
  } = {}): Promise<Ok<OpOf<P, M>>> {
    let url = `${this.o.baseUrl.replace(/\/+$/, '')}${String(path).replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(String((opts.params as Record<string, unknown> | undefined)?.[k] ?? '')))}`;
    const q = Object.entries((opts.query ?? {}) as Record<string, unknown>).filter(([, v]) => v !== undefined && v !== null);
    if (q.length) url += `?${new URLSearchParams(q.map(([k, v]) => [k, String(v)])).toString()}`;
    const headers: Record<string, string> = { accept: 'application/json', authorization: this.auth, ...this.o.headers, ...opts.headers };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const max = this.o.maxRetries ?? 2;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.f(url, { method: method.toUpperCase(), headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
      } catch (e) {
        throw new OtpdError(0, { title: 'otpd cannot be reached', detail: e instanceof Error ? e.message : String(e), code: 'network' });
      }
      if (res.ok) return (res.status === 204 ? undefined : await res.json()) as Ok<OpOf<P, M>>;
      const retryAfter = res.headers.get('retry-after');
      const seconds = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
      const problem = await res.json().catch(() => ({ title: res.statusText })) as Record<string, unknown>;
      const wait = seconds === undefined ? undefined : seconds * 1000;
      if ((res.status === 429 || res.status === 503) && wait !== undefined && attempt < max && wait <= (this.o.maxRetryDelayMs ?? 30_000)) {
        await sleep(wait);
        continue;
      }
      throw new OtpdError(res.status, problem, seconds);
    }
  }
}

type V = Schemas['Verification'];
type StartBody = BodyOf<OpOf<'/v1/verifications', 'post'>>;
type CheckBody = BodyOf<OpOf<'/v1/verifications/{id}/check', 'post'>>;

/** The app API (`/v1`), with an app API key or an OAuth access token. */
export class Otpd {
  private readonly t: Transport;

  constructor(o: ClientOptions & { apiKey: string }) {
    this.t = new Transport(o, `Bearer ${o.apiKey}`);
  }

  /** Any `/v1` operation by method and path, typed from the OpenAPI document. */
  request: Transport['request'] = (method, path, opts) => this.t.request(method, path, opts);

  readonly verifications = {
    /** Starts a verification; an Idempotency-Key is set (pass yours to retry safely across processes). */
    start: (body: StartBody, o: { idempotencyKey?: string } = {}): Promise<V> =>
      this.t.request('post', '/v1/verifications', { body, headers: { 'idempotency-key': o.idempotencyKey ?? newKey() } }) as Promise<V>,
    get: (id: string) => this.t.request('get', '/v1/verifications/{id}', { params: { id } }),
    list: (query: QueryOf<OpOf<'/v1/verifications', 'get'>> = {}) => this.t.request('get', '/v1/verifications', { query }),
    check: (id: string, body: CheckBody) => this.t.request('post', '/v1/verifications/{id}/check', { params: { id }, body }),
    checkByRecipient: (body: BodyOf<OpOf<'/v1/verifications/check', 'post'>>) => this.t.request('post', '/v1/verifications/check', { body }),
    resend: (id: string, body: BodyOf<OpOf<'/v1/verifications/{id}/resend', 'post'>> = {}) => this.t.request('post', '/v1/verifications/{id}/resend', { params: { id }, body }),
    next: (id: string) => this.t.request('post', '/v1/verifications/{id}/next', { params: { id } }),
    cancel: (id: string) => this.t.request('post', '/v1/verifications/{id}/cancel', { params: { id } }),
    messages: (id: string) => this.t.request('get', '/v1/verifications/{id}/messages', { params: { id } }),
  };

  readonly templates = {
    create: (body: BodyOf<OpOf<'/v1/templates', 'post'>>) => this.t.request('post', '/v1/templates', { body }),
    list: () => this.t.request('get', '/v1/templates'),
    get: (id: string) => this.t.request('get', '/v1/templates/{id}', { params: { id } }),
    replace: (id: string, body: BodyOf<OpOf<'/v1/templates/{id}', 'put'>>) => this.t.request('put', '/v1/templates/{id}', { params: { id }, body }),
    delete: (id: string) => this.t.request('delete', '/v1/templates/{id}', { params: { id } }),
    preview: (body: BodyOf<OpOf<'/v1/templates/preview', 'post'>>) => this.t.request('post', '/v1/templates/preview', { body }),
  };

  readonly senders = {
    create: (body: BodyOf<OpOf<'/v1/senders', 'post'>>) => this.t.request('post', '/v1/senders', { body }),
    list: () => this.t.request('get', '/v1/senders'),
    delete: (id: string) => this.t.request('delete', '/v1/senders/{id}', { params: { id } }),
  };

  readonly analytics = {
    summary: (query: QueryOf<OpOf<'/v1/analytics/summary', 'get'>> = {}) => this.t.request('get', '/v1/analytics/summary', { query }),
    series: (query: QueryOf<OpOf<'/v1/analytics/series', 'get'>> = {}) => this.t.request('get', '/v1/analytics/series', { query }),
  };
}

/** The admin API (`/admin/v1`), with the admin token: apps, keys, clients, lockouts, guard, webhooks, connections, analytics, audit. */
export class OtpdAdmin {
  private readonly t: Transport;

  constructor(o: ClientOptions & { adminToken: string }) {
    this.t = new Transport(o, `Bearer ${o.adminToken}`);
  }

  /** Any operation by method and path, typed from the OpenAPI document. */
  request: Transport['request'] = (method, path, opts) => this.t.request(method, path, opts);

  readonly apps = {
    create: (body: BodyOf<OpOf<'/admin/v1/apps', 'post'>>) => this.t.request('post', '/admin/v1/apps', { body }),
    list: () => this.t.request('get', '/admin/v1/apps'),
    get: (id: string) => this.t.request('get', '/admin/v1/apps/{id}', { params: { id } }),
    update: (id: string, body: BodyOf<OpOf<'/admin/v1/apps/{id}', 'patch'>>) => this.t.request('patch', '/admin/v1/apps/{id}', { params: { id }, body }),
    delete: (id: string) => this.t.request('delete', '/admin/v1/apps/{id}', { params: { id } }),
  };

  readonly keys = {
    create: (appId: string, body: BodyOf<OpOf<'/admin/v1/apps/{id}/keys', 'post'>>) => this.t.request('post', '/admin/v1/apps/{id}/keys', { params: { id: appId }, body }),
    list: (appId: string) => this.t.request('get', '/admin/v1/apps/{id}/keys', { params: { id: appId } }),
    revoke: (appId: string, keyId: string) => this.t.request('delete', '/admin/v1/apps/{id}/keys/{keyId}', { params: { id: appId, keyId } }),
  };

  readonly clients = {
    create: (appId: string, body: BodyOf<OpOf<'/admin/v1/apps/{id}/clients', 'post'>>) => this.t.request('post', '/admin/v1/apps/{id}/clients', { params: { id: appId }, body }),
    list: (appId: string) => this.t.request('get', '/admin/v1/apps/{id}/clients', { params: { id: appId } }),
    rotate: (appId: string, clientId: string) => this.t.request('post', '/admin/v1/apps/{id}/clients/{clientId}/rotate', { params: { id: appId, clientId } }),
    revoke: (appId: string, clientId: string) => this.t.request('delete', '/admin/v1/apps/{id}/clients/{clientId}', { params: { id: appId, clientId } }),
  };

  readonly lockouts = {
    list: (appId: string, to?: string) => this.t.request('get', '/admin/v1/apps/{id}/lockouts', { params: { id: appId }, query: { to } }),
    unblock: (appId: string, to: string) => this.t.request('delete', '/admin/v1/apps/{id}/lockouts/{to}', { params: { id: appId, to } }),
  };

  readonly guard = {
    get: (appId: string) => this.t.request('get', '/admin/v1/apps/{id}/guard', { params: { id: appId } }),
    update: (appId: string, body: BodyOf<OpOf<'/admin/v1/apps/{id}/guard', 'patch'>>) => this.t.request('patch', '/admin/v1/apps/{id}/guard', { params: { id: appId }, body }),
    decisions: (appId: string, query: QueryOf<OpOf<'/admin/v1/apps/{id}/guard/decisions', 'get'>> = {}) => this.t.request('get', '/admin/v1/apps/{id}/guard/decisions', { params: { id: appId }, query }),
    blocks: (appId: string) => this.t.request('get', '/admin/v1/apps/{id}/guard/blocks', { params: { id: appId } }),
    unblock: (appId: string, body: BodyOf<OpOf<'/admin/v1/apps/{id}/guard/unblock', 'post'>>) => this.t.request('post', '/admin/v1/apps/{id}/guard/unblock', { params: { id: appId }, body }),
  };

  readonly webhooks = {
    create: (appId: string, body: BodyOf<OpOf<'/admin/v1/apps/{id}/webhooks', 'post'>>) => this.t.request('post', '/admin/v1/apps/{id}/webhooks', { params: { id: appId }, body }),
    list: (appId: string) => this.t.request('get', '/admin/v1/apps/{id}/webhooks', { params: { id: appId } }),
    deliveries: (appId: string, query: QueryOf<OpOf<'/admin/v1/apps/{id}/webhook-deliveries', 'get'>> = {}) => this.t.request('get', '/admin/v1/apps/{id}/webhook-deliveries', { params: { id: appId }, query }),
    replay: (appId: string, deliveryId: string) => this.t.request('post', '/admin/v1/apps/{id}/webhook-deliveries/{deliveryId}/replay', { params: { id: appId, deliveryId } }),
  };

  readonly analytics = {
    summary: (query: QueryOf<OpOf<'/admin/v1/analytics/summary', 'get'>> = {}) => this.t.request('get', '/admin/v1/analytics/summary', { query }),
    series: (query: QueryOf<OpOf<'/admin/v1/analytics/series', 'get'>> = {}) => this.t.request('get', '/admin/v1/analytics/series', { query }),
  };

  audit = (query: QueryOf<OpOf<'/admin/v1/audit', 'get'>> = {}) => this.t.request('get', '/admin/v1/audit', { query });
}
