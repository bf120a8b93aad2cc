package db

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

// Config describes one db server.
type Config struct {
	Topology *topology.Topology
	// Name is the db server to run.
	Name string
	// Dir holds everything of this server's mariadbd. It is created and
	// handed to the mysql user.
	Dir string
	// CA issues the certificates mariadbd presents and trusts.
	CA          *pki.CA
	Credentials *Credentials
	Logger      *slog.Logger
	// StopTimeout bounds a clean shutdown before mariadbd is killed.
	// Default 10s, which keeps a stop within `up`'s grace.
	StopTimeout time.Duration
}

// Timings of the supervision. Variables, not constants, only so that tests
// of the decisions need not wait.
var (
	// noPrimaryTimeout is how long a Galera node may run outside a primary
	// component before it is stopped, so that it rejoins through the
	// beacon's agreement rather than waiting forever.
	noPrimaryTimeout = 30 * time.Second
	// pollInterval is how often a running server's status is read.
	pollInterval = time.Second
)

// Roles of a db server in its cluster.
const (
	RoleGalera  = "galera"
	RolePrimary = "primary"
	RoleReplica = "replica"
)

// Server keeps one mariadbd running. Its methods are safe for concurrent use.
type Server struct {
	cfg     Config
	topo    *topology.Topology
	server  topology.Server
	layout  Layout
	set     settings
	acct    account
	runner  *runner
	log     *slog.Logger
	role    string
	order   []string          // every db server's name, in file order
	peers   []topology.Server // the other db servers
	primary topology.Server   // under primary-replica
	local   *sql.DB           // over the Unix socket, as the OS user

	mu       sync.Mutex
	status   Status
	restarts int
	written  tlsFiles // the certificates mariadbd was given
}

// New prepares a db server: it checks the topology and the host, creates
// the server's directory and issues its certificates. It starts nothing.
func New(cfg Config) (*Server, error) {
	t := cfg.Topology
	server, ok := t.Server(cfg.Name)
	if !ok || !server.Has(topology.RoleDB) {
		return nil, fmt.Errorf("db %s: no db server of that name", cfg.Name)
	}
	if cfg.Credentials == nil || cfg.CA == nil {
		return nil, fmt.Errorf("db %s: credentials and CA are required", cfg.Name)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, topo: t, server: server, layout: Layout{Dir: dir}, log: cfg.Logger.With("role", "db")}
	if s.set, err = settingsFor(t, server, s.layout); err != nil {
		return nil, err
	}
	for _, d := range t.WithRole(topology.RoleDB) {
		s.order = append(s.order, d.Name)
		if d.Name != server.Name {
			s.peers = append(s.peers, d)
		}
	}
	switch {
	case s.set.Galera != nil:
		s.role = RoleGalera
	case s.set.ReadOnly:
		s.role = RoleReplica
		s.primary, _ = t.PrimaryDB()
	default:
		s.role = RolePrimary
	}
	if s.acct, err = runAccount(); err != nil {
		return nil, fmt.Errorf("db %s: %w", server.Name, err)
	}
	if err := ensureDirs(s.layout, s.acct); err != nil {
		return nil, fmt.Errorf("db %s: %w", server.Name, err)
	}
	if s.runner, err = newRunner(s.acct, s.layout); err != nil {
		return nil, fmt.Errorf("db %s: %w", server.Name, err)
	}
	if _, err := s.certificates(); err != nil {
		return nil, fmt.Errorf("db %s: %w", server.Name, err)
	}
	if s.local, err = s.openLocal(); err != nil {
		return nil, fmt.Errorf("db %s: %w", server.Name, err)
	}
	s.status = Status{Role: s.role, State: "stopped", Address: server.HostPort(s.set.MySQLPort)}
	return s, nil
}

// openLocal returns rampart's own connection to mariadbd: over the Unix
// socket, as the OS user running rampart, which mariadb-install-db lets in
// through the unix_socket plugin and nobody else can be.
func (s *Server) openLocal() (*sql.DB, error) {
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	c := mysql.NewConfig()
	c.User = u.Username
	c.Net = "unix"
	c.Addr = s.layout.Socket()
	c.Timeout = 2 * time.Second
	c.ReadTimeout = 30 * time.Second
	c.WriteTimeout = 30 * time.Second
	c.InterpolateParams = true
	// A broken idle connection after a restart is expected; the next
	// query reconnects.
	c.Logger = log.New(io.Discard, "", 0)
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(3)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

// certificates issues (or reuses, while current) this server's
// certificates from the site CA.
func (s *Server) certificates() (tlsFiles, error) {
	ips := []net.IP{net.IP(s.server.IP().AsSlice())}
	id, err := s.cfg.CA.ServerIdentity(s.server.Name, ips)
	if err != nil {
		return tlsFiles{}, err
	}
	peer, err := s.cfg.CA.Issue(pki.Leaf{File: s.server.Name + ".peer", Usage: pki.PeerAuth, Subject: s.server.Name,
		DNSNames: []string{s.server.Name}, IPs: ips, Identity: pki.ServerID(s.server.Name)})
	if err != nil {
		return tlsFiles{}, err
	}
	return tlsFiles{CA: s.cfg.CA.Cert, Server: id.Server, Client: id.Client, Peer: peer}, nil
}

// peerTLS returns the configs of the beacon: mutual TLS between db servers
// only, each verified against the site CA and by its address.
func (s *Server) peerTLS(f tlsFiles) (server, client *tls.Config) {
	var allowed []string
	for _, p := range s.peers {
		allowed = append(allowed, pki.ServerID(p.Name))
	}
	verify := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("%w: no certificate", pki.ErrPeerNotAllowed)
		}
		if id, ok := s.cfg.CA.PeerIdentity(cs.PeerCertificates[0]); !ok || !slices.Contains(allowed, id) {
			return fmt.Errorf("%w: %q is not a db peer of %s", pki.ErrPeerNotAllowed, id, s.server.Name)
		}
		return nil
	}
	server = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{f.Peer},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: s.cfg.CA.Pool, VerifyConnection: verify}
	client = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{f.Peer},
		RootCAs: s.cfg.CA.Pool, VerifyConnection: verify}
	return server, client
}

// Run keeps mariadbd running until ctx ends, restarting it with backoff
// when it stops, and then shuts it down cleanly.
func (s *Server) Run(ctx context.Context) error {
	defer s.local.Close()
	backoff := 500 * time.Millisecond
	for {
		began := time.Now()
		err := s.runOnce(ctx)
		if ctx.Err() != nil {
			s.setState("stopped", "")
			return nil
		}
		if time.Since(began) > 30*time.Second {
			backoff = 500 * time.Millisecond
		}
		s.mu.Lock()
		s.restarts++
		s.mu.Unlock()
		s.setState("restarting", err.Error())
		s.log.Error("db: mariadbd stopped; starting it again", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			s.setState("stopped", "")
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 15*time.Second)
	}
}

// runOnce starts mariadbd, serves until it exits or ctx ends, and says why
// it stopped.
func (s *Server) runOnce(ctx context.Context) error {
	s.setState("preparing", "")
	if pids := killStrays(ctx, s.layout.Dir, 20*time.Second); len(pids) > 0 {
		s.log.Warn("db: ended processes left from an earlier run", "pids", pids)
	}
	files, err := s.prepare()
	if err != nil {
		return err
	}
	if err := s.initDatadir(ctx); err != nil {
		return err
	}
	args := []string{"mariadbd", "--defaults-file=" + s.layout.Config()}
	bootstrapped := false
	if s.role == RoleGalera {
		extra, boot, err := s.galeraStart(ctx, files)
		if err != nil {
			return err
		}
		args, bootstrapped = append(args, extra...), boot
	}
	cmd, err := s.runner.command(args...)
	if err != nil {
		return err
	}
	logStart := fileSize(s.layout.ErrorLog())
	began := time.Now()
	proc, err := start(cmd, filepath.Join(s.layout.Dir, "mysqld.out"))
	if err != nil {
		return fmt.Errorf("start mariadbd: %w", err)
	}
	defer proc.stop(s.cfg.StopTimeout)
	s.log.Info("db: mariadbd started", "pid", proc.pid(), "args", args[1:])
	s.mu.Lock()
	s.status.PID, s.status.Bootstrapped, s.status.LastTransfer = proc.pid(), bootstrapped, nil
	s.mu.Unlock()

	if err := s.waitReady(ctx, proc, logStart); err != nil {
		return err
	}
	if err := s.setup(ctx); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if s.role == RoleGalera && !bootstrapped {
		t := ParseTransfer(readTail(s.layout.ErrorLog(), logStart))
		s.mu.Lock()
		s.status.LastTransfer = &t
		s.mu.Unlock()
		s.log.Info("db: joined the cluster", "transfer", t.Kind, "writesets", t.Writesets, "elapsed", time.Since(began).Round(time.Millisecond))
	} else {
		s.log.Info("db: ready", "mode", s.role, "bootstrapped", bootstrapped, "elapsed", time.Since(began).Round(time.Millisecond))
	}
	if st, err := s.poll(ctx); err == nil {
		s.publish(st)
	}
	return s.serve(ctx, proc, logStart)
}

// prepare writes the config and the TLS files for this start; certificates
// renewed since the last start are picked up here.
func (s *Server) prepare() (tlsFiles, error) {
	if err := ensureDirs(s.layout, s.acct); err != nil {
		return tlsFiles{}, err
	}
	files, err := s.certificates()
	if err != nil {
		return tlsFiles{}, err
	}
	if err := files.write(s.layout, s.acct); err != nil {
		return tlsFiles{}, fmt.Errorf("tls files: %w", err)
	}
	s.mu.Lock()
	s.written = files
	s.mu.Unlock()
	if err := writeOwned(s.layout.Config(), []byte(s.set.render()), 0o640, s.acct); err != nil {
		return tlsFiles{}, fmt.Errorf("config: %w", err)
	}
	return files, nil
}

// initDatadir creates the system tables on first start.
func (s *Server) initDatadir(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(s.layout.Data(), "mysql")); err == nil {
		return nil
	}
	s.setState("initializing", "mariadb-install-db")
	began := time.Now()
	cmd, err := s.runner.command("mariadb-install-db", "--defaults-file="+s.layout.Config(),
		"--auth-root-authentication-method=socket", "--skip-test-db")
	if err != nil {
		return err
	}
	if err := run(ctx, cmd, filepath.Join(s.layout.Dir, "install.log")); err != nil {
		return fmt.Errorf("mariadb-install-db: %w", err)
	}
	s.log.Info("db: datadir initialized", "dir", s.layout.Data(), "elapsed", time.Since(began).Round(time.Millisecond))
	return nil
}

// galeraStart finds this node's position and agrees with its peers on how
// to start: it returns mariadbd's extra arguments and whether it starts a
// new cluster.
func (s *Server) galeraStart(ctx context.Context, files tlsFiles) ([]string, bool, error) {
	self, err := s.report(ctx)
	if err != nil {
		return nil, false, err
	}
	serverTLS, clientTLS := s.peerTLS(files)
	act, err := s.agree(ctx, self, serverTLS, clientTLS)
	if err != nil {
		return nil, false, err
	}
	var args []string
	if self.Position.Known() {
		// Without it a crashed node starts with no position: it would need
		// a full transfer, and after a full outage it could not be compared.
		args = append(args, "--wsrep-start-position="+self.Position.String())
	}
	if act == actBootstrap {
		if !self.Fresh && !self.SafeToBootstrap {
			if err := markSafeToBootstrap(s.layout.Grastate()); err != nil {
				return nil, false, fmt.Errorf("mark safe_to_bootstrap: %w", err)
			}
		}
		args = append(args, "--wsrep-new-cluster")
	}
	return args, act == actBootstrap, nil
}

// report reads this node's position: grastate.dat after a clean stop, and
// `mariadbd --wsrep-recover` after a crash, which leaves seqno -1 there.
func (s *Server) report(ctx context.Context) (Report, error) {
	r := Report{Name: s.server.Name}
	g, ok, err := readGrastate(s.layout.Grastate())
	if err != nil {
		return r, err
	}
	if !ok {
		r.Fresh = true
		return r, nil
	}
	r.Position, r.SafeToBootstrap = g.Position, g.SafeToBootstrap
	if g.Seqno >= 0 {
		return r, nil
	}
	s.setState("recovering", "mariadbd --wsrep-recover")
	logPath := filepath.Join(s.layout.Dir, "recover.log")
	os.Remove(logPath)
	cmd, err := s.runner.command("mariadbd", "--defaults-file="+s.layout.Config(), "--wsrep-recover", "--log-error="+logPath)
	if err != nil {
		return r, err
	}
	if err := run(ctx, cmd, filepath.Join(s.layout.Dir, "mysqld.out")); err != nil {
		return r, fmt.Errorf("mariadbd --wsrep-recover: %w: %s", err, lastErrorLine(readTail(logPath, 0)))
	}
	pos, ok := ParseRecovered(readTail(logPath, 0))
	if !ok {
		return r, fmt.Errorf("mariadbd --wsrep-recover found no position: %s", lastErrorLine(readTail(logPath, 0)))
	}
	if pos.UUID == zeroUUID && g.UUID != "" {
		pos.UUID = g.UUID
	}
	r.Position = pos
	s.log.Info("db: recovered position after a crash", "position", pos.String())
	return r, nil
}

// agree runs the beacon on the Galera port and probes the peers until it is
// clear whether to join or to bootstrap.
func (s *Server) agree(ctx context.Context, self Report, serverTLS, clientTLS *tls.Config) (action, error) {
	addr := s.server.HostPort(s.set.Galera.GaleraPort)
	b, err := startBeacon(addr, serverTLS, self, s.log)
	if err != nil {
		return actWait, fmt.Errorf("galera port %s: %w", addr, err)
	}
	defer b.Close()
	local := &net.TCPAddr{IP: net.IP(s.server.IP().AsSlice())}
	lastWhy, lastLog := "", time.Time{}
	for {
		states := make([]peerState, len(s.peers))
		var wg sync.WaitGroup
		for i, p := range s.peers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				states[i] = probe(ctx, p.Name, p.HostPort(s.set.Galera.GaleraPort), clientTLS, local)
			}()
		}
		wg.Wait()
		act, why := decide(self, s.order, states)
		if act != actWait {
			s.log.Info("db: "+why, "action", act.String(), "position", self.Position.String())
			return act, nil
		}
		s.setState("waiting", why)
		if why != lastWhy || time.Since(lastLog) > 10*time.Second {
			s.log.Info("db: waiting to start", "why", why)
			lastWhy, lastLog = why, time.Now()
		}
		select {
		case <-ctx.Done():
			return actWait, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// waitReady waits until mariadbd serves: for Galera, synced in a primary
// component. It gives up on a Galera node that finds no primary component
// in time and is not receiving a state transfer.
func (s *Server) waitReady(ctx context.Context, proc *process, logStart int64) error {
	s.setState("starting", "")
	began := time.Now()
	lastLog := began
	for {
		select {
		case <-proc.exited:
			return fmt.Errorf("mariadbd exited (%v): %s", proc.err, lastErrorLine(readTail(s.layout.ErrorLog(), logStart)))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		st, err := s.poll(ctx)
		// A Galera node must be synced before it serves; a primary or
		// replica is set up once it answers.
		if err == nil && (s.role != RoleGalera || st.ready()) {
			return nil
		}
		why := "not accepting connections yet"
		if err == nil {
			why = st.why()
		}
		s.setState("starting", why)
		if s.role == RoleGalera && time.Since(began) > noPrimaryTimeout && !s.inPrimary(logStart) {
			return fmt.Errorf("no primary component after %s: stopping to agree with the other nodes again", noPrimaryTimeout)
		}
		if time.Since(lastLog) > 10*time.Second {
			s.log.Info("db: waiting for mariadbd", "why", why, "elapsed", time.Since(began).Round(time.Second))
			lastLog = time.Now()
		}
	}
}

// inPrimary reports whether the node has been part of a primary component
// since it started, or is receiving a full state transfer, which only a
// primary component sends.
func (s *Server) inPrimary(logStart int64) bool {
	if _, err := os.Stat(filepath.Join(s.layout.Data(), "sst_in_progress")); err == nil {
		return true
	}
	return strings.Contains(string(readTail(s.layout.ErrorLog(), logStart)), "New COMPONENT: primary = yes")
}

// serve watches a ready mariadbd until it exits or ctx ends.
func (s *Server) serve(ctx context.Context, proc *process, logStart int64) error {
	var outside time.Time // when the node was last seen leaving the primary component
	renew := time.NewTicker(pki.RenewCheck)
	defer renew.Stop()
	for {
		select {
		case <-proc.exited:
			return fmt.Errorf("mariadbd exited (%v): %s", proc.err, lastErrorLine(readTail(s.layout.ErrorLog(), logStart)))
		case <-ctx.Done():
			s.setState("stopping", "")
			proc.stop(s.cfg.StopTimeout)
			return nil
		case <-renew.C:
			if _, err := s.reloadCertificates(ctx); err != nil {
				s.log.Error("db: certificate renewal failed; will retry", "err", err)
			}
			continue
		case <-time.After(pollInterval):
		}
		st, err := s.poll(ctx)
		if err != nil {
			s.setState("unreachable", err.Error())
			continue
		}
		s.publish(st)
		if s.role == RoleGalera {
			switch {
			case st.Galera.ClusterStatus == "Primary":
				outside = time.Time{}
			case outside.IsZero():
				outside = time.Now()
				s.log.Warn("db: left the primary component", "cluster_status", st.Galera.ClusterStatus)
			case time.Since(outside) > noPrimaryTimeout:
				return fmt.Errorf("outside a primary component for %s: stopping to agree with the other nodes again", noPrimaryTimeout)
			}
		}
	}
}

// reloadCertificates gives a running mariadbd the server's certificates
// when the CA has renewed them (a third of their life before they expire),
// without a restart: the files are written again, FLUSH SSL has it take
// them for client and replication connections, and in a Galera cluster
// socket.ssl_reload does the same for the cluster's own traffic. A state
// transfer reads its files when it starts. It reports whether anything
// was renewed.
func (s *Server) reloadCertificates(ctx context.Context) (bool, error) {
	files, err := s.certificates()
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	old := s.written
	s.mu.Unlock()
	if sameLeaf(files.Server, old.Server) && sameLeaf(files.Client, old.Client) && sameLeaf(files.Peer, old.Peer) {
		return false, nil
	}
	if err := files.write(s.layout, s.acct); err != nil {
		return true, fmt.Errorf("tls files: %w", err)
	}
	s.mu.Lock()
	s.written = files
	s.mu.Unlock()
	if _, err := s.local.ExecContext(ctx, "FLUSH SSL"); err != nil {
		return true, fmt.Errorf("FLUSH SSL: %w", err)
	}
	if s.role == RoleGalera {
		if _, err := s.local.ExecContext(ctx, "SET GLOBAL wsrep_provider_options='socket.ssl_reload=1'"); err != nil {
			return true, fmt.Errorf("galera socket.ssl_reload: %w", err)
		}
	}
	s.log.Info("db: renewed certificates loaded", "not_after", files.Server.Leaf.NotAfter)
	return true, nil
}

func sameLeaf(a, b tls.Certificate) bool {
	return a.Leaf != nil && b.Leaf != nil && a.Leaf.Equal(b.Leaf)
}

// setState records the supervision's state and why.
func (s *Server) setState(state, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.State, s.status.Detail = state, detail
	if state != "ready" {
		s.status.Ready = false
	}
	if state == "stopped" || state == "restarting" {
		s.status.PID = 0
	}
}

// publish records a status read from mariadbd.
func (s *Server) publish(st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := s.status
	st.Role, st.Address, st.PID, st.Bootstrapped, st.LastTransfer = keep.Role, keep.Address, keep.PID, keep.Bootstrapped, keep.LastTransfer
	st.Ready = st.ready()
	st.State, st.Detail = "ready", ""
	if !st.Ready {
		st.State, st.Detail = "degraded", st.why()
	}
	st.Updated = time.Now()
	s.status = st
}

// Status returns the server's last known state.
func (s *Server) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Restarts = s.restarts
	return st
}

// Healthy is nil while mariadbd serves its role: synced in a primary
// component, a writable primary, or a replica whose replication runs.
func (s *Server) Healthy() error {
	st := s.Status()
	switch {
	case st.State != "ready":
		why := st.State
		if st.Detail != "" {
			why += ": " + st.Detail
		}
		return fmt.Errorf("db: %s", why)
	case time.Since(st.Updated) > 5*pollInterval+5*time.Second:
		return errors.New("db: status is stale")
	}
	return nil
}

// quoteString returns s as an SQL string literal.
func quoteString(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`).Replace(v) + "'"
}

// quoteIdent returns s as an SQL identifier.
func quoteIdent(v string) string {
	return "`" + strings.ReplaceAll(v, "`", "``") + "`"
}
