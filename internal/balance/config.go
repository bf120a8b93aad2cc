package balance

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"time"
)

// Upstream is one server the pool proxies to.
type Upstream struct {
	// Name identifies the upstream in Status and logs. Default: Addr.
	Name string
	// Addr is host:port. With TLS, its host is the server name checked
	// against the upstream's certificate.
	Addr string
}

// HealthCheck configures the active health check run against every upstream.
type HealthCheck struct {
	// Path is requested with GET. Default "/healthz". Any 2xx or 3xx passes.
	Path string
	// Interval between checks of one upstream. Default 2s.
	Interval time.Duration
	// Timeout bounds one check. Default 1s.
	Timeout time.Duration
	// Rise is how many consecutive passes turn a down upstream up. Default 2.
	Rise int
	// Fall is how many consecutive failures turn an up upstream down.
	// Default 3, so a single lost check never takes an upstream out.
	Fall int
}

// Config describes a pool.
type Config struct {
	// Upstreams are the servers to proxy to. At least one is required.
	Upstreams []Upstream
	// Policy names the selection policy: "round_robin" (default) or
	// "least_conn". Ignored when Selector is set.
	Policy string
	// Selector, when set, replaces the policy named by Policy.
	Selector Selector
	// TLS, when set, makes the pool speak HTTPS to upstreams with this client
	// config, which may hold a client certificate for mTLS. The upstream's
	// host is the server name unless TLS.ServerName is set. Nil means plain
	// HTTP.
	TLS *tls.Config
	// LocalAddr, when set, is the source address of every connection to an
	// upstream, health checks included, so firewall source rules hold. Its
	// port must be 0.
	LocalAddr *net.TCPAddr
	// Health configures active health checks, which Run performs.
	Health HealthCheck
	// Retries is how many more upstreams a failed request may try. Default 2;
	// negative disables retries.
	Retries int
	// EjectFor is how long an upstream is taken out after a connection error.
	// Default 10s; negative disables passive ejection.
	EjectFor time.Duration
	// MaxIdleConnsPerHost bounds the keep-alive connections kept to each
	// upstream. Default 256: Go's default of 2 makes a loaded proxy open and
	// close a connection for almost every request.
	MaxIdleConnsPerHost int
	// ResponseHeaderTimeout bounds the wait for an upstream's response
	// headers after the request was sent. Default 30s.
	ResponseHeaderTimeout time.Duration
	// StdlibTransport sends every request through httputil.ReverseProxy and
	// net/http's Transport instead of the pool's own HTTP/1.1 path
	// (h1transport.go), which costs the lb about a quarter less CPU per
	// request (docs/performance.md). It is there to compare the two and as
	// a way back; protocol upgrades take net/http's path anyway.
	StdlibTransport bool
	// Rewrite, when set, runs after the pool has set the target URL. It may
	// change headers but must not change the target. As with every
	// httputil.ReverseProxy Rewrite, the outgoing request has lost its
	// hop-by-hop and X-Forwarded-* headers: an edge sets them afresh
	// (pr.SetXForwarded), an inner hop that trusts its peer copies them with
	// KeepForwarded.
	Rewrite func(*httputil.ProxyRequest)
	// ModifyResponse, when set, may change an upstream's response before it
	// is copied to the client. An error it returns becomes a 502.
	ModifyResponse func(*http.Response) error
	// Logger receives state changes (down, up, ejected) and rate-limited
	// proxy errors. Default slog.Default().
	Logger *slog.Logger
}

// Defaults, written once.
const (
	defaultHealthPath            = "/healthz"
	defaultHealthInterval        = 2 * time.Second
	defaultHealthTimeout         = 1 * time.Second
	defaultRise                  = 2
	defaultFall                  = 3
	defaultRetries               = 2
	defaultEjectFor              = 10 * time.Second
	defaultMaxIdleConnsPerHost   = 256
	defaultResponseHeaderTimeout = 30 * time.Second
)

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if len(c.Upstreams) == 0 {
		return c, errors.New("balance: at least one upstream is required")
	}
	ups := make([]Upstream, len(c.Upstreams))
	addrs := make(map[string]bool, len(ups))
	names := make(map[string]bool, len(ups))
	for i, u := range c.Upstreams {
		if _, port, err := net.SplitHostPort(u.Addr); err != nil || port == "" {
			return c, fmt.Errorf("balance: upstream %q: address %q is not host:port", u.Name, u.Addr)
		}
		if u.Name == "" {
			u.Name = u.Addr
		}
		if addrs[u.Addr] {
			return c, fmt.Errorf("balance: upstream %s: address %s is listed twice", u.Name, u.Addr)
		}
		if names[u.Name] {
			return c, fmt.Errorf("balance: upstream name %s is used twice", u.Name)
		}
		addrs[u.Addr], names[u.Name] = true, true
		ups[i] = u
	}
	c.Upstreams = ups

	if c.Selector == nil {
		s, err := NewSelector(c.Policy)
		if err != nil {
			return c, err
		}
		c.Selector = s
	}
	if c.LocalAddr != nil && c.LocalAddr.Port != 0 {
		return c, fmt.Errorf("balance: local address %s: port must be 0, every connection needs its own", c.LocalAddr)
	}

	h := &c.Health
	if h.Path == "" {
		h.Path = defaultHealthPath
	}
	if h.Path[0] != '/' {
		return c, fmt.Errorf("balance: health check path %q must start with /", h.Path)
	}
	if h.Interval <= 0 {
		h.Interval = defaultHealthInterval
	}
	if h.Timeout <= 0 {
		h.Timeout = defaultHealthTimeout
	}
	if h.Rise <= 0 {
		h.Rise = defaultRise
	}
	if h.Fall <= 0 {
		h.Fall = defaultFall
	}

	switch {
	case c.Retries == 0:
		c.Retries = defaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	switch {
	case c.EjectFor == 0:
		c.EjectFor = defaultEjectFor
	case c.EjectFor < 0:
		c.EjectFor = 0
	}
	if c.MaxIdleConnsPerHost <= 0 {
		c.MaxIdleConnsPerHost = defaultMaxIdleConnsPerHost
	}
	if c.ResponseHeaderTimeout <= 0 {
		c.ResponseHeaderTimeout = defaultResponseHeaderTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
