package db

import (
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

// The end-to-end tests run real mariadbd processes. They run when
// RAMPART_E2E=1, as scripts/test sets, and need the packages that
// scripts/install-deps installs.
func needE2E(t *testing.T) {
	t.Helper()
	if os.Getenv("RAMPART_E2E") == "" {
		t.Skip("end-to-end test: set RAMPART_E2E=1 (scripts/test does)")
	}
	for _, bin := range []string{"mariadbd", "mariadb-install-db", "rsync", "stunnel"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed: run scripts/install-deps", bin)
		}
	}
}

// siteYAML returns a topology whose db servers are names at addresses
// prefix+1, prefix+2...; the lb, web and app servers it needs to be valid are
// never started here.
func siteYAML(replication, prefix string, names ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "database:\n  replication: %s\n", replication)
	fmt.Fprintf(&b, "servers:\n  - {name: front, address: %s100, roles: [lb, web, app]}\n", prefix)
	for i, n := range names {
		fmt.Fprintf(&b, "  - {name: %s, address: %s%d, roles: [db]}\n", n, prefix, i+1)
	}
	return b.String()
}

// testSite runs db Servers of one topology in this process, as `rampart
// node` would, each with its own context.
type testSite struct {
	t     *testing.T
	state string
	topo  *topology.Topology
	ca    *pki.CA
	creds *Credentials
	log   *slog.Logger
	logs  *lockedBuffer

	mu      sync.Mutex
	running map[string]*runningServer
}

type runningServer struct {
	srv    *Server
	cancel context.CancelFunc
	done   chan error
}

func newTestSite(t *testing.T, yaml string) *testSite {
	t.Helper()
	topo, err := topology.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	// A short path keeps the socket under its 107-byte limit; mode 0700
	// keeps mariadbd's own view of it behind the mount namespace.
	state, err := os.MkdirTemp("", "rdb-")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.OpenCA(filepath.Join(state, "pki"), topo.Site.Domain)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := LoadCredentials(CredentialsPath(state))
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	var out io.Writer = logs
	if os.Getenv("RAMPART_TEST_VERBOSE") != "" {
		out = io.MultiWriter(logs, os.Stderr)
	}
	s := &testSite{t: t, state: state, topo: topo, ca: ca, creds: creds, logs: logs,
		log:     slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo})),
		running: map[string]*runningServer{}}
	t.Cleanup(s.cleanup)
	return s
}

func (s *testSite) dir(name string) string { return filepath.Join(s.state, "servers", name, "db") }

// start runs the db server name until stop or the end of the test.
func (s *testSite) start(name string) *Server {
	s.t.Helper()
	srv, err := New(Config{Topology: s.topo, Name: name, Dir: s.dir(name), CA: s.ca, Credentials: s.creds,
		Logger: s.log.With("server", name)})
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningServer{srv: srv, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- srv.Run(ctx) }()
	s.mu.Lock()
	s.running[name] = r
	s.mu.Unlock()
	return srv
}

// stop ends the server's supervision, which shuts mariadbd down cleanly.
func (s *testSite) stop(name string) {
	s.t.Helper()
	s.mu.Lock()
	r := s.running[name]
	delete(s.running, name)
	s.mu.Unlock()
	if r == nil {
		return
	}
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			s.t.Errorf("%s: Run: %v", name, err)
		}
	case <-time.After(30 * time.Second):
		s.t.Errorf("%s: Run did not return 30s after its context ended", name)
	}
}

func (s *testSite) server(name string) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.running[name]; r != nil {
		return r.srv
	}
	return nil
}

// waitReady waits until every named server reports ready, and returns how
// long that took.
func (s *testSite) waitReady(timeout time.Duration, names ...string) time.Duration {
	s.t.Helper()
	start := time.Now()
	for {
		var waiting []string
		for _, n := range names {
			srv := s.server(n)
			if srv == nil || srv.Healthy() != nil {
				st := Status{State: "not running"}
				if srv != nil {
					st = srv.Status()
				}
				waiting = append(waiting, fmt.Sprintf("%s (%s: %s)", n, st.State, st.Detail))
			}
		}
		if len(waiting) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			s.t.Fatalf("not ready after %s: %s", timeout, strings.Join(waiting, ", "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sql connects to server name's mariadbd as rampart does: over its socket.
func (s *testSite) sql(name string) *sql.DB {
	s.t.Helper()
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr = "root", "unix", Layout{Dir: s.dir(name)}.Socket()
	c.Timeout = 2 * time.Second
	c.ReadTimeout, c.WriteTimeout = 10*time.Second, 10*time.Second
	c.Logger = quietLogger
	conn, err := mysql.NewConnector(c)
	if err != nil {
		s.t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	s.t.Cleanup(func() { db.Close() })
	return db
}

// servedSerial connects to name over TCP with TLS, as an app server would,
// and returns the serial number of the certificate mariadbd presented.
func (s *testSite) servedSerial(t *testing.T, name string) string {
	t.Helper()
	srv, _ := s.topo.Server(name)
	front, err := s.ca.ServerIdentity("front", nil)
	if err != nil {
		t.Fatal(err)
	}
	var serial string
	cfg := &tls.Config{RootCAs: s.ca.Pool, ServerName: srv.Address, Certificates: []tls.Certificate{front.Client},
		VerifyConnection: func(cs tls.ConnectionState) error {
			serial = cs.PeerCertificates[0].SerialNumber.String()
			return nil
		}}
	key := "served-" + name + "-" + fmt.Sprint(time.Now().UnixNano())
	if err := mysql.RegisterTLSConfig(key, cfg); err != nil {
		t.Fatal(err)
	}
	defer mysql.DeregisterTLSConfig(key)
	c := mysql.NewConfig()
	c.User, c.Passwd = s.creds.App.User, s.creds.App.Password
	c.Net, c.Addr = "tcp", srv.HostPort(s.topo.Port(topology.ServiceMySQL))
	c.TLSConfig = key
	c.Timeout = 5 * time.Second
	c.Logger = quietLogger
	conn, err := mysql.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	if err := db.Ping(); err != nil {
		t.Fatalf("TLS connection to %s: %v", name, err)
	}
	return serial
}

// mariadbdPID returns the PID of the mariadbd that serves name's directory.
func (s *testSite) mariadbdPID(name string) int {
	for _, pid := range strays(s.dir(name)) {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if filepath.Base(exe) == "mariadbd" {
			return pid
		}
	}
	return 0
}

// leftovers lists every process still running for any server of the site.
func (s *testSite) leftovers() map[string][]int {
	out := map[string][]int{}
	entries, _ := os.ReadDir(filepath.Join(s.state, "servers"))
	for _, e := range entries {
		if pids := strays(s.dir(e.Name())); len(pids) > 0 {
			out[e.Name()] = pids
		}
	}
	return out
}

// cleanup stops every server, fails the test if any process of the site is
// left, kills what is, and removes the state directory.
func (s *testSite) cleanup() {
	s.mu.Lock()
	var names []string
	for n := range s.running {
		names = append(names, n)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); s.stop(n) }()
	}
	wg.Wait()
	if left := s.leftovers(); len(left) > 0 {
		s.t.Errorf("processes left after every server stopped: %v", left)
		for _, pids := range left {
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if s.t.Failed() {
		s.t.Logf("supervision log:\n%s", tail(s.logs.String(), 60))
		entries, _ := os.ReadDir(filepath.Join(s.state, "servers"))
		for _, e := range entries {
			data, _ := os.ReadFile(Layout{Dir: s.dir(e.Name())}.ErrorLog())
			s.t.Logf("%s error.log:\n%s", e.Name(), tail(string(data), 25))
		}
	}
	if os.Getenv("RAMPART_TEST_KEEP") != "" {
		s.t.Logf("kept state in %s", s.state)
		return
	}
	os.RemoveAll(s.state)
}

// quietLogger keeps the driver from printing broken idle connections, which
// the tests cause on purpose.
var quietLogger = log.New(io.Discard, "", 0)

type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
