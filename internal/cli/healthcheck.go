package cli

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// runHealthcheck asks a local protostar process whether it is ready (GET
// /readyz) and exits 0 only on a 2xx: the probe command of images without
// a shell or curl, e.g. a compose healthcheck
// ["CMD", "protostar", "healthcheck"]. The address is --url, else
// PROTOSTAR_HTTP_ADDR (an unspecified host such as 0.0.0.0 means this
// machine); --worker takes PROTOSTAR_WORKER_HTTP_ADDR instead.
func runHealthcheck(ctx context.Context, args []string, stdout io.Writer) error {
	const synopsis = "usage: protostar healthcheck [--worker] [--url URL] [--timeout 3s]"
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	url := fs.String("url", "", "probe this URL (default http://$PROTOSTAR_HTTP_ADDR/readyz)")
	worker := fs.Bool("worker", false, "probe the worker's PROTOSTAR_WORKER_HTTP_ADDR")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprintln(stdout, synopsis)
			return nil
		}
		return usageError{fmt.Errorf("%w (%s)", err, synopsis)}
	}
	target := *url
	if target == "" {
		addr, name := cmp.Or(os.Getenv("PROTOSTAR_HTTP_ADDR"), "127.0.0.1:8080"), "PROTOSTAR_HTTP_ADDR"
		if *worker {
			addr, name = os.Getenv("PROTOSTAR_WORKER_HTTP_ADDR"), "PROTOSTAR_WORKER_HTTP_ADDR"
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return usageError{fmt.Errorf("%s=%q is not host:port; pass --url", name, addr)}
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
		target = "http://" + net.JoinHostPort(host, port) + "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usageError{fmt.Errorf("bad --url: %w", err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("probe %s: %s: %s", target, resp.Status, body)
	}
	_, err = fmt.Fprintf(stdout, "%s: %s\n", target, body)
	return err
}
