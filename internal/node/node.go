package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rampart-dev/rampart/internal/firewall"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/topology"
)

// Config says which server to run and where its state lives.
type Config struct {
	Topology *topology.Topology
	Name     string
	// StateDir holds the site's CA (StateDir/pki) and this server's own
	// files (StateDir/servers/NAME).
	StateDir string
	// Executable is the rampart binary, which runs the demo application.
	// Default: this process's executable.
	Executable string
	// Firewall picks the firewall backend: auto (default), nftables,
	// userspace or off.
	Firewall string
	Logger   *slog.Logger
}

// Node is one running server.
type Node struct {
	cfg    Config
	topo   *topology.Topology
	server topology.Server
	log    *slog.Logger
	ca     *pki.CA
	id     *pki.Identity
	lns    map[topology.Service]net.Listener

	// runners are the role's long-running parts, started by Run.
	runners []func(context.Context) error
	// health reports whether this server's roles can serve.
	health []func() error
	// status contributes role details to the admin /status document.
	status  map[string]func() any
	started time.Time

	// The firewall: its rules, its backend, and the lb's bans.
	ruleset         firewall.Ruleset
	firewallBackend string
	guard           *firewall.Guard
	bans            *firewall.Bans
	limiter         *firewall.Limiter
	// cleanup runs when the node stops, after every role has drained.
	cleanup []func()
	// registry holds the server's metrics; see metrics.go.
	registry *registry
	// dbEnv tells an app server's application how to reach the database
	// through its router; see db.go.
	dbEnv []string
}

// New prepares a server: it loads certificates and binds every listener.
// Any error is one line and leaves nothing open.
func New(cfg Config) (n *Node, err error) {
	t := cfg.Topology
	server, ok := t.Server(cfg.Name)
	if !ok {
		return nil, fmt.Errorf("no server %q in %s", cfg.Name, t.Source)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Executable == "" {
		if cfg.Executable, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	n = &Node{cfg: cfg, topo: t, server: server, log: cfg.Logger.With("server", server.Name),
		lns: map[topology.Service]net.Listener{}, status: map[string]func() any{}, started: time.Now(),
		registry: newRegistry(t, server)}
	defer func() {
		if err != nil {
			n.closeListeners()
			for _, f := range n.cleanup {
				f()
			}
		}
	}()
	if n.ca, err = pki.OpenCA(filepath.Join(cfg.StateDir, "pki"), t.Site.Domain); err != nil {
		return nil, err
	}
	if n.id, err = n.ca.ServerIdentity(server.Name, []net.IP{net.IP(server.IP().AsSlice())}); err != nil {
		return nil, err
	}
	n.runners = append(n.runners, n.id.Run)
	if err := n.bind(); err != nil {
		return nil, err
	}
	if err := n.setupFirewall(); err != nil {
		return nil, err
	}
	if server.Has(topology.RoleLB) {
		if err := n.buildLB(); err != nil {
			return nil, err
		}
	}
	if server.Has(topology.RoleDB) {
		if err := n.buildDB(); err != nil {
			return nil, err
		}
	}
	if server.Has(topology.RoleApp) {
		if err := n.buildRouter(); err != nil {
			return nil, err
		}
		if err := n.buildApp(); err != nil {
			return nil, err
		}
	}
	if server.Has(topology.RoleWeb) {
		if err := n.buildWeb(); err != nil {
			return nil, err
		}
	}
	if server.Has(topology.RoleMonitor) {
		if err := n.buildMonitor(); err != nil {
			return nil, err
		}
	}
	n.buildAdmin()
	return n, nil
}

// served are the services a node answers itself; the others (mysql,
// galera, ssh) belong to processes it manages or to the host.
var served = []topology.Service{
	topology.ServiceHTTPS, topology.ServiceHTTP, topology.ServiceWeb, topology.ServiceApp, topology.ServiceAdmin,
	topology.ServiceDashboard,
}

// Listeners returns the address of every listener that server runs: one
// for each service that a flow reaches on it.
func Listeners(t *topology.Topology, server topology.Server) map[topology.Service]string {
	out := map[topology.Service]string{}
	for _, s := range served {
		if len(t.FlowsTo(server.Name, s)) > 0 {
			out[s] = server.HostPort(t.Port(s))
		}
	}
	return out
}

// bind opens every listener of the server.
func (n *Node) bind() error {
	for s, addr := range Listeners(n.topo, n.server) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: %s listener: %w", n.server.Name, s, err)
		}
		n.lns[s] = ln
	}
	return nil
}

func (n *Node) closeListeners() {
	for _, ln := range n.lns {
		ln.Close()
	}
}

// Run serves until ctx ends, then drains every role and returns.
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(n.runners))
	for _, run := range n.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) && ctx.Err() == nil {
				errc <- err
				cancel()
			}
		}()
	}
	n.log.Info("serving", "roles", n.server.Roles, "address", n.server.Address)
	wg.Wait()
	n.closeListeners()
	for _, f := range n.cleanup {
		f()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", n.server.Name, err)
	default:
		return nil
	}
}

// Healthy reports nil when every role of the server can serve.
func (n *Node) Healthy() error {
	for _, h := range n.health {
		if err := h(); err != nil {
			return err
		}
	}
	return nil
}

// localAddr is the source address of every connection this server opens,
// so that a peer's source check sees which server is calling.
func (n *Node) localAddr() *net.TCPAddr {
	return &net.TCPAddr{IP: net.IP(n.server.IP().AsSlice())}
}
