/**
 * The admin API as the dashboard calls it: same origin, the session cookie (HttpOnly, set at sign-in) and the CSRF
 * token in X-CSRF-Token on every request. Errors are RFC 9457 problems: thrown as `Problem` with title and detail.
 */

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string | undefined,
    readonly errors: { pointer: string; detail: string }[] = [],
  ) {
    super(detail ? `${title}: ${detail}` : title);
  }
}

let csrf: string | null = null;
let onSignedOut: () => void = () => undefined;

export const session = {
  set(token: string | null): void {
    csrf = token;
  },
  onSignedOut(fn: () => void): void {
    onSignedOut = fn;
  },
};

async function problemOf(r: Response): Promise<Problem> {
  try {
    const p = (await r.json()) as { status?: number; code?: string; title?: string; detail?: string; errors?: { pointer: string; detail: string }[] };
    return new Problem(r.status, p.code ?? 'error', p.title ?? r.statusText, p.detail, p.errors ?? []);
  } catch {
    return new Problem(r.status, 'error', r.statusText || `HTTP ${r.status}`, undefined);
  }
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (csrf) headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let r: Response;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw new Problem(0, 'network', 'otpd cannot be reached', 'Check that the server is running, then try again.');
  }
  if (!r.ok) {
    const p = await problemOf(r);
    if (r.status === 401 && path.startsWith('/admin/')) onSignedOut();
    throw p;
  }
  if (r.status === 204) return undefined as T;
  return (await r.json()) as T;
}

export const get = <T>(path: string) => request<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {});
export const patch = <T>(path: string, body: unknown) => request<T>('PATCH', path, body);
export const put = <T>(path: string, body: unknown) => request<T>('PUT', path, body);
export const del = <T = void>(path: string) => request<T>('DELETE', path);

/** A query string from the defined values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

// The shapes the pages read (see /openapi.json).
export interface App { id: string; name: string; enabled: boolean; settings: Record<string, unknown>; createdAt: string; updatedAt: string }
export interface ApiKey { id: string; name: string; prefix: string; createdAt: string; expiresAt: string | null; revokedAt: string | null; lastUsedAt: string | null }
export interface Client { id: string; name: string; createdAt: string; rotatedAt: string | null; revokedAt: string | null; lastUsedAt: string | null }
export interface Verification {
  id: string; to: string; channel: string; channels: string[]; status: string; attempts: number; maxAttempts: number; sends: number;
  createdAt: string; expiresAt: string; verifiedAt: string | null; cost: number; countryIso?: string | null;
}
export interface TimelineEntry { at: string; kind: string; messageId: string | null; channel: string | null; provider: string | null; detail: string }
export interface Template { id: string; channel: string; name: string; locale: string | null; country: string | null; prefix: string | null; text: string; subject: string | null; html: string | null; updatedAt: string }
export interface Sender { id: string; channel: string; country: string | null; value: string; createdAt: string }
export interface Connection {
  id: string; appId: string | null; name: string; type: string; channels: string[]; config: Record<string, unknown>;
  health: { circuit: string; lastSuccessAt: string | null; lastErrorAt: string | null; lastError: string | null }; updatedAt: string;
}
export interface Endpoint { id: string; url: string; events: string[]; description: string | null; enabled: boolean; disabledReason: string | null; createdAt: string }
export interface Delivery { id: string; endpointId: string | null; url: string; eventId: string; status: string; attempts: number; nextAttemptAt: string | null; lastStatusCode: number | null; lastError: string | null; createdAt: string }
export interface Lockout { to: string; locked: boolean; lockedUntil: string | null; lockReason: string | null; failures: number; sends: number; lastSendAt: string | null }
export interface Block { dimension: string; value: string; rule: string; reason: string; blockedAt: string | null; blockedUntil: string | null }
export interface Decision { id: string; at: string; action: string; outcome: string; mode: string; rules: string[]; reasons: string[]; code: string; to: string | null; prefix: string | null; country: string | null; ip: string | null }
export interface GuardView { mode: string; level: string; activeBlocks: number; allow: { numbers?: string[]; prefixes?: string[]; ips?: string[] }; spend: { currency: string; daily: { spent: number; cap: number | null }; monthly: { spent: number; cap: number | null } } }
export interface AuditEntry { id: string; actor: string; action: string; targetType: string; targetId: string; appId: string | null; at: string }
export interface Quantiles { p50: number | null; p95: number | null }
export interface MessageFigures { sent: number; failed: number; delivered: number; undelivered: number; fallbacks: number; deliveryRate: number | null; acceptanceRate: number | null; timeToDeliver: Quantiles }
export interface Summary {
  from: string; to: string;
  verifications: { started: number; verified: number; failed: number; expired: number; canceled: number; pending: number; wrongCodes: number; conversionRate: number | null; timeToVerify: Quantiles };
  messages: MessageFigures;
  cost: { total: number; perVerified: number | null };
  guard: { refused: number; costSaved: number };
  channels: (MessageFigures & { channel: string })[];
  providers: (MessageFigures & { provider: string })[];
}
export interface Point { t: string; started: number; verified: number; conversionRate: number | null; sent: number; delivered: number; cost: number; refused: number; timeToVerifyP50: number | null }
export interface Series { interval: string; groupBy: string; series: { group: string; points: Point[] }[] }
export type List<T> = { data: T[]; nextCursor?: string | null };
