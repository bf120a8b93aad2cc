package balance

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// Timeouts of the connection to an upstream. Upstreams are on the private
// network, so anything slower than this is a dead or overloaded server.
const (
	dialTimeout         = 5 * time.Second
	tlsHandshakeTimeout = 5 * time.Second
	idleConnTimeout     = 90 * time.Second
	bufferSize          = 32 << 10
)

// upstreamTransport is what a pool sends every request and health check
// through. Ordinary requests take the pool's own HTTP/1.1 path (h1); the
// requests it leaves out (protocol upgrades, 100-continue, request trailers)
// and, with Config.StdlibTransport, all requests take net/http's Transport,
// which shares the dialer, TLS config and limits. The embedded Transport
// keeps its settings inspectable.
type upstreamTransport struct {
	*http.Transport
	h1 *h1Transport // nil with Config.StdlibTransport
}

func (t *upstreamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, nil)
}

// roundTrip sends req; head, when not nil, may take the response's head
// (see responseHead), which only the pool's own path fills.
func (t *upstreamTransport) roundTrip(req *http.Request, head *responseHead) (*http.Response, error) {
	// A caller passes a head only for a request h1 handles.
	if t.h1 != nil && (head != nil || t.h1.handles(req)) {
		return t.h1.roundTrip(req, head)
	}
	return t.Transport.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of both paths.
func (t *upstreamTransport) CloseIdleConnections() {
	t.Transport.CloseIdleConnections()
	if t.h1 != nil {
		t.h1.CloseIdleConnections()
	}
}

// newTransport returns the one transport a pool uses for every upstream and
// every health check: HTTP/1.1 keep-alive, sized for a proxy under load.
func newTransport(c Config) *upstreamTransport {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	if c.LocalAddr != nil {
		d.LocalAddr = c.LocalAddr
	}
	var tlsConfig *tls.Config
	if c.TLS != nil {
		tlsConfig = c.TLS.Clone()
		// A new connection to an upstream, after an idle one was closed,
		// resumes the TLS session instead of a full handshake.
		if tlsConfig.ClientSessionCache == nil {
			tlsConfig.ClientSessionCache = tls.NewLRUClientSessionCache(0)
		}
	}
	// HTTP/1.1 only: many short requests over a pool of keep-alive
	// connections spread better across upstream cores than one multiplexed
	// HTTP/2 connection, and a stuck stream cannot stall its neighbours.
	var protos http.Protocols
	protos.SetHTTP1(true)
	t := &http.Transport{
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		ResponseHeaderTimeout: c.ResponseHeaderTimeout,
		ExpectContinueTimeout: 1 * time.Second,
		IdleConnTimeout:       idleConnTimeout,
		MaxIdleConns:          0, // no total limit; MaxIdleConnsPerHost bounds each upstream
		MaxIdleConnsPerHost:   c.MaxIdleConnsPerHost,
		ForceAttemptHTTP2:     false,
		Protocols:             &protos,
		// The client's encoding passes through untouched.
		DisableCompression: true,
		// An empty ServerName makes the transport use the upstream's host.
		TLSClientConfig: tlsConfig,
	}
	ut := &upstreamTransport{Transport: t}
	if !c.StdlibTransport {
		ut.h1 = newH1Transport(d, tlsConfig, c.ResponseHeaderTimeout, c.MaxIdleConnsPerHost)
	}
	return ut
}

// bufferPool recycles the 32 KiB buffers ReverseProxy copies bodies with.
// It holds array pointers, so that Put, which gets a slice back, can store
// it without allocating.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { return new([bufferSize]byte) }}}
}

// Get implements httputil.BufferPool.
func (b *bufferPool) Get() []byte { return b.p.Get().(*[bufferSize]byte)[:] }

// Put implements httputil.BufferPool.
func (b *bufferPool) Put(buf []byte) {
	if cap(buf) < bufferSize {
		return
	}
	b.p.Put((*[bufferSize]byte)(buf[:bufferSize]))
}
