package balance

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/rampart-dev/rampart/internal/evloop"
	"github.com/rampart-dev/rampart/internal/rawio"
)

// h1Transport is the pool's own HTTP/1.1 path to its upstreams. It exists
// because net/http's Transport hands every request to two goroutines per
// connection (readLoop and writeLoop) and back over channels, which under
// load cost more than the proxying itself (docs/performance.md). Here the
// caller's goroutine writes the request and reads the response; only a
// request body is written from a goroutine of its own, so that an upstream
// may answer before it has read the whole body.
//
// It keeps a LIFO stack of idle connections per upstream. A connection
// returns to it only once its response body was read to the end, its
// request body was written in full and neither side asked to close.
//
// It does not do everything: protocol upgrades, Expect: 100-continue,
// request trailers and other rarities are left to net/http's Transport
// (see handles), which the pool keeps beside it.
type h1Transport struct {
	dialer           *net.Dialer
	tls              *tls.Config // for https upstreams; ServerName is set per host
	handshakeTimeout time.Duration
	headerTimeout    time.Duration // the wait for response headers
	idleTimeout      time.Duration // an idle connection older than this is closed
	maxIdle          int           // idle connections kept per upstream

	mu    sync.Mutex
	hosts map[hostKey]*hostConns
	sweep *time.Timer // closes expired idle connections; armed while any are idle
}

// hostKey names one upstream as connections to it are shared. A task on
// an event loop (package evloop) shares them only with the loop's other
// tasks: a connection stays registered with one loop's epoll, where moving
// it to another would cost two system calls per request.
type hostKey struct {
	addr string
	tls  bool
	loop *evloop.Loop // nil outside the loops
}

// hostConns holds one upstream's idle connections, oldest first.
type hostConns struct {
	key  hostKey
	tls  *tls.Config // with ServerName set, nil for plain HTTP
	idle []*h1Conn   // guarded by h1Transport.mu
}

// maxResponseHeaderBytes bounds an upstream's response headers, 1xx
// responses included, as net/http's Transport does by default.
const maxResponseHeaderBytes = 1 << 20

func newH1Transport(d *net.Dialer, tlsConfig *tls.Config, headerTimeout time.Duration, maxIdle int) *h1Transport {
	return &h1Transport{
		dialer:           d,
		tls:              tlsConfig,
		handshakeTimeout: tlsHandshakeTimeout,
		headerTimeout:    headerTimeout,
		idleTimeout:      idleConnTimeout,
		maxIdle:          maxIdle,
		hosts:            make(map[hostKey]*hostConns),
	}
}

// handles reports whether t can send req; the pool sends the rest through
// net/http's Transport. What is left out is rare for a proxy and either
// needs a connection that outlives the response (upgrades), a dialogue
// before the body (100-continue), or is easier to get right once.
func (t *h1Transport) handles(req *http.Request) bool {
	u := req.URL
	if u == nil || req.Header == nil || u.Host == "" || u.Opaque != "" {
		return false // net/http's errors for these are the right ones
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength == 0 {
		return false // unknown whether there is a body: net/http probes it
	}
	if (req.Body == nil || req.Body == http.NoBody) && req.ContentLength > 0 {
		return false // net/http's error for a length without a body
	}
	if len(req.Trailer) > 0 || req.Cancel != nil {
		return false
	}
	h := req.Header
	if _, ok := h["Upgrade"]; ok {
		return false
	}
	if _, ok := h["Expect"]; ok {
		return false
	}
	// Punycode for an internationalised Host is net/http's business.
	return isASCII(req.Host) && isASCII(u.Host)
}

// RoundTrip sends req on an idle connection to its upstream, or a new one,
// and returns the response once its headers have arrived. The response body
// reads from the connection; reading it to the end returns the connection
// to the pool, closing it early closes the connection.
//
// Errors keep the meaning the pool's retry logic gives them: a dial error is
// a *net.OpError with Op "dial" (nothing was sent), and any error means no
// response headers arrived. A connection the upstream closed while it was
// idle is not an error: the request goes again on a new connection, when
// nothing of it was written or it is safe to repeat.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, nil)
}

// roundTrip is RoundTrip that, given head, parses a simple response's head
// into it instead of making a Header (readResponseHead).
func (t *h1Transport) roundTrip(req *http.Request, head *responseHead) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		// Gone already: do not spend a pooled connection finding out.
		closeRequestBody(req)
		return nil, err
	}
	hc := t.host(req.URL)
	// A request that is not safe to send twice must not meet a connection
	// the upstream has closed: check an idle connection before using it.
	safe := idempotent(req) && (req.Body == nil || req.Body == http.NoBody || req.GetBody != nil)
	fresh := false
	for {
		c, err := t.getConn(ctx, hc, fresh, !safe)
		if err != nil {
			closeRequestBody(req)
			return nil, err
		}
		resp, err := c.roundTrip(req, t.headerTimeout, head)
		if err == nil {
			return resp, nil
		}
		var se *staleConnError
		if !errors.As(err, &se) || ctx.Err() != nil {
			return nil, err
		}
		// The upstream had closed a pooled connection: try once more on a
		// new one.
		fresh = true
		if se.bodyUsed {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, fmt.Errorf("upstream %s: replay request body: %w", hc.key.addr, gerr)
			}
			r := *req
			r.Body = body
			req = &r
		}
	}
}

// host returns the idle connections of the upstream u names.
func (t *h1Transport) host(u *url.URL) *hostConns {
	k := hostKey{addr: u.Host, tls: u.Scheme == "https", loop: evloop.Current()}
	t.mu.Lock()
	hc := t.hosts[k]
	if hc == nil {
		hc = &hostConns{key: k}
		if k.tls {
			hc.tls = t.clientTLS(k.addr)
		}
		t.hosts[k] = hc
	}
	t.mu.Unlock()
	return hc
}

// clientTLS returns the TLS config for one upstream: the pool's, with the
// upstream's host as the server name unless one is set.
func (t *h1Transport) clientTLS(addr string) *tls.Config {
	var cfg *tls.Config
	if t.tls != nil {
		cfg = t.tls.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	return cfg
}

// getConn returns an idle connection to hc's upstream, or dials one. With
// fresh it always dials; with check it makes sure an idle connection is
// still open before returning it.
func (t *h1Transport) getConn(ctx context.Context, hc *hostConns, fresh, check bool) (*h1Conn, error) {
	for !fresh {
		c := t.popIdle(hc)
		if c == nil {
			break
		}
		if check && !c.alive() {
			c.close()
			continue
		}
		return c, nil
	}
	return t.dial(ctx, hc)
}

// popIdle takes the most recently used idle connection of hc, closing any
// that sat idle too long on the way.
func (t *h1Transport) popIdle(hc *hostConns) *h1Conn {
	now := mono()
	var expired []*h1Conn
	t.mu.Lock()
	var c *h1Conn
	for n := len(hc.idle); n > 0; n-- {
		x := hc.idle[n-1]
		hc.idle[n-1] = nil
		hc.idle = hc.idle[:n-1]
		if now-x.idleAt < int64(t.idleTimeout) {
			c = x
			break
		}
		expired = append(expired, x)
	}
	t.mu.Unlock()
	for _, x := range expired {
		x.close()
	}
	if c != nil {
		c.reused = true
		c.briefIdle = now-c.idleAt < int64(maxIdleToHold)
	}
	return c
}

// maxIdleToHold is how long a connection may have sat idle for a request
// on it to be sent with the read of its answer (h1Conn.roundTrip): well
// under any server's keep-alive timeout (Node's is 5 s, Apache's 5 s,
// nginx's 75 s, rampart's 120 s), and far longer than a busy pool keeps a
// connection idle.
const maxIdleToHold = time.Second

// dial opens a new connection to hc's upstream, with TLS when hc has it.
func (t *h1Transport) dial(ctx context.Context, hc *hostConns) (*h1Conn, error) {
	raw, err := t.dialRaw(ctx, hc.key.addr)
	if err != nil {
		return nil, err // a *net.OpError with Op "dial": nothing was sent
	}
	c := &h1Conn{t: t, hc: hc, raw: raw, nc: raw, briefIdle: true}
	if hc.tls != nil {
		tc := tls.Client(raw, hc.tls)
		if err := t.handshake(ctx, tc, raw); err != nil {
			raw.Close()
			return nil, fmt.Errorf("upstream %s: %w", hc.key.addr, err)
		}
		c.nc = tc
	}
	return c, nil
}

// handshake runs tc's client handshake within the transport's timeout and
// ctx. It bounds the handshake with raw's deadline, and ends it early by
// moving that deadline when ctx ends, rather than with HandshakeContext,
// whose helper goroutine a task on an event loop would have to wait for.
func (t *h1Transport) handshake(ctx context.Context, tc *tls.Conn, raw net.Conn) error {
	deadline := time.Now().Add(t.handshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	raw.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	err := tc.Handshake()
	stop()
	raw.SetDeadline(time.Time{})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("TLS handshake: %w", ctx.Err())
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("TLS handshake timed out after %v", t.handshakeTimeout)
	}
	return fmt.Errorf("TLS handshake: %w", err)
}

// dialRaw connects to addr. A task on an event loop connects without
// blocking its loop (rawio.DialLoop) and gets a connection only its loop
// watches; anything else dials through net, with raw reads and writes.
func (t *h1Transport) dialRaw(ctx context.Context, addr string) (net.Conn, error) {
	onLoop := evloop.Current() != nil
	if onLoop && t.dialer.LocalAddr == nil {
		c, err := rawio.DialLoop(ctx, addr, t.dialer.Timeout, t.dialer.KeepAlive)
		if !errors.Is(err, rawio.ErrNotLiteral) {
			return c, err
		}
		// A name to look up: dial as below, holding up the loop.
	}
	raw, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if onLoop {
		if d, err := rawio.Detach(raw); err == nil {
			return d, nil
		}
	}
	return rawio.Wrap(raw), nil // reads and writes without the scheduler's system call hand-off
}

// putIdle parks c for reuse, or closes it when hc already keeps enough.
func (t *h1Transport) putIdle(c *h1Conn) {
	c.idleAt = mono()
	c.reused = false
	hc := c.hc
	t.mu.Lock()
	if len(hc.idle) >= t.maxIdle {
		t.mu.Unlock()
		c.close()
		return
	}
	hc.idle = append(hc.idle, c)
	if t.sweep == nil {
		t.sweep = time.AfterFunc(t.idleTimeout, t.sweepIdle)
	}
	t.mu.Unlock()
}

// sweepIdle closes the connections that have been idle for idleTimeout, so
// an upstream's file descriptors are not held for ever after traffic stops.
// Busy upstreams rarely have any: the stack is LIFO, so the connections at
// its bottom are the ones a lull left over.
func (t *h1Transport) sweepIdle() {
	now := mono()
	var expired []*h1Conn
	t.mu.Lock()
	if t.sweep == nil {
		// CloseIdleConnections stopped this timer as it fired.
		t.mu.Unlock()
		return
	}
	idle := 0
	for _, hc := range t.hosts {
		n := 0
		for n < len(hc.idle) && now-hc.idle[n].idleAt >= int64(t.idleTimeout) {
			n++
		}
		if n > 0 {
			expired = append(expired, hc.idle[:n]...)
			hc.idle = append(hc.idle[:0], hc.idle[n:]...)
			clear(hc.idle[len(hc.idle):cap(hc.idle)])
		}
		idle += len(hc.idle)
		if len(hc.idle) == 0 && hc.key.loop != nil && hc.key.loop.Ended() {
			delete(t.hosts, hc.key)
		}
	}
	if idle > 0 {
		t.sweep.Reset(t.idleTimeout / 2)
	} else {
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, c := range expired {
		c.close()
	}
}

// CloseIdleConnections closes every idle connection. Connections in use are
// not touched and may return to the pool later.
func (t *h1Transport) CloseIdleConnections() {
	var all []*h1Conn
	t.mu.Lock()
	for _, hc := range t.hosts {
		all = append(all, hc.idle...)
		clear(hc.idle)
		hc.idle = hc.idle[:0]
	}
	if t.sweep != nil {
		t.sweep.Stop()
		t.sweep = nil
	}
	t.mu.Unlock()
	for _, c := range all {
		c.close()
	}
}

// idleCount returns how many connections to addr are idle, for tests.
func (t *h1Transport) idleCount(addr string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, hc := range t.hosts {
		if k.addr == addr {
			n += len(hc.idle)
		}
	}
	return n
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body.Close()
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
