package db

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/rampart-dev/rampart/internal/topology"
)

// Layout is where one Server keeps its files, all under one directory that
// the mysql user owns.
type Layout struct{ Dir string }

func (l Layout) Config() string   { return filepath.Join(l.Dir, "my.cnf") }
func (l Layout) Data() string     { return filepath.Join(l.Dir, "data") }
func (l Layout) Socket() string   { return filepath.Join(l.Dir, "mysqld.sock") }
func (l Layout) PIDFile() string  { return filepath.Join(l.Dir, "mysqld.pid") }
func (l Layout) ErrorLog() string { return filepath.Join(l.Dir, "error.log") }

// Tmp is mariadbd's tmpdir and the state transfer scripts' TMPDIR, so their
// scratch files stay in the state directory.
func (l Layout) Tmp() string { return filepath.Join(l.Dir, "tmp") }

// TLS returns the path of one of the PEM files written for mariadbd.
func (l Layout) TLS(file string) string { return filepath.Join(l.Dir, "tls", file) }

// Grastate is the file in which Galera keeps the node's last known position.
func (l Layout) Grastate() string { return filepath.Join(l.Data(), "grastate.dat") }

// maxSocketPath is the longest Unix socket path Linux accepts (sun_path
// holds 108 bytes with the terminating NUL).
const maxSocketPath = 107

// The PEM files a Server writes for mariadbd. The server pair is presented to
// SQL clients; the client pair by a replica to its primary; the peer pair,
// valid for both ends, by a Galera node to the others and by state transfers.
const (
	fileCA         = "ca.pem"
	fileServerCert = "server.pem"
	fileServerKey  = "server-key.pem"
	fileClientCert = "client.pem"
	fileClientKey  = "client-key.pem"
	filePeerCert   = "peer.pem"
	filePeerKey    = "peer-key.pem"
)

// galeraProvider is the Galera library that Debian's galera-4 installs.
const galeraProvider = "/usr/lib/galera/libgalera_smm.so"

// settings is everything that goes into one server's my.cnf.
type settings struct {
	Name      string
	Addr      string // the server's own address, the only one mariadbd binds
	MySQLPort int
	ServerID  int // 1 + the server's place among the db servers
	Layout    Layout

	FlushLogAtTrxCommit int
	SyncBinlog          int

	// ReadOnly is set on a primary-replica replica.
	ReadOnly bool
	// Galera is set under galera replication.
	Galera *galeraSettings
}

type galeraSettings struct {
	ClusterName string
	Members     []string // host:port of every db server's Galera port, in file order
	GaleraPort  int
	ISTPort     int
	SSTPort     int
}

// settingsFor derives server's my.cnf settings from the topology. Ports and
// peers come from it alone.
func settingsFor(t *topology.Topology, server topology.Server, l Layout) (settings, error) {
	if len(l.Socket()) > maxSocketPath {
		return settings{}, fmt.Errorf("db %s: socket path %s is longer than %d bytes; use a shorter --state directory",
			server.Name, l.Socket(), maxSocketPath)
	}
	dbs := t.WithRole(topology.RoleDB)
	id := 0
	for i, s := range dbs {
		if s.Name == server.Name {
			id = i + 1
		}
	}
	if id == 0 {
		return settings{}, fmt.Errorf("db %s: the server has no db role", server.Name)
	}
	s := settings{
		Name: server.Name, Addr: server.Address, MySQLPort: t.Port(topology.ServiceMySQL), ServerID: id, Layout: l,
		FlushLogAtTrxCommit: *t.Database.Durable.FlushLogAtTrxCommit,
		SyncBinlog:          *t.Database.Durable.SyncBinlog,
	}
	switch t.Database.Replication {
	case topology.PrimaryReplica:
		primary, ok := t.PrimaryDB()
		if !ok {
			return settings{}, fmt.Errorf("db %s: database.primary names no db server", server.Name)
		}
		s.ReadOnly = primary.Name != server.Name
	case topology.Galera:
		g := &galeraSettings{
			ClusterName: t.Site.Domain,
			GaleraPort:  t.Port(topology.ServiceGalera),
			ISTPort:     t.Port(topology.ServiceIST),
			SSTPort:     t.Port(topology.ServiceSST),
		}
		for _, d := range dbs {
			g.Members = append(g.Members, d.HostPort(g.GaleraPort))
		}
		s.Galera = g
	default:
		return settings{}, fmt.Errorf("db %s: replication %q is not supported", server.Name, t.Database.Replication)
	}
	return s, nil
}

// render returns the my.cnf text. mariadbd reads only this file
// (--defaults-file), never /etc/mysql.
func (s settings) render() string {
	l := s.Layout
	var b strings.Builder
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("# Written by rampart for %s at every start; edits are lost.", s.Name)
	line("[mysqld]")
	line("datadir=%s", l.Data())
	line("socket=%s", l.Socket())
	line("pid-file=%s", l.PIDFile())
	line("log-error=%s", l.ErrorLog())
	line("tmpdir=%s", l.Tmp())
	line("# Only the server's own address: other servers' ports are theirs.")
	line("bind-address=%s", s.Addr)
	line("port=%d", s.MySQLPort)
	line("skip-name-resolve")
	line("# Clients learn which server answered from @@report_host.")
	line("report_host=%s", s.Name)
	line("server_id=%d", s.ServerID)
	line("character-set-server=utf8mb4")
	line("collation-server=utf8mb4_unicode_ci")
	line("default_storage_engine=InnoDB")
	line("innodb_buffer_pool_size=128M")
	line("innodb_log_file_size=48M")
	line("max_connections=300")
	line("# Durable: an acknowledged commit is on disk, in InnoDB and in the binlog.")
	line("innodb_flush_log_at_trx_commit=%d", s.FlushLogAtTrxCommit)
	line("sync_binlog=%d", s.SyncBinlog)
	line("log_bin=%s", filepath.Join(l.Data(), "binlog"))
	line("relay_log=%s", filepath.Join(l.Data(), "relay"))
	line("binlog_format=ROW")
	line("log_slave_updates=ON")
	line("# TCP clients must use TLS; the local socket is for rampart itself.")
	line("require_secure_transport=ON")
	line("tls_version=TLSv1.2,TLSv1.3")
	line("ssl_ca=%s", l.TLS(fileCA))
	line("ssl_cert=%s", l.TLS(fileServerCert))
	line("ssl_key=%s", l.TLS(fileServerKey))
	if s.ReadOnly {
		line("# A replica: only replication and rampart write here.")
		line("read_only=ON")
	}
	if s.Galera == nil {
		line("# Replicas refuse a transaction that would break the primary's GTID order.")
		line("gtid_strict_mode=ON")
	}
	if g := s.Galera; g != nil {
		line("wsrep_on=ON")
		line("wsrep_provider=%s", galeraProvider)
		line("wsrep_cluster_name=%s", g.ClusterName)
		line("wsrep_cluster_address=gcomm://%s", strings.Join(g.Members, ","))
		line("wsrep_node_name=%s", s.Name)
		line("wsrep_node_address=%s", net.JoinHostPort(s.Addr, fmt.Sprint(g.GaleraPort)))
		line("wsrep_node_incoming_address=%s", net.JoinHostPort(s.Addr, fmt.Sprint(s.MySQLPort)))
		line("# rsync runs as the mysql user (it refuses root) and is fast on small data.")
		line("wsrep_sst_method=rsync")
		line("wsrep_sst_receive_address=%s", net.JoinHostPort(s.Addr, fmt.Sprint(g.SSTPort)))
		line("innodb_autoinc_lock_mode=2")
		opts := []string{
			"gmcast.listen_addr=tcp://" + net.JoinHostPort(s.Addr, fmt.Sprint(g.GaleraPort)),
			"ist.recv_addr=" + net.JoinHostPort(s.Addr, fmt.Sprint(g.ISTPort)),
			"socket.ssl_ca=" + l.TLS(fileCA),
			"socket.ssl_cert=" + l.TLS(filePeerCert),
			"socket.ssl_key=" + l.TLS(filePeerKey),
			"gcache.size=128M",
			// rampart recovers a full outage itself (beacon.go). Galera's
			// own recovery would bring a crashed node back under its old
			// identity, which its peers have just evicted, and delay the
			// rejoin by many seconds.
			"pc.recovery=FALSE",
		}
		line("wsrep_provider_options=\"%s\"", strings.Join(opts, ";"))
		line("[sst]")
		line("# State transfers use TLS too (stunnel for rsync), verified against the site CA.")
		line("ssl-mode=VERIFY_CA")
		line("tca=%s", l.TLS(fileCA))
		line("tcert=%s", l.TLS(filePeerCert))
		line("tkey=%s", l.TLS(filePeerKey))
	}
	return b.String()
}
