package review

import (
	"fmt"
	"slices"

	"github.com/rampart-dev/rampart/internal/topology"
)

// tier is a group of roles that scale together and may share a server. Web
// and app form one tier: the web server is a thin front for the app on the
// same machine, as in the ha preset. Every other role is a tier of its own.
type tier struct {
	name   string // for people
	prefix string // for the servers a fix adds
	roles  []topology.Role
}

var tiers = []tier{
	{"load balancer", "lb", []topology.Role{topology.RoleLB}},
	{"application", "app", []topology.Role{topology.RoleWeb, topology.RoleApp}},
	{"database", "db", []topology.Role{topology.RoleDB}},
	{"monitoring", "monitor", []topology.Role{topology.RoleMonitor}},
}

// tiersOf returns the tiers whose roles server s carries, in tier order.
func tiersOf(s topology.Server) []tier {
	var out []tier
	for _, tr := range tiers {
		if slices.ContainsFunc(tr.roles, s.Has) {
			out = append(out, tr)
		}
	}
	return out
}

var colocationRules = []Rule{
	{ID: "RAMPART-COLOCATED-TIERS", Severity: Warning, Title: "Tiers share a server", find: colocated},
}

func colocated(t *topology.Topology) (Finding, bool) {
	var shared []string
	// Servers with the same roles are described together, as the seed's
	// identical servers are.
	groups := map[string][]string{}
	var order []string
	for _, s := range t.Servers {
		ts := tiersOf(s)
		if len(ts) < 2 {
			continue
		}
		shared = append(shared, s.Name)
		var tn []string
		for _, tr := range ts {
			tn = append(tn, tr.name)
		}
		key := fmt.Sprintf("the %s tiers (%s)", list(tn), roleList(s.Roles))
		if _, seen := groups[key]; !seen {
			order = append(order, key)
		}
		groups[key] = append(groups[key], s.Name)
	}
	if len(shared) == 0 {
		return Finding{}, false
	}
	var desc []string
	for _, key := range order {
		g := groups[key]
		desc = append(desc, fmt.Sprintf("%s %s %s", list(g), plural(len(g), "carries", "each carry"), key))
	}
	return Finding{
		Servers: shared,
		Why: list(desc) + ". A flaw in any component there, or one process that runs away with CPU, memory " +
			"or disk, reaches every tier on the machine at once, and through it the whole site. And the tiers " +
			"cannot be sized or scaled apart: a server added for one tier adds to the others whether they need " +
			"it or not, and a busy tier starves the ones beside it.",
		Fix: Fix{
			Text:  fmt.Sprintf("Give each tier servers of its own: %s.", list(splitPlan(t))),
			Apply: splitTiers,
		},
	}, true
}

// splitTiers leaves each server with its first tier and moves the roles of
// every other tier to a new server of that tier, moving database.primary
// along with the db role.
func splitTiers(t *topology.Topology) {
	n := len(t.Servers)
	for i := 0; i < n; i++ {
		ts := tiersOf(t.Servers[i])
		for _, tr := range ts[min(1, len(ts)):] {
			s := &t.Servers[i]
			var moved []topology.Role
			s.Roles = slices.DeleteFunc(slices.Clone(s.Roles), func(r topology.Role) bool {
				if slices.Contains(tr.roles, r) {
					moved = append(moved, r)
					return true
				}
				return false
			})
			old := s.Name
			name := addServer(t, tr.prefix, moved...)
			if slices.Contains(moved, topology.RoleDB) && t.Database.Primary == old {
				t.Database.Primary = name
			}
		}
	}
}

// splitPlan says in words what splitTiers does to t.
func splitPlan(t *topology.Topology) []string {
	added, after := plan(t, splitTiers)
	var out []string
	i := 0
	for _, s := range t.Servers {
		ts := tiersOf(s)
		for _, tr := range ts[min(1, len(ts)):] {
			var moved []topology.Role
			for _, r := range s.Roles {
				if slices.Contains(tr.roles, r) {
					moved = append(moved, r)
				}
			}
			out = append(out, fmt.Sprintf("move %s from %s to a new server %s", roleList(moved), s.Name, added[i]))
			i++
		}
	}
	if after.Database.Primary != t.Database.Primary {
		out = append(out, "set database.primary: "+after.Database.Primary)
	}
	return out
}
