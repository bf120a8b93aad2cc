package balance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// h1Conn is one connection to an upstream. While a request is on it, that
// request's goroutines own it (the caller's, and a body writer's while a
// request body is sent); while it is idle, the transport does.
type h1Conn struct {
	t   *h1Transport
	hc  *hostConns
	raw net.Conn // the TCP connection: deadlines and forced closes
	nc  net.Conn // raw, or the TLS client over it

	idleAt int64 // mono time it was parked
	reused bool  // it came from the idle stack, so the upstream may have closed it
	// briefIdle: new, or idle for less than maxIdleToHold, so its upstream
	// is unlikely to have closed it (see roundTrip).
	briefIdle bool
	// readAt is the read deadline armed on raw (Unix ns), or 0. A request
	// without a body leaves it armed after a response read whole from the
	// buffer, for the next request on the connection to reuse.
	readAt int64

	abortFn func() // c.abort, made once so watching a context allocates less

	// The request on the connection now.
	br         *bufio.Reader
	readLimit  int64 // bytes the response headers may still take
	nread      int64 // bytes received for this request
	nwritten   int64 // bytes sent for this request, until a body writer starts
	closeAfter bool  // the request or the response asked to close
	stop       func() bool
	wdone      chan error // the body writer's result; nil without a body

	// The response header timeout starts when the request is fully sent,
	// which a body writer learns first; mu orders its arming with the
	// reader's disarming once headers have arrived.
	mu          sync.Mutex
	headersDone bool
}

// afterFuncer is a context that schedules calls on its own cancellation;
// package context defers to such a method, and so does the transport.
type afterFuncer interface {
	AfterFunc(func()) func() bool
}

// staleConnError means a connection from the idle stack failed before any
// byte of a response arrived, in a way that lets the request go again: the
// upstream had closed it while it sat idle.
type staleConnError struct {
	err      error
	bodyUsed bool // the request body was (maybe) consumed: replay it with GetBody
}

func (e *staleConnError) Error() string { return "stale upstream connection: " + e.err.Error() }
func (e *staleConnError) Unwrap() error { return e.err }

var errResponseHeadersTooLarge = errors.New("response headers exceed 1 MiB")

// Read is what the connection's bufio.Reader reads through: it counts, and
// bounds the response headers.
func (c *h1Conn) Read(p []byte) (int, error) {
	if c.readLimit <= 0 {
		return 0, errResponseHeadersTooLarge
	}
	if int64(len(p)) > c.readLimit {
		p = p[:c.readLimit]
	}
	n, err := c.nc.Read(p)
	c.readLimit -= int64(n)
	c.nread += int64(n)
	return n, err
}

// Write is what the request's bufio.Writer writes through: it counts, so a
// failure can tell whether anything was sent.
func (c *h1Conn) Write(p []byte) (int, error) {
	n, err := c.nc.Write(p)
	c.nwritten += int64(n)
	return n, err
}

// writeDeferrer is a connection that can hold writes for its next read
// (*rawio.Conn).
type writeDeferrer interface{ DeferWritesToRead() }

// roundTrip sends req and reads the response headers.
func (c *h1Conn) roundTrip(req *http.Request, headerTimeout time.Duration, head *responseHead) (*http.Response, error) {
	ctx := req.Context()
	c.nread, c.nwritten = 0, 0
	c.closeAfter = req.Close || headerHasToken(req.Header["Connection"], "close")
	c.wdone = nil
	if c.abortFn == nil {
		c.abortFn = c.abort
	}
	// Closing the connection is how a request on it is cancelled: the
	// reads and writes below then fail at once.
	if af, ok := ctx.(afterFuncer); ok {
		// What context.AfterFunc would call, without its wrapper.
		c.stop = af.AfterFunc(c.abortFn)
	} else {
		c.stop = context.AfterFunc(ctx, c.abortFn)
	}

	hasBody := req.Body != nil && req.Body != http.NoBody
	if d, ok := c.raw.(writeDeferrer); ok && !hasBody && idempotent(req) && c.briefIdle {
		// The head goes out with the first read of the response
		// (rawio.Conn.DeferWritesToRead): one system call fewer. An
		// upstream that closed the connection while it sat idle is
		// then found by the reset its answer brings, not by the EOF
		// the read would have found at once; a firewall that drops
		// the answer would leave the request to the header timeout.
		// So only a request that may be sent again is held, and only
		// on a connection idle too briefly for an upstream's idle
		// timeout to have closed it.
		d.DeferWritesToRead()
	}
	bw := getWriter(c)
	chunked, err := writeRequestHeader(bw, req, hasBody)
	if err != nil {
		putWriter(bw)
		c.stop()
		c.abort()
		closeRequestBody(req)
		return nil, fmt.Errorf("upstream %s: %w", c.hc.key.addr, err)
	}
	if err := bw.Flush(); err != nil {
		putWriter(bw)
		return nil, c.fail(req, err, c.nwritten > 0, false)
	}

	if hasBody {
		// The body writer arms the header timeout when it is done; until
		// then the response may come at any pace.
		c.disarmRead()
		c.mu.Lock()
		c.headersDone = false
		c.mu.Unlock()
		c.wdone = make(chan error, 1)
		go c.writeBody(bw, req, chunked, headerTimeout, c.wdone)
	} else {
		putWriter(bw)
		c.armRead(headerTimeout)
	}

	c.br = getReader(c)
	c.readLimit = maxResponseHeaderBytes
	resp, err := c.readResponse(req, head)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("no response headers within %v: %w", headerTimeout, err)
		}
		return nil, c.fail(req, err, true, hasBody)
	}
	if hasBody {
		c.mu.Lock()
		c.headersDone = true
		c.raw.SetReadDeadline(time.Time{})
		c.mu.Unlock()
	} else if head == nil || !head.parsed || int64(c.br.Buffered()) < head.bodyLength {
		// The body's reads have no deadline: it may stream for ever.
		c.disarmRead()
	}
	c.readLimit = math.MaxInt64
	if resp.Close || resp.StatusCode == http.StatusSwitchingProtocols {
		// After a 101 the connection speaks another protocol. Upgrades go
		// through net/http's Transport, so this one was unasked: it is
		// still the upstream's answer (the proxy turns it into a 502), but
		// its connection is not reused.
		c.closeAfter = true
	}
	if resp.Body == http.NoBody {
		c.finish(true)
		return resp, nil
	}
	if _, ok := resp.Body.(*h1Body); ok { // from a parsed head
		return resp, nil
	}
	resp.Body = &h1Body{c: c, rc: resp.Body, ctx: ctx}
	return resp, nil
}

// armRead makes the read deadline d from now, give or take an eighth of d
// up to a second: a deadline already that close stays, so a busy
// connection does not move its timer for every request.
func (c *h1Conn) armRead(d time.Duration) {
	now := time.Now()
	want := now.Add(d).UnixNano()
	if c.readAt <= want && c.readAt > want-int64(min(d/8, time.Second)) {
		return
	}
	c.readAt = want
	c.raw.SetReadDeadline(now.Add(d))
}

// disarmRead removes the read deadline.
func (c *h1Conn) disarmRead() {
	if c.readAt != 0 {
		c.readAt = 0
		c.raw.SetReadDeadline(time.Time{})
	}
}

// readResponse reads the response to req, passing 1xx responses other than
// 101 to the request's httptrace hooks, as net/http's Transport does (which
// is how ReverseProxy forwards 103 Early Hints).
func (c *h1Conn) readResponse(req *http.Request, head *responseHead) (*http.Response, error) {
	if head != nil && head.wanted {
		head.parsed = false
		if _, err := c.br.Peek(1); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // as http.ReadResponse says it
			}
			return nil, err
		}
		if readResponseHead(c.br, head, req.Method == http.MethodHead) {
			x := &head.response
			*x = parsedResponse{resp: http.Response{
				Status:        statusText(head.code),
				StatusCode:    head.code,
				Proto:         "HTTP/1.1",
				ProtoMajor:    1,
				ProtoMinor:    1,
				ContentLength: head.contentLength,
				Close:         head.close,
				Request:       req,
			}}
			if head.bodyLength == 0 {
				x.resp.Body = http.NoBody
			} else {
				// The body is the next bodyLength bytes.
				x.body = h1Body{c: c, left: head.bodyLength, ctx: req.Context()}
				x.resp.Body = &x.body
			}
			return &x.resp, nil
		}
	}
	const max1xx = 5 // as net/http: a bound on informational responses nobody consumes
	n1xx := 0
	for {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, err
		}
		code := resp.StatusCode
		if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			return resp, nil
		}
		c.readLimit = maxResponseHeaderBytes
		var got1xx func(int, textproto.MIMEHeader) error
		if head != nil && head.informational != nil {
			got1xx = head.informational
		} else if trace := httptrace.ContextClientTrace(req.Context()); trace != nil {
			got1xx = trace.Got1xxResponse
		}
		if got1xx != nil {
			if err := got1xx(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, err
			}
			continue // delivered: the hook's owner bounds them
		}
		if n1xx++; n1xx > max1xx {
			return nil, errors.New("too many 1xx informational responses")
		}
	}
}

// fail ends a request that got no response: it closes the connection and
// returns the error to report. written says whether any byte of the request
// may have reached the upstream, bodyUsed whether the request body may have
// been read.
func (c *h1Conn) fail(req *http.Request, err error, written, bodyUsed bool) error {
	c.stop()
	c.abort()
	if c.br != nil {
		putReader(c.br)
		c.br = nil
	}
	ctx := req.Context()
	if ctx.Err() != nil {
		return fmt.Errorf("upstream %s: %w", c.hc.key.addr, context.Cause(ctx))
	}
	if c.wdone != nil {
		// A failed body write explains a failed read better than the
		// closed connection it leaves behind.
		select {
		case werr := <-c.wdone:
			if werr != nil {
				err = fmt.Errorf("write request body: %w", werr)
			}
		default:
		}
	}
	if c.reused && c.nread == 0 {
		replayable := !bodyUsed || req.GetBody != nil
		if !written || (idempotent(req) && replayable) {
			return &staleConnError{err: err, bodyUsed: bodyUsed}
		}
	}
	return fmt.Errorf("upstream %s: %w", c.hc.key.addr, err)
}

// finish ends the request on c once its response was read to the end
// (reuse) or abandoned, and parks or closes the connection. Only the
// goroutine reading the response calls it.
func (c *h1Conn) finish(reuse bool) {
	if !c.stop() {
		reuse = false // the context ended and closed the connection
	}
	if c.closeAfter || c.br.Buffered() > 0 {
		reuse = false // asked to close, or bytes nobody asked for
	}
	putReader(c.br)
	c.br = nil
	if wdone := c.wdone; wdone != nil {
		c.wdone = nil
		select {
		case err := <-wdone:
			reuse = reuse && err == nil
		default:
			// The response is whole but the body writer has not
			// reported yet: it may be about to, or be stuck behind an
			// upstream that answered without reading the body.
			reuse = reuse && bodyWritten(wdone)
		}
	}
	if reuse {
		c.t.putIdle(c)
		return
	}
	c.abort()
}

// bodyWriteGrace is how long a connection whose response is complete
// waits for its request body to be written in full before it is closed
// rather than reused; net/http's Transport waits as long.
const bodyWriteGrace = 50 * time.Millisecond

// bodyWritten waits up to bodyWriteGrace for the body writer's result.
func bodyWritten(wdone <-chan error) bool {
	t := time.NewTimer(bodyWriteGrace)
	defer t.Stop()
	select {
	case err := <-wdone:
		return err == nil
	case <-t.C:
		return false
	}
}

// writeBody sends the request body after the headers, on its own goroutine,
// then starts the wait for the response headers.
func (c *h1Conn) writeBody(bw *bufio.Writer, req *http.Request, chunked bool, headerTimeout time.Duration, done chan<- error) {
	err := copyRequestBody(bw, req.Body, req.ContentLength, chunked)
	req.Body.Close()
	if err == nil {
		err = bw.Flush()
	}
	putWriter(bw)
	if err != nil {
		// The upstream waits for bytes that will not come, or cannot take
		// them: end the exchange, as net/http's Transport does.
		c.abort()
	} else {
		c.mu.Lock()
		if !c.headersDone {
			c.raw.SetReadDeadline(time.Now().Add(headerTimeout))
		}
		c.mu.Unlock()
	}
	done <- err
}

// copyRequestBody writes body to bw: n bytes, or chunked until EOF. Chunks
// are flushed as they come, so a streamed body streams.
func copyRequestBody(bw *bufio.Writer, body io.Reader, n int64, chunked bool) error {
	buf := bodyBuffers.Get()
	defer bodyBuffers.Put(buf)
	if chunked {
		for {
			k, rerr := body.Read(buf)
			if k > 0 {
				bw.WriteString(strconv.FormatInt(int64(k), 16))
				bw.WriteString("\r\n")
				bw.Write(buf[:k])
				bw.WriteString("\r\n")
				if err := bw.Flush(); err != nil {
					return err
				}
			}
			if rerr == io.EOF {
				_, err := bw.WriteString("0\r\n\r\n")
				return err
			}
			if rerr != nil {
				return fmt.Errorf("read request body: %w", rerr)
			}
		}
	}
	left := n
	for left > 0 {
		k, rerr := body.Read(buf[:min(int64(len(buf)), left)])
		if k > 0 {
			if _, err := bw.Write(buf[:k]); err != nil {
				return err
			}
			left -= int64(k)
		}
		if rerr == io.EOF {
			if left > 0 {
				return fmt.Errorf("request body ended %d bytes short of its Content-Length %d", left, n)
			}
			break
		}
		if rerr != nil {
			return fmt.Errorf("read request body: %w", rerr)
		}
	}
	return nil
}

// bodyBuffers lend the body writer its copy buffer.
var bodyBuffers = newBufferPool()

// abort closes the TCP connection at once, without a TLS close_notify, which
// could block behind a write in flight.
func (c *h1Conn) abort() { c.raw.Close() }

// close closes an idle connection politely.
func (c *h1Conn) close() { c.nc.Close() }

// parsedResponse is a response from a parsed head with its body, in one
// piece: it lives in the responseHead the caller passed.
type parsedResponse struct {
	resp http.Response
	body h1Body
}

// h1Body is a response body read from an h1Conn. Reading it to EOF returns
// the connection to the pool; closing it before that closes the connection
// rather than reading a body nobody wants.
type h1Body struct {
	c     *h1Conn
	rc    io.ReadCloser // the body http.ReadResponse made; nil after a parsed head
	left  int64         // without rc: the bytes of body still to read
	ctx   context.Context
	state atomic.Int32 // bodyReading, bodyEOF, bodyFailed or bodyClosed
}

const (
	bodyReading = iota
	bodyEOF
	bodyFailed
	bodyClosed
)

func (b *h1Body) Read(p []byte) (int, error) {
	switch b.state.Load() {
	case bodyEOF:
		return 0, io.EOF
	case bodyFailed, bodyClosed:
		return 0, http.ErrBodyReadAfterClose
	}
	var n int
	var err error
	if b.rc != nil {
		n, err = b.rc.Read(p)
	} else {
		n, err = b.readLength(p)
	}
	switch {
	case err == nil:
	case err == io.EOF:
		if b.state.CompareAndSwap(bodyReading, bodyEOF) {
			b.c.finish(true)
		}
	default:
		if b.state.CompareAndSwap(bodyReading, bodyFailed) {
			b.c.finish(false)
		}
		if cerr := context.Cause(b.ctx); cerr != nil {
			err = cerr
		}
	}
	return n, err
}

// writeBuffered writes a body of known length to w when all of it is in
// the connection's buffer already, as a small response's usually is,
// without a copy buffer; it reports whether it did. A failed write leaves
// the connection to be closed.
func (b *h1Body) writeBuffered(w io.Writer) bool {
	if b.rc != nil || b.left <= 0 || b.left > int64(b.c.br.Buffered()) || b.state.Load() != bodyReading {
		return false
	}
	p, _ := b.c.br.Peek(int(b.left))
	n, err := w.Write(p)
	b.c.br.Discard(n)
	b.left -= int64(n)
	if err == nil && b.left == 0 {
		if b.state.CompareAndSwap(bodyReading, bodyEOF) {
			b.c.finish(true)
		}
	} else if b.state.CompareAndSwap(bodyReading, bodyFailed) {
		b.c.finish(false)
	}
	return true
}

// readLength reads the rest of a body of known length from the connection,
// returning io.EOF with its last bytes.
func (b *h1Body) readLength(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.c.br.Read(p)
	b.left -= int64(n)
	switch {
	case b.left == 0:
		return n, io.EOF
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// Close may run while a Read is in flight (http.Response allows it), so it
// only closes the connection, which ends that Read; the buffers are left to
// the garbage collector rather than recycled under a reader.
func (b *h1Body) Close() error {
	if b.state.CompareAndSwap(bodyReading, bodyClosed) {
		b.c.stop()
		b.c.abort()
	}
	return nil
}
