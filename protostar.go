// Package protostar holds the domain of the protostar knowledge engine: the
// types that flow between packages (documents, jobs, chunks, search hits,
// citations) and the one error type that every layer speaks.
//
// It imports no adapter. Adapters (postgres, queue, s3, httpapi, providers)
// and domain services (ingest, search, summary, answer) depend on it; only
// internal/cli (daemon.go and its wiring files) wires them together.
package protostar
