/**
 * One HTTP call to a provider, with its failure classified (see `FailureKind`): the distinction that matters is
 * whether the request may have reached the provider. A connection that never opened is `transient`; a timeout
 * or reset after the request was written is `unknown`.
 */
import { request } from 'undici';
import { ProviderError } from '../types.js';

export interface ProviderResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

// Errors raised before any byte of the request can have reached the provider.
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED']);

/** Performs the request; throws `ProviderError('transient' | 'unknown')` when no HTTP answer came back. */
export async function callProvider(
  url: string,
  opts: { method?: 'POST' | 'GET'; headers?: Record<string, string>; body?: string; timeoutMs?: number },
): Promise<ProviderResponse> {
  const timeout = opts.timeoutMs ?? 10_000;
  let res;
  try {
    res = await request(url, {
      method: opts.method ?? 'POST',
      headers: opts.headers,
      body: opts.body,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? '';
    if (NOT_SENT.has(code) || NOT_SENT.has(cause)) throw new ProviderError('transient', `connection failed: ${code || cause}`, { code: code || cause });
    throw new ProviderError('unknown', `no answer after the request was sent: ${code || (e as Error).message}`, { code: code || 'network' });
  }
  let text: string;
  try {
    text = await res.body.text();
  } catch {
    // The status line arrived; the body did not. The status still tells what happened.
    text = '';
  }
  let json: unknown = null;
  if (text) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** Seconds or HTTP date of a Retry-After header, in ms. */
function retryAfterMs(h: string | string[] | undefined): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  const n = Number(v);
  if (Number.isFinite(n)) return Math.max(0, n * 1000);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

/**
 * Throws the right `ProviderError` for a non-success status: 408, 429 and 5xx are transient (retry the same
 * provider later), any other 4xx a definite rejection.
 */
export function failForStatus(r: ProviderResponse, code: string | undefined, message: string): never {
  const info = { code, httpStatus: r.status, retryAfterMs: retryAfterMs(r.headers['retry-after']) };
  if (r.status === 408 || r.status === 429 || r.status >= 500) throw new ProviderError('transient', message, info);
  throw new ProviderError('rejected', message, info);
}
