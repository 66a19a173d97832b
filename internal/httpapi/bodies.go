package httpapi

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/protostar/protostar"
)

// idleBody cuts off a request body that sends nothing for idle: each Read
// extends the connection's read deadline, so a slow but steady upload goes
// on while a client that stalls (a slow-loris upload holding memory, a
// temporary file and a connection) is cut off.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = protostar.Errorf(protostar.EINVALID, "the request body stalled: nothing arrived for %s (PROTOSTAR_HTTP_IDLE_BODY_TIMEOUT)", b.idle)
	}
	return n, err
}

// withIdleBody puts r's body under the idle deadline (none if idle is 0).
func withIdleBody(w http.ResponseWriter, r *http.Request, idle time.Duration) {
	if idle > 0 && r.Body != nil && r.Body != http.NoBody {
		r.Body = &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: idle}
	}
}

// uploads caps the uploads in flight, per process and per tenant: each
// holds a connection, up to 8 MiB of memory and a temporary file.
type uploads struct {
	max, perTenant int

	mu       sync.Mutex
	total    int
	byTenant map[string]int
}

func newUploads(max, perTenant int) *uploads {
	return &uploads{max: max, perTenant: perTenant, byTenant: map[string]int{}}
}

// acquire takes an upload slot for tenant, or answers ERATELIMITED; release
// must be called. Zero limits mean none.
func (u *uploads) acquire(tenant string) (release func(), err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.max > 0 && u.total >= u.max:
		return nil, protostar.Errorf(protostar.ERATELIMITED, "the server has %d uploads in flight, its limit; retry shortly", u.total)
	case u.perTenant > 0 && u.byTenant[tenant] >= u.perTenant:
		return nil, protostar.Errorf(protostar.ERATELIMITED, "tenant has %d uploads in flight, the limit is %d; retry when one finishes", u.byTenant[tenant], u.perTenant)
	}
	u.total++
	u.byTenant[tenant]++
	return func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		u.total--
		if u.byTenant[tenant]--; u.byTenant[tenant] <= 0 {
			delete(u.byTenant, tenant)
		}
	}, nil
}
