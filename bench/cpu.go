package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times; it is 100
// on every Linux architecture Go supports.
const clockTicks = 100

// cpuMeter adds up the CPU time that processes spend during a phase: the
// given protostar processes (and the benchmark itself) plus every Postgres
// backend connected to the phase's database, sampled every 100 ms so that
// backends that come and go are counted too. On a shared machine wall-clock
// rates move with other people's load; CPU seconds per chunk do not, which
// makes them the figure to reason with when a rate looks odd.
type cpuMeter struct {
	db     *database
	procs  map[string]int // name → pid
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	first map[int]int64 // ticks when first seen (0 for backends born during the phase)
	last  map[int]int64
	group map[int]string
}

// startCPU starts measuring; stop returns CPU seconds by group ("postgres",
// "bench" and the names of procs).
func startCPU(ctx context.Context, db *database, procs map[string]*proc) *cpuMeter {
	m := &cpuMeter{db: db, procs: map[string]int{"bench": os.Getpid()}, done: make(chan struct{}),
		first: map[int]int64{}, last: map[int]int64{}, group: map[int]string{}}
	for name, p := range procs {
		if p != nil && !p.Exited() {
			m.procs[name] = p.Pid()
		}
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.sample(ctx, true)
	go func() {
		defer close(m.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.sample(ctx, false)
			}
		}
	}()
	return m
}

func (m *cpuMeter) sample(ctx context.Context, initial bool) {
	pids := map[int]string{}
	for name, pid := range m.procs {
		pids[pid] = name
	}
	if m.db != nil {
		// The backend running this query is listed too: it is one of the
		// pool's connections, and left out of the first sample it would
		// count as born during the phase, with all its earlier CPU time.
		rows, err := m.db.DB.Pool().Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1`, m.db.Name)
		if err == nil {
			var pid int
			_, _ = pgx.ForEachRow(rows, []any{&pid}, func() error { pids[pid] = "postgres"; return nil })
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for pid, group := range pids {
		ticks, err := procTicks(pid)
		if err != nil {
			continue
		}
		if _, seen := m.first[pid]; !seen {
			if initial || group != "postgres" {
				m.first[pid] = ticks
			} else {
				m.first[pid] = 0 // born during the phase: all its time counts
			}
			m.group[pid] = group
		}
		m.last[pid] = ticks
	}
}

// stop ends the measurement and returns CPU seconds per group.
func (m *cpuMeter) stop(ctx context.Context) map[string]float64 {
	m.sample(ctx, false)
	m.cancel()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]float64{}
	for pid, group := range m.group {
		out[group] += float64(m.last[pid]-m.first[pid]) / clockTicks
	}
	return out
}

// procTicks returns utime+stime of a process in clock ticks.
func procTicks(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are
	// plain. utime and stime are fields 14 and 15.
	s := string(raw)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return u + st, nil
}

// cpuParams describes CPU use per chunk for params.
func cpuParams(cpu map[string]float64, chunks int) map[string]any {
	out := map[string]any{}
	total := 0.0
	for g, s := range cpu {
		out[g+"_cpu_s"] = round(s)
		total += s
	}
	out["total_cpu_ms_per_chunk"] = round(total * 1000 / float64(max(chunks, 1)))
	if pg, ok := cpu["postgres"]; ok {
		out["postgres_cpu_ms_per_chunk"] = round(pg * 1000 / float64(max(chunks, 1)))
	}
	return out
}

// cpuPerRequest describes CPU use per request for params.
func cpuPerRequest(cpu map[string]float64, requests int) map[string]any {
	out := map[string]any{}
	for g, s := range cpu {
		out[g+"_cpu_ms_per_request"] = round(s * 1000 / float64(max(requests, 1)))
	}
	return out
}
