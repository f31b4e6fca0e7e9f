#!/usr/bin/env bash
# Two otpd builds measured at the same time (same box phase), each on its own database, each driven by
# bench/flow.mjs with CONCURRENCY (16) clients, ROUNDS rounds of WARMUP (2) + SECONDS seconds. Sequential runs of one
# build vary up to 2x on this VM within minutes; side by side, an A/A comparison stays within about 5 %.
#
#   git worktree add /tmp/base <commit> && (cd /tmp/base && ln -s <this checkout>/node_modules . \
#     && ln -s <this checkout>/packages/server/node_modules packages/server/ && npx tsc -b packages/server)
#   bash bench/side-by-side.sh /tmp/base/packages/server/dist packages/server/dist [ROUNDS] [SECONDS] [sqlite|postgres|both]
#
# Stores (default sqlite):
#   sqlite    each build on its own SQLite file in a temp dir.
#   postgres  each build on its own database (otpd_sbs_a, otpd_sbs_b: DROP ... WITH (FORCE), then CREATE) of the
#             throwaway cluster of ../shared/bench/services.sh (127.0.0.1:54329), as bench/pg.mjs uses it. Both
#             databases are dropped at exit. The cluster is left running if it was running before; if this script
#             started it, it is stopped at exit unless another client is connected to it then (or KEEP_PG=1).
#   both      sqlite, then postgres, in one run.
# Per round: pairs/s, check p99 and B/A of each build. At the end, one summary line per store: the median of the
# per-round B/A ratios of pairs/s, the medians of pairs/s and of check p99 of A and B, failures.
# Environment: CONCURRENCY (16), WARMUP (2), PORT_A (4301), PORT_B (4302), SERVICES_SH (path of services.sh); OTPD_* variables (e.g. OTPD_PG_POOL_SIZE)
# are passed to both builds. SETTINGS_A / SETTINGS_B: settings (JSON) of each side's app (default: the guard off), e.g.
# one build twice with the guard off and on: SETTINGS_B='{}' FLOW_ARGS=--spread bash bench/side-by-side.sh dist dist.
# FLOW_ARGS: more bench/flow.mjs options for both sides (e.g. "--spread --ips 5000"). ENV_A / ENV_B: variables for
# one side's server only, e.g. ENV_A=OTPD_METRICS=off (metrics off on A, on on B, one build).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bash bench/side-by-side.sh <A dist> <B dist> [ROUNDS=3] [SECONDS=10] [sqlite|postgres|both]" >&2; exit 2
fi
A=$(realpath "$1")/cli/main.js; B=$(realpath "$2")/cli/main.js; ROUNDS=${3:-3}; SECONDS_=${4:-10}; STORE=${5:-sqlite}
# The engine's settings by default: the guard off (flow.mjs sends sequential numbers, which its per-prefix rules refuse).
SA=${SETTINGS_A:-}; [ -n "$SA" ] || SA='{"guard":{"mode":"off"}}'; SB=${SETTINGS_B:-}; [ -n "$SB" ] || SB='{"guard":{"mode":"off"}}'
CONC=${CONCURRENCY:-16}; WARMUP=${WARMUP:-2}; PA=${PORT_A:-4301}; PB=${PORT_B:-4302}
case "$STORE" in sqlite) STORES=(sqlite) ;; postgres|pg) STORES=(postgres) ;; both) STORES=(sqlite postgres) ;;
  *) echo "store must be sqlite, postgres or both, not $STORE" >&2; exit 2 ;; esac
for f in "$A" "$B"; do [ -f "$f" ] || { echo "no build at $f (run npx tsc -b packages/server there)" >&2; exit 2; }; done
HERE=$(dirname "$(realpath "$0")")
FLOW=$HERE/flow.mjs
SERVICES=${SERVICES_SH:-$(realpath "$HERE/../../shared/bench/services.sh" 2>/dev/null || true)}
W=$(mktemp -d)
pids=()          # otpd serve processes and flow clients of the current store
PG=''            # base URL of the cluster (no database), once used
PG_STARTED=0     # 1 when this script started the cluster
DBS=(otpd_sbs_a otpd_sbs_b)

psql_admin() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d "$PG/postgres" "$@"; }
stop_all() {
  [ ${#pids[@]} -gt 0 ] || return 0
  kill "${pids[@]}" 2>/dev/null || true
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  local rc=$?
  trap - EXIT
  stop_all
  if [ -n "$PG" ]; then
    for db in "${DBS[@]}"; do psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" 2>/dev/null || echo "could not drop $db" >&2; done
    if [ "$PG_STARTED" = 1 ]; then
      others=$(psql_admin -At -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" 2>/dev/null || echo '?')
      if [ "${KEEP_PG:-0}" = 1 ] || [ "$others" != 0 ]; then
        echo "postgres: left running (this script started it; KEEP_PG=${KEEP_PG:-0}, other clients: $others)"
      else
        bash "$SERVICES" stop >/dev/null && echo "postgres: stopped (this script had started it)"
      fi
    fi
  fi
  rm -rf "$W"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_up() { # starts (or finds) the cluster, sets PG
  [ -n "$PG" ] && return 0
  [ -f "$SERVICES" ] || { echo "../shared/bench/services.sh not found next to this checkout" >&2; exit 2; }
  if ! bash "$SERVICES" status >/dev/null 2>&1; then PG_STARTED=1; fi
  PG=$(bash "$SERVICES" start | tail -n 1); PG=${PG%/postgres}
  echo "postgres at $PG ($([ "$PG_STARTED" = 1 ] && echo 'started by this script' || echo 'already running'))"
}

port_free() { ! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; }
wait_ready() { # port log
  for _ in $(seq 1 150); do curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$1/readyz" && return 0; sleep 0.2; done
  echo "otpd on port $1 did not become ready; its log:" >&2; tail -n 20 "$2" >&2; exit 1
}

flow() { # port key out: one bench/flow.mjs in the background ($! is its pid)
  # shellcheck disable=SC2086
  node "$FLOW" --base "http://127.0.0.1:$1" --key "$2" --concurrency "$CONC" --duration "$SECONDS_" --warmup "$WARMUP" ${FLOW_ARGS:-} > "$3" &
  pids+=($!)
}

run_store() { # store
  local store=$1 d url k r fa fb
  local keys=() dirs=("$W/$store-a" "$W/$store-b") bins=("$A" "$B") ports=("$PA" "$PB") settings=("$SA" "$SB")
  for p in "$PA" "$PB"; do port_free "$p" || { echo "port $p is in use (PORT_A/PORT_B choose others)" >&2; exit 1; }; done
  for i in 0 1; do
    d=${dirs[$i]}; mkdir -p "$d"
    if [ "$store" = sqlite ]; then
      url="sqlite:$d/otpd.sqlite"
    else
      psql_admin -c "DROP DATABASE IF EXISTS ${DBS[$i]} WITH (FORCE)" -c "CREATE DATABASE ${DBS[$i]}"
      url="$PG/${DBS[$i]}"
    fi
    echo "$url" > "$d/url"
    OTPD_DATA_DIR="$d" OTPD_DATABASE_URL="$url" OTPD_LOG_LEVEL=warn node "${bins[$i]}" migrate >/dev/null
    k=$(OTPD_DATA_DIR="$d" OTPD_DATABASE_URL="$url" OTPD_LOG_LEVEL=warn node "${bins[$i]}" apps create --name ab --settings "${settings[$i]}" --json \
      | node -p "JSON.parse(require('fs').readFileSync(0)).apiKey")
    keys+=("$k")
  done
  for i in 0 1; do
    d=${dirs[$i]}
    # ENV_A / ENV_B: more variables for one side only (e.g. ENV_B="OTPD_METRICS=off": one feature off vs on).
    side_env=${ENV_A:-}; [ "$i" = 1 ] && side_env=${ENV_B:-}
    env $side_env OTPD_DATA_DIR="$d" OTPD_DATABASE_URL="$(cat "$d/url")" OTPD_LOG_LEVEL=warn node "${bins[$i]}" serve --port "${ports[$i]}" >"$d/log" 2>&1 &
    pids+=($!)
  done
  wait_ready "$PA" "${dirs[0]}/log"; wait_ready "$PB" "${dirs[1]}/log"
  for r in $(seq 1 "$ROUNDS"); do
    # The two drivers start a few ms apart; odd rounds start A's first, even rounds B's.
    if (( r % 2 )); then flow "$PA" "${keys[0]}" "$W/$store-a$r.json"; fa=$!; flow "$PB" "${keys[1]}" "$W/$store-b$r.json"; fb=$!
    else flow "$PB" "${keys[1]}" "$W/$store-b$r.json"; fb=$!; flow "$PA" "${keys[0]}" "$W/$store-a$r.json"; fa=$!; fi
    wait "$fa"; wait "$fb"
    pids=("${pids[@]:0:2}")
    node -e "
      const rd = (f) => JSON.parse(require('fs').readFileSync(f, 'utf8'));
      const a = rd('$W/$store-a$r.json'), b = rd('$W/$store-b$r.json');
      const fl = (x) => x.failures ? ' ' + x.failures + ' FAILURES ' + JSON.stringify(x.errors) : '';
      console.log('$store round $r: A ' + a.pairsPerSec + ' pairs/s (start p99 ' + a.start.p99ms + ', check p99 ' + a.check.p99ms + ' ms)' + fl(a) + ', B ' + b.pairsPerSec
        + ' (start p99 ' + b.start.p99ms + ', check p99 ' + b.check.p99ms + ' ms)' + fl(b) + ': B/A x' + (b.pairsPerSec / a.pairsPerSec).toFixed(2));"
  done
  stop_all
  node -e "
    const fs = require('fs'), n = $ROUNDS, rd = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
    const a = [], b = [];
    for (let r = 1; r <= n; r++) { a.push(rd('$W/$store-a' + r + '.json')); b.push(rd('$W/$store-b' + r + '.json')); }
    const med = (xs) => { const s = [...xs].sort((x, y) => x - y), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
    const ratios = a.map((x, i) => b[i].pairsPerSec / x.pairsPerSec);
    const fails = (xs) => xs.reduce((t, x) => t + x.failures, 0);
    console.log('SUMMARY $store (' + n + ' x ${WARMUP}+${SECONDS_} s, $CONC clients each): median B/A x' + med(ratios).toFixed(2)
      + ' (rounds ' + ratios.map((x) => x.toFixed(2)).join(' ') + '); median pairs/s A ' + med(a.map((x) => x.pairsPerSec)).toFixed(0)
      + ', B ' + med(b.map((x) => x.pairsPerSec)).toFixed(0) + '; median start p99 A ' + med(a.map((x) => x.start.p99ms)).toFixed(1)
      + ' ms, B ' + med(b.map((x) => x.start.p99ms)).toFixed(1) + ' ms; median check p99 A ' + med(a.map((x) => x.check.p99ms)).toFixed(1)
      + ' ms, B ' + med(b.map((x) => x.check.p99ms)).toFixed(1) + ' ms; failures A ' + fails(a) + ', B ' + fails(b));" | tee -a "$W/summary"
}

for s in "${STORES[@]}"; do
  [ "$s" = postgres ] && pg_up
  run_store "$s"
done
[ ${#STORES[@]} -gt 1 ] && { echo; cat "$W/summary"; }
exit 0
