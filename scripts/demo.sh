#!/usr/bin/env bash
# scripts/demo.sh BIN: what `make run` does after the stack is up. Migrates
# the schema, starts `protostar all`, ingests the demo corpus, prints a
# sample search, answer and summary, then keeps the server in the
# foreground until Ctrl-C.
set -euo pipefail
BIN=${1:-bin/protostar}
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

export PROTOSTAR_URL="http://${PROTOSTAR_HTTP_ADDR}"
export PROTOSTAR_API_KEY="${PROTOSTAR_API_KEYS#*:}"
PROTOSTAR_API_KEY="${PROTOSTAR_API_KEY%%,*}"

"$BIN" migrate up >&2
"$BIN" all &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER' INT TERM

for _ in $(seq 1 100); do
  curl -fsS "$PROTOSTAR_URL/readyz" >/dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { echo "protostar exited; see the log above" >&2; exit 1; }
  sleep 0.2
done

if [[ -x "$BIN" ]] && "$BIN" help 2>/dev/null | grep -q '^  ingest'; then
  "$BIN" ingest demo/ || true
fi

cat <<MSG

────────────────────────────────────────────────────────────────────────
 protostar is running:  $PROTOSTAR_URL
 API key (tenant demo): $PROTOSTAR_API_KEY
 Readiness:             curl -s $PROTOSTAR_URL/readyz
 API reference:         $PROTOSTAR_URL/docs   (OpenAPI: /openapi.json)
 Press Ctrl-C to stop.
────────────────────────────────────────────────────────────────────────
MSG
wait $SERVER
