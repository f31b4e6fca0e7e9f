/**
 * Client sessions (issue 18): what a browser (the widget, the hosted page) holds instead of an API key. The
 * customer's backend creates one for one verification flow (`POST /v1/client-sessions`): the recipient, the channels
 * the user may choose, the language, for a few minutes. The browser may then start, resend and check verifications
 * of that recipient only, in that app only; the backend learns the result from the API or a webhook, never from the
 * browser. Stateless: a sealed token (AES-256-GCM, key derived from OTPD_SECRET), so any node opens it.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { CodeKeys } from '../domain/code.js';
import type { Clock } from '../domain/clock.js';
import { OtpdError } from '../domain/errors.js';
import type { Channel } from '../domain/policy.js';

export const CLIENT_SESSION_PREFIX = 'otpd_cs_';
const DEFAULT_TTL = 600;

export interface ClientSession {
  appId: string;
  /** The recipient, normalised (E.164 or an email address). */
  to: string;
  /** The channels the user may choose (the first is the default); null: the app's default. */
  channels: Channel[] | null;
  locale: string | null;
  /** Epoch ms. */
  expiresAt: number;
}

export class ClientSessions {
  private readonly key: Buffer;

  constructor(keys: CodeKeys, private readonly clock: Clock) {
    this.key = Buffer.from(hkdfSync('sha256', keys.hmacKey, Buffer.alloc(0), 'otpd/client-session/v2', 32));
  }

  /**
   * A token for one flow, valid `ttl` seconds (60-3600): the session sealed with AES-256-GCM, so it is opaque (the
   * recipient is not readable from a URL or a browser's history) and cannot be altered.
   */
  issue(s: Omit<ClientSession, 'expiresAt'>, ttl = DEFAULT_TTL): { token: string; expiresAt: number } {
    const expiresAt = this.clock.now() + ttl * 1000;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([c.update(JSON.stringify({ a: s.appId, t: s.to, c: s.channels, l: s.locale, e: expiresAt }), 'utf8'), c.final()]);
    return { token: `${CLIENT_SESSION_PREFIX}${Buffer.concat([iv, body, c.getAuthTag()]).toString('base64url')}`, expiresAt };
  }

  /** The session a token holds; `unauthorized` when it is not ours, altered or expired. */
  open(token: string | null): ClientSession {
    const bad = () => new OtpdError('unauthorized', 'Send a client session token (otpd_cs_…, from POST /v1/client-sessions) as Authorization: Bearer');
    const m = token ? /^otpd_cs_([A-Za-z0-9_-]{40,2000})$/.exec(token) : null;
    if (!m) throw bad();
    const raw = Buffer.from(m[1]!, 'base64url');
    let p: { a: string; t: string; c: Channel[] | null; l: string | null; e: number };
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      d.setAuthTag(raw.subarray(raw.length - 16));
      p = JSON.parse(Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString('utf8'));
    } catch {
      throw bad();
    }
    if (p.e <= this.clock.now()) throw new OtpdError('unauthorized', 'This client session has expired: ask the page for a new one');
    return { appId: p.a, to: p.t, channels: p.c, locale: p.l, expiresAt: p.e };
  }
}

/** A recipient as the browser may show it: the number's last digits, the address's first letter and domain. */
export function maskRecipient(to: string): string {
  if (to.includes('@')) {
    const [user, domain] = to.split('@');
    return `${user!.slice(0, 1)}•••@${domain}`;
  }
  return `${to.slice(0, Math.min(4, to.length - 4))}${'•'.repeat(Math.max(0, to.length - 6))}${to.slice(-2)}`;
}
