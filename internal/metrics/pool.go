package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-dev/rampart/internal/balance"
)

// poolCollector exports a backend pool's state, read from the pool when a
// scrape comes, so the request path pays nothing for it.
type poolCollector struct {
	status                                 func() []balance.UpstreamStatus
	up, ejected, inFlight                  *prometheus.Desc
	ejections, requests, failures, retries *prometheus.Desc
}

// NewPoolCollector exports the state of a pool whose flows have service
// (web for an lb's pool, app for a web server's). status is Pool.Status.
func NewPoolCollector(service string, status func() []balance.UpstreamStatus) prometheus.Collector {
	// service is a constant label, so that a server with two pools registers
	// two collectors with distinct descriptors.
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{LabelBackend}, prometheus.Labels{LabelService: service})
	}
	return &poolCollector{
		status:    status,
		up:        desc(BackendUp, "1 while the backend passes its active health check."),
		ejected:   desc(BackendEjected, "1 while the backend is taken out after a failed request."),
		inFlight:  desc(BackendInFlight, "Requests the backend is serving now."),
		ejections: desc(BackendEjections, "Times the backend was taken out after a failed request."),
		requests:  desc(BackendRequests, "Attempts sent to the backend, retries included."),
		failures:  desc(BackendFailures, "Attempts that got no response from the backend."),
		retries:   desc(BackendRetries, "Attempts that retried, on this backend, a request another one failed."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.ejected, c.inFlight, c.ejections, c.requests, c.failures, c.retries} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, u := range c.status() {
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, u.Name)
		}
		counter := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), u.Name)
		}
		gauge(c.up, bool01(u.Healthy))
		gauge(c.ejected, bool01(u.Ejected))
		gauge(c.inFlight, float64(u.InFlight))
		counter(c.ejections, u.Ejections)
		counter(c.requests, u.Requests)
		counter(c.failures, u.Failures)
		counter(c.retries, u.Retries)
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
