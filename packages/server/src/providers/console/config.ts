/** The `console` entry of OTPD_PROVIDERS (development only), and the provider it makes. */
import { Type } from '@sinclair/typebox';
import { defineProvider } from '../plugin.js';
import { Name } from '../shared/schema.js';
import { ConsoleProvider } from './index.js';

export const ConsoleSchema = Type.Object({ name: Name, type: Type.Literal('console') }, { additionalProperties: false });

export const consoleProvider = defineProvider({
  type: 'console',
  schema: ConsoleSchema,
  create(c, dev) {
    if (!dev) throw new Error(`provider ${c.name}: the console provider exists only in development`);
    return new ConsoleProvider(dev.inbox, dev.out, dev.now, c.name);
  },
});
