package topology

import (
	"fmt"
	"net/url"
	"slices"
)

// OpenPort is a port opened beyond what the roles need: firewall.open in
// rampart.yaml. It exists so such a hole is written down where the design
// review can see it, instead of being punched by hand on one machine.
type OpenPort struct {
	// Port is the TCP port opened.
	Port int `yaml:"port"`
	// From is who may connect: clients (anyone), admins
	// (firewall.admin_cidrs) or the name of a server.
	From string `yaml:"from"`
	// To names the servers that open the port; empty means every server.
	To []string `yaml:"to,omitempty"`
	// Reason says why the port is open, for whoever reads the file next.
	Reason string `yaml:"reason,omitempty"`
}

// ServiceExtra is the service of a flow from firewall.open. Its port is the
// entry's own, so Port(ServiceExtra) is 0.
const ServiceExtra Service = "extra"

// ExtraFlows returns the flows that firewall.open adds to the roles' flows,
// one per entry and target server, in file order. Their protection is
// plaintext because rampart does not know what listens there. They are kept
// apart from Flows, which holds only what the roles need.
func (t *Topology) ExtraFlows() []Flow {
	var out []Flow
	for _, o := range t.Firewall.Open {
		for _, s := range t.Servers {
			if (len(o.To) == 0 || slices.Contains(o.To, s.Name)) && s.Name != o.From {
				out = append(out, Flow{From: o.From, To: s.Name, Service: ServiceExtra, Port: o.Port, Protection: Plaintext})
			}
		}
	}
	return out
}

// Monitored reports whether server s runs a monitoring client: monitoring is
// on for the site and the server does not turn it off.
func (t *Topology) Monitored(s Server) bool {
	return t.MonitoringEnabled() && (s.Monitoring == nil || *s.Monitoring)
}

// Firewalled reports whether server s runs its firewall: the firewall is on
// for the site and the server does not turn it off.
func (t *Topology) Firewalled(s Server) bool {
	return t.FirewallEnabled() && (s.Firewall == nil || *s.Firewall)
}

// validateOverrides checks the per-server switches, firewall.open and
// monitoring.external_collector.
func (t *Topology) validateOverrides(v *validator) {
	for i, s := range t.Servers {
		key := fmt.Sprintf("servers[%d]", i)
		if s.Monitoring != nil && *s.Monitoring && !t.MonitoringEnabled() {
			v.errorf(key+".monitoring", "true has no effect while monitoring.enabled is false")
		}
		if s.Firewall != nil && *s.Firewall && !t.FirewallEnabled() {
			v.errorf(key+".firewall", "true has no effect while firewall.enabled is false")
		}
	}
	isSource := func(name string) bool {
		_, ok := t.Server(name)
		return ok || name == FromClients || name == FromAdmins
	}
	for i, o := range t.Firewall.Open {
		key := fmt.Sprintf("firewall.open[%d]", i)
		if o.Port < 1 || o.Port > 65535 {
			v.errorf(key+".port", "%d is not a port", o.Port)
		}
		if !isSource(o.From) {
			v.errorf(key+".from", "%q is not a source (want clients, admins or a server name)", o.From)
		}
		for j, to := range o.To {
			if _, ok := t.Server(to); !ok {
				v.errorf(fmt.Sprintf("%s.to[%d]", key, j), "%q is not a server", to)
			}
		}
	}
	if c := t.Monitoring.ExternalCollector; c != "" {
		u, err := url.Parse(c)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.errorf("monitoring.external_collector", "%q is not the http(s) URL of a collector", c)
		}
		// It scrapes from an admin network: with none, the firewall lets it
		// reach nothing and the site would only look watched.
		if t.FirewallEnabled() && len(t.Firewall.AdminCIDRs) == 0 {
			v.errorf("monitoring.external_collector", "needs firewall.admin_cidrs to hold its address, or the firewall keeps it out")
		}
	}
}
