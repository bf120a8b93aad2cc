package lb

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/balance"
)

func TestNewValidatesConfig(t *testing.T) {
	pool, err := balance.New(balance.Config{Upstreams: []balance.Upstream{{Addr: "127.0.0.1:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	cert := &tls.Config{Certificates: []tls.Certificate{{}}}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no name", Config{Pool: pool, TLS: cert}},
		{"no pool", Config{Name: "lb-1", TLS: cert}},
		{"no TLS", Config{Name: "lb-1", Pool: pool}},
		{"TLS without certificate", Config{Name: "lb-1", Pool: pool, TLS: &tls.Config{}}},
		{"bad port", Config{Name: "lb-1", Pool: pool, TLS: cert, HTTPSPort: 70000}},
		{"negative event loops", Config{Name: "lb-1", Pool: pool, TLS: cert, EventLoops: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

// readUntilClosed reads from conn until the server closes it or limit
// passes, and returns what was read and how long it took.
func readUntilClosed(conn net.Conn, limit time.Duration) (string, time.Duration, bool) {
	start := time.Now()
	conn.SetReadDeadline(start.Add(limit))
	b, err := io.ReadAll(conn)
	var ne net.Error
	timedOut := errors.As(err, &ne) && ne.Timeout()
	return string(b), time.Since(start), !timedOut
}

func TestSlowHeadersAreCutOff(t *testing.T) {
	const timeout = 200 * time.Millisecond
	s := startSite(t, Config{ReadHeaderTimeout: timeout}, nil)
	dial := map[string]func() (net.Conn, error){
		"https": func() (net.Conn, error) {
			return tls.Dial("tcp", s.httpsAddr, &tls.Config{RootCAs: s.ca.pool, ServerName: "site.test", NextProtos: []string{"http/1.1"}})
		},
		"http": func() (net.Conn, error) { return net.Dial("tcp", s.plainAddr) },
	}
	for name, d := range dial {
		t.Run(name, func(t *testing.T) {
			conn, err := d()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, "GET /slow HT") // half a request line, then silence
			_, took, closed := readUntilClosed(conn, 5*time.Second)
			if !closed {
				t.Fatal("the server kept a silent half-request open for 5s")
			}
			if took < timeout/2 || took > 2*time.Second {
				t.Fatalf("cut off after %v, want about %v", took, timeout)
			}
		})
	}
	if s.lastRequest() != nil {
		t.Fatal("a half request reached the backend")
	}
}

func TestOversizedHeadersGet431(t *testing.T) {
	s := startSite(t, Config{MaxHeaderBytes: 4 << 10}, nil)
	req, _ := http.NewRequest("GET", s.url("/"), nil)
	req.Header.Set("X-Big", strings.Repeat("a", 16<<10))
	resp, err := s.client(t, nil, false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
	if s.lastRequest() != nil {
		t.Fatal("the oversized request reached the backend")
	}
}

func TestGracefulDrainFinishesInFlightAndRefusesNew(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	s := startSite(t, Config{DrainTimeout: 5 * time.Second}, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	})
	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	client := s.client(t, nil, true)
	go func() {
		resp, err := client.Get(s.url("/slow"))
		if err != nil {
			slow <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- result{code: resp.StatusCode, body: string(b)}
	}()
	<-entered
	s.cancel()

	for _, addr := range []string{s.httpsAddr, s.plainAddr} {
		deadline := time.Now().Add(2 * time.Second)
		for {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				break // refused: the listener is closed
			}
			conn.Close()
			if time.Now().After(deadline) {
				t.Fatalf("%s still accepts connections while draining", addr)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	select {
	case err := <-s.done:
		t.Fatalf("Run returned (%v) while a request was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}

	close(release)
	r := <-slow
	if r.err != nil || r.code != http.StatusOK || r.body != "finished" {
		t.Fatalf("in-flight request got %d %q %v, want 200 finished", r.code, r.body, r.err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		s.done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
}

func TestRunReportsAServerFailure(t *testing.T) {
	pool, err := balance.New(balance.Config{Upstreams: []balance.Upstream{{Addr: "127.0.0.1:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t)
	l, err := New(Config{Name: "lb-1", Pool: pool, TLS: &tls.Config{Certificates: []tls.Certificate{ca.issue(t, "site.test", true)}}})
	if err != nil {
		t.Fatal(err)
	}
	https, plain := listen(t), listen(t)
	plain.Close() // the plain server fails at once
	done := make(chan error, 1)
	go func() { done <- l.Run(t.Context(), https, plain) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "lb: http on") {
			t.Fatalf("Run = %v, want the plain server's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run kept going after one server failed")
	}
	if _, err := net.Dial("tcp", https.Addr().String()); err == nil {
		t.Fatal("the HTTPS server still accepts after the plain one failed")
	}
}
