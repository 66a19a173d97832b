// Package cli parses protostar's command line and runs the chosen command.
// daemon.go is the one place that builds and wires every component.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/protostar/protostar/internal/config"
	"github.com/protostar/protostar/internal/httpapi"
	"github.com/protostar/protostar/internal/telemetry"
)

const usage = `protostar — the knowledge engine behind Protostar.

Server commands (configured by PROTOSTAR_* environment variables, see README):
  serve                 run the HTTP API
  worker                run the background workers (ingest and summary queues)
  all                   run the API and the workers in one process
  migrate up|down|status
                        apply, roll back (one step) or list schema migrations
  config                print the effective configuration, secrets masked
  version [--json]      print the version, source revision and Go version
  healthcheck [--worker] [--url URL]
                        exit 0 if the local process's /readyz answers 2xx (container probes)
  openapi               print the API's OpenAPI 3.1 document (connects to nothing)
  tenants create ID [--name N] | list | delete ID
                        manage run-time tenants, directly on the database
  keys create [--tenant ID | --platform] [--name N] [--expires 720h] | list [--tenant ID] | revoke ID [--tenant ID]
                        manage API keys (shown once; stored as SHA-256), directly on the database
  embeddings list | create | backfill | status | compare | activate | rollback | retire
                        change the embedding model with zero downtime (docs/embedding-models.md)

Client commands (talk to a running API; PROTOSTAR_URL, PROTOSTAR_API_KEY):
  ingest PATH...        upload Markdown files or folders and wait for them
  search QUERY          search documents
  ask QUESTION          answer a question from the documents, streamed
  summarize ID|KEY      summarise a document
  docs                  list documents
  jobs                  list jobs
  eval retrieval        measure search on a SQuAD-format file (R@k, MRR@10, queries/s)
Client flags: --json for machine-readable output; see 'protostar CMD -h'.
`

// Run executes the command in args and returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve", "worker", "all":
		err = runServer(ctx, cmd, rest, stderr)
	case "migrate":
		err = runMigrate(ctx, rest, stdout, stderr)
	case "config":
		err = runConfig(stdout)
	case "version":
		err = runVersion(rest, stdout)
	case "healthcheck":
		err = runHealthcheck(ctx, rest, stdout)
	case "openapi":
		err = runOpenAPI(rest, stdout)
	case "tenants", "keys":
		err = runAccounts(ctx, cmd, rest, stdout, stderr)
	case "embeddings":
		err = runEmbeddings(ctx, rest, stdout, stderr)
	default:
		if client, ok := clientCommands[cmd]; ok {
			err = client(ctx, rest, stdout, stderr)
			break
		}
		fmt.Fprintf(stderr, "protostar: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "protostar %s: %v\n", cmd, err)
		return 2
	}
	fmt.Fprintf(stderr, "protostar %s: %v\n", cmd, err)
	return 1
}

// usageError marks errors in how a command was called (exit code 2).
type usageError struct{ error }

func runConfig(stdout io.Writer) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	return cfg.Dump(stdout)
}

// runOpenAPI prints the OpenAPI document the API serves, built without
// configuration or connections, so that api/openapi.json and the clients
// generated from it can be made anywhere.
func runOpenAPI(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("takes no arguments")}
	}
	raw, err := httpapi.OpenAPIDocument()
	if err != nil {
		return err
	}
	_, err = stdout.Write(raw)
	return err
}

// newLogger builds the process logger from the configuration.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(telemetry.LogHandler{Handler: h})
}
