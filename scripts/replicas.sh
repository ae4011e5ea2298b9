#!/usr/bin/env bash
# Scale-out on one machine: two API replicas (SERVER_RUN_SERVICES=false) and one `services start` process on
# one PostgreSQL database and Redis (PREFECT_SERVER_EVENTS_MESSAGING_BROKER=redis): the shape compose.yaml
# runs with containers. Waits until both replicas answer /api/ready and the services process is up, then
# either stops everything cleanly (default: a smoke check) or keeps it running until Ctrl-C (--hold).
#
# usage: scripts/replicas.sh [--hold] [--build] [--dev] [--keep-db]
#   --hold      keep the three processes running until Ctrl-C (prints the URLs), then stop them cleanly
#   --build     run `npm run build` first (done anyway when dist/ is missing)
#   --dev       run the TypeScript sources through @swc-node/register instead of dist/ (no build)
#   --keep-db   do not drop the database at the end
# environment:
#   ADMIN_DATABASE_URL  a PostgreSQL URL allowed to CREATE/DROP DATABASE (default postgres://postgres@127.0.0.1:5432/postgres)
#   DATABASE_URL        use this existing database instead of creating a throwaway one
#   REDIS_URL           (default redis://127.0.0.1:6379)
#   API_PORT_A, API_PORT_B   (default 4311, 4312)    SERVICES_METRICS_PORT (default 4313)
#   READY_TIMEOUT       seconds to wait for readiness (default 90)
#   any other setting (PREFECT_SERVER_API_AUTH_STRING, LOG_LEVEL, …) is passed to all three processes.
set -euo pipefail
if ((BASH_VERSINFO[0] < 4)); then echo "scripts/replicas.sh needs bash >= 4" >&2; exit 2; fi

cd "$(dirname "$0")/.."
HOLD=0 BUILD=0 DEV=0 KEEP_DB=0
for arg in "$@"; do
  case "$arg" in
    --hold) HOLD=1 ;;
    --build) BUILD=1 ;;
    --dev) DEV=1 ;;
    --keep-db) KEEP_DB=1 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

ADMIN_DATABASE_URL=${ADMIN_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
API_PORT_A=${API_PORT_A:-4311}
API_PORT_B=${API_PORT_B:-4312}
export SERVICES_METRICS_PORT=${SERVICES_METRICS_PORT:-4313}
READY_TIMEOUT=${READY_TIMEOUT:-90}
export HOST=127.0.0.1
export PREFECT_SERVER_EVENTS_MESSAGING_BROKER=redis
export LOG_LEVEL=${LOG_LEVEL:-info}
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/replicas.XXXXXX")

log() { printf '[replicas] %s\n' "$*" >&2; }

if [ "$DEV" = 1 ]; then
  MAIN=(node -r @swc-node/register src/main.ts)
  CLI=(node -r @swc-node/register src/cli.ts)
else
  if [ "$BUILD" = 1 ] || [ ! -f dist/main.js ] || [ ! -f dist/cli.js ]; then
    log "building (npm run build)"
    npm run --silent build
  fi
  MAIN=(node dist/main.js)
  CLI=(node dist/cli.js)
fi

# A tiny SQL runner on the project's own pg driver (psql may not be installed).
sql() {
  node -e '
    const { Client } = require("pg");
    const c = new Client({ connectionString: process.argv[1] });
    c.connect().then(() => c.query(process.argv[2])).then(() => c.end(), (e) => { console.error(e.message); process.exit(1); });
  ' "$1" "$2"
}

CREATED_DB=""
if [ -z "${DATABASE_URL:-}" ]; then
  DB_NAME="prefect_replicas_$(date +%s)_$$"
  sql "$ADMIN_DATABASE_URL" "CREATE DATABASE \"$DB_NAME\""
  CREATED_DB=$DB_NAME
  DATABASE_URL=$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.toString())' "$ADMIN_DATABASE_URL" "$DB_NAME")
  log "created database $DB_NAME"
fi
export DATABASE_URL
# A Redis stream of its own, so runs sharing a Redis server do not consume each other's events.
export PREFECT_SERVER_EVENTS_REDIS_STREAM=${PREFECT_SERVER_EVENTS_REDIS_STREAM:-prefect:replicas:$(date +%s):$$}

# Redis must answer before anything starts (the bus needs it).
node -e '
  const Redis = require("ioredis");
  const r = new Redis(process.argv[1], { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.connect().then(() => r.ping()).then(() => r.quit(), (e) => { console.error("Redis does not answer at " + process.argv[1] + ": " + e.message); process.exit(1); });
' "$REDIS_URL"

declare -A PIDS=()
STATUS=0

stop_all() {
  for name in services api-b api-a; do
    pid=${PIDS[$name]:-}
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true
  done
  for name in services api-b api-a; do
    pid=${PIDS[$name]:-}
    [ -z "$pid" ] && continue
    code=0
    wait "$pid" || code=$?
    if [ "$code" = 0 ]; then log "$name stopped (exit 0)"; else log "$name exited $code (log: $LOG_DIR/$name.log)"; STATUS=1; fi
    unset "PIDS[$name]"
  done
}

cleanup() {
  stop_all
  node -e '
    const Redis = require("ioredis");
    const r = new Redis(process.argv[1], { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.connect().then(() => r.del(process.argv[2])).then(() => r.quit(), () => process.exit(0));
  ' "$REDIS_URL" "$PREFECT_SERVER_EVENTS_REDIS_STREAM" || true
  if [ -n "$CREATED_DB" ] && [ "$KEEP_DB" = 0 ]; then
    sql "$ADMIN_DATABASE_URL" "DROP DATABASE IF EXISTS \"$CREATED_DB\" WITH (FORCE)" && log "dropped database $CREATED_DB"
  fi
  log "logs in $LOG_DIR"
}
trap 'cleanup; exit $STATUS' EXIT
trap 'exit' INT TERM

start() { # name, env assignments…, -- command…
  local name=$1
  shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" "$@" >"$LOG_DIR/$name.log" 2>&1 &
  PIDS[$name]=$!
  log "started $name (pid ${PIDS[$name]})"
}

AUTH_HEADER=()
if [ -n "${PREFECT_SERVER_API_AUTH_STRING:-}" ]; then
  AUTH_HEADER=("Basic $(printf '%s' "$PREFECT_SERVER_API_AUTH_STRING" | base64 | tr -d '\n')")
fi

wait_ready() { # name, url: until it answers 200
  local deadline=$((SECONDS + READY_TIMEOUT))
  until node -e '
    const headers = process.argv[2] ? { Authorization: process.argv[2] } : {};
    fetch(process.argv[1], { headers }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1));
  ' "$2" "${AUTH_HEADER[@]}"; do
    if ! kill -0 "${PIDS[$1]}" 2>/dev/null; then log "$1 died while starting:"; tail -n 20 "$LOG_DIR/$1.log" >&2; STATUS=1; exit 1; fi
    if [ $SECONDS -ge $deadline ]; then log "$1 not ready after ${READY_TIMEOUT}s:"; tail -n 20 "$LOG_DIR/$1.log" >&2; STATUS=1; exit 1; fi
    sleep 0.5
  done
  log "$1 answers at $2"
}

# The first replica migrates the database; the others start once it has.
start api-a PORT="$API_PORT_A" SERVER_RUN_SERVICES=false DATABASE_MIGRATE_ON_START=true -- "${MAIN[@]}"
wait_ready api-a "http://127.0.0.1:$API_PORT_A/api/ready"
start api-b PORT="$API_PORT_B" SERVER_RUN_SERVICES=false DATABASE_MIGRATE_ON_START=false -- "${MAIN[@]}"
start services DATABASE_MIGRATE_ON_START=false -- "${CLI[@]}" services start
wait_ready api-b "http://127.0.0.1:$API_PORT_B/api/ready"
# The services process has no HTTP API: it serves /metrics once its services have started.
wait_ready services "http://127.0.0.1:$SERVICES_METRICS_PORT/metrics"
# Every process serves its metrics: the replicas under /api/metrics, the services process on its own port.
for url in "http://127.0.0.1:$API_PORT_A/api/metrics" "http://127.0.0.1:$API_PORT_B/api/metrics" "http://127.0.0.1:$SERVICES_METRICS_PORT/metrics"; do
  node -e '
    const headers = process.argv[2] ? { Authorization: process.argv[2] } : {};
    fetch(process.argv[1], { headers }).then(async (r) => {
      const text = await r.text();
      if (r.status !== 200 || !text.includes("process_cpu_user_seconds_total")) { console.error(process.argv[1] + " answered " + r.status); process.exit(1); }
    }, (e) => { console.error(process.argv[1] + ": " + e.message); process.exit(1); });
  ' "$url" "${AUTH_HEADER[@]}" || { STATUS=1; exit 1; }
  log "metrics at $url"
done

if [ "$HOLD" = 1 ]; then
  log "running: API http://127.0.0.1:$API_PORT_A/api and http://127.0.0.1:$API_PORT_B/api; Ctrl-C stops all"
  while :; do
    for name in api-a api-b services; do
      if ! kill -0 "${PIDS[$name]}" 2>/dev/null; then log "$name exited"; STATUS=1; exit 1; fi
    done
    sleep 1
  done
fi
log "all three up; stopping them (SIGTERM)"
