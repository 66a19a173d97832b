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

// scenarioRedisDataLoss: Redis loses every key (FLUSHALL) while accepted
// documents wait in its queue: the workers are stopped while they are
// posted, so every task is pending when Redis is flushed. Postgres is the
// record: every accepted job must still finish, because the outbox notices
// the tasks the queue lost and sends them again.
func scenarioRedisDataLoss(t *testing.T, sc scale, _ *rand.Rand, fig *figure) {
	redisLoss(t, sc, fig, "FLUSHALL", func(c *cluster, rc *goredis.Client) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return rc.FlushAll(ctx).Err()
	})
}

// scenarioRedisRestartEmpty: as scenarioRedisDataLoss, but Redis is killed
// and comes back without its data, as after a restart without AOF or a
// failover to an empty replica: the processes must reconnect, and the
// outbox must send again what the queue lost.
func scenarioRedisRestartEmpty(t *testing.T, sc scale, _ *rand.Rand, fig *figure) {
	redisLoss(t, sc, fig, "SIGKILL and restart without its data", func(c *cluster, _ *goredis.Client) error {
		c.redis.RestartEmpty(t)
		return nil
	})
}

// redisLoss posts documents while the workers are stopped, makes Redis lose
// them with lose, starts the workers again and checks that every accepted
// job finished.
func redisLoss(t *testing.T, sc scale, fig *figure, how string, lose func(*cluster, *goredis.Client) error) {
	c := newCluster(t, clusterOpts{})
	for _, p := range c.workers {
		if _, err := p.Stop(30 * time.Second); err != nil {
			t.Fatalf("stop %s: %v", p.name, err)
		}
	}
	w := newWorkload(c, "redisloss", sc.sections)
	postN(w, sc.redisDocs, 20)()
	rc := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", c.redis.Port)})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	queued, _ := rc.LLen(ctx, "asynq:{ingest}:pending").Result()
	cancel()
	if err := lose(c, rc); err != nil {
		t.Fatal(err)
	}
	lost := time.Now()
	t.Logf("redis %s with %d tasks pending", how, queued)
	for _, p := range c.workers {
		p.start(t)
	}
	for _, p := range c.workers {
		p.waitReady(t, 60*time.Second)
	}

	docs, jobs := w.ids()
	if _, err := c.waitSettled(3*time.Minute, docs); err != nil {
		t.Error(err)
	}
	v := c.verify(docs, jobs)
	fig.add("%s with %d of %d accepted tasks pending: %s; all indexed %s after the loss (stale-after 10s)",
		how, queued, w.posts.count(http.StatusAccepted), v, time.Since(lost).Round(time.Second))
	if n := w.posts.failed(http.StatusAccepted); n != 0 {
		t.Errorf("%d uploads not answered 202: %s", n, &w.posts)
	}
	if queued == 0 {
		t.Error("no task was pending when Redis lost its data; the scenario tested nothing")
	}
	requireClean(t, v)
}
