package topology

import (
	"errors"
	"strings"
	"testing"
)

const minimal = `
servers:
  - name: lb-1
    address: 127.0.1.1
    roles: [lb]
  - name: s-1
    address: 127.0.1.2
    roles: [web, app]
`

func TestPresetsParseAndMatchTheirDesign(t *testing.T) {
	seed, err := Preset("seed")
	if err != nil {
		t.Fatal(err)
	}
	if seed.TLS.Policy != Terminate || seed.Database.Replication != PrimaryReplica {
		t.Errorf("seed: policy %s, replication %s; want terminate, primary-replica", seed.TLS.Policy, seed.Database.Replication)
	}
	if n := len(seed.WithRole(RoleLB)); n != 1 {
		t.Errorf("seed has %d lbs, want 1", n)
	}
	for _, name := range []string{"server-1", "server-2"} {
		s, ok := seed.Server(name)
		if !ok || !s.Has(RoleWeb) || !s.Has(RoleApp) || !s.Has(RoleDB) {
			t.Errorf("seed: %s should carry web, app and db: %+v", name, s)
		}
	}
	ha, err := Preset("ha")
	if err != nil {
		t.Fatal(err)
	}
	if ha.TLS.Policy != Reencrypt || ha.Database.Replication != Galera {
		t.Errorf("ha: policy %s, replication %s; want reencrypt, galera", ha.TLS.Policy, ha.Database.Replication)
	}
	if len(ha.WithRole(RoleLB)) != 2 || len(ha.WithRole(RoleDB)) != 3 || len(ha.WithRole(RoleMonitor)) != 1 {
		t.Errorf("ha: want 2 lbs, 3 dbs, 1 monitor")
	}
	for _, db := range ha.WithRole(RoleDB) {
		if db.Has(RoleWeb) || db.Has(RoleApp) {
			t.Errorf("ha: %s co-locates db with web or app", db.Name)
		}
	}
}

func TestDefaultsAreSafe(t *testing.T) {
	topo, err := Parse("rampart.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if topo.Site.Domain != "www.foobar.com" || topo.TLS.Policy != Reencrypt || topo.TLS.MinVersion != "1.2" {
		t.Errorf("defaults: %+v %+v", topo.Site, topo.TLS)
	}
	if *topo.Database.Durable.FlushLogAtTrxCommit != 1 || *topo.Database.Durable.SyncBinlog != 1 {
		t.Error("durable database settings are not the default")
	}
	if !topo.FirewallEnabled() || !topo.MonitoringEnabled() {
		t.Error("firewall and monitoring must be on by default")
	}
}

func TestExplicitZeroIsKept(t *testing.T) {
	topo, err := Parse("rampart.yaml", []byte("database:\n  durable:\n    sync_binlog: 0\nlb:\n  retries: 0\n"+minimal))
	if err != nil {
		t.Fatal(err)
	}
	if *topo.Database.Durable.SyncBinlog != 0 || *topo.LB.Retries != 0 {
		t.Error("an explicit 0 was replaced by the default")
	}
}

func TestErrorsNameFileLineAndKey(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want string // the first error, exactly
	}{
		{"unknown top-level key", "sit:\n  domain: x\n" + minimal,
			"rampart.yaml:1: sit: unknown key (known: app, database, firewall, lb, monitoring, ports, servers, site, tls)"},
		{"unknown nested key", "tls:\n  policy: reencrypt\n  polcy: x\n" + minimal,
			"rampart.yaml:3: tls.polcy: unknown key (known: certificate, client_ca_file, hsts, min_version, policy)"},
		{"bad policy", "tls:\n  policy: plain\n" + minimal,
			`rampart.yaml:2: tls.policy: "plain" is not a policy (want terminate or reencrypt)`},
		{"bad role", strings.Replace(minimal, "[web, app]", "[web, ap]", 1),
			`rampart.yaml:8: servers[1].roles[1]: "ap" is not a role (want lb, web, app, db or monitor)`},
		{"bad address", strings.Replace(minimal, "127.0.1.2", "127.0.1", 1),
			`rampart.yaml:7: servers[1].address: "127.0.1" is not an IP address`},
		{"duplicate name", strings.Replace(minimal, "name: s-1", "name: lb-1", 1),
			`rampart.yaml:6: servers[1].name: "lb-1" names two servers`},
		{"wrong type", "lb:\n  retries: many\n" + minimal,
			"rampart.yaml:2: cannot unmarshal !!str `many` into int"},
		{"bad duration", "lb:\n  health:\n    interval: soon\n" + minimal,
			"rampart.yaml:3: cannot unmarshal !!str `soon` into time.Duration"},
		{"malformed yaml", "site: [\n",
			"rampart.yaml:1: did not find expected node content"},
		{"port clash", "ports:\n  web: 443\n" + minimal,
			"rampart.yaml:2: ports.web: port 443 is already used by site.https_port"},
		{"missing cert files", "tls:\n  certificate:\n    source: files\n" + minimal,
			"rampart.yaml:2: tls.certificate.cert_file: is required when source is files"},
		{"no lb", "servers:\n  - name: a\n    address: 127.0.1.1\n    roles: [web, app]\n",
			"rampart.yaml:1: servers: the site needs a server with the lb role to answer clients"},
		{"health path that would shadow the site", "lb:\n  health: {path: /}\n" + minimal,
			`rampart.yaml:2: lb.health.path: "/" must be a plain path below / such as /healthz`},
		{"unspecified address", strings.Replace(minimal, "127.0.1.2", "0.0.0.0", 1),
			`rampart.yaml:7: servers[1].address: 0.0.0.0 cannot be a server's address (it must name one host)`},
		{"empty", "", "rampart.yaml: the file is empty; start from `rampart init --preset seed`"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("rampart.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			first := strings.Split(err.Error(), "\n")[0]
			if first != c.want {
				t.Errorf("got  %s\nwant %s", first, c.want)
			}
		})
	}
}

func TestLoadReportsMissingFile(t *testing.T) {
	_, err := Load("/nonexistent/rampart.yaml")
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("err = %v", err)
	}
	var e Errors
	if errors.As(err, &e) {
		t.Fatal("a missing file is not a validation error")
	}
}
