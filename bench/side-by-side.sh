#!/usr/bin/env bash
# Two otpd builds measured at the same time (same box phase): each on its own SQLite file, each driven by
# bench/flow.mjs with 16 clients, ROUNDS rounds of SECONDS seconds. Sequential runs of one build vary up to 2x on
# this VM within minutes; side by side, an A/A comparison stays within about 5 %.
#
#   git worktree add /tmp/base <commit> && (cd /tmp/base && ln -s <this checkout>/node_modules . && npx tsc -b packages/server)
#   bash bench/side-by-side.sh /tmp/base/packages/server/dist packages/server/dist [ROUNDS] [SECONDS]
set -euo pipefail
A=$(realpath "$1")/cli/main.js; B=$(realpath "$2")/cli/main.js; ROUNDS=${3:-3}; SECONDS_=${4:-10}
FLOW=$(dirname "$(realpath "$0")")/flow.mjs
W=$(mktemp -d)
pids=()
start() { # dir bin port -> key
  mkdir -p "$1"
  local env=(OTPD_DATA_DIR="$1" OTPD_DATABASE_URL="sqlite:$1/otpd.sqlite" OTPD_LOG_LEVEL=warn)
  env "${env[@]}" node "$2" migrate >/dev/null
  env "${env[@]}" node "$2" apps create --name ab --json | node -p "JSON.parse(require('fs').readFileSync(0)).apiKey"
}
KA=$(start "$W/a" "$A" 4301); KB=$(start "$W/b" "$B" 4302)
OTPD_DATA_DIR="$W/a" OTPD_DATABASE_URL="sqlite:$W/a/otpd.sqlite" OTPD_LOG_LEVEL=warn node "$A" serve --port 4301 >/dev/null 2>&1 & pids+=($!)
OTPD_DATA_DIR="$W/b" OTPD_DATABASE_URL="sqlite:$W/b/otpd.sqlite" OTPD_LOG_LEVEL=warn node "$B" serve --port 4302 >/dev/null 2>&1 & pids+=($!)
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$W"' EXIT
sleep 3
for r in $(seq 1 "$ROUNDS"); do
  node "$FLOW" --base http://127.0.0.1:4301 --key "$KA" --concurrency 16 --duration "$SECONDS_" --warmup 2 > "$W/a$r.json" &
  node "$FLOW" --base http://127.0.0.1:4302 --key "$KB" --concurrency 16 --duration "$SECONDS_" --warmup 2 > "$W/b$r.json" &
  wait %3 %4 2>/dev/null || wait
  node -e "
    const a = JSON.parse(require('fs').readFileSync('$W/a$r.json', 'utf8')), b = JSON.parse(require('fs').readFileSync('$W/b$r.json', 'utf8'));
    console.log('round $r: A ' + a.pairsPerSec + ' pairs/s (check p99 ' + a.check.p99ms + ' ms), B ' + b.pairsPerSec + ' (check p99 ' + b.check.p99ms + ' ms): B/A x' + (b.pairsPerSec / a.pairsPerSec).toFixed(2));"
done
