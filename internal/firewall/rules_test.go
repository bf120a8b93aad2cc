package firewall

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/topology"
)

func TestRulesetAllowsExactlyTheFlows(t *testing.T) {
	ha, err := topology.Preset("ha")
	if err != nil {
		t.Fatal(err)
	}
	addr := func(name string) netip.Addr { s, _ := ha.Server(name); return s.IP() }
	anyone := netip.MustParseAddr("192.0.2.7")
	cases := []struct {
		server, from string
		src          netip.Addr
		svc          topology.Service
		want         bool
	}{
		{"lb-1", "anyone", anyone, topology.ServiceHTTPS, true},
		{"lb-1", "anyone", anyone, topology.ServiceHTTP, true},
		{"lb-1", "anyone", anyone, topology.ServiceAdmin, false},
		{"lb-1", "monitor-1", addr("monitor-1"), topology.ServiceAdmin, true},
		{"app-1", "lb-2", addr("lb-2"), topology.ServiceWeb, true},
		{"app-1", "db-1", addr("db-1"), topology.ServiceWeb, false},
		{"app-1", "app-2", addr("app-2"), topology.ServiceApp, true},
		{"app-1", "lb-1", addr("lb-1"), topology.ServiceApp, false},
		{"db-1", "app-2", addr("app-2"), topology.ServiceMySQL, true},
		{"db-1", "lb-1", addr("lb-1"), topology.ServiceMySQL, false},
		{"db-1", "db-3", addr("db-3"), topology.ServiceGalera, true},
		{"db-1", "app-1", addr("app-1"), topology.ServiceGalera, false},
		{"db-2", "admins", netip.MustParseAddr("127.0.0.1"), topology.ServiceSSH, true},
		{"db-2", "anyone", anyone, topology.ServiceSSH, false},
		{"db-2", "app-1", addr("app-1"), topology.ServiceAdmin, false},
	}
	for _, c := range cases {
		rs, err := For(ha, c.server)
		if err != nil {
			t.Fatal(err)
		}
		if got := rs.Allows(c.src, ha.Port(c.svc)); got != c.want {
			t.Errorf("%s from %s (%s) to %s: allowed=%v, want %v", c.svc, c.from, c.src, c.server, got, c.want)
		}
	}
	// A port no flow names is closed to everyone.
	rs, _ := For(ha, "app-1")
	if rs.Allows(addr("lb-1"), 5555) {
		t.Error("an undeclared port is open")
	}
}

func TestScriptIsOneAtomicTableOfOurOwn(t *testing.T) {
	seed, _ := topology.Preset("seed")
	rs, _ := For(seed, "lb-1")
	s := rs.Script()
	if !strings.HasPrefix(s, "table inet rampart\ndelete table inet rampart\ntable inet rampart {") {
		t.Errorf("script does not replace the table in one transaction:\n%s", s)
	}
	for _, want := range []string{"policy drop;", "ct state established,related accept", "ct state invalid counter drop",
		"tcp dport 443 counter accept", "set banned_v4", "log prefix", "limit rate", "icmpv6 type"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if strings.Count(s, "table inet") != 3 || strings.Contains(s, "flush ruleset") {
		t.Error("the script touches more than rampart's own table")
	}
}

func TestFirewallOpenAddsOneRulePerPort(t *testing.T) {
	topo, err := topology.Parse("rampart.yaml", []byte(`
firewall:
  admin_cidrs: [192.0.2.0/24]
  open:
    - {port: 5000, from: admins, to: [s-1], reason: debugger}
    - {port: 5001, from: clients, to: [s-1], reason: legacy API}
servers:
  - {name: lb-1, address: 127.0.1.1, roles: [lb]}
  - {name: s-1, address: 127.0.1.2, roles: [web, app]}
`))
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := For(topo, "s-1")
	if !rs.Allows(netip.MustParseAddr("192.0.2.9"), 5000) || rs.Allows(netip.MustParseAddr("198.51.100.1"), 5000) {
		t.Error("port 5000 should be open to admins only")
	}
	if !rs.Allows(netip.MustParseAddr("198.51.100.1"), 5001) {
		t.Error("port 5001 should be open to anyone")
	}
	lb, _ := For(topo, "lb-1")
	if lb.Allows(netip.MustParseAddr("192.0.2.9"), 5000) {
		t.Error("the open port leaked to a server it does not name")
	}
	if !strings.Contains(rs.Script(), "from_extra_5000_v4") {
		t.Error("each extra port needs its own set")
	}
}
