package harness

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/rampart-dev/rampart/internal/balance"
	"github.com/rampart-dev/rampart/internal/lb"
	"github.com/rampart-dev/rampart/internal/pki"
	"github.com/rampart-dev/rampart/internal/rawio"
	"github.com/rampart-dev/rampart/internal/serve"
)

// LBConfig describes rampart's lb as the benchmark runs it: the role the
// node builds (internal/lb over a balance.Pool), minus the topology file.
type LBConfig struct {
	Listen    string   // public HTTPS host:port
	Upstreams []string // the backends, host:port
	// Reencrypt makes the pool speak mutual TLS to the upstreams with the
	// lb's identity, as the reencrypt policy does; otherwise plain HTTP, as
	// terminate does.
	Reencrypt bool
	PKIDir    string
	// PprofListen, when set, serves net/http/pprof there, for the profile
	// the harness takes under load.
	PprofListen string
	// Monitored turns on what a node with its monitoring client on adds to
	// the lb: the request and handshake observer, the pool, certificate,
	// host and process collectors, and an admin endpoint serving /metrics
	// over mutual TLS on AdminListen, which the harness scrapes.
	Monitored   bool
	AdminListen string
	// EventLoops, when positive, runs the lb's HTTPS/1.1 connections on
	// that many event loops (lb.Config.EventLoops) over a detaching
	// listener, instead of a goroutine each.
	EventLoops int
	Logger     *slog.Logger
}

// Health checks as the topology's defaults set them (lb.health), so the lb
// does the same background work as in a site.
var benchHealth = balance.HealthCheck{Path: PathHealth, Interval: time.Second, Timeout: time.Second, Rise: 2, Fall: 3}

// LBServer is the lb role as NewLB builds it. The caller runs the pool's
// health checks (Pool.Run), the lb (LB.Run) and, when monitored, the admin
// endpoint (RunAdmin); RunLB does all three.
type LBServer struct {
	LB   *lb.LB
	Pool *balance.Pool
	mon  *monitoring // nil when not monitored
}

// NewLB builds the lb and its pool the way internal/node does for the lb
// role, with or without monitoring.
func NewLB(cfg LBConfig) (*LBServer, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Monitored && cfg.AdminListen == "" {
		return nil, errors.New("lb: monitored, but no admin address to serve /metrics on")
	}
	ca, err := pki.OpenCA(cfg.PKIDir, Domain)
	if err != nil {
		return nil, err
	}
	site, err := ca.Issue(siteLeaf())
	if err != nil {
		return nil, err
	}
	var id *pki.Identity
	if cfg.Reencrypt || cfg.Monitored {
		if id, err = ca.ServerIdentity(LBName, nil); err != nil {
			return nil, err
		}
	}
	s := &LBServer{}
	if cfg.Monitored {
		if s.mon, err = newMonitoring(id, ca, site, cfg.Logger); err != nil {
			return nil, fmt.Errorf("lb: monitoring: %w", err)
		}
	}
	pc := balance.Config{Policy: balance.PolicyRoundRobin, Health: benchHealth, Logger: cfg.Logger.With("pool", "web")}
	for i, u := range cfg.Upstreams {
		pc.Upstreams = append(pc.Upstreams, balance.Upstream{Name: backendName(i), Addr: u})
	}
	if cfg.Reencrypt {
		pc.TLS = id.ClientTLS()
	}
	if s.Pool, err = balance.New(pc); err != nil {
		return nil, err
	}
	_, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("lb: listen address %q: %w", cfg.Listen, err)
	}
	httpsPort, _ := strconv.Atoi(port)
	lc := lb.Config{
		Name: LBName,
		// As internal/node sets it: a client certificate is verified when
		// given and passed on under reencrypt.
		TLS:               &tls.Config{Certificates: []tls.Certificate{site}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool},
		HTTPSPort:         httpsPort,
		ForwardClientCert: cfg.Reencrypt,
		Pool:              s.Pool,
		Logger:            cfg.Logger,
		EventLoops:        cfg.EventLoops,
	}
	if s.mon != nil {
		s.mon.instrumentPool(s.Pool)
		lc.Observer = s.mon.observer
	}
	if s.LB, err = lb.New(lc); err != nil {
		return nil, err
	}
	lb.TuneGC() // as internal/node does for the lb role
	lb.TuneProcs()
	return s, nil
}

// Monitored reports whether the lb counts its requests.
func (s *LBServer) Monitored() bool { return s.mon != nil }

// RunAdmin serves the monitored lb's /metrics on ln, over mutual TLS to
// the monitor's and the admin's certificates only, until ctx ends.
func (s *LBServer) RunAdmin(ctx context.Context, ln net.Listener) error {
	if s.mon == nil {
		ln.Close()
		return errors.New("lb: not monitored: no admin endpoint")
	}
	err := serve.Run(ctx, ln, s.mon.admin, s.mon.adminOpts)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("lb: admin on %s: %w", ln.Addr(), err)
	}
	return nil
}

func backendName(i int) string {
	if i < len(BackendNames) {
		return BackendNames[i]
	}
	return "web-" + strconv.Itoa(i+1)
}

// RunLB serves until ctx ends.
func RunLB(ctx context.Context, cfg LBConfig) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s, err := NewLB(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("lb: %w", err)
	}
	if cfg.EventLoops > 0 {
		ln = rawio.LoopListener(ln)
	} else {
		ln = rawio.Listener(ln) // as internal/node does for the lb's public listener
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	poolDone := make(chan struct{})
	go func() { s.Pool.Run(ctx); close(poolDone) }()
	defer func() { <-poolDone }()
	if cfg.PprofListen != "" {
		pln, err := net.Listen("tcp", cfg.PprofListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("lb: pprof: %w", err)
		}
		go func() {
			err := serve.Run(ctx, pln, pprofMux(), serve.Options{Logger: cfg.Logger, DrainTimeout: time.Second})
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				cfg.Logger.Error("pprof stopped", "err", err)
			}
		}()
	}
	if s.Monitored() {
		aln, err := net.Listen("tcp", cfg.AdminListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("lb: admin: %w", err)
		}
		adminDone := make(chan error, 1)
		go func() { adminDone <- s.RunAdmin(ctx, aln) }()
		err = s.LB.Run(ctx, ln, nil)
		cancel()
		return errors.Join(err, <-adminDone)
	}
	return s.LB.Run(ctx, ln, nil)
}

// pprofMux serves the profiles on their own listener, never on the lb's.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
