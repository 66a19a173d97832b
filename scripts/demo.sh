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

LOG="$ROOT/.stack/protostar.log"
mkdir -p "$(dirname "$LOG")"
"$BIN" migrate up >&2
"$BIN" all >>"$LOG" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER' INT TERM

for _ in $(seq 1 100); do
  curl -fsS "$PROTOSTAR_URL/readyz" >/dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { tail -n 30 "$LOG" >&2; echo "protostar exited; log: $LOG" >&2; exit 1; }
  sleep 0.2
done

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

section "Ingesting the demo corpus (demo/)"
"$BIN" ingest demo/ || echo "(some documents failed; see the table above)"

section 'Sample search: protostar search "데이터베이스 백업"'
"$BIN" search "데이터베이스 백업" --top-k 3 || true

section 'Sample answer: protostar ask "What does a rollback mean?"'
"$BIN" ask "What does a rollback mean?" || true

section 'Sample summary: protostar summarize postgres-tuning.ko.md'
"$BIN" summarize postgres-tuning.ko.md --length short || true

cat <<MSG

────────────────────────────────────────────────────────────────────────
 protostar is running:  $PROTOSTAR_URL
 API key (tenant demo): $PROTOSTAR_API_KEY
 Console:               $PROTOSTAR_URL/console/   (sign in with the API key above)
 Readiness:             curl -s $PROTOSTAR_URL/readyz
 Server log:            tail -f $LOG
 API reference:         $PROTOSTAR_URL/docs   (OpenAPI: /openapi.json)
 Bucket sync:           a Markdown file put under demo/ in the bucket is searchable in
                        seconds, with no API call; removing it removes it. For example:
   curl -sS --aws-sigv4 aws:amz:us-east-1:s3 --user "$PROTOSTAR_S3_ACCESS_KEY:$PROTOSTAR_S3_SECRET_KEY" \\
     -T notes.md "http://$PROTOSTAR_S3_ENDPOINT/$PROTOSTAR_S3_BUCKET/demo/notes.md"
 Press Ctrl-C to stop.
────────────────────────────────────────────────────────────────────────
MSG
wait $SERVER
