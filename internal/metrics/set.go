package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Set is the instrumentation of one server: the metric vectors its HTTP
// servers and TLS listeners share, registered once on its registry.
type Set struct {
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	inFlight  *prometheus.GaugeVec
	received  *prometheus.CounterVec
	sent      *prometheus.CounterVec
	handshake *prometheus.CounterVec
	failed    *prometheus.CounterVec
}

// NewSet creates the vectors and registers them on reg.
func NewSet(reg prometheus.Registerer) (*Set, error) {
	s := &Set{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: HTTPRequests, Help: "HTTP requests answered, by role, method and status class.",
		}, []string{LabelRole, LabelMethod, LabelCodeClass}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: HTTPRequestDuration, Help: "Time from a request's headers to the end of its response, by role, method and status class.",
			Buckets: LatencyBuckets,
		}, []string{LabelRole, LabelMethod, LabelCodeClass}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: HTTPInFlight, Help: "HTTP requests being served now.",
		}, []string{LabelRole}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: HTTPReceivedBytes, Help: "Bytes of request bodies read.",
		}, []string{LabelRole}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: HTTPSentBytes, Help: "Bytes of response bodies written.",
		}, []string{LabelRole}),
		handshake: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: TLSHandshakes, Help: "TLS handshakes completed, by listener.",
		}, []string{LabelListener}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: TLSHandshakeFailures, Help: "TLS handshakes that a client began and that failed, by listener.",
		}, []string{LabelListener}),
	}
	for _, c := range []prometheus.Collector{s.requests, s.durations, s.inFlight, s.received, s.sent, s.handshake, s.failed} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Observer watches one listener of a server: the HTTP requests of the role
// behind it and, when it speaks TLS, its handshakes. It satisfies
// serve.Observer.
type Observer struct {
	http      *HTTP // nil: requests are not counted (the admin endpoint)
	handshake prometheus.Counter
	failed    prometheus.Counter
}

// Observer returns the observer of a listener that serves role. An empty
// role observes handshakes only.
func (s *Set) Observer(role, listener string) *Observer {
	o := &Observer{
		handshake: s.handshake.WithLabelValues(listener),
		failed:    s.failed.WithLabelValues(listener),
	}
	if role != "" {
		o.http = s.HTTP(role)
	}
	return o
}

// Handshake records the outcome of one TLS handshake.
func (o *Observer) Handshake(ok bool) {
	if ok {
		o.handshake.Inc()
	} else {
		o.failed.Inc()
	}
}
