package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// waitForDependency blocks until ping succeeds, retrying with exponential backoff
// and logging each failed attempt, for at most maxWait. It fails only when
// the deadline passes or ctx ends.
func waitForDependency(ctx context.Context, logger *slog.Logger, what string, maxWait time.Duration, ping func(context.Context) error) error {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 200 * time.Millisecond
	bo.MaxInterval = 5 * time.Second
	attempt := 0
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		attempt++
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := ping(pctx)
		if err != nil && ctx.Err() == nil {
			logger.Warn("waiting for dependency", "dependency", what, "attempt", attempt, "error", err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(bo), backoff.WithMaxElapsedTime(maxWait), backoff.WithMaxTries(0))
	if err != nil {
		return fmt.Errorf("%s not reachable after %d attempts within %s: %w", what, attempt, maxWait, err)
	}
	if attempt > 1 {
		logger.Info("dependency reachable", "dependency", what, "attempts", attempt)
	}
	return nil
}
