package review

import (
	"fmt"

	"github.com/rampart-dev/rampart/internal/topology"
)

// monitoringRules find servers nobody watches.
var monitoringRules = []Rule{
	{ID: "RAMPART-MONITORING-MISSING", Severity: Warning, Title: "Servers without a monitoring client", find: unmonitored},
	{ID: "RAMPART-MONITORING-NO-COLLECTOR", Severity: Warning, Title: "No collector", find: noCollector},
}

func unmonitored(t *topology.Topology) (Finding, bool) {
	var off []string
	for _, s := range t.Servers {
		if !t.Monitored(s) {
			off = append(off, s.Name)
		}
	}
	if len(off) == 0 {
		return Finding{}, false
	}
	cause := "monitoring.enabled is false"
	if t.MonitoringEnabled() {
		cause = "they set monitoring: false"
		if len(off) == 1 {
			cause = "it sets monitoring: false"
		}
	}
	return Finding{
		Servers: off,
		Why: fmt.Sprintf("%s %s no monitoring client (%s). Nobody collects %s QPS, latency, errors, CPU, "+
			"memory or disk, so %s failure or overload raises no alert and shows on no chart.",
			list(off), plural(len(off), "runs", "run"), cause, plural(len(off), "its", "their"), plural(len(off), "its", "their")),
		Fix: Fix{
			Text: switchOnText(t.MonitoringEnabled(), "monitoring", off),
			Apply: func(t *topology.Topology) {
				t.Monitoring.Enabled = nil
				for i := range t.Servers {
					t.Servers[i].Monitoring = nil
				}
			},
		},
	}, true
}

func noCollector(t *topology.Topology) (Finding, bool) {
	if !t.MonitoringEnabled() || len(t.WithRole(topology.RoleMonitor)) > 0 || t.Monitoring.ExternalCollector != "" {
		return Finding{}, false
	}
	var clients []string
	for _, s := range t.Servers {
		if t.Monitored(s) {
			clients = append(clients, s.Name)
		}
	}
	apply := func(t *topology.Topology) { addServer(t, "monitor", topology.RoleMonitor) }
	return Finding{
		Servers: clients,
		Why: "Monitoring is on, but no server has the monitor role and no external collector is set: the " +
			"servers' metrics are exposed and never collected, so no alert can fire and no history is kept.",
		Fix: Fix{
			Text:  fmt.Sprintf("Give the monitor role to a server of its own: add %s.", list(planned(t, apply))),
			Apply: apply,
		},
	}, true
}
