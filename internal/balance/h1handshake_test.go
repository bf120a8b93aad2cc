package balance

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/evloop"
)

// silentTLSUpstream accepts connections and reads them, but never answers
// a TLS handshake.
func silentTLSUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// TestH1TransportTLSHandshakeTimeout: an upstream that never answers the
// handshake fails the request after the handshake timeout, and one whose
// request context ends fails at once with that, both from a goroutine and
// from a task on an event loop, where the wait must not hold up the loop.
func TestH1TransportTLSHandshakeTimeout(t *testing.T) {
	addr := silentTLSUpstream(t)
	h1 := newH1Transport(&net.Dialer{}, &tls.Config{InsecureSkipVerify: true}, time.Second, 4)
	h1.handshakeTimeout = 300 * time.Millisecond
	roundTrip := func(ctx context.Context) (error, time.Duration) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+addr+"/", nil)
		start := time.Now()
		_, err := h1.RoundTrip(req)
		return err, time.Since(start)
	}
	check := func(t *testing.T, run func(func())) {
		var timedOut, cancelled error
		var took time.Duration
		run(func() {
			timedOut, took = roundTrip(context.Background())
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			cancelled, _ = roundTrip(ctx)
		})
		if timedOut == nil || !strings.Contains(timedOut.Error(), "TLS handshake timed out after 300ms") {
			t.Errorf("silent upstream: %v, want the handshake timed out", timedOut)
		}
		if took < 250*time.Millisecond || took > 3*time.Second {
			t.Errorf("the handshake timed out after %v, want about 300ms", took)
		}
		if cancelled == nil || !strings.Contains(cancelled.Error(), context.Canceled.Error()) {
			t.Errorf("cancelled request: %v, want context canceled", cancelled)
		}
	}
	t.Run("goroutine", func(t *testing.T) { check(t, func(f func()) { f() }) })
	t.Run("task", func(t *testing.T) {
		g, err := evloop.Start(1)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Stop(5 * time.Second)
		check(t, func(f func()) {
			done := make(chan struct{})
			g.Go(func() { f(); close(done) })
			ran := make(chan time.Duration, 1)
			start := time.Now()
			g.Go(func() { ran <- time.Since(start) })
			select {
			case d := <-ran:
				if d > 150*time.Millisecond {
					t.Errorf("another task waited %v for the handshaking one", d)
				}
			case <-time.After(5 * time.Second):
				t.Error("another task never ran while a handshake waited")
			}
			<-done
		})
	})
}
