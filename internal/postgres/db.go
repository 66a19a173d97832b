// Package postgres is the PostgreSQL + pgvector adapter: the connection
// pool, the embedded migrations, and the stores for documents, jobs,
// chunks, search and summaries. It translates driver errors into protostar
// domain errors (no rows → ENOTFOUND, unique violation → ECONFLICT,
// connection failures → EUNAVAILABLE).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/protostar/protostar"
)

// ErrNotMigrated says the database has no protostar schema (not even the
// vector extension) yet; its message is what operators must do.
var ErrNotMigrated = &protostar.Error{Code: protostar.EUNAVAILABLE,
	Message: "schema not migrated: run `protostar migrate up` (or set PROTOSTAR_MIGRATE_ON_START=true)", Err: errNoSchema}

// errNoSchema identifies ErrNotMigrated (protostar.Error matches by code).
var errNoSchema = errors.New("no protostar schema in the database")

// DB is the application's connection pool. The pool connects lazily and
// reconnects by itself, so a Postgres restart needs no process restart.
type DB struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
}

// Option changes how Open builds the pool.
type Option func(*pgxpool.Config)

// WithTracer traces every query of the pool with t (combine several with
// pgx's multitracer). Tests use it to act between two statements.
func WithTracer(t pgx.QueryTracer) Option {
	return func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = t }
}

// Open builds the pool without connecting. maxConns caps its size.
func Open(logger *slog.Logger, dsn string, maxConns int32, opts ...Option) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	for _, o := range opts {
		o(cfg)
	}
	cfg.MaxConns = maxConns
	cfg.MinConns = 0
	cfg.HealthCheckPeriod = 5 * time.Second
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	cfg.ConnConfig.RuntimeParams["application_name"] = "protostar"
	// A process frozen inside a transaction (a GC pause, a stopped VM, a
	// SIGSTOP) must not hold its locks for as long as it is frozen: the
	// reaper and the attempt replacing it wait on them. Postgres ends such
	// a session once it sits idle in a transaction this long; a live
	// process never does (its transactions run statement after statement).
	if _, set := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "20s"
	}
	// Needs the vector extension, which migrations create: until they have
	// run, connections fail here and readiness reports it.
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		err := pgxvec.RegisterTypes(ctx, conn)
		if err != nil && strings.Contains(err.Error(), "type not found") {
			return fmt.Errorf("register pgvector types: %w", ErrNotMigrated)
		}
		return err
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	return &DB{pool: pool, logger: logger.With("component", "postgres")}, nil
}

// Pool exposes the pool to benchmarks and tests of this package's users.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Close closes every connection.
func (db *DB) Close() { db.pool.Close() }

// Ping checks that a connection can be had and used.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		if errors.Is(err, errNoSchema) {
			return ErrNotMigrated
		}
		return translate(err, "ping postgres")
	}
	return nil
}

// translate maps driver errors to domain errors, keeping the cause.
func translate(err error, op string) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return &protostar.Error{Code: protostar.ENOTFOUND, Message: "not found", Err: fmt.Errorf("%s: %w", op, err)}
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		return &protostar.Error{Code: protostar.ECONFLICT, Message: "already exists", Err: fmt.Errorf("%s: %w", op, err)}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", op, err)
	case isConnError(err):
		return &protostar.Error{Code: protostar.EUNAVAILABLE, Message: "database unavailable", Err: fmt.Errorf("%s: %w", op, err)}
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isConnError(err error) bool {
	var netErr net.Error
	var connErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-03: admin shutdown, crash
		// shutdown, cannot connect now (server starting or stopping).
		return pgErr.Code[:2] == "08" || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	return errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) ||
		errors.Is(err, net.ErrClosed)
}

// Ready checks that Postgres answers and the schema is migrated.
func (db *DB) Ready(ctx context.Context) error {
	if err := db.Ping(ctx); err != nil {
		return err
	}
	if _, err := db.pool.Exec(ctx, `SELECT 1 FROM chunks LIMIT 0`); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
			return ErrNotMigrated
		}
		return translate(err, "check schema")
	}
	return nil
}
