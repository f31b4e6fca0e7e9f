/** A `whatsapp` entry of OTPD_PROVIDERS (Meta's Cloud API), and the provider it makes. */
import { Type } from '@sinclair/typebox';
import { defineProvider } from '../plugin.js';
import { Name, Timeout, Url } from '../shared/schema.js';
import { whatsappCallbacks } from './callbacks.js';
import { WhatsAppProvider, type WhatsAppConfig } from './index.js';

export const WhatsAppSchema = Type.Object({
  name: Name, type: Type.Literal('whatsapp'),
  phoneNumberId: Type.String({ pattern: '^[0-9]{5,20}$' }),
  accessToken: Type.String({ minLength: 10 }),
  appSecret: Type.String({ minLength: 8 }),
  verifyToken: Type.String({ minLength: 8 }),
  templates: Type.Record(Type.String({ pattern: '^(\\*|[a-z]{2,3}(-[A-Za-z0-9]{2,8})*)$' }), Type.Object({
    name: Type.String({ pattern: '^[a-z0-9_]{1,512}$' }), language: Type.String({ pattern: '^[a-z]{2,3}(_[A-Z]{2})?$' }),
  }, { additionalProperties: false }), { minProperties: 1 }),
  copyCodeButton: Type.Optional(Type.Boolean()),
  baseUrl: Type.Optional(Url), timeoutMs: Timeout,
}, { additionalProperties: false });

export const whatsapp = defineProvider({ type: 'whatsapp', secrets: ['/accessToken', '/appSecret', '/verifyToken'], schema: WhatsAppSchema, create: (c) => new WhatsAppProvider(c as WhatsAppConfig), callbacks: whatsappCallbacks });
