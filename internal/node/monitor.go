package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"slices"
	"time"

	"github.com/rampart-dev/rampart/internal/monitor"
	"github.com/rampart-dev/rampart/internal/review"
	"github.com/rampart-dev/rampart/internal/serve"
	"github.com/rampart-dev/rampart/internal/topology"
)

// buildMonitor wires the monitor role: the collector, which scrapes every
// server's admin endpoint with this server's identity, and its dashboard
// on the dashboard port, over HTTPS with this server's certificate. With
// monitoring off for the site, the role does nothing.
func (n *Node) buildMonitor() error {
	t := n.topo
	if !t.MonitoringEnabled() {
		return nil
	}
	ln := n.lns[topology.ServiceDashboard]
	if ln == nil {
		return fmt.Errorf("monitor: no dashboard listener on %s", n.server.HostPort(t.Ports.Dashboard))
	}
	cfg := monitor.Config{
		Topology:  t,
		Self:      n.server.Name,
		TLS:       n.id.ClientTLS(),
		LocalAddr: n.localAddr(),
		Findings:  reviewFindings(t),
		Logger:    n.log,
	}
	if n.monitored() {
		cfg.Local, cfg.Registerer = n.registry.gatherer, n.registry
	}
	c, err := monitor.New(cfg)
	if err != nil {
		return err
	}
	// Browsers get TLS 1.2 or 1.3 with the server's current certificate,
	// which names its address, followed by the site CA, so a browser told
	// to trust that CA's key finds it in the chain. The admin certificate,
	// when offered, logs in.
	current := n.id.ServerTLS(nil).GetCertificate
	tlsCfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, err := current(hello)
			if err != nil {
				return nil, err
			}
			chain := *c
			chain.Certificate = append(slices.Clip(c.Certificate), n.ca.Cert.Raw)
			return &chain, nil
		},
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  n.ca.Pool,
	}
	opts := serve.Options{Logger: n.log, TLS: tlsCfg, DrainTimeout: 2 * time.Second, Observer: n.observer(topology.ServiceDashboard)}
	handler := c.Handler(monitor.NewAuth(n.ca))
	n.runners = append(n.runners, c.Run, func(ctx context.Context) error { return serve.Run(ctx, ln, handler, opts) })
	n.status["monitor"] = func() any {
		st := c.Store().Stats()
		return map[string]any{"series": st.Series, "rounds": st.Rounds, "memory_bound_bytes": c.Store().MemoryBound(),
			"alerts_firing": c.Alerts().Firing(), "dashboard": "https://" + n.server.HostPort(t.Ports.Dashboard) + "/"}
	}
	return nil
}

// reviewFindings returns the design review of t, computed once: the
// topology does not change while the server runs.
func reviewFindings(t *topology.Topology) func() []monitor.Finding {
	var out []monitor.Finding
	for _, f := range review.Review(t).Findings {
		out = append(out, monitor.Finding{ID: f.ID, Severity: f.Severity.String(), Title: f.Title,
			Servers: f.Servers, Why: f.Why, Fix: f.Fix.Text})
	}
	return func() []monitor.Finding { return out }
}
