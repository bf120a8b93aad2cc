package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/rampart-dev/rampart/internal/balance"
	"github.com/rampart-dev/rampart/internal/firewall"
	"github.com/rampart-dev/rampart/internal/lb"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/rawio"
	"github.com/rampart-dev/rampart/internal/topology"
)

// buildLB wires the lb role: the site certificate, a pool over every web
// server, and the public HTTPS and redirect listeners.
func (n *Node) buildLB() error {
	t := n.topo
	site, err := n.siteCertificate()
	if err != nil {
		return err
	}
	n.watchSiteCertificate(site)
	pool, err := n.pool(topology.RoleWeb, topology.ServiceWeb, nil)
	if err != nil {
		return err
	}
	clientCAs := n.ca.Pool
	if t.TLS.ClientCAFile != "" {
		pem, err := os.ReadFile(t.TLS.ClientCAFile)
		if err != nil {
			return fmt.Errorf("tls.client_ca_file: %w", err)
		}
		clientCAs = x509.NewCertPool()
		if !clientCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("tls.client_ca_file %s: no PEM certificates", t.TLS.ClientCAFile)
		}
	}
	base := &tls.Config{
		GetCertificate: site.GetCertificate,
		ClientAuth:     tls.VerifyClientCertIfGiven,
		ClientCAs:      clientCAs,
	}
	if t.TLS.MinVersion == "1.3" {
		base.MinVersion = tls.VersionTLS13
	}
	cfg := lb.Config{
		Name:              n.server.Name,
		TLS:               base,
		HTTPSPort:         t.Site.HTTPSPort,
		HSTSMaxAge:        t.TLS.HSTS,
		ForwardClientCert: t.TLS.Policy == topology.Reencrypt,
		Pool:              pool,
		DrainTimeout:      t.LB.DrainTimeout,
		Logger:            n.log,
		Observer:          n.observer(topology.ServiceHTTPS),
	}
	if a, ok := site.(interface{ NextProtos() []string }); ok {
		base.NextProtos = a.NextProtos()
	}
	if a, ok := site.(interface {
		HTTPChallengeHandler(http.Handler) http.Handler
	}); ok {
		cfg.ACMEHTTPHandler = a.HTTPChallengeHandler(http.NotFoundHandler())
	}
	if n.bans == nil {
		// The firewall is off: the limiter still refuses banned clients.
		n.bans = firewall.NewBans(n.log)
		n.runners = append(n.runners, n.bans.Run)
	}
	lim := t.LB.Limits
	limiter := firewall.NewLimiter(firewall.Limits{RequestsPerSecond: lim.RequestsPerSecond, Burst: lim.Burst,
		ConnectionsPerClient: lim.ConnectionsPerClient, BanFor: lim.BanFor}, n.bans, n.log)
	cfg.Middleware = limiter.Handler
	// The public listener's reads and writes skip the scheduler's system
	// call hand-off (internal/rawio); the limiter counts over them.
	n.lns[topology.ServiceHTTPS] = limiter.Listener(rawio.Listener(n.lns[topology.ServiceHTTPS]))
	n.limiter = limiter
	balancer, err := lb.New(cfg)
	if err != nil {
		return err
	}
	lb.TuneGC()
	lb.TuneProcs()
	n.runners = append(n.runners,
		site.Run,
		limiter.Run,
		func(ctx context.Context) error { pool.Run(ctx); return nil },
		func(ctx context.Context) error {
			return balancer.Run(ctx, n.lns[topology.ServiceHTTPS], n.lns[topology.ServiceHTTP])
		})
	n.health = append(n.health, poolHealth("lb", pool))
	n.status["lb"] = func() any { return pool.Status() }
	return nil
}

// siteCertificate loads the site's public certificate from its source.
func (n *Node) siteCertificate() (pki.SiteCertificate, error) {
	c := n.topo.TLS.Certificate
	switch c.Source {
	case topology.CertFromFiles:
		f, err := pki.LoadFileCertificate(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.certificate: %w", err)
		}
		f.Logger = n.log
		return f, nil
	case topology.CertFromACME:
		return pki.NewACME(pki.ACMEConfig{
			Domain:    n.topo.Site.Domain,
			Directory: c.ACME.Directory,
			Email:     c.ACME.Email,
			CAFile:    c.ACME.CAFile,
			// One store for the site: every lb serves the same certificate,
			// and certmagic coordinates issuance and challenges through it.
			StorageDir: filepath.Join(n.cfg.StateDir, "acme"),
			HTTPPort:   n.topo.Site.HTTPPort,
			HTTPSPort:  n.topo.Site.HTTPSPort,
			Logger:     n.log,
		})
	default:
		return n.ca.SiteFromCA(n.topo.Site.Domain)
	}
}

// pool builds the balancer over the servers of role, reached on service,
// with mutual TLS when the policy asks for it.
func (n *Node) pool(role topology.Role, s topology.Service, cfg *balance.Config) (*balance.Pool, error) {
	t := n.topo
	c := balance.Config{}
	if cfg != nil {
		c = *cfg
	}
	for _, up := range t.WithRole(role) {
		c.Upstreams = append(c.Upstreams, balance.Upstream{Name: up.Name, Addr: up.HostPort(t.Port(s))})
	}
	c.Policy = t.LB.Algorithm
	if t.TLS.Policy == topology.Reencrypt {
		c.TLS = n.id.ClientTLS()
	}
	c.LocalAddr = n.localAddr()
	h := t.LB.Health
	c.Health = balance.HealthCheck{Path: h.Path, Interval: h.Interval, Timeout: h.Timeout, Rise: h.Rise, Fall: h.Fall}
	c.Retries = *t.LB.Retries
	if c.Retries == 0 {
		c.Retries = -1 // the file said none
	}
	c.Logger = n.log.With("pool", string(role))
	p, err := balance.New(c)
	if err == nil {
		n.instrumentPool(s, p)
	}
	return p, err
}

// poolHealth is healthy while the pool has an upstream to send to.
func poolHealth(role string, p *balance.Pool) func() error {
	return func() error {
		for _, u := range p.Status() {
			if u.Healthy && !u.Ejected {
				return nil
			}
		}
		return fmt.Errorf("%s: no healthy upstream", role)
	}
}
