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
];
