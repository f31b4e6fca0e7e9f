/**
 * The web dashboard (issue 17): its static files at `/dashboard/` (the `@otpd/dashboard` package's build) and its
 * sign-in. The admin token is exchanged once for a session cookie (HttpOnly, SameSite=Strict, Secure over https,
 * 8 hours), which the admin API then accepts in place of the bearer token, with a CSRF token in `X-CSRF-Token` on
 * every request (also reads: a page of another origin can neither read the token nor set the header without CORS,
 * which otpd never allows). Sessions are stateless: an HMAC under a key derived from OTPD_SECRET and the admin
 * token, so changing either signs every session out; signing out revokes the session (store.revocations, read by
 * every node) and clears the cookie.
 */
import { createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { constantTimeEqual } from '../domain/code.js';
import type { Clock } from '../domain/clock.js';
import { OtpdError } from '../domain/errors.js';
import type { RevocationsPort } from '../store/ports/index.js';
import { problems } from './schemas.js';

export const SESSION_COOKIE = 'otpd_session';
export const CSRF_HEADER = 'x-csrf-token';
const SESSION_TTL_MS = 8 * 3_600_000;

/** Where the dashboard's build is: OTPD_DASHBOARD_DIR, else the workspace package next to this one. */
export function dashboardDir(fromEnv: string | undefined): string | null {
  const dir = fromEnv ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../dashboard/dist');
  return existsSync(join(dir, 'index.html')) ? dir : null;
}

export class DashboardSessions {
  private readonly key: Buffer;

  constructor(secret: Buffer, adminToken: string, private readonly clock: Clock, private readonly revocations: RevocationsPort) {
    // Bound to the admin token: a new token signs every session out.
    const salt = createHash('sha256').update(adminToken).digest();
    this.key = Buffer.from(hkdfSync('sha256', secret, salt, 'otpd/dashboard-session/v1', 32));
  }

  private sign(s: string): string {
    return createHmac('sha256', this.key).update(s).digest('base64url');
  }

  /** A new session: the cookie's value, its CSRF token and its end. */
  issue(): { value: string; csrf: string; expiresAt: number } {
    const expiresAt = this.clock.now() + SESSION_TTL_MS;
    const body = `s1.${expiresAt}.${randomBytes(16).toString('base64url')}`;
    const value = `${body}.${this.sign(body)}`;
    return { value, csrf: this.csrfOf(value), expiresAt };
  }

  csrfOf(value: string): string {
    return this.sign(`csrf.${value}`);
  }

  /** The session a cookie holds, if it is ours, not expired and not signed out. */
  async verify(value: string | undefined): Promise<{ id: string; csrf: string; expiresAt: number } | null> {
    if (!value || value.length > 200) return null;
    const m = /^(s1\.(\d{1,15})\.([A-Za-z0-9_-]{22}))\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (!m || !constantTimeEqual(this.sign(m[1]!), m[4]!)) return null;
    const expiresAt = Number(m[2]);
    if (expiresAt <= this.clock.now() || (await this.revocations.isRevoked(m[3]!))) return null;
    return { id: m[3]!, csrf: this.csrfOf(value), expiresAt };
  }

  /** Signs a session out everywhere (until it would have ended). */
  revoke(s: { id: string; expiresAt: number }): Promise<void> {
    return this.revocations.revoke(s.id, s.expiresAt);
  }

  /**
   * Whether a request carries a valid session and its CSRF token (the admin API's second way in). Throws
   * `unauthorized` when it has a session cookie but no valid CSRF token; false when it has no session.
   */
  async authenticates(req: FastifyRequest): Promise<{ id: string; expiresAt: number } | null> {
    const s = await this.verify(req.cookies[SESSION_COOKIE]);
    if (!s) return null;
    const sent = req.headers[CSRF_HEADER];
    if (typeof sent !== 'string' || !constantTimeEqual(sent, s.csrf)) {
      throw new OtpdError('unauthorized', `A dashboard session needs its CSRF token in ${CSRF_HEADER}`);
    }
    return s;
  }
}

const Session = Type.Object({ signedIn: Type.Boolean(), csrfToken: Type.Union([Type.String(), Type.Null()]), expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]) });

/** The sign-in routes and the static files (none when the dashboard is not built: /dashboard answers 404 saying so). */
export async function dashboardRoutes(app: FastifyInstance, o: {
  sessions: DashboardSessions; adminToken: string; dir: string | null;
  guarded: <T>(req: FastifyRequest, credential: string | null, attempt: () => Promise<T>) => Promise<T>;
}): Promise<void> {
  const secure = (req: FastifyRequest) => req.protocol === 'https';
  const setCookie = (req: FastifyRequest, reply: FastifyReply, value: string, maxAge: number) =>
    reply.setCookie(SESSION_COOKIE, value, { httpOnly: true, sameSite: 'strict', secure: secure(req), path: '/', maxAge });
  const iso = (t: number) => new Date(t).toISOString();

  app.post('/dashboard/api/session', {
    schema: {
      tags: ['dashboard'], summary: 'Sign in to the dashboard: the admin token for a session cookie (HttpOnly, SameSite=Strict)',
      description: 'Answers the CSRF token to send in X-CSRF-Token with every admin request made with the cookie. Failed attempts count against the source like any failed authentication.',
      body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
      response: { 200: Session, ...problems(401, 422, 429) },
    },
  }, async (req, reply) => {
    const { token } = req.body as { token: string };
    await o.guarded(req, token, async () => {
      if (!o.adminToken || !constantTimeEqual(token, o.adminToken)) throw new OtpdError('unauthorized', 'This is not the admin token (OTPD_ADMIN_TOKEN)');
    });
    const s = o.sessions.issue();
    setCookie(req, reply, s.value, SESSION_TTL_MS / 1000);
    return { signedIn: true, csrfToken: s.csrf, expiresAt: iso(s.expiresAt) };
  });

  app.get('/dashboard/api/session', {
    schema: { tags: ['dashboard'], summary: 'The current dashboard session, with its CSRF token (signedIn false without one)', response: { 200: Session } },
  }, async (req) => {
    const s = await o.sessions.verify(req.cookies[SESSION_COOKIE]);
    return s ? { signedIn: true, csrfToken: s.csrf, expiresAt: iso(s.expiresAt) } : { signedIn: false, csrfToken: null, expiresAt: null };
  });

  app.delete('/dashboard/api/session', {
    schema: { tags: ['dashboard'], summary: 'Sign out: the session ends on every node, and its cookie is cleared (needs the CSRF token)', response: { 204: Type.Null(), ...problems(401) } },
  }, async (req, reply) => {
    const s = await o.sessions.authenticates(req);
    if (!s) throw new OtpdError('unauthorized', 'No dashboard session');
    await o.sessions.revoke(s);
    setCookie(req, reply, '', 0);
    return reply.code(204).send();
  });

  if (!o.dir) {
    app.get('/dashboard', { schema: { hide: true } }, async () => {
      throw new OtpdError('not_found', 'The dashboard is not built here: npm ci (or npm run build) at the repository root builds packages/dashboard');
    });
    return;
  }
  const dir = o.dir;
  // The single-page app: its files, and index.html for every other path under /dashboard/ (its routes).
  await app.register(async (d) => {
    d.addHook('onSend', async (_req, reply, payload) => {
      reply.header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      return payload;
    });
    await d.register(fastifyStatic, { root: dir, prefix: '/dashboard/', index: 'index.html', wildcard: false, decorateReply: true });
    d.get('/dashboard/*', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').sendFile('index.html'));
  });
}
