package balance

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"slices"
	"sync"
	"time"
)

// Pool proxies requests to a set of upstreams. It is an http.Handler and is
// safe for concurrent use. Active health checks run only while Run runs.
type Pool struct {
	hosts    []*Host
	byAddr   map[string]*Host // read-only after New
	selector Selector
	scheme   string
	retries  int
	ejectFor time.Duration

	transport *upstreamTransport
	buffers   *bufferPool
	checks    []*healthCheck
	proxy     http.Handler
	hooks     Hooks // from Config, run before the hooks passed to Proxy

	log  *slog.Logger
	errs *errorLog
}

// Hooks let a caller adjust what a pool sends and returns.
type Hooks struct {
	// Rewrite runs after the pool has chosen the target; see Config.Rewrite.
	Rewrite func(*httputil.ProxyRequest)
	// ModifyResponse runs on each upstream response; see Config.ModifyResponse.
	ModifyResponse func(*http.Response) error
	// RemoveResponseHeaders are removed from every upstream response, as
	// a ModifyResponse deleting them would. Unlike a ModifyResponse it
	// keeps the pool's cheaper path for simple responses, which filters
	// the fields as it reads them (responseHead).
	RemoveResponseHeaders []string
}

// New checks cfg and returns a pool whose upstreams all start healthy.
func New(cfg Config) (*Pool, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pool{
		byAddr:    make(map[string]*Host, len(cfg.Upstreams)),
		selector:  cfg.Selector,
		scheme:    "http",
		retries:   cfg.Retries,
		ejectFor:  cfg.EjectFor,
		transport: newTransport(cfg),
		buffers:   newBufferPool(),
		hooks:     Hooks{Rewrite: cfg.Rewrite, ModifyResponse: cfg.ModifyResponse},
		log:       cfg.Logger,
		errs:      &errorLog{log: cfg.Logger, every: time.Second},
	}
	if cfg.TLS != nil {
		p.scheme = "https"
	}
	for _, u := range cfg.Upstreams {
		h := newHost(u)
		p.hosts = append(p.hosts, h)
		p.byAddr[h.addr] = h
		p.checks = append(p.checks, newHealthCheck(h, cfg.Health, p.scheme, p.transport, cfg.Logger))
	}
	p.proxy = p.Proxy(Hooks{})
	return p, nil
}

// Run performs the active health checks until ctx ends, then closes idle
// upstream connections.
func (p *Pool) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, c := range p.checks {
		wg.Go(func() { c.run(ctx) })
	}
	wg.Wait()
	p.transport.CloseIdleConnections()
}

// ServeHTTP proxies r to an available upstream, retrying on another one when
// safe. It answers 503 when no upstream is available and 502 when none
// answered.
func (p *Pool) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.proxy.ServeHTTP(w, r)
}

// Proxy returns a handler that proxies through this pool, sharing its
// upstreams, state and connections, with extra hooks run after the pool's
// own Config hooks. A role that sets per-hop headers uses it.
func (p *Pool) Proxy(extra Hooks) http.Handler {
	var rewrites []func(*httputil.ProxyRequest)
	for _, fn := range []func(*httputil.ProxyRequest){p.hooks.Rewrite, extra.Rewrite} {
		if fn != nil {
			rewrites = append(rewrites, fn)
		}
	}
	var modifiers []func(*http.Response) error
	for _, fn := range []func(*http.Response) error{p.hooks.ModifyResponse, extra.ModifyResponse} {
		if fn != nil {
			modifiers = append(modifiers, fn)
		}
	}
	var drop []string
	for _, k := range slices.Concat(p.hooks.RemoveResponseHeaders, extra.RemoveResponseHeaders) {
		drop = append(drop, http.CanonicalHeaderKey(k))
	}
	rewrite := func(pr *httputil.ProxyRequest) {
		pr.Out.URL.Scheme = p.scheme
		pr.Out.URL.Host = ""
		if h := p.pick(nil); h != nil {
			pr.Out.URL.Host = h.addr
		}
		// pr.Out.Host keeps the client's Host, so virtual hosts work at
		// every hop; the upstream's address is only the TCP target.
		for _, fn := range rewrites {
			fn(pr)
		}
	}
	rp := &httputil.ReverseProxy{
		Rewrite:      rewrite,
		Transport:    retryTransport{pool: p},
		BufferPool:   p.buffers,
		ErrorHandler: p.serveError,
		ErrorLog:     slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	var modify func(*http.Response) error
	if len(modifiers) > 0 {
		modify = func(resp *http.Response) error {
			for _, fn := range modifiers {
				if err := fn(resp); err != nil {
					return err
				}
			}
			return nil
		}
	}
	rp.ModifyResponse = modify
	if len(drop) > 0 {
		rp.ModifyResponse = func(resp *http.Response) error {
			removeHeaders(resp.Header, drop)
			if modify != nil {
				return modify(resp)
			}
			return nil
		}
	}
	if p.transport.h1 == nil {
		return rp
	}
	return &directProxy{pool: p, rewrite: rewrite, modify: modify, drop: drop, rp: rp}
}

// pick chooses an available upstream not in tried, or nil.
func (p *Pool) pick(tried []*Host) *Host {
	now := mono()
	all := true
	for _, h := range p.hosts {
		if !h.available(now) {
			all = false
			break
		}
	}
	if all && len(tried) == 0 {
		return p.selector.Select(p.hosts) // the common case allocates nothing
	}
	cands := make([]*Host, 0, len(p.hosts))
	for _, h := range p.hosts {
		if h.available(now) && !contains(tried, h) {
			cands = append(cands, h)
		}
	}
	return p.selector.Select(cands)
}

func contains(hs []*Host, h *Host) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

// ejectHost takes h out for EjectFor after a failed attempt.
func (p *Pool) ejectHost(h *Host, err error) {
	if p.ejectFor <= 0 {
		return
	}
	if h.eject(mono(), p.ejectFor) {
		p.log.Warn("upstream ejected", "upstream", h.name, "addr", h.addr, "for", p.ejectFor, "err", err)
	}
}

// serveError answers a request that got no upstream response.
func (p *Pool) serveError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errNoUpstream) {
		http.Error(w, "503 service unavailable: no upstream available", http.StatusServiceUnavailable)
		return
	}
	if r.Context().Err() == nil {
		p.errs.Error("proxy failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	http.Error(w, "502 bad gateway: no upstream answered", http.StatusBadGateway)
}

// Status returns a snapshot of every upstream, in configuration order.
func (p *Pool) Status() []UpstreamStatus {
	now := mono()
	out := make([]UpstreamStatus, len(p.hosts))
	for i, h := range p.hosts {
		out[i] = h.status(now)
	}
	return out
}

// CloseIdleConnections closes the pool's idle upstream connections.
func (p *Pool) CloseIdleConnections() { p.transport.CloseIdleConnections() }
