/**
 * SQLite schema, in order. A migration is never edited once released: add a new one.
 * Times are epoch milliseconds (INTEGER). Ids are prefixed ULIDs, so `ORDER BY id DESC` is newest first.
 */
export const SQLITE_MIGRATIONS: readonly { name: string; sql: string }[] = [
  {
    name: '001_core',
    sql: `
CREATE TABLE apps (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  enabled     INTEGER NOT NULL DEFAULT 1,
  settings    TEXT NOT NULL DEFAULT '{}',
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
  id          TEXT PRIMARY KEY,
  app_id      TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  prefix      TEXT NOT NULL,
  hash        BLOB NOT NULL UNIQUE,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER,
  revoked_at  INTEGER
) STRICT;
CREATE INDEX api_keys_app ON api_keys(app_id);

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
  code_hash            BLOB NOT NULL,
  code_sealed          BLOB,
  attempts             INTEGER NOT NULL,
  max_attempts         INTEGER NOT NULL,
  sends                INTEGER NOT NULL,
  max_sends            INTEGER NOT NULL,
  resend_available_at  INTEGER NOT NULL,
  expires_at           INTEGER NOT NULL,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  verified_at          INTEGER,
  parts                INTEGER NOT NULL,
  cost                 REAL NOT NULL,
  metadata             TEXT
) STRICT, WITHOUT ROWID;
CREATE INDEX verifications_app_id ON verifications(app_id, id);
CREATE INDEX verifications_app_to ON verifications(app_id, to_addr, id);
-- At most one pending verification per (app, recipient): the invariant the start transaction keeps, enforced.
CREATE UNIQUE INDEX verifications_one_pending ON verifications(app_id, to_addr) WHERE status = 'pending';

CREATE TABLE phone_states (
  app_id             TEXT NOT NULL,
  to_addr            TEXT NOT NULL,
  sends              INTEGER NOT NULL,
  failures           INTEGER NOT NULL,
  window_started_at  INTEGER NOT NULL,
  last_send_at       INTEGER,
  locked_until       INTEGER,
  lock_reason        TEXT,
  PRIMARY KEY (app_id, to_addr)
) STRICT, WITHOUT ROWID;

CREATE TABLE outbox (
  id               TEXT PRIMARY KEY,
  app_id           TEXT NOT NULL,
  verification_id  TEXT NOT NULL,
  channel          TEXT NOT NULL,
  to_addr          TEXT NOT NULL,
  locale           TEXT NOT NULL,
  body             TEXT NOT NULL, -- rendered text with the {{pin}} placeholder still in it: no code at rest
  status           TEXT NOT NULL CHECK (status IN ('queued','sending','sent','failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  available_at     INTEGER NOT NULL,
  created_at       INTEGER NOT NULL,
  sent_at          INTEGER,
  provider         TEXT,
  error            TEXT,
  parts            INTEGER NOT NULL,
  cost             REAL NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX outbox_due ON outbox(available_at) WHERE status IN ('queued','sending');
CREATE INDEX outbox_verification ON outbox(verification_id);

CREATE TABLE idempotency_keys (
  app_id        TEXT NOT NULL,
  key           TEXT NOT NULL,
  request_hash  BLOB NOT NULL,
  response      TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  PRIMARY KEY (app_id, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX idempotency_expiry ON idempotency_keys(expires_at);
`,
  },
  {
    name: '002_delivery',
    sql: `
-- Channel workflow of a verification: the ordered channels, the step being delivered, the per-step timeout.
ALTER TABLE verifications ADD COLUMN channels TEXT NOT NULL DEFAULT '[]';
ALTER TABLE verifications ADD COLUMN step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE verifications ADD COLUMN step_timeout INTEGER NOT NULL DEFAULT 30;

-- Messages ("msg_…", the outbox rows) learn delivery: the workflow step and route they are on, the provider's
-- answer, receipts, and when the next step is due if no delivery receipt came. Later workflow steps are created
-- with the verification as 'waiting' and made 'queued' when the step before fails or times out.
-- SQLite cannot alter a CHECK constraint, so the table is rebuilt.
CREATE TABLE outbox_v2 (
  id                   TEXT PRIMARY KEY,
  app_id               TEXT NOT NULL,
  verification_id      TEXT NOT NULL,
  channel              TEXT NOT NULL,
  to_addr              TEXT NOT NULL,
  locale               TEXT NOT NULL,
  body                 TEXT NOT NULL,
  status               TEXT NOT NULL CHECK (status IN ('waiting','queued','sending','sent','delivered','undelivered','failed','skipped')),
  attempts             INTEGER NOT NULL DEFAULT 0,
  available_at         INTEGER NOT NULL,
  created_at           INTEGER NOT NULL,
  sent_at              INTEGER,
  provider             TEXT,
  error                TEXT,
  parts                INTEGER NOT NULL,
  cost                 REAL NOT NULL,
  step                 INTEGER NOT NULL DEFAULT 0,
  route                TEXT NOT NULL DEFAULT '[]', -- provider names chosen at start, first choice first
  route_index          INTEGER NOT NULL DEFAULT 0,
  provider_attempts    INTEGER NOT NULL DEFAULT 0,
  provider_message_id  TEXT,
  error_code           TEXT,
  price                REAL,
  price_currency       TEXT,
  delivered_at         INTEGER,
  failed_at            INTEGER,
  fallback_at          INTEGER,
  outcome_unknown      INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
INSERT INTO outbox_v2 (id, app_id, verification_id, channel, to_addr, locale, body, status, attempts, available_at, created_at,
  sent_at, provider, error, parts, cost)
  SELECT id, app_id, verification_id, channel, to_addr, locale, body, status, attempts, available_at, created_at,
    sent_at, provider, error, parts, cost FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v2 RENAME TO outbox;
-- One partial index per claimable status: SQLite uses a partial index only when the query's WHERE matches its
-- predicate, and the worker claims 'queued' and lease-expired 'sending' rows with separate statements.
CREATE INDEX outbox_queued ON outbox(available_at) WHERE status = 'queued';
CREATE INDEX outbox_sending ON outbox(available_at) WHERE status = 'sending';
CREATE INDEX outbox_verification ON outbox(verification_id, step);
CREATE INDEX outbox_fallback_due ON outbox(fallback_at) WHERE fallback_at IS NOT NULL;
CREATE INDEX outbox_provider_id ON outbox(provider, provider_message_id) WHERE provider_message_id IS NOT NULL;

-- Every call to a provider, recorded before the call ('started') and completed after it. A 'started' attempt
-- found by a later claim means the worker died mid-send: the outcome is unknown, so it is never blindly re-sent.
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
  started_at           INTEGER NOT NULL,
  finished_at          INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX message_attempts_message ON message_attempts(message_id, id);

-- Delivery receipts and webhooks that could not be matched or verified, counted and kept for inspection.
CREATE TABLE rejected_callbacks (
  id           TEXT PRIMARY KEY,
  source       TEXT NOT NULL,
  reason       TEXT NOT NULL,
  received_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`,
  },
  {
    name: '003_tenancy',
    sql: `
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;

-- Every admin change: who (the admin token, or an app credential), what, before and after, when.
CREATE TABLE audit_log (
  id           TEXT PRIMARY KEY,
  actor        TEXT NOT NULL,
  action       TEXT NOT NULL,
  target_type  TEXT NOT NULL,
  target_id    TEXT NOT NULL,
  app_id       TEXT,
  before       TEXT,
  after        TEXT,
  at           INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX audit_target ON audit_log(target_id, id);

-- OAuth2 client credentials (seed 001). Secrets are stored as SHA-256; a rotation keeps the previous secret
-- valid until previous_valid_until.
CREATE TABLE oauth_clients (
  id                    TEXT PRIMARY KEY,
  app_id                TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  name                  TEXT NOT NULL,
  secret_hash           BLOB NOT NULL,
  previous_secret_hash  BLOB,
  previous_valid_until  INTEGER,
  created_at            INTEGER NOT NULL,
  rotated_at            INTEGER,
  revoked_at            INTEGER,
  last_used_at          INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX oauth_clients_app ON oauth_clients(app_id, id);

-- Message templates per app, channel and (optionally) locale or destination (country code or number prefix).
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
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX templates_app ON templates(app_id, channel, id);

-- Sender ids (seed 002): what the phone shows as the sender, per channel and destination country (null = any).
CREATE TABLE senders (
  id          TEXT PRIMARY KEY,
  app_id      TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  channel     TEXT NOT NULL,
  country     TEXT,
  value       TEXT NOT NULL,
  created_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX senders_app ON senders(app_id, channel, id);
-- The sender chosen at start travels with each message.
ALTER TABLE outbox ADD COLUMN sender TEXT;
CREATE INDEX audit_app ON audit_log(app_id, id) WHERE app_id IS NOT NULL;
`,
  },
  {
    name: '004_webhooks',
    sql: `
-- Lifecycle events, written in the same transaction as the change they describe, for apps that listen.
CREATE TABLE events (
  id               TEXT PRIMARY KEY,
  app_id           TEXT NOT NULL,
  type             TEXT NOT NULL,
  verification_id  TEXT,
  message_id       TEXT,
  data             TEXT NOT NULL,
  created_at       INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX events_app ON events(app_id, id);

CREATE TABLE webhook_endpoints (
  id               TEXT PRIMARY KEY,
  app_id           TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  url              TEXT NOT NULL,
  events           TEXT NOT NULL DEFAULT '[]',  -- event types; empty = all
  secret_sealed    BLOB NOT NULL,               -- the whsec_ signing secret, AES-GCM sealed with the server key
  description      TEXT,
  enabled          INTEGER NOT NULL DEFAULT 1,
  disabled_reason  TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX webhook_endpoints_app ON webhook_endpoints(app_id, id);

-- One delivery per (event, endpoint), retried on a schedule; its id is the webhook-id header on every attempt.
CREATE TABLE webhook_deliveries (
  id                TEXT PRIMARY KEY,
  app_id            TEXT NOT NULL,
  endpoint_id       TEXT,
  url               TEXT NOT NULL,
  event_id          TEXT NOT NULL,
  status            TEXT NOT NULL CHECK (status IN ('pending','sending','succeeded','failed','canceled')),
  attempts          INTEGER NOT NULL DEFAULT 0,
  next_attempt_at   INTEGER NOT NULL,
  last_status_code  INTEGER,
  last_error        TEXT,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_sending ON webhook_deliveries(next_attempt_at) WHERE status = 'sending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, id);

CREATE TABLE webhook_attempts (
  id           TEXT PRIMARY KEY,
  delivery_id  TEXT NOT NULL,
  status_code  INTEGER,
  error        TEXT,
  duration_ms  INTEGER NOT NULL,
  at           INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, id);

-- The expiry sweeper closes pending verifications whose time is up (so verification.expired is sent even when
-- nobody checks the code again).
CREATE INDEX verifications_pending_expiry ON verifications(expires_at) WHERE status = 'pending';

-- Seed 001's status callback URL: per verification (the request's, else the app setting), signed with a per-app
-- callback secret (sealed with the server key).
ALTER TABLE apps ADD COLUMN callback_secret_sealed BLOB;
ALTER TABLE verifications ADD COLUMN callback_url TEXT;
`,
  },
  {
    name: '005_guard',
    sql: `
-- The guard (guard/): one row per (scope, dimension, value), e.g. an app's prefix, with the state of every rule on
-- it (a leaky bucket, the value's verified history, the countries it sent to, a block) as JSON. Rows that remember
-- nothing any more are deleted by the maintenance sweep.
CREATE TABLE guard_state (
  key            TEXT PRIMARY KEY,
  scope          TEXT NOT NULL,
  dimension      TEXT NOT NULL,
  value          TEXT NOT NULL,
  rules          TEXT NOT NULL,
  blocked_until  INTEGER,
  expires_at     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
-- Only blocked rows are in this index; a write that changes no block leaves it alone. The sweep walks the primary
-- key (an index on expires_at would be rewritten by every request).
CREATE INDEX guard_state_blocks ON guard_state(scope, blocked_until) WHERE blocked_until IS NOT NULL;
CREATE INDEX guard_state_block_ends ON guard_state(blocked_until) WHERE blocked_until IS NOT NULL;

CREATE TABLE guard_decisions (
  id               TEXT PRIMARY KEY,
  app_id           TEXT NOT NULL,
  at               INTEGER NOT NULL,
  action           TEXT NOT NULL,
  outcome          TEXT NOT NULL,
  mode             TEXT NOT NULL,
  rules            TEXT NOT NULL,
  reasons          TEXT NOT NULL,
  code             TEXT NOT NULL,
  to_addr          TEXT,
  prefix           TEXT,
  country          TEXT,
  ip               TEXT,
  device_id        TEXT,
  user_agent       TEXT,
  verification_id  TEXT
) STRICT, WITHOUT ROWID;
CREATE INDEX guard_decisions_app ON guard_decisions(app_id, id);

-- The end user's signals given with a start (ip, deviceId, userAgent): a verification gives back what its sends took
-- from the budgets of its address and device.
ALTER TABLE verifications ADD COLUMN signals TEXT;
`,
  },
  {
    name: '006_connections',
    sql: `
-- Provider connections (issue 16): provider accounts owned by an app, or shared by the server (app_id NULL). The
-- configuration, credentials included, is sealed (AES-256-GCM, bound to the id); name and type stay readable.
CREATE TABLE provider_connections (
  id             TEXT PRIMARY KEY,
  app_id         TEXT REFERENCES apps(id) ON DELETE CASCADE,
  name           TEXT NOT NULL,
  type           TEXT NOT NULL,
  config_sealed  BLOB NOT NULL,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX provider_connections_name ON provider_connections(coalesce(app_id, ''), name);
-- Deleting an app deletes its connections (the foreign key's lookup).
CREATE INDEX provider_connections_app ON provider_connections(app_id);

-- PSD2 dynamic linking: the amount and payee a verification's messages say (a resend on another channel too).
ALTER TABLE verifications ADD COLUMN payment TEXT;
`,
  },
  {
    name: '007_analytics',
    sql: `
-- Analytics rollups (issue 17; store/rollups.ts): sums per hour and per UTC day x app x country x channel x provider,
-- and per UTC day and number prefix, added to by every node (additive upserts). The counters are domain/analytics.ts
-- COUNTERS; tv0..tv12 and td0..td12 the time-to-verify and time-to-deliver histograms (VERIFY_BOUNDS, DELIVER_BOUNDS).
-- No foreign key: the figures outlive the verifications retention deletes, and the apps deleted.
CREATE TABLE rollup_hours (
  bucket       INTEGER NOT NULL,
  app_id       TEXT NOT NULL,
  country      TEXT NOT NULL,
  channel      TEXT NOT NULL,
  provider     TEXT NOT NULL,
  started      INTEGER NOT NULL DEFAULT 0,
  verified     INTEGER NOT NULL DEFAULT 0,
  failed       INTEGER NOT NULL DEFAULT 0,
  expired      INTEGER NOT NULL DEFAULT 0,
  canceled     INTEGER NOT NULL DEFAULT 0,
  wrong        INTEGER NOT NULL DEFAULT 0,
  sent         INTEGER NOT NULL DEFAULT 0,
  msg_failed   INTEGER NOT NULL DEFAULT 0,
  delivered    INTEGER NOT NULL DEFAULT 0,
  undelivered  INTEGER NOT NULL DEFAULT 0,
  fallbacks    INTEGER NOT NULL DEFAULT 0,
  cost         REAL NOT NULL DEFAULT 0,
  refused      INTEGER NOT NULL DEFAULT 0,
  saved        REAL NOT NULL DEFAULT 0,
  tv0 INTEGER NOT NULL DEFAULT 0, tv1 INTEGER NOT NULL DEFAULT 0, tv2 INTEGER NOT NULL DEFAULT 0, tv3 INTEGER NOT NULL DEFAULT 0, tv4 INTEGER NOT NULL DEFAULT 0, tv5 INTEGER NOT NULL DEFAULT 0, tv6 INTEGER NOT NULL DEFAULT 0, tv7 INTEGER NOT NULL DEFAULT 0, tv8 INTEGER NOT NULL DEFAULT 0, tv9 INTEGER NOT NULL DEFAULT 0, tv10 INTEGER NOT NULL DEFAULT 0, tv11 INTEGER NOT NULL DEFAULT 0, tv12 INTEGER NOT NULL DEFAULT 0,
  td0 INTEGER NOT NULL DEFAULT 0, td1 INTEGER NOT NULL DEFAULT 0, td2 INTEGER NOT NULL DEFAULT 0, td3 INTEGER NOT NULL DEFAULT 0, td4 INTEGER NOT NULL DEFAULT 0, td5 INTEGER NOT NULL DEFAULT 0, td6 INTEGER NOT NULL DEFAULT 0, td7 INTEGER NOT NULL DEFAULT 0, td8 INTEGER NOT NULL DEFAULT 0, td9 INTEGER NOT NULL DEFAULT 0, td10 INTEGER NOT NULL DEFAULT 0, td11 INTEGER NOT NULL DEFAULT 0, td12 INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, app_id, country, channel, provider)
) STRICT, WITHOUT ROWID;
CREATE TABLE rollup_days (
  bucket       INTEGER NOT NULL,
  app_id       TEXT NOT NULL,
  country      TEXT NOT NULL,
  channel      TEXT NOT NULL,
  provider     TEXT NOT NULL,
  started      INTEGER NOT NULL DEFAULT 0,
  verified     INTEGER NOT NULL DEFAULT 0,
  failed       INTEGER NOT NULL DEFAULT 0,
  expired      INTEGER NOT NULL DEFAULT 0,
  canceled     INTEGER NOT NULL DEFAULT 0,
  wrong        INTEGER NOT NULL DEFAULT 0,
  sent         INTEGER NOT NULL DEFAULT 0,
  msg_failed   INTEGER NOT NULL DEFAULT 0,
  delivered    INTEGER NOT NULL DEFAULT 0,
  undelivered  INTEGER NOT NULL DEFAULT 0,
  fallbacks    INTEGER NOT NULL DEFAULT 0,
  cost         REAL NOT NULL DEFAULT 0,
  refused      INTEGER NOT NULL DEFAULT 0,
  saved        REAL NOT NULL DEFAULT 0,
  tv0 INTEGER NOT NULL DEFAULT 0, tv1 INTEGER NOT NULL DEFAULT 0, tv2 INTEGER NOT NULL DEFAULT 0, tv3 INTEGER NOT NULL DEFAULT 0, tv4 INTEGER NOT NULL DEFAULT 0, tv5 INTEGER NOT NULL DEFAULT 0, tv6 INTEGER NOT NULL DEFAULT 0, tv7 INTEGER NOT NULL DEFAULT 0, tv8 INTEGER NOT NULL DEFAULT 0, tv9 INTEGER NOT NULL DEFAULT 0, tv10 INTEGER NOT NULL DEFAULT 0, tv11 INTEGER NOT NULL DEFAULT 0, tv12 INTEGER NOT NULL DEFAULT 0,
  td0 INTEGER NOT NULL DEFAULT 0, td1 INTEGER NOT NULL DEFAULT 0, td2 INTEGER NOT NULL DEFAULT 0, td3 INTEGER NOT NULL DEFAULT 0, td4 INTEGER NOT NULL DEFAULT 0, td5 INTEGER NOT NULL DEFAULT 0, td6 INTEGER NOT NULL DEFAULT 0, td7 INTEGER NOT NULL DEFAULT 0, td8 INTEGER NOT NULL DEFAULT 0, td9 INTEGER NOT NULL DEFAULT 0, td10 INTEGER NOT NULL DEFAULT 0, td11 INTEGER NOT NULL DEFAULT 0, td12 INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, app_id, country, channel, provider)
) STRICT, WITHOUT ROWID;
CREATE TABLE rollup_prefix_days (
  bucket       INTEGER NOT NULL,
  app_id       TEXT NOT NULL,
  prefix       TEXT NOT NULL,
  country      TEXT NOT NULL,
  channel      TEXT NOT NULL,
  provider     TEXT NOT NULL,
  started      INTEGER NOT NULL DEFAULT 0,
  verified     INTEGER NOT NULL DEFAULT 0,
  failed       INTEGER NOT NULL DEFAULT 0,
  expired      INTEGER NOT NULL DEFAULT 0,
  canceled     INTEGER NOT NULL DEFAULT 0,
  wrong        INTEGER NOT NULL DEFAULT 0,
  sent         INTEGER NOT NULL DEFAULT 0,
  msg_failed   INTEGER NOT NULL DEFAULT 0,
  delivered    INTEGER NOT NULL DEFAULT 0,
  undelivered  INTEGER NOT NULL DEFAULT 0,
  fallbacks    INTEGER NOT NULL DEFAULT 0,
  cost         REAL NOT NULL DEFAULT 0,
  refused      INTEGER NOT NULL DEFAULT 0,
  saved        REAL NOT NULL DEFAULT 0,
  tv0 INTEGER NOT NULL DEFAULT 0, tv1 INTEGER NOT NULL DEFAULT 0, tv2 INTEGER NOT NULL DEFAULT 0, tv3 INTEGER NOT NULL DEFAULT 0, tv4 INTEGER NOT NULL DEFAULT 0, tv5 INTEGER NOT NULL DEFAULT 0, tv6 INTEGER NOT NULL DEFAULT 0, tv7 INTEGER NOT NULL DEFAULT 0, tv8 INTEGER NOT NULL DEFAULT 0, tv9 INTEGER NOT NULL DEFAULT 0, tv10 INTEGER NOT NULL DEFAULT 0, tv11 INTEGER NOT NULL DEFAULT 0, tv12 INTEGER NOT NULL DEFAULT 0,
  td0 INTEGER NOT NULL DEFAULT 0, td1 INTEGER NOT NULL DEFAULT 0, td2 INTEGER NOT NULL DEFAULT 0, td3 INTEGER NOT NULL DEFAULT 0, td4 INTEGER NOT NULL DEFAULT 0, td5 INTEGER NOT NULL DEFAULT 0, td6 INTEGER NOT NULL DEFAULT 0, td7 INTEGER NOT NULL DEFAULT 0, td8 INTEGER NOT NULL DEFAULT 0, td9 INTEGER NOT NULL DEFAULT 0, td10 INTEGER NOT NULL DEFAULT 0, td11 INTEGER NOT NULL DEFAULT 0, td12 INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (prefix, bucket, app_id, country, channel, provider)
) STRICT, WITHOUT ROWID;
-- A grouping by prefix (no prefix filter) reads a range of days.
CREATE INDEX rollup_prefix_days_bucket ON rollup_prefix_days(bucket);
`,
  },
  {
    name: '008_revoked_sessions',
    sql: `
-- Dashboard sessions signed out before their end (they are stateless tokens): kept until they would have ended.
CREATE TABLE revoked_sessions (
  id          TEXT PRIMARY KEY,
  expires_at  INTEGER NOT NULL) STRICT, WITHOUT ROWID;
CREATE INDEX revoked_sessions_expiry ON revoked_sessions(expires_at);
`,
  },
];
