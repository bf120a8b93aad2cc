package serve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/rampart-dev/rampart/internal/evloop"
	"github.com/rampart-dev/rampart/internal/rawio"
)

// The own HTTP/1.x server (Options.OwnHTTP1). net/http's server reads
// ahead on every connection while a handler runs, to notice a client that
// goes away: a goroutine, a read that finds nothing, and a deadline change
// to stop it, per request. It also writes a response in two steps. Behind
// the lb's profile those were a tenth of its CPU. This loop reads a request
// with http.ReadRequest (net/http's own parser, so framing and smuggling
// checks are the same; a simple bodyless head is parsed for less by
// readSimpleRequest, which yields the very same request or leaves the
// bytes to net/http), runs the handler on the connection's goroutine and
// writes the whole response with one write when the handler returns. It
// watches for the client going away only once a request has run for a
// second (http1_watch.go), so that a long poll or a stream whose client
// left is cancelled, while short requests pay nothing for it.
//
// What a client sees follows net/http's server, rule for rule (the
// differential tests in http1_test.go hold the two side by side), with
// these differences: a Content-Type is never guessed from the body; header
// lines are not sorted; a Host header with an empty value is refused like
// a missing one, and one beside an absolute-form target is not checked
// (http.ReadRequest drops it, and the target's host is what counts); a
// handler's MaxBytesReader that hit its limit does not close the
// connection when the rest of the body is small. And one addition: a
// client that sends no byte of its body, or takes no byte of its
// response, for IdleTimeout is cut off (see extendRead), where net/http
// without ReadTimeout and WriteTimeout waits for ever.

const (
	// maxPostHandlerReadBytes is how much of a request body the handler
	// left unread is read and dropped to keep the connection; a longer
	// rest closes it. net/http's figure.
	maxPostHandlerReadBytes = 256 << 10
	// bufferBeforeChunking is how much of a response of unknown length is
	// held back so that a short one gets a Content-Length. net/http's
	// figure.
	bufferBeforeChunking = 2048
)

// connection states, as the drain sees them.
const (
	connActive int32 = iota // handshaking, or reading, serving or writing a request
	connIdle                // waiting for the next request
	connClosed              // closed by the drain
)

// http1Server serves HTTP/1.x connections itself and hands HTTP/2
// connections to net/http's server.
type http1Server struct {
	srv     *http.Server // its Handler serves every request; it also serves h2
	handler http.Handler
	tls     *tls.Config // nil for plain HTTP
	watch   *handshakeWatch
	opts    Options
	log     *slog.Logger
	h2      *connQueue // nil without TLS
	baseCtx context.Context
	loops   *evloop.Group // Options.Loops; nil for a goroutine per connection

	mu      sync.Mutex
	conns   map[*h1Conn]struct{}
	closing atomic.Bool
}

// runHTTP1 is Run with Options.OwnHTTP1.
func runHTTP1(ctx context.Context, ln net.Listener, h http.Handler, o Options) error {
	srv, watch := newServer(h, o)
	s := &http1Server{
		srv:     srv,
		handler: srv.Handler,
		watch:   watch,
		opts:    o,
		log:     o.Logger,
		conns:   make(map[*h1Conn]struct{}),
	}
	s.baseCtx = context.WithValue(context.Background(), http.ServerContextKey, srv)

	h2done := make(chan error, 1)
	if srv.TLSConfig != nil {
		// Offer what ServeTLS would: h2 (unless NextProtos leaves it out)
		// and http/1.1. net/http's server gets its own copy, since
		// configuring HTTP/2 may change it.
		cfg := srv.TLSConfig.Clone()
		if len(cfg.NextProtos) == 0 {
			cfg.NextProtos = []string{"h2"}
		}
		if !contains(cfg.NextProtos, "http/1.1") {
			cfg.NextProtos = append(cfg.NextProtos, "http/1.1")
		}
		s.tls = cfg
		srv.TLSConfig = cfg.Clone()
		s.h2 = newConnQueue(ln.Addr())
		go func() { h2done <- srv.Serve(s.h2) }()
	} else {
		close(h2done)
	}

	if o.Loops > 0 {
		g, err := evloop.Start(o.Loops)
		if err != nil {
			ln.Close()
			if s.h2 != nil {
				s.h2.Close()
				<-h2done
			}
			return err
		}
		s.loops = g
		// After the drain, which closed every connection: their tasks end.
		defer g.Stop(time.Second)
	}

	acceptDone := make(chan error, 1)
	go func() { acceptDone <- s.accept(ln) }()
	stopWatching := make(chan struct{})
	defer close(stopWatching)
	go s.watchLongRequests(stopWatching)
	var err error
	select {
	case err = <-acceptDone:
	case <-ctx.Done():
		ln.Close()
		<-acceptDone
	}
	if derr := s.drain(o.DrainTimeout); err == nil {
		err = derr
	}
	if s.h2 != nil {
		if herr := <-h2done; err == nil && !errors.Is(herr, http.ErrServerClosed) {
			err = herr
		}
	}
	return err
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// accept runs until ln fails or is closed, and closes it.
func (s *http1Server) accept(ln net.Listener) error {
	defer ln.Close()
	var delay time.Duration
	for {
		rw, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.closing.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors, say: wait, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "in", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if s.loops != nil {
			// Out of Go's poller, whose threads would otherwise wake for
			// each of its packets; a connection the listener already
			// detached or wrapped stays as it is.
			if d, err := rawio.Detach(rw); err == nil {
				rw = d
			}
		}
		c := &h1Conn{s: s, raw: rw, rwc: rw, remoteAddr: rw.RemoteAddr().String()}
		if s.tls != nil {
			c.rwc = tls.Server(rw, s.tls)
		}
		// Not cancellable itself, so that a request's context below it
		// costs no registration with it.
		c.ctx = context.WithValue(s.baseCtx, http.LocalAddrContextKey, rw.LocalAddr())
		if !s.track(c) {
			rw.Close()
			return nil
		}
		if s.loops != nil {
			c.onLoop = true
			s.loops.Go(c.serve)
			continue
		}
		go c.serve()
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// track adds c to the connections the drain closes, unless the drain has
// begun.
func (s *http1Server) track(c *h1Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// forget drops c from the connections the drain waits for: it has ended,
// been hijacked or gone to the HTTP/2 server.
func (s *http1Server) forget(c *h1Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// live reports how many connections the drain still waits for.
func (s *http1Server) live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// drain stops keep-alive, closes idle connections as they become idle and
// waits for the rest, up to timeout; then it closes everything. HTTP/2
// connections drain in net/http's server alongside.
func (s *http1Server) drain(timeout time.Duration) error {
	s.mu.Lock()
	s.closing.Store(true)
	s.mu.Unlock()
	deadline := time.Now().Add(timeout)

	h2err := make(chan error, 1)
	if s.h2 != nil {
		go func() {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()
			err := s.srv.Shutdown(ctx)
			if errors.Is(err, context.DeadlineExceeded) {
				s.srv.Close()
				err = nil
			}
			h2err <- err
		}()
	} else {
		h2err <- nil
	}

	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.closeIdle()
		if s.live() == 0 {
			return <-h2err
		}
		select {
		case <-tick.C:
		case <-timer.C:
			s.mu.Lock()
			var all []*h1Conn
			for c := range s.conns {
				c.state.Store(connClosed)
				all = append(all, c)
			}
			s.mu.Unlock()
			for _, c := range all {
				c.raw.Close()
				c.cancelRequest()
			}
			// Handlers that ignore their context may still run; like
			// net/http's Close, do not wait for them.
			return <-h2err
		}
	}
}

// closeIdle closes the connections waiting for a request. It closes the
// TCP connection beneath TLS: a TLS close would first try to send an alert
// to a client that may not be reading.
func (s *http1Server) closeIdle() {
	var idle []*h1Conn
	s.mu.Lock()
	for c := range s.conns {
		if c.state.CompareAndSwap(connIdle, connClosed) {
			idle = append(idle, c)
		}
	}
	s.mu.Unlock()
	for _, c := range idle {
		c.raw.Close()
	}
}

// connQueue is a net.Listener that yields connections handed to it: the
// HTTP/2 connections, for net/http's server.
type connQueue struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

// hand gives c to the server; false if it no longer accepts.
func (q *connQueue) hand(c net.Conn) bool {
	select {
	case q.conns <- c:
		return true
	case <-q.done:
		return false
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// h1Conn is one client connection.
type h1Conn struct {
	s          *http1Server
	raw        net.Conn // the TCP connection
	rwc        net.Conn // raw, or the TLS connection over it
	remoteAddr string
	tlsState   *tls.ConnectionState
	state      atomic.Int32
	ctx        context.Context // the requests' parent

	// onLoop is set while the connection is a task on an event loop
	// (Options.Loops). A request that may wait on anything but the
	// connections themselves (a body, an upgrade, a lingering close) moves
	// it to a goroutine of its own for good: moved is that request.
	onLoop bool
	moved  *http.Request

	reqMu     sync.Mutex
	reqCtx    *requestContext // the request being served, for the drain and the watch
	reqStart  atomic.Int64    // when it began (Unix nanoseconds), 0 between requests
	watchable atomic.Bool     // its body, if any, is read: the connection may be read ahead
	watchDone chan struct{}   // closed when the watch's read returns; nil without a watch
	watchBody *h1Body         // the request's body, whose end makes it watchable

	lr       limitedReader // beneath br: bounds a request's head
	br       *bufio.Reader
	bw       *bufio.Writer
	wmu      sync.Mutex     // orders a 100 Continue, written from a body read, with the response
	pending  []byte         // a response of unknown length, held back
	head     []byte         // the response's header lines, as WriteHeader found them
	header   http.Header    // lent to each response in turn (h1Response.Header)
	spare    *simpleRequest // each simple request in turn, with Options.ReuseRequests
	hijacked bool

	// The deadlines in force (Unix nanoseconds, 0 for none), and whether
	// the handler set its own, which then stands for the request.
	readAt      atomic.Int64
	readPinned  atomic.Bool
	writeAt     int64
	writePinned bool
	linger      bool // the response left request bytes unread: closeWriteAndWait
	scratch     [20]byte
	dateSec     int64
	date        []byte
}

// serve runs the connection to its end.
func (c *h1Conn) serve() {
	s := c.s
	keep := false // the connection outlives this call: hijacked or HTTP/2
	moved := false
	defer func() {
		if !moved { // serveMoved ends it, and the drain must still see it
			c.end(keep)
		}
	}()

	if tc, ok := c.rwc.(*tls.Conn); ok {
		if !c.handshake(tc) {
			return
		}
		if c.tlsState.NegotiatedProtocol == "h2" {
			s.forget(c)
			if s.closing.Load() || !s.h2.hand(tc) {
				return
			}
			keep = true
			return
		}
	}
	keep = c.loop(nil)
	if c.onLoop && (c.moved != nil || c.linger) {
		// Off the loop, so that a body, an upgrade or the lingering
		// close waits without holding up the loop's other connections.
		c.onLoop = false
		moved = true
		go c.serveMoved()
	}
}

// serveMoved goes on with a connection that left its event loop.
func (c *h1Conn) serveMoved() {
	keep := false
	defer func() { c.end(keep) }()
	if req := c.moved; req != nil {
		c.moved = nil
		keep = c.loop(req)
		return
	}
	c.closeWriteAndWait()
}

// end closes the connection, unless keep, and forgets it.
func (c *h1Conn) end(keep bool) {
	s := c.s
	if !keep {
		c.rwc.Close()
	}
	if s.watch != nil {
		s.watch.settle(c.rwc)
	}
	s.forget(c)
}

// handshake completes TLS within the read-header timeout, as net/http
// does, and answers a plain HTTP request with a 400.
func (c *h1Conn) handshake(tc *tls.Conn) bool {
	tc.SetDeadline(time.Now().Add(c.s.opts.ReadHeaderTimeout))
	err := tc.HandshakeContext(c.ctx)
	if c.s.watch != nil {
		c.s.watch.settle(tc)
	}
	if err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		c.s.log.Debug("TLS handshake failed", "client", c.remoteAddr, "err", err)
		return false
	}
	tc.SetWriteDeadline(time.Time{})
	st := tc.ConnectionState()
	c.tlsState = &st
	return true
}

func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// loop serves requests until the connection ends, beginning with pending
// if it is not nil; true if a handler hijacked it. On an event loop it
// returns early with c.moved set, or with c.linger for the caller's
// lingering close.
func (c *h1Conn) loop(pending *http.Request) bool {
	s := c.s
	o := s.opts
	if c.br == nil {
		c.lr.r = c.rwc
		c.br = bufio.NewReaderSize(&c.lr, 4096)
		c.bw = bufio.NewWriterSize(c, 4096)
	}
	headLimit := int64(o.MaxHeaderBytes) + 4096 // net/http's allowance
	// A new connection gets the read-header timeout for its first request,
	// not the idle timeout, as in net/http: otherwise a client could hold a
	// connection for the idle timeout without sending anything.
	first, lastPOST := pending == nil, false
	for {
		req := pending
		pending = nil
		if req == nil {
			var ok bool
			if req, ok = c.readRequest(headLimit, first, lastPOST); !ok {
				return false
			}
			first = false
			if c.onLoop && waitsOffLoop(req) {
				c.moved = req
				return false
			}
		}
		lastPOST = req.Method == "POST"
		keepAlive := c.serveRequest(req)
		if c.hijacked {
			return true
		}
		if c.spare != nil && req == &c.spare.req {
			c.spare.release() // nothing of it stays while the connection idles
		}
		if !keepAlive {
			if c.linger && !c.onLoop {
				c.closeWriteAndWait()
			}
			return false
		}
	}
}

// readRequest waits for and reads the next request; false if the
// connection is to end (the refusal, if any, written).
func (c *h1Conn) readRequest(headLimit int64, first, lastPOST bool) (*http.Request, bool) {
	s := c.s
	o := s.opts
	if s.closing.Load() {
		return nil, false
	}
	c.lr.limit(headLimit)
	if c.br.Buffered() == 0 {
		// Idle until the first byte of the next request.
		if !c.state.CompareAndSwap(connActive, connIdle) {
			return nil, false
		}
		wait := o.IdleTimeout
		if first {
			wait = o.ReadHeaderTimeout
		}
		c.keepReadDeadline(wait)
		_, err := c.br.Peek(1)
		if !c.state.CompareAndSwap(connIdle, connActive) || err != nil {
			return nil, false
		}
	}
	if !first && !c.headBuffered() {
		// The head gets its own read-header timeout; the first
		// request's began with the connection. A head that came
		// whole is read from the buffer: no read can wait.
		c.setReadDeadline(time.Now().Add(o.ReadHeaderTimeout))
	}
	if lastPOST {
		// Old clients end a POST body with a CRLF the body does not
		// count (RFC 9112, section 2.2): skip it, as net/http does.
		peek, _ := c.br.Peek(4)
		c.br.Discard(leadingCRLF(peek))
	}
	// A simple head whole in the buffer is parsed for less; anything
	// else goes to net/http's parser, which has the last word.
	var into *simpleRequest
	if o.ReuseRequests {
		if c.spare == nil {
			c.spare = new(simpleRequest)
		}
		into = c.spare
	}
	req, simple := readSimpleRequest(c.br, into)
	var err error
	if !simple {
		req, err = http.ReadRequest(c.br)
	}
	hitLimit := c.lr.hit
	c.lr.unlimit()
	if err != nil {
		c.refuseRequest(err, hitLimit)
		return nil, false
	}
	if code, why := checkRequest(req); code != 0 {
		c.writeError(code, why, "")
		return nil, false
	}
	if req.ContentLength != 0 {
		// The body may take longer than a head: it has the rolling
		// timeout of extendRead.
		c.setReadDeadline(time.Now().Add(o.IdleTimeout))
	}
	return req, true
}

// waitsOffLoop reports whether serving req may wait on something other
// than its connections, which a task on an event loop must not: a body
// (the proxy sends it from a goroutine of its own and waits for it), an
// Expect or an upgrade (which hands both connections to goroutines).
func waitsOffLoop(req *http.Request) bool {
	if req.ContentLength != 0 {
		return true
	}
	_, upgrade := req.Header["Upgrade"]
	_, expect := req.Header["Expect"]
	return upgrade || expect
}

// closeWriteAndWait ends the sending side and waits a moment before the
// connection closes, when the client may still be sending (a head or body
// that was refused): closing at once would make the kernel reset the
// connection, and the client could lose the response. net/http's delay.
func (c *h1Conn) closeWriteAndWait() {
	c.bw.Flush()
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	time.Sleep(500 * time.Millisecond)
}

func leadingCRLF(b []byte) int {
	n := 0
	for _, c := range b {
		if c != '\r' && c != '\n' {
			break
		}
		n++
	}
	return n
}

// checkRequest applies the checks net/http's server makes after parsing.
func checkRequest(req *http.Request) (int, string) {
	h2Preface := req.ProtoMajor == 2 && req.ProtoMinor == 0 && req.Method == "PRI" && req.RequestURI == "*"
	if req.ProtoMajor != 1 && !h2Preface { // the preface goes to the handler, as in net/http
		return http.StatusHTTPVersionNotSupported, "unsupported protocol version"
	}
	if req.ProtoAtLeast(1, 1) && req.Host == "" && req.Method != "CONNECT" && !h2Preface {
		return http.StatusBadRequest, "missing required Host header"
	}
	if req.Host != "" && !httpguts.ValidHostHeader(req.Host) {
		return http.StatusBadRequest, "malformed Host header"
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return http.StatusBadRequest, "invalid header name"
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return http.StatusBadRequest, "invalid header value"
			}
		}
	}
	return 0, ""
}

// refuseRequest answers a request that could not be read, as net/http
// does: nothing when the client went away or was too slow, 431 for a head
// over the limit, 501 for a transfer coding it does not know, 400 else.
func (c *h1Conn) refuseRequest(err error, hitLimit bool) {
	switch {
	case hitLimit:
		c.writeError(http.StatusRequestHeaderFieldsTooLarge, "", "")
		if c.onLoop {
			c.linger = true // serve lingers on a goroutine, not the loop
			return
		}
		c.closeWriteAndWait()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), isNetReadError(err):
	case strings.Contains(err.Error(), "transfer encoding"):
		// The coding is not echoed back, as in net/http.
		c.writeError(http.StatusNotImplemented, "", "Unsupported transfer encoding")
	default:
		c.writeError(http.StatusBadRequest, "", "")
	}
}

func isNetReadError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

// writeError answers a request that is not served, in net/http's words:
// why, when set, follows the status text in the status line and the body;
// body, when set, replaces the body.
func (c *h1Conn) writeError(code int, why, body string) {
	status := http.StatusText(code)
	if why != "" {
		status += ": " + why
	}
	if body == "" {
		body = strconv.Itoa(code) + " " + status
	}
	c.writePinned = true
	c.rwc.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c.bw, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n%s", code, status, body)
	c.bw.Flush()
}

// serveRequest runs the handler for req and finishes its response; it
// reports whether the connection can carry another request.
func (c *h1Conn) serveRequest(req *http.Request) (keepAlive bool) {
	c.readPinned.Store(false)
	c.writePinned = false
	defer c.cancelRequest()
	req.RemoteAddr = c.remoteAddr
	req.TLS = c.tlsState
	w := newH1Response(c, req)
	w.ctx.init(c.ctx)
	// In place: the body fills in this very request's Trailer.
	*req = *req.WithContext(&w.ctx)

	if req.Body != http.NoBody {
		w.body = &h1Body{rc: req.Body, w: w}
		req.Body = w.body
	}
	c.reqMu.Lock()
	c.reqCtx = &w.ctx
	c.watchBody = w.body
	c.watchable.Store(w.body == nil)
	c.reqMu.Unlock()
	c.reqStart.Store(time.Now().UnixNano())
	if expectsContinue(req) {
		if req.ProtoAtLeast(1, 1) && req.ContentLength != 0 {
			w.canContinue.Store(true)
		}
	} else if headerGet(req.Header, "Expect") != "" {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusExpectationFailed)
		w.handlerDone = true
		w.finish()
		return false
	}

	h := c.s.handler
	if req.RequestURI == "*" && req.Method == "OPTIONS" {
		h = globalOptions{}
	}
	ok := c.runHandler(w, req, h)
	c.stopWatch()
	ok = ok && !c.hijacked && w.finish() == nil
	if b := w.body; b != nil && !c.hijacked {
		if ok && w.closeAfter && !b.sawEOF.Load() && !w.canContinue.Load() {
			// Closing with the client still sending would reset the
			// connection and could cost it the response: read past a
			// small rest, or linger before closing.
			b.Close()
			if !b.sawEOF.Load() {
				c.linger = true
			}
		}
		// A goroutine of the handler's that reads on gets an error, not
		// the next request's bytes.
		b.closed.Store(true)
	}
	return ok && !w.closeAfter
}

// runHandler calls the handler; false if it panicked. A panic closes the
// connection after what was already written; http.ErrAbortHandler is the
// quiet way to do that.
func (c *h1Conn) runHandler(w *h1Response, req *http.Request, h http.Handler) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			if v != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.s.log.Error("handler panicked", "client", c.remoteAddr, "panic", v, "stack", string(buf))
			}
			if !c.hijacked {
				c.wmu.Lock()
				w.canContinue.Store(false)
				c.bw.Flush()
				c.wmu.Unlock()
			}
		}
	}()
	h.ServeHTTP(w, req)
	w.handlerDone = true
	return true
}

// globalOptions answers "OPTIONS *", which names no resource, as
// net/http's server does instead of calling the handler.
type globalOptions struct{}

func (globalOptions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		// Read up to 4 KiB of a body: enough to keep the connection for
		// a small one.
		mb := http.MaxBytesReader(w, r.Body, 4<<10)
		io.Copy(io.Discard, mb)
	}
}

// expectsContinue looks at the first Expect value only, as net/http does.
func expectsContinue(req *http.Request) bool {
	return httpguts.HeaderValuesContainsToken([]string{headerGet(req.Header, "Expect")}, "100-continue")
}

// setReadDeadline sets the connection's read deadline and notes it.
func (c *h1Conn) setReadDeadline(t time.Time) {
	at := int64(0)
	if !t.IsZero() {
		at = t.UnixNano()
	}
	c.readAt.Store(at)
	c.rwc.SetReadDeadline(t)
}

// keepReadDeadline makes the read deadline d from now, give or take an
// eighth of d up to a second: a deadline already that close is left alone,
// so that a busy kept-alive connection does not move its timer for every
// request.
func (c *h1Conn) keepReadDeadline(d time.Duration) {
	now := time.Now()
	want := now.Add(d).UnixNano()
	if at := c.readAt.Load(); at <= want && at > want-int64(min(d/8, time.Second)) {
		return
	}
	c.setReadDeadline(now.Add(d))
}

// headBuffered reports whether the buffer holds a whole request head,
// after the CRLFs an old client may send behind a POST body, which the
// loop skips.
func (c *h1Conn) headBuffered() bool {
	buf, _ := c.br.Peek(c.br.Buffered())
	buf = buf[leadingCRLF(buf[:min(len(buf), 4)]):]
	return bytes.Contains(buf, crlfcrlf)
}

var crlfcrlf = []byte("\r\n\r\n")

// extendRead gives a request body's reads a rolling timeout: the client
// must send something at least every IdleTimeout. The deadline moves only
// when less than half of it is left, so most reads cost a clock read.
func (c *h1Conn) extendRead() {
	if c.readPinned.Load() {
		return
	}
	d := c.s.opts.IdleTimeout
	now := time.Now()
	if at := c.readAt.Load(); at != 0 && at-now.UnixNano() > int64(d/2) {
		return
	}
	c.setReadDeadline(now.Add(d))
}

// Write is the connection as the response buffer writes to it. Each write
// has a rolling timeout, as extendRead: a client that takes no byte for
// IdleTimeout is gone, and its response no longer holds an upstream.
func (c *h1Conn) Write(p []byte) (int, error) {
	if !c.writePinned {
		d := c.s.opts.IdleTimeout
		now := time.Now()
		if c.writeAt == 0 || c.writeAt-now.UnixNano() < int64(d/2) {
			c.writeAt = now.Add(d).UnixNano()
			c.rwc.SetWriteDeadline(now.Add(d))
		}
	}
	return c.rwc.Write(p)
}

// cancelRequest cancels the context of the request being served.
func (c *h1Conn) cancelRequest() {
	c.reqMu.Lock()
	if c.reqCtx != nil {
		c.reqCtx.cancel()
		c.reqCtx = nil
	}
	c.reqMu.Unlock()
}

// limitedReader is the connection as its buffered reader reads it. While a
// head is read it allows only so many bytes, and says whether a read hit
// that limit.
type limitedReader struct {
	r       io.Reader
	limited bool
	left    int64
	hit     bool
}

func (l *limitedReader) limit(n int64) { l.limited, l.left, l.hit = true, n, false }

func (l *limitedReader) unlimit() { l.limited = false }

func (l *limitedReader) Read(p []byte) (int, error) {
	if !l.limited {
		return l.r.Read(p)
	}
	if l.left <= 0 {
		l.hit = true
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// h1Body is a request's body as the handler reads it: it sends a 100
// Continue on the first read when the client asked for one, and notes
// whether the body was read to its end.
type h1Body struct {
	rc     io.ReadCloser
	w      *h1Response
	n      atomic.Int64 // bytes read
	sawEOF atomic.Bool
	closed atomic.Bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	b.w.c.extendRead()
	if b.w.canContinue.Load() {
		c := b.w.c
		c.wmu.Lock()
		if b.w.canContinue.Load() {
			c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			c.bw.Flush()
			b.w.canContinue.Store(false)
		}
		c.wmu.Unlock()
	}
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	if err == io.EOF {
		b.sawEOF.Store(true)
		b.w.c.bodyDone(b)
	}
	return n, err
}

// Close stops the handler's reads and, as net/http's does, reads and
// drops up to maxPostHandlerReadBytes of what is left, so that the
// connection can carry on; a longer rest closes it after the response.
func (b *h1Body) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	if cl := b.w.req.ContentLength; cl > 0 && cl-b.n.Load() > maxPostHandlerReadBytes {
		return nil
	}
	b.discardRest()
	return nil
}

// discardRest reads and drops up to maxPostHandlerReadBytes of what the
// handler left, and reports whether that reached the end.
func (b *h1Body) discardRest() bool {
	if b.sawEOF.Load() {
		return true
	}
	b.w.c.extendRead()
	n, err := io.CopyN(io.Discard, b.rc, maxPostHandlerReadBytes+1)
	b.n.Add(n)
	if err == io.EOF {
		b.sawEOF.Store(true)
		b.w.c.bodyDone(b)
		return true
	}
	return false
}
