#!/bin/bash
# Plans under stale statistics: 100k settled verifications are analyzed, then 200k pending ones (another app) are
# inserted with autovacuum off for the table, as in the minutes before autovacuum analyzes a table whose pending
# rows surged. Then one flow run (bench/flow.mjs) against otpd on that database.
#   bash bench/stale-stats.sh [dist dir, default packages/server/dist] [pg server URL, default the bench cluster]
# Before the plan fix (commit "Plans that do not depend on how many rows are pending") checks read every pending row.
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/packages/server/dist}/cli/main.js
PG=${2:-postgres://postgres@127.0.0.1:54329}
DB=otpd_stale; WORK=$(mktemp -d)
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export OTPD_DATABASE_URL=$PG/$DB OTPD_DATA_DIR=$WORK OTPD_SECRET=bench-secret-0123456789abcdef0123456789 OTPD_LOG_LEVEL=warn OTPD_RETENTION_DAYS=0
KEY=$(node "$BIN" apps create --name bench --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).apiKey))')
NOW=$(date +%s%3N)
COLS="id, app_id, to_addr, country_iso, channel, locale, status, code_type, code_length, code_hash, attempts, max_attempts, sends, max_sends, resend_available_at, expires_at, created_at, updated_at, parts, cost"
psql "$PG/$DB" -qc "INSERT INTO verifications ($COLS) SELECT 'ver_old' || lpad(i::text, 8, '0'), 'app_other', '+3362' || lpad(i::text, 7, '0'), 'FR', 'sms', 'en', 'verified', 'numeric', 6, '\\x00', 0, 5, 1, 5, 0, $NOW, $NOW, $NOW, 1, 0 FROM generate_series(1, 100000) i" \
  -c "VACUUM ANALYZE verifications" -c "ALTER TABLE verifications SET (autovacuum_enabled = false)" \
  -c "INSERT INTO verifications ($COLS) SELECT 'ver_pen' || lpad(i::text, 8, '0'), 'app_other', '+3363' || lpad(i::text, 7, '0'), 'FR', 'sms', 'en', 'pending', 'numeric', 6, '\\x00', 0, 5, 1, 5, 0, $NOW + 86400000, $NOW, $NOW, 1, 0 FROM generate_series(1, 200000) i"
node "$BIN" serve --port 4310 >/dev/null 2>&1 & P=$!
trap 'kill -TERM $P 2>/dev/null; wait $P 2>/dev/null; rm -rf "$WORK"' EXIT
for i in $(seq 100); do curl -sf http://127.0.0.1:4310/readyz >/dev/null && break; sleep 0.1; done
node "$ROOT/bench/flow.mjs" --base http://127.0.0.1:4310 --key "$KEY" --concurrency 32 --duration "${DURATION:-8}" --warmup 2 | tail -1
