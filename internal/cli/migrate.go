package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/protostar/protostar/internal/config"
	"github.com/protostar/protostar/internal/postgres"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 || (args[0] != "up" && args[0] != "down" && args[0] != "status") {
		return usageError{fmt.Errorf("usage: protostar migrate up|down|status")}
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	m, err := postgres.NewMigrator(logger, cfg.DatabaseURL, cfg.EmbedDimensions)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := postgres.WaitReady(ctx, logger, "postgres", cfg.DatabaseWaitTimeout, func(ctx context.Context) error {
		_, err := m.Pending(ctx)
		return err
	}); err != nil {
		return err
	}
	switch args[0] {
	case "up":
		res, err := m.Up(ctx)
		for _, r := range res {
			fmt.Fprintf(stdout, "applied %05d %s (%s)\n", r.Source.Version, cmp.Or(r.Source.Path, "go migration"), r.Duration.Round(time.Millisecond))
		}
		if err == nil && len(res) == 0 {
			fmt.Fprintln(stdout, "schema is up to date")
		}
		return err
	case "down":
		r, err := m.Down(ctx)
		if r != nil {
			fmt.Fprintf(stdout, "rolled back %05d %s\n", r.Source.Version, cmp.Or(r.Source.Path, "go migration"))
		}
		return err
	}
	st, err := m.Status(ctx)
	for _, s := range st {
		fmt.Fprintf(stdout, "%-8s %05d  %s\n", s.State, s.Source.Version, cmp.Or(s.Source.Path, "go migration"))
	}
	return err
}
