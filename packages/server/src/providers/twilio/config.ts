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
  voices: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$' }), Type.String({ pattern: '^(Polly|Google)\\.[A-Za-z0-9-]{1,60}$|^(man|woman|alice)$' }), { description: 'Voice calls: the <Say> voice per language, e.g. {"fr": "Polly.Lea"}' })),
  baseUrl: Type.Optional(Url), timeoutMs: Timeout,
}, { additionalProperties: false });

export const twilio = defineProvider({ type: 'twilio', schema: TwilioSchema, secrets: ['/authToken', '/apiKeySecret'], create: (c) => new TwilioProvider(c), callbacks: twilioCallbacks });
