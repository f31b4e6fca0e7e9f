/**
 * WhatsApp through Meta's Cloud API: an *authentication* template message
 * (POST {baseUrl}/{phoneNumberId}/messages, Bearer access token) with the code as the body parameter and as the
 * parameter of the copy-code button (a URL button, index 0), in the template of the message's language.
 * `biz_opaque_callback_data` carries otpd's message id, so status webhooks can be matched even when the send's
 * answer was lost. Its status webhooks: `callbacks.ts`.
 */
import type { Channel } from '../../domain/policy.js';
import { callProvider, failForStatus } from '../shared/http.js';
import { ProviderError, type DeliveryProvider, type OutgoingMessage, type SendResult } from '../types.js';

export interface WhatsAppTemplate {
  /** Approved authentication template name. */
  name: string;
  /** Its language code as registered with Meta, e.g. en_US, fr, pt_BR. */
  language: string;
}

export interface WhatsAppConfig {
  name: string;
  type: 'whatsapp';
  phoneNumberId: string;
  accessToken: string;
  /** App secret: verifies X-Hub-Signature-256 on status webhooks. */
  appSecret: string;
  /** Token Meta echoes in the webhook verification handshake (hub.verify_token). */
  verifyToken: string;
  /** Template per otpd locale (or its language part); `*` is the fallback. */
  templates: Record<string, WhatsAppTemplate>;
  /** Add the copy-code button parameter (default true; false for templates without a button). */
  copyCodeButton?: boolean;
  /** Default https://graph.facebook.com/v21.0 */
  baseUrl?: string;
  timeoutMs?: number;
}

// Graph API error codes that mean "try again later": throttling and temporary platform trouble.
// https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
const TRANSIENT_CODES = new Set([1, 2, 4, 17, 341, 80007, 130429, 131000, 131016, 131048, 131056, 133004]);

export class WhatsAppProvider implements DeliveryProvider {
  readonly type = 'whatsapp';
  readonly channels: readonly Channel[] = ['whatsapp'];
  readonly name: string;
  private readonly url: string;
  readonly secrets: readonly string[];

  constructor(readonly config: WhatsAppConfig) {
    this.name = config.name;
    this.secrets = [config.accessToken, config.appSecret];
    if (!config.templates['*'] && Object.keys(config.templates).length === 0) throw new Error(`provider ${config.name}: configure at least one template`);
    this.url = `${(config.baseUrl ?? 'https://graph.facebook.com/v21.0').replace(/\/+$/, '')}/${encodeURIComponent(config.phoneNumberId)}/messages`;
  }

  /** The template for a locale: exact, then its language part, then `*`, then the first configured. */
  templateFor(locale: string): WhatsAppTemplate {
    const t = this.config.templates;
    return t[locale] ?? t[locale.split('-')[0]!] ?? t['*'] ?? Object.values(t)[0]!;
  }

  async send(m: OutgoingMessage): Promise<SendResult> {
    const tpl = this.templateFor(m.locale);
    const components: unknown[] = [{ type: 'body', parameters: [{ type: 'text', text: m.code }] }];
    if (this.config.copyCodeButton !== false) components.push({ type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: m.code }] });
    const body = {
      messaging_product: 'whatsapp', recipient_type: 'individual', to: m.to.replace(/^\+/, ''), type: 'template',
      template: { name: tpl.name, language: { code: tpl.language }, components },
      biz_opaque_callback_data: m.id,
    };
    const r = await callProvider(this.url, {
      headers: { authorization: `Bearer ${this.config.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      timeoutMs: this.config.timeoutMs,
    });
    const j = r.json as { messages?: { id?: string }[]; error?: { code?: number; message?: string } } | null;
    if (r.status !== 200) {
      const code = j?.error?.code;
      const msg = `whatsapp ${r.status}: ${j?.error?.message ?? r.text}`;
      if (code !== undefined && TRANSIENT_CODES.has(code)) throw new ProviderError('transient', msg, { code: String(code), httpStatus: r.status });
      failForStatus(r, code !== undefined ? String(code) : undefined, msg);
    }
    const id = j?.messages?.[0]?.id;
    if (!id) throw new ProviderError('unknown', 'whatsapp answered 200 without a message id', { httpStatus: r.status });
    return { providerMessageId: id };
  }
}
