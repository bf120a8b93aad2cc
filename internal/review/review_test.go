package review

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rampart-dev/rampart/internal/topology"
)

// build returns the preset with mutate applied, read back through YAML, so
// every topology a test reviews is one that rampart accepts from a file.
func build(t *testing.T, preset string, mutate func(*topology.Topology)) *topology.Topology {
	t.Helper()
	base, err := topology.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(base)
	}
	data, err := yaml.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.Parse("test:"+preset, data)
	if err != nil {
		t.Fatalf("the test's topology does not validate: %v", err)
	}
	return topo
}

func ids(r Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.ID)
	}
	return out
}

// without removes the named servers.
func without(names ...string) func(*topology.Topology) {
	return func(t *topology.Topology) {
		t.Servers = slices.DeleteFunc(t.Servers, func(s topology.Server) bool { return slices.Contains(names, s.Name) })
	}
}

// roles sets a server's roles.
func roles(name string, rs ...topology.Role) func(*topology.Topology) {
	return func(t *topology.Topology) {
		for i := range t.Servers {
			if t.Servers[i].Name == name {
				t.Servers[i].Roles = rs
			}
		}
	}
}

func server(t *topology.Topology, name string) *topology.Server {
	for i := range t.Servers {
		if t.Servers[i].Name == name {
			return &t.Servers[i]
		}
	}
	panic("no server " + name)
}

func both(fs ...func(*topology.Topology)) func(*topology.Topology) {
	return func(t *topology.Topology) {
		for _, f := range fs {
			f(t)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// cases hold, for every rule, a topology that triggers it and a
// near-identical one that does not: the preset changed by trigger, and the
// preset changed by sound (nil leaves the preset as it is). Most start from
// the ha preset, which has nothing at warning or above, and change one thing.
var cases = []struct {
	id      string
	name    string
	preset  string
	trigger func(*topology.Topology)
	sound   func(*topology.Topology)
}{
	{"RAMPART-TLS-TERMINATED", "terminate, not reencrypt", "ha",
		func(t *topology.Topology) { t.TLS.Policy = topology.Terminate }, nil},
	{"RAMPART-TLS-TERMINATED", "the seed with reencrypt is sound", "seed",
		nil, func(t *topology.Topology) { t.TLS.Policy = topology.Reencrypt }},
	{"RAMPART-TLS-HSTS-SHORT", "a day of HSTS, not 180 days", "ha",
		func(t *topology.Topology) { t.TLS.HSTS = 24 * time.Hour },
		func(t *topology.Topology) { t.TLS.HSTS = 180 * 24 * time.Hour }},
	{"RAMPART-DB-SINGLE-WRITER", "primary-replica, not galera", "ha",
		func(t *topology.Topology) { t.Database.Replication = topology.PrimaryReplica }, nil},
	{"RAMPART-DB-SINGLE-WRITER", "one galera node", "ha",
		without("db-2", "db-3"), nil},
	{"RAMPART-DB-SINGLE-WRITER", "a lone primary", "ha",
		both(without("db-2", "db-3"), func(t *topology.Topology) { t.Database.Replication = topology.PrimaryReplica }),
		nil},
	{"RAMPART-DB-NO-QUORUM", "two galera nodes, not three", "ha",
		without("db-3"), nil},
	{"RAMPART-DB-NO-QUORUM", "two primary-replica nodes are another finding", "seed",
		func(t *topology.Topology) { t.Database.Replication = topology.Galera; t.Database.Primary = "" }, nil},
	{"RAMPART-DB-NOT-DURABLE", "innodb_flush_log_at_trx_commit 2", "ha",
		func(t *topology.Topology) { t.Database.Durable.FlushLogAtTrxCommit = ptr(2) },
		func(t *topology.Topology) { t.Database.Durable.FlushLogAtTrxCommit = ptr(1) }},
	{"RAMPART-DB-NOT-DURABLE", "sync_binlog 0", "ha",
		func(t *topology.Topology) { t.Database.Durable.SyncBinlog = ptr(0) }, nil},
	{"RAMPART-DB-NOT-DURABLE", "no database, nothing to lose", "ha",
		func(t *topology.Topology) { t.Database.Durable.SyncBinlog = ptr(0) },
		both(without("db-1", "db-2", "db-3"), func(t *topology.Topology) { t.Database.Durable.SyncBinlog = ptr(0) })},
	{"RAMPART-COLOCATED-TIERS", "app on a db server", "ha",
		roles("db-1", topology.RoleApp, topology.RoleDB), roles("db-1", topology.RoleDB)},
	{"RAMPART-COLOCATED-TIERS", "web on an lb", "ha",
		roles("lb-2", topology.RoleLB, topology.RoleWeb), nil},
	{"RAMPART-COLOCATED-TIERS", "web and app are one tier", "ha",
		roles("app-1", topology.RoleWeb, topology.RoleDB), roles("app-1", topology.RoleWeb, topology.RoleApp)},
	{"RAMPART-SPOF-LB", "one lb, not two", "ha",
		without("lb-2"), nil},
	{"RAMPART-SPOF-WEB", "one web server", "ha",
		roles("app-2", topology.RoleApp), nil},
	{"RAMPART-SPOF-APP", "one app server", "ha",
		roles("app-2", topology.RoleWeb), nil},
	{"RAMPART-SPOF-COLLECTOR", "one collector, not an external one besides", "ha",
		nil, func(t *topology.Topology) { t.Monitoring.ExternalCollector = "https://prom.example.net/" }},
	{"RAMPART-SPOF-COLLECTOR", "only the external collector", "ha",
		both(without("monitor-1"), func(t *topology.Topology) { t.Monitoring.ExternalCollector = "https://prom.example.net/" }),
		func(t *topology.Topology) { t.Monitoring.ExternalCollector = "https://prom.example.net/" }},
	{"RAMPART-MONITORING-MISSING", "one server turns its client off", "ha",
		func(t *topology.Topology) { server(t, "db-2").Monitoring = ptr(false) },
		func(t *topology.Topology) { server(t, "db-2").Monitoring = ptr(true) }},
	{"RAMPART-MONITORING-MISSING", "monitoring off for the site", "ha",
		func(t *topology.Topology) { t.Monitoring.Enabled = ptr(false) },
		func(t *topology.Topology) { t.Monitoring.Enabled = ptr(true) }},
	{"RAMPART-MONITORING-NO-COLLECTOR", "no monitor server", "ha",
		without("monitor-1"), nil},
	{"RAMPART-FIREWALL-MISSING", "one server turns its firewall off", "ha",
		func(t *topology.Topology) { server(t, "db-2").Firewall = ptr(false) },
		func(t *topology.Topology) { server(t, "db-2").Firewall = ptr(true) }},
	{"RAMPART-FIREWALL-MISSING", "firewall off for the site", "seed",
		func(t *topology.Topology) { t.Firewall.Enabled = ptr(false) }, nil},
	{"RAMPART-FIREWALL-EXTRA-PORT", "a node exporter port opened to admins", "ha",
		func(t *topology.Topology) {
			t.Firewall.Open = []topology.OpenPort{{Port: 9100, From: "admins", To: []string{"db-1"}, Reason: "node exporter"}}
		}, nil},
	{"RAMPART-FIREWALL-EXTRA-PORT", "mysql opened to every client on every server", "ha",
		func(t *topology.Topology) { t.Firewall.Open = []topology.OpenPort{{Port: 3306, From: "clients"}} }, nil},
	{"RAMPART-FIREWALL-ADMIN-WORLD", "0.0.0.0/0, not a network", "ha",
		func(t *topology.Topology) { t.Firewall.AdminCIDRs = []string{"10.0.0.0/8", "0.0.0.0/0"} },
		func(t *topology.Topology) { t.Firewall.AdminCIDRs = []string{"10.0.0.0/8", "0.0.0.0/1"} }},
	{"RAMPART-FIREWALL-ADMIN-WORLD", "::/0 beside an external collector", "ha",
		func(t *topology.Topology) {
			t.Firewall.AdminCIDRs = []string{"::/0"}
			t.Monitoring.ExternalCollector = "https://prom.example.net/"
		}, nil},
}

func TestEachRuleTriggersOnlyWhereItShould(t *testing.T) {
	for _, c := range cases {
		t.Run(c.id+"/"+c.name, func(t *testing.T) {
			bad := Review(build(t, c.preset, c.trigger))
			if _, ok := bad.Find(c.id); !ok {
				t.Errorf("not reported; got %v", ids(bad))
			}
			if f, ok := Review(build(t, c.preset, c.sound)).Find(c.id); ok {
				t.Errorf("reported on the sound twin: %s", f.Why)
			}
		})
	}
}

func TestEveryRuleHasATableCase(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.id] = true
	}
	for _, r := range Rules() {
		if !covered[r.ID] {
			t.Errorf("%s has no case in the table", r.ID)
		}
	}
}

// triggering returns every topology in the table that triggers its rule.
func triggering(t *testing.T) map[string][]*topology.Topology {
	out := map[string][]*topology.Topology{}
	for _, c := range cases {
		out[c.id] = append(out[c.id], build(t, c.preset, c.trigger))
	}
	return out
}

func TestEachFixMakesItsFindingGoAway(t *testing.T) {
	for id, topos := range triggering(t) {
		for i, topo := range topos {
			f, ok := Review(topo).Find(id)
			if !ok {
				t.Errorf("%s #%d: not triggered", id, i)
				continue
			}
			data, err := ApplyFix(topo, f)
			if err != nil {
				t.Errorf("%s #%d: %v", id, i, err)
				continue
			}
			fixed, err := topology.Parse("fixed.yaml", data)
			if err != nil {
				t.Fatalf("%s #%d: ApplyFix returned a file that does not parse: %v", id, i, err)
			}
			if g, ok := Review(fixed).Find(id); ok {
				t.Errorf("%s #%d: still reported after the fix %q: %s", id, i, f.Fix.Text, g.Why)
			}
		}
	}
}

func TestSeedReportsItsThreeIssuesAndTwoSinglePoints(t *testing.T) {
	r := Review(build(t, "seed", nil))
	want := map[string]Severity{
		"RAMPART-TLS-TERMINATED":   Critical,
		"RAMPART-DB-SINGLE-WRITER": Critical,
		"RAMPART-COLOCATED-TIERS":  Warning,
		"RAMPART-SPOF-LB":          Warning,
		"RAMPART-SPOF-COLLECTOR":   Info,
	}
	if len(r.Findings) != len(want) {
		t.Errorf("findings %v, want exactly %d", ids(r), len(want))
	}
	for id, sev := range want {
		f, ok := r.Find(id)
		if !ok {
			t.Errorf("%s not reported", id)
			continue
		}
		if f.Severity != sev {
			t.Errorf("%s is %s, want %s", id, f.Severity, sev)
		}
	}
	tls, _ := r.Find("RAMPART-TLS-TERMINATED")
	for _, f := range tls.Flows {
		if f.Protection != topology.Plaintext || f.From == f.To {
			t.Errorf("TLS finding lists a flow that is not a plaintext hop: %+v", f)
		}
	}
	if !slices.Equal(tls.Servers, []string{"lb-1", "server-1", "server-2"}) {
		t.Errorf("TLS finding servers %v", tls.Servers)
	}
	co, _ := r.Find("RAMPART-COLOCATED-TIERS")
	if !slices.Equal(co.Servers, []string{"server-1", "server-2"}) {
		t.Errorf("co-location servers %v", co.Servers)
	}
}

func TestHAReportsNothingAtWarningOrAbove(t *testing.T) {
	r := Review(build(t, "ha", nil))
	for _, f := range r.AtLeast(Warning) {
		t.Errorf("%s %s: %s", f.Severity, f.ID, f.Why)
	}
}

func TestFixingTheSeedReachesASoundDesign(t *testing.T) {
	topo := build(t, "seed", nil)
	for range 10 {
		bad := Review(topo).AtLeast(Warning)
		if len(bad) == 0 {
			if n := len(topo.WithRole(topology.RoleDB)); n < 3 {
				t.Errorf("sound design with %d db servers", n)
			}
			return
		}
		data, err := ApplyFix(topo, bad[0])
		if err != nil {
			t.Fatal(err)
		}
		if topo, err = topology.Parse("fixed.yaml", data); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("fixes did not converge: %v", ids(Review(topo)))
}

func TestFindingsComeMostSevereFirst(t *testing.T) {
	r := Review(build(t, "seed", nil))
	if !slices.IsSortedFunc(r.Findings, func(a, b Finding) int { return int(b.Severity - a.Severity) }) {
		t.Errorf("order %v", ids(r))
	}
}

func TestRuleIDsAreStableAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] || !strings.HasPrefix(r.ID, "RAMPART-") || strings.ToUpper(r.ID) != r.ID {
			t.Errorf("bad or duplicate ID %q", r.ID)
		}
		seen[r.ID] = true
		if r.Severity < Info || r.Severity > Critical || r.Title == "" {
			t.Errorf("%s: severity %v, title %q", r.ID, r.Severity, r.Title)
		}
	}
}

func TestDocsDescribeEveryRule(t *testing.T) {
	doc, err := os.ReadFile("../../docs/check.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules() {
		if !strings.Contains(string(doc), r.ID) {
			t.Errorf("docs/check.md does not describe %s", r.ID)
		}
	}
}

func TestParseSeverity(t *testing.T) {
	for _, s := range []Severity{Info, Warning, Critical} {
		got, err := ParseSeverity(s.String())
		if err != nil || got != s {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	if _, err := ParseSeverity("high"); err == nil || !strings.Contains(err.Error(), "want info, warning or critical") {
		t.Errorf("err = %v", err)
	}
}
