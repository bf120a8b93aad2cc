package monitor

import (
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

// DashboardURL returns the address of the site's dashboard with the login
// token in its fragment, and the monitor server that serves it; ok is
// false when the site runs no collector.
func DashboardURL(t *topology.Topology, ca *pki.CA) (url, server string, ok bool) {
	mons := t.WithRole(topology.RoleMonitor)
	if !t.MonitoringEnabled() || len(mons) == 0 {
		return "", "", false
	}
	m := mons[0]
	return "https://" + m.HostPort(t.Ports.Dashboard) + "/#token=" + LoginToken(ca), m.Name, true
}
