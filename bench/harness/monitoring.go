package harness

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rampart-dev/rampart/internal/balance"
	"github.com/rampart-dev/rampart/internal/metrics"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/serve"
	"github.com/rampart-dev/rampart/internal/topology"
)

// MonitorName is the collector's server in both presets; its client
// certificate is the one the benchmark scrapes with.
const MonitorName = "monitor-1"

// monitoring is what internal/node adds to an lb server whose monitoring
// client is on, built from the same internal/metrics calls in the same
// order (node/metrics.go newRegistry, observer, instrumentPool,
// watchSiteCertificate, watchOwnCertificates, hostMetrics, and
// node/admin.go buildAdmin). Keep the two in step: a figure for a
// monitored lb is only worth something if this is what a node runs.
type monitoring struct {
	registry prometheus.Registerer // every metric gets server=LBName
	gatherer *prometheus.Registry
	set      *metrics.Set
	certs    *metrics.Certificates
	// observer counts the lb's requests and public handshakes; it goes into
	// lb.Config.Observer.
	observer serve.Observer
	// admin serves /metrics over mutual TLS to the monitor and the admin,
	// with its own handshakes counted, as every server's admin endpoint.
	admin     http.Handler
	adminOpts serve.Options
}

// newMonitoring builds the registry of an lb-only server named LBName with
// its monitoring client on. id is the server's identity, site its public
// certificate.
func newMonitoring(id *pki.Identity, ca *pki.CA, site tls.Certificate, log *slog.Logger) (*monitoring, error) {
	g := prometheus.NewRegistry()
	m := &monitoring{
		registry: prometheus.WrapRegistererWith(prometheus.Labels{metrics.LabelServer: LBName}, g),
		gatherer: g,
	}
	// newRegistry: the runtime and process metrics, the request and
	// handshake vectors, certificate expiry, the server's roles and the time
	// of each reading.
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	set, err := metrics.NewSet(m.registry)
	if err != nil {
		return nil, err
	}
	m.set = set
	m.certs = metrics.NewCertificates()
	m.registry.MustRegister(m.certs)
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: metrics.ServerInfo, Help: "The server's roles; always 1.",
		ConstLabels: prometheus.Labels{"roles": string(topology.RoleLB)}})
	info.Set(1)
	m.registry.MustRegister(info, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metrics.ScrapeTime,
		Help: "When the server read the metrics it is sending, in Unix seconds."},
		func() float64 { return float64(time.Now().UnixMicro()) / 1e6 }))

	// observer(ServiceHTTPS): both lb listeners count as role lb.
	m.observer = set.Observer(string(topology.RoleLB), string(topology.ServiceHTTPS))

	// watchSiteCertificate and watchOwnCertificates.
	m.certs.Add("site", func() *x509.Certificate { return site.Leaf })
	server, client := id.ServerTLS(nil), id.ClientTLS()
	m.certs.Add("server", func() *x509.Certificate {
		c, err := server.GetCertificate(nil)
		if err != nil || c == nil {
			return nil
		}
		return c.Leaf
	})
	m.certs.Add("client", func() *x509.Certificate {
		c, err := client.GetClientCertificate(nil)
		if err != nil || c == nil {
			return nil
		}
		return c.Leaf
	})
	m.certs.Add("ca", func() *x509.Certificate { return ca.Cert })

	// hostMetrics: a node only warns when /proc cannot be read, but a
	// benchmark of the monitored lb without host metrics would measure less
	// than a node does, so here it is an error.
	host, err := metrics.NewHostCollector()
	if err != nil {
		return nil, err
	}
	m.registry.MustRegister(host)

	// buildAdmin: /metrics over mutual TLS, to the monitor and the admin.
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	m.admin = mux
	m.adminOpts = serve.Options{Logger: log, TLS: id.ServerTLS([]string{pki.ServerID(MonitorName), pki.AdminIdentity}),
		Observer: set.Observer("", string(topology.ServiceAdmin))}
	return m, nil
}

// instrumentPool exports the pool's view of the backends, as a node does
// for every pool it builds (service web for the lb's).
func (m *monitoring) instrumentPool(p *balance.Pool) {
	m.registry.MustRegister(metrics.NewPoolCollector(string(topology.ServiceWeb), p.Status))
}
