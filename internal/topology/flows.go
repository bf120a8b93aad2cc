package topology

import "slices"

// Service is a kind of traffic a server accepts.
type Service string

const (
	ServiceHTTPS  Service = "https"  // the site, on the lb
	ServiceHTTP   Service = "http"   // redirect to HTTPS, on the lb
	ServiceWeb    Service = "web"    // lb -> web
	ServiceApp    Service = "app"    // web -> app
	ServiceMySQL  Service = "mysql"  // app -> db, and replica -> primary
	ServiceGalera Service = "galera" // db <-> db group communication
	ServiceIST    Service = "ist"    // db <-> db incremental state transfer
	ServiceSST    Service = "sst"    // db <-> db full state transfer
	ServiceAdmin  Service = "admin"  // monitor and admins -> every server
	ServiceSSH    Service = "ssh"    // admins -> every server
	// ServiceDashboard is the monitor's dashboard: HTTPS for admins' browsers,
	// with a login token or the admin client certificate.
	ServiceDashboard Service = "dashboard"
)

// Protection is how a flow's traffic is protected on the wire.
type Protection string

const (
	Plaintext Protection = "plaintext"
	TLSOnly   Protection = "tls"  // encrypted, server authenticated (TLS or SSH)
	MutualTLS Protection = "mtls" // both ends authenticated by the site CA
)

// Sources that are not servers of the site.
const (
	FromClients = "clients" // anyone on the network
	FromAdmins  = "admins"  // firewall.admin_cidrs
)

// Flow is one declared path of traffic: From may connect to To on Port.
type Flow struct {
	From       string
	To         string
	Service    Service
	Port       int
	Protection Protection
}

// Port returns the port of a service. It is the only place that maps
// services to the ports section.
func (t *Topology) Port(s Service) int {
	p := t.Ports
	switch s {
	case ServiceHTTPS:
		return t.Site.HTTPSPort
	case ServiceHTTP:
		return t.Site.HTTPPort
	case ServiceWeb:
		return p.Web
	case ServiceApp:
		return p.App
	case ServiceMySQL:
		return p.MySQL
	case ServiceGalera:
		return p.Galera
	case ServiceIST:
		return p.IST
	case ServiceSST:
		return p.SST
	case ServiceAdmin:
		return p.Admin
	case ServiceSSH:
		return p.SSH
	case ServiceDashboard:
		return p.Dashboard
	}
	return 0
}

// internal is the protection of a hop behind the lb under the TLS policy.
func (t *Topology) internal() Protection {
	if t.TLS.Policy == Reencrypt {
		return MutualTLS
	}
	return Plaintext
}

// Flows derives every flow of the site from its servers and roles. The
// result is ordered: by the path a request takes, then by server order.
func (t *Topology) Flows() []Flow {
	var out []Flow
	add := func(from, to string, s Service, p Protection) {
		for _, f := range out {
			if f.From == from && f.To == to && f.Service == s {
				return // a replica that is also an app server, say
			}
		}
		out = append(out, Flow{From: from, To: to, Service: s, Port: t.Port(s), Protection: p})
	}
	for _, lb := range t.WithRole(RoleLB) {
		add(FromClients, lb.Name, ServiceHTTPS, TLSOnly)
		add(FromClients, lb.Name, ServiceHTTP, Plaintext)
	}
	for _, lb := range t.WithRole(RoleLB) {
		for _, web := range t.WithRole(RoleWeb) {
			add(lb.Name, web.Name, ServiceWeb, t.internal())
		}
	}
	for _, web := range t.WithRole(RoleWeb) {
		for _, app := range t.WithRole(RoleApp) {
			add(web.Name, app.Name, ServiceApp, t.internal())
		}
	}
	// Database traffic is mutual TLS whatever the policy: the db role
	// requires it of remote clients and of replication.
	dbs := t.WithRole(RoleDB)
	for _, app := range t.WithRole(RoleApp) {
		for _, db := range dbs {
			add(app.Name, db.Name, ServiceMySQL, MutualTLS)
		}
	}
	switch t.Database.Replication {
	case PrimaryReplica:
		if primary, ok := t.PrimaryDB(); ok {
			for _, db := range dbs {
				if db.Name != primary.Name {
					add(db.Name, primary.Name, ServiceMySQL, MutualTLS)
				}
			}
		}
	case Galera:
		for _, a := range dbs {
			for _, b := range dbs {
				if a.Name == b.Name {
					continue
				}
				for _, s := range []Service{ServiceGalera, ServiceIST, ServiceSST} {
					add(a.Name, b.Name, s, MutualTLS)
				}
			}
		}
	}
	if t.MonitoringEnabled() {
		for _, mon := range t.WithRole(RoleMonitor) {
			add(FromAdmins, mon.Name, ServiceDashboard, TLSOnly)
			for _, s := range t.Servers {
				// A server that turns its monitoring client off is not scraped.
				if s.Name != mon.Name && t.Monitored(s) {
					add(mon.Name, s.Name, ServiceAdmin, MutualTLS)
				}
			}
		}
	}
	for _, s := range t.Servers {
		add(FromAdmins, s.Name, ServiceAdmin, MutualTLS)
		add(FromAdmins, s.Name, ServiceSSH, TLSOnly)
	}
	return out
}

// FlowsTo returns the flows that end at server, optionally of one service.
func (t *Topology) FlowsTo(server string, s Service) []Flow {
	var out []Flow
	for _, f := range t.Flows() {
		if f.To == server && (s == "" || f.Service == s) {
			out = append(out, f)
		}
	}
	return out
}

// Peers returns the servers allowed to connect to server's service. The
// mutual TLS listeners accept exactly these identities.
func (t *Topology) Peers(server string, s Service) []string {
	var out []string
	for _, f := range t.FlowsTo(server, s) {
		if f.From != FromClients && f.From != FromAdmins && !slices.Contains(out, f.From) {
			out = append(out, f.From)
		}
	}
	return out
}

// PrimaryDB returns the server that accepts writes under primary-replica.
func (t *Topology) PrimaryDB() (Server, bool) {
	if t.Database.Primary != "" {
		return t.Server(t.Database.Primary)
	}
	dbs := t.WithRole(RoleDB)
	if len(dbs) == 0 {
		return Server{}, false
	}
	return dbs[0], true
}
