/**
 * The PostgreSQL adapter's statements, by name. Each is sent as a named prepared statement (parsed and planned
 * once per connection). Parameters are positional; the comment before a statement says what they are when it is
 * not obvious.
 *
 * Plans: the generic plan a connection settles on is kept until the table's statistics change, so every statement
 * must stay an index lookup whatever the table holds (a test checks each plan against tables holding many rows and
 * few pending ones). Status guards on writes by id are written `status = (SELECT 'pending')`: a value the planner
 * cannot see through, so it can never prove the predicate of a partial index of pending (or sending) rows and
 * choose to read that whole index, filtering by id, over primary-key lookups. It prefers exactly that while few rows
 * are pending, and the cached plan would keep reading every pending row once they are many. Never `col = ANY($n)` on
 * a column that is not an index's first: a custom plan may take it as the index condition and read the whole index
 * (a check group's phones read that way took 10 ms at 12,000 phones).
 *
 * Phones are locked in one order everywhere: by (app, phone) in byte order (`COLLATE "C"`, whatever the database's
 * collation; the adapter sorts the same way in JavaScript where it gives the order itself).
 *
 * Each module's statements are in `sql/<module>.ts`, next to the module they serve; `SQL` is all of them, the set
 * the plan test checks.
 */
import { ANALYTICS_SQL } from './sql/analytics.js';
import { APPS_SQL } from './sql/apps.js';
import { APP_CONFIG_SQL } from './sql/app-config.js';
import { AUDIT_SQL } from './sql/audit.js';
import { CALLBACKS_SQL } from './sql/callbacks.js';
import { CREDENTIALS_SQL } from './sql/credentials.js';
import { EVENTS_SQL } from './sql/events.js';
import { FAST_PATHS_SQL } from './sql/fast-paths.js';
import { GUARD_SQL } from './sql/guard.js';
import { LOCKED_PATHS_SQL } from './sql/locked-paths.js';
import { MAINTENANCE_SQL } from './sql/maintenance.js';
import { OUTBOX_SQL } from './sql/outbox.js';
import { PHONES_SQL } from './sql/phones.js';
import { REVOCATIONS_SQL } from './sql/revocations.js';
import { VERIFICATIONS_SQL } from './sql/verifications.js';
import { WEBHOOKS_SQL } from './sql/webhooks.js';

export const SQL = {
  ping: 'SELECT 1',
  ...ANALYTICS_SQL,
  ...APPS_SQL,
  ...APP_CONFIG_SQL,
  ...AUDIT_SQL,
  ...CALLBACKS_SQL,
  ...CREDENTIALS_SQL,
  ...EVENTS_SQL,
  ...FAST_PATHS_SQL,
  ...GUARD_SQL,
  ...LOCKED_PATHS_SQL,
  ...MAINTENANCE_SQL,
  ...OUTBOX_SQL,
  ...PHONES_SQL,
  ...REVOCATIONS_SQL,
  ...VERIFICATIONS_SQL,
  ...WEBHOOKS_SQL,
} as const;

export type SqlName = keyof typeof SQL;
