package topology

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"
)

// Topology is the whole site as written in rampart.yaml, with defaults
// applied.
type Topology struct {
	Site       Site       `yaml:"site"`
	TLS        TLS        `yaml:"tls"`
	LB         LB         `yaml:"lb"`
	App        App        `yaml:"app"`
	Database   Database   `yaml:"database"`
	Monitoring Monitoring `yaml:"monitoring"`
	Firewall   Firewall   `yaml:"firewall"`
	Ports      Ports      `yaml:"ports"`
	Servers    []Server   `yaml:"servers"`

	// Source is the file the topology came from, or "preset:NAME".
	Source string `yaml:"-"`
}

// Site names the public face of the site.
type Site struct {
	Domain    string `yaml:"domain"`
	HTTPSPort int    `yaml:"https_port"`
	HTTPPort  int    `yaml:"http_port"`
}

// Policy says how traffic behind the load balancer is protected.
type Policy string

const (
	// Terminate ends TLS at the lb; internal hops are plaintext (the seed).
	Terminate Policy = "terminate"
	// Reencrypt ends TLS at the lb and uses mutual TLS on every internal hop.
	Reencrypt Policy = "reencrypt"
)

// TLS is the site's TLS policy and certificate source.
type TLS struct {
	Policy      Policy        `yaml:"policy"`
	MinVersion  string        `yaml:"min_version"`
	HSTS        time.Duration `yaml:"hsts"`
	Certificate Certificate   `yaml:"certificate"`
	// ClientCAFile, when set, is the CA bundle that the lb verifies client
	// certificates against. By default it is the site's private CA.
	ClientCAFile string `yaml:"client_ca_file"`
}

// CertSource says where the site's public certificate comes from.
type CertSource string

const (
	CertFromCA    CertSource = "ca"
	CertFromFiles CertSource = "files"
	CertFromACME  CertSource = "acme"
)

// Certificate is the public certificate of the site.
type Certificate struct {
	Source   CertSource `yaml:"source"`
	CertFile string     `yaml:"cert_file"`
	KeyFile  string     `yaml:"key_file"`
	ACME     ACME       `yaml:"acme"`
}

// ACME configures issuance from an ACME CA.
type ACME struct {
	Directory string `yaml:"directory"`
	Email     string `yaml:"email"`
	// CAFile is the root that signs the ACME server's own HTTPS certificate,
	// for private ACME servers such as Pebble or step-ca.
	CAFile string `yaml:"ca_file"`
}

// LB configures the load balancers.
type LB struct {
	Algorithm    string        `yaml:"algorithm"`
	Retries      *int          `yaml:"retries"`
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	Health       Health        `yaml:"health"`
	Limits       Limits        `yaml:"limits"`
}

// Limits bound what one client may ask of an lb: an IPv4 address, or an
// IPv6 /64. A client over a limit is refused and banned for BanFor. Zero
// means no limit.
type Limits struct {
	RequestsPerSecond    float64       `yaml:"requests_per_second"`
	Burst                int           `yaml:"burst"`
	ConnectionsPerClient int           `yaml:"connections_per_client"`
	BanFor               time.Duration `yaml:"ban_for"`
}

// Health configures active health checks, used by the lb over web servers
// and by web servers over app servers.
type Health struct {
	Path     string        `yaml:"path"`
	Interval time.Duration `yaml:"interval"`
	Timeout  time.Duration `yaml:"timeout"`
	Rise     int           `yaml:"rise"`
	Fall     int           `yaml:"fall"`
}

// App configures the application that app servers run.
type App struct {
	// Command runs the application; it must listen on $HOST:$PORT. Empty
	// means the built-in demo application.
	Command []string `yaml:"command"`
	// Codebase is the directory whose files web servers serve as static
	// files. Empty means the demo's codebase.
	Codebase string   `yaml:"codebase"`
	Env      []string `yaml:"env"`
}

// Replication is the database's replication mode.
type Replication string

const (
	PrimaryReplica Replication = "primary-replica"
	Galera         Replication = "galera"
)

// Database configures the db role.
type Database struct {
	Replication Replication `yaml:"replication"`
	Name        string      `yaml:"name"`
	// Primary names the server that accepts writes under primary-replica.
	// Empty means the first db server.
	Primary string  `yaml:"primary"`
	Durable Durable `yaml:"durable"`
}

// Durable holds the settings that make an acknowledged write survive a crash.
type Durable struct {
	FlushLogAtTrxCommit *int `yaml:"innodb_flush_log_at_trx_commit"`
	SyncBinlog          *int `yaml:"sync_binlog"`
}

// Monitoring configures the monitoring clients and the collector.
type Monitoring struct {
	Enabled        *bool         `yaml:"enabled"`
	ScrapeInterval time.Duration `yaml:"scrape_interval"`
	Retention      time.Duration `yaml:"retention"`
	// ExternalCollector is the URL of a collector outside the site, such as
	// a Prometheus run from `rampart export prometheus`, that scrapes every
	// server from an address in firewall.admin_cidrs. With it, losing the
	// built-in collector does not leave the site unwatched.
	ExternalCollector string `yaml:"external_collector,omitempty"`
}

// Firewall configures every server's firewall.
type Firewall struct {
	Enabled *bool `yaml:"enabled"`
	// AdminCIDRs may reach SSH and the admin endpoint of every server.
	AdminCIDRs []string `yaml:"admin_cidrs"`
	// Open lists ports opened beyond what the roles need; see OpenPort.
	Open []OpenPort `yaml:"open,omitempty"`
}

// Ports are the ports of every service. Each is written once, here.
type Ports struct {
	Web        int `yaml:"web"`
	App        int `yaml:"app"`
	AppProcess int `yaml:"app_process"`
	Admin      int `yaml:"admin"`
	MySQL      int `yaml:"mysql"`
	Galera     int `yaml:"galera"`
	IST        int `yaml:"ist"`
	SST        int `yaml:"sst"`
	SSH        int `yaml:"ssh"`
	// Dashboard is the monitor's HTTPS dashboard, for admins' browsers.
	Dashboard int `yaml:"dashboard"`
}

// Role is something a server does.
type Role string

const (
	RoleLB      Role = "lb"
	RoleWeb     Role = "web"
	RoleApp     Role = "app"
	RoleDB      Role = "db"
	RoleMonitor Role = "monitor"
)

// Roles lists every role in the order traffic meets them.
var Roles = []Role{RoleLB, RoleWeb, RoleApp, RoleDB, RoleMonitor}

// Server is one machine of the site.
type Server struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	Roles   []Role `yaml:"roles"`
	// Monitoring and Firewall, when false, turn this server's monitoring
	// client or firewall off; they cannot turn on what the section turns off.
	Monitoring *bool `yaml:"monitoring,omitempty"`
	Firewall   *bool `yaml:"firewall,omitempty"`
}

// Has reports whether s carries role r.
func (s Server) Has(r Role) bool { return slices.Contains(s.Roles, r) }

// IP returns the server's address.
func (s Server) IP() netip.Addr {
	a, _ := netip.ParseAddr(s.Address)
	return a
}

// HostPort joins the server's address with port.
func (s Server) HostPort(port int) string {
	return net.JoinHostPort(s.Address, fmt.Sprint(port))
}

// Server returns the server named name.
func (t *Topology) Server(name string) (Server, bool) {
	for _, s := range t.Servers {
		if s.Name == name {
			return s, true
		}
	}
	return Server{}, false
}

// WithRole returns the servers that carry role r, in file order.
func (t *Topology) WithRole(r Role) []Server {
	var out []Server
	for _, s := range t.Servers {
		if s.Has(r) {
			out = append(out, s)
		}
	}
	return out
}

// MonitoringEnabled reports whether monitoring clients run.
func (t *Topology) MonitoringEnabled() bool {
	return t.Monitoring.Enabled == nil || *t.Monitoring.Enabled
}

// FirewallEnabled reports whether firewalls run.
func (t *Topology) FirewallEnabled() bool {
	return t.Firewall.Enabled == nil || *t.Firewall.Enabled
}
