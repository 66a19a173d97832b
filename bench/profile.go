package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// profiler takes CPU profiles of protostar processes through their
// PROTOSTAR_DEBUG_ADDR listener (bench -profile DIR).
type profiler struct {
	dir string
	wg  sync.WaitGroup
}

// cpu starts a CPU profile of p lasting d and writes it to dir/name.pprof
// when it ends; wait collects every started profile. A nil profiler does
// nothing.
func (pr *profiler) cpu(ctx context.Context, p *proc, name string, d time.Duration) {
	if pr == nil || p == nil || p.debugURL == "" {
		return
	}
	pr.wg.Go(func() {
		url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", p.debugURL, int(d.Seconds()))
		code, body, err := httpGet(ctx, url)
		if err == nil && code != 200 {
			err = fmt.Errorf("status %d: %s", code, body)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(pr.dir, name+".pprof"), body, 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: profile %s: %v\n", name, err)
		}
	})
}

func (pr *profiler) wait() {
	if pr != nil {
		pr.wg.Wait()
	}
}
