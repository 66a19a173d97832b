package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
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
	m, err := openMigrator(ctx, cfg, newLogger(cfg, stderr))
	if err != nil {
		return err
	}
	defer m.Close()
	switch args[0] {
	case "up":
		return migrateUp(ctx, m, func(line string) { fmt.Fprintln(stdout, line) })
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

// migrateUp applies the pending migrations (under the migrator's Postgres
// session lock, so concurrent starts are safe) and reports each line.
func migrateUp(ctx context.Context, m *postgres.Migrator, report func(string)) error {
	res, err := m.Up(ctx)
	for _, r := range res {
		report(fmt.Sprintf("applied %05d %s (%s)", r.Source.Version, cmp.Or(r.Source.Path, "go migration"), r.Duration.Round(time.Millisecond)))
	}
	if err == nil && len(res) == 0 {
		report("schema is up to date")
	}
	return err
}

// migrateOnStart is PROTOSTAR_MIGRATE_ON_START: serve and worker migrate
// the schema themselves once Postgres answers, as miniflux's
// RUN_MIGRATIONS does; convenient for one-box installs.
func migrateOnStart(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	m, err := openMigrator(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer m.Close()
	return migrateUp(ctx, m, func(line string) { logger.Info("migrate on start: " + line) })
}

// openMigrator returns a migrator once Postgres answers (waiting with
// backoff for PROTOSTAR_DATABASE_WAIT_TIMEOUT); the caller closes it.
func openMigrator(ctx context.Context, cfg config.Config, logger *slog.Logger) (*postgres.Migrator, error) {
	m, err := postgres.NewMigrator(logger, cfg.DatabaseURL, cfg.EmbedSpec())
	if err != nil {
		return nil, err
	}
	if err := waitForDependency(ctx, logger, "postgres", cfg.DatabaseWaitTimeout, func(ctx context.Context) error {
		_, err := m.Pending(ctx)
		return err
	}); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}
