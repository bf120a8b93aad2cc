package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/rampart-dev/rampart/internal/topology"
)

// Rule allows one service on one port from a group of sources.
type Rule struct {
	Service topology.Service
	Port    int
	// Any is true when anyone may connect (the lb's public ports).
	Any bool
	// Sources are the addresses allowed when Any is false.
	Sources []netip.Prefix
	// From names the sources for people: server names, "clients", "admins".
	From []string
}

// ID names the rule in nftables comments, counters and logs.
func (r Rule) ID() string { return fmt.Sprintf("%s-%d", r.Service, r.Port) }

// Allows reports whether addr may connect under this rule.
func (r Rule) Allows(addr netip.Addr) bool {
	if r.Any {
		return true
	}
	addr = addr.Unmap()
	for _, p := range r.Sources {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Ruleset is one server's firewall.
type Ruleset struct {
	Server string
	Rules  []Rule
	// Bans, when true, adds the set of banned clients (lb servers).
	Bans bool
}

// For derives the firewall of server from the topology's flows.
func For(t *topology.Topology, server string) (Ruleset, error) {
	s, ok := t.Server(server)
	if !ok {
		return Ruleset{}, fmt.Errorf("firewall: no server %q", server)
	}
	rs := Ruleset{Server: s.Name, Bans: s.Has(topology.RoleLB)}
	// One rule per port: the roles' flows, then what firewall.open adds.
	index := map[int]int{}
	flows := t.FlowsTo(server, "")
	for _, f := range t.ExtraFlows() {
		if f.To == server {
			flows = append(flows, f)
		}
	}
	for _, f := range flows {
		i, ok := index[f.Port]
		if !ok {
			i = len(rs.Rules)
			index[f.Port] = i
			rs.Rules = append(rs.Rules, Rule{Service: f.Service, Port: f.Port})
		}
		r := &rs.Rules[i]
		if !slices.Contains(r.From, f.From) {
			r.From = append(r.From, f.From)
		}
		switch f.From {
		case topology.FromClients:
			r.Any = true
		case topology.FromAdmins:
			for _, c := range t.Firewall.AdminCIDRs {
				p, err := netip.ParsePrefix(c)
				if err != nil {
					return Ruleset{}, fmt.Errorf("firewall: admin CIDR %q: %w", c, err)
				}
				r.Sources = appendPrefix(r.Sources, p.Masked())
			}
		default:
			peer, _ := t.Server(f.From)
			a := peer.IP()
			r.Sources = appendPrefix(r.Sources, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return rs, nil
}

func appendPrefix(ps []netip.Prefix, p netip.Prefix) []netip.Prefix {
	if slices.Contains(ps, p) {
		return ps
	}
	return append(ps, p)
}

// Rule returns the rule for port, if the server allows it at all.
func (rs Ruleset) Rule(port int) (Rule, bool) {
	for _, r := range rs.Rules {
		if r.Port == port {
			return r, true
		}
	}
	return Rule{}, false
}

// Allows reports whether src may connect to port on this server.
func (rs Ruleset) Allows(src netip.Addr, port int) bool {
	r, ok := rs.Rule(port)
	return ok && r.Allows(src)
}

// String lists the rules for people, one a line.
func (rs Ruleset) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "firewall of %s: drop by default\n", rs.Server)
	for _, r := range rs.Rules {
		src := "anyone"
		if !r.Any {
			var ss []string
			for _, p := range r.Sources {
				ss = append(ss, p.String())
			}
			src = strings.Join(ss, ", ")
			if src == "" {
				src = "nobody (no admin_cidrs)"
			}
		}
		fmt.Fprintf(&b, "  allow tcp/%-5d %-7s from %s (%s)\n", r.Port, r.Service, strings.Join(r.From, ", "), src)
	}
	return b.String()
}
