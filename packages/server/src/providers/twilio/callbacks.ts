/**
 * Twilio's message status callbacks (`POST /webhooks/twilio/{name}?msg=…`): form fields signed with
 * X-Twilio-Signature over the exact URL Twilio called (otpd's public URL + path + query) and the sorted fields.
 */
import { Type } from '@sinclair/typebox';
import twilioWebhooks from 'twilio/lib/webhooks/webhooks.js';
import type { Receipt } from '../../domain/delivery.js';
import { isId } from '../../domain/ids.js';
import { accept, refuse, type ProviderCallbackRoutes } from '../plugin.js';
import { TwilioProvider } from './index.js';

// https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
const TWILIO_STATUS: Record<string, Receipt['status'] | undefined> = {
  sent: 'sent', delivered: 'delivered', undelivered: 'undelivered', failed: 'failed', read: 'delivered',
};
// https://www.twilio.com/docs/voice/api/call-resource#call-status-values: a call answered and ended delivered its
// code; one not answered (busy, no answer, failed, canceled) did not, and the workflow moves on.
const CALL_STATUS: Record<string, Receipt['status'] | undefined> = {
  completed: 'delivered', busy: 'undelivered', 'no-answer': 'undelivered', failed: 'failed', canceled: 'undelivered',
};

export const twilioCallbacks: ProviderCallbackRoutes = {
  bodies: 'parsed',
  routes: [{
    method: 'POST',
    summary: 'Twilio message or call status',
    description: 'Verified with X-Twilio-Signature against OTPD_PUBLIC_URL. Unknown or forged callbacks get 403/404 and are counted.',
    body: Type.Record(Type.String(), Type.String()),
    problems: [403, 404, 422],
    ok: 204,
    handle({ provider, publicUrl }, req) {
      if (!(provider instanceof TwilioProvider) || !publicUrl) return refuse('unknown_callback', 'no such Twilio provider, or no public URL');
      const params = req.body as Record<string, string>;
      const signature = req.headers['x-twilio-signature'];
      if (typeof signature !== 'string' || !signature || !twilioWebhooks.validateRequest(provider.signingSecret, signature, publicUrl + req.url, params)) {
        return refuse('invalid_signature', 'X-Twilio-Signature does not verify');
      }
      const messageId = new URL(req.url, 'http://x').searchParams.get('msg') ?? '';
      const call = params.CallStatus !== undefined;
      const status = call ? CALL_STATUS[params.CallStatus!] : TWILIO_STATUS[params.MessageStatus ?? params.SmsStatus ?? ''];
      if (!isId('msg', messageId)) return refuse('unknown_callback', 'no msg parameter');
      if (!status) return accept(); // queued, sending, accepted, scheduled...: nothing to record
      return accept({ messageId, providerMessageId: call ? params.CallSid : params.MessageSid ?? params.SmsSid, status, errorCode: params.ErrorCode || (call && status !== 'delivered' ? params.CallStatus : undefined) || undefined });
    },
  }],
};
