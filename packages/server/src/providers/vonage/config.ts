/** A `vonage` entry of OTPD_PROVIDERS, and the provider it makes. */
import { Type } from '@sinclair/typebox';
import { defineProvider } from '../plugin.js';
import { Name, Timeout, Url } from '../shared/schema.js';
import { vonageCallbacks } from './callbacks.js';
import { VonageProvider, type VonageConfig } from './index.js';

export const VonageSchema = Type.Object({
  name: Name, type: Type.Literal('vonage'),
  apiKey: Type.String({ minLength: 8, maxLength: 8 }),
  apiSecret: Type.String({ minLength: 6, maxLength: 32 }),
  from: Type.String({ minLength: 1, maxLength: 15 }),
  signatureSecret: Type.Optional(Type.String({ minLength: 1 })),
  signatureMethod: Type.Optional(Type.Union(['md5hash', 'md5', 'sha1', 'sha256', 'sha512'].map((m) => Type.Literal(m)))),
  baseUrl: Type.Optional(Url), timeoutMs: Timeout,
}, { additionalProperties: false });

export const vonage = defineProvider({ type: 'vonage', secrets: ['/apiSecret', '/signatureSecret'], schema: VonageSchema, create: (c) => new VonageProvider(c as VonageConfig), callbacks: vonageCallbacks });
