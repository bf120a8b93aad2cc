package serve

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// h1Response is the http.ResponseWriter of the own HTTP/1.x server. The
// status line and headers are written when the first body bytes that
// cannot be held back arrive, at a Flush, or when the handler returns;
// everything then goes out with the handler's last byte in one write, or
// in more when the body outgrows the buffer. Its framing decisions are
// net/http's (server.go, chunkWriter.writeHeader), in the same order.
type h1Response struct {
	c    *h1Conn
	req  *http.Request
	body *h1Body        // nil without a request body
	ctx  requestContext // the request's

	header        http.Header
	status        int
	wroteHeader   bool  // the final status is set
	committed     bool  // the status line and headers are in the buffer
	handlerDone   bool  // set before finish
	contentLength int64 // declared or computed; -1 when unknown
	written       int64
	chunking      bool
	closeAfter    bool
	isHEAD        bool
	wants10Keep   bool     // an HTTP/1.0 request with Connection: keep-alive
	wantsClose    bool     // the request asked to close
	trailers      []string // the trailer names the handler declared
	canContinue   atomic.Bool

	// The headers as they were at WriteHeader (snapshot); the others are
	// written out in h1Conn.head.
	clVals, teVals, connVals []string
	lengthSet                bool // WriteHeaderLines gave contentLength
	declaredTrailers         bool
	trailerPrefix            bool
	sawDate, sawUpgrade      bool
	err                      error // the first failed write to the client
}

func newH1Response(c *h1Conn, req *http.Request) *h1Response {
	w := &h1Response{c: c, req: req, contentLength: -1, isHEAD: req.Method == "HEAD"}
	conn := req.Header["Connection"]
	if req.ProtoMajor == 1 && req.ProtoMinor == 0 {
		w.wants10Keep = httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	}
	w.wantsClose = req.Close || httpguts.HeaderValuesContainsToken(conn, "close")
	return w
}

// Header returns the response's header map: the connection's, cleared,
// since a ResponseWriter may not be used once its handler has returned.
func (w *h1Response) Header() http.Header {
	if w.header == nil {
		c := w.c
		if c.header == nil || len(c.header) > 32 {
			c.header = make(http.Header)
		} else {
			clear(c.header)
		}
		w.header = c.header
	}
	return w.header
}

func (w *h1Response) WriteHeader(code int) {
	c := w.c
	if c.hijacked {
		c.s.log.Debug("WriteHeader on a hijacked connection", "client", c.remoteAddr)
		return
	}
	if w.wroteHeader {
		c.s.log.Debug("superfluous WriteHeader", "client", c.remoteAddr, "code", code)
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 101 || code > 199 {
		w.canContinue.Store(false)
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// Informational: out at once; the final status follows.
		c.wmu.Lock()
		writeStatusLine(c.bw, w.req.ProtoAtLeast(1, 1), code, c.scratch[:0])
		for k, vv := range w.header {
			if k == "Content-Length" || k == "Transfer-Encoding" {
				continue
			}
			writeHeaderLines(c.bw, k, vv)
		}
		c.bw.WriteString("\r\n")
		if err := c.bw.Flush(); err != nil && w.err == nil {
			w.err = err
		}
		c.wmu.Unlock()
		return
	}
	w.wroteHeader = true
	w.status = code
	if cl := headerGet(w.header, "Content-Length"); cl != "" {
		v, err := strconv.ParseInt(cl, 10, 64)
		if err == nil && v >= 0 {
			w.contentLength = v
		} else {
			c.s.log.Debug("invalid Content-Length from handler", "value", cl)
			delete(w.header, "Content-Length")
		}
	}
	w.sawUpgrade = headerGet(w.header, "Upgrade") != ""
	w.snapshot()
}

// WriteHeaderLines is WriteHeader for a proxy that has the header fields
// as bytes already: lines are "Name: value\r\n" fields, checked by the
// caller, to send after those of Header(). They must not hold
// Content-Length, Transfer-Encoding, Connection or Trailer:
// contentLength is the body's length (-1 when unknown) and date says
// whether lines hold a Date. It reports false, doing nothing, for an
// informational status, which goes through Header and WriteHeader.
func (w *h1Response) WriteHeaderLines(code int, lines []byte, contentLength int64, date bool) bool {
	if code < 200 || w.wroteHeader || w.c.hijacked {
		return false
	}
	w.WriteHeader(code)
	if !w.wroteHeader || w.committed {
		return false
	}
	w.c.head = append(w.c.head, lines...)
	w.sawDate = w.sawDate || date
	if contentLength >= 0 && len(w.clVals) == 0 {
		w.contentLength = contentLength
		w.lengthSet = true
	}
	return true
}

func (w *h1Response) Write(p []byte) (int, error) {
	c := w.c
	if c.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.committed {
		if w.contentLength == -1 && len(c.pending)+len(p) <= bufferBeforeChunking {
			c.pending = append(c.pending, p...)
			return len(p), nil
		}
		w.commitPending()
	}
	return w.writeBody(p)
}

// commitPending writes the headers, then the body held back.
func (w *h1Response) commitPending() {
	c := w.c
	w.commit(len(c.pending))
	if len(c.pending) > 0 {
		w.writeBody(c.pending)
		c.pending = c.pending[:0]
	}
}

// writeBody writes body bytes in the response's framing.
func (w *h1Response) writeBody(p []byte) (int, error) {
	if w.isHEAD || len(p) == 0 {
		return len(p), nil
	}
	bw := w.c.bw
	if w.chunking {
		bw.Write(strconv.AppendInt(w.c.scratch[:0], int64(len(p)), 16))
		bw.WriteString("\r\n")
	}
	n, err := bw.Write(p)
	if w.chunking && err == nil {
		_, err = bw.WriteString("\r\n")
	}
	if err != nil {
		w.err = err
		w.closeAfter = true
	}
	return n, err
}

// FlushError sends what is buffered, the headers first if need be; a
// response of unknown length is chunked from here on.
func (w *h1Response) FlushError() error {
	if w.c.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commitPending()
	}
	if w.err != nil {
		return w.err
	}
	if err := w.c.bw.Flush(); err != nil {
		w.err = err
		w.closeAfter = true
		return err
	}
	return nil
}

func (w *h1Response) Flush() { w.FlushError() }

// Hijack hands the connection to the handler, after what was written.
func (w *h1Response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.c
	if w.handlerDone {
		return nil, nil, errors.New("serve: Hijack after the handler returned")
	}
	if c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	c.stopWatch() // the connection's reads are the handler's now
	if w.wroteHeader {
		if !w.committed {
			w.commitPending()
		}
		c.bw.Flush()
	}
	// The connection is the handler's now: no 100 Continue from a body
	// read may be written into it.
	c.wmu.Lock()
	w.canContinue.Store(false)
	c.hijacked = true
	c.wmu.Unlock()
	c.rwc.SetDeadline(time.Time{})
	c.s.forget(c)
	return c.rwc, bufio.NewReadWriter(c.br, c.bw), nil
}

// SetReadDeadline and SetWriteDeadline serve http.ResponseController: a
// deadline the handler sets stands until the request ends, instead of the
// connection's rolling ones.
func (w *h1Response) SetReadDeadline(t time.Time) error {
	w.c.readPinned.Store(true)
	w.c.setReadDeadline(t)
	return nil
}

func (w *h1Response) SetWriteDeadline(t time.Time) error {
	w.c.writePinned = true
	return w.c.rwc.SetWriteDeadline(t)
}

// finish ends the response once the handler has returned: headers if not
// yet sent, the body held back, the last chunk and trailers, and one
// flush. An error means the connection cannot be used again.
func (w *h1Response) finish() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commitPending()
	}
	bw := w.c.bw
	if w.chunking {
		bw.WriteString("0\r\n")
		for k, vv := range w.finalTrailers() {
			writeHeaderLines(bw, k, vv)
		}
		bw.WriteString("\r\n")
	}
	if !w.isHEAD && w.contentLength != -1 && bodyAllowedForStatus(w.status) && w.contentLength != w.written {
		// Fewer bytes than declared: the client would wait for the rest.
		w.closeAfter = true
	}
	if w.err != nil {
		return w.err
	}
	return bw.Flush()
}

// snapshot takes the headers as they are when the final status is set:
// as in net/http, later changes to the map reach only the trailers. The
// lines that need no decision are written out now, into the connection's
// head buffer; the framing headers are kept aside for commit.
func (w *h1Response) snapshot() {
	c := w.c
	h := w.header
	c.head = c.head[:0]
	w.sawDate = false
	for k, vv := range h {
		switch {
		case k == "Content-Length":
			w.clVals = vv
		case k == "Transfer-Encoding":
			w.teVals = vv
		case k == "Connection":
			w.connVals = vv
		case strings.HasPrefix(k, http.TrailerPrefix):
			w.trailerPrefix = true
		case k == "Content-Type" && w.status == http.StatusNotModified:
			// suppressed
		default:
			if k == "Trailer" {
				w.declaredTrailers = true
				for _, v := range vv {
					foreachHeaderElement(v, w.declareTrailer)
				}
			}
			if k == "Date" {
				w.sawDate = true
			}
			c.head = appendHeaderLines(c.head, k, vv)
		}
	}
}

// commit writes the status line and headers into the buffer. bodyLen is
// the length of the body held back, which is the whole body when the
// handler has returned.
func (w *h1Response) commit(bodyLen int) {
	c := w.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	w.canContinue.Store(false)
	w.committed = true
	closing := c.s.closing.Load()
	code := w.status

	trailers := w.trailerPrefix || w.declaredTrailers
	te := first(w.teVals)
	hasTE := te != ""
	declaredCL := first(w.clVals) != "" || w.lengthSet
	keepCL, keepTE, keepConn := len(w.clVals) > 0 || w.lengthSet, hasTE, len(w.connVals) > 0
	setLength := false
	if w.handlerDone && !trailers && !hasTE && bodyAllowedForStatus(code) && !declaredCL && (!w.isHEAD || bodyLen > 0) {
		w.contentLength = int64(bodyLen)
		setLength = true
	}

	if w.wants10Keep && !closing {
		if declaredCL && first(w.connVals) == "keep-alive" {
			w.closeAfter = false
		}
	}
	hasCL := w.contentLength != -1
	setConnection := ""
	if w.wants10Keep && (w.isHEAD || hasCL || !bodyAllowedForStatus(code)) {
		if !keepConn {
			setConnection = "keep-alive"
		}
	} else if !w.req.ProtoAtLeast(1, 1) || w.wantsClose {
		w.closeAfter = true
	}
	if first(w.connVals) == "close" || closing {
		w.closeAfter = true
	}

	// A request body the handler left unread must be read past before the
	// next request, or the connection closed.
	if b := w.body; b != nil && !w.closeAfter {
		switch {
		case b.sawEOF.Load():
		case w.expectedContinue():
			// The client may still be waiting for a 100 Continue.
			w.closeAfter = true
		case b.closed.Load():
			w.closeAfter = true
			c.linger = true
		case w.req.ContentLength > 0 && w.req.ContentLength-b.n.Load() >= maxPostHandlerReadBytes,
			!b.discardRest():
			w.closeAfter = true
			c.linger = true
			keepConn = false
			setConnection = "close"
		}
	}

	if !bodyAllowedForStatus(code) {
		keepCL, keepTE = false, false
	}
	if hasCL && hasTE && te != "identity" {
		c.s.log.Debug("handler set both Transfer-Encoding and Content-Length", "te", te, "length", w.contentLength)
		keepCL = false
		hasCL = false
	}
	setChunked := false
	switch {
	case w.isHEAD || !bodyAllowedForStatus(code) || code == http.StatusNoContent:
		keepTE = false
	case hasCL:
		keepTE = false
	case w.req.ProtoAtLeast(1, 1):
		if hasTE && te == "identity" {
			w.chunking = false
			w.closeAfter = true
			keepTE = false
		} else {
			w.chunking = true
			setChunked = true
			if hasTE && te == "chunked" {
				keepTE = false
			}
		}
	default:
		w.closeAfter = true
		keepTE = false
	}
	if w.chunking {
		keepCL = false
	}
	if w.closeAfter && (closing || !httpguts.HeaderValuesContainsToken(w.connVals, "close")) && !w.protocolSwitch() {
		keepConn = false
		if w.req.ProtoAtLeast(1, 1) {
			setConnection = "close"
		}
	}

	bw := c.bw
	writeStatusLine(bw, w.req.ProtoAtLeast(1, 1), code, c.scratch[:0])
	bw.Write(c.head)
	if keepCL && w.lengthSet {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(c.scratch[:0], w.contentLength, 10))
		bw.WriteString("\r\n")
	} else if keepCL {
		writeHeaderLines(bw, "Content-Length", w.clVals)
	}
	if keepTE {
		writeHeaderLines(bw, "Transfer-Encoding", w.teVals)
	}
	if keepConn {
		writeHeaderLines(bw, "Connection", w.connVals)
	}
	if setConnection != "" {
		bw.WriteString("Connection: ")
		bw.WriteString(setConnection)
		bw.WriteString("\r\n")
	}
	if setChunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if !w.sawDate {
		bw.WriteString("Date: ")
		bw.Write(c.httpDate())
		bw.WriteString("\r\n")
	}
	if setLength {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(c.scratch[:0], w.contentLength, 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
}

func first(vv []string) string {
	if len(vv) > 0 {
		return vv[0]
	}
	return ""
}

// protocolSwitch reports a 101 that switches protocols, whose Connection
// header must stay.
func (w *h1Response) protocolSwitch() bool {
	return w.status == http.StatusSwitchingProtocols && w.sawUpgrade &&
		httpguts.HeaderValuesContainsToken(w.connVals, "Upgrade")
}

func (w *h1Response) expectedContinue() bool {
	return expectsContinue(w.req) && w.req.ProtoAtLeast(1, 1) && w.req.ContentLength != 0
}

func (w *h1Response) declareTrailer(k string) {
	k = http.CanonicalHeaderKey(k)
	if !httpguts.ValidTrailerHeader(k) {
		return
	}
	w.trailers = append(w.trailers, k)
}

// finalTrailers are the declared trailers and those set with
// http.TrailerPrefix, as net/http sends them.
func (w *h1Response) finalTrailers() http.Header {
	var t http.Header
	for k, vv := range w.header {
		if kk, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if t == nil {
				t = make(http.Header)
			}
			t[kk] = vv
		}
	}
	for _, k := range w.trailers {
		for _, v := range w.header[k] {
			if t == nil {
				t = make(http.Header)
			}
			t.Add(k, v)
		}
	}
	return t
}

// writeStatusLine writes "HTTP/1.1 200 OK", as net/http does, formatting
// the code in scratch.
func writeStatusLine(bw *bufio.Writer, is11 bool, code int, scratch []byte) {
	if is11 {
		bw.WriteString("HTTP/1.1 ")
	} else {
		bw.WriteString("HTTP/1.0 ")
	}
	if text := http.StatusText(code); text != "" {
		bw.Write(strconv.AppendInt(scratch, int64(code), 10))
		bw.WriteByte(' ')
		bw.WriteString(text)
		bw.WriteString("\r\n")
		return
	}
	fmt.Fprintf(bw, "%03d status code %d\r\n", code, code)
}

// writeHeaderLines writes one header's lines (appendHeaderLines).
func writeHeaderLines(bw *bufio.Writer, k string, vv []string) {
	for _, v := range vv {
		if !httpguts.ValidHeaderFieldName(k) {
			return
		}
		bw.WriteString(k)
		bw.WriteString(": ")
		bw.WriteString(cleanHeaderValue(v))
		bw.WriteString("\r\n")
	}
}

// appendHeaderLines appends one header's lines to dst. As net/http does,
// a name that is not a valid token is dropped, and line breaks in a value
// become spaces, so that no handler can split the response.
func appendHeaderLines(dst []byte, k string, vv []string) []byte {
	if !httpguts.ValidHeaderFieldName(k) {
		return dst
	}
	for _, v := range vv {
		dst = append(dst, k...)
		dst = append(dst, ": "...)
		dst = append(dst, cleanHeaderValue(v)...)
		dst = append(dst, "\r\n"...)
	}
	return dst
}

var headerNewlineToSpace = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ")

func cleanHeaderValue(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] == '\r' || v[i] == '\n' {
			v = headerNewlineToSpace.Replace(v)
			break
		}
	}
	// strings.Trim(v, " \t"), without building its set for every value.
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// headerGet is Header.Get for a canonical key, without the lookup's
// canonicalisation.
func headerGet(h http.Header, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == 204, status == 304:
		return false
	}
	return true
}

func foreachHeaderElement(v string, fn func(string)) {
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.Trim(f, " \t"); f != "" {
			fn(f)
		}
	}
}

// httpDate is the Date header's value, formatted once a second.
func (c *h1Conn) httpDate() []byte {
	now := time.Now()
	if sec := now.Unix(); sec != c.dateSec || c.date == nil {
		c.dateSec = sec
		c.date = now.UTC().AppendFormat(c.date[:0], http.TimeFormat)
	}
	return c.date
}
