package db

import (
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-dev/rampart/internal/topology"
)

func mustParse(t *testing.T, yaml string) *topology.Topology {
	t.Helper()
	topo, err := topology.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// lines returns the config's settings, without comments, as "key=value".
func lines(cnf string) []string {
	var out []string
	for _, l := range strings.Split(cnf, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func has(t *testing.T, cnf string, want ...string) {
	t.Helper()
	got := lines(cnf)
	for _, w := range want {
		found := false
		for _, l := range got {
			if l == w {
				found = true
			}
		}
		if !found {
			t.Errorf("config lacks %q:\n%s", w, cnf)
		}
	}
}

func hasNot(t *testing.T, cnf string, prefixes ...string) {
	t.Helper()
	for _, l := range lines(cnf) {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				t.Errorf("config has %q, want no %s", l, p)
			}
		}
	}
}

func TestGaleraConfigBindsOnlyTheServerAndTakesEveryPortFromTheTopology(t *testing.T) {
	topo := mustParse(t, siteYAML("galera", "10.213.0.", "db-1", "db-2", "db-3")+
		"ports: {mysql: 13306, galera: 14567, ist: 14568, sst: 14444}\n")
	s2, _ := topo.Server("db-2")
	set, err := settingsFor(topo, s2, Layout{Dir: "/state/servers/db-2/db"})
	if err != nil {
		t.Fatal(err)
	}
	cnf := set.render()
	has(t, cnf,
		"[mysqld]",
		"bind-address=10.213.0.2",
		"port=13306",
		"datadir=/state/servers/db-2/db/data",
		"socket=/state/servers/db-2/db/mysqld.sock",
		"tmpdir=/state/servers/db-2/db/tmp",
		"report_host=db-2",
		"server_id=2",
		"innodb_flush_log_at_trx_commit=1",
		"sync_binlog=1",
		"require_secure_transport=ON",
		"ssl_cert=/state/servers/db-2/db/tls/server.pem",
		"wsrep_on=ON",
		"wsrep_cluster_address=gcomm://10.213.0.1:14567,10.213.0.2:14567,10.213.0.3:14567",
		"wsrep_node_name=db-2",
		"wsrep_node_address=10.213.0.2:14567",
		"wsrep_sst_method=rsync",
		"wsrep_sst_receive_address=10.213.0.2:14444",
		"[sst]",
		"ssl-mode=VERIFY_CA",
		"tcert=/state/servers/db-2/db/tls/peer.pem",
	)
	for _, opt := range []string{"gmcast.listen_addr=tcp://10.213.0.2:14567", "ist.recv_addr=10.213.0.2:14568",
		"socket.ssl_cert=/state/servers/db-2/db/tls/peer.pem", "socket.ssl_ca=/state/servers/db-2/db/tls/ca.pem"} {
		if !strings.Contains(cnf, opt) {
			t.Errorf("wsrep_provider_options lack %q", opt)
		}
	}
	hasNot(t, cnf, "read_only", "gtid_strict_mode", "bind-address=0.0.0.0")
	if defaultPort.MatchString(cnf) {
		t.Errorf("a default port leaked into a config whose topology moved every port:\n%s", cnf)
	}
}

var defaultPort = regexp.MustCompile(`[^0-9](3306|4567|4568|4444)\b`)

func TestPrimaryReplicaConfig(t *testing.T) {
	topo := mustParse(t, `database:
  replication: primary-replica
  primary: db-2
  durable: {innodb_flush_log_at_trx_commit: 2, sync_binlog: 0}
servers:
  - {name: front, address: 10.213.0.100, roles: [lb, web, app]}
  - {name: db-1, address: 10.213.0.1, roles: [db]}
  - {name: db-2, address: 10.213.0.2, roles: [db]}
`)
	for _, c := range []struct {
		server   string
		readOnly bool
	}{
		{"db-1", true},
		{"db-2", false},
	} {
		s, _ := topo.Server(c.server)
		set, err := settingsFor(topo, s, Layout{Dir: "/s"})
		if err != nil {
			t.Fatal(err)
		}
		cnf := set.render()
		has(t, cnf, "gtid_strict_mode=ON", "log_bin=/s/data/binlog", "innodb_flush_log_at_trx_commit=2", "sync_binlog=0")
		hasNot(t, cnf, "wsrep")
		if got := strings.Contains(cnf, "\nread_only=ON\n"); got != c.readOnly {
			t.Errorf("%s: read_only=%v, want %v (the primary is db-2)", c.server, got, c.readOnly)
		}
	}
}

func TestSettingsRejectASocketPathTooLongForLinux(t *testing.T) {
	topo := mustParse(t, siteYAML("galera", "10.213.0.", "db-1"))
	s, _ := topo.Server("db-1")
	_, err := settingsFor(topo, s, Layout{Dir: "/" + strings.Repeat("d", 100)})
	if err == nil || !strings.Contains(err.Error(), "shorter --state") || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %v, want one line asking for a shorter state directory", err)
	}
}
