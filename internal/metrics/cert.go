package metrics

import (
	"crypto/x509"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Certificates exports the seconds left on each certificate a server uses,
// computed when a scrape comes. Sources may be added after registration.
type Certificates struct {
	desc *prometheus.Desc
	now  func() time.Time

	mu      sync.Mutex
	names   []string
	sources []func() *x509.Certificate
}

// NewCertificates returns an empty set of watched certificates.
func NewCertificates() *Certificates {
	return &Certificates{
		desc: prometheus.NewDesc(CertExpiry, "Seconds until the certificate expires; negative once it has.",
			[]string{LabelCertificate}, nil),
		now: time.Now,
	}
}

// Add watches the certificate that get returns, under name. get is called
// at every scrape, so a reloaded or renewed certificate is seen; it may
// return nil when there is none yet.
func (c *Certificates) Add(name string, get func() *x509.Certificate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.names = append(c.names, name)
	c.sources = append(c.sources, get)
}

func (c *Certificates) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *Certificates) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	names, sources := c.names, c.sources
	c.mu.Unlock()
	now := c.now()
	for i, get := range sources {
		if cert := get(); cert != nil {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, cert.NotAfter.Sub(now).Seconds(), names[i])
		}
	}
}
