package balance

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
)

// directProxy is the pool's handler when its own HTTP/1.1 path is on. For
// the requests that path carries it does what httputil.ReverseProxy does,
// step for step, with the same hooks (Rewrite with a ProxyRequest, then
// ModifyResponse) and the same errors, but without the generic work that
// showed in the lb's profile: cloning the request twice, copying every
// header value, parsing each response's media type to decide on flushing,
// and a fresh slice per response header. Without a ModifyResponse hook, a
// simple response does not even become a header map: its head is read as
// bytes, filtered, and handed to a writer that takes it as it is
// (serveHead). Everything else (protocol upgrades, Expect: 100-continue,
// request trailers) goes to the ReverseProxy beside it.
type directProxy struct {
	pool    *Pool
	rewrite func(*httputil.ProxyRequest) // the pool's target choice, then the hooks
	modify  func(*http.Response) error   // nil when there are no such hooks
	drop    []string                     // Hooks.RemoveResponseHeaders, canonical
	rp      *httputil.ReverseProxy
}

// exchangeState is what one proxied request needs besides the request
// itself, allocated at once. A bodyless request on the pool's own path
// returns it to exchanges when it is over, with the header map and line
// buffer it grew, since nothing then holds on to them.
type exchangeState struct {
	out    http.Request // the request sent upstream, a shallow copy of the client's
	pr     httputil.ProxyRequest
	url    url.URL
	body   noCloseBody
	header headerBuffer                          // out's header map
	head   responseHead                          // the upstream's response head, when parsed
	on1xx  func(int, textproto.MIMEHeader) error // got1xx, made once

	// Informational (1xx) responses are written to the client as they
	// come, until the final response has arrived.
	mu   sync.Mutex
	done bool
	rw   http.ResponseWriter
}

// noCloseBody keeps the upstream path from closing the client's request
// body, as ReverseProxy does: closing a body not yet read would hang.
type noCloseBody struct{ io.ReadCloser }

func (noCloseBody) Close() error { return nil }

// userAgentNone is what ReverseProxy sets when the client sent no
// User-Agent, so that none is sent. Its capacity is its length: an append
// copies it.
var userAgentNone = []string{""}[:1:1]

func (d *directProxy) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	h := req.Header
	ctx := req.Context()
	if h == nil || req.URL == nil || len(req.Trailer) > 0 || !cancellable(ctx) {
		d.rp.ServeHTTP(rw, req)
		return
	}
	if _, ok := h["Upgrade"]; ok {
		d.rp.ServeHTTP(rw, req)
		return
	}
	if _, ok := h["Expect"]; ok {
		d.rp.ServeHTTP(rw, req)
		return
	}

	x := exchanges.Get().(*exchangeState)
	x.rw, x.out = rw, *req
	out := &x.out
	x.url = *req.URL
	if req.URL.User != nil {
		u := *req.URL.User
		x.url.User = &u
	}
	out.URL = &x.url
	out.Header = x.header.outbound(h)
	if req.ContentLength == 0 {
		out.Body = nil // as ReverseProxy: no body to send or to replay
	} else if out.Body != nil {
		x.body.ReadCloser = req.Body
		out.Body = &x.body
	}
	out.Close = false
	out.URL.RawQuery = cleanQueryParams(out.URL.RawQuery)

	x.pr = httputil.ProxyRequest{In: req, Out: out}
	d.rewrite(&x.pr)
	out = x.pr.Out
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = userAgentNone
	}

	var head *responseHead
	if d.pool.transport.h1.handles(out) {
		// The pool's own path: it passes 1xx responses to got1xx, and
		// may parse the head as bytes.
		head = &x.head
		head.informational = x.on1xx
		if d.modify == nil {
			head.drop = d.drop
			head.wanted = true
		}
		if out.ContentLength == 0 {
			// Nothing reads the exchange once the response is sent: no
			// body writer outlives it.
			defer x.recycle()
		}
	} else {
		// net/http's Transport passes them to a trace.
		trace := &httptrace.ClientTrace{Got1xxResponse: x.on1xx}
		out = out.WithContext(httptrace.WithClientTrace(ctx, trace))
	}
	res, err := d.pool.roundTrip(out, head)
	x.mu.Lock()
	x.done = true
	x.mu.Unlock()
	if err != nil {
		d.pool.serveError(rw, out, err)
		return
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		// Nobody asked: ReverseProxy answers 502 to this too.
		res.Body.Close()
		d.pool.serveError(rw, out, errors.New("upstream switched protocols without an upgrade request"))
		return
	}
	if head != nil && head.parsed {
		d.serveHead(rw, req, res, head)
		return
	}
	removeHopByHop(res.Header)
	removeHeaders(res.Header, d.drop)
	if d.modify != nil {
		if err := d.modify(res); err != nil {
			res.Body.Close()
			d.pool.serveError(rw, out, err)
			return
		}
	}

	dst := rw.Header()
	for k, vv := range res.Header {
		if len(vv) == 0 {
			continue
		}
		// res.Header is this request's own and is not read again, so its
		// slices can move over as they are.
		if old, ok := dst[k]; ok {
			dst[k] = append(old, vv...)
		} else {
			dst[k] = vv
		}
	}
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		dst.Add("Trailer", strings.Join(keys, ", "))
	}
	rw.WriteHeader(res.StatusCode)

	if !d.sendBody(rw, req, res, res.ContentLength == -1 || isEventStream(res.Header)) {
		return
	}

	if len(res.Trailer) > 0 {
		// Forces chunking, so net/http does not compute a length for a
		// short body and drop the trailers.
		http.NewResponseController(rw).Flush()
	}
	if len(res.Trailer) == announced {
		for k, vv := range res.Trailer {
			for _, v := range vv {
				dst.Add(k, v)
			}
		}
		return
	}
	for k, vv := range res.Trailer {
		k = http.TrailerPrefix + k
		for _, v := range vv {
			dst.Add(k, v)
		}
	}
}

// serveHead sends a response whose head was parsed as bytes: its fields go
// to the client as the upstream wrote them, after the handler's own.
func (d *directProxy) serveHead(rw http.ResponseWriter, req *http.Request, res *http.Response, head *responseHead) {
	if lw, ok := rw.(headerLinesWriter); !ok || !lw.WriteHeaderLines(head.code, head.lines, head.contentLength, head.hasDate) {
		head.addTo(rw.Header())
		rw.WriteHeader(head.code)
	}
	if tb, ok := res.Body.(*trackedBody); ok && !head.eventStream {
		if b, ok := tb.ReadCloser.(*h1Body); ok && b.writeBuffered(rw) {
			res.Body.Close()
			return
		}
	}
	d.sendBody(rw, req, res, head.eventStream)
}

// headerLinesWriter is a ResponseWriter that takes header fields as bytes:
// package serve's own HTTP/1.x server, and the writers that wrap it.
type headerLinesWriter interface {
	WriteHeaderLines(code int, lines []byte, contentLength int64, date bool) bool
}

// sendBody copies the response body to the client and closes it. It
// reports false when the copy failed, after aborting the response when
// that is the only way to tell the client its body was cut.
func (d *directProxy) sendBody(rw http.ResponseWriter, req *http.Request, res *http.Response, stream bool) bool {
	if err := d.copyBody(rw, res, stream); err != nil {
		res.Body.Close()
		if req.Context().Value(http.ServerContextKey) != nil {
			// As ReverseProxy: the only way to tell the client the body
			// is cut is to abort the response.
			panic(http.ErrAbortHandler)
		}
		return false
	}
	res.Body.Close() // now, not deferred: it fills res.Trailer
	return true
}

// cancellable reports whether ctx can end. ReverseProxy, which takes the
// rest, watches the client another way when it cannot.
func cancellable(ctx context.Context) bool {
	if _, ok := ctx.(afterFuncer); ok {
		return true // without making its Done channel
	}
	return ctx.Done() != nil
}

// copyBody copies the response body to the client. With stream (a body of
// unknown length, an event stream) it flushes as it goes, headers first,
// as ReverseProxy does; otherwise bytes go out when the server's buffer
// fills or the handler ends.
func (d *directProxy) copyBody(rw http.ResponseWriter, res *http.Response, stream bool) error {
	var flush func() error
	if stream {
		flush = http.NewResponseController(rw).Flush
		flush()
	}
	buf := d.pool.buffers.Get()
	defer d.pool.buffers.Put(buf)
	for {
		nr, rerr := res.Body.Read(buf)
		if rerr != nil && rerr != io.EOF && rerr != context.Canceled {
			d.rp.ErrorLog.Printf("httputil: ReverseProxy read error during body copy: %v", rerr)
		}
		if nr > 0 {
			nw, werr := rw.Write(buf[:nr])
			if werr != nil {
				return werr
			}
			if nw != nr {
				return io.ErrShortWrite
			}
			if stream {
				flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// got1xx writes an informational response to the client, as ReverseProxy
// does, including clearing the response headers afterwards.
func (x *exchangeState) got1xx(code int, header textproto.MIMEHeader) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done {
		return nil
	}
	h := x.rw.Header()
	for k, vv := range header {
		for _, v := range vv {
			h.Add(k, v)
		}
	}
	x.rw.WriteHeader(code)
	clear(h)
	return nil
}

// headerBuffer lends an exchange its outbound header map and the backing
// array of its values, which otherwise are a request's largest allocations.
type headerBuffer struct {
	h      http.Header
	values []string
}

var exchanges = sync.Pool{New: func() any {
	// No size hint: a map of up to 8 fields is one group, which clear
	// empties for less than a larger table.
	x := &exchangeState{header: headerBuffer{h: make(http.Header)}}
	x.head.lines = make([]byte, 0, 1024)
	x.on1xx = x.got1xx
	return x
}}

// recycle returns x to exchanges, unless it grew outsized.
func (x *exchangeState) recycle() {
	b, lines := &x.header, x.head.lines
	if len(b.h) > 64 || cap(b.values) > 256 || cap(lines) > 64<<10 {
		return
	}
	clear(b.h)
	clear(b.values)
	*x = exchangeState{
		header: headerBuffer{h: b.h, values: b.values},
		head:   responseHead{lines: lines[:0]},
		on1xx:  x.on1xx,
	}
	exchanges.Put(x)
}

// outbound returns the headers to send upstream, in b's map: a copy of in
// without the hop-by-hop headers, those the client listed in Connection,
// and the Forwarded and X-Forwarded-* headers a Rewrite hook decides on
// afresh. The values share b's array, each slice capped so an append
// copies it.
func (b *headerBuffer) outbound(in http.Header) http.Header {
	n := 0
	for k, vv := range in {
		if !dropOutbound(k) {
			n += len(vv)
		}
	}
	if cap(b.values) < n {
		b.values = make([]string, n)
	}
	out, values := b.h, b.values[:n]
	for k, vv := range in {
		if dropOutbound(k) {
			continue
		}
		if vv == nil {
			out[k] = nil
			continue
		}
		c := copy(values, vv)
		out[k] = values[:c:c]
		values = values[c:]
	}
	for _, f := range in["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				out.Del(sf)
			}
		}
	}
	// Tell the upstream trailers are welcome when the client said so.
	if headerHasToken(in["Te"], "trailers") {
		out["Te"] = []string{"trailers"}
	}
	return out
}

func dropOutbound(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
		return true
	}
	return false
}

// hopHeaders are removed from responses, as ReverseProxy removes them.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// removeHeaders deletes the canonical names in drop from h.
func removeHeaders(h http.Header, drop []string) {
	for _, k := range drop {
		delete(h, k)
	}
}

func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// isEventStream reports whether the response is text/event-stream, whose
// events must reach the client as they come.
func isEventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	if ct == "" {
		return false
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.EqualFold(strings.TrimSpace(ct), "text/event-stream")
}

// maxQueryParams is net/url's default limit, which ReverseProxy enforces
// by re-encoding a query with more.
const maxQueryParams = 10000

// cleanQueryParams drops query parameters net/url cannot parse (a ';'
// separator, a bad escape), by re-encoding the query, as ReverseProxy does
// so the upstream never sees a query the proxy read differently.
func cleanQueryParams(s string) string {
	reencode := func(s string) string {
		v, _ := url.ParseQuery(s)
		return v.Encode()
	}
	if strings.Count(s, "&")+1 > maxQueryParams {
		return reencode(s)
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case ';':
			return reencode(s)
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return reencode(s)
			}
			i += 3
		default:
			i++
		}
	}
	return s
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
