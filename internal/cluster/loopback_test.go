package cluster

import (
	"os"
	"slices"
	"testing"

	"github.com/rampart-dev/rampart/internal/topology"
)

func TestLoopbackGivesEveryServerItsOwnLoopbackAddress(t *testing.T) {
	topo, err := topology.Parse("rampart.yaml", []byte(`
servers:
  - {name: lb-1, address: 192.0.2.10, roles: [lb]}
  - {name: s-1, address: 127.0.9.9, roles: [web, app]}
  - {name: s-2, address: 192.0.2.12, roles: [web, app]}
`))
	if err != nil {
		t.Fatal(err)
	}
	Loopback(topo)
	got := []string{topo.Servers[0].Address, topo.Servers[1].Address, topo.Servers[2].Address}
	if want := []string{"127.0.1.1", "127.0.9.9", "127.0.1.3"}; !slices.Equal(got, want) {
		t.Errorf("addresses %v, want %v (a loopback address is kept)", got, want)
	}
	if !slices.Contains(topo.Firewall.AdminCIDRs, "127.0.0.1/32") {
		t.Error("up could not reach the admin endpoints")
	}
	if os.Geteuid() != 0 && unprivilegedPortStart() > 443 && topo.Site.HTTPSPort != 8443 {
		t.Errorf("unprivileged: https port %d, want 8443", topo.Site.HTTPSPort)
	}
	if os.Geteuid() == 0 && topo.Site.HTTPSPort != 443 {
		t.Errorf("root: https port %d, want 443", topo.Site.HTTPSPort)
	}
}

func TestRemoveRefusesNamesRampartDoesNotMake(t *testing.T) {
	for _, ns := range []*Netns{
		{Bridge: "docker0"},
		{Bridge: "rpbr7", Namespaces: map[string]string{"web": "production"}},
		{Bridge: "rpbr7", Veths: []string{"eth0"}},
	} {
		if _, err := ns.Remove(t.TempDir()); err == nil {
			t.Errorf("Remove accepted %+v", ns)
		}
	}
}
