package topology

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

var (
	hostnameRE   = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	healthPathRE = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)
	serverNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

type validator struct {
	file  string
	lines map[string]int
	errs  Errors
}

// errorf records a problem with key, located at the key's line or, when the
// file left the key out, at its nearest parent's.
func (v *validator) errorf(key, format string, args ...any) {
	line := 0
	for k := key; k != ""; {
		if l, ok := v.lines[k]; ok {
			line = l
			break
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	v.errs = append(v.errs, &Error{File: v.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (t *Topology) validate(file string, lines map[string]int) Errors {
	v := &validator{file: file, lines: lines}
	t.validateSite(v)
	t.validateTLS(v)
	t.validateLB(v)
	t.validateDatabase(v)
	t.validateMonitoring(v)
	t.validateFirewall(v)
	t.validatePorts(v)
	t.validateServers(v)
	t.validateOverrides(v)
	return v.errs
}

func (t *Topology) validateSite(v *validator) {
	if !hostnameRE.MatchString(t.Site.Domain) {
		v.errorf("site.domain", "%q is not a lower-case DNS name", t.Site.Domain)
	}
}

func (t *Topology) validateTLS(v *validator) {
	if !slices.Contains([]Policy{Terminate, Reencrypt}, t.TLS.Policy) {
		v.errorf("tls.policy", "%q is not a policy (want terminate or reencrypt)", t.TLS.Policy)
	}
	if !slices.Contains([]string{"1.2", "1.3"}, t.TLS.MinVersion) {
		v.errorf("tls.min_version", "%q is not allowed (want 1.2 or 1.3; older versions are broken)", t.TLS.MinVersion)
	}
	if t.TLS.HSTS < 0 {
		v.errorf("tls.hsts", "must not be negative")
	}
	c := t.TLS.Certificate
	switch c.Source {
	case CertFromCA:
	case CertFromFiles:
		if c.CertFile == "" {
			v.errorf("tls.certificate.cert_file", "is required when source is files")
		}
		if c.KeyFile == "" {
			v.errorf("tls.certificate.key_file", "is required when source is files")
		}
	case CertFromACME:
		u, err := url.Parse(c.ACME.Directory)
		if c.ACME.Directory == "" || err != nil || u.Scheme != "https" || u.Host == "" {
			v.errorf("tls.certificate.acme.directory", "must be the https URL of the ACME directory")
		}
		if !strings.Contains(c.ACME.Email, "@") {
			v.errorf("tls.certificate.acme.email", "an ACME account needs a contact address")
		}
	default:
		v.errorf("tls.certificate.source", "%q is not a source (want ca, files or acme)", c.Source)
	}
}

func (t *Topology) validateLB(v *validator) {
	if !slices.Contains([]string{"round_robin", "least_conn"}, t.LB.Algorithm) {
		v.errorf("lb.algorithm", "%q is not an algorithm (want round_robin or least_conn)", t.LB.Algorithm)
	}
	if *t.LB.Retries < 0 {
		v.errorf("lb.retries", "must not be negative")
	}
	if l := t.LB.Limits; l.RequestsPerSecond < 0 || l.Burst < 0 || l.ConnectionsPerClient < 0 || l.BanFor < 0 {
		v.errorf("lb.limits", "limits must not be negative (0 means no limit)")
	}
	h := t.LB.Health
	if !healthPathRE.MatchString(h.Path) {
		v.errorf("lb.health.path", "%q must be a plain path below / such as /healthz", h.Path)
	}
	if h.Interval <= 0 || h.Timeout <= 0 {
		v.errorf("lb.health", "interval and timeout must be positive")
	} else if h.Timeout > h.Interval {
		v.errorf("lb.health.timeout", "%s is longer than the interval %s", h.Timeout, h.Interval)
	}
	if h.Rise < 1 || h.Fall < 1 {
		v.errorf("lb.health", "rise and fall must be at least 1")
	}
}

func (t *Topology) validateDatabase(v *validator) {
	d := t.Database
	if !slices.Contains([]Replication{PrimaryReplica, Galera}, d.Replication) {
		v.errorf("database.replication", "%q is not a mode (want primary-replica or galera)", d.Replication)
	}
	if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`).MatchString(d.Name) {
		v.errorf("database.name", "%q is not a plain database name", d.Name)
	}
	if d.Primary != "" {
		s, ok := t.Server(d.Primary)
		if !ok || !s.Has(RoleDB) {
			v.errorf("database.primary", "%q is not a server with the db role", d.Primary)
		}
	}
	if x := *d.Durable.FlushLogAtTrxCommit; x < 0 || x > 2 {
		v.errorf("database.durable.innodb_flush_log_at_trx_commit", "must be 0, 1 or 2")
	}
	if *d.Durable.SyncBinlog < 0 {
		v.errorf("database.durable.sync_binlog", "must not be negative")
	}
}

func (t *Topology) validateMonitoring(v *validator) {
	m := t.Monitoring
	if m.ScrapeInterval < 1e9 {
		v.errorf("monitoring.scrape_interval", "must be at least 1s")
	}
	if m.Retention < m.ScrapeInterval {
		v.errorf("monitoring.retention", "must be longer than the scrape interval")
	}
}

func (t *Topology) validateFirewall(v *validator) {
	for i, c := range t.Firewall.AdminCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			v.errorf(fmt.Sprintf("firewall.admin_cidrs[%d]", i), "%q is not a CIDR such as 192.0.2.0/24", c)
		}
	}
}

func (t *Topology) validatePorts(v *validator) {
	seen := map[int]string{}
	for _, p := range t.namedPorts() {
		if p.port < 1 || p.port > 65535 {
			v.errorf(p.key, "%d is not a port", p.port)
			continue
		}
		if other, dup := seen[p.port]; dup {
			v.errorf(p.key, "port %d is already used by %s", p.port, other)
			continue
		}
		seen[p.port] = p.key
	}
}

type namedPort struct {
	key  string
	port int
}

func (t *Topology) namedPorts() []namedPort {
	p := t.Ports
	return []namedPort{
		{"site.https_port", t.Site.HTTPSPort}, {"site.http_port", t.Site.HTTPPort},
		{"ports.web", p.Web}, {"ports.app", p.App}, {"ports.app_process", p.AppProcess},
		{"ports.admin", p.Admin}, {"ports.mysql", p.MySQL}, {"ports.galera", p.Galera},
		{"ports.ist", p.IST}, {"ports.sst", p.SST}, {"ports.ssh", p.SSH},
		{"ports.dashboard", p.Dashboard},
	}
}

func (t *Topology) validateServers(v *validator) {
	if len(t.Servers) == 0 {
		v.errorf("servers", "the site needs at least one server")
		return
	}
	names := map[string]bool{}
	addrs := map[string]string{}
	for i, s := range t.Servers {
		key := fmt.Sprintf("servers[%d]", i)
		if !serverNameRE.MatchString(s.Name) {
			v.errorf(key+".name", "%q is not a server name (lower-case letters, digits and dashes)", s.Name)
		} else if names[s.Name] {
			v.errorf(key+".name", "%q names two servers", s.Name)
		}
		names[s.Name] = true
		a, err := netip.ParseAddr(s.Address)
		if err != nil {
			v.errorf(key+".address", "%q is not an IP address", s.Address)
		} else if a.IsUnspecified() || a.IsMulticast() || a.Zone() != "" {
			v.errorf(key+".address", "%s cannot be a server's address (it must name one host)", a)
		} else if other, dup := addrs[a.String()]; dup {
			v.errorf(key+".address", "%s is already the address of %s", a, other)
		} else {
			addrs[a.String()] = s.Name
		}
		if len(s.Roles) == 0 {
			v.errorf(key+".roles", "server %s has no roles", s.Name)
		}
		seen := map[Role]bool{}
		for j, r := range s.Roles {
			if !slices.Contains(Roles, r) {
				v.errorf(fmt.Sprintf("%s.roles[%d]", key, j), "%q is not a role (want lb, web, app, db or monitor)", r)
			} else if seen[r] {
				v.errorf(fmt.Sprintf("%s.roles[%d]", key, j), "role %s is listed twice", r)
			}
			seen[r] = true
		}
	}
	need := map[Role]string{
		RoleLB:  "the site needs a server with the lb role to answer clients",
		RoleWeb: "the lb needs at least one server with the web role",
		RoleApp: "the web servers need at least one server with the app role",
	}
	for _, r := range []Role{RoleLB, RoleWeb, RoleApp} {
		if len(t.WithRole(r)) == 0 {
			v.errorf("servers", "%s", need[r])
		}
	}
	if n := len(t.WithRole(RoleMonitor)); n > 1 {
		v.errorf("servers", "%d servers have the monitor role; rampart runs one collector", n)
	}
}
