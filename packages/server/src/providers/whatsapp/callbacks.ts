/**
 * Meta's webhooks for a WhatsApp provider (`/webhooks/whatsapp/{name}`): the verification handshake (GET), and
 * message statuses (POST) signed with X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the app secret).
 */
import { createHmac } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { constantTimeEqual } from '../../domain/code.js';
import type { Receipt } from '../../domain/delivery.js';
import { OtpdError } from '../../domain/errors.js';
import { isId } from '../../domain/ids.js';
import { refuse, type ProviderCallbackRoutes, type ReceiptFields } from '../plugin.js';
import { WhatsAppProvider } from './index.js';

const WHATSAPP_STATUS: Record<string, Receipt['status'] | undefined> = { sent: 'sent', delivered: 'delivered', read: 'delivered', failed: 'failed' };

interface MetaWebhook {
  object?: string;
  entry?: { changes?: { field?: string; value?: { statuses?: { id?: string; status?: string; biz_opaque_callback_data?: string; errors?: { code?: number }[] }[] } }[] }[];
}

/** `sha256=<hex>` of the raw body, as Meta sends in X-Hub-Signature-256. */
export function metaSignature(appSecret: string, rawBody: Buffer | string): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}

/** Constant-time check of X-Hub-Signature-256. */
export function metaSignatureValid(appSecret: string, rawBody: Buffer, header: string | undefined): boolean {
  return !!header && constantTimeEqual(metaSignature(appSecret, rawBody), header);
}

export const whatsappCallbacks: ProviderCallbackRoutes = {
  bodies: 'parsed',
  routes: [{
    method: 'GET',
    summary: 'Meta webhook verification handshake',
    description: 'Answers hub.challenge as text/plain when hub.verify_token matches the provider\'s verify token; otherwise 403.',
    querystring: Type.Object({ 'hub.mode': Type.Optional(Type.String()), 'hub.verify_token': Type.Optional(Type.String()), 'hub.challenge': Type.Optional(Type.String({ maxLength: 200 })) }),
    problems: [403],
    ok: { text: 'The challenge, echoed' },
    // Not a receipt: a refusal is answered, not recorded.
    handle({ provider }, req) {
      const q = req.query as Record<string, string | undefined>;
      if (!(provider instanceof WhatsAppProvider) || q['hub.mode'] !== 'subscribe' || q['hub.verify_token'] !== provider.config.verifyToken || !q['hub.challenge']) {
        throw new OtpdError('invalid_signature', 'verify token does not match');
      }
      return { kind: 'reply', text: q['hub.challenge'] };
    },
  }, {
    method: 'POST',
    summary: 'WhatsApp Cloud API webhook (message statuses)',
    description: 'Verified with X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the app secret).',
    problems: [400, 403, 404],
    ok: 200,
    /**
     * X-Hub-Signature-256 over the raw body must verify first. Statuses are matched by `biz_opaque_callback_data`
     * (otpd's message id) or the wamid. A signed status for a message otpd does not know (another system using the
     * same number) is recorded and not applied, but answered 200: Meta retries other answers and eventually
     * disables the subscription.
     */
    handle({ provider }, req) {
      if (!(provider instanceof WhatsAppProvider)) return refuse('unknown_callback', 'no such WhatsApp provider');
      const signature = req.headers['x-hub-signature-256'];
      if (!metaSignatureValid(provider.config.appSecret, req.raw?.bytes ?? Buffer.alloc(0), typeof signature === 'string' ? signature : undefined)) {
        return refuse('invalid_signature', 'X-Hub-Signature-256 does not verify');
      }
      const hook = (req.body ?? {}) as MetaWebhook;
      const list: ReceiptFields[] = [];
      for (const entry of hook.entry ?? []) {
        for (const change of entry.changes ?? []) {
          for (const st of change.value?.statuses ?? []) {
            const status = WHATSAPP_STATUS[st.status ?? ''];
            if (!status || !st.id) continue;
            const messageId = st.biz_opaque_callback_data && isId('msg', st.biz_opaque_callback_data) ? st.biz_opaque_callback_data : undefined;
            list.push({ messageId, providerMessageId: st.id, status, errorCode: st.errors?.[0]?.code !== undefined ? String(st.errors[0].code) : undefined });
          }
        }
      }
      return { kind: 'receipts', receipts: list, unmatched: 'record' };
    },
  }],
};
