package main

import (
	"context"
	"sync"
)

// forEach runs fn(ctx, i) for i in [0, n), at most limit at a time. The
// first error cancels the context passed to the others and is returned.
func forEach(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg   sync.WaitGroup
		once sync.Once
		ferr error
		next = make(chan int)
	)
	for range min(limit, n) {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					continue
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { ferr = err; cancel(err) })
				}
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if ferr == nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return ferr
}
