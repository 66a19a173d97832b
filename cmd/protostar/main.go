// Command protostar is the knowledge engine's single binary: the HTTP API
// (serve), the background workers (worker), both at once (all), schema
// migrations (migrate) and client commands that talk to a running API.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/protostar/protostar/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
