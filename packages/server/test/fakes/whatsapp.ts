/**
 * A strict fake of Meta's WhatsApp Cloud API "send message" endpoint for authentication templates, built from
 * Meta's documented request and response shapes (no public OpenAPI spec exists). Anything but the exact shape —
 * an unknown field, a missing component, a wrong button, a bad token — gets Meta's error envelope, as the real
 * API would, so a malformed request fails the test.
 */
import { createServer, type Server } from 'node:http';
import { listenLocal, closeLocal } from './local-server.js';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const TextParam = Type.Object({ type: Type.Literal('text'), text: Type.String({ minLength: 1, maxLength: 15 }) }, { additionalProperties: false });
export const AuthTemplateMessage = Type.Object({
  messaging_product: Type.Literal('whatsapp'),
  recipient_type: Type.Optional(Type.Literal('individual')),
  to: Type.String({ pattern: '^[0-9]{7,15}$' }),
  type: Type.Literal('template'),
  template: Type.Object({
    name: Type.String({ pattern: '^[a-z0-9_]+$' }),
    language: Type.Object({ code: Type.String({ pattern: '^[a-z]{2,3}(_[A-Z]{2})?$' }) }, { additionalProperties: false }),
    components: Type.Tuple([
      Type.Object({ type: Type.Literal('body'), parameters: Type.Tuple([TextParam]) }, { additionalProperties: false }),
      Type.Object({ type: Type.Literal('button'), sub_type: Type.Literal('url'), index: Type.Literal('0'), parameters: Type.Tuple([TextParam]) }, { additionalProperties: false }),
    ]),
  }, { additionalProperties: false }),
  biz_opaque_callback_data: Type.Optional(Type.String({ maxLength: 512 })),
}, { additionalProperties: false });

export interface WaSent { to: string; template: string; language: string; code: string; bodyCode: string; opaque?: string | undefined; wamid: string }

export class FakeWhatsApp {
  readonly sent: WaSent[] = [];
  readonly refused: { status: number; error: unknown }[] = [];
  private failures: { status: number; code: number; message: string }[] = [];
  private server: Server | null = null;
  url = '';
  private n = 0;

  constructor(readonly phoneNumberId: string, readonly token: string, readonly templates: ReadonlySet<string>) {}

  /** The next sends fail with these Graph API errors. */
  fail(...f: { status: number; code: number; message: string }[]): this {
    this.failures.push(...f);
    return this;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const error = (status: number, code: number, message: string) => {
          const e = { error: { message, type: 'OAuthException', code, fbtrace_id: 'Atrace' } };
          this.refused.push({ status, error: e });
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(e));
        };
        if (req.method !== 'POST' || req.url !== `/v21.0/${this.phoneNumberId}/messages`) return error(400, 100, `Unsupported ${req.method} ${req.url}`);
        if (req.headers.authorization !== `Bearer ${this.token}`) return error(401, 190, 'Invalid OAuth access token');
        if (!String(req.headers['content-type']).startsWith('application/json')) return error(400, 100, 'Invalid content type');
        let body: unknown;
        try { body = JSON.parse(Buffer.concat(chunks).toString()); } catch { return error(400, 100, 'Invalid JSON'); }
        if (!Value.Check(AuthTemplateMessage, body)) {
          const first = [...Value.Errors(AuthTemplateMessage, body)][0];
          return error(400, 100, `(#100) Invalid parameter ${first?.path}: ${first?.message}`);
        }
        const b = body as { to: string; template: { name: string; language: { code: string }; components: [{ parameters: [{ text: string }] }, { parameters: [{ text: string }] }] }; biz_opaque_callback_data?: string };
        if (!this.templates.has(`${b.template.name}:${b.template.language.code}`)) return error(404, 132001, 'Template name does not exist in the translation');
        const f = this.failures.shift();
        if (f) return error(f.status, f.code, f.message);
        const wamid = `wamid.${Buffer.from(`otpd-${++this.n}`).toString('base64')}`;
        this.sent.push({
          to: b.to, template: b.template.name, language: b.template.language.code, bodyCode: b.template.components[0].parameters[0].text,
          code: b.template.components[1].parameters[0].text, opaque: b.biz_opaque_callback_data, wamid,
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ messaging_product: 'whatsapp', contacts: [{ input: b.to, wa_id: b.to }], messages: [{ id: wamid, message_status: 'accepted' }] }));
      });
    });
    this.url = `${await listenLocal(this.server)}/v21.0`;
    return this;
  }

  async close(): Promise<void> {
    await closeLocal(this.server);
  }
}

/** A status webhook payload as Meta sends it. */
export function statusWebhook(statuses: { id: string; status: string; opaque?: string; errorCode?: number }[]): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{
      id: '102290129340398',
      changes: [{
        field: 'messages',
        value: {
          messaging_product: 'whatsapp',
          metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
          statuses: statuses.map((s) => ({
            id: s.id, status: s.status, timestamp: '1750263773', recipient_id: '33612345678',
            ...(s.opaque ? { biz_opaque_callback_data: s.opaque } : {}),
            ...(s.errorCode ? { errors: [{ code: s.errorCode, title: 'Message undeliverable' }] } : {}),
          })),
        },
      }],
    }],
  });
}
