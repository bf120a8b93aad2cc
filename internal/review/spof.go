package review

import (
	"fmt"

	"github.com/rampart-dev/rampart/internal/topology"
)

// spofRules find roles that one server alone carries, so that server's
// failure, restart or upgrade takes the role away from the whole site.
var spofRules = []Rule{
	{ID: "RAMPART-SPOF-LB", Severity: Warning, Title: "One load balancer", find: soleLB},
	{ID: "RAMPART-SPOF-WEB", Severity: Warning, Title: "One web server", find: soleWeb},
	{ID: "RAMPART-SPOF-APP", Severity: Warning, Title: "One app server", find: soleApp},
	// Info: losing the collector blinds the operators but the site serves on.
	{ID: "RAMPART-SPOF-COLLECTOR", Severity: Info, Title: "One collector", find: soleCollector},
}

// sole reports the single server with role r, if there is exactly one.
func sole(t *topology.Topology, r topology.Role) (topology.Server, bool) {
	ss := t.WithRole(r)
	if len(ss) != 1 {
		return topology.Server{}, false
	}
	return ss[0], true
}

func soleLB(t *topology.Topology) (Finding, bool) {
	lb, ok := sole(t, topology.RoleLB)
	if !ok {
		return Finding{}, false
	}
	apply := func(t *topology.Topology) { addServer(t, "lb", topology.RoleLB) }
	return Finding{
		Servers: []string{lb.Name},
		Flows:   t.FlowsTo(lb.Name, topology.ServiceHTTPS),
		Why: fmt.Sprintf("%s is the only load balancer and every request enters through it: when it fails, "+
			"restarts or is patched, the whole site is down, however healthy the servers behind it are.", lb.Name),
		Fix: Fix{
			Text: fmt.Sprintf("Add a second load balancer, %s, and publish both addresses for %s (two DNS "+
				"records, or one floating address that keepalived moves to the survivor).",
				list(planned(t, apply)), t.Site.Domain),
			Apply: apply,
		},
	}, true
}

func soleWeb(t *topology.Topology) (Finding, bool) {
	web, ok := sole(t, topology.RoleWeb)
	if !ok {
		return Finding{}, false
	}
	apply := func(t *topology.Topology) { addServer(t, "web", topology.RoleWeb) }
	return Finding{
		Servers: []string{web.Name},
		Flows:   t.FlowsTo(web.Name, topology.ServiceWeb),
		Why: fmt.Sprintf("%s is the only web server: the load balancers have nowhere else to send a request, "+
			"so when it fails or restarts the site answers 502 to everyone.", web.Name),
		Fix: Fix{
			Text:  fmt.Sprintf("Give the web role to a second server: add %s.", list(planned(t, apply))),
			Apply: apply,
		},
	}, true
}

func soleApp(t *topology.Topology) (Finding, bool) {
	app, ok := sole(t, topology.RoleApp)
	if !ok {
		return Finding{}, false
	}
	apply := func(t *topology.Topology) { addServer(t, "app", topology.RoleApp) }
	return Finding{
		Servers: []string{app.Name},
		Flows:   t.FlowsTo(app.Name, topology.ServiceApp),
		Why: fmt.Sprintf("%s is the only app server: every page that is not a static file needs it, so when "+
			"it fails, restarts or is deployed to, the site serves only errors and static files.", app.Name),
		Fix: Fix{
			Text:  fmt.Sprintf("Give the app role to a second server: add %s.", list(planned(t, apply))),
			Apply: apply,
		},
	}, true
}

func soleCollector(t *topology.Topology) (Finding, bool) {
	if !t.MonitoringEnabled() {
		return Finding{}, false // RAMPART-MONITORING-MISSING says more
	}
	mons := t.WithRole(topology.RoleMonitor)
	external := t.Monitoring.ExternalCollector != ""
	if len(mons)+boolInt(external) != 1 {
		return Finding{}, false
	}
	f := Finding{
		Why: "It is the only place metrics are kept and alerts are evaluated: while it is down no alert " +
			"fires, so an outage that starts then goes unseen until a user reports it. The site itself keeps " +
			"serving, which is why this is info.",
	}
	if external {
		f.Why = fmt.Sprintf("The site has no collector of its own: monitoring.external_collector (%s) is the "+
			"only one. %s", t.Monitoring.ExternalCollector, f.Why)
		apply := func(t *topology.Topology) { addServer(t, "monitor", topology.RoleMonitor) }
		f.Fix = Fix{
			Text:  fmt.Sprintf("Add the built-in collector as well: add %s.", list(planned(t, apply))),
			Apply: apply,
		}
		return f, true
	}
	f.Servers = []string{mons[0].Name}
	f.Flows = monitorFlows(t, mons[0].Name)
	f.Why = mons[0].Name + " is the only collector. " + f.Why
	f.Fix = Fix{
		Text: "Run a second collector outside the site, such as Prometheus with the scrape config that " +
			"`rampart export prometheus` writes, from an address in firewall.admin_cidrs, and set " +
			"monitoring.external_collector to its URL. Applied as is, this fix uses the placeholders " +
			exampleCollector + " and, if admin_cidrs is empty, " + exampleCIDR + ".",
		Apply: func(t *topology.Topology) {
			t.Monitoring.ExternalCollector = exampleCollector
			if len(t.Firewall.AdminCIDRs) == 0 {
				t.Firewall.AdminCIDRs = []string{exampleCIDR}
			}
		},
	}
	return f, true
}

// monitorFlows returns the scrapes that collector makes.
func monitorFlows(t *topology.Topology, collector string) []topology.Flow {
	var out []topology.Flow
	for _, f := range t.Flows() {
		if f.From == collector && f.Service == topology.ServiceAdmin {
			out = append(out, f)
		}
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
