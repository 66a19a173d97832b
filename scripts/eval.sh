#!/usr/bin/env bash
# scripts/eval.sh BIN DATA [eval flags]: what `make eval` does after the
# stack is up. Creates a scratch database on the stack's Postgres, starts
# `protostar all` on it on a free loopback port with a platform key, a Redis
# database of its own and a bucket of its own, runs
# `protostar eval retrieval --data DATA` against it, then stops the server
# and drops the database. EVAL_SERVER_BIN runs another build as the server
# (to measure an older version with the same command); EVAL_KEEP_DB=1 keeps
# the database (its URL is printed) for a closer look.
set -euo pipefail
BIN=${1:?usage: scripts/eval.sh BIN DATA [flags]}
DATA=${2:?usage: scripts/eval.sh BIN DATA [flags]}
shift 2
SERVER_BIN=${EVAL_SERVER_BIN:-$BIN}
[[ -r "$DATA" ]] || { echo "eval: cannot read $DATA (EVAL_DATA=...)" >&2; exit 1; }
: "${PROTOSTAR_DATABASE_URL:?run through make eval, or eval \"\$(scripts/stack.sh env)\" first}"
PSQL="${PROTOSTAR_STACK_PG_BIN:-/usr/lib/postgresql/15/bin}/psql"

id="eval_$$_$(date +%s)"
base=${PROTOSTAR_DATABASE_URL%%\?*}
query=${PROTOSTAR_DATABASE_URL#"$base"}
db_url="${base%/*}/$id$query"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp -t protostar-eval.XXXXXX.log)
key="eval-platform-key-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

"$PSQL" -q "$PROTOSTAR_DATABASE_URL" -c "CREATE DATABASE $id" >/dev/null
server=
cleanup() {
  [[ -n "$server" ]] && { kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  if [[ -n "${EVAL_KEEP_DB:-}" ]]; then
    echo "eval: kept the database $db_url" >&2
  else
    "$PSQL" -q "$PROTOSTAR_DATABASE_URL" -c "DROP DATABASE IF EXISTS $id WITH (FORCE)" >/dev/null || true
  fi
}
trap cleanup EXIT INT TERM

PROTOSTAR_DATABASE_URL="$db_url" PROTOSTAR_MIGRATE_ON_START=true PROTOSTAR_HTTP_ADDR="127.0.0.1:$port" \
  PROTOSTAR_API_KEYS="*:$key" PROTOSTAR_REDIS_URL="${PROTOSTAR_REDIS_URL%/*}/${EVAL_REDIS_DB:-11}" \
  PROTOSTAR_S3_BUCKET="protostar-eval" PROTOSTAR_S3_CREATE_BUCKET=true PROTOSTAR_S3_WATCH=false \
  PROTOSTAR_RATE_LIMIT=100000 PROTOSTAR_RATE_BURST=100000 PROTOSTAR_TENANT_RATE_LIMIT=0 \
  PROTOSTAR_LOG_LEVEL=warn OTEL_TRACES_EXPORTER=none "$SERVER_BIN" all >"$log" 2>&1 &
server=$!
for _ in $(seq 1 150); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { tail -n 30 "$log" >&2; echo "eval: protostar exited; log: $log" >&2; exit 1; }
  sleep 0.2
done
PROTOSTAR_URL="http://127.0.0.1:$port" PROTOSTAR_API_KEY="$key" "$BIN" eval retrieval --data "$DATA" "$@"
