package node

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rampart-dev/rampart/internal/app"
	"github.com/rampart-dev/rampart/internal/db"
	"github.com/rampart-dev/rampart/internal/dbrouter"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

// serverDir is where this server keeps its own files in the state directory.
func (n *Node) serverDir() string { return filepath.Join(n.cfg.StateDir, "servers", n.server.Name) }

// buildDB wires the db role: a supervised mariadbd in the server's own
// directory, joined to the cluster the topology describes.
func (n *Node) buildDB() error {
	creds, err := db.LoadCredentials(db.CredentialsPath(n.cfg.StateDir))
	if err != nil {
		return err
	}
	srv, err := db.New(db.Config{Topology: n.topo, Name: n.server.Name, Dir: filepath.Join(n.serverDir(), "db"),
		CA: n.ca, Credentials: creds, Logger: n.log})
	if err != nil {
		return err
	}
	n.runners = append(n.runners, srv.Run)
	n.health = append(n.health, srv.Healthy)
	n.status["db"] = func() any { return srv.Status() }
	if n.monitored() {
		n.registry.MustRegister(srv.Collector())
	}
	return nil
}

// buildRouter wires an app server's database router: a loopback listener
// that forwards to a healthy db server. Sites without db servers get none,
// and their application keeps its data itself.
func (n *Node) buildRouter() error {
	t := n.topo
	dbs := t.WithRole(topology.RoleDB)
	if len(dbs) == 0 {
		return nil
	}
	creds, err := db.LoadCredentials(db.CredentialsPath(n.cfg.StateDir))
	if err != nil {
		return err
	}
	var check dbrouter.Check = dbrouter.GaleraCheck{}
	if t.Database.Replication == topology.PrimaryReplica {
		check = dbrouter.PrimaryCheck{}
	}
	var backends []dbrouter.Backend
	for _, d := range dbs {
		backends = append(backends, dbrouter.Backend{Name: d.Name, Addr: d.HostPort(t.Port(topology.ServiceMySQL))})
	}
	// An ephemeral port on loopback: only this machine's application uses
	// it, and it is handed over in the environment, so no port is declared.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	r, err := dbrouter.New(dbrouter.Config{Listener: ln, Backends: backends, Check: check,
		User: creds.Monitor.User, Password: creds.Monitor.Password, TLS: n.id.ClientTLS(),
		LocalAddr: n.localAddr(), Logger: n.log.With("role", "app")})
	if err != nil {
		ln.Close()
		return err
	}
	dir := filepath.Join(n.serverDir(), "db-client")
	files, err := db.WriteClientTLS(dir, n.ca.Cert, n.id.CurrentClient())
	if err != nil {
		ln.Close()
		return err
	}
	n.dbEnv = appDBEnv(t, r.Addr(), creds.App, files)
	n.runners = append(n.runners, r.Run, func(ctx context.Context) error {
		keepClientFiles(ctx, dir, n.ca.Cert, n.id, n.log)
		return nil
	})
	n.health = append(n.health, r.Healthy)
	n.status["db_router"] = func() any { return r.Status() }
	return nil
}

// appDBEnv is what the application needs to reach the database through the
// router: a go-sql-driver DSN, and the TLS files for the hop, which runs
// end to end from the application to the db server.
func appDBEnv(t *topology.Topology, routerAddr string, a db.Account, f db.ClientTLSFiles) []string {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName, c.TLSConfig = a.User, a.Password, "tcp", routerAddr, t.Database.Name, app.DBTLSName
	var ids []string
	for _, d := range t.WithRole(topology.RoleDB) {
		ids = append(ids, (&url.URL{Scheme: "spiffe", Host: t.Site.Domain, Path: "/" + pki.ServerID(d.Name)}).String())
	}
	return []string{
		app.EnvDBDSN + "=" + c.FormatDSN(),
		app.EnvDBCA + "=" + f.CA,
		app.EnvDBCert + "=" + f.Cert,
		app.EnvDBKey + "=" + f.Key,
		app.EnvDBServers + "=" + strings.Join(ids, ","),
	}
}

// keepClientFiles writes the application's client certificate again each
// time the server's identity renews it, until ctx ends, so that the
// application (which reads the files for each new connection, as the demo
// does) never presents an expired one.
func keepClientFiles(ctx context.Context, dir string, ca *x509.Certificate, id *pki.Identity, log *slog.Logger) {
	written := id.CurrentClient().Leaf
	t := time.NewTicker(pki.RenewCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := id.CurrentClient()
		if cur.Leaf == nil || cur.Leaf.Equal(written) {
			continue
		}
		if _, err := db.WriteClientTLS(dir, ca, cur); err != nil {
			log.Error("db client certificate: writing the renewed one failed; will retry", "err", err)
			continue
		}
		written = cur.Leaf
		log.Info("db client certificate renewed for the application", "not_after", cur.Leaf.NotAfter)
	}
}
