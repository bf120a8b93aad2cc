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
	Logger      *slog.Logger
}

// Health checks as the topology's defaults set them (lb.health), so the lb
// does the same background work as in a site.
var benchHealth = balance.HealthCheck{Path: PathHealth, Interval: time.Second, Timeout: time.Second, Rise: 2, Fall: 3}

// NewLB builds the lb and its pool the way internal/node does for the lb
// role. The caller runs both: pool.Run for health checks, l.Run to serve.
func NewLB(cfg LBConfig) (*lb.LB, *balance.Pool, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ca, err := pki.OpenCA(cfg.PKIDir, Domain)
	if err != nil {
		return nil, nil, err
	}
	site, err := ca.Issue(siteLeaf())
	if err != nil {
		return nil, nil, err
	}
	pc := balance.Config{Policy: balance.PolicyRoundRobin, Health: benchHealth, Logger: cfg.Logger.With("pool", "web")}
	for i, u := range cfg.Upstreams {
		pc.Upstreams = append(pc.Upstreams, balance.Upstream{Name: backendName(i), Addr: u})
	}
	if cfg.Reencrypt {
		id, err := ca.ServerIdentity(LBName, nil)
		if err != nil {
			return nil, nil, err
		}
		pc.TLS = id.ClientTLS()
	}
	pool, err := balance.New(pc)
	if err != nil {
		return nil, nil, err
	}
	_, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("lb: listen address %q: %w", cfg.Listen, err)
	}
	httpsPort, _ := strconv.Atoi(port)
	l, err := lb.New(lb.Config{
		Name: LBName,
		// As internal/node sets it: a client certificate is verified when
		// given and passed on under reencrypt.
		TLS:               &tls.Config{Certificates: []tls.Certificate{site}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool},
		HTTPSPort:         httpsPort,
		ForwardClientCert: cfg.Reencrypt,
		Pool:              pool,
		Logger:            cfg.Logger,
	})
	if err != nil {
		return nil, nil, err
	}
	return l, pool, nil
}

func backendName(i int) string {
	if i < len(BackendNames) {
		return BackendNames[i]
	}
	return "web-" + strconv.Itoa(i+1)
}

// RunLB serves until ctx ends.
func RunLB(ctx context.Context, cfg LBConfig) error {
	l, pool, err := NewLB(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("lb: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	poolDone := make(chan struct{})
	go func() { pool.Run(ctx); close(poolDone) }()
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
	return l.Run(ctx, ln, nil)
}

// pprofMux serves the profiles on their own listener, never on the lb's.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	return mux
}
