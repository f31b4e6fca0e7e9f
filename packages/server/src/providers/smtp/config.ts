/** An `smtp` entry of OTPD_PROVIDERS, and the provider it makes. */
import { Type } from '@sinclair/typebox';
import { defineProvider } from '../plugin.js';
import { Name, Timeout } from '../shared/schema.js';
import { SmtpProvider } from './index.js';

export const SmtpSchema = Type.Object({
  name: Name, type: Type.Literal('smtp'),
  url: Type.String({ pattern: '^smtps?://' }),
  from: Type.String({ minLength: 3 }),
  insecureTls: Type.Optional(Type.Boolean()), timeoutMs: Timeout,
}, { additionalProperties: false });

export const smtp = defineProvider({ type: 'smtp', secrets: ['/url'], schema: SmtpSchema, create: (c) => new SmtpProvider(c) });
