package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Options tunes one server. The zero value is safe.
type Options struct {
	// TLS, when set, makes the server speak TLS with this config. Its
	// NextProtos decide whether HTTP/2 is offered.
	TLS *tls.Config
	// ReadHeaderTimeout bounds how long a client may take to send headers
	// (slowloris). Default 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes keep-alive connections that sit idle. Default 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes limits request header size. Default 64 KiB.
	MaxHeaderBytes int
	// DrainTimeout bounds the graceful shutdown. Default 10s.
	DrainTimeout time.Duration
	// Logger receives server errors such as failed handshakes.
	Logger *slog.Logger
	// Observer, when set, sees every request and every TLS handshake, for
	// metrics. Nil costs nothing.
	Observer Observer
	// OwnHTTP1 serves HTTP/1.x with this package's own connection loop
	// (http1.go) instead of net/http's; HTTP/2 connections still go to
	// net/http. The loop does less per request: no background read, one
	// write per response. The lb sets it on its public listener.
	OwnHTTP1 bool
	// Loops, with OwnHTTP1, serves the HTTP/1.x connections as tasks on
	// this many event loops (package evloop) instead of a goroutine each:
	// a connection's reads and writes wait on its loop's own thread,
	// which runs what is ready at once, as HAProxy's threads do. Requests
	// that may wait on anything else (a body, an upgrade) move their
	// connection to a goroutine. 0 means a goroutine per connection.
	Loops int
	// ReuseRequests, with OwnHTTP1, reads each connection's next request
	// into the memory of the one before (the http.Request, its URL and
	// its Header map), as fasthttp does, instead of allocating them
	// anew: most of what a keep-alive request costs the garbage
	// collector. Set it only for a handler that keeps none of the three,
	// nor a Header's value slices, once ServeHTTP has returned; the
	// strings in them stay valid. Between requests the connection keeps
	// only the emptied map: nothing of the last request or its response.
	// The lb sets it: its handlers (limits, metrics, the pool) are done
	// with a request when they return.
	ReuseRequests bool
}

// Observer watches a server. Package metrics provides one.
type Observer interface {
	// Wrap returns h wrapped so that each request is observed.
	Wrap(h http.Handler) http.Handler
	// Handshake records the outcome of one TLS handshake a client began.
	Handshake(ok bool)
}

func (o Options) withDefaults() Options {
	if o.ReadHeaderTimeout == 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// NewServer returns the http.Server that Run uses, for callers that need to
// adjust it further.
func NewServer(h http.Handler, o Options) *http.Server {
	srv, _ := newServer(h, o)
	return srv
}

// newServer returns the http.Server and, with an Observer and TLS, the
// watch over its handshakes.
func newServer(h http.Handler, o Options) (*http.Server, *handshakeWatch) {
	o = o.withDefaults()
	if o.Observer != nil {
		h = o.Observer.Wrap(h)
	}
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         o.TLS,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
	var watch *handshakeWatch
	if o.Observer != nil && o.TLS != nil {
		watch = observeHandshakes(srv, o.Observer)
	}
	return srv, watch
}

// Run serves h on ln until ctx ends, then stops accepting and waits up to
// DrainTimeout for requests in flight to finish. It closes ln.
func Run(ctx context.Context, ln net.Listener, h http.Handler, o Options) error {
	o = o.withDefaults()
	if o.OwnHTTP1 {
		return runHTTP1(ctx, ln, h, o)
	}
	srv := NewServer(h, o)
	return RunServer(ctx, srv, ln, o.DrainTimeout)
}

// RunServer serves srv on ln until ctx ends, then drains it.
func RunServer(ctx context.Context, srv *http.Server, ln net.Listener, drain time.Duration) error {
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			// ServeTLS, unlike Serve on a tls.Listener, offers HTTP/2.
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
		err = nil
	}
	<-errc
	return err
}
