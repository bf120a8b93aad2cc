package app

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-dev/rampart/internal/db"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

func TestMySQLConfigFromEnvIsOffWithoutADSN(t *testing.T) {
	cfg, ok, err := MySQLConfigFromEnv(func(string) string { return "" })
	if cfg != nil || ok || err != nil {
		t.Errorf("got %v, %v, %v; want nothing: the site has no db servers", cfg, ok, err)
	}
	_, ok, err = MySQLConfigFromEnv(envOf(map[string]string{EnvDBDSN: "app:pw@tcp(127.0.0.1:1)/app?tls=rampart"}))
	if !ok || err == nil || !strings.Contains(err.Error(), EnvDBCA) {
		t.Errorf("a DSN without TLS files: %v, %v; want an error naming %s", ok, err, EnvDBCA)
	}
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// dbTLSFixture issues, from a fresh CA, a client certificate for an app
// server and server certificates for db-1 and for lb-1.
type dbTLSFixture struct {
	ca         *pki.CA
	files      db.ClientTLSFiles
	db1, other tls.Certificate
	ids        string
}

func newDBTLSFixture(t *testing.T) dbTLSFixture {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.OpenCA(filepath.Join(dir, "pki"), "www.foobar.test")
	if err != nil {
		t.Fatal(err)
	}
	app1, err := ca.ServerIdentity("app-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	loopback := []net.IP{net.IPv4(127, 0, 0, 1)}
	db1, _ := ca.ServerIdentity("db-1", loopback)
	lb1, _ := ca.ServerIdentity("lb-1", loopback)
	files, err := db.WriteClientTLS(filepath.Join(dir, "db-client"), ca.Cert, app1.Client)
	if err != nil {
		t.Fatal(err)
	}
	return dbTLSFixture{ca: ca, files: files, db1: db1.Server, other: lb1.Server,
		ids: "spiffe://www.foobar.test/server/db-1,spiffe://www.foobar.test/server/db-2"}
}

func TestDBClientTLSAcceptsOnlyTheSiteDBServers(t *testing.T) {
	f := newDBTLSFixture(t)
	cfg, err := dbClientTLS(f.files.CA, f.files.Cert, f.files.Key, f.ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cert tls.Certificate
		ok   bool
	}{
		{"a db server of the site", f.db1, true},
		{"another server of the site", f.other, false},
	} {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{c.cert},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: f.ca.Pool})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			conn, err := ln.Accept()
			if err == nil {
				conn.(*tls.Conn).Handshake()
				conn.Close()
			}
		}()
		// Through a router the address is loopback, in no certificate: the
		// check is by CA and identity.
		conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err == nil {
			conn.Close()
		}
		if (err == nil) != c.ok {
			t.Errorf("%s: handshake error %v, want ok=%v", c.name, err, c.ok)
		}
		ln.Close()
	}
}

// TestMySQLStoreKeepsTheGuestbookInMariaDB runs a real mariadbd through
// package db and uses the store as the demo does, over TLS as the app
// user.
func TestMySQLStoreKeepsTheGuestbookInMariaDB(t *testing.T) {
	if os.Getenv("RAMPART_E2E") == "" {
		t.Skip("end-to-end test: set RAMPART_E2E=1 (scripts/test does)")
	}
	state, err := os.MkdirTemp("", "rapp-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(state)
	topo, err := topology.Parse("test.yaml", []byte(`database: {replication: primary-replica}
servers:
  - {name: app-1, address: 127.0.36.100, roles: [lb, web, app]}
  - {name: db-1, address: 127.0.36.1, roles: [db]}
`))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.OpenCA(filepath.Join(state, "pki"), topo.Site.Domain)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := db.LoadCredentials(db.CredentialsPath(state))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := db.New(db.Config{Topology: topo, Name: "db-1", Dir: filepath.Join(state, "servers", "db-1", "db"), CA: ca, Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(120 * time.Second)
	for srv.Healthy() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("db-1 not ready: %v", srv.Healthy())
		}
		time.Sleep(200 * time.Millisecond)
	}

	app1, _ := ca.ServerIdentity("app-1", nil)
	files, err := db.WriteClientTLS(filepath.Join(state, "servers", "app-1", "db-client"), ca.Cert, app1.Client)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		EnvDBDSN:     creds.App.User + ":" + creds.App.Password + "@tcp(127.0.36.1:3306)/app?tls=" + DBTLSName,
		EnvDBCA:      files.CA,
		EnvDBCert:    files.Cert,
		EnvDBKey:     files.Key,
		EnvDBServers: "spiffe://" + topo.Site.Domain + "/server/db-1",
	}
	cfg, ok, err := MySQLConfigFromEnv(envOf(env))
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	store, err := NewMySQLStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	if store.Kind() != "mariadb" {
		t.Errorf("Kind = %q", store.Kind())
	}
	d := NewDemo("app-1", store)
	for _, name := range []string{"Ada", "Grace", "Zoë 🌍"} {
		rec := serveDemo(d, "POST", "/api/guestbook", `{"name":"`+name+`","message":"hello from `+name+`"}`)
		if rec.Code != http.StatusCreated || !strings.Contains(rec.Body.String(), `"db_server":"db-1"`) {
			t.Fatalf("POST: %d %s, want 201 answered by db-1", rec.Code, rec.Body)
		}
	}
	entries, server, err := store.ListFrom(context.Background())
	if err != nil || server != "db-1" || len(entries) != 3 {
		t.Fatalf("ListFrom = %d entries from %q, %v", len(entries), server, err)
	}
	if entries[0].Name != "Zoë 🌍" || entries[2].Name != "Ada" || entries[0].ID <= entries[2].ID || entries[0].Time.IsZero() {
		t.Errorf("entries %+v, want newest first with times", entries)
	}
	page := serveDemo(d, "GET", "/", "")
	if !strings.Contains(page.Body.String(), `read from db server <span class="name" id="db">db-1</span>`) {
		t.Errorf("the page does not say which db server answered:\n%s", page.Body)
	}

	// Without the app server's certificate the same password is refused.
	plain := *cfg
	plain.TLS, plain.TLSConfig = &tls.Config{InsecureSkipVerify: true}, ""
	noCert, _ := NewMySQLStore(&plain)
	defer noCert.Close()
	if _, err := noCert.List(context.Background()); err == nil {
		t.Error("a client without a certificate from the site CA read the guestbook")
	}
}
