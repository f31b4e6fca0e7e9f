// Writes otpd's OpenAPI document (from the server's build) to openapi.json, which openapi-typescript turns into
// src/schema.ts: the SDK's types are the server's own schemas, regenerated at every build.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const server = join(here, '../../server/dist');
const { createOtpd } = await import(join(server, 'server.js'));
const { loadConfig } = await import(join(server, 'config.js'));
const dir = mkdtempSync(join(tmpdir(), 'otpd-sdk-openapi-'));
try {
  const config = loadConfig({ databaseUrl: `sqlite:${join(dir, 'otpd.sqlite')}` }, { OTPD_SECRET: 'openapi-secret-0123456789abcdef0123', OTPD_ADMIN_TOKEN: 'openapi-admin-token-0123456789abcdef', OTPD_DATA_DIR: dir, OTPD_LOG_LEVEL: 'error' });
  const otpd = await createOtpd(config, {});
  await otpd.app.ready();
  writeFileSync(join(here, '../openapi.json'), `${JSON.stringify(otpd.app.swagger(), null, 1)}\n`);
  await otpd.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
