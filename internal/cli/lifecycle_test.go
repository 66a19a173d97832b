package cli

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
)

// TestLifecycleStopsInReverse: components stop in reverse order of start,
// each once, only if they started, and a goroutine component is joined.
func TestLifecycleStopsInReverse(t *testing.T) {
	var got []string
	comp := func(name string, fail bool) starter {
		return func() (func(), error) {
			if fail {
				return nil, errors.New("boom")
			}
			got = append(got, "start "+name)
			return func() { got = append(got, "stop "+name) }, nil
		}
	}
	lc := &lifecycle{logger: slog.New(slog.DiscardHandler)}
	for _, name := range []string{"a", "b"} {
		if err := lc.start(name, comp(name, false)); err != nil {
			t.Fatal(err)
		}
	}
	var exited bool
	if err := lc.start("loop", goroutine(context.Background(), func(ctx context.Context) {
		<-ctx.Done()
		exited = true
	})); err != nil {
		t.Fatal(err)
	}
	if err := lc.start("c", comp("c", true)); err == nil || err.Error() != "start c: boom" {
		t.Fatalf("failed start: %v", err)
	}
	lc.stopAll()
	lc.stopAll()
	if want := []string{"start a", "start b", "stop b", "stop a"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if !exited {
		t.Error("the goroutine was not joined by its stop")
	}
}
