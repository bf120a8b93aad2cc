package balance

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// quietLogger drops log output, so tests read clean.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// upstream is a real loopback server that counts its requests.
type upstream struct {
	*httptest.Server
	name string
	hits atomic.Int64
}

// newUpstream starts a server named name; handler nil answers 200 with the
// name in the body.
func newUpstream(t *testing.T, name string, handler http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{name: name}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == defaultHealthPath {
			return
		}
		u.hits.Add(1)
		if handler != nil {
			handler(w, r)
			return
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(u.Close)
	return u
}

// newServer starts a loopback server with a raw handler, which also sees
// health checks.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// addr returns the upstream's host:port.
func (u *upstream) addr() string { return u.Listener.Addr().String() }

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// newPool builds a pool over addrs with a quiet logger.
func newPool(t *testing.T, cfg Config, addrs ...string) *Pool {
	t.Helper()
	for i, a := range addrs {
		cfg.Upstreams = append(cfg.Upstreams, Upstream{Name: "u" + string(rune('0'+i)), Addr: a})
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.CloseIdleConnections)
	return p
}

// front serves the pool on a loopback server, so requests arrive as a real
// server builds them (no GetBody, a context that ends with the client).
func front(t *testing.T, p http.Handler) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	return srv, client
}

// get fetches url and returns the status and body.
func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond until it holds or a second has passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
