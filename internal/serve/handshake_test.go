package serve

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/pki"
)

// countingObserver records handshakes and requests.
type countingObserver struct {
	mu           sync.Mutex
	ok, failed   int
	requests     int
	wrappedCalls int
}

func (c *countingObserver) Wrap(h http.Handler) http.Handler {
	c.wrappedCalls++
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.requests++
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (c *countingObserver) Handshake(ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.ok++
	} else {
		c.failed++
	}
}

func (c *countingObserver) counts() (ok, failed, requests int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok, c.failed, c.requests
}

func TestObserverSeesRequestsAndHandshakeOutcomes(t *testing.T) {
	ca, err := pki.OpenCA(t.TempDir(), "example.test")
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.ServerIdentity("web-1", []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := ca.ServerIdentity("lb-1", nil)
	other, _ := ca.ServerIdentity("db-1", nil)
	obs := &countingObserver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
			Options{TLS: server.ServerTLS([]string{pki.ServerID("lb-1")}), Observer: obs, DrainTimeout: time.Second})
	}()
	t.Cleanup(func() { cancel(); <-done })
	addr := ln.Addr().String()

	get := func(cfg *tls.Config) error {
		c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
		resp, err := c.Get("https://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(lb.ClientTLS()); err != nil {
		t.Fatalf("the allowed peer: %v", err)
	}
	if err := get(other.ClientTLS()); err == nil {
		t.Fatal("a peer the flows do not allow was served")
	}
	if err := get(&tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS13}); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	// A port probe says nothing: it is not a handshake.
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, failed, requests := obs.counts()
		if ok == 1 && failed == 2 && requests == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("observed %d handshakes ok, %d failed, %d requests; want 1, 2, 1", ok, failed, requests)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// And nothing more arrives late: the probe is not counted.
	time.Sleep(300 * time.Millisecond)
	if ok, failed, _ := obs.counts(); ok != 1 || failed != 2 {
		t.Errorf("later: %d handshakes ok, %d failed; want 1 and 2", ok, failed)
	}
	if obs.wrappedCalls != 1 {
		t.Errorf("handler wrapped %d times", obs.wrappedCalls)
	}
}
