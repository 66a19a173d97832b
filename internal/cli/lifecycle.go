package cli

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// lifecycle starts a process's components in order and, on every way out
// of runServer, stops the ones that started in reverse order, each once.
type lifecycle struct {
	logger *slog.Logger
	stops  []stopper
}

type stopper struct {
	name string
	stop func()
}

// starter starts a component and returns how to stop it, which must wait
// for every goroutine the component started.
type starter func() (stop func(), err error)

// start starts the component name; once it has started, stopAll stops it.
func (l *lifecycle) start(name string, s starter) error {
	stop, err := s()
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	l.stops = append(l.stops, stopper{name, sync.OnceFunc(stop)})
	return nil
}

// stopAll stops the started components, the last started first.
func (l *lifecycle) stopAll() {
	for i := len(l.stops) - 1; i >= 0; i-- {
		l.logger.Debug("stopping", "component", l.stops[i].name)
		l.stops[i].stop()
	}
	l.stops = nil
}

// goroutine starts fn in a goroutine with a context of its own; stopping
// cancels that context and waits for fn to return.
func goroutine(ctx context.Context, fn func(context.Context)) starter {
	return func() (func(), error) {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			fn(ctx)
		}()
		return func() { cancel(); <-done }, nil
	}
}
