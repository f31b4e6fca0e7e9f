/**
 * The widget and the hosted page (issue 18). `GET /widget.js` serves `<otpd-verify>` (the `@otpd/widget` build) to any
 * page (it holds no secret: it works only with a client session). `GET /verify?session=…&return_to=…` is the hosted
 * page for sites that cannot embed it: the widget on otpd's own origin, then back to `return_to` (one of the app's
 * widget origins) with `otpd_verification` and `otpd_status` in the query. The backend confirms the result with
 * GET /v1/verifications/{id}: the query string is the user's to change.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { OtpdError } from '../domain/errors.js';
import type { AppsService } from '../services/apps.js';
import type { ClientSessions } from '../services/client-sessions.js';
import { problems } from './schemas.js';

/** The widget's build: OTPD_WIDGET_FILE, else the workspace package next to this one (null: not built). */
export function widgetFile(fromEnv: string | undefined): string | null {
  const file = fromEnv ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../widget/dist/otpd-verify.js');
  return existsSync(file) ? file : null;
}

/** The hosted page's own script: where to go once the widget says verified or failed. */
const PAGE_JS = `const w=document.querySelector('otpd-verify'),back=document.body.dataset.returnTo;
function go(id,status){if(!back)return;const u=new URL(back);if(id)u.searchParams.set('otpd_verification',id);u.searchParams.set('otpd_status',status);location.assign(u.href)}
w.addEventListener('verified',e=>go(e.detail.verificationId,'verified'));
w.addEventListener('failed',e=>{const a=document.getElementById('back');if(back){const u=new URL(back);u.searchParams.set('otpd_status','failed');if(e.detail.verificationId)u.searchParams.set('otpd_verification',e.detail.verificationId);a.href=u.href;a.hidden=false}});`;

const escapeAttr = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function widgetRoutes(app: FastifyInstance, d: { file: string | null; sessions: ClientSessions; apps: AppsService }): Promise<void> {
  const js = d.file ? readFileSync(d.file, 'utf8') : null;
  app.get('/widget.js', { schema: { hide: true } }, async (_req, reply) => {
    if (js === null) throw new OtpdError('not_found', 'The widget is not built here: npm ci (or npm run build) at the repository root builds packages/widget');
    return reply.type('text/javascript; charset=utf-8').header('access-control-allow-origin', '*').header('cache-control', 'public, max-age=300')
      .header('x-content-type-options', 'nosniff').send(js);
  });
  // The widget's texts in the other built-in languages (English is in the script), fetched when a page needs one.
  app.get('/widget/i18n/:lang', { schema: { hide: true } }, async (req, reply) => {
    const m = /^([a-z]{2})\.json$/.exec((req.params as { lang: string }).lang);
    const file = d.file && m ? join(dirname(d.file), 'i18n', `${m[1]}.json`) : null;
    if (!file || !existsSync(file)) throw new OtpdError('not_found', 'No widget texts for this language');
    return reply.type('application/json; charset=utf-8').header('access-control-allow-origin', '*').header('cache-control', 'public, max-age=3600')
      .send(readFileSync(file, 'utf8'));
  });
  app.get('/verify/page.js', { schema: { hide: true } }, async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=300').send(PAGE_JS));

  app.get('/verify', {
    schema: {
      tags: ['widget'], security: [], summary: 'The hosted verification page: the widget on otpd, then back to return_to',
      description: 'Redirect the user here with a client session. Once verified (or failed) the page returns to `return_to` with `otpd_verification` and `otpd_status` (verified or failed) in its query; confirm on your backend with GET /v1/verifications/{id}.',
      querystring: Type.Object({
        session: Type.String({ maxLength: 2000, description: 'A client session token (POST /v1/client-sessions)' }),
        return_to: Type.Optional(Type.String({ maxLength: 2000, description: "Where to go afterwards: a URL on one of the app's settings.widget.origins" })),
        locale: Type.Optional(Type.String({ pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$' })),
      }, { additionalProperties: false }),
      response: { 200: { description: 'The page (text/html)', content: { 'text/html': { schema: Type.String() } } }, ...problems(401, 422) },
    },
  }, async (req, reply) => {
    const q = req.query as { session: string; return_to?: string; locale?: string };
    const session = d.sessions.open(q.session);
    const a = await d.apps.get(session.appId);
    let back = '';
    if (q.return_to !== undefined) {
      let u: URL | null = null;
      try { u = new URL(q.return_to); } catch { /* below */ }
      if (!u || !(a.settings.widget?.origins ?? []).includes(u.origin)) {
        throw new OtpdError('invalid_request', "return_to must be a URL on one of the app's settings.widget.origins", { extensions: { errors: [{ pointer: '/return_to', detail: 'not an allowed origin' }] } });
      }
      back = u.href;
    }
    const brand = escapeAttr(a.settings.brandName ?? a.name);
    const html = `<!doctype html><html lang="${escapeAttr(q.locale ?? session.locale ?? 'en')}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${brand}</title>
<style>body{margin:0;min-height:100vh;display:grid;place-items:center;background:#f3f4f6;font:15px/1.45 system-ui,sans-serif}main{width:min(400px,94vw)}h1{font-size:1em;color:#374151;margin:0 0 8px 4px}</style></head>
<body data-return-to="${escapeAttr(back)}"><main><h1>${brand}</h1><otpd-verify session="${escapeAttr(q.session)}"${q.locale ? ` locale="${escapeAttr(q.locale)}"` : ''}></otpd-verify>
<p><a id="back" hidden>Back</a></p></main><script type="module" src="/widget.js"></script><script type="module" src="/verify/page.js"></script></body></html>`;
    return reply.type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
      .header('referrer-policy', 'no-referrer').header('x-content-type-options', 'nosniff').send(html);
  });
}
