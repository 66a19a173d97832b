//go:build faults

package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// scenarioRedisMaxmemory: Redis reaches maxmemory (noeviction, as
// production runs it) while documents are posted, so every write to it,
// the queue's included, fails with OOM. Uploads must still answer 202 (the
// job waits in the Postgres outbox), no process may exit, and once memory
// is freed every accepted job must finish.
func scenarioRedisMaxmemory(t *testing.T, sc scale, _ *rand.Rand, fig *figure) {
	c := newCluster(t, clusterOpts{})
	pids := c.pids()
	rc := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", c.redis.Port)})
	defer rc.Close()
	setMaxmemory := func(v string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rc.ConfigSet(ctx, "maxmemory", v).Err(); err != nil {
			t.Fatalf("CONFIG SET maxmemory %s: %v", v, err)
		}
	}
	w := newWorkload(c, "redisoom", sc.sections)
	setMaxmemory("1") // below what Redis already holds: every write that needs memory fails
	full := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	oomErr := rc.LPush(ctx, "probe", "x").Err()
	cancel()
	postN(w, sc.oomDocs, 10)()
	time.Sleep(2 * time.Second) // let the outbox try, and fail, to send them
	accepted := w.posts.count(http.StatusAccepted)
	setMaxmemory("0")
	freed := time.Now()
	t.Logf("redis at maxmemory for %s (a write answered %v); %d uploads accepted meanwhile",
		freed.Sub(full).Round(100*time.Millisecond), oomErr, accepted)

	docs, jobs := w.ids()
	settled, err := c.waitSettled(3*time.Minute, docs)
	if err != nil {
		t.Error(err)
	}
	v := c.verify(docs, jobs)
	restarted := c.restartedSince(t, pids, "while Redis was full")
	fig.add("Redis at maxmemory %s: %d/%d uploads → 202; %d of %d processes restarted; %s; all indexed %s after memory was freed",
		freed.Sub(full).Round(100*time.Millisecond), accepted, sc.oomDocs, restarted, len(c.procs()), v, settled.Round(100*time.Millisecond))
	if oomErr == nil {
		t.Error("a write to Redis succeeded at maxmemory; the scenario tested nothing")
	}
	if n := w.posts.failed(http.StatusAccepted); n != 0 {
		t.Errorf("%d uploads not answered 202 while Redis was full: %s", n, &w.posts)
	}
	requireClean(t, v)
}
