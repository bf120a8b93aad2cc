package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func newObserver(t *testing.T, role string) (*prometheus.Registry, *Set, *Observer) {
	t.Helper()
	reg := prometheus.NewRegistry()
	set, err := NewSet(reg)
	if err != nil {
		t.Fatal(err)
	}
	return reg, set, set.Observer(role, "https")
}

func TestRequestsAreCountedByMethodAndStatusClass(t *testing.T) {
	_, set, obs := newObserver(t, "web")
	h := obs.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/boom":
			w.WriteHeader(http.StatusBadGateway)
		case "/hints":
			w.WriteHeader(http.StatusEarlyHints) // informational: not the final status
			w.WriteHeader(http.StatusCreated)
		case "/silent":
			// writes nothing: net/http answers 200
		default:
			w.Write([]byte("hello"))
		}
	}))
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/", ""}, {"GET", "/", ""}, {"POST", "/", "0123456789"}, {"GET", "/missing", ""},
		{"PUT", "/boom", ""}, {"BREW", "/", ""}, {"GET", "/hints", ""}, {"HEAD", "/silent", ""},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(c.method, c.path, strings.NewReader(c.body)))
	}
	want := map[[2]string]float64{
		{"GET", "2xx"}: 3, {"POST", "2xx"}: 1, {"GET", "4xx"}: 1, {"PUT", "5xx"}: 1, {"OTHER", "2xx"}: 1, {"HEAD", "2xx"}: 1,
	}
	for k, n := range want {
		if got, _ := sample(t, set.requests, HTTPRequests, "method", k[0], "code_class", k[1]); got != n {
			t.Errorf("%s %s: %v requests, want %v", k[0], k[1], got, n)
		}
	}
	if got := series(t, set.requests); got != len(want) {
		t.Errorf("%d request series, want %d: a label set never seen must not be exported", got, len(want))
	}
	if got := value(t, set.received, HTTPReceivedBytes); got != 10 {
		t.Errorf("request body bytes = %v, want 10", got)
	}
	if got := value(t, set.sent, HTTPSentBytes); got != 5*4+float64(len("404 page not found\n")) {
		t.Errorf("response body bytes = %v", got)
	}
	if got := value(t, set.inFlight, HTTPInFlight); got != 0 {
		t.Errorf("in flight after every request ended = %v", got)
	}
	if got := series(t, set.durations); got != len(want) {
		t.Errorf("%d histogram series, want %d", got, len(want))
	}
}

func TestInFlightCountsRequestsBeingServed(t *testing.T) {
	_, set, obs := newObserver(t, "lb")
	inside := make(chan struct{})
	release := make(chan struct{})
	h := obs.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inside <- struct{}{}
		<-release
	}))
	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	<-inside
	if got := value(t, set.inFlight, HTTPInFlight); got != 1 {
		t.Errorf("in flight = %v, want 1", got)
	}
	close(release)
}

// discard is a ResponseWriter that keeps nothing, so that only the
// instrumentation's own allocations are measured.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(p []byte) (int, error) { return len(p), nil }
func (d discard) WriteHeader(int)             {}

func TestInstrumentationAllocatesNothingPerRequest(t *testing.T) {
	_, _, obs := newObserver(t, "lb")
	body := []byte("ok")
	h := obs.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	}))
	w := discard{h: http.Header{}}
	r := httptest.NewRequest("GET", "/", nil)
	bare := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) })
	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
	base := testing.AllocsPerRun(1000, func() { plain.ServeHTTP(w, r) })
	if bare-base > 0 {
		t.Errorf("instrumented request allocates %v times more than a bare one", bare-base)
	}
}

func TestFlushReachesTheWriterBeneath(t *testing.T) {
	_, _, obs := newObserver(t, "web")
	rec := httptest.NewRecorder()
	obs.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("x"))
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the instrumentation: %v", err)
		}
	})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !rec.Flushed {
		t.Error("the recorder was not flushed")
	}
}

func TestHandshakeOnlyObserverLeavesTheHandlerAlone(t *testing.T) {
	reg := prometheus.NewRegistry()
	set, _ := NewSet(reg)
	obs := set.Observer("", "admin")
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if got := obs.Wrap(h); got == nil {
		t.Fatal("nil handler")
	}
	obs.Handshake(true)
	obs.Handshake(false)
	obs.Handshake(true)
	if ok, bad := value(t, set.handshake, TLSHandshakes), value(t, set.failed, TLSHandshakeFailures); ok != 2 || bad != 1 {
		t.Errorf("handshakes %v ok, %v failed; want 2 and 1", ok, bad)
	}
}

func BenchmarkInstrumentedRequest(b *testing.B) {
	reg := prometheus.NewRegistry()
	set, _ := NewSet(reg)
	body := []byte("ok")
	h := set.Observer("lb", "https").Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	w := discard{h: http.Header{}}
	r := httptest.NewRequest("GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func value(t *testing.T, c prometheus.Collector, name string) float64 {
	t.Helper()
	v, ok := sample(t, c, name)
	if !ok {
		t.Fatalf("no series %s", name)
	}
	return v
}
