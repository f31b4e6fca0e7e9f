/**
 * PostgreSQL schema, in order. A migration is never edited once released: add a new one. Each runs in its own
 * transaction under an advisory lock, so N nodes starting together apply it once.
 *
 * The same tables as SQLite (store/migrations/sqlite.ts) with PostgreSQL types: times are epoch milliseconds in
 * BIGINT, binary in BYTEA, JSON in JSONB, flags in BOOLEAN. Ids are prefixed ULIDs, so `ORDER BY id` is creation
 * order and retention can walk the primary key.
 *
 * Rolling deploys: a migration must keep the previous release working (add columns with defaults, add tables and
 * indexes; drop only in a later release once no node reads the old shape).
 */

/**
 * `sql` runs in one transaction. `statements` run one by one outside any transaction, for index changes on tables
 * that may be big (`CREATE/DROP INDEX CONCURRENTLY`, so serving nodes' writes never wait for the build); each must
 * be safe to run again, since a node that stops halfway leaves the migration unrecorded.
 */
export type PostgresMigration = { name: string; sql: string; statements?: never } | { name: string; statements: readonly string[]; sql?: never };

export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    name: '001_schema',
    sql: `
CREATE TABLE apps (
  id                      TEXT PRIMARY KEY,
  name                    TEXT NOT NULL,
  enabled                 BOOLEAN NOT NULL DEFAULT TRUE,
  settings                JSONB NOT NULL DEFAULT '{}',
  callback_secret_sealed  BYTEA,
  created_at              BIGINT NOT NULL,
  updated_at              BIGINT NOT NULL
);

CREATE TABLE api_keys (
  id            TEXT PRIMARY KEY,
  app_id        TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  prefix        TEXT NOT NULL,
  hash          BYTEA NOT NULL UNIQUE,
  created_at    BIGINT NOT NULL,
  expires_at    BIGINT,
  revoked_at    BIGINT,
  last_used_at  BIGINT
);
CREATE INDEX api_keys_app ON api_keys(app_id, id);

CREATE TABLE verifications (
  id                   TEXT PRIMARY KEY,
  app_id               TEXT NOT NULL,
  to_addr              TEXT NOT NULL,
  country_iso          TEXT NOT NULL,
  channel              TEXT NOT NULL,
  locale               TEXT NOT NULL,
  status               TEXT NOT NULL CHECK (status IN ('pending','verified','failed','expired','canceled')),
  code_type            TEXT NOT NULL,
  code_length          INTEGER NOT NULL,
  code_hash            BYTEA NOT NULL,
  code_sealed          BYTEA,
  attempts             INTEGER NOT NULL,
  max_attempts         INTEGER NOT NULL,
  sends                INTEGER NOT NULL,
  max_sends            INTEGER NOT NULL,
  resend_available_at  BIGINT NOT NULL,
  expires_at           BIGINT NOT NULL,
  created_at           BIGINT NOT NULL,
  updated_at           BIGINT NOT NULL,
  verified_at          BIGINT,
  parts                INTEGER NOT NULL,
  cost                 DOUBLE PRECISION NOT NULL,
  metadata             JSONB,
  channels             JSONB NOT NULL DEFAULT '[]',
  step                 INTEGER NOT NULL DEFAULT 0,
  step_timeout         INTEGER NOT NULL DEFAULT 30,
  callback_url         TEXT
);
CREATE INDEX verifications_app_id ON verifications(app_id, id);
CREATE INDEX verifications_app_to ON verifications(app_id, to_addr, id);
-- At most one pending verification per (app, recipient): the invariant the start transaction keeps, enforced.
CREATE UNIQUE INDEX verifications_one_pending ON verifications(app_id, to_addr) WHERE status = 'pending';
CREATE INDEX verifications_pending_expiry ON verifications(expires_at) WHERE status = 'pending';

-- One row per (app, recipient): the counters and lock every start, resend and check of that phone takes
-- FOR UPDATE first, so concurrent requests for one phone serialise on it (and only on it).
CREATE TABLE phone_states (
  app_id             TEXT NOT NULL,
  to_addr            TEXT NOT NULL,
  sends              INTEGER NOT NULL,
  failures           INTEGER NOT NULL,
  window_started_at  BIGINT NOT NULL,
  last_send_at       BIGINT,
  locked_until       BIGINT,
  lock_reason        TEXT,
  PRIMARY KEY (app_id, to_addr)
);
CREATE INDEX phone_states_locked ON phone_states(app_id, locked_until) WHERE locked_until IS NOT NULL;

CREATE TABLE outbox (
  id                   TEXT PRIMARY KEY,
  app_id               TEXT NOT NULL,
  verification_id      TEXT NOT NULL,
  channel              TEXT NOT NULL,
  to_addr              TEXT NOT NULL,
  locale               TEXT NOT NULL,
  body                 TEXT NOT NULL, -- rendered text with the {{pin}} placeholder still in it: no code at rest
  status               TEXT NOT NULL CHECK (status IN ('waiting','queued','sending','sent','delivered','undelivered','failed','skipped')),
  attempts             INTEGER NOT NULL DEFAULT 0,
  available_at         BIGINT NOT NULL,
  created_at           BIGINT NOT NULL,
  sent_at              BIGINT,
  provider             TEXT,
  error                TEXT,
  parts                INTEGER NOT NULL,
  cost                 DOUBLE PRECISION NOT NULL,
  step                 INTEGER NOT NULL DEFAULT 0,
  route                JSONB NOT NULL DEFAULT '[]',
  route_index          INTEGER NOT NULL DEFAULT 0,
  provider_attempts    INTEGER NOT NULL DEFAULT 0,
  provider_message_id  TEXT,
  error_code           TEXT,
  price                DOUBLE PRECISION,
  price_currency       TEXT,
  delivered_at         BIGINT,
  failed_at            BIGINT,
  fallback_at          BIGINT,
  outcome_unknown      BOOLEAN NOT NULL DEFAULT FALSE,
  sender               TEXT
);
CREATE INDEX outbox_queued ON outbox(available_at) WHERE status = 'queued';
CREATE INDEX outbox_sending ON outbox(available_at) WHERE status = 'sending';
CREATE INDEX outbox_verification ON outbox(verification_id, step);
CREATE INDEX outbox_fallback_due ON outbox(fallback_at) WHERE fallback_at IS NOT NULL;
CREATE INDEX outbox_provider_id ON outbox(provider, provider_message_id) WHERE provider_message_id IS NOT NULL;

CREATE TABLE message_attempts (
  id                   TEXT PRIMARY KEY,
  message_id           TEXT NOT NULL,
  app_id               TEXT NOT NULL,
  provider             TEXT NOT NULL,
  outcome              TEXT NOT NULL CHECK (outcome IN ('started','accepted','rejected','transient','unknown')),
  http_status          INTEGER,
  error_code           TEXT,
  error                TEXT,
  provider_message_id  TEXT,
  started_at           BIGINT NOT NULL,
  finished_at          BIGINT
);
CREATE INDEX message_attempts_message ON message_attempts(message_id, id);

CREATE TABLE rejected_callbacks (
  id           TEXT PRIMARY KEY,
  source       TEXT NOT NULL,
  reason       TEXT NOT NULL,
  received_at  BIGINT NOT NULL
);

CREATE TABLE idempotency_keys (
  app_id        TEXT NOT NULL,
  key           TEXT NOT NULL,
  request_hash  BYTEA NOT NULL,
  response      TEXT NOT NULL,
  created_at    BIGINT NOT NULL,
  expires_at    BIGINT NOT NULL,
  PRIMARY KEY (app_id, key)
);
CREATE INDEX idempotency_expiry ON idempotency_keys(expires_at);

CREATE TABLE audit_log (
  id           TEXT PRIMARY KEY,
  actor        TEXT NOT NULL,
  action       TEXT NOT NULL,
  target_type  TEXT NOT NULL,
  target_id    TEXT NOT NULL,
  app_id       TEXT,
  before       JSONB,
  after        JSONB,
  at           BIGINT NOT NULL
);
CREATE INDEX audit_target ON audit_log(target_id, id);
CREATE INDEX audit_app ON audit_log(app_id, id) WHERE app_id IS NOT NULL;

CREATE TABLE oauth_clients (
  id                    TEXT PRIMARY KEY,
  app_id                TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  name                  TEXT NOT NULL,
  secret_hash           BYTEA NOT NULL,
  previous_secret_hash  BYTEA,
  previous_valid_until  BIGINT,
  created_at            BIGINT NOT NULL,
  rotated_at            BIGINT,
  revoked_at            BIGINT,
  last_used_at          BIGINT
);
CREATE INDEX oauth_clients_app ON oauth_clients(app_id, id);

CREATE TABLE templates (
  id          TEXT PRIMARY KEY,
  app_id      TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  channel     TEXT NOT NULL,
  name        TEXT NOT NULL,
  locale      TEXT,
  country     TEXT,
  prefix      TEXT,
  text        TEXT NOT NULL,
  subject     TEXT,
  html        TEXT,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL
);
CREATE INDEX templates_app ON templates(app_id, channel, id);

CREATE TABLE senders (
  id          TEXT PRIMARY KEY,
  app_id      TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  channel     TEXT NOT NULL,
  country     TEXT,
  value       TEXT NOT NULL,
  created_at  BIGINT NOT NULL
);
CREATE INDEX senders_app ON senders(app_id, channel, id);

CREATE TABLE events (
  id               TEXT PRIMARY KEY,
  app_id           TEXT NOT NULL,
  type             TEXT NOT NULL,
  verification_id  TEXT,
  message_id       TEXT,
  data             JSONB NOT NULL,
  created_at       BIGINT NOT NULL
);
CREATE INDEX events_app ON events(app_id, id);

CREATE TABLE webhook_endpoints (
  id               TEXT PRIMARY KEY,
  app_id           TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  url              TEXT NOT NULL,
  events           JSONB NOT NULL DEFAULT '[]',
  secret_sealed    BYTEA NOT NULL,
  description      TEXT,
  enabled          BOOLEAN NOT NULL DEFAULT TRUE,
  disabled_reason  TEXT,
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_app ON webhook_endpoints(app_id, id);

CREATE TABLE webhook_deliveries (
  id                TEXT PRIMARY KEY,
  app_id            TEXT NOT NULL,
  endpoint_id       TEXT,
  url               TEXT NOT NULL,
  event_id          TEXT NOT NULL,
  status            TEXT NOT NULL CHECK (status IN ('pending','sending','succeeded','failed','canceled')),
  attempts          INTEGER NOT NULL DEFAULT 0,
  next_attempt_at   BIGINT NOT NULL,
  last_status_code  INTEGER,
  last_error        TEXT,
  created_at        BIGINT NOT NULL,
  updated_at        BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_sending ON webhook_deliveries(next_attempt_at) WHERE status = 'sending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);
CREATE INDEX webhook_deliveries_app ON webhook_deliveries(app_id, id);

CREATE TABLE webhook_attempts (
  id           TEXT PRIMARY KEY,
  delivery_id  TEXT NOT NULL,
  status_code  INTEGER,
  error        TEXT,
  duration_ms  INTEGER NOT NULL,
  at           BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, id);
`,
  },
  {
    name: '002_fillfactor',
    sql: `
-- Room on each page for the next version of a row, so updates that change no indexed column (a try counted, a
-- phone's counters, an attempt finished) stay on the page as HOT updates and write no index entries.
ALTER TABLE verifications SET (fillfactor = 85);
ALTER TABLE phone_states SET (fillfactor = 70);
ALTER TABLE message_attempts SET (fillfactor = 85);
`,
  },
  {
    name: '003_expiry_index',
    // The expiry sweep's index, usable only by a statement that bounds expires_at (which proves it not null): a
    // lookup of one phone's pending verification can then only use verifications_one_pending and never walk every
    // pending row (the planner chose that while the old index's statistics said few rows were pending, and a cached
    // plan kept it). Built concurrently: the table may be big and nodes keep serving. The first DROP clears an
    // index a stopped build left invalid.
    statements: [
      'DROP INDEX CONCURRENTLY IF EXISTS verifications_expiry_due',
      `CREATE INDEX CONCURRENTLY verifications_expiry_due ON verifications(expires_at) WHERE status = 'pending' AND expires_at IS NOT NULL`,
      'DROP INDEX CONCURRENTLY IF EXISTS verifications_pending_expiry',
    ],
  },
  {
    name: '004_guard',
    sql: `
-- The guard (guard/): see the SQLite migration 005_guard.
CREATE TABLE guard_state (
  key            TEXT COLLATE "C" PRIMARY KEY,
  scope          TEXT NOT NULL,
  dimension      TEXT NOT NULL,
  value          TEXT NOT NULL,
  rules          JSONB NOT NULL,
  blocked_until  BIGINT,
  expires_at     BIGINT NOT NULL,
  -- Bumped by every write: a node writes rows it remembers only if nobody changed them since (compare-and-set).
  version        BIGINT NOT NULL DEFAULT 1
) WITH (fillfactor = 70);
CREATE INDEX guard_state_blocks ON guard_state(scope, blocked_until) WHERE blocked_until IS NOT NULL;
CREATE INDEX guard_state_block_ends ON guard_state(blocked_until) WHERE blocked_until IS NOT NULL;

CREATE TABLE guard_decisions (
  id               TEXT PRIMARY KEY,
  app_id           TEXT NOT NULL,
  at               BIGINT NOT NULL,
  action           TEXT NOT NULL,
  outcome          TEXT NOT NULL,
  mode             TEXT NOT NULL,
  rules            JSONB NOT NULL,
  reasons          JSONB NOT NULL,
  code             TEXT NOT NULL,
  to_addr          TEXT,
  prefix           TEXT,
  country          TEXT,
  ip               TEXT,
  device_id        TEXT,
  user_agent       TEXT,
  verification_id  TEXT
);
CREATE INDEX guard_decisions_app ON guard_decisions(app_id, id);

ALTER TABLE verifications ADD COLUMN signals JSONB;
`,
  },
  {
    name: '005_connections',
    sql: `
-- Provider connections (issue 16): provider accounts owned by an app, or shared by the server (app_id NULL). The
-- configuration, credentials included, is sealed (AES-256-GCM, bound to the id); name and type stay readable.
CREATE TABLE provider_connections (
  id             TEXT PRIMARY KEY,
  app_id         TEXT REFERENCES apps(id) ON DELETE CASCADE,
  name           TEXT NOT NULL,
  type           TEXT NOT NULL,
  config_sealed  BYTEA NOT NULL,
  created_at     BIGINT NOT NULL,
  updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX provider_connections_name ON provider_connections(coalesce(app_id, ''), name);
-- Deleting an app deletes its connections (the foreign key's lookup).
CREATE INDEX provider_connections_app ON provider_connections(app_id);

-- PSD2 dynamic linking: the amount and payee a verification's messages say (a resend on another channel too).
ALTER TABLE verifications ADD COLUMN payment JSONB;
`,
  },
  {
    name: '006_analytics',
    sql: `
-- Analytics rollups (issue 17; store/rollups.ts): sums per hour and per UTC day x app x country x channel x provider,
-- and per UTC day and number prefix, added to by every node (additive upserts). The counters are domain/analytics.ts
-- COUNTERS; tv0..tv12 and td0..td12 the time-to-verify and time-to-deliver histograms (VERIFY_BOUNDS, DELIVER_BOUNDS).
-- No foreign key: the figures outlive the verifications retention deletes, and the apps deleted.
CREATE TABLE rollup_hours (
  bucket       BIGINT NOT NULL,
  app_id       TEXT NOT NULL,
  country      TEXT NOT NULL,
  channel      TEXT NOT NULL,
  provider     TEXT NOT NULL,
  started      BIGINT NOT NULL DEFAULT 0,
  verified     BIGINT NOT NULL DEFAULT 0,
  failed       BIGINT NOT NULL DEFAULT 0,
  expired      BIGINT NOT NULL DEFAULT 0,
  canceled     BIGINT NOT NULL DEFAULT 0,
  wrong        BIGINT NOT NULL DEFAULT 0,
  sent         BIGINT NOT NULL DEFAULT 0,
  msg_failed   BIGINT NOT NULL DEFAULT 0,
  delivered    BIGINT NOT NULL DEFAULT 0,
  undelivered  BIGINT NOT NULL DEFAULT 0,
  fallbacks    BIGINT NOT NULL DEFAULT 0,
  cost         DOUBLE PRECISION NOT NULL DEFAULT 0,
  refused      BIGINT NOT NULL DEFAULT 0,
  saved        DOUBLE PRECISION NOT NULL DEFAULT 0,
  tv0 BIGINT NOT NULL DEFAULT 0, tv1 BIGINT NOT NULL DEFAULT 0, tv2 BIGINT NOT NULL DEFAULT 0, tv3 BIGINT NOT NULL DEFAULT 0, tv4 BIGINT NOT NULL DEFAULT 0, tv5 BIGINT NOT NULL DEFAULT 0, tv6 BIGINT NOT NULL DEFAULT 0, tv7 BIGINT NOT NULL DEFAULT 0, tv8 BIGINT NOT NULL DEFAULT 0, tv9 BIGINT NOT NULL DEFAULT 0, tv10 BIGINT NOT NULL DEFAULT 0, tv11 BIGINT NOT NULL DEFAULT 0, tv12 BIGINT NOT NULL DEFAULT 0,
  td0 BIGINT NOT NULL DEFAULT 0, td1 BIGINT NOT NULL DEFAULT 0, td2 BIGINT NOT NULL DEFAULT 0, td3 BIGINT NOT NULL DEFAULT 0, td4 BIGINT NOT NULL DEFAULT 0, td5 BIGINT NOT NULL DEFAULT 0, td6 BIGINT NOT NULL DEFAULT 0, td7 BIGINT NOT NULL DEFAULT 0, td8 BIGINT NOT NULL DEFAULT 0, td9 BIGINT NOT NULL DEFAULT 0, td10 BIGINT NOT NULL DEFAULT 0, td11 BIGINT NOT NULL DEFAULT 0, td12 BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, app_id, country, channel, provider)
);
CREATE TABLE rollup_days (
  bucket       BIGINT NOT NULL,
  app_id       TEXT NOT NULL,
  country      TEXT NOT NULL,
  channel      TEXT NOT NULL,
  provider     TEXT NOT NULL,
  started      BIGINT NOT NULL DEFAULT 0,
  verified     BIGINT NOT NULL DEFAULT 0,
  failed       BIGINT NOT NULL DEFAULT 0,
  expired      BIGINT NOT NULL DEFAULT 0,
  canceled     BIGINT NOT NULL DEFAULT 0,
  wrong        BIGINT NOT NULL DEFAULT 0,
  sent         BIGINT NOT NULL DEFAULT 0,
  msg_failed   BIGINT NOT NULL DEFAULT 0,
  delivered    BIGINT NOT NULL DEFAULT 0,
  undelivered  BIGINT NOT NULL DEFAULT 0,
  fallbacks    BIGINT NOT NULL DEFAULT 0,
  cost         DOUBLE PRECISION NOT NULL DEFAULT 0,
  refused      BIGINT NOT NULL DEFAULT 0,
  saved        DOUBLE PRECISION NOT NULL DEFAULT 0,
  tv0 BIGINT NOT NULL DEFAULT 0, tv1 BIGINT NOT NULL DEFAULT 0, tv2 BIGINT NOT NULL DEFAULT 0, tv3 BIGINT NOT NULL DEFAULT 0, tv4 BIGINT NOT NULL DEFAULT 0, tv5 BIGINT NOT NULL DEFAULT 0, tv6 BIGINT NOT NULL DEFAULT 0, tv7 BIGINT NOT NULL DEFAULT 0, tv8 BIGINT NOT NULL DEFAULT 0, tv9 BIGINT NOT NULL DEFAULT 0, tv10 BIGINT NOT NULL DEFAULT 0, tv11 BIGINT NOT NULL DEFAULT 0, tv12 BIGINT NOT NULL DEFAULT 0,
  td0 BIGINT NOT NULL DEFAULT 0, td1 BIGINT NOT NULL DEFAULT 0, td2 BIGINT NOT NULL DEFAULT 0, td3 BIGINT NOT NULL DEFAULT 0, td4 BIGINT NOT NULL DEFAULT 0, td5 BIGINT NOT NULL DEFAULT 0, td6 BIGINT NOT NULL DEFAULT 0, td7 BIGINT NOT NULL DEFAULT 0, td8 BIGINT NOT NULL DEFAULT 0, td9 BIGINT NOT NULL DEFAULT 0, td10 BIGINT NOT NULL DEFAULT 0, td11 BIGINT NOT NULL DEFAULT 0, td12 BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, app_id, country, channel, provider)
);
CREATE TABLE rollup_prefix_days (
  bucket       BIGINT NOT NULL,
  app_id       TEXT NOT NULL,
  prefix       TEXT NOT NULL,
  country      TEXT NOT NULL,
  channel      TEXT NOT NULL,
  provider     TEXT NOT NULL,
  started      BIGINT NOT NULL DEFAULT 0,
  verified     BIGINT NOT NULL DEFAULT 0,
  failed       BIGINT NOT NULL DEFAULT 0,
  expired      BIGINT NOT NULL DEFAULT 0,
  canceled     BIGINT NOT NULL DEFAULT 0,
  wrong        BIGINT NOT NULL DEFAULT 0,
  sent         BIGINT NOT NULL DEFAULT 0,
  msg_failed   BIGINT NOT NULL DEFAULT 0,
  delivered    BIGINT NOT NULL DEFAULT 0,
  undelivered  BIGINT NOT NULL DEFAULT 0,
  fallbacks    BIGINT NOT NULL DEFAULT 0,
  cost         DOUBLE PRECISION NOT NULL DEFAULT 0,
  refused      BIGINT NOT NULL DEFAULT 0,
  saved        DOUBLE PRECISION NOT NULL DEFAULT 0,
  tv0 BIGINT NOT NULL DEFAULT 0, tv1 BIGINT NOT NULL DEFAULT 0, tv2 BIGINT NOT NULL DEFAULT 0, tv3 BIGINT NOT NULL DEFAULT 0, tv4 BIGINT NOT NULL DEFAULT 0, tv5 BIGINT NOT NULL DEFAULT 0, tv6 BIGINT NOT NULL DEFAULT 0, tv7 BIGINT NOT NULL DEFAULT 0, tv8 BIGINT NOT NULL DEFAULT 0, tv9 BIGINT NOT NULL DEFAULT 0, tv10 BIGINT NOT NULL DEFAULT 0, tv11 BIGINT NOT NULL DEFAULT 0, tv12 BIGINT NOT NULL DEFAULT 0,
  td0 BIGINT NOT NULL DEFAULT 0, td1 BIGINT NOT NULL DEFAULT 0, td2 BIGINT NOT NULL DEFAULT 0, td3 BIGINT NOT NULL DEFAULT 0, td4 BIGINT NOT NULL DEFAULT 0, td5 BIGINT NOT NULL DEFAULT 0, td6 BIGINT NOT NULL DEFAULT 0, td7 BIGINT NOT NULL DEFAULT 0, td8 BIGINT NOT NULL DEFAULT 0, td9 BIGINT NOT NULL DEFAULT 0, td10 BIGINT NOT NULL DEFAULT 0, td11 BIGINT NOT NULL DEFAULT 0, td12 BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (prefix, bucket, app_id, country, channel, provider)
);
-- A grouping by prefix (no prefix filter) reads a range of days.
CREATE INDEX rollup_prefix_days_bucket ON rollup_prefix_days(bucket);
`,
  },
  {
    name: '007_revoked_sessions',
    sql: `
-- Dashboard sessions signed out before their end (they are stateless tokens): kept until they would have ended.
CREATE TABLE revoked_sessions (
  id          TEXT PRIMARY KEY,
  expires_at  BIGINT NOT NULL);
CREATE INDEX revoked_sessions_expiry ON revoked_sessions(expires_at);
`,
  },
];
