package review

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/rampart-dev/rampart/internal/topology"
)

// firewallRules find servers that accept more than their flows need.
var firewallRules = []Rule{
	{ID: "RAMPART-FIREWALL-MISSING", Severity: Critical, Title: "Servers without a firewall", find: unfirewalled},
	{ID: "RAMPART-FIREWALL-EXTRA-PORT", Severity: Warning, Title: "Ports open beyond what the roles need", find: extraPorts},
	{ID: "RAMPART-FIREWALL-ADMIN-WORLD", Severity: Warning, Title: "SSH and the admin endpoint are open to any address", find: adminWorld},
}

func unfirewalled(t *topology.Topology) (Finding, bool) {
	var off []string
	for _, s := range t.Servers {
		if !t.Firewalled(s) {
			off = append(off, s.Name)
		}
	}
	if len(off) == 0 {
		return Finding{}, false
	}
	cause := "firewall.enabled is false"
	if t.FirewallEnabled() {
		cause = plural(len(off), "it sets", "they set") + " firewall: false"
	}
	return Finding{
		Servers: off,
		Why: fmt.Sprintf("%s %s no firewall (%s). Every port there, the database, the application's own "+
			"port and SSH included, answers any address on the network, so one weak password or unpatched "+
			"service is exposed to everyone instead of to the few peers the flows name.",
			list(off), plural(len(off), "runs", "run"), cause),
		Fix: Fix{
			Text: switchOnText(t.FirewallEnabled(), "firewall", off),
			Apply: func(t *topology.Topology) {
				t.Firewall.Enabled = nil
				for i := range t.Servers {
					t.Servers[i].Firewall = nil
				}
			},
		},
	}, true
}

func extraPorts(t *topology.Topology) (Finding, bool) {
	flows := t.ExtraFlows()
	if len(flows) == 0 {
		return Finding{}, false
	}
	involved := map[string]bool{}
	for _, f := range flows {
		involved[f.To] = true
	}
	var opened []string
	for _, o := range t.Firewall.Open {
		to := "every server"
		if len(o.To) > 0 {
			to = list(o.To)
		}
		desc := fmt.Sprintf("port %d on %s to %s", o.Port, to, o.From)
		if o.Reason != "" {
			desc += fmt.Sprintf(" (%q)", o.Reason)
		}
		opened = append(opened, desc)
	}
	return Finding{
		Servers: inOrder(t, involved),
		Flows:   flows,
		Why: fmt.Sprintf("firewall.open opens %s. No role needs %s: whatever listens there is outside "+
			"rampart's TLS policy, peer checks and health checks, and more sources can reach it than any flow "+
			"requires.", list(opened), plural(len(t.Firewall.Open), "it", "them")),
		Fix: Fix{
			Text: "Remove the entries from firewall.open. A tool that needs a server's metrics or health reads " +
				"them from the admin endpoint, which firewall.admin_cidrs already opens with mutual TLS.",
			Apply: func(t *topology.Topology) { t.Firewall.Open = nil },
		},
	}, true
}

// anyAddress reports whether cidr admits every address of its family.
func anyAddress(cidr string) bool {
	p, err := netip.ParsePrefix(cidr)
	return err == nil && p.Bits() == 0
}

func adminWorld(t *topology.Topology) (Finding, bool) {
	var wide []string
	for _, c := range t.Firewall.AdminCIDRs {
		if anyAddress(c) {
			wide = append(wide, c)
		}
	}
	if len(wide) == 0 {
		return Finding{}, false
	}
	var flows []topology.Flow
	var exposed []string
	for _, f := range t.Flows() {
		if f.From != topology.FromAdmins {
			continue
		}
		flows = append(flows, f)
		if what := serviceName(f.Service); !slices.Contains(exposed, what) {
			exposed = append(exposed, what)
		}
	}
	return Finding{
		Servers: names(t.Servers),
		Flows:   flows,
		Why: fmt.Sprintf("firewall.admin_cidrs holds %s, so %s accept connections from anywhere and face every "+
			"scanner and password guesser on the internet. The admin endpoint still asks for a client "+
			"certificate; SSH has only its own authentication left.",
			strings.Join(wide, " and "), list(exposed)),
		Fix: Fix{
			Text: fmt.Sprintf("Replace %s in firewall.admin_cidrs with the networks your operators and tools "+
				"connect from. Applied as is, this fix removes %s and, if nothing is left while an external "+
				"collector needs an admin network, puts the placeholder %s in %s place.",
				strings.Join(wide, " and "), plural(len(wide), "it", "them"), exampleCIDR, plural(len(wide), "its", "their")),
			Apply: func(t *topology.Topology) {
				kept := slices.DeleteFunc(slices.Clone(t.Firewall.AdminCIDRs), anyAddress)
				if len(kept) == 0 && t.Monitoring.ExternalCollector != "" {
					kept = []string{exampleCIDR}
				}
				t.Firewall.AdminCIDRs = kept
			},
		},
	}, true
}

// serviceName names what listens behind a service, for people.
func serviceName(s topology.Service) string {
	switch s {
	case topology.ServiceAdmin:
		return "the admin endpoints"
	case topology.ServiceSSH:
		return "SSH"
	}
	return "the " + string(s)
}
