// Package faults is protostar's fault suite: it runs the real binary as
// separate OS processes (2 serve, 3 worker) against private Redis, Postgres
// and MinIO processes, injects real faults (SIGKILL, SIGTERM, stopped
// services) while clients post and search, and checks that no accepted work
// is lost or duplicated. The tests carry the `faults` build tag, so plain
// `go test ./...` skips them; run them with `make test-faults` (full) or
// FAULTS_SCALE=short (the CI variant run by `make test`). See
// docs/reliability.md.
package faults
