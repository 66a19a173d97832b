#!/usr/bin/env bash
# test-failures.sh LOG: print, for every subtest that failed in a `go test -v`
# log, the lines that subtest logged (its errors among them), so that the
# reason for a failure is at the end of a long run's output rather than
# minutes above it.
set -euo pipefail
awk '
	/^=== (RUN|NAME|CONT) / { cur = $3; next }
	/^ *--- FAIL: / { failed[++n] = $3; next }
	/^ *--- (PASS|SKIP): / { next }
	cur != "" && /^    / { out[cur] = out[cur] $0 "\n" }
	END {
		for (i = 1; i <= n; i++) {
			name = failed[i]
			if (!(name in out)) continue
			printf "\n--- what %s logged:\n%s", name, out[name]
		}
	}
' "$1"
