package review

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/rampart-dev/rampart/internal/topology"
)

// Placeholders for values only the user knows, from the ranges reserved
// for documentation (RFC 5737 and RFC 2606), so a fix applied as is can
// never point at someone else's machine.
const (
	exampleCIDR      = "192.0.2.0/24"
	exampleCollector = "https://prometheus.example.net/"
)

// addServer appends a server with roles, named prefix-N for the first free
// N, on the next free address after the highest one in use. It returns the
// new server's name.
func addServer(t *topology.Topology, prefix string, roles ...topology.Role) string {
	name := ""
	for n := 1; ; n++ {
		name = fmt.Sprintf("%s-%d", prefix, n)
		if _, taken := t.Server(name); !taken {
			break
		}
	}
	t.Servers = append(t.Servers, topology.Server{Name: name, Address: nextAddress(t), Roles: slices.Clone(roles)})
	return name
}

// nextAddress returns the first unused address after the highest address of
// the site, so new servers sit beside the existing ones.
func nextAddress(t *topology.Topology) string {
	used := map[netip.Addr]bool{}
	var top netip.Addr
	for _, s := range t.Servers {
		a := s.IP()
		used[a] = true
		if !top.IsValid() || a.Compare(top) > 0 {
			top = a
		}
	}
	if !top.IsValid() {
		return "127.0.1.1"
	}
	for a := top.Next(); a.IsValid(); a = a.Next() {
		if !used[a] {
			return a.String()
		}
	}
	return top.String() // the address space is full; validation will say so
}

// planned runs apply on a copy of t and describes the servers it adds, such
// as "lb-2 (127.0.1.9, lb)", so a fix's text names what its Apply will do.
func planned(t *topology.Topology, apply func(*topology.Topology)) []string {
	added, _ := plan(t, apply)
	return added
}

// plan is planned that also returns the changed copy.
func plan(t *topology.Topology, apply func(*topology.Topology)) ([]string, *topology.Topology) {
	c := *t
	c.Servers = slices.Clone(t.Servers)
	c.Firewall.AdminCIDRs = slices.Clone(t.Firewall.AdminCIDRs)
	c.Firewall.Open = slices.Clone(t.Firewall.Open)
	for i := range c.Servers {
		c.Servers[i].Roles = slices.Clone(c.Servers[i].Roles)
	}
	apply(&c)
	var out []string
	for _, s := range c.Servers {
		if _, existed := t.Server(s.Name); !existed {
			out = append(out, fmt.Sprintf("%s (%s, %s)", s.Name, s.Address, roleList(s.Roles)))
		}
	}
	return out, &c
}

func roleList(roles []topology.Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// names returns the servers' names.
func names(servers []topology.Server) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.Name
	}
	return out
}

// inOrder returns the names in set in the topology's server order.
func inOrder(t *topology.Topology, set map[string]bool) []string {
	var out []string
	for _, s := range t.Servers {
		if set[s.Name] {
			out = append(out, s.Name)
		}
	}
	return out
}

// list joins names for a sentence: "a", "a and b", "a, b and c".
func list(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// capitalize upper-cases the first letter of a sentence.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// switchOnText is the fix for a section (monitoring, firewall) turned off
// for the site or for some servers.
func switchOnText(siteOn bool, section string, servers []string) string {
	if !siteOn {
		return fmt.Sprintf("Set %s.enabled: true (the default), and remove any %s: false from the servers.", section, section)
	}
	return fmt.Sprintf("Remove %s: false from %s.", section, list(servers))
}

// plural picks the singular or plural form by count.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
