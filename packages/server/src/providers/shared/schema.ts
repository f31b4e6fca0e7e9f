/** Fields of provider entries in OTPD_PROVIDERS that every provider's schema shares. */
import { Type } from '@sinclair/typebox';

export const Name = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,39}$', description: 'lower-case name used in routing and receipt URLs' });
export const Url = Type.String({ pattern: '^https?://' });
export const Timeout = Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000 }));
