import { defineConfig } from 'vitest/config';

/**
 * Two projects. `sqlite`: every test, on the embedded store. `postgres`: the tests of behaviour that depends on the
 * store (policy, races, idempotency, isolation, lockouts, outbox, webhooks, admin, connections) again on PostgreSQL, plus the
 * PostgreSQL-only tests (many nodes, restarts) — against a throwaway cluster the global setup starts from the
 * installed binaries (it fails, loudly, when there are none).
 */
const STORE_TESTS = ['api', 'policy', 'races', 'secrecy', 'provider-echo', 'state-machine', 'delivery', 'admin', 'oauth', 'templates', 'senders', 'isolation', 'webhooks', 'store', 'retention', 'provider-http-receipts', 'fuzz-openapi', 'guard', 'connections', 'metrics', 'analytics'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './vitest.summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'sqlite',
          include: ['packages/*/src/**/*.test.ts', 'packages/*/test/*.test.ts'],
          env: { OTPD_TEST_STORE: 'sqlite' },
        },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: [...STORE_TESTS.map((t) => `packages/server/test/${t}.test.ts`), 'packages/server/test/pg/*.test.ts'],
          env: { OTPD_TEST_STORE: 'postgres' },
          globalSetup: ['packages/server/test/pg/global-setup.ts'],
        },
      },
    ],
  },
});
