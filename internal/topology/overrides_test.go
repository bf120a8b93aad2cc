package topology

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const twoWeb = `
servers:
  - name: lb-1
    address: 127.0.1.1
    roles: [lb]
  - name: s-1
    address: 127.0.1.2
    roles: [web, app]
  - name: s-2
    address: 127.0.1.3
    roles: [web, app]
  - name: mon
    address: 127.0.1.4
    roles: [monitor]
`

func TestAServerCanTurnItsMonitoringAndFirewallOff(t *testing.T) {
	src := strings.Replace(twoWeb, "roles: [web, app]\n  - name: s-2", "roles: [web, app]\n    monitoring: false\n    firewall: false\n  - name: s-2", 1)
	topo, err := Parse("rampart.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := topo.Server("s-1")
	s2, _ := topo.Server("s-2")
	if topo.Monitored(s1) || topo.Firewalled(s1) {
		t.Error("s-1 turned both off")
	}
	if !topo.Monitored(s2) || !topo.Firewalled(s2) {
		t.Error("s-2 keeps the site's settings")
	}
	// The collector scrapes only the servers that run a client.
	if got := topo.Peers("s-1", ServiceAdmin); len(got) != 0 {
		t.Errorf("s-1 admin peers %v, want none", got)
	}
	if got := topo.Peers("s-2", ServiceAdmin); !slices.Equal(got, []string{"mon"}) {
		t.Errorf("s-2 admin peers %v, want [mon]", got)
	}
}

func TestExtraFlowsComeFromFirewallOpen(t *testing.T) {
	src := "firewall:\n  open:\n    - {port: 9100, from: admins, to: [s-1], reason: node exporter}\n    - {port: 5000, from: s-1}\n" + twoWeb
	topo, err := Parse("rampart.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range topo.ExtraFlows() {
		if f.Service != ServiceExtra || f.Protection != Plaintext {
			t.Errorf("extra flow %+v", f)
		}
		got = append(got, fmt.Sprintf("%s>%s:%d", f.From, f.To, f.Port))
	}
	want := []string{"admins>s-1:9100", "s-1>lb-1:5000", "s-1>s-2:5000", "s-1>mon:5000"}
	if !slices.Equal(got, want) {
		t.Errorf("extra flows %v, want %v", got, want)
	}
	for _, f := range topo.Flows() {
		if f.Service == ServiceExtra {
			t.Errorf("Flows holds only what the roles need, not %+v", f)
		}
	}
}

func TestOverrideErrorsNameFileLineAndKey(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"server turns on what the site turns off", "monitoring:\n  enabled: false\n" +
			strings.Replace(twoWeb, "roles: [monitor]", "roles: [monitor]\n    monitoring: true", 1),
			"rampart.yaml:17: servers[3].monitoring: true has no effect while monitoring.enabled is false"},
		{"open port out of range", "firewall:\n  open:\n    - {port: 70000, from: clients}\n" + twoWeb,
			"rampart.yaml:3: firewall.open[0].port: 70000 is not a port"},
		{"open from nobody", "firewall:\n  open:\n    - port: 9100\n      from: everyone\n" + twoWeb,
			`rampart.yaml:4: firewall.open[0].from: "everyone" is not a source (want clients, admins or a server name)`},
		{"open to no server", "firewall:\n  open:\n    - port: 9100\n      from: admins\n      to: [s-9]\n" + twoWeb,
			`rampart.yaml:5: firewall.open[0].to[0]: "s-9" is not a server`},
		{"external collector not a URL", "monitoring:\n  external_collector: prometheus\nfirewall:\n  admin_cidrs: [10.0.0.0/8]\n" + twoWeb,
			`rampart.yaml:2: monitoring.external_collector: "prometheus" is not the http(s) URL of a collector`},
		{"external collector without an admin network", "monitoring:\n  external_collector: https://prom.example.net/\n" + twoWeb,
			"rampart.yaml:2: monitoring.external_collector: needs firewall.admin_cidrs to hold its address, or the firewall keeps it out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("rampart.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if first := strings.Split(err.Error(), "\n")[0]; first != c.want {
				t.Errorf("got  %s\nwant %s", first, c.want)
			}
		})
	}
}

func TestUnsetOverridesStayOutOfTheResolvedFile(t *testing.T) {
	seed, err := Preset("seed")
	if err != nil {
		t.Fatal(err)
	}
	data, err := yaml.Marshal(seed)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"open:", "external_collector:", "    monitoring:", "    firewall:"} {
		if strings.Contains(string(data), key) {
			t.Errorf("resolved seed holds %q:\n%s", key, data)
		}
	}
}
