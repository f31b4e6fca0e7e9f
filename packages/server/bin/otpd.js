#!/usr/bin/env node
// Committed entry point, so npm can link the `otpd` bin at install time (before `prepare` builds dist/).
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('otpd: not built yet; run `npm run build` in the repository root');
  process.exit(1);
}
await import(main.href);
