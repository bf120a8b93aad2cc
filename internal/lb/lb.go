package lb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/rampart-dev/rampart/internal/balance"
	"github.com/rampart-dev/rampart/internal/hop"
	"github.com/rampart-dev/rampart/internal/serve"
)

const (
	hstsHeader        = "Strict-Transport-Security"
	defaultHSTSMaxAge = 365 * 24 * time.Hour
)

// Config describes one lb.
type Config struct {
	// Name is this server's name, added to Via.
	Name string
	// TLS holds the public certificates (Certificates or GetCertificate)
	// and client-certificate settings. PublicTLS is applied on top.
	TLS *tls.Config
	// HTTPSPort is the public HTTPS port, used in redirects. Default 443.
	HTTPSPort int
	// HSTSMaxAge is the Strict-Transport-Security max-age. Default 365 days.
	HSTSMaxAge time.Duration
	// ForwardClientCert passes the client certificate the lb verified to the
	// web servers in hop.ClientCert (the reencrypt policy). When false that
	// header is always removed.
	ForwardClientCert bool
	// Pool is the pool over the web servers. The caller runs its health
	// checks (Pool.Run); the lb only proxies through it.
	Pool *balance.Pool
	// ACMEHTTPHandler, when set, answers /.well-known/acme-challenge/ on
	// the plain-HTTP listener.
	ACMEHTTPHandler http.Handler
	// Middleware, when set, wraps the HTTPS handler: per-client limits, say.
	// Like the lb's own handlers, it must be done with a request when it
	// returns: the next request of the connection reuses its memory
	// (serve.Options.ReuseRequests).
	Middleware func(http.Handler) http.Handler
	// Server limits, with the defaults of package serve.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	DrainTimeout      time.Duration
	// Logger receives server errors. Default slog.Default().
	Logger *slog.Logger
	// Observer, when set, counts the requests and TLS handshakes of both
	// listeners, for metrics.
	Observer serve.Observer
	// StdlibServer serves HTTPS/1.1 clients with net/http's server instead
	// of package serve's own HTTP/1.x loop (serve.Options.OwnHTTP1), which
	// costs less per request. HTTP/2 clients always get net/http's.
	StdlibServer bool
	// EventLoops, when positive, serves the HTTPS/1.1 connections as
	// tasks on that many event loops (serve.Options.Loops), as HAProxy
	// runs a thread per CPU, instead of a goroutine each. The listener
	// should then detach its connections from Go's poller
	// (rawio.LoopListener). Off by default: on this project's 2-CPU
	// benchmark machine the loops left no CPU idle and cost what
	// goroutines cost per request, but behind Go backends their tail was
	// a little longer (docs/performance.md, "The lb on event loops").
	EventLoops int
}

// LB is the public entry of the site.
type LB struct {
	name              string
	tls               *tls.Config
	httpsPort         int
	hsts              []string // the Strict-Transport-Security value, shared, capped
	via               []string // "1.1 NAME", shared, capped
	forwardClientCert bool
	stdlibServer      bool
	loops             int
	proxy             http.Handler
	front             http.Handler
	acme              http.Handler
	opts              serve.Options
}

// New checks cfg and returns an lb.
func New(cfg Config) (*LB, error) {
	if cfg.Name == "" {
		return nil, errors.New("lb: Name is required")
	}
	if cfg.Pool == nil {
		return nil, fmt.Errorf("lb %s: Pool is required", cfg.Name)
	}
	if cfg.TLS == nil || (len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil && cfg.TLS.GetConfigForClient == nil) {
		return nil, fmt.Errorf("lb %s: TLS with a certificate (Certificates or GetCertificate) is required", cfg.Name)
	}
	if cfg.HTTPSPort == 0 {
		cfg.HTTPSPort = 443
	}
	if cfg.HTTPSPort < 0 || cfg.HTTPSPort > 65535 {
		return nil, fmt.Errorf("lb %s: HTTPS port %d out of range", cfg.Name, cfg.HTTPSPort)
	}
	if cfg.HSTSMaxAge == 0 {
		cfg.HSTSMaxAge = defaultHSTSMaxAge
	}
	if cfg.HSTSMaxAge < 0 {
		return nil, fmt.Errorf("lb %s: HSTS max-age %v is negative", cfg.Name, cfg.HSTSMaxAge)
	}
	if cfg.EventLoops < 0 {
		return nil, fmt.Errorf("lb %s: EventLoops %d is negative (0 serves each connection on a goroutine)", cfg.Name, cfg.EventLoops)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &LB{
		name:              cfg.Name,
		tls:               PublicTLS(cfg.TLS),
		httpsPort:         cfg.HTTPSPort,
		hsts:              []string{"max-age=" + strconv.FormatInt(int64(cfg.HSTSMaxAge/time.Second), 10) + "; includeSubDomains"}[:1:1],
		via:               []string{"1.1 " + cfg.Name}[:1:1],
		forwardClientCert: cfg.ForwardClientCert,
		stdlibServer:      cfg.StdlibServer,
		loops:             cfg.EventLoops,
		acme:              cfg.ACMEHTTPHandler,
		opts: serve.Options{
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    cfg.MaxHeaderBytes,
			DrainTimeout:      cfg.DrainTimeout,
			Logger:            cfg.Logger.With("lb", cfg.Name),
			Observer:          cfg.Observer,
		},
	}
	l.proxy = cfg.Pool.Proxy(balance.Hooks{
		Rewrite: l.rewrite,
		// The lb owns these: the client gets the lb's values once, not
		// two conflicting copies.
		RemoveResponseHeaders: []string{hop.RequestID, hstsHeader},
	})
	l.front = http.HandlerFunc(l.serveHTTPS)
	if cfg.Middleware != nil {
		l.front = cfg.Middleware(l.front)
	}
	return l, nil
}

// Handler returns the HTTPS handler: HSTS and request ID, then the pool.
func (l *LB) Handler() http.Handler { return l.front }

// RedirectHandler returns the plain-HTTP handler: a 308 to the same URL over
// HTTPS, except ACME challenges, which go to Config.ACMEHTTPHandler.
func (l *LB) RedirectHandler() http.Handler { return http.HandlerFunc(l.serveRedirect) }

// TLSConfig returns the public TLS config the HTTPS listener uses.
func (l *LB) TLSConfig() *tls.Config { return l.tls.Clone() }

// Run serves HTTPS on https and, when plain is not nil, redirects on plain,
// until ctx ends. Then both stop accepting and finish the requests in flight
// within DrainTimeout. If either server fails, the other is drained too and
// the first error is returned. Run closes both listeners.
func (l *LB) Run(ctx context.Context, https, plain net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	tlsOpts := l.opts
	tlsOpts.TLS = l.tls
	tlsOpts.OwnHTTP1 = !l.stdlibServer
	tlsOpts.ReuseRequests = true
	tlsOpts.Loops = l.loops
	errc := make(chan error, 2)
	servers := 1
	go func() {
		errc <- wrap("https", https, serve.Run(ctx, https, l.Handler(), tlsOpts))
	}()
	if plain != nil {
		servers++
		go func() {
			errc <- wrap("http", plain, serve.Run(ctx, plain, l.RedirectHandler(), l.opts))
		}()
	}
	var first error
	for range servers {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
		cancel() // one stopped: stop the other
	}
	return first
}

func wrap(what string, ln net.Listener, err error) error {
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("lb: %s on %s: %w", what, ln.Addr(), err)
}
