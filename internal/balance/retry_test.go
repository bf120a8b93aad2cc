package balance

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCanRetry(t *testing.T) {
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	readErr := io.ErrUnexpectedEOF
	replayBody := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("x")), nil }
	for _, tc := range []struct {
		name    string
		method  string
		key     bool
		body    io.ReadCloser
		getBody func() (io.ReadCloser, error)
		err     error
		want    bool
	}{
		{"GET after a read error", "GET", false, nil, nil, readErr, true},
		{"HEAD after a read error", "HEAD", false, nil, nil, readErr, true},
		{"DELETE after a read error", "DELETE", false, http.NoBody, nil, readErr, true},
		{"POST after a read error", "POST", false, nil, nil, readErr, false},
		{"PATCH after a read error", "PATCH", false, nil, nil, readErr, false},
		{"POST with Idempotency-Key", "POST", true, nil, nil, readErr, true},
		{"POST that never left: dial failed", "POST", false, nil, nil, dialErr, true},
		{"PUT with a body that cannot be replayed", "PUT", false, io.NopCloser(strings.NewReader("x")), nil, readErr, false},
		{"PUT with a body and GetBody", "PUT", false, io.NopCloser(strings.NewReader("x")), replayBody, readErr, true},
		{"POST with a one-shot body even when dial failed", "POST", true, io.NopCloser(strings.NewReader("x")), nil, dialErr, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(tc.method, "http://u/", nil)
			r.Body, r.GetBody = tc.body, tc.getBody
			if tc.key {
				r.Header.Set("Idempotency-Key", "k1")
			}
			if got := canRetry(r, tc.err); got != tc.want {
				t.Fatalf("canRetry = %v, want %v", got, tc.want)
			}
		})
	}
}

// hangUp is an upstream that reads the request and closes the connection
// without answering: the request may have had effects, so only an
// idempotent one can be sent again.
func hangUp(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestRetryOnlyWhatIsSafeToRepeat(t *testing.T) {
	for _, tc := range []struct {
		name     string
		method   string
		body     string
		key      bool
		attempts int64
	}{
		{"GET is retried on the other upstream", "GET", "", false, 2},
		{"POST without Idempotency-Key is not retried", "POST", "", false, 1},
		{"POST with a body is not retried", "POST", "order=1", false, 1},
		{"POST with Idempotency-Key is retried", "POST", "", true, 2},
		{"PUT with a one-shot body is not retried", "PUT", "x", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newUpstream(t, "a", hangUp), newUpstream(t, "b", hangUp)
			p := newPool(t, Config{Retries: 5, EjectFor: -1}, a.addr(), b.addr())
			srv, client := front(t, p)
			req, _ := http.NewRequest(tc.method, srv.URL, strings.NewReader(tc.body))
			if tc.key {
				req.Header.Set("Idempotency-Key", "order-42")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("status %d, want 502 when no upstream answered", resp.StatusCode)
			}
			if got := a.hits.Load() + b.hits.Load(); got != tc.attempts {
				t.Fatalf("upstreams saw %d attempts, want %d (each upstream at most once)", got, tc.attempts)
			}
		})
	}
}

func TestRequestThatNeverLeftIsRetriedWhateverTheMethod(t *testing.T) {
	live := newUpstream(t, "live", nil)
	p := newPool(t, Config{}, deadAddr(t), live.addr()) // round robin tries the dead one first
	srv, client := front(t, p)
	resp, err := client.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200 from the live upstream", resp.StatusCode)
	}
	st := p.Status()
	if st[0].Failures != 1 || !st[0].Ejected || st[1].Retries != 1 {
		t.Fatalf("status %+v: want the dead upstream failed once and ejected, the live one retried once", st)
	}
}

func TestKilledUpstreamFailsNoGetUnderLoad(t *testing.T) {
	ups := []*upstream{newUpstream(t, "a", nil), newUpstream(t, "b", nil), newUpstream(t, "c", nil)}
	victim := ups[0]
	p := newPool(t, Config{}, ups[0].addr(), ups[1].addr(), ups[2].addr())
	srv, client := front(t, p)

	const workers, each = 16, 60
	var done, failed atomic.Int64
	var kill sync.Once
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if done.Add(1) == workers*each/3 {
					// Crash the victim mid-load: no new connections, and
					// the open ones, busy or idle, reset.
					kill.Do(func() {
						victim.Listener.Close()
						victim.CloseClientConnections()
					})
				}
				resp, err := client.Get(srv.URL)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, resp.Status)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d GETs failed after an upstream died (first: %v)", n, workers*each, firstErr.Load())
	}
	st := p.Status()[0]
	if st.Failures == 0 || !st.Ejected {
		t.Fatalf("victim status %+v: want failures seen and the upstream ejected", st)
	}
	// Once ejected, the victim receives nothing more.
	before := st.Requests
	for range 20 {
		get(t, client, srv.URL)
	}
	if after := p.Status()[0].Requests; after != before {
		t.Fatalf("ejected upstream was tried %d more times", after-before)
	}
}

func TestEjectionEndsAfterEjectFor(t *testing.T) {
	live := newUpstream(t, "live", nil)
	p := newPool(t, Config{EjectFor: 50 * time.Millisecond}, deadAddr(t), live.addr())
	srv, client := front(t, p)
	get(t, client, srv.URL)
	if !p.Status()[0].Ejected {
		t.Fatal("a refused connection did not eject the upstream")
	}
	eventually(t, "the ejection expires", func() bool { return !p.Status()[0].Ejected })
}

func TestNoUpstreamAvailableIs503AndNoAnswerIs502(t *testing.T) {
	p := newPool(t, Config{}, deadAddr(t), deadAddr(t))
	srv, client := front(t, p)
	code, body := get(t, client, srv.URL)
	if code != http.StatusBadGateway || !strings.Contains(body, "no upstream answered") {
		t.Fatalf("both dead: %d %q, want 502 with a short reason", code, body)
	}
	code, body = get(t, client, srv.URL)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no upstream available") {
		t.Fatalf("both ejected: %d %q, want 503 with a short reason", code, body)
	}
}

func TestClientCancelDoesNotEject(t *testing.T) {
	entered := make(chan struct{})
	u := newUpstream(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
	})
	p := newPool(t, Config{}, u.addr())
	srv, client := front(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-entered; cancel() }()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("request was not cancelled")
	}
	eventually(t, "the in-flight count drops", func() bool { return p.Status()[0].InFlight == 0 })
	if st := p.Status()[0]; st.Ejected || st.Failures != 0 {
		t.Fatalf("status %+v: a client hanging up must not count against the upstream", st)
	}
}
