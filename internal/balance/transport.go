package balance

import (
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

// newTransport returns the one transport a pool uses for every upstream and
// every health check: HTTP/1.1 keep-alive, sized for a proxy under load.
func newTransport(c Config) *http.Transport {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	if c.LocalAddr != nil {
		d.LocalAddr = c.LocalAddr
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
	}
	if c.TLS != nil {
		// An empty ServerName makes the transport use the upstream's host.
		t.TLSClientConfig = c.TLS.Clone()
	}
	return t
}

// bufferPool recycles the 32 KiB buffers ReverseProxy copies bodies with.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any {
		b := make([]byte, bufferSize)
		return &b
	}}}
}

// Get implements httputil.BufferPool.
func (b *bufferPool) Get() []byte { return *b.p.Get().(*[]byte) }

// Put implements httputil.BufferPool.
func (b *bufferPool) Put(buf []byte) {
	if cap(buf) < bufferSize {
		return
	}
	buf = buf[:bufferSize]
	b.p.Put(&buf)
}
