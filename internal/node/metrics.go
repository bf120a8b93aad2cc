package node

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rampart-dev/rampart/internal/app"
	"github.com/rampart-dev/rampart/internal/balance"
	"github.com/rampart-dev/rampart/internal/metrics"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/serve"
	"github.com/rampart-dev/rampart/internal/topology"
)

// registry holds a server's metrics, served in Prometheus text format on
// its admin endpoint. Every metric registered here gets the label
// server="NAME", so a role registers its collector without naming the
// server:
//
//	n.registry.MustRegister(collector)
//
// That is the hook for the roles that bring their own collectors (the
// database, the firewall). set and certs are nil when the server's
// monitoring client is off, and then nothing on the request path is
// instrumented.
type registry struct {
	prometheus.Registerer
	gatherer *prometheus.Registry
	set      *metrics.Set
	certs    *metrics.Certificates
}

// newRegistry returns the registry of server. The Go runtime and process
// metrics are always there; the rest only when monitored.
func newRegistry(t *topology.Topology, server topology.Server) *registry {
	g := prometheus.NewRegistry()
	r := &registry{
		Registerer: prometheus.WrapRegistererWith(prometheus.Labels{metrics.LabelServer: server.Name}, g),
		gatherer:   g,
	}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if !t.Monitored(server) {
		return r
	}
	set, err := metrics.NewSet(r)
	if err != nil {
		panic(err) // a fresh registry: only a programming error gets here
	}
	r.set = set
	r.certs = metrics.NewCertificates()
	r.MustRegister(r.certs)
	var roles []string
	for _, role := range server.Roles {
		roles = append(roles, string(role))
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: metrics.ServerInfo, Help: "The server's roles; always 1.",
		ConstLabels: prometheus.Labels{"roles": strings.Join(roles, ",")}})
	info.Set(1)
	r.MustRegister(info, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metrics.ScrapeTime,
		Help: "When the server read the metrics it is sending, in Unix seconds."},
		func() float64 { return float64(time.Now().UnixMicro()) / 1e6 }))
	return r
}

// monitored reports whether this server's monitoring client runs.
func (n *Node) monitored() bool { return n.registry.set != nil }

// observer returns what a listener of service s reports its requests and
// handshakes to, or nil when monitoring is off. The role label follows the
// service: https and http are the lb, web the web role, app the app role;
// the admin endpoint counts handshakes only.
func (n *Node) observer(s topology.Service) serve.Observer {
	if !n.monitored() {
		return nil // an untyped nil: serve then adds nothing
	}
	role := ""
	switch s {
	case topology.ServiceHTTPS, topology.ServiceHTTP:
		role = string(topology.RoleLB)
	case topology.ServiceWeb:
		role = string(topology.RoleWeb)
	case topology.ServiceApp:
		role = string(topology.RoleApp)
	}
	return n.registry.set.Observer(role, string(s))
}

// instrumentPool exports the state of a pool whose flows have service s.
func (n *Node) instrumentPool(s topology.Service, p *balance.Pool) {
	if n.monitored() {
		n.registry.MustRegister(metrics.NewPoolCollector(string(s), p.Status))
	}
}

// instrumentApp exports the application's restarts and readiness.
func (n *Node) instrumentApp(sup *app.Supervisor) {
	if !n.monitored() {
		return
	}
	n.registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: metrics.AppRestarts,
			Help: "Times the application was started again after it exited."},
			func() float64 { return float64(sup.Restarts()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: metrics.AppUp,
			Help: "1 while the application accepts connections."},
			func() float64 {
				if sup.Ready() {
					return 1
				}
				return 0
			}))
}

// watchSiteCertificate exports the seconds left on the site's certificate,
// asking the source at each scrape so renewals and reloads show.
func (n *Node) watchSiteCertificate(site pki.SiteCertificate) {
	if !n.monitored() {
		return
	}
	domain := n.topo.Site.Domain
	n.registry.certs.Add("site", func() *x509.Certificate {
		c, err := site.GetCertificate(&tls.ClientHelloInfo{ServerName: domain})
		if err != nil || c == nil {
			return nil
		}
		return leaf(c)
	})
}

// watchOwnCertificates exports the seconds left on the server's own
// certificates, as renewed while it runs, and on the CA's.
func (n *Node) watchOwnCertificates() {
	if !n.monitored() {
		return
	}
	server, client := n.id.ServerTLS(nil), n.id.ClientTLS()
	n.registry.certs.Add("server", func() *x509.Certificate {
		c, err := server.GetCertificate(nil)
		if err != nil || c == nil {
			return nil
		}
		return leaf(c)
	})
	n.registry.certs.Add("client", func() *x509.Certificate {
		c, err := client.GetClientCertificate(nil)
		if err != nil || c == nil {
			return nil
		}
		return leaf(c)
	})
	ca := n.ca.Cert
	n.registry.certs.Add("ca", func() *x509.Certificate { return ca })
}

// leaf returns the parsed leaf of c.
func leaf(c *tls.Certificate) *x509.Certificate {
	if c.Leaf != nil {
		return c.Leaf
	}
	if len(c.Certificate) == 0 {
		return nil
	}
	l, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil
	}
	return l
}

// hostMetrics registers the host collector: CPU, memory, disks, network
// and file descriptors from /proc.
func (n *Node) hostMetrics() {
	if !n.monitored() {
		return
	}
	c, err := metrics.NewHostCollector()
	if err != nil {
		n.log.Warn("host metrics unavailable", "err", err)
		return
	}
	n.registry.MustRegister(c)
}
