package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/protostar/protostar"
)

// Guard holds the rules for where deliveries may go: https anywhere
// public, http only to AllowHosts, and never to loopback, private,
// link-local or other non-public addresses unless the host is allowed.
// The address is checked as it is dialled, after DNS, so a name that
// resolves (or re-resolves) to an internal address is refused too.
type Guard struct {
	allow []string // lower-case host names or IP literals
}

// NewGuard returns a Guard allowing allowHosts (PROTOSTAR_WEBHOOK_ALLOW_HOSTS).
func NewGuard(allowHosts []string) *Guard {
	g := &Guard{}
	for _, h := range allowHosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			g.allow = append(g.allow, h)
		}
	}
	return g
}

func (g *Guard) allowed(host string) bool { return slices.Contains(g.allow, strings.ToLower(host)) }

// CheckURL says what is wrong with an endpoint URL, as an EINVALID error.
func (g *Guard) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case len(raw) > 2048:
		return protostar.Errorf(protostar.EINVALID, "url is longer than 2048 bytes")
	case err != nil || u.Host == "" || !u.IsAbs():
		return protostar.Errorf(protostar.EINVALID, "url must be an absolute http(s) URL")
	case u.User != nil:
		return protostar.Errorf(protostar.EINVALID, "url must not hold credentials")
	case u.Fragment != "":
		return protostar.Errorf(protostar.EINVALID, "url must not have a fragment")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && g.allowed(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return protostar.Errorf(protostar.EINVALID,
			"url must be https; http is allowed only to hosts named in PROTOSTAR_WEBHOOK_ALLOW_HOSTS")
	}
	return protostar.Errorf(protostar.EINVALID, "url scheme must be https")
}

// errRefused marks a dial the guard refused.
var errRefused = errors.New("refused by the webhook address guard")

// Client returns an HTTP client for deliveries: it dials only permitted
// addresses, uses no proxy from the environment (which would bypass the
// check), follows no redirect, and gives up after timeout.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	guarded := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: cannot parse %q", errRefused, address)
		}
		if why := nonPublic(ap.Addr().Unmap()); why != "" {
			return fmt.Errorf("%w: %s is %s", errRefused, ap.Addr(), why)
		}
		return nil
	}}
	open := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			if g.allowed(host) {
				return open.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		},
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// nonPublic says why a is not a public unicast address, or "".
func nonPublic(a netip.Addr) string {
	switch {
	case a.IsLoopback():
		return "a loopback address"
	case a.IsPrivate():
		return "a private address"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "a link-local address"
	case a.IsUnspecified():
		return "an unspecified address"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "a multicast address"
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return "a reserved address (" + p.String() + ")"
		}
	}
	return ""
}

// reserved are non-public ranges netip has no predicate for.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach IPv4 internals
	netip.MustParsePrefix("2001:db8::/32"),
}
