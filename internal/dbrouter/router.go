package dbrouter

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Backend is one db server the router may forward to.
type Backend struct {
	Name string
	Addr string // host:port of its MySQL port
}

// Config configures a Router.
type Config struct {
	// Listener is where the application connects: a loopback address.
	Listener net.Listener
	// Backends in order of preference: the topology's order of db servers.
	Backends []Backend
	// Check decides which backends are usable: GaleraCheck or PrimaryCheck.
	Check Check
	// User and Password log the checks in (the monitor account).
	User, Password string
	// TLS is the checks' client config: the app server's certificate and the
	// site CA. The server name is set per backend.
	TLS *tls.Config
	// LocalAddr is the source address of every connection to a backend, so
	// the db server sees which app server is calling.
	LocalAddr *net.TCPAddr
	// Interval between checks of each backend. Default 500ms.
	Interval time.Duration
	// Timeout bounds a check and a connection attempt. Default 2s.
	Timeout time.Duration
	// Rise is how many passes in a row bring a backend back. Default 2.
	Rise   int
	Logger *slog.Logger
}

// Router forwards each accepted connection to the first usable backend.
type Router struct {
	cfg      Config
	backends []*backend
	log      *slog.Logger
	wg       sync.WaitGroup
}

// New checks cfg and returns a router that forwards nothing until Run.
func New(cfg Config) (*Router, error) {
	if cfg.Listener == nil || len(cfg.Backends) == 0 || cfg.Check == nil || cfg.TLS == nil {
		return nil, errors.New("db router: a listener, backends, a check and TLS are required")
	}
	if cfg.Interval == 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Rise == 0 {
		cfg.Rise = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Router{cfg: cfg, log: cfg.Logger}
	for _, b := range cfg.Backends {
		be, err := newBackend(b, cfg, r.log)
		if err != nil {
			return nil, fmt.Errorf("db router: backend %s: %w", b.Name, err)
		}
		r.backends = append(r.backends, be)
	}
	return r, nil
}

// Addr is where the application connects.
func (r *Router) Addr() string { return r.cfg.Listener.Addr().String() }

// Run checks the backends and forwards connections until ctx ends; then it
// closes the listener and every forwarded connection.
func (r *Router) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, b := range r.backends {
		r.wg.Add(1)
		go func() { defer r.wg.Done(); r.checkLoop(ctx, b) }()
	}
	go func() {
		<-ctx.Done()
		r.cfg.Listener.Close()
	}()
	var err error
	for {
		c, aerr := r.cfg.Listener.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("db router: accept: %w", aerr)
			}
			break
		}
		r.wg.Add(1)
		go func() { defer r.wg.Done(); r.forward(ctx, c) }()
	}
	cancel()
	r.wg.Wait()
	for _, b := range r.backends {
		b.db.Close()
	}
	return err
}

// checkLoop checks b at once and then every Interval.
func (r *Router) checkLoop(ctx context.Context, b *backend) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		h, err := r.cfg.Check.Check(cctx, b.Backend, b.db)
		cancel()
		if ctx.Err() != nil {
			return
		}
		closed, changed := b.observe(h, err, r.cfg.Rise)
		r.changed(b, changed, closed, h.State, err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// changed logs a backend's change and closes the connections it carried.
func (r *Router) changed(b *backend, changed bool, closed []net.Conn, state string, err error) {
	for _, c := range closed {
		c.Close()
	}
	if !changed {
		return
	}
	if b.isUsable() {
		r.log.Info("db router: backend usable", "backend", b.Name, "state", state, "preferred", r.pick() == b)
		return
	}
	why := state
	if err != nil {
		why = err.Error()
	}
	r.log.Warn("db router: backend left", "backend", b.Name, "why", why, "closed", len(closed))
}

// pick returns the first usable backend, or nil.
func (r *Router) pick() *backend {
	for _, b := range r.backends {
		if b.isUsable() {
			return b
		}
	}
	return nil
}

// forward connects the client to the first usable backend that answers, and
// copies bytes both ways until either side closes.
func (r *Router) forward(ctx context.Context, client net.Conn) {
	defer client.Close()
	dialer := &net.Dialer{LocalAddr: r.cfg.LocalAddr, Timeout: r.cfg.Timeout}
	var b *backend
	var server net.Conn
	for tried := map[*backend]bool{}; ; {
		b = r.pick()
		if b == nil || tried[b] {
			r.log.Warn("db router: no usable db server; closing the connection")
			return
		}
		tried[b] = true
		var err error
		server, err = dialer.DialContext(ctx, "tcp", b.Addr)
		if err == nil {
			break
		}
		closed, changed := b.markDown(err)
		r.changed(b, changed, closed, "", err)
	}
	defer server.Close()
	if !b.track(client) {
		return
	}
	defer b.untrack(client)
	stop := context.AfterFunc(ctx, func() { client.Close(); server.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	go func() { io.Copy(server, client); server.Close(); done <- struct{}{} }()
	go func() { io.Copy(client, server); client.Close(); done <- struct{}{} }()
	<-done
	<-done
}

// Status is the router as its status page shows it.
type Status struct {
	Listen   string          `json:"listen"`
	Active   string          `json:"active"` // the backend new connections go to
	Backends []BackendStatus `json:"backends"`
}

// Status reports every backend and the one in use.
func (r *Router) Status() Status {
	st := Status{Listen: r.Addr()}
	if b := r.pick(); b != nil {
		st.Active = b.Name
	}
	for _, b := range r.backends {
		st.Backends = append(st.Backends, b.status())
	}
	return st
}

// Healthy is nil while some backend is usable.
func (r *Router) Healthy() error {
	if r.pick() == nil {
		return errors.New("db router: no usable db server")
	}
	return nil
}
