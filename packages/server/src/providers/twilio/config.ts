/** A `twilio` entry of OTPD_PROVIDERS, and the provider it makes. */
import { Type } from '@sinclair/typebox';
import { defineProvider } from '../plugin.js';
import { Name, Timeout, Url } from '../shared/schema.js';
import { twilioCallbacks } from './callbacks.js';
import { TwilioProvider } from './index.js';

export const TwilioSchema = Type.Object({
  name: Name, type: Type.Literal('twilio'),
  accountSid: Type.String({ pattern: '^AC[0-9a-fA-F]{32}$' }),
  authToken: Type.Optional(Type.String({ minLength: 1 })),
  apiKeySid: Type.Optional(Type.String({ pattern: '^SK[0-9a-fA-F]{32}$' })),
  apiKeySecret: Type.Optional(Type.String({ minLength: 1 })),
  from: Type.Optional(Type.String({ minLength: 1 })),
  messagingServiceSid: Type.Optional(Type.String({ pattern: '^MG[0-9a-fA-F]{32}$' })),
  baseUrl: Type.Optional(Url), timeoutMs: Timeout,
}, { additionalProperties: false });

export const twilio = defineProvider({ type: 'twilio', schema: TwilioSchema, secrets: ['/authToken', '/apiKeySecret'], create: (c) => new TwilioProvider(c), callbacks: twilioCallbacks });
