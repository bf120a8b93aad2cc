package topology

import (
	"reflect"
	"testing"
)

func TestFlowsFollowThePolicy(t *testing.T) {
	seed, _ := Preset("seed")
	ha, _ := Preset("ha")
	cases := []struct {
		topo *Topology
		from string
		to   string
		svc  Service
		want Protection
	}{
		{seed, FromClients, "lb-1", ServiceHTTPS, TLSOnly},
		{seed, "lb-1", "server-1", ServiceWeb, Plaintext},
		{seed, "server-1", "server-2", ServiceApp, Plaintext},
		{seed, "server-2", "server-1", ServiceMySQL, MutualTLS}, // replica -> primary: the db role always uses TLS
		{ha, "lb-2", "app-1", ServiceWeb, MutualTLS},
		{ha, "app-1", "app-2", ServiceApp, MutualTLS},
		{ha, "db-3", "db-1", ServiceGalera, MutualTLS},
		{ha, "monitor-1", "db-2", ServiceAdmin, MutualTLS},
	}
	for _, c := range cases {
		found := false
		for _, f := range c.topo.Flows() {
			if f.From == c.from && f.To == c.to && f.Service == c.svc {
				found = true
				if f.Protection != c.want {
					t.Errorf("%s %s->%s %s: %s, want %s", c.topo.Source, c.from, c.to, c.svc, f.Protection, c.want)
				}
				if f.Port != c.topo.Port(c.svc) {
					t.Errorf("flow port %d, service port %d", f.Port, c.topo.Port(c.svc))
				}
			}
		}
		if !found {
			t.Errorf("%s: no flow %s->%s %s", c.topo.Source, c.from, c.to, c.svc)
		}
	}
}

func TestNoUndeclaredFlows(t *testing.T) {
	ha, _ := Preset("ha")
	for _, f := range ha.Flows() {
		if f.To == "db-1" && f.Service == ServiceMySQL && f.From != "app-1" && f.From != "app-2" {
			t.Errorf("unexpected flow into the database: %+v", f)
		}
		if f.From == "lb-1" && f.Service != ServiceWeb {
			t.Errorf("the lb may only reach web servers: %+v", f)
		}
	}
}

func TestPeersAreTheRolesThatCallIn(t *testing.T) {
	ha, _ := Preset("ha")
	if got, want := ha.Peers("app-1", ServiceWeb), []string{"lb-1", "lb-2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("web peers = %v, want %v", got, want)
	}
	if got, want := ha.Peers("app-2", ServiceApp), []string{"app-1", "app-2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("app peers = %v, want %v", got, want)
	}
	if got, want := ha.Peers("lb-1", ServiceAdmin), []string{"monitor-1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("admin peers = %v, want %v", got, want)
	}
}
