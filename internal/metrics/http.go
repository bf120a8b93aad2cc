package metrics

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTP counts one role's requests. Its label sets are resolved the first
// time each (method, status class) pair is seen and cached, so the request
// path does no label lookup and allocates nothing, and a pair never seen
// exports no series.
type HTTP struct {
	requests  *prometheus.CounterVec // curried with the role
	durations prometheus.ObserverVec // curried with the role
	inFlight  prometheus.Gauge
	received  prometheus.Counter
	sent      prometheus.Counter
	series    [len(Methods)][len(CodeClasses)]atomic.Pointer[httpSeries]
}

type httpSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// HTTP returns the request metrics of role.
func (s *Set) HTTP(role string) *HTTP {
	l := prometheus.Labels{LabelRole: role}
	return &HTTP{
		requests:  s.requests.MustCurryWith(l),
		durations: s.durations.MustCurryWith(l),
		inFlight:  s.inFlight.WithLabelValues(role),
		received:  s.received.WithLabelValues(role),
		sent:      s.sent.WithLabelValues(role),
	}
}

// Wrap returns h instrumented: each request is counted when its response
// ends, with its duration, and the bytes of both bodies.
func (o *Observer) Wrap(h http.Handler) http.Handler {
	if o.http == nil {
		return h
	}
	return o.http.Wrap(h)
}

// Wrap returns h instrumented with m.
func (m *HTTP) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		t := trackers.Get().(*tracker)
		t.w = w
		if r.Body != nil && r.Body != http.NoBody {
			// Not pooled: a proxy's transport may still read or close the
			// body after the handler has returned.
			r.Body = &countingBody{rc: r.Body, counter: m.received}
		}
		defer func() {
			code := t.code
			if code == 0 {
				code = http.StatusOK // nothing written: net/http sends 200
			}
			s := m.seriesFor(methodIndex(r.Method), classIndex(code))
			s.requests.Inc()
			s.duration.Observe(time.Since(start).Seconds())
			m.inFlight.Dec()
			if t.out > 0 {
				m.sent.Add(float64(t.out))
			}
			*t = tracker{}
			trackers.Put(t)
		}()
		h.ServeHTTP(t, r)
	})
}

// seriesFor returns the cached label set of (method, class), creating it
// on first use.
func (m *HTTP) seriesFor(method, class int) *httpSeries {
	p := &m.series[method][class]
	if s := p.Load(); s != nil {
		return s
	}
	s := &httpSeries{
		requests: m.requests.WithLabelValues(Methods[method], CodeClasses[class]),
		duration: m.durations.WithLabelValues(Methods[method], CodeClasses[class]),
	}
	if p.CompareAndSwap(nil, s) {
		return s
	}
	return p.Load()
}

func methodIndex(m string) int {
	for i, name := range Methods[:len(Methods)-1] {
		if m == name {
			return i
		}
	}
	return len(Methods) - 1
}

// classIndex maps a status code to its class; a code outside 100-599 is
// counted with the server errors, since net/http would refuse to send it.
func classIndex(code int) int {
	if code < 100 || code > 599 {
		return 4
	}
	return code/100 - 1
}

// trackers recycles the per-request response writers, so instrumenting a
// request allocates nothing once the pool is warm.
var trackers = sync.Pool{New: func() any { return new(tracker) }}

// tracker records the status and body size of a response. Unwrap lets http.ResponseController reach
// Flush, Hijack and deadlines on the writer beneath.
type tracker struct {
	w    http.ResponseWriter
	code int   // final status; 0 until one is written
	out  int64 // response body bytes
}

func (t *tracker) Header() http.Header { return t.w.Header() }

func (t *tracker) WriteHeader(code int) {
	// 1xx other than 101 are informational: the final status comes later.
	if t.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		t.code = code
	}
	t.w.WriteHeader(code)
}

// WriteHeaderLines passes a proxy's ready-made header lines on to a writer
// that takes them (package serve's), so that instrumenting the lb does not
// turn its cheaper path off.
func (t *tracker) WriteHeaderLines(code int, lines []byte, contentLength int64, date bool) bool {
	lw, ok := t.w.(interface {
		WriteHeaderLines(code int, lines []byte, contentLength int64, date bool) bool
	})
	if !ok || !lw.WriteHeaderLines(code, lines, contentLength, date) {
		return false
	}
	if t.code == 0 {
		t.code = code
	}
	return true
}

func (t *tracker) Write(p []byte) (int, error) {
	if t.code == 0 {
		t.code = http.StatusOK
	}
	n, err := t.w.Write(p)
	t.out += int64(n)
	return n, err
}

// ReadFrom keeps the writer's own ReadFrom (sendfile for plain HTTP) in use.
func (t *tracker) ReadFrom(r io.Reader) (int64, error) {
	if t.code == 0 {
		t.code = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := t.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(writerOnly{t.w}, r)
	}
	t.out += n
	return n, err
}

// Flush is here, not only behind Unwrap, for handlers that type-assert
// http.Flusher.
func (t *tracker) Flush() {
	if f, ok := t.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (t *tracker) Unwrap() http.ResponseWriter { return t.w }

// writerOnly hides ReadFrom, so io.Copy does not call back into tracker.
type writerOnly struct{ io.Writer }

// countingBody counts the bytes read from a request body as they are read.
type countingBody struct {
	rc      io.ReadCloser
	counter prometheus.Counter
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.counter.Add(float64(n))
	}
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }
