package balance

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
)

// errNoUpstream means no upstream was available to try; it becomes a 503.
var errNoUpstream = errors.New("no upstream available")

// retryTransport is the RoundTripper behind the pool's ReverseProxy. The
// first upstream is chosen in Rewrite, so the caller's hook sees the real
// target; when that attempt gets no response and a retry is safe, the loop
// here tries other available upstreams, each at most once.
type retryTransport struct{ pool *Pool }

func (t retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.pool.roundTrip(req, nil)
}

// roundTrip is retryTransport's RoundTrip. With head, an upstream response
// simple enough is parsed into it rather than into the response's Header,
// which is then nil (see responseHead).
func (p *Pool) roundTrip(req *http.Request, head *responseHead) (*http.Response, error) {
	h := p.byAddr[req.URL.Host]
	if h == nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errNoUpstream
	}
	var tried []*Host
	for attempt := 0; ; attempt++ {
		out := req
		if attempt > 0 {
			out = req.Clone(req.Context())
			out.URL.Host = h.addr
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				out.Body = body
			}
		}
		resp, err := p.attempt(h, out, attempt > 0, head)
		if err == nil {
			return resp, nil
		}
		if attempt >= p.retries || req.Context().Err() != nil || !canRetry(req, err) {
			return nil, err
		}
		tried = append(tried, h)
		if h = p.pick(tried); h == nil {
			return nil, err
		}
	}
}

// attempt sends req to h once, keeping h's counters and ejecting it when no
// response came back. The in-flight count lasts until the body is closed.
func (p *Pool) attempt(h *Host, req *http.Request, retry bool, head *responseHead) (*http.Response, error) {
	h.inFlight.Add(1)
	h.requests.Add(1)
	if retry {
		h.retries.Add(1)
	}
	resp, err := p.transport.roundTrip(req, head)
	if err != nil {
		h.inFlight.Add(-1)
		if req.Context().Err() == nil { // the client leaving is not the upstream's fault
			h.failures.Add(1)
			p.ejectHost(h, err)
		}
		return nil, err
	}
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		// ReverseProxy needs the upgraded connection to stay writable.
		resp.Body = &trackedConn{ReadWriteCloser: rwc, release: release{h: h}}
	} else {
		resp.Body = &trackedBody{ReadCloser: resp.Body, release: release{h: h}}
	}
	return resp, nil
}

// canRetry reports whether a request that failed with err may be sent to
// another upstream. A RoundTrip error means no response headers arrived. The
// request must be replayable, and either idempotent, so a second execution
// is harmless, or never sent at all because the dial failed.
func canRetry(req *http.Request, err error) bool {
	if !replayable(req) {
		return false
	}
	return idempotent(req) || dialFailed(err)
}

// replayable reports whether the request body can be sent again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// idempotent follows RFC 9110 section 9.2.2, and, as net/http's transport
// does, trusts an Idempotency-Key header to make any method safe to repeat.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// dialFailed reports whether err came from connecting, before any byte of
// the request was written.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// release ends one attempt's in-flight count exactly once.
type release struct {
	h    *Host
	done atomic.Bool
}

func (r *release) do() {
	if r.done.CompareAndSwap(false, true) {
		r.h.inFlight.Add(-1)
	}
}

type trackedBody struct {
	io.ReadCloser
	release
}

func (b *trackedBody) Close() error {
	b.do()
	return b.ReadCloser.Close()
}

type trackedConn struct {
	io.ReadWriteCloser
	release
}

func (c *trackedConn) Close() error {
	c.do()
	return c.ReadWriteCloser.Close()
}
